/**
 * The page's side of the persistent disks: OPFS_DISK_DIR in the origin private file system holds
 * one image file per disk. The page lists, creates, imports and deletes them with the asynchronous
 * File System API; only the VM worker opens one for the guest (src/disk/opfs-disk.ts).
 *
 * Images are created at their final size here, once; the worker never grows or truncates them.
 */
import { OPFS_DISK_DIR, SECTOR_SIZE } from "../src/disk/index.js";

/** Disk names: a plain file name, so that it also works in a URL (?disk=opfs:NAME). */
const NAME = /^[\w.-]{1,64}$/;

export interface OpfsDiskEntry {
  name: string;
  /** Bytes; undefined when the file cannot be read now (a worker holds it open). */
  size: number | undefined;
}

export function checkDiskName(name: string): void {
  if (!NAME.test(name) || name === "." || name === "..") {
    throw new Error(`"${name}" is not a disk name: 1-64 letters, digits, ".", "_" or "-"`);
  }
}

async function directory(): Promise<FileSystemDirectoryHandle> {
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle(OPFS_DISK_DIR, { create: true });
}

/** Whether this browser has OPFS at all (not in some private windows, nor without a secure context). */
export function haveOpfs(): boolean {
  return typeof navigator.storage?.getDirectory === "function";
}

/** The disks, sorted by name. */
export async function listOpfsDisks(): Promise<OpfsDiskEntry[]> {
  const dir = await directory();
  const out: OpfsDiskEntry[] = [];
  for await (const handle of dir.values()) {
    if (handle.kind !== "file") continue;
    const size = await (handle as FileSystemFileHandle).getFile().then(
      (f) => f.size,
      () => undefined,
    );
    out.push({ name: handle.name, size });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** A new disk called `name`: `data` (a picked image), or `size` zero bytes. Never overwrites one. */
export async function createOpfsDisk(name: string, data: Blob | number): Promise<void> {
  checkDiskName(name);
  const size = typeof data === "number" ? data : data.size;
  if (!Number.isSafeInteger(size) || size <= 0 || size % SECTOR_SIZE !== 0) {
    throw new Error(`a disk's size must be a positive multiple of ${SECTOR_SIZE} bytes, not ${size}`);
  }
  const dir = await directory();
  const exists = await dir.getFileHandle(name).then(
    () => true,
    () => false,
  );
  if (exists) throw new Error(`there is already a disk called "${name}"`);
  const file = await dir.getFileHandle(name, { create: true });
  const out = await file.createWritable();
  try {
    if (typeof data === "number") await out.truncate(size);
    else await out.write(data);
    await out.close();
  } catch (e) {
    await out.abort();
    await dir.removeEntry(name);
    throw e;
  }
}

export async function deleteOpfsDisk(name: string): Promise<void> {
  await (await directory()).removeEntry(name);
}
