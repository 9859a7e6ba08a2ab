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
import { enterLinuxState, loadLinux, type LinuxEntryState, type LinuxOptions } from "./boot/linux.js";
import { collectStats, type TrapStats } from "./stats.js";
import { ExitRecorder } from "./stats/exit-recorder.js";
import {
  HostTimer,
  HT_INTERRUPT,
  HT_MMIO_READ,
  HT_MMIO_WRITE,
  HT_NOTIFY,
  HT_PIO_IN,
  HT_PIO_OUT,
  type HostTimeStats,
} from "./stats/host-time.js";
import { readTrace, type TraceSnapshot } from "./stats/trace.js";
import { parseMemorySize } from "./memory-size.js";
import { OutputBuffer } from "./output-buffer.js";
import { HostClock, InstructionClock } from "./clock.js";
import { PcPlatform } from "./platform/pc.js";
import type { DiskBackend } from "./disk/backend.js";
import { VirtioBlk, type BlkFaultEvent, type BlkFaultRule } from "./virtio/blk.js";
import type { VirtioCheckMode, VirtioDiagnostic } from "./virtio/pci.js";
import { PiixIde, type IdeDiagnostic } from "./ide/piix-ide.js";

/** A disk drive (QEMU: -drive): virtio-blk on virtio-pci, or an ATA disk on the PIIX3 IDE controller. */
export interface DriveOptions {
  /** Where the sectors live: a FileDisk (Node), a MemoryDisk, ... */
  backend: DiskBackend;
  /**
   * The controller (QEMU's if=): "virtio" (default), or "ide": the IDE drives, in order, are the
   * primary master (Linux /dev/sda), primary slave, secondary master and secondary slave.
   */
  interface?: "virtio" | "ide";
  /** virtio only: "modern" (virtio 1.x only, default) or "transitional" (adds the legacy I/O BAR). */
  transport?: "modern" | "transitional";
  /** Present the disk read-only (virtio: VIRTIO_BLK_F_RO; IDE: writes abort); default: the backend's readOnly. */
  readOnly?: boolean;
  /** GET_ID serial / IDENTIFY serial number (at most 20 ASCII bytes). */
  serial?: string;
  /** virtio only: driver checker reaction to ring corruption (default "strict"). */
  mode?: VirtioCheckMode;
  /** virtio only: offer INDIRECT_DESC / EVENT_IDX (default both). */
  ring?: { indirect?: boolean; eventIdx?: boolean };
  /** virtio only: each driver mistake the device detects (IDE: MachineOptions.onIdeDiagnostic). */
  onDiagnostic?: (d: VirtioDiagnostic) => void;
  /**
   * Fault injection (src/virtio/blk/faults.ts): fail reads or writes of sector ranges with IOERR,
   * delay completions by guest time, drop the interrupt for request N. Deterministic.
   */
  faults?: readonly BlkFaultRule[];
  /** Each fault injected. */
  onFault?: (e: BlkFaultEvent) => void;
}

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
  /**
   * Guest time. "deterministic" (default): time advances with retired instructions at a nominal
   * 1 instruction per ns and HLT skips straight to the next device deadline, so identical runs give
   * identical output and exit counts. "realtime": the same clock, but an idle guest waits for the
   * wall clock instead of jumping, so its timers fire in real time. In both, the PIT, the RTC and
   * the TSC read one clock and stay consistent.
   */
  clock?: "deterministic" | "realtime";
  /**
   * What the RTC reads at start. Default: 2026-01-01T00:00:00Z in deterministic mode, the host's
   * time in realtime mode.
   */
  rtcStart?: Date;
  /**
   * The random seed a Linux guest gets from its "bootloader" (setup_data SETUP_RNG_SEED, see
   * LinuxOptions.rngSeed): 1 to 2032 bytes, or "random" for 32 fresh bytes from the host's CSPRNG.
   * Default: {@link DETERMINISTIC_RNG_SEED} in deterministic mode (identical runs read identical
   * /dev/urandom bytes), "random" in realtime mode. `loadLinux` options override it.
   */
  rngSeed?: Uint8Array | "random";
  /**
   * Disk drives, placed before the firmware assigns PCI resources, as a BIOS finds them at power-on.
   * Each virtio drive is a PCI function on bus 0 (slots 1, 2, ... in order); the IDE drives share
   * one PIIX3 IDE function at the next free slot after them, so adding IDE drives never moves a
   * virtio drive.
   */
  drives?: DriveOptions[];
  /**
   * Host time per exit class (Machine.hostStats): time one exit in this many (default 64; 1 times
   * every exit, 0 none). Reading the host clock costs about as much as a cheap exit (docs/exits.md).
   */
  hostTimeSampling?: number;
  /** Keep the last N exits in the core's trace ring (Machine.trace; at most 65536; default 0, off). */
  traceSize?: number;
  /** Each guest mistake the IDE controller detects (bad PRD table, LBA beyond the disk, ...). */
  onIdeDiagnostic?: (d: IdeDiagnostic) => void;
}

/**
 * Guest time one port-I/O access takes (ns): the order of an ISA/LPC I/O cycle on a PC
 * (an 8-bit ISA cycle is about 1 µs; LPC I/O about 0.5-1 µs).
 */
export const PIO_ACCESS_NS = 1000;

/** The RTC's start time in deterministic mode (a fixed epoch keeps runs identical). */
export const DETERMINISTIC_EPOCH = new Date("2026-01-01T00:00:00Z");

/**
 * The Linux guest's default seed in deterministic mode: 32 fixed bytes (the 256 bits Linux needs
 * to make its CRNG ready), readable so nobody mistakes it for a secret.
 */
export const DETERMINISTIC_RNG_SEED: Uint8Array = new TextEncoder().encode(
  "trapdoor: deterministic RNG seed",
);

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
  /** The machine clock that drives the PIT, the RTC and timer deadlines. */
  readonly clock: InstructionClock;
  /** Realtime mode: the wall clock that idle periods are paced to. */
  private readonly wall: HostClock | undefined;
  /** The chipset: PIC pair, PIT, port 0x61, RTC/CMOS, i8042, PCI. */
  readonly platform: PcPlatform;
  /** The virtio drives of MachineOptions.drives, in order (Linux: /dev/vda, /dev/vdb, ...). */
  readonly drives: VirtioBlk[];
  /** The PIIX3 IDE controller, present when MachineOptions.drives has IDE drives (Linux: /dev/sda, ...). */
  readonly ide: PiixIde | undefined;
  private readonly serialOut = new OutputBuffer();
  private readonly debugconOut = new OutputBuffer();
  private stopRequested = false;
  private pendingExit: number | undefined;
  private pendingReset = false;
  /** The seed `loadLinux` passes unless its options give one (MachineOptions.rngSeed). */
  private readonly rngSeed: Uint8Array;
  /** Realtime mode: the guest is halted until this guest time (ns). */
  private idleUntil = 0;
  /** Host bytes for the UART that its receive FIFO had no room for yet. */
  private serialIn: number[] = [];
  /** Ends the sleep of a halted realtime guest early (new input arrived). */
  private wake: (() => void) | undefined;
  /** The host's side of exit accounting: notifies, IRQ lines, idle time (docs/exits.md). */
  readonly exitRecorder: ExitRecorder;
  /** Host time per exit class, sampled: measured, apart from the deterministic counters. */
  readonly hostTimer: HostTimer;

  private constructor(
    readonly core: Core,
    options: MachineOptions,
  ) {
    const realtime = options.clock === "realtime";
    this.exitRecorder = new ExitRecorder(core);
    this.hostTimer = new HostTimer(options.hostTimeSampling);
    core.traceSize = options.traceSize ?? 0;
    this.clock = new InstructionClock(() => core.instructions);
    this.wall = realtime ? new HostClock() : undefined;
    const seed = options.rngSeed ?? (realtime ? "random" : DETERMINISTIC_RNG_SEED);
    this.rngSeed = seed === "random" ? crypto.getRandomValues(new Uint8Array(32)) : seed.slice();
    this.platform = new PcPlatform({
      pio: this.pio,
      mmio: this.mmio,
      clock: this.clock,
      ramSize: core.ramSize,
      rtcStart: options.rtcStart ?? (realtime ? new Date() : DETERMINISTIC_EPOCH),
      onReset: () => this.requestReset(),
      onA20: (enabled) => (this.core.a20 = enabled),
    });
    const pic = this.platform.pic;
    // The PIC's INTR output is the core's pending word: the core polls it between instructions
    // and calls ackInterrupt (pic.acknowledge, the INTA cycle) only when it takes an interrupt.
    pic.onOutput((level) => core.setCtl("C_IRQ_PENDING", level ? 1 : 0));
    this.uart = new Uart16550({ name: "uart0", irq: pic.irq(4), transmit: (b) => this.serialOut.push(b) });
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
      this.debugconOut.listen(options.debugcon.output);
      this.debugcon = new DebugCon({ output: (b) => this.debugconOut.push(b) });
      this.pio.map(port, 1, this.debugcon);
    }
    const drives = options.drives ?? [];
    this.drives = drives
      .filter((d) => (d.interface ?? "virtio") === "virtio")
      .map((d, i) => {
        const dev = new VirtioBlk({
          name: `virtio-blk${i}`,
          backend: d.backend,
          ram: core.ram,
          transport: d.transport,
          readOnly: d.readOnly,
          serial: d.serial,
          mode: d.mode,
          ring: d.ring,
          onDiagnostic: d.onDiagnostic,
          faults: d.faults,
          onFault: d.onFault,
          clock: this.clock,
          onSchedule: () => core.requestStop(),
          onNotify: (queue) => this.exitRecorder.notify(`virtio-blk${i}`, queue),
          // DMA into guest RAM from inside a trap: decoded instructions there must be dropped.
          onGuestWrite: (addr, len) => core.invalidateCode(addr, len),
        });
        this.platform.pci.add(dev);
        this.platform.addTimed(dev); // delayed completions wake a halted guest on time
        return dev;
      });
    const ideDrives = drives.filter((d) => d.interface === "ide");
    if (ideDrives.length > 4)
      throw new RangeError(`${ideDrives.length} IDE drives given; two channels hold 4`);
    this.ide =
      ideDrives.length === 0
        ? undefined
        : new PiixIde({
            drives: ideDrives.map((d) => ({ backend: d.backend, readOnly: d.readOnly, serial: d.serial })),
            ram: core.ram,
            pio: this.pio,
            irq: (line) => pic.irq(line),
            onDiagnostic: options.onIdeDiagnostic,
            onGuestWrite: (addr, len) => core.invalidateCode(addr, len),
          });
    if (this.ide !== undefined) this.platform.pci.add(this.ide);
    this.platform.firmwareInit();
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
        // Each trap's bus dispatch, timed when the host timer samples it (src/stats/host-time.ts).
        pioRead: (port, width) => {
          const m = machine!;
          const t0 = m.hostTimer.start();
          m.chargeIoAccess();
          const v = m.pio.read(port, width as 1 | 2 | 4);
          if (t0 >= 0) m.hostTimer.stop(t0, HT_PIO_IN);
          return v;
        },
        pioWrite: (port, width, value) => {
          const m = machine!;
          const t0 = m.beginTimedWrite();
          m.chargeIoAccess();
          m.pio.write(port, width as 1 | 2 | 4, value);
          if (t0 >= 0) m.hostTimer.stop(t0, m.exitRecorder.notified ? HT_NOTIFY : HT_PIO_OUT);
        },
        mmioRead: (addr, width) => {
          const m = machine!;
          const t0 = m.hostTimer.start();
          const v = m.mmio.read(addr, width as 1 | 2 | 4);
          if (t0 >= 0) m.hostTimer.stop(t0, HT_MMIO_READ);
          return v;
        },
        mmioWrite: (addr, width, value) => {
          const m = machine!;
          const t0 = m.beginTimedWrite();
          m.mmio.write(addr, width as 1 | 2 | 4, value);
          if (t0 >= 0) m.hostTimer.stop(t0, m.exitRecorder.notified ? HT_NOTIFY : HT_MMIO_WRITE);
        },
        ackInterrupt: () => {
          const m = machine!;
          const t0 = m.hostTimer.start();
          const pic = m.platform.pic;
          const isr = pic.isr;
          const vector = pic.acknowledge();
          m.exitRecorder.interruptAcknowledged(isr, pic.isr);
          if (t0 >= 0) m.hostTimer.stop(t0, HT_INTERRUPT);
          return vector;
        },
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
    this.serialOut.listen(listener);
  }

  /**
   * Type at the serial console: the bytes go to COM1's receive FIFO as it has room (the rest
   * waits, nothing is dropped), raising the UART's receive interrupt as the guest enabled it.
   */
  sendSerialInput(bytes: Uint8Array | string): void {
    const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    for (const b of data) this.serialIn.push(b);
    this.feedSerial();
    this.wake?.();
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

  /**
   * Load a Linux bzImage (boot protocol 2.06+) with an optional initrd and enter it through the
   * 32-bit boot protocol (no BIOS), with the machine's RNG seed (MachineOptions.rngSeed) unless
   * `options.rngSeed` gives another. Throws BootImageError for an image it refuses.
   */
  loadLinux(image: Uint8Array, options: LinuxOptions = {}): LinuxEntryState {
    const state = loadLinux(image, this.core.ram, { rngSeed: this.rngSeed, ...options });
    enterLinuxState(this.core, state);
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
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.idleMilliseconds(deadline));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = undefined;
      if (this.stopRequested) return { kind: "stopped" };
    }
  }

  /**
   * Run one slice of at most `budget` instructions and flush the serial output. Returns an
   * outcome when the guest has stopped for good, or undefined when it can go on.
   */
  runSlice(budget: number): RunOutcome | undefined {
    const platform = this.platform;
    this.feedSerial();
    platform.advance(this.clock.now());
    this.syncTsc();
    // Stop exactly at the next device deadline so timer interrupts land on the same
    // instruction in every run.
    const toDeadline = Math.ceil((platform.nextDeadline() - this.clock.now()) / this.clock.nsPerInstruction);
    budget = Math.max(1, Math.min(budget, toDeadline));
    const started = performance.now();
    const stop: CoreStop = this.core.run(budget);
    this.hostTimer.runMs += performance.now() - started;
    platform.advance(this.clock.now());
    this.serialOut.flush();
    this.debugconOut.flush();
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
      case "hlt":
        return this.idle();
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

  /** Move waiting host input into the UART's receive FIFO, as much as fits. */
  private feedSerial(): void {
    if (this.serialIn.length === 0) return;
    const n = this.uart.receive(this.serialIn);
    if (n > 0) this.serialIn.splice(0, n);
  }

  /**
   * A snapshot of the trap counters: every figure is deterministic (identical runs give identical
   * snapshots in the deterministic clock mode). Host time is in `hostStats()`.
   */
  stats(): TrapStats {
    return collectStats({
      core: this.core,
      pio: this.pio,
      mmio: this.mmio,
      post: this.post,
      recorder: this.exitRecorder,
      guestNs: this.clock.now(),
    });
  }

  /** Measured host time per exit class (sampled; see MachineOptions.hostTimeSampling). */
  hostStats(): HostTimeStats {
    return this.hostTimer.snapshot();
  }

  /**
   * Zero the exit and trap counters, the host's notify/IRQ-line/idle counts, the host-time
   * figures and the trace ring. Instructions, guest time, POST codes and device-internal
   * counters (e.g. virtio's) keep running.
   */
  resetStats(): void {
    this.core.clearCounters();
    this.exitRecorder.reset();
    this.hostTimer.reset();
  }

  /** The exits in the trace ring, oldest first (MachineOptions.traceSize; empty when off). */
  trace(): TraceSnapshot {
    return readTrace(this.core, this.pio, this.mmio);
  }

  /** Start of a port or MMIO write's dispatch: a notify mark from its handler is tracked from here. */
  private beginTimedWrite(): number {
    const t0 = this.hostTimer.start();
    if (t0 >= 0) this.exitRecorder.notified = false;
    return t0;
  }

  /**
   * HLT with interrupts enabled: wake at the next device deadline. Deterministic mode jumps
   * guest time there at once; realtime mode first lets the wall clock catch up (`run` sleeps),
   * so an idle guest's timers fire in real time. With no deadline at all nothing can wake the
   * CPU, which ends the run.
   */
  private idle(): RunOutcome | undefined {
    if (this.platform.pic.output) return undefined; // an interrupt is already waiting
    const deadline = this.platform.nextDeadline();
    if (deadline === Infinity) return { kind: "halted", interruptsEnabled: true };
    if (this.wall !== undefined && deadline > this.wall.now()) {
      this.idleUntil = deadline;
      return undefined;
    }
    const before = this.clock.now();
    this.clock.skipTo(deadline);
    this.exitRecorder.idleNs += this.clock.now() - before;
    this.syncTsc();
    this.platform.advance(deadline);
    return undefined;
  }

  /** How long `run` may sleep before the next slice (realtime mode while halted), capped by `until`. */
  private idleMilliseconds(until: number): number {
    const wait = this.wall === undefined ? 0 : (this.idleUntil - this.wall.now()) / 1e6;
    this.idleUntil = 0;
    return Math.max(0, Math.min(wait, until - Date.now()));
  }

  /**
   * A port access stalls the CPU for the time an ISA/LPC bus cycle takes, as on a PC. Guest code
   * that polls a device in a loop (Linux calibrating its TSC on PIT channel 2 through port 0x61,
   * or waiting for a UART) then sees the device's time pass per access as on hardware, instead of
   * 1 ns per poll. The TSC moves with it, so TSC and PIT stay consistent within a slice.
   */
  private chargeIoAccess(): void {
    this.clock.advanceBy(PIO_ACCESS_NS);
    this.core.tscOffset += PIO_ACCESS_NS;
  }

  /**
   * Keep the TSC on the machine clock at its nominal 1 GHz (1 tick per ns, as 1 instruction per
   * ns): RDTSC = instructions + offset, so the offset is the guest time that passed without
   * instructions (HLT skipped to a deadline). It never moves backwards.
   */
  private syncTsc(): void {
    const behind = Math.floor(this.clock.now()) - this.core.instructions;
    if (behind > this.core.tscOffset) this.core.tscOffset = behind;
  }

  /** The guest asked for a reset: end the run with { kind: "reset" } after this instruction. */
  private requestReset(): void {
    this.pendingReset = true;
    this.core.requestStop();
  }
}
