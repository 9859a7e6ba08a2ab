import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  readvSync,
  writeSync,
  writevSync,
} from "node:fs";
import { checkRange, SECTOR_SIZE, totalLength, type DiskBackend } from "./backend.js";
import { moveAll } from "./vectored.js";

/** Zero bytes written per writeSync by writeZeroes. */
const ZERO_CHUNK = new Uint8Array(64 * 1024);

/**
 * A disk image file (Node only), opened read/write ("r+") or read-only ("r"). Data moves with
 * readSync/writeSync (readvSync/writevSync for a list of views: one preadv/pwritev per request)
 * directly between the file and the given views (of guest RAM: no intermediate copy). flush() is fsync. The file is never grown or truncated: its size is fixed at
 * open and accesses past the end are refused before any I/O.
 */
export class FileDisk implements DiskBackend {
  readonly size: number;
  readonly readOnly: boolean;
  readonly path: string;
  private fd: number | undefined;

  /**
   * Open `path`. Throws (ENOENT, EACCES, ...) if it cannot be opened, and a RangeError if its size is
   * not a positive multiple of 512 bytes.
   */
  constructor(path: string, options: { readOnly?: boolean } = {}) {
    this.path = path;
    this.readOnly = options.readOnly ?? false;
    const fd = openSync(path, this.readOnly ? "r" : "r+");
    try {
      const st = fstatSync(fd);
      if (!st.isFile() && !st.isBlockDevice()) throw new RangeError(`${path}: not a regular file`);
      if (st.size === 0 || st.size % SECTOR_SIZE !== 0) {
        throw new RangeError(`${path}: size ${st.size} is not a positive multiple of ${SECTOR_SIZE} bytes`);
      }
      this.size = st.size;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    this.fd = fd;
  }

  read(offset: number, into: Uint8Array): void {
    const fd = this.open(offset, into.length);
    let done = 0;
    while (done < into.length) {
      const n = readSync(fd, into, done, into.length - done, offset + done);
      if (n <= 0) throw new Error(`${this.path}: short read at ${offset + done}`);
      done += n;
    }
  }

  write(offset: number, from: Uint8Array): void {
    const fd = this.open(offset, from.length);
    if (this.readOnly) throw new Error(`${this.path}: opened read-only`);
    let done = 0;
    while (done < from.length) {
      done += writeSync(fd, from, done, from.length - done, offset + done);
    }
  }

  /** preadv over the views; a short count is continued, end of file throws (the file shrank). */
  readv(offset: number, into: readonly Uint8Array[]): void {
    const fd = this.open(offset, totalLength(into));
    moveAll(into, offset, (views, position) => readvSync(fd, views, position), this.path);
  }

  /** pwritev over the views; the range was checked, so the file never grows. */
  writev(offset: number, from: readonly Uint8Array[]): void {
    const fd = this.open(offset, totalLength(from));
    if (this.readOnly) throw new Error(`${this.path}: opened read-only`);
    moveAll(from, offset, (views, position) => writevSync(fd, views, position), this.path);
  }

  /** WRITE_ZEROES: zeros written in place, ZERO_CHUNK bytes at a time; the file keeps its size. */
  writeZeroes(offset: number, length: number): void {
    this.open(offset, length);
    if (this.readOnly) throw new Error(`${this.path}: opened read-only`);
    for (let done = 0; done < length; done += ZERO_CHUNK.length) {
      this.write(offset + done, ZERO_CHUNK.subarray(0, Math.min(ZERO_CHUNK.length, length - done)));
    }
  }

  /**
   * DISCARD: Node has no portable hole punching (fallocate), so the range is zeroed in place, which
   * the spec allows (the device "MAY deallocate") and keeps later reads deterministic.
   */
  discard(offset: number, length: number): void {
    this.writeZeroes(offset, length);
  }

  flush(): void {
    if (this.fd === undefined) throw new Error(`${this.path}: closed`);
    if (!this.readOnly) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private open(offset: number, length: number): number {
    if (this.fd === undefined) throw new Error(`${this.path}: closed`);
    checkRange(this.path, this.size, offset, length);
    return this.fd;
  }
}
