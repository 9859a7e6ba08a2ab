/**
 * Bytes a device emits one at a time (UART transmit, debug console), collected during a run slice
 * and handed to listeners in one batch when the slice ends: a call per byte to a terminal or a
 * Worker message would cost far more than the byte.
 */
export class OutputBuffer {
  private buf = new Uint8Array(1024);
  private len = 0;
  private readonly listeners: ((bytes: Uint8Array) => void)[] = [];

  push(b: number): void {
    if (this.len === this.buf.length) {
      const bigger = new Uint8Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.len++] = b;
  }

  listen(listener: (bytes: Uint8Array) => void): void {
    this.listeners.push(listener);
  }

  /** Hand the collected bytes (a fresh copy, safe to transfer) to every listener. */
  flush(): void {
    if (this.len === 0) return;
    const bytes = this.buf.slice(0, this.len);
    this.len = 0;
    for (const l of this.listeners) l(bytes);
  }
}
