import { Core, type CoreStop } from "./core/core.js";
import { IoBus } from "./bus/io-bus.js";
import { Uart16550 } from "./devices/uart16550.js";
import { PostPort } from "./devices/post-port.js";
import { DebugExit } from "./devices/debug-exit.js";
import { DebugCon } from "./devices/debugcon.js";
import { SystemControlA } from "./devices/system-control-a.js";
import { checkBiosImage } from "./boot/bios.js";
import { loadMultiboot, type MultibootEntryState, type MultibootOptions } from "./boot/multiboot.js";
import { enterMultibootState } from "./boot/entry-state.js";
import { collectStats, type TrapStats } from "./stats.js";
import { parseMemorySize } from "./memory-size.js";

/** How a Machine is put together. */
export interface MachineOptions {
  /** Guest RAM: bytes, or a QEMU-style size such as "64M". Default 64 MiB. */
  memory?: number | string;
  /** A precompiled core module (e.g. handed to a Worker); default: compile build/trapdoor.wasm. */
  coreModule?: WebAssembly.Module;
  /** Called with each POST code the guest writes to port 0x80. */
  onPostCode?: (code: number) => void;
  /**
   * A firmware ROM image to boot (QEMU: `-bios`): a multiple of 4 KiB, from 4 KiB to 16 MiB,
   * refused with BootImageError otherwise. It is mapped read-only at the top of the 4 GiB
   * physical space and, its last min(size, 128 KiB) bytes, below 1 MiB (ending at 0x100000, the
   * PC BIOS area); the CPU starts from reset at F000:FFF0, i.e. the image's last 16 bytes.
   */
  bios?: Uint8Array;
  /**
   * The debug console (Bochs/QEMU "port 0xE9 hack", QEMU `-debugcon`): `output` receives the bytes
   * the guest writes to `port` (default 0xE9) in batches, once per run slice. Reads return 0xE9.
   */
  debugcon?: { port?: number; output: (bytes: Uint8Array) => void };
}

/** Why `run` returned. */
export type RunOutcome =
  | { kind: "debug-exit"; exitCode: number }
  | { kind: "triple-fault" }
  | { kind: "halted"; interruptsEnabled: boolean }
  | { kind: "timeout" }
  | { kind: "instruction-limit" }
  | { kind: "stopped" }
  /** The guest asked for a reset (port 0x92 bit 0); the machine does not reboot yet. */
  | { kind: "reset" }
  | { kind: "internal-error"; message: string };

export interface RunOptions {
  /** Stop after this many host milliseconds. */
  timeoutMs?: number;
  /** Stop after this many guest instructions in this call. */
  instructionLimit?: number;
  /** Instructions per slice between host events (serial flush, timers, stop checks). */
  sliceInstructions?: number;
}

/** Standard PC port assignments used by this machine. */
export const COM1_PORT = 0x3f8;
export const POST_PORT = 0x80;
export const DEBUG_EXIT_PORT = 0xf4;
export const SYSTEM_CONTROL_A_PORT = 0x92;
export const DEBUGCON_PORT = 0xe9;

/**
 * A PC: the CPU core, guest RAM, the port-I/O and MMIO buses and the devices on them.
 *
 * ```ts
 * const m = await Machine.create({ memory: "64M" });
 * m.onSerialOutput((bytes) => process.stdout.write(bytes));
 * m.loadMultiboot(kernelBytes, { cmdline: "hello" });
 * const outcome = await m.run({ timeoutMs: 10_000 });
 * ```
 */
export class Machine {
  readonly pio = new IoBus("pio", 0x10000);
  readonly mmio = new IoBus("mmio", 2 ** 32);
  readonly uart: Uart16550;
  readonly post: PostPort;
  readonly debugExit: DebugExit;
  /** Port 0x92: the A20 gate and fast reset. */
  readonly systemControlA: SystemControlA;
  /** The debug console, when MachineOptions.debugcon asked for one. */
  readonly debugcon: DebugCon | undefined;
  private serialOut: Uint8Array = new Uint8Array(4096);
  private serialLen = 0;
  private readonly serialListeners: ((bytes: Uint8Array) => void)[] = [];
  private stopRequested = false;
  private pendingExit: number | undefined;
  private pendingReset = false;
  private debugconOut = new Uint8Array(256);
  private debugconLen = 0;
  private readonly debugconListener: ((bytes: Uint8Array) => void) | undefined;

  private constructor(
    readonly core: Core,
    options: MachineOptions,
  ) {
    this.uart = new Uart16550({ name: "uart0", transmit: (b) => this.serialByte(b) });
    this.post = new PostPort({ onCode: options.onPostCode });
    this.debugExit = new DebugExit({
      onExit: (code) => {
        this.pendingExit = code;
        this.core.requestStop();
      },
    });
    this.pio.map(COM1_PORT, 8, this.uart);
    this.pio.map(POST_PORT, 1, this.post);
    this.pio.map(DEBUG_EXIT_PORT, 4, this.debugExit);
    this.systemControlA = new SystemControlA({
      setA20: (enabled) => (this.core.a20 = enabled),
      onReset: () => this.requestReset(),
    });
    this.pio.map(SYSTEM_CONTROL_A_PORT, 1, this.systemControlA);
    if (options.debugcon !== undefined) {
      const port = options.debugcon.port ?? DEBUGCON_PORT;
      const taken = this.pio.find(port);
      if (taken !== undefined)
        throw new RangeError(`debugcon port 0x${port.toString(16)} is taken by ${taken.device.name}`);
      this.debugconListener = options.debugcon.output;
      this.debugcon = new DebugCon({ output: (b) => this.debugconByte(b) });
      this.pio.map(port, 1, this.debugcon);
    }
  }

  static async create(options: MachineOptions = {}): Promise<Machine> {
    const mem = options.memory ?? 64 * 1024 * 1024;
    const ramSize = typeof mem === "string" ? parseMemorySize(mem) : mem;
    if (ramSize < 2 * 1024 * 1024)
      throw new RangeError(`guest RAM must be at least 2 MiB, got ${ramSize} bytes`);
    if (ramSize > 3 * 1024 ** 3)
      throw new RangeError(`guest RAM above 3 GiB is not supported, got ${ramSize} bytes`);
    const port = options.debugcon?.port;
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 0xffff))
      throw new RangeError(`debugcon port must be an integer from 0 to 0xffff, got ${port}`);
    if (options.bios !== undefined) checkBiosImage(options.bios);
    let machine: Machine | undefined;
    const core = await Core.create(
      {
        pioRead: (port, width) => machine!.pio.read(port, width as 1 | 2 | 4),
        pioWrite: (port, width, value) => machine!.pio.write(port, width as 1 | 2 | 4, value),
        mmioRead: (addr, width) => machine!.mmio.read(addr, width as 1 | 2 | 4),
        mmioWrite: (addr, width, value) => machine!.mmio.write(addr, width as 1 | 2 | 4, value),
        // No interrupt controller yet: nothing raises C_IRQ_PENDING, so this is never called.
        ackInterrupt: () => 0xff,
      },
      ramSize,
      options.coreModule,
      options.bios?.length ?? 0,
    );
    if (options.bios !== undefined) core.rom.set(options.bios);
    machine = new Machine(core, options);
    return machine;
  }

  /** Guest RAM size in bytes. */
  get ramSize(): number {
    return this.core.ramSize;
  }

  /** Receive the guest's serial (COM1) output in batches, once per run slice. */
  onSerialOutput(listener: (bytes: Uint8Array) => void): void {
    this.serialListeners.push(listener);
  }

  /**
   * Load a Multiboot v1 kernel (ELF32 or a.out kludge) and set the CPU up as a Multiboot
   * loader leaves it. Throws BootImageError for an image it refuses.
   */
  loadMultiboot(image: Uint8Array, options: MultibootOptions = {}): MultibootEntryState {
    const state = loadMultiboot(image, this.core.ram, options);
    enterMultibootState(this.core, state);
    return state;
  }

  /** Ask a running `run` to return with { kind: "stopped" } after the current slice. */
  stop(): void {
    this.stopRequested = true;
    this.core.requestStop();
  }

  /**
   * Run until the guest stops (debug-exit, triple fault, halt with nothing to wake it), the
   * timeout or instruction limit is reached, or `stop()` is called. Yields to the host's event
   * loop between slices.
   */
  async run(options: RunOptions = {}): Promise<RunOutcome> {
    const slice = options.sliceInstructions ?? 2_000_000;
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    let left = options.instructionLimit ?? Infinity;
    this.stopRequested = false;
    for (;;) {
      const budget = Math.min(slice, left);
      const before = this.core.instructions;
      const outcome = this.runSlice(budget);
      left -= this.core.instructions - before;
      if (outcome !== undefined) return outcome;
      if (left <= 0) return { kind: "instruction-limit" };
      if (Date.now() >= deadline) return { kind: "timeout" };
      await new Promise<void>((r) => setTimeout(r, 0));
      if (this.stopRequested) return { kind: "stopped" };
    }
  }

  /**
   * Run one slice of at most `budget` instructions and flush the serial output. Returns an
   * outcome when the guest has stopped for good, or undefined when it can go on.
   */
  runSlice(budget: number): RunOutcome | undefined {
    const stop: CoreStop = this.core.run(budget);
    this.flushSerial();
    this.flushDebugcon();
    switch (stop) {
      case "budget":
        return undefined;
      case "host":
        if (this.pendingExit !== undefined) {
          const exitCode = this.pendingExit;
          this.pendingExit = undefined;
          return { kind: "debug-exit", exitCode };
        }
        if (this.pendingReset) {
          this.pendingReset = false;
          return { kind: "reset" };
        }
        return this.stopRequested ? { kind: "stopped" } : undefined;
      case "shutdown":
        return { kind: "triple-fault" };
      // No device can raise an interrupt yet, so a HLT never wakes up.
      case "hlt":
        return { kind: "halted", interruptsEnabled: true };
      case "hlt-dead":
        return { kind: "halted", interruptsEnabled: false };
      case "internal-error": {
        const { opcode, eip } = this.core.lastError;
        return {
          kind: "internal-error",
          message: `the CPU met an instruction it does not implement yet: opcode 0x${opcode.toString(16)} at linear address 0x${eip.toString(16)}`,
        };
      }
    }
  }

  /** A snapshot of the trap counters. */
  stats(): TrapStats {
    return collectStats(this.core, this.pio, this.mmio, this.post);
  }

  private serialByte(b: number): void {
    if (this.serialLen === this.serialOut.length) {
      const bigger = new Uint8Array(this.serialOut.length * 2);
      bigger.set(this.serialOut);
      this.serialOut = bigger;
    }
    this.serialOut[this.serialLen++] = b;
  }

  /** The guest asked for a reset: end the run with { kind: "reset" } after this instruction. */
  private requestReset(): void {
    this.pendingReset = true;
    this.core.requestStop();
  }

  private debugconByte(b: number): void {
    if (this.debugconLen === this.debugconOut.length) {
      const bigger = new Uint8Array(this.debugconOut.length * 2);
      bigger.set(this.debugconOut);
      this.debugconOut = bigger;
    }
    this.debugconOut[this.debugconLen++] = b;
  }

  private flushDebugcon(): void {
    if (this.debugconLen === 0) return;
    const bytes = this.debugconOut.slice(0, this.debugconLen);
    this.debugconLen = 0;
    this.debugconListener?.(bytes);
  }

  private flushSerial(): void {
    if (this.serialLen === 0) return;
    const bytes = this.serialOut.slice(0, this.serialLen);
    this.serialLen = 0;
    for (const l of this.serialListeners) l(bytes);
  }
}
