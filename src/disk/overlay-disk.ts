import { checkRange, SECTOR_SIZE, totalLength, type DiskBackend } from "./backend.js";

/** Default copy-on-write granularity: 64 KiB, QEMU's default qcow2 cluster size. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;

export interface OverlayOptions {
  /** Copy-on-write granularity in bytes: a power of two, at least 512. Default 64 KiB. */
  chunkSize?: number;
  /**
   * Most bytes the overlay may hold (whole chunks). A write that needs a new chunk beyond it throws
   * (the device answers IOERR) and changes nothing. Default: unbounded.
   */
  maxBytes?: number;
}

/** What an overlay holds. */
export interface OverlayStats {
  chunkSize: number;
  /** Chunks written since creation (or the last commit), each held in memory. */
  dirtyChunks: number;
  /** Bytes those chunks take (the last chunk of a disk may be short). */
  overlayBytes: number;
  /** Bytes the guest wrote (every write, including rewrites of dirty chunks). */
  bytesWritten: number;
}

/**
 * A copy-on-write layer over any DiskBackend (QEMU's -snapshot, a writable view of a read-only
 * browser File): writes go to chunks held in memory, reads merge those chunks with the base, and
 * the base is never written, except by an explicit commit(). Writable whatever the base is.
 *
 * A write to a chunk not yet in the overlay first copies that chunk from the base (read-modify-
 * write), so a chunk in the overlay is always the whole current content of its range. flush() has
 * nothing to make durable (the overlay lives and dies in memory) and returns at once.
 *
 * It is the first of the interposition layers on a disk (write log, encryption, replication): it
 * sees every access of the layer above and decides what reaches the one below.
 */
export class OverlayDisk implements DiskBackend {
  readonly size: number;
  readonly readOnly = false;
  readonly chunkSize: number;
  private readonly maxBytes: number;
  private readonly chunks = new Map<number, Uint8Array>();
  private overlayBytes = 0;
  private bytesWritten = 0;
  private closed = false;

  constructor(
    /** The layer below; owned by the overlay from now on (close() closes it). */
    readonly base: DiskBackend,
    options: OverlayOptions = {},
  ) {
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (chunkSize < SECTOR_SIZE || !Number.isSafeInteger(chunkSize) || (chunkSize & (chunkSize - 1)) !== 0) {
      throw new RangeError(
        `overlay: chunk size ${chunkSize} is not a power of two of at least ${SECTOR_SIZE}`,
      );
    }
    this.chunkSize = chunkSize;
    this.maxBytes = options.maxBytes ?? Infinity;
    this.size = base.size;
  }

  read(offset: number, into: Uint8Array): void {
    this.check(offset, into.length);
    // Runs of chunks not in the overlay are read from the base in one call, straight into `into`.
    let cleanFrom = -1;
    this.forEachChunk(offset, into.length, (index, within, at, length) => {
      const chunk = this.chunks.get(index);
      if (chunk === undefined) {
        if (cleanFrom < 0) cleanFrom = at;
        return;
      }
      if (cleanFrom >= 0) {
        this.base.read(offset + cleanFrom, into.subarray(cleanFrom, at));
        cleanFrom = -1;
      }
      into.set(chunk.subarray(within, within + length), at);
    });
    if (cleanFrom >= 0) this.base.read(offset + cleanFrom, into.subarray(cleanFrom));
  }

  /**
   * Vectored read: chunks in the overlay are copied; every stretch of the disk between them goes to
   * the base in one `readv` (one `read` per piece when the base has none), so a request over clean
   * chunks costs the base one call, as without the overlay. Writes keep the device's fallback (a
   * `write` per run), which already copies into memory.
   */
  readv(offset: number, into: readonly Uint8Array[]): void {
    this.check(offset, totalLength(into));
    const clean: Uint8Array[] = []; // pieces of `into` for the base, consecutive on the disk
    let cleanAt = 0;
    const flushClean = () => {
      if (clean.length === 0) return;
      if (this.base.readv !== undefined) this.base.readv(cleanAt, clean);
      else
        for (let i = 0, at = cleanAt; i < clean.length; at += clean[i++]!.length)
          this.base.read(at, clean[i]!);
      clean.length = 0;
    };
    for (const view of into) {
      this.forEachChunk(offset, view.length, (index, within, at, length) => {
        const chunk = this.chunks.get(index);
        if (chunk !== undefined) {
          flushClean();
          view.set(chunk.subarray(within, within + length), at);
          return;
        }
        if (clean.length === 0) cleanAt = offset + at;
        clean.push(view.subarray(at, at + length));
      });
      offset += view.length;
    }
    flushClean();
  }

  write(offset: number, from: Uint8Array): void {
    this.check(offset, from.length);
    // Allocate every missing chunk before copying anything: a write refused for lack of room
    // leaves the disk as it was.
    const fresh: [number, Uint8Array][] = [];
    let freshBytes = 0;
    this.forEachChunk(offset, from.length, (index) => {
      if (this.chunks.has(index)) return;
      const chunk = new Uint8Array(Math.min(this.chunkSize, this.size - index * this.chunkSize));
      freshBytes += chunk.length;
      fresh.push([index, chunk]);
    });
    if (this.overlayBytes + freshBytes > this.maxBytes) {
      throw new RangeError(
        `overlay: full (${this.overlayBytes} of ${this.maxBytes} bytes held, this write needs ${freshBytes} more)`,
      );
    }
    // Fill the new chunks from the base before adding any: a failing base read changes nothing.
    for (const [index, chunk] of fresh) this.base.read(index * this.chunkSize, chunk);
    for (const [index, chunk] of fresh) this.chunks.set(index, chunk);
    this.overlayBytes += freshBytes;
    this.forEachChunk(offset, from.length, (index, within, at, length) => {
      this.chunks.get(index)!.set(from.subarray(at, at + length), within);
    });
    this.bytesWritten += from.length;
  }

  /** Nothing to make durable: the overlay is in memory, and the base only changes on commit(). */
  flush(): void {
    if (this.closed) throw new Error("overlay: closed");
  }

  /**
   * Write every chunk of the overlay into the base, flush the base and empty the overlay (QEMU's
   * `commit` monitor command). Throws if the base is read-only, before writing anything.
   */
  commit(): void {
    if (this.closed) throw new Error("overlay: closed");
    if (this.base.readOnly) throw new Error("overlay: cannot commit into a read-only base");
    for (const [index, chunk] of [...this.chunks].sort((a, b) => a[0] - b[0])) {
      this.base.write(index * this.chunkSize, chunk);
      this.chunks.delete(index);
      this.overlayBytes -= chunk.length;
    }
    this.base.flush();
  }

  stats(): OverlayStats {
    return {
      chunkSize: this.chunkSize,
      dirtyChunks: this.chunks.size,
      overlayBytes: this.overlayBytes,
      bytesWritten: this.bytesWritten,
    };
  }

  /** Drop the overlay and close the base. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.chunks.clear();
    this.overlayBytes = 0;
    this.base.close();
  }

  private check(offset: number, length: number): void {
    if (this.closed) throw new Error("overlay: closed");
    checkRange("overlay", this.size, offset, length);
  }

  /**
   * Call `fn` for each chunk that [offset, offset + length) touches, in order, with the chunk's
   * index, the offset inside the chunk, the offset inside the access and the length of the piece.
   */
  private forEachChunk(
    offset: number,
    length: number,
    fn: (index: number, within: number, at: number, length: number) => void,
  ): void {
    let at = 0;
    while (at < length) {
      const pos = offset + at;
      const index = Math.floor(pos / this.chunkSize);
      const within = pos - index * this.chunkSize;
      const n = Math.min(this.chunkSize - within, length - at);
      fn(index, within, at, n);
      at += n;
    }
  }
}
