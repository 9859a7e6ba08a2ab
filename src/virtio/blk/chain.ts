/*
 * Moving bytes between a validated virtio-blk chain and the rest of the host. The chain's segments
 * are the SplitQueue's scratch arrays from its last walk; by §2.7.4.2 every device-readable segment
 * comes before every device-writable one. The device assumes no particular layout (§2.7.4): the
 * header, data and status may be split across descriptors any way the driver likes, so these
 * helpers work on byte offsets into the readable (or writable) part of the chain.
 */
import type { DiskBackend } from "../../disk/backend.js";
import type { SplitQueue } from "../split-queue.js";

/** Called after the device wrote guest RAM [addr, addr + len). */
export type GuestWriteHook = (addr: number, len: number) => void;

/** Copy `into.length` readable bytes, starting `skip` bytes into the readable part, into `into`. */
export function gatherReadable(ram: Uint8Array, q: SplitQueue, skip: number, into: Uint8Array): void {
  let at = 0;
  for (let s = 0; s < q.segCount && at < into.length; s++) {
    if (q.segWrite[s]) break;
    let addr = q.segAddr[s]!;
    let len = q.segLen[s]!;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    addr += skip;
    len -= skip;
    skip = 0;
    const n = Math.min(len, into.length - at);
    into.set(ram.subarray(addr, addr + n), at);
    at += n;
  }
}

/** OUT: the readable bytes after the first `skip` go to the disk at byte `pos`. */
export function readableToDisk(
  ram: Uint8Array,
  q: SplitQueue,
  skip: number,
  backend: DiskBackend,
  pos: number,
): void {
  for (let s = 0; s < q.segCount; s++) {
    if (q.segWrite[s]) break;
    let addr = q.segAddr[s]!;
    let len = q.segLen[s]!;
    const k = Math.min(skip, len);
    skip -= k;
    addr += k;
    len -= k;
    if (len === 0) continue;
    backend.write(pos, ram.subarray(addr, addr + len));
    pos += len;
  }
}

/** IN: `total` bytes from the disk at byte `pos` into the writable segments, in order. */
export function diskToWritable(
  ram: Uint8Array,
  q: SplitQueue,
  backend: DiskBackend,
  pos: number,
  total: number,
  onGuestWrite: GuestWriteHook,
): void {
  for (let s = 0; s < q.segCount && total > 0; s++) {
    if (!q.segWrite[s]) continue;
    const addr = q.segAddr[s]!;
    const len = Math.min(q.segLen[s]!, total);
    backend.read(pos, ram.subarray(addr, addr + len));
    onGuestWrite(addr, len);
    pos += len;
    total -= len;
  }
}

/** Copy `data` into the writable segments; returns the bytes written. */
export function scatterWritable(
  ram: Uint8Array,
  q: SplitQueue,
  data: Uint8Array,
  onGuestWrite: GuestWriteHook,
): number {
  let done = 0;
  for (let s = 0; s < q.segCount && done < data.length; s++) {
    if (!q.segWrite[s]) continue;
    const n = Math.min(q.segLen[s]!, data.length - done);
    ram.set(data.subarray(done, done + n), q.segAddr[s]!);
    onGuestWrite(q.segAddr[s]!, n);
    done += n;
  }
  return done;
}

/** §5.2.6: the status byte is the last byte of the last (device-writable) segment. */
export function writeStatusByte(
  ram: Uint8Array,
  q: SplitQueue,
  status: number,
  onGuestWrite: GuestWriteHook,
): void {
  const s = q.segCount - 1;
  const addr = q.segAddr[s]! + q.segLen[s]! - 1;
  ram[addr] = status;
  onGuestWrite(addr, 1);
}
