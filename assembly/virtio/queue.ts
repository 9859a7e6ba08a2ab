// Split virtqueue processing in the core (virtio 1.2 §2.7): the same algorithm and status codes
// as src/virtio/split-queue.ts (the reference the tests check). Pure functions over guest RAM at
// RAM_BASE + guest-physical address; every guest-supplied index, address and length is checked
// against C_RAM_SIZE before it is used. Results go to the scratch area at VIRTIO_SCRATCH:
//
//   +0  u32 status (VQ_*)          +4  u32 segment count
//   +8  u32 readable bytes         +12 u32 writable bytes
//   +16 u32 error descriptor index +20 u32 1 if the error is inside an indirect table
//   +24 u32 desc addr  +28 u32 desc len  +32 u32 desc flags  +36 u32 desc next  (offending descriptor)
//   +64 segments, VQ_MAX_SEGMENTS x { u32 guest-physical addr; u32 len; u32 flags (bit 0: writable) }
import { CTL_BASE, C_RAM_SIZE, RAM_BASE, VIRTIO_SCRATCH } from "../layout";

export const VQ_MAX_SEGMENTS: u32 = 1024;
export const VQ_SCRATCH_SIZE: u32 = 64 + VQ_MAX_SEGMENTS * 12;

export const VQ_OK: i32 = 0;
export const VQ_HEAD_OUT_OF_RANGE: i32 = 1;
export const VQ_NEXT_OUT_OF_RANGE: i32 = 2;
export const VQ_LOOP: i32 = 3;
export const VQ_BUFFER_OUTSIDE_RAM: i32 = 4;
export const VQ_ZERO_LENGTH: i32 = 5;
export const VQ_READ_AFTER_WRITE: i32 = 6;
export const VQ_INDIRECT_NOT_NEGOTIATED: i32 = 7;
export const VQ_INDIRECT_WITH_NEXT: i32 = 8;
export const VQ_NESTED_INDIRECT: i32 = 9;
export const VQ_INDIRECT_BAD_LENGTH: i32 = 10;
export const VQ_INDIRECT_OUTSIDE_RAM: i32 = 11;
export const VQ_TOO_MANY_SEGMENTS: i32 = 12;
export const VQ_CHAIN_TOO_LONG: i32 = 13;

const F_NEXT: u32 = 1;
const F_WRITE: u32 = 2;
const F_INDIRECT: u32 = 4;

/** [addr, addr + len) lies inside guest RAM (64-bit arithmetic: no wrap). */
@inline function inRam(hi: u32, addr: u32, len: u32): bool {
  return hi == 0 && <u64>addr + <u64>len <= <u64>load<u32>(CTL_BASE + C_RAM_SIZE);
}

@inline function fail(code: i32, desc: u32, indirect: bool, at: u32): i32 {
  const s = VIRTIO_SCRATCH;
  store<u32>(s, code);
  store<u32>(s + 16, desc);
  store<u32>(s + 20, indirect ? 1 : 0);
  if (at != 0) {
    store<u32>(s + 24, load<u32>(at));
    store<u32>(s + 28, load<u32>(at + 8));
    store<u32>(s + 32, <u32>load<u16>(at + 12));
    store<u32>(s + 36, <u32>load<u16>(at + 14));
  }
  return code;
}

/**
 * Walk the chain at `head` of a queue of `size` descriptors at guest-physical `desc` (already
 * checked to lie in RAM). `indirectOk`: VIRTIO_F_INDIRECT_DESC negotiated. Returns VQ_* (also at
 * VIRTIO_SCRATCH + 0) and leaves the segments in the scratch area.
 */
export function vqWalk(desc: u32, size: u32, head: u32, indirectOk: i32): i32 {
  const s = VIRTIO_SCRATCH;
  store<u32>(s + 4, 0);
  store<u32>(s + 8, 0);
  store<u32>(s + 12, 0);
  if (head >= size) return fail(VQ_HEAD_OUT_OF_RANGE, head, false, 0);
  let table = desc;
  let max = size;
  let i = head;
  let count: u32 = 0;
  let inIndirect = false;
  let seenWrite = false;
  let total: u64 = 0;
  let n: u32 = 0;
  let readable: u32 = 0;
  let writable: u32 = 0;
  while (true) {
    const at = RAM_BASE + table + 16 * i;
    const addr = load<u32>(at);
    const addrHi = load<u32>(at + 4);
    const len = load<u32>(at + 8);
    const flags = <u32>load<u16>(at + 12);
    const next = <u32>load<u16>(at + 14);
    if (++count > max) return fail(VQ_LOOP, i, inIndirect, at);
    if (flags & F_INDIRECT) {
      if (!indirectOk) return fail(VQ_INDIRECT_NOT_NEGOTIATED, i, inIndirect, at);
      if (inIndirect) return fail(VQ_NESTED_INDIRECT, i, inIndirect, at);
      if (flags & F_NEXT) return fail(VQ_INDIRECT_WITH_NEXT, i, inIndirect, at);
      if (len == 0 || (len & 15) != 0) return fail(VQ_INDIRECT_BAD_LENGTH, i, inIndirect, at);
      if (!inRam(addrHi, addr, len)) return fail(VQ_INDIRECT_OUTSIDE_RAM, i, inIndirect, at);
      table = addr;
      max = len >>> 4;
      i = 0;
      count = 0;
      inIndirect = true;
      continue;
    }
    if (len == 0) return fail(VQ_ZERO_LENGTH, i, inIndirect, at);
    if (!inRam(addrHi, addr, len)) return fail(VQ_BUFFER_OUTSIDE_RAM, i, inIndirect, at);
    const write = (flags & F_WRITE) != 0;
    if (!write && seenWrite) return fail(VQ_READ_AFTER_WRITE, i, inIndirect, at);
    seenWrite = seenWrite || write;
    total += <u64>len;
    if (total > 0xffffffff) return fail(VQ_CHAIN_TOO_LONG, i, inIndirect, at);
    if (n >= VQ_MAX_SEGMENTS) return fail(VQ_TOO_MANY_SEGMENTS, i, inIndirect, at);
    const seg = s + 64 + n * 12;
    store<u32>(seg, addr);
    store<u32>(seg + 4, len);
    store<u32>(seg + 8, write ? 1 : 0);
    n++;
    if (write) writable += len;
    else readable += len;
    store<u32>(s + 4, n);
    store<u32>(s + 8, readable);
    store<u32>(s + 12, writable);
    if ((flags & F_NEXT) == 0) return fail(VQ_OK, i, inIndirect, 0);
    if (next >= max) return fail(VQ_NEXT_OUT_OF_RANGE, i, inIndirect, at);
    i = next;
  }
  return VQ_OK;
}

/** Write used element (head, len) at position usedIdx of the used ring at `used` (checked in RAM). */
export function vqPushUsed(used: u32, size: u32, usedIdx: u32, head: u32, len: u32): void {
  const at = RAM_BASE + used + 4 + 8 * (usedIdx & (size - 1));
  store<u32>(at, head);
  store<u32>(at + 4, len);
}

/**
 * Publish used.idx = newIdx (after the elements, §2.7.8.2); with EVENT_IDX write avail_event =
 * lastAvail and return 1 iff used_event lies in (oldIdx, newIdx] (vring_need_event, §2.7.10);
 * without, return 1 iff avail.flags has no NO_INTERRUPT (§2.7.7). 0 when newIdx == oldIdx.
 */
export function vqPublish(
  avail: u32,
  used: u32,
  size: u32,
  newIdx: u32,
  oldIdx: u32,
  lastAvail: u32,
  eventIdx: i32,
): i32 {
  store<u16>(RAM_BASE + used + 2, <u16>newIdx);
  if (eventIdx) store<u16>(RAM_BASE + used + 4 + 8 * size, <u16>lastAvail);
  if ((newIdx & 0xffff) == (oldIdx & 0xffff)) return 0;
  if (eventIdx) {
    const ev = <u32>load<u16>(RAM_BASE + avail + 4 + 2 * size);
    return ((newIdx - ev - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff) ? 1 : 0;
  }
  return (load<u16>(RAM_BASE + avail) & 1) == 0 ? 1 : 0;
}
