// Split virtqueues processed in the core (virtio 1.2 §2.7), device side. Each queue is a slot of
// core memory at VQ_BASE + slot * VQ_SLOT_SIZE (layout.ts): the host's transport writes the
// configuration words (size, ring addresses, features), calls the vq* exports below, and reads
// the results and the validated segments from the same slot. tests/helpers/split-queue-oracle.ts
// is the TypeScript reference the fuzz test compares this code with.
//
// Layout (§2.7, little-endian), N = queue size:
//   descriptor table  16·N bytes, align 16: { le64 addr; le32 len; le16 flags; le16 next }
//   available ring    6 + 2·N, align 2:     { le16 flags; le16 idx; le16 ring[N]; le16 used_event }
//   used ring         6 + 8·N, align 4:     { le16 flags; le16 idx; {le32 id; le32 len} ring[N]; le16 avail_event }
//
// Everything the guest supplies is checked before it is used, against the RAM size in the control
// block (and the ROM's window below 1 MiB, which hides the RAM under it): ring placement (every
// call re-checks it, so no call can touch memory outside guest RAM whatever the slot holds), avail
// idx against the queue size, heads and next indexes against their table, chain length (loops),
// indirect tables, buffers, descriptor order and the byte total. Each descriptor is read once.
import {
  CTL_BASE,
  C_RAM_SIZE,
  C_ROM_SIZE,
  RAM_BASE,
  VQ_BASE,
  VQ_SLOTS,
  VQ_SLOT_SIZE,
  VQ_MAX_QUEUE_SIZE,
  VQ_MAX_SEGMENTS,
  VQ_SIZE,
  VQ_MAX,
  VQ_EVENT_IDX,
  VQ_INDIRECT,
  VQ_DESC,
  VQ_DESC_HI,
  VQ_AVAIL,
  VQ_AVAIL_HI,
  VQ_USED,
  VQ_USED_HI,
  VQ_LAST_AVAIL,
  VQ_USED_IDX,
  VQ_SIGNALLED,
  VQ_STATUS,
  VQ_SEG_COUNT,
  VQ_READABLE,
  VQ_WRITABLE,
  VQ_ERR_DESC,
  VQ_ERR_INDIRECT,
  VQ_ERR_ADDR,
  VQ_ERR_LEN,
  VQ_ERR_FLAGS,
  VQ_ERR_NEXT,
  VQ_WARNINGS,
  VQ_SEG_ADDR,
  VQ_SEG_LEN,
  VQ_SEG_WRITE,
  VQ_INFLIGHT,
  VQ_DUPLICATE,
  VQ_SHADOW,
} from "../layout";

// Status codes (the same numbers as src/virtio/split-queue.ts, which has their texts).
const VQ_OK: i32 = 0;
const VQ_HEAD_OUT_OF_RANGE: i32 = 1;
const VQ_NEXT_OUT_OF_RANGE: i32 = 2;
const VQ_LOOP: i32 = 3;
const VQ_BUFFER_OUTSIDE_RAM: i32 = 4;
const VQ_ZERO_LENGTH: i32 = 5;
const VQ_READ_AFTER_WRITE: i32 = 6;
const VQ_INDIRECT_NOT_NEGOTIATED: i32 = 7;
const VQ_INDIRECT_WITH_NEXT: i32 = 8;
const VQ_NESTED_INDIRECT: i32 = 9;
const VQ_INDIRECT_BAD_LENGTH: i32 = 10;
const VQ_INDIRECT_OUTSIDE_RAM: i32 = 11;
const VQ_TOO_MANY_SEGMENTS: i32 = 12;
const VQ_CHAIN_TOO_LONG: i32 = 13;
const VQ_AVAIL_IDX_JUMP: i32 = 14;
const VQ_RING_MISALIGNED: i32 = 15;
const VQ_RING_OUTSIDE_RAM: i32 = 16;
const VQ_HEAD_IN_FLIGHT: i32 = 17;
const VQ_RING_OVERLAP: i32 = 18;
const VQ_BAD_SLOT: i32 = 19;

const F_NEXT: u32 = 1;
const F_WRITE: u32 = 2;
const F_INDIRECT: u32 = 4;
/** The ROM's window below 1 MiB is at most this long (assembly/cpu/memory.ts). */
const BIOS_WINDOW_SIZE: u32 = 0x20000;

@inline function word(s: u32, off: u32): u32 {
  return load<u32>(s + off);
}
@inline function setWord(s: u32, off: u32, v: u32): void {
  store<u32>(s + off, v);
}

/** [addr, addr + len) is guest RAM the device may use: below the RAM size, clear of the ROM window. */
function inRam(hi: u32, addr: u32, len: u32): bool {
  const end = <u64>addr + <u64>len;
  if (hi != 0 || end > <u64>load<u32>(CTL_BASE + C_RAM_SIZE)) return false;
  const rom = load<u32>(CTL_BASE + C_ROM_SIZE);
  if (rom == 0) return true;
  const shadow = rom < BIOS_WINDOW_SIZE ? rom : BIOS_WINDOW_SIZE;
  return end <= <u64>(0x100000 - shadow) || addr >= 0x100000;
}

/** Slot address, or 0 for a slot number out of range. */
@inline function slotAt(slot: u32): u32 {
  return slot < VQ_SLOTS ? VQ_BASE + slot * VQ_SLOT_SIZE : 0;
}

/** The queue size is a power of two within the slot's maximum (itself at most VQ_MAX_QUEUE_SIZE). */
@inline function sizeOk(s: u32): bool {
  const n = word(s, VQ_SIZE);
  const max = word(s, VQ_MAX);
  return n != 0 && (n & (n - 1)) == 0 && n <= max && max <= VQ_MAX_QUEUE_SIZE;
}

/** Alignment (§2.7) and placement in guest RAM of the three rings. */
function ringPlacement(s: u32): i32 {
  if (!sizeOk(s)) return VQ_RING_OUTSIDE_RAM;
  const n = word(s, VQ_SIZE);
  const desc = word(s, VQ_DESC);
  const avail = word(s, VQ_AVAIL);
  const used = word(s, VQ_USED);
  if ((desc & 15) != 0 || (avail & 1) != 0 || (used & 3) != 0) return VQ_RING_MISALIGNED;
  if (
    !inRam(word(s, VQ_DESC_HI), desc, 16 * n) ||
    !inRam(word(s, VQ_AVAIL_HI), avail, 6 + 2 * n) ||
    !inRam(word(s, VQ_USED_HI), used, 6 + 8 * n)
  )
    return VQ_RING_OUTSIDE_RAM;
  return VQ_OK;
}

@inline function overlaps(a: u32, alen: u32, b: u32, blen: u32): bool {
  return a < b + blen && b < a + alen;
}

/** Back to the reset state (§2.4): size = max, not ready, addresses and indexes 0, nothing in flight. */
export function vqReset(slot: u32, maxSize: u32): void {
  const s = slotAt(slot);
  if (s == 0) return;
  memory.fill(s, 0, VQ_SEG_ADDR);
  memory.fill(s + VQ_INFLIGHT, 0, VQ_SHADOW - VQ_INFLIGHT);
  setWord(s, VQ_MAX, maxSize);
  setWord(s, VQ_SIZE, maxSize);
}

/**
 * Check the rings (also done by every other call): alignment (§2.7.1 table), placement in RAM,
 * and overlap. §2.7: "each part is write-able by either the driver or the device, but not both",
 * so a used ring (device-written) that overlaps the descriptor table or the available ring
 * (driver-written) is refused (VQ_RING_OVERLAP); a descriptor table overlapping the available
 * ring breaks no device write and is only flagged (VQ_WARNINGS bit 0). Returns the status.
 */
export function vqCheckRings(slot: u32): i32 {
  const s = slotAt(slot);
  if (s == 0) return VQ_BAD_SLOT;
  setWord(s, VQ_WARNINGS, 0);
  let r = ringPlacement(s);
  if (r == VQ_OK) {
    const n = word(s, VQ_SIZE);
    const desc = word(s, VQ_DESC);
    const avail = word(s, VQ_AVAIL);
    const used = word(s, VQ_USED);
    if (overlaps(used, 6 + 8 * n, desc, 16 * n) || overlaps(used, 6 + 8 * n, avail, 6 + 2 * n))
      r = VQ_RING_OVERLAP;
    else if (overlaps(desc, 16 * n, avail, 6 + 2 * n)) setWord(s, VQ_WARNINGS, 1);
  }
  setWord(s, VQ_STATUS, r);
  return r;
}

/**
 * How many heads wait in the available ring, or -1 if avail.idx moved more than the queue size
 * past the last seen index (VQ_AVAIL_IDX_JUMP, §2.7 "at most Queue Size buffers"; the idx read is
 * in VQ_ERR_NEXT). 0 when the rings are not usable.
 */
export function vqPending(slot: u32): i32 {
  const s = slotAt(slot);
  if (s == 0 || ringPlacement(s) != VQ_OK) return 0;
  const idx = <u32>load<u16>(RAM_BASE + word(s, VQ_AVAIL) + 2);
  const n = (idx - word(s, VQ_LAST_AVAIL)) & 0xffff;
  if (n > word(s, VQ_SIZE)) {
    setWord(s, VQ_STATUS, VQ_AVAIL_IDX_JUMP);
    setWord(s, VQ_ERR_DESC, 0xffffffff);
    setWord(s, VQ_ERR_NEXT, idx);
    return -1;
  }
  return <i32>n;
}

/** Take the next head from the available ring (§2.7.6); -1 when the rings are not usable. */
export function vqPop(slot: u32): i32 {
  const s = slotAt(slot);
  if (s == 0 || ringPlacement(s) != VQ_OK) return -1;
  const last = word(s, VQ_LAST_AVAIL);
  const at = RAM_BASE + word(s, VQ_AVAIL) + 4 + 2 * (last & (word(s, VQ_SIZE) - 1));
  setWord(s, VQ_LAST_AVAIL, (last + 1) & 0xffff);
  return <i32>load<u16>(at);
}

@inline function bit(s: u32, map: u32, i: u32): bool {
  return ((load<u8>(s + map + (i >>> 3)) >>> (i & 7)) & 1) != 0;
}
@inline function setBit(s: u32, map: u32, i: u32, on: bool): void {
  const at = s + map + (i >>> 3);
  const m: u32 = 1 << (i & 7);
  const v = <u32>load<u8>(at);
  store<u8>(at, <u8>(on ? v | m : v & ~m));
}

/** Record the result of a walk: status and the descriptor it stopped at (fields read from `at`). */
function finish(s: u32, code: i32, desc: u32, indirect: bool, at: u32): i32 {
  setWord(s, VQ_STATUS, code);
  setWord(s, VQ_ERR_DESC, desc);
  setWord(s, VQ_ERR_INDIRECT, indirect ? 1 : 0);
  if (at != 0) {
    setWord(s, VQ_ERR_ADDR, load<u32>(at));
    setWord(s, VQ_ERR_LEN, load<u32>(at + 8));
    setWord(s, VQ_ERR_FLAGS, <u32>load<u16>(at + 12));
    setWord(s, VQ_ERR_NEXT, <u32>load<u16>(at + 14));
  }
  return code;
}

/**
 * Walk the chain at `head` into the slot's segment arrays and return a VQ_* status. The head is
 * then in flight until a used element returns it and is published: offering it again before that
 * is VQ_HEAD_IN_FLIGHT (§2.7.13: a buffer is the driver's again only once used; the footnote of
 * §2.7 "at most Queue Size buffers can be queued"), and the device's next vqPushUsed of that head
 * is dropped (the head still belongs to the first request).
 */
export function vqWalk(slot: u32, head: u32): i32 {
  const s = slotAt(slot);
  if (s == 0) return VQ_BAD_SLOT;
  setWord(s, VQ_SEG_COUNT, 0);
  setWord(s, VQ_READABLE, 0);
  setWord(s, VQ_WRITABLE, 0);
  setWord(s, VQ_ERR_ADDR, 0);
  setWord(s, VQ_ERR_LEN, 0);
  setWord(s, VQ_ERR_FLAGS, 0);
  setWord(s, VQ_ERR_NEXT, 0);
  const placement = ringPlacement(s);
  if (placement != VQ_OK) return finish(s, placement, 0xffffffff, false, 0);
  const size = word(s, VQ_SIZE);
  if (head >= size) return finish(s, VQ_HEAD_OUT_OF_RANGE, head, false, 0);
  if (bit(s, VQ_INFLIGHT, head)) {
    setBit(s, VQ_DUPLICATE, head, true);
    return finish(s, VQ_HEAD_IN_FLIGHT, head, false, 0);
  }
  setBit(s, VQ_INFLIGHT, head, true);
  const indirectOk = word(s, VQ_INDIRECT) != 0;
  let table = word(s, VQ_DESC);
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
    if (++count > max) return finish(s, VQ_LOOP, i, inIndirect, at);
    if (flags & F_INDIRECT) {
      // §2.7.5.3.1 driver rules; §2.7.5.3.2: WRITE on this descriptor is ignored.
      if (!indirectOk) return finish(s, VQ_INDIRECT_NOT_NEGOTIATED, i, inIndirect, at);
      if (inIndirect) return finish(s, VQ_NESTED_INDIRECT, i, inIndirect, at);
      if (flags & F_NEXT) return finish(s, VQ_INDIRECT_WITH_NEXT, i, inIndirect, at);
      if (len == 0 || (len & 15) != 0) return finish(s, VQ_INDIRECT_BAD_LENGTH, i, inIndirect, at);
      if (!inRam(addrHi, addr, len)) return finish(s, VQ_INDIRECT_OUTSIDE_RAM, i, inIndirect, at);
      table = addr;
      max = len >>> 4;
      i = 0;
      count = 0;
      inIndirect = true;
      continue;
    }
    if (len == 0) return finish(s, VQ_ZERO_LENGTH, i, inIndirect, at);
    if (!inRam(addrHi, addr, len)) return finish(s, VQ_BUFFER_OUTSIDE_RAM, i, inIndirect, at);
    const write = (flags & F_WRITE) != 0;
    if (!write && seenWrite) return finish(s, VQ_READ_AFTER_WRITE, i, inIndirect, at);
    seenWrite = seenWrite || write;
    total += <u64>len;
    if (total > 0xffffffff) return finish(s, VQ_CHAIN_TOO_LONG, i, inIndirect, at);
    if (n >= VQ_MAX_SEGMENTS) return finish(s, VQ_TOO_MANY_SEGMENTS, i, inIndirect, at);
    store<u32>(s + VQ_SEG_ADDR + 4 * n, addr);
    store<u32>(s + VQ_SEG_LEN + 4 * n, len);
    store<u8>(s + VQ_SEG_WRITE + n, write ? 1 : 0);
    n++;
    if (write) writable += len;
    else readable += len;
    setWord(s, VQ_SEG_COUNT, n);
    setWord(s, VQ_READABLE, readable);
    setWord(s, VQ_WRITABLE, writable);
    if ((flags & F_NEXT) == 0) return finish(s, VQ_OK, i, inIndirect, at);
    if (next >= max) return finish(s, VQ_NEXT_OUT_OF_RANGE, i, inIndirect, at);
    i = next;
  }
  return VQ_OK;
}

/**
 * Write used element (head, len) at used.idx's next position (§2.7.8); not visible to the driver
 * until vqPublish. Returns 1, or 0 when nothing was written: the rings are not usable, or this
 * push answers a chain refused as VQ_HEAD_IN_FLIGHT.
 */
export function vqPushUsed(slot: u32, head: u32, len: u32): i32 {
  const s = slotAt(slot);
  if (s == 0 || ringPlacement(s) != VQ_OK) return 0;
  const size = word(s, VQ_SIZE);
  if (head < size && bit(s, VQ_DUPLICATE, head)) {
    setBit(s, VQ_DUPLICATE, head, false);
    return 0;
  }
  const idx = word(s, VQ_USED_IDX);
  const pos = idx & (size - 1);
  const at = RAM_BASE + word(s, VQ_USED) + 4 + 8 * pos;
  store<u32>(at, head);
  store<u32>(at + 4, len);
  store<u16>(s + VQ_SHADOW + 2 * pos, <u16>(head < size ? head : 0xffff));
  setWord(s, VQ_USED_IDX, (idx + 1) & 0xffff);
  return 1;
}

/**
 * Publish used.idx after the used elements (§2.7.8.2); with EVENT_IDX also write avail_event =
 * the last seen avail index, asking for a kick at the next buffer (§2.7.10). The heads published
 * leave the in-flight set. Returns 1 if the driver wants an interrupt: with EVENT_IDX iff
 * used_event lies in (old, new] (vring_need_event, §2.7.10), otherwise iff avail.flags has no
 * NO_INTERRUPT (§2.7.7); 0 when nothing new was used since the last publish.
 */
export function vqPublish(slot: u32): i32 {
  const s = slotAt(slot);
  if (s == 0 || ringPlacement(s) != VQ_OK) return 0;
  const n = word(s, VQ_SIZE);
  const avail = RAM_BASE + word(s, VQ_AVAIL);
  const used = RAM_BASE + word(s, VQ_USED);
  const now = word(s, VQ_USED_IDX);
  const old = word(s, VQ_SIGNALLED);
  const eventIdx = word(s, VQ_EVENT_IDX) != 0;
  store<u16>(used + 2, <u16>now);
  if (eventIdx) store<u16>(used + 4 + 8 * n, <u16>word(s, VQ_LAST_AVAIL));
  const fresh = (now - old) & 0xffff;
  const count = fresh < n ? fresh : n;
  for (let k: u32 = 0; k < count; k++) {
    const h = <u32>load<u16>(s + VQ_SHADOW + 2 * ((now - 1 - k) & (n - 1)));
    if (h < n) setBit(s, VQ_INFLIGHT, h, false);
  }
  setWord(s, VQ_SIGNALLED, now);
  if (fresh == 0) return 0;
  if (eventIdx) {
    const ev = <u32>load<u16>(avail + 4 + 2 * n);
    return ((now - ev - 1) & 0xffff) < fresh ? 1 : 0;
  }
  return (load<u16>(avail) & 1) == 0 ? 1 : 0;
}
