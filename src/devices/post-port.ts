import { allOnes, type AccessWidth, type IoDevice } from "../bus/device.js";

/** Snapshot of a POST port: plain numbers only. */
export interface PostPortState {
  /** Last byte written, or -1 before any write. */
  lastCode: number;
  /** Number of writes seen. */
  count: number;
}

export interface PostPortOptions {
  /** Called with each code (byte) the guest writes. */
  onCode?: (code: number) => void;
}

/**
 * The POST diagnostic port (I/O port 0x80): firmware and kernels write progress codes to it, and it
 * is also written purely as an I/O delay. Real POST cards latch the byte on a display; here the latch
 * reads back (0xFF before any write, as a floating bus). Map it with length 1; other offsets read as
 * all ones and ignore writes. A wider write latches its low byte (the byte addressed at port 0x80); a
 * wider read returns the latch in the low byte and all ones above.
 */
export class PostPort implements IoDevice {
  readonly name = "post";
  private state: PostPortState = { lastCode: -1, count: 0 };
  private readonly onCode: ((code: number) => void) | undefined;

  constructor(options: PostPortOptions = {}) {
    this.onCode = options.onCode;
  }

  /** Last byte written, or -1 before any write. */
  get lastCode(): number {
    return this.state.lastCode;
  }

  /** Number of writes seen. */
  get count(): number {
    return this.state.count;
  }

  read(offset: number, width: AccessWidth): number {
    if (offset !== 0) return allOnes(width);
    const latch = this.state.lastCode < 0 ? 0xff : this.state.lastCode;
    return ((allOnes(width) & ~0xff) | latch) >>> 0;
  }

  write(offset: number, _width: AccessWidth, value: number): void {
    if (offset !== 0) return;
    const code = value & 0xff;
    this.state.lastCode = code;
    this.state.count++;
    this.onCode?.(code);
  }

  /** A copy of the device state. */
  saveState(): PostPortState {
    return { ...this.state };
  }

  /** Restore a state produced by saveState. */
  loadState(saved: PostPortState): void {
    this.state = {
      lastCode: saved.lastCode < 0 ? -1 : saved.lastCode & 0xff,
      count: Math.max(0, Math.trunc(saved.count)),
    };
  }
}
