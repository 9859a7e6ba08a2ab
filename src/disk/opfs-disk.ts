import { checkRange, SECTOR_SIZE, type DiskBackend } from "./backend.js";

/** The OPFS directory that holds the disk images (one file per disk, named as the user chose). */
export const OPFS_DISK_DIR = "trapdoor-disks";

/** How long open() keeps retrying while another context still holds the file's lock. */
const LOCK_WAIT_MS = 5000;
const LOCK_RETRY_MS = 100;

/**
 * A disk image in the Origin Private File System (File System Standard §OPFS), read and written
 * through a FileSystemSyncAccessHandle: synchronous, in place, persistent across page reloads.
 * Only a dedicated worker can open one, and the handle holds an exclusive lock on the file until
 * close() (or until the worker ends).
 *
 * The size is the file's size when opened; accesses past it are refused before any I/O, so the
 * image never grows (a write past the end would extend the file) and is never truncated. flush()
 * is the handle's flush(): completed writes are on disk when it returns.
 */
export class OpfsDisk implements DiskBackend {
  readonly size: number;
  readonly readOnly = false;
  readonly name: string;
  private handle: FileSystemSyncAccessHandle | undefined;

  /**
   * Over an open handle (owned from now on). Throws a RangeError, closing the handle, if the file's
   * size is not a positive multiple of 512 bytes.
   */
  constructor(handle: FileSystemSyncAccessHandle, name: string) {
    this.name = name;
    const size = handle.getSize();
    if (size === 0 || size % SECTOR_SIZE !== 0) {
      handle.close();
      throw new RangeError(`${name}: size ${size} is not a positive multiple of ${SECTOR_SIZE} bytes`);
    }
    this.size = size;
    this.handle = handle;
  }

  /**
   * Open the existing disk `name` in OPFS_DISK_DIR (never creates one). A page reload ends the old
   * worker, whose handle may hold the lock a moment longer: retry for up to LOCK_WAIT_MS then.
   */
  static async open(name: string): Promise<OpfsDisk> {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle(OPFS_DISK_DIR);
    const file = await dir.getFileHandle(name);
    for (let waited = 0; ; waited += LOCK_RETRY_MS) {
      try {
        return new OpfsDisk(await file.createSyncAccessHandle(), name);
      } catch (e) {
        if (
          !(e instanceof DOMException && e.name === "NoModificationAllowedError") ||
          waited >= LOCK_WAIT_MS
        ) {
          throw e;
        }
        await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
      }
    }
  }

  read(offset: number, into: Uint8Array): void {
    const handle = this.open(offset, into.length);
    for (let done = 0; done < into.length;) {
      const n = handle.read(into.subarray(done), { at: offset + done });
      if (n <= 0) throw new Error(`${this.name}: short read at ${offset + done}`);
      done += n;
    }
  }

  write(offset: number, from: Uint8Array): void {
    const handle = this.open(offset, from.length);
    for (let done = 0; done < from.length;) {
      const n = handle.write(from.subarray(done), { at: offset + done });
      if (n <= 0) throw new Error(`${this.name}: short write at ${offset + done}`);
      done += n;
    }
  }

  flush(): void {
    if (this.handle === undefined) throw new Error(`${this.name}: closed`);
    this.handle.flush();
  }

  /** Flush and release the file (and its lock). */
  close(): void {
    if (this.handle === undefined) return;
    this.handle.flush();
    this.handle.close();
    this.handle = undefined;
  }

  private open(offset: number, length: number): FileSystemSyncAccessHandle {
    if (this.handle === undefined) throw new Error(`${this.name}: closed`);
    checkRange(this.name, this.size, offset, length);
    return this.handle;
  }
}
