/*
 * The reference split-virtqueue device (virtio 1.2 §2.7) in plain TypeScript over a RAM array: the
 * oracle the differential tests hold the core's queue code (assembly/virtio/queue.ts, used through
 * src/virtio/split-queue.ts) against. It was the devices' walker before the rings moved into the
 * core; it is kept deliberately simple (DataView reads, plain fields) rather than fast.
 *
 * Semantics both must share: ring placement is checked on every call (misaligned or outside RAM:
 * pending 0, pop -1, pushUsed/publish do nothing, walk returns the placement status); a used ring
 * overlapping the descriptor table or the available ring is VQ_RING_OVERLAP, a descriptor table
 * overlapping the available ring only a warning; a head walked again before a published used
 * element returned it is VQ_HEAD_IN_FLIGHT, and the next pushUsed of that head is dropped; RAM
 * under the firmware ROM's window below 1 MiB is not usable RAM.
 */
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_MAX_SEGMENTS,
  VIRTQ_MAX_SIZE,
  VQ_BUFFER_OUTSIDE_RAM,
  VQ_CHAIN_TOO_LONG,
  VQ_HEAD_IN_FLIGHT,
  VQ_HEAD_OUT_OF_RANGE,
  VQ_INDIRECT_BAD_LENGTH,
  VQ_INDIRECT_NOT_NEGOTIATED,
  VQ_INDIRECT_OUTSIDE_RAM,
  VQ_INDIRECT_WITH_NEXT,
  VQ_LOOP,
  VQ_NESTED_INDIRECT,
  VQ_NEXT_OUT_OF_RANGE,
  VQ_OK,
  VQ_READ_AFTER_WRITE,
  VQ_RING_MISALIGNED,
  VQ_RING_OUTSIDE_RAM,
  VQ_RING_OVERLAP,
  VQ_TOO_MANY_SEGMENTS,
  VQ_ZERO_LENGTH,
} from "../../src/virtio/split-queue.js";

export class SplitQueueOracle {
  size: number;
  ready = false;
  desc = 0;
  descHi = 0;
  avail = 0;
  availHi = 0;
  used = 0;
  usedHi = 0;
  lastAvail = 0;
  usedIdx = 0;
  signalledUsed = 0;
  broken = false;
  eventIdx = false;
  indirect = false;

  readonly segAddr = new Uint32Array(VIRTQ_MAX_SEGMENTS);
  readonly segLen = new Uint32Array(VIRTQ_MAX_SEGMENTS);
  readonly segWrite = new Uint8Array(VIRTQ_MAX_SEGMENTS);
  segCount = 0;
  readableBytes = 0;
  writableBytes = 0;
  errorDescriptor = 0;
  errorIndirect = false;
  errorDescAddr = 0;
  errorDescLen = 0;
  errorDescFlags = 0;
  errorDescNext = 0;
  ringsOverlapWarning = false;

  /** Heads walked and not yet returned by a published used element; heads whose next push is dropped. */
  private readonly inFlight = new Set<number>();
  private readonly duplicate = new Set<number>();
  /** Heads of the used elements pushed since the last publish. */
  private unpublished: number[] = [];
  private readonly view: DataView;

  constructor(
    readonly ram: Uint8Array,
    readonly maxSize: number,
    /** Firmware ROM size: its last min(rom, 128 KiB) bytes hide the RAM below 1 MiB. */
    readonly romSize = 0,
  ) {
    if (maxSize < 1 || maxSize > VIRTQ_MAX_SIZE || (maxSize & (maxSize - 1)) !== 0)
      throw new RangeError(`oracle: bad maximum size ${maxSize}`);
    this.size = maxSize;
    this.view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  }

  reset(): void {
    this.size = this.maxSize;
    this.ready = this.broken = this.eventIdx = this.indirect = false;
    this.desc = this.descHi = this.avail = this.availHi = this.used = this.usedHi = 0;
    this.lastAvail = this.usedIdx = this.signalledUsed = 0;
    this.segCount = this.readableBytes = this.writableBytes = 0;
    this.errorDescriptor = 0;
    this.errorIndirect = this.ringsOverlapWarning = false;
    this.errorDescAddr = this.errorDescLen = this.errorDescFlags = this.errorDescNext = 0;
    this.inFlight.clear();
    this.duplicate.clear();
    this.unpublished = [];
  }

  private inRam(hi: number, addr: number, len: number): boolean {
    const end = addr + len;
    if (hi !== 0 || end > this.ram.length) return false;
    if (this.romSize === 0) return true;
    const windowStart = 0x100000 - Math.min(this.romSize, 0x20000);
    return end <= windowStart || addr >= 0x100000;
  }

  private placement(): number {
    const n = this.size;
    if (n < 1 || n > this.maxSize || (n & (n - 1)) !== 0) return VQ_RING_OUTSIDE_RAM;
    if (this.desc % 16 !== 0 || this.avail % 2 !== 0 || this.used % 4 !== 0) return VQ_RING_MISALIGNED;
    if (
      !this.inRam(this.descHi, this.desc, 16 * n) ||
      !this.inRam(this.availHi, this.avail, 6 + 2 * n) ||
      !this.inRam(this.usedHi, this.used, 6 + 8 * n)
    )
      return VQ_RING_OUTSIDE_RAM;
    return VQ_OK;
  }

  checkRings(): number {
    this.ringsOverlapWarning = false;
    const r = this.placement();
    if (r !== VQ_OK) return r;
    const n = this.size;
    const over = (a: number, al: number, b: number, bl: number) => a < b + bl && b < a + al;
    if (over(this.used, 6 + 8 * n, this.desc, 16 * n) || over(this.used, 6 + 8 * n, this.avail, 6 + 2 * n))
      return VQ_RING_OVERLAP;
    this.ringsOverlapWarning = over(this.desc, 16 * n, this.avail, 6 + 2 * n);
    return VQ_OK;
  }

  pending(): number {
    if (this.placement() !== VQ_OK) return 0;
    const idx = this.view.getUint16(this.avail + 2, true);
    const n = (idx - this.lastAvail) & 0xffff;
    if (n > this.size) {
      this.errorDescriptor = -1;
      this.errorDescNext = idx;
      return -1;
    }
    return n;
  }

  pop(): number {
    if (this.placement() !== VQ_OK) return -1;
    const head = this.view.getUint16(this.avail + 4 + 2 * (this.lastAvail % this.size), true);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    return head;
  }

  walk(head: number): number {
    const v = this.view;
    this.segCount = this.readableBytes = this.writableBytes = 0;
    this.errorIndirect = false;
    this.errorDescAddr = this.errorDescLen = this.errorDescFlags = this.errorDescNext = 0;
    const p = this.placement();
    if (p !== VQ_OK) {
      this.errorDescriptor = -1;
      return p;
    }
    head >>>= 0;
    this.errorDescriptor = head | 0;
    if (head >= this.size) return VQ_HEAD_OUT_OF_RANGE;
    if (this.inFlight.has(head)) {
      this.duplicate.add(head);
      return VQ_HEAD_IN_FLIGHT;
    }
    this.inFlight.add(head);
    let table = this.desc;
    let max = this.size;
    let i = head;
    let count = 0;
    let inIndirect = false;
    let seenWrite = false;
    let total = 0;
    for (;;) {
      const at = table + 16 * i;
      const addr = v.getUint32(at, true);
      const addrHi = v.getUint32(at + 4, true);
      const len = v.getUint32(at + 8, true);
      const flags = v.getUint16(at + 12, true);
      const next = v.getUint16(at + 14, true);
      this.errorDescriptor = i;
      this.errorIndirect = inIndirect;
      this.errorDescAddr = addr;
      this.errorDescLen = len;
      this.errorDescFlags = flags;
      this.errorDescNext = next;
      if (++count > max) return VQ_LOOP;
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.indirect) return VQ_INDIRECT_NOT_NEGOTIATED;
        if (inIndirect) return VQ_NESTED_INDIRECT;
        if (flags & VIRTQ_DESC_F_NEXT) return VQ_INDIRECT_WITH_NEXT;
        if (len === 0 || len % 16 !== 0) return VQ_INDIRECT_BAD_LENGTH;
        if (!this.inRam(addrHi, addr, len)) return VQ_INDIRECT_OUTSIDE_RAM;
        table = addr;
        max = len / 16;
        i = 0;
        count = 0;
        inIndirect = true;
        continue;
      }
      if (len === 0) return VQ_ZERO_LENGTH;
      if (!this.inRam(addrHi, addr, len)) return VQ_BUFFER_OUTSIDE_RAM;
      const write = (flags & VIRTQ_DESC_F_WRITE) !== 0;
      if (!write && seenWrite) return VQ_READ_AFTER_WRITE;
      seenWrite ||= write;
      total += len;
      if (total > 0xffffffff) return VQ_CHAIN_TOO_LONG;
      const s = this.segCount;
      if (s >= VIRTQ_MAX_SEGMENTS) return VQ_TOO_MANY_SEGMENTS;
      this.segAddr[s] = addr;
      this.segLen[s] = len;
      this.segWrite[s] = write ? 1 : 0;
      this.segCount = s + 1;
      if (write) this.writableBytes += len;
      else this.readableBytes += len;
      if (!(flags & VIRTQ_DESC_F_NEXT)) return VQ_OK;
      if (next >= max) return VQ_NEXT_OUT_OF_RANGE;
      i = next;
    }
  }

  pushUsed(head: number, len: number): boolean {
    if (this.placement() !== VQ_OK) return false;
    if (this.duplicate.delete(head)) return false;
    const at = this.used + 4 + 8 * (this.usedIdx % this.size);
    this.view.setUint32(at, head, true);
    this.view.setUint32(at + 4, len >>> 0, true);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.unpublished.push(head);
    return true;
  }

  publish(): boolean {
    if (this.placement() !== VQ_OK) return false;
    const v = this.view;
    const n = this.size;
    v.setUint16(this.used + 2, this.usedIdx, true);
    if (this.eventIdx) v.setUint16(this.used + 4 + 8 * n, this.lastAvail, true);
    for (const h of this.unpublished.slice(-n)) this.inFlight.delete(h);
    this.unpublished = [];
    const old = this.signalledUsed;
    const now = this.usedIdx;
    this.signalledUsed = now;
    if (now === old) return false;
    if (this.eventIdx) {
      const usedEvent = v.getUint16(this.avail + 4 + 2 * n, true);
      return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
    }
    return (v.getUint16(this.avail, true) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }
}
