import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import { checkRange, SECTOR_SIZE, type DiskBackend } from "./backend.js";

/**
 * A disk image file (Node only), opened read/write ("r+") or read-only ("r"). Data moves with
 * readSync/writeSync directly between the file and the given view (a view of guest RAM: no
 * intermediate copy). flush() is fsync. The file is never grown or truncated: its size is fixed at
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
