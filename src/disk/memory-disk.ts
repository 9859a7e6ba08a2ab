import { checkRange, SECTOR_SIZE, totalLength, type DiskBackend } from "./backend.js";

/** A disk held in a Uint8Array (tests, the browser's copy of a small image). */
export class MemoryDisk implements DiskBackend {
  readonly size: number;
  readonly readOnly: boolean;
  /** The disk's bytes (shared with the caller when given). */
  readonly bytes: Uint8Array;
  /** Number of flush() calls (tests). */
  flushes = 0;
  private closed = false;

  /** A disk of `sizeOrBytes` zero bytes, or over the given bytes (not copied). */
  constructor(sizeOrBytes: number | Uint8Array, options: { readOnly?: boolean } = {}) {
    this.bytes = typeof sizeOrBytes === "number" ? new Uint8Array(sizeOrBytes) : sizeOrBytes;
    this.size = this.bytes.length;
    if (this.size === 0 || this.size % SECTOR_SIZE !== 0) {
      throw new RangeError(`memory disk: size ${this.size} is not a positive multiple of ${SECTOR_SIZE}`);
    }
    this.readOnly = options.readOnly ?? false;
  }

  read(offset: number, into: Uint8Array): void {
    this.check(offset, into.length);
    into.set(this.bytes.subarray(offset, offset + into.length));
  }

  write(offset: number, from: Uint8Array): void {
    this.check(offset, from.length);
    if (this.readOnly) throw new Error("memory disk: read-only");
    this.bytes.set(from, offset);
  }

  /** Vectored read: one range check, then a copy per view. */
  readv(offset: number, into: readonly Uint8Array[]): void {
    this.check(offset, totalLength(into));
    for (const v of into) {
      v.set(this.bytes.subarray(offset, offset + v.length));
      offset += v.length;
    }
  }

  /** Vectored write: one range check, then a copy per view. */
  writev(offset: number, from: readonly Uint8Array[]): void {
    this.check(offset, totalLength(from));
    if (this.readOnly) throw new Error("memory disk: read-only");
    for (const v of from) {
      this.bytes.set(v, offset);
      offset += v.length;
    }
  }

  /** WRITE_ZEROES: fill the range with zeros. */
  writeZeroes(offset: number, length: number): void {
    this.check(offset, length);
    if (this.readOnly) throw new Error("memory disk: read-only");
    this.bytes.fill(0, offset, offset + length);
  }

  /** DISCARD: zero the range (deallocation has no meaning for a buffer; zeros keep reads deterministic). */
  discard(offset: number, length: number): void {
    this.writeZeroes(offset, length);
  }

  flush(): void {
    if (this.closed) throw new Error("memory disk: closed");
    this.flushes++;
  }

  close(): void {
    this.closed = true;
  }

  private check(offset: number, length: number): void {
    if (this.closed) throw new Error("memory disk: closed");
    checkRange("memory disk", this.size, offset, length);
  }
}
