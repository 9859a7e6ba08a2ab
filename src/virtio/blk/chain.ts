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

/**
 * Runs of guest RAM a request's data occupies, adjacent segments merged (a driver may split one
 * buffer over several descriptors). Reused by every request: the device handles one at a time.
 */
const runAddr: number[] = [];
const runLen: number[] = [];
/** The runs as views of guest RAM, for a vectored backend call; emptied after each call. */
const views: Uint8Array[] = [];

/** Append [addr, addr + len) to the runs, merging it with the last run when it follows on. */
function addRun(addr: number, len: number): void {
  const last = runAddr.length - 1;
  if (last >= 0 && runAddr[last]! + runLen[last]! === addr) runLen[last]! += len;
  else {
    runAddr.push(addr);
    runLen.push(len);
  }
}

/** The runs as views, in `views`. */
function runViews(ram: Uint8Array): Uint8Array[] {
  for (let i = 0; i < runAddr.length; i++) views.push(ram.subarray(runAddr[i]!, runAddr[i]! + runLen[i]!));
  return views;
}

/** Call `op` with each run as a view and its disk offset, the first at `pos` (non-vectored backends). */
function eachRun(ram: Uint8Array, pos: number, op: (offset: number, view: Uint8Array) => void): void {
  for (let i = 0; i < runAddr.length; i++) {
    op(pos, ram.subarray(runAddr[i]!, runAddr[i]! + runLen[i]!));
    pos += runLen[i]!;
  }
}

function clearRuns(): void {
  runAddr.length = 0;
  runLen.length = 0;
  views.length = 0;
}

/**
 * OUT: the readable bytes after the first `skip` go to the disk at byte `pos`: one `writev` when
 * the backend has it, else one `write` per run.
 */
export function readableToDisk(
  ram: Uint8Array,
  q: SplitQueue,
  skip: number,
  backend: DiskBackend,
  pos: number,
): void {
  for (let s = 0; s < q.segCount; s++) {
    if (q.segWrite[s]) break;
    const k = Math.min(skip, q.segLen[s]!);
    skip -= k;
    if (q.segLen[s]! > k) addRun(q.segAddr[s]! + k, q.segLen[s]! - k);
  }
  try {
    if (backend.writev !== undefined) backend.writev(pos, runViews(ram));
    else eachRun(ram, pos, (offset, view) => backend.write(offset, view));
  } finally {
    clearRuns();
  }
}

/**
 * IN: `total` bytes from the disk at byte `pos` into the writable segments, in order: one `readv`
 * when the backend has it, else one `read` per run. `onGuestWrite` hears of each run, even when the
 * backend fails part-way (it may have filled some of it).
 */
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
    const len = Math.min(q.segLen[s]!, total);
    addRun(q.segAddr[s]!, len);
    total -= len;
  }
  try {
    if (backend.readv !== undefined) backend.readv(pos, runViews(ram));
    else eachRun(ram, pos, (offset, view) => backend.read(offset, view));
  } finally {
    for (let i = 0; i < runAddr.length; i++) onGuestWrite(runAddr[i]!, runLen[i]!);
    clearRuns();
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
