/**
 * Block storage behind an emulated disk (virtio-blk today).
 *
 * A backend is a flat array of `size` bytes (a multiple of 512). Reads and writes move bytes
 * between it and a caller-supplied view; the device passes views of guest RAM straight through, so
 * data is copied once, between the host file (or buffer) and guest RAM.
 *
 * The interface is synchronous for now: `read`/`write` have completed (in the host's page cache,
 * for a file) when they return, and `flush` makes every completed write durable. Asynchronous
 * backends (a browser `File`, OPFS, or Node's thread pool) come later behind the same device: the
 * virtio transport already lets a device complete requests later (`VirtioPciDevice.complete`).
 *
 * Backends never grow or shrink: an access that does not lie entirely inside [0, size) throws a
 * RangeError without touching anything, and the device answers the guest with IOERR.
 */
export interface DiskBackend {
  /** Size in bytes, a multiple of 512. */
  readonly size: number;
  /** Writes are refused (the device offers VIRTIO_BLK_F_RO). */
  readonly readOnly: boolean;
  /** Fill `into` with the bytes at [offset, offset + into.length). */
  read(offset: number, into: Uint8Array): void;
  /** Store `from` at [offset, offset + from.length). Throws if read-only. */
  write(offset: number, from: Uint8Array): void;
  /**
   * Vectored read (optional): fill `into[0]`, `into[1]`, ... in order with the bytes at
   * [offset, offset + total length), as `read` on each view in turn would, but in as few host calls
   * as the backend can (preadv for a file). The whole range is checked before anything moves. The
   * views are only valid during the call. Without it the device calls `read` once per view.
   */
  readv?(offset: number, into: readonly Uint8Array[]): void;
  /** Vectored write (optional): `write` of each view in turn, at consecutive offsets (pwritev). */
  writev?(offset: number, from: readonly Uint8Array[]): void;
  /** Make every completed write durable (fsync for a file). */
  flush(): void;
  /**
   * The guest no longer needs [offset, offset + length) (virtio-blk DISCARD, virtio 1.2 §5.2.6):
   * the backend may deallocate it; later reads of it return unspecified data. Throws if read-only.
   * Optional: without it the device skips the deallocation, which the spec allows ("MAY").
   */
  discard?(offset: number, length: number): void;
  /**
   * Zero [offset, offset + length) in place (virtio-blk WRITE_ZEROES: reads MUST return zeroes
   * afterwards). Throws if read-only. Optional: without it the device writes zero buffers.
   */
  writeZeroes?(offset: number, length: number): void;
  /** Release the backend (closes the file). Further accesses throw. */
  close(): void;
}

/** Sector size of the block-device protocols (virtio-blk counts in 512-byte sectors). */
export const SECTOR_SIZE = 512;

/** Total bytes of a list of views. */
export function totalLength(views: readonly Uint8Array[]): number {
  let n = 0;
  for (const v of views) n += v.length;
  return n;
}

/** Throw unless [offset, offset + length) lies inside a disk of `size` bytes. */
export function checkRange(what: string, size: number, offset: number, length: number): void {
  if (
    !Number.isSafeInteger(offset) ||
    offset < 0 ||
    !Number.isSafeInteger(length) ||
    offset + length > size
  ) {
    throw new RangeError(`${what}: access at ${offset}+${length} is outside the disk (${size} bytes)`);
  }
}
