import type { AccessWidth, IoDevice } from "../bus/device.js";

/** Snapshot of a debug-exit device: plain numbers only. */
export interface DebugExitState {
  /** Exit code requested by the last write, or -1 if the guest has not written. */
  exitCode: number;
}

export interface DebugExitOptions {
  /** Called with the exit code on every write; the machine ends the run. */
  onExit: (code: number) => void;
}

/**
 * QEMU's isa-debug-exit device (usually `-device isa-debug-exit,iobase=0xf4,iosize=0x04`): a write of
 * value v, at any offset and of any width, ends the run with exit code (v << 1) | 1, so a guest can
 * never produce exit code 0 by accident. QEMU shifts the full written value; we keep the code to its
 * low 31 bits so it stays a non-negative integer, and clamp nothing else. Note that the OS takes a
 * process exit status mod 256, so only v's low 7 bits survive as a process exit code (0x10 -> 0x21).
 * Reads return 0, as in QEMU.
 */
export class DebugExit implements IoDevice {
  readonly name = "debug-exit";
  private state: DebugExitState = { exitCode: -1 };
  private readonly onExit: (code: number) => void;

  constructor(options: DebugExitOptions) {
    this.onExit = options.onExit;
  }

  /** Exit code requested by the last write, or -1 if the guest has not written. */
  get exitCode(): number {
    return this.state.exitCode;
  }

  read(_offset: number, _width: AccessWidth): number {
    return 0;
  }

  write(_offset: number, width: AccessWidth, value: number): void {
    const v = width === 4 ? value >>> 0 : value & ((1 << (width * 8)) - 1);
    const code = ((v << 1) | 1) & 0x7fffffff;
    this.state.exitCode = code;
    this.onExit(code);
  }

  /** A copy of the device state. */
  saveState(): DebugExitState {
    return { ...this.state };
  }

  /** Restore a state produced by saveState. */
  loadState(saved: DebugExitState): void {
    this.state = { exitCode: saved.exitCode < 0 ? -1 : saved.exitCode & 0x7fffffff };
  }
}
