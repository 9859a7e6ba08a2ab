/*
 * Split virtqueues (virtio 1.2, §2.7), device side: the reference walker in TypeScript. The same
 * algorithm, with the same status codes, is in assembly/virtio/queue.ts for the core; this one is
 * what the devices use until the core exports it, and the oracle the tests compare against.
 *
 * Layout (§2.7, all little-endian), N = queue size:
 *   descriptor table  16·N bytes, align 16: { le64 addr; le32 len; le16 flags; le16 next }
 *   available ring    6 + 2·N, align 2:     { le16 flags; le16 idx; le16 ring[N]; le16 used_event }
 *   used ring         6 + 8·N, align 4:     { le16 flags; le16 idx; {le32 id; le32 len} ring[N]; le16 avail_event }
 *
 * Everything the guest supplies is checked before it is used: ring placement against guest RAM
 * (checkRings), avail.idx against the queue size (§2.7 "at most N buffers"), each head and next
 * index against the table it indexes (§2.7.5), chain length against the table size (loops,
 * §2.7.5.2 / §2.7.5.3.1), indirect tables (§2.7.5.3: negotiated, not nested, not with NEXT, length a
 * non-zero multiple of 16, inside RAM), every buffer inside guest RAM (no wrap, high 32 address
 * bits 0 on this 32-bit machine), device-readable before device-writable (§2.7.4.2), and the byte
 * total below 2^32 (§2.7.5.2). Each descriptor is read exactly once per walk, so a driver rewriting
 * descriptors concurrently cannot make the device act on values it did not validate.
 *
 * The walk leaves the validated segments in fixed scratch arrays (no allocation per request) and
 * returns a status code; on an error, errorDescriptor/errorIndirect/errorDesc* say where.
 */

/** Descriptor flags (§2.7.5). */
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** avail.flags bit 0 (§2.7.7): the driver does not want interrupts (without EVENT_IDX). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** used.flags bit 0 (§2.7.10): the device does not want kicks (without EVENT_IDX). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;
/** Largest split queue size (§2.7: "Queue Size ... maximum 32768"). */
export const VIRTQ_MAX_SIZE = 32768;
/** Most segments one chain may have (direct + indirect), as QEMU's VIRTQUEUE_MAX_SIZE. */
export const VIRTQ_MAX_SEGMENTS = 1024;

/** Walk/ring status codes (shared with assembly/virtio/queue.ts). */
export const VQ_OK = 0;
export const VQ_HEAD_OUT_OF_RANGE = 1;
export const VQ_NEXT_OUT_OF_RANGE = 2;
export const VQ_LOOP = 3;
export const VQ_BUFFER_OUTSIDE_RAM = 4;
export const VQ_ZERO_LENGTH = 5;
export const VQ_READ_AFTER_WRITE = 6;
export const VQ_INDIRECT_NOT_NEGOTIATED = 7;
export const VQ_INDIRECT_WITH_NEXT = 8;
export const VQ_NESTED_INDIRECT = 9;
export const VQ_INDIRECT_BAD_LENGTH = 10;
export const VQ_INDIRECT_OUTSIDE_RAM = 11;
export const VQ_TOO_MANY_SEGMENTS = 12;
export const VQ_CHAIN_TOO_LONG = 13;
export const VQ_AVAIL_IDX_JUMP = 14;
export const VQ_RING_MISALIGNED = 15;
export const VQ_RING_OUTSIDE_RAM = 16;

/** What each status means and the spec section it breaks (for diagnostics). */
export const VQ_STATUS_TEXT: Readonly<Record<number, { section: string; text: string }>> = {
  [VQ_OK]: { section: "", text: "ok" },
  [VQ_HEAD_OUT_OF_RANGE]: {
    section: "2.7.6",
    text: "available ring entry names a head descriptor index ≥ queue size",
  },
  [VQ_NEXT_OUT_OF_RANGE]: { section: "2.7.5", text: "descriptor's next index is outside its table" },
  [VQ_LOOP]: {
    section: "2.7.5.2",
    text: "descriptor chain is longer than its table (a loop): a chain visits each descriptor at most once",
  },
  [VQ_BUFFER_OUTSIDE_RAM]: { section: "2.7.5, 6.1", text: "buffer lies (partly) outside guest RAM" },
  [VQ_ZERO_LENGTH]: { section: "2.7.5", text: "zero-length buffer descriptor (QEMU also refuses these)" },
  [VQ_READ_AFTER_WRITE]: {
    section: "2.7.4.2",
    text: "device-readable descriptor after a device-writable one",
  },
  [VQ_INDIRECT_NOT_NEGOTIATED]: {
    section: "2.7.5.3.1",
    text: "VIRTQ_DESC_F_INDIRECT used but VIRTIO_F_INDIRECT_DESC was not negotiated",
  },
  [VQ_INDIRECT_WITH_NEXT]: { section: "2.7.5.3.1", text: "descriptor has both INDIRECT and NEXT" },
  [VQ_NESTED_INDIRECT]: { section: "2.7.5.3.1", text: "indirect descriptor inside an indirect table" },
  [VQ_INDIRECT_BAD_LENGTH]: {
    section: "2.7.5.3",
    text: "indirect table length is 0 or not a multiple of 16",
  },
  [VQ_INDIRECT_OUTSIDE_RAM]: { section: "2.7.5.3, 6.1", text: "indirect table lies outside guest RAM" },
  [VQ_TOO_MANY_SEGMENTS]: { section: "2.7.5", text: `chain has more than ${VIRTQ_MAX_SEGMENTS} buffers` },
  [VQ_CHAIN_TOO_LONG]: { section: "2.7.5.2", text: "chain's total length exceeds 2^32 bytes" },
  [VQ_AVAIL_IDX_JUMP]: {
    section: "2.7.6",
    text: "avail.idx moved more than the queue size past the device's last seen index",
  },
  [VQ_RING_MISALIGNED]: {
    section: "2.7.1",
    text: "ring misaligned (descriptors 16, available ring 2, used ring 4 bytes)",
  },
  [VQ_RING_OUTSIDE_RAM]: { section: "2.7, 6.1", text: "ring lies (partly) outside guest RAM" },
};

/** Plain state of a split queue (saveState/loadState). */
export interface SplitQueueState {
  size: number;
  ready: boolean;
  desc: number;
  descHi: number;
  avail: number;
  availHi: number;
  used: number;
  usedHi: number;
  lastAvail: number;
  usedIdx: number;
  signalledUsed: number;
  broken: boolean;
}

/**
 * One split virtqueue over guest RAM. The transport sets size/addresses/ready; the device calls
 * `pending`, `pop`, `walk`, `pushUsed` and `publish`.
 */
export class SplitQueue {
  /** Queue size the driver chose (a power of two ≤ maxSize); maxSize after reset. */
  size: number;
  ready = false;
  /** Guest-physical ring addresses, low and high 32 bits. */
  desc = 0;
  descHi = 0;
  avail = 0;
  availHi = 0;
  used = 0;
  usedHi = 0;
  /** Next avail ring position the device will read (free-running u16). */
  lastAvail = 0;
  /** Next used ring position the device will write (free-running u16, published by publish()). */
  usedIdx = 0;
  /** used.idx at the last publish: the "old" of the EVENT_IDX test (§2.7.10). */
  signalledUsed = 0;
  /** Stopped after a ring error until reset (strict mode). */
  broken = false;
  /** Negotiated features that change ring handling. */
  eventIdx = false;
  indirect = false;

  // ---- scratch: the validated segments of the last walk ----
  readonly segAddr = new Uint32Array(VIRTQ_MAX_SEGMENTS);
  readonly segLen = new Uint32Array(VIRTQ_MAX_SEGMENTS);
  /** 1 = device-writable. */
  readonly segWrite = new Uint8Array(VIRTQ_MAX_SEGMENTS);
  segCount = 0;
  /** Bytes in device-readable / device-writable segments of the last walk. */
  readableBytes = 0;
  writableBytes = 0;
  /** Where the last error was: descriptor index (in the queue's table, or in the indirect table). */
  errorDescriptor = -1;
  errorIndirect = false;
  /** The offending descriptor's fields (or the head / avail idx for ring errors). */
  errorDescAddr = 0;
  errorDescLen = 0;
  errorDescFlags = 0;
  errorDescNext = 0;

  private readonly view: DataView;

  constructor(
    /** Guest RAM: guest-physical p is ram[p]. */
    readonly ram: Uint8Array,
    readonly maxSize: number,
  ) {
    if (
      !Number.isInteger(maxSize) ||
      maxSize < 1 ||
      maxSize > VIRTQ_MAX_SIZE ||
      (maxSize & (maxSize - 1)) !== 0
    ) {
      throw new RangeError(`virtqueue: maximum size ${maxSize} is not a power of two ≤ 32768`);
    }
    this.size = maxSize;
    this.view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  }

  /** Back to the reset state (§2.4): size = max, not ready, addresses 0, indexes 0. */
  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.desc = this.descHi = this.avail = this.availHi = this.used = this.usedHi = 0;
    this.lastAvail = this.usedIdx = this.signalledUsed = 0;
    this.broken = false;
    this.eventIdx = this.indirect = false;
  }

  /** Check the three rings' alignment and placement inside guest RAM (§2.7.1, §2.7). */
  checkRings(): number {
    const n = this.size;
    if (this.desc % 16 !== 0 || this.avail % 2 !== 0 || this.used % 4 !== 0) return VQ_RING_MISALIGNED;
    if (
      !this.inRam(this.descHi, this.desc, 16 * n) ||
      !this.inRam(this.availHi, this.avail, 6 + 2 * n) ||
      !this.inRam(this.usedHi, this.used, 6 + 8 * n)
    ) {
      return VQ_RING_OUTSIDE_RAM;
    }
    return VQ_OK;
  }

  private inRam(hi: number, addr: number, len: number): boolean {
    return hi === 0 && addr + len <= this.ram.length;
  }

  /** The driver's avail.idx. */
  availIdx(): number {
    return this.view.getUint16(this.avail + 2, true);
  }

  /**
   * How many heads wait in the available ring, or -1 if avail.idx jumped more than the queue size
   * past lastAvail (VQ_AVAIL_IDX_JUMP; errorDescNext holds the idx read).
   */
  pending(): number {
    const idx = this.availIdx();
    const n = (idx - this.lastAvail) & 0xffff;
    if (n > this.size) {
      this.errorDescriptor = -1;
      this.errorDescNext = idx;
      return -1;
    }
    return n;
  }

  /** Take the next head index from the available ring (call only when pending() > 0). */
  pop(): number {
    const head = this.view.getUint16(this.avail + 4 + 2 * (this.lastAvail % this.size), true);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    return head;
  }

  /** Walk the chain starting at `head`; fills the scratch segments. Returns a VQ_* status. */
  walk(head: number): number {
    const v = this.view;
    const ramSize = this.ram.length;
    this.segCount = 0;
    this.readableBytes = 0;
    this.writableBytes = 0;
    this.errorIndirect = false;
    this.errorDescriptor = head;
    this.errorDescAddr = this.errorDescLen = this.errorDescFlags = this.errorDescNext = 0;
    if (head >= this.size) return VQ_HEAD_OUT_OF_RANGE;
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
        if (addrHi !== 0 || addr + len > ramSize) return VQ_INDIRECT_OUTSIDE_RAM;
        // §2.7.5.3.2: the device ignores WRITE on the descriptor that points to the table.
        table = addr;
        max = len / 16;
        i = 0;
        count = 0;
        inIndirect = true;
        continue;
      }
      if (len === 0) return VQ_ZERO_LENGTH;
      if (addrHi !== 0 || addr + len > ramSize) return VQ_BUFFER_OUTSIDE_RAM;
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

  /** Write a used element (head, bytes written) at usedIdx; not visible until publish(). */
  pushUsed(head: number, len: number): void {
    const at = this.used + 4 + 8 * (this.usedIdx % this.size);
    this.view.setUint32(at, head, true);
    this.view.setUint32(at + 4, len >>> 0, true);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
  }

  /**
   * Publish used.idx after the used elements (§2.7.8.2), write avail_event = lastAvail with
   * EVENT_IDX (ask for a kick on the next buffer, §2.7.10), and decide whether the driver wants an
   * interrupt: with EVENT_IDX iff used_event lies in (old, new] (vring_need_event, §2.7.10),
   * otherwise iff avail.flags has no NO_INTERRUPT (§2.7.7). Returns that decision; false when
   * nothing new was used since the last publish.
   */
  publish(): boolean {
    const v = this.view;
    const n = this.size;
    v.setUint16(this.used + 2, this.usedIdx, true);
    if (this.eventIdx) v.setUint16(this.used + 4 + 8 * n, this.lastAvail, true);
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

  saveState(): SplitQueueState {
    const {
      size,
      ready,
      desc,
      descHi,
      avail,
      availHi,
      used,
      usedHi,
      lastAvail,
      usedIdx,
      signalledUsed,
      broken,
    } = this;
    return {
      size,
      ready,
      desc,
      descHi,
      avail,
      availHi,
      used,
      usedHi,
      lastAvail,
      usedIdx,
      signalledUsed,
      broken,
    };
  }

  loadState(s: SplitQueueState): void {
    const size = s.size >>> 0;
    this.size = size >= 1 && size <= this.maxSize && (size & (size - 1)) === 0 ? size : this.maxSize;
    this.ready = Boolean(s.ready);
    this.desc = s.desc >>> 0;
    this.descHi = s.descHi >>> 0;
    this.avail = s.avail >>> 0;
    this.availHi = s.availHi >>> 0;
    this.used = s.used >>> 0;
    this.usedHi = s.usedHi >>> 0;
    this.lastAvail = s.lastAvail & 0xffff;
    this.usedIdx = s.usedIdx & 0xffff;
    this.signalledUsed = s.signalledUsed & 0xffff;
    this.broken = Boolean(s.broken);
  }
}
