/**
 * The typed wrapper around the AssemblyScript core (`build/trapdoor.wasm`), loaded with the
 * plain WebAssembly API in Node and in the browser. The layout of the core's linear memory is
 * read from the module's exported globals (assembly/layout.ts is the single source of truth).
 */

/** What the core calls on its host for every trap. */
export interface CoreHost {
  pioRead(port: number, width: number): number;
  pioWrite(port: number, width: number, value: number): void;
  mmioRead(addr: number, width: number): number;
  mmioWrite(addr: number, width: number, value: number): void;
  ackInterrupt(): number;
}

/** The functions the core exports (see assembly/index.ts). */
interface CoreFunctions {
  reset(ramSize: number, romSize: number): void;
  setA20(enabled: number): void;
  run(budget: number): number;
  requestStop(reason: number): void;
  currentLinearEip(): number;
  errorOpcode(): number;
  errorEip(): number;
  eflags(): number;
  setEflags(v: number): void;
  flushDecodeCache(): void;
  invalidateCode(addr: number, len: number): void;
  clearCounters(): void;
}

/** The core's split-virtqueue exports (assembly/virtio/queue.ts), per slot at VQ_BASE. */
export interface VirtqueueFunctions {
  vqReset(slot: number, maxSize: number): void;
  vqCheckRings(slot: number): number;
  vqPending(slot: number): number;
  vqPop(slot: number): number;
  vqWalk(slot: number, head: number): number;
  vqPushUsed(slot: number, head: number, len: number): number;
  vqPublish(slot: number): number;
}

/** Offsets of the core's memory map, read from the module's exported globals. */
export type CoreLayout = Readonly<Record<string, number>>;

/** Names of the general registers in encoding order (offset S_REGS + 4 * index). */
export const GPR_NAMES = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"] as const;
export type GprName = (typeof GPR_NAMES)[number];
/** Segment registers in encoding order (ES CS SS DS FS GS). */
export const SEG_NAMES = ["es", "cs", "ss", "ds", "fs", "gs"] as const;
export type SegName = (typeof SEG_NAMES)[number];

/** A segment register with its hidden descriptor cache. */
export interface SegmentCache {
  selector: number;
  base: number;
  limit: number;
  /** Descriptor attribute bits 8..23 of the high dword, shifted down by 8. */
  attributes: number;
}

/** Stop reasons returned by `run`, by name. */
export type CoreStop = "budget" | "hlt" | "shutdown" | "host" | "internal-error" | "hlt-dead";

const PAGE = 65536;
/** Each core by the buffer of its guest RAM view, so a device given `ram` finds its core. */
const coreByRam = new WeakMap<ArrayBufferLike, Core>();
const moduleCache = new Map<string, Promise<WebAssembly.Module>>();

/** The release build next to this file's package (Vite turns this into an asset URL). */
export function defaultCoreUrl(debug = false): URL {
  return debug
    ? new URL("../../build/trapdoor.debug.wasm", import.meta.url)
    : new URL("../../build/trapdoor.wasm", import.meta.url);
}

/** Compile the core once per URL (a file: URL is read from disk; anything else is fetched). */
export function compileCore(url: URL = defaultCoreUrl()): Promise<WebAssembly.Module> {
  const key = url.href;
  let p = moduleCache.get(key);
  if (p === undefined) {
    p = (async () => {
      if (url.protocol === "file:") {
        const { readFile } = await import("node:fs/promises");
        return WebAssembly.compile(await readFile(url));
      }
      return WebAssembly.compileStreaming(fetch(url));
    })();
    moduleCache.set(key, p);
  }
  return p;
}

export class Core {
  readonly layout: CoreLayout;
  /** Guest RAM: guest-physical address p is ram[p]. */
  readonly ram: Uint8Array;
  readonly ramSize: number;
  /**
   * The firmware ROM (empty without one): the host copies the image here. The guest sees it,
   * read-only, at [4 GiB - size, 4 GiB) and its last min(size, 128 KiB) bytes below 1 MiB.
   */
  readonly rom: Uint8Array;
  /** The virtqueue exports (src/virtio/split-queue.ts wraps them). */
  readonly vq: VirtqueueFunctions;
  private readonly fn: CoreFunctions;
  private readonly u32: Uint32Array;
  private vqSlotsUsed = 0;

  private constructor(
    readonly memory: WebAssembly.Memory,
    instance: WebAssembly.Instance,
    ramSize: number,
    romSize: number,
  ) {
    const layout: Record<string, number> = {};
    for (const [name, v] of Object.entries(instance.exports)) {
      if (v instanceof WebAssembly.Global) layout[name] = v.value as number;
    }
    this.layout = layout;
    this.fn = instance.exports as unknown as CoreFunctions;
    this.vq = instance.exports as unknown as VirtqueueFunctions;
    this.u32 = new Uint32Array(memory.buffer);
    this.ramSize = ramSize;
    this.ram = new Uint8Array(memory.buffer, this.at("RAM_BASE"), ramSize);
    this.rom = new Uint8Array(memory.buffer, this.at("RAM_BASE") + ramSize, romSize);
    this.fn.reset(ramSize, romSize);
    coreByRam.set(this.ram.buffer, this);
  }

  /** The core whose guest RAM `ram` is (exactly `core.ram`), if any. */
  static owning(ram: Uint8Array): Core | undefined {
    const core = coreByRam.get(ram.buffer);
    return core && ram.byteOffset === core.ram.byteOffset && ram.length === core.ram.length
      ? core
      : undefined;
  }

  /** Take a free virtqueue slot (VQ_SLOTS per core; a slot is never given back). */
  allocVirtqueue(): number {
    if (this.vqSlotsUsed >= this.at("VQ_SLOTS"))
      throw new RangeError(`trapdoor core: all ${this.at("VQ_SLOTS")} virtqueue slots are in use`);
    return this.vqSlotsUsed++;
  }

  /**
   * Instantiate the core with `ramSize` bytes of guest RAM (a multiple of 64 KiB, at most
   * 4 GiB minus the core's own area) and room for a `romSize`-byte firmware ROM (a multiple of
   * 4 KiB up to 16 MiB; 0 for none). The memory is shared, sized once and never grown, so
   * views of it stay valid and a Worker can share it.
   */
  static async create(
    host: CoreHost,
    ramSize: number,
    module?: WebAssembly.Module,
    romSize = 0,
  ): Promise<Core> {
    const mod = module ?? (await compileCore());
    if (!Number.isInteger(ramSize) || ramSize <= 0 || ramSize % PAGE !== 0) {
      throw new RangeError(`guest RAM size must be a positive multiple of 64 KiB, got ${ramSize}`);
    }
    if (!Number.isInteger(romSize) || romSize < 0 || romSize % 4096 !== 0 || romSize > 16 * 1024 * 1024) {
      throw new RangeError(`firmware ROM size must be a multiple of 4 KiB up to 16 MiB, got ${romSize}`);
    }
    const ramBase = 0x0100_0000;
    const pages = Math.ceil((ramBase + ramSize + romSize) / PAGE);
    if (pages > 65536) throw new RangeError(`guest RAM of ${ramSize} bytes does not fit a 4 GiB wasm memory`);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    let core: Core | undefined;
    const imports = {
      env: { memory },
      host: {
        pioRead: (port: number, width: number) => host.pioRead(port, width),
        pioWrite: (port: number, width: number, value: number) => host.pioWrite(port, width, value >>> 0),
        mmioRead: (addr: number, width: number) => host.mmioRead(addr >>> 0, width),
        mmioWrite: (addr: number, width: number, value: number) =>
          host.mmioWrite(addr >>> 0, width, value >>> 0),
        ackInterrupt: () => host.ackInterrupt(),
        hostAbort: (msg: number, file: number, line: number, col: number) => {
          throw new Error(
            `trapdoor core aborted: ${core?.readAsString(msg)} at ${core?.readAsString(file)}:${line}:${col}`,
          );
        },
      },
    };
    const instance = await WebAssembly.instantiate(mod, imports);
    if (
      instance.exports.RAM_BASE instanceof WebAssembly.Global &&
      instance.exports.RAM_BASE.value !== ramBase
    ) {
      throw new Error("trapdoor core: RAM_BASE differs from the wrapper's expectation; rebuild both");
    }
    core = new Core(memory, instance, ramSize, romSize);
    return core;
  }

  /** Address of a named layout constant, e.g. at("STATE_BASE"). */
  at(name: string): number {
    const v = this.layout[name];
    if (v === undefined) throw new Error(`trapdoor core: no layout constant ${name}`);
    return v;
  }

  private stateWord(offset: number): number {
    return this.u32[(this.at("STATE_BASE") + offset) >>> 2]!;
  }
  private setStateWord(offset: number, v: number): void {
    this.u32[(this.at("STATE_BASE") + offset) >>> 2] = v >>> 0;
  }
  /** A u32 in the control block (C_* offsets). */
  ctl(name: string): number {
    return this.u32[(this.at("CTL_BASE") + this.at(name)) >>> 2]!;
  }
  setCtl(name: string, v: number): void {
    this.u32[(this.at("CTL_BASE") + this.at(name)) >>> 2] = v >>> 0;
  }

  /** Power-on reset of the CPU and the control block (A20 on); RAM and the ROM keep their bytes. */
  reset(): void {
    this.fn.reset(this.ramSize, this.rom.length);
  }

  /** The A20 gate: when off, guest-physical address bit 20 reads as 0 (the 8086 1 MiB wrap). */
  get a20(): boolean {
    return this.ctl("C_A20_MASK") === 0xffffffff;
  }
  set a20(enabled: boolean) {
    this.fn.setA20(enabled ? 1 : 0);
  }

  /** Run up to `budget` instructions. */
  run(budget: number): CoreStop {
    const r = this.fn.run(budget | 0);
    const L = this.layout;
    if (r === L.STOP_BUDGET) return "budget";
    if (r === L.STOP_HLT) return "hlt";
    if (r === L.STOP_SHUTDOWN) return "shutdown";
    if (r === L.STOP_HOST) return "host";
    if (r === L.STOP_HLT_DEAD) return "hlt-dead";
    return "internal-error";
  }

  /** Ask the core to stop after the current instruction (safe to call from a trap handler). */
  requestStop(): void {
    this.fn.requestStop(1);
  }

  /**
   * Guest RAM [addr, addr + len) was written during a run by a device (DMA from inside an I/O
   * callback): drop the core's decoded instructions from those pages. Writes between runs (the
   * loaders, tests) need nothing: every run() starts with an empty decode cache.
   */
  invalidateCode(addr: number, len: number): void {
    this.fn.invalidateCode(addr >>> 0, len >>> 0);
  }

  getReg(r: GprName): number {
    return this.stateWord(this.at("S_REGS") + 4 * GPR_NAMES.indexOf(r));
  }
  setReg(r: GprName, v: number): void {
    this.setStateWord(this.at("S_REGS") + 4 * GPR_NAMES.indexOf(r), v);
  }
  get eip(): number {
    return this.stateWord(this.at("S_EIP"));
  }
  set eip(v: number) {
    this.setStateWord(this.at("S_EIP"), v);
  }
  get eflags(): number {
    return this.fn.eflags() >>> 0;
  }
  set eflags(v: number) {
    this.fn.setEflags(v >>> 0);
  }
  get cr0(): number {
    return this.stateWord(this.at("S_CR0"));
  }
  set cr0(v: number) {
    this.setStateWord(this.at("S_CR0"), v);
  }
  /** The GDTR: linear base and limit of the global descriptor table. */
  get gdtr(): { base: number; limit: number } {
    return { base: this.stateWord(this.at("S_GDTR_BASE")), limit: this.stateWord(this.at("S_GDTR_LIMIT")) };
  }
  set gdtr(v: { base: number; limit: number }) {
    this.setStateWord(this.at("S_GDTR_BASE"), v.base);
    this.setStateWord(this.at("S_GDTR_LIMIT"), v.limit);
  }
  getSegment(s: SegName): SegmentCache {
    const i = 4 * SEG_NAMES.indexOf(s);
    return {
      selector: this.stateWord(this.at("S_SEG_SEL") + i),
      base: this.stateWord(this.at("S_SEG_BASE") + i),
      limit: this.stateWord(this.at("S_SEG_LIMIT") + i),
      attributes: this.stateWord(this.at("S_SEG_ATTR") + i),
    };
  }
  setSegment(s: SegName, c: SegmentCache): void {
    const i = 4 * SEG_NAMES.indexOf(s);
    this.setStateWord(this.at("S_SEG_SEL") + i, c.selector);
    this.setStateWord(this.at("S_SEG_BASE") + i, c.base);
    this.setStateWord(this.at("S_SEG_LIMIT") + i, c.limit);
    this.setStateWord(this.at("S_SEG_ATTR") + i, c.attributes);
  }
  /** Current privilege level. */
  get cpl(): number {
    return this.stateWord(this.at("S_CPL"));
  }
  set cpl(v: number) {
    this.setStateWord(this.at("S_CPL"), v);
  }
  /** Retired instructions (exact up to 2^53). */
  get instructions(): number {
    const lo = this.stateWord(this.at("S_INSTRET"));
    const hi = this.stateWord(this.at("S_INSTRET") + 4);
    return hi * 2 ** 32 + lo;
  }
  /**
   * The TSC offset (exact up to 2^53): RDTSC reads instructions + tscOffset. The machine moves it
   * forward as guest time passes without instructions, so the TSC follows the machine clock.
   */
  get tscOffset(): number {
    const lo = this.stateWord(this.at("S_TSC_OFFSET"));
    const hi = this.stateWord(this.at("S_TSC_OFFSET") + 4);
    return hi * 2 ** 32 + lo;
  }
  set tscOffset(v: number) {
    this.setStateWord(this.at("S_TSC_OFFSET"), v % 2 ** 32);
    this.setStateWord(this.at("S_TSC_OFFSET") + 4, Math.floor(v / 2 ** 32));
  }
  /** Linear address of CS:EIP. */
  get linearEip(): number {
    return this.fn.currentLinearEip() >>> 0;
  }
  /** Opcode and linear address of the last internal-error stop. */
  get lastError(): { opcode: number; eip: number } {
    return { opcode: this.fn.errorOpcode() >>> 0, eip: this.fn.errorEip() >>> 0 };
  }
  /** Port counters: [in, out] for `port`. */
  portCounts(port: number): [number, number] {
    const i = (this.at("PIO_COUNTERS") >>> 2) + port * 2;
    return [this.u32[i]!, this.u32[i + 1]!];
  }
  /** `count` consecutive u32 words of the control block from `name` (per-cause, per-vector counters). */
  ctlWords(name: string, count: number): Uint32Array {
    const at = (this.at("CTL_BASE") + this.at(name)) >>> 2;
    return this.u32.slice(at, at + count);
  }

  /** Zero every trap counter (docs/exits.md); the trace ring's size stays. */
  clearCounters(): void {
    this.fn.clearCounters();
  }

  /** The exit trace ring's size in entries (0: tracing off), at most TRACE_MAX_ENTRIES. */
  get traceSize(): number {
    return this.ctl("C_TRACE_SIZE");
  }
  set traceSize(entries: number) {
    const max = this.at("TRACE_MAX_ENTRIES");
    if (!Number.isInteger(entries) || entries < 0 || entries > max)
      throw new RangeError(`trace size must be an integer from 0 to ${max}, got ${entries}`);
    this.setCtl("C_TRACE_SIZE", entries);
    this.setCtl("C_TRACE_COUNT", 0);
  }

  /** The raw trace ring as u32 words (TRACE_ENTRY_SIZE / 4 per entry), for src/stats/trace.ts. */
  traceWords(): Uint32Array {
    const at = this.at("TRACE_RING") >>> 2;
    return this.u32.subarray(at, at + (this.traceSize * this.at("TRACE_ENTRY_SIZE")) / 4);
  }

  /** Every MMIO address the core counted: address → [reads, writes]. */
  mmioCounts(): Map<number, [number, number]> {
    const out = new Map<number, [number, number]>();
    const base = this.at("MMIO_COUNTERS") >>> 2;
    for (let s = 0; s < this.at("MMIO_COUNTER_SLOTS"); s++) {
      const p = base + s * 4;
      if (this.u32[p + 3] !== 0) out.set(this.u32[p]!, [this.u32[p + 1]!, this.u32[p + 2]!]);
    }
    return out;
  }

  private readAsString(ptr: number): string {
    if (!ptr) return "?";
    const len = this.u32[(ptr - 4) >>> 2]! >>> 1;
    const chars = new Uint16Array(this.memory.buffer, ptr, len);
    return String.fromCharCode(...chars);
  }
}
