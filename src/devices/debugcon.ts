import { allOnes, type AccessWidth, type IoDevice } from "../bus/device.js";

/** Snapshot of a debug console: plain numbers only. */
export interface DebugConState {
  /** Bytes written so far. */
  count: number;
}

export interface DebugConOptions {
  /** Called with each byte the guest writes. */
  output: (byte: number) => void;
}

/** The value a read returns, so software can detect the port (QEMU's `readback` default, as Bochs). */
export const DEBUGCON_READBACK = 0xe9;

/**
 * The Bochs "port E9 hack", QEMU's `isa-debugcon` (`-debugcon`, port 0xE9 by default; SeaBIOS
 * and OVMF use it at 0x402): each byte written is appended to the debug output, and a read returns
 * 0xE9. Map it with length 1. A wider write outputs its low byte (QEMU's handler keeps
 * `unsigned char ch = val`); a wider read returns 0xE9 in the low byte and all ones above, as a
 * floating bus.
 */
export class DebugCon implements IoDevice {
  readonly name = "debugcon";
  private state: DebugConState = { count: 0 };
  private readonly output: (byte: number) => void;

  constructor(options: DebugConOptions) {
    this.output = options.output;
  }

  /** Bytes written so far. */
  get count(): number {
    return this.state.count;
  }

  read(_offset: number, width: AccessWidth): number {
    return ((allOnes(width) & ~0xff) | DEBUGCON_READBACK) >>> 0;
  }

  write(_offset: number, _width: AccessWidth, value: number): void {
    this.state.count++;
    this.output(value & 0xff);
  }

  /** A copy of the device state. */
  saveState(): DebugConState {
    return { ...this.state };
  }

  /** Restore a state produced by saveState. */
  loadState(saved: DebugConState): void {
    this.state = { count: Math.max(0, Math.trunc(saved.count)) };
  }
}
