import { Core, type VirtqueueFunctions } from "../core/core.js";

/*
 * Split virtqueues (virtio 1.2, §2.7), device side. The ring work runs in the core
 * (assembly/virtio/queue.ts: placement checks, avail idx, chain walks including indirect tables,
 * in-flight heads, used elements, used.idx publication with EVENT_IDX / NO_INTERRUPT); this class
 * is its typed face for the transport and the devices. Every field below is a view of the queue's
 * slot in core memory (VQ_BASE + slot · VQ_SLOT_SIZE, assembly/layout.ts): the segments of the
 * last walk are read in place, with no copy. tests/helpers/split-queue-oracle.ts is the
 * TypeScript reference the fuzz test compares the core with.
 */

/** Descriptor flags (§2.7.5). */
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** avail.flags bit 0 (§2.7.7): the driver does not want interrupts (without EVENT_IDX). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** used.flags bit 0 (§2.7.10): the device does not want kicks (without EVENT_IDX). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;
/** Largest queue size this device offers (QEMU's VIRTQUEUE_MAX_SIZE; the spec allows 32768). */
export const VIRTQ_MAX_SIZE = 1024;
/** Most segments one chain may have (direct + indirect), as QEMU's VIRTQUEUE_MAX_SIZE. */
export const VIRTQ_MAX_SEGMENTS = 1024;

/** Walk/ring status codes (the same numbers in assembly/virtio/queue.ts). */
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
export const VQ_HEAD_IN_FLIGHT = 17;
export const VQ_RING_OVERLAP = 18;
export const VQ_BAD_SLOT = 19;

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
  [VQ_BUFFER_OUTSIDE_RAM]: {
    section: "2.7.5, 6.1",
    text: "buffer lies (partly) outside guest RAM (or under the firmware ROM)",
  },
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
  [VQ_HEAD_IN_FLIGHT]: {
    section: "2.7.13",
    text: "head offered again while still in flight (the device has not returned it in the used ring)",
  },
  [VQ_RING_OVERLAP]: {
    section: "2.7",
    text: "used ring overlaps the descriptor table or the available ring (each part is written by the driver or the device, not both)",
  },
  [VQ_BAD_SLOT]: { section: "", text: "no such virtqueue slot in the core" },
};

/** The slot's u32 fields (assembly/layout.ts). */
const SLOT_FIELDS = [
  "VQ_SIZE",
  "VQ_READY",
  "VQ_BROKEN",
  "VQ_EVENT_IDX",
  "VQ_INDIRECT",
  "VQ_DESC",
  "VQ_DESC_HI",
  "VQ_AVAIL",
  "VQ_AVAIL_HI",
  "VQ_USED",
  "VQ_USED_HI",
  "VQ_LAST_AVAIL",
  "VQ_USED_IDX",
  "VQ_SIGNALLED",
  "VQ_SEG_COUNT",
  "VQ_READABLE",
  "VQ_WRITABLE",
  "VQ_ERR_DESC",
  "VQ_ERR_INDIRECT",
  "VQ_ERR_ADDR",
  "VQ_ERR_LEN",
  "VQ_ERR_FLAGS",
  "VQ_ERR_NEXT",
  "VQ_WARNINGS",
] as const;

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
 * One split virtqueue over a core's guest RAM. The transport sets size/addresses/ready; the device
 * calls `pending`, `pop`, `walk`, `pushUsed` and `publish`.
 */
export class SplitQueue {
  /** The queue's slot in the core. */
  readonly slot: number;
  /** The last walk's validated segments (guest-physical address, length, 1 = device-writable). */
  readonly segAddr: Uint32Array;
  readonly segLen: Uint32Array;
  readonly segWrite: Uint8Array;
  private readonly w: Uint32Array;
  private readonly fn: VirtqueueFunctions;
  /** Word index in `w` of each slot field (read from the core's layout). */
  private readonly ix: Readonly<Record<(typeof SLOT_FIELDS)[number], number>>;

  constructor(
    /** Guest RAM: must be a core's `ram` (guest-physical p is ram[p]). */
    readonly ram: Uint8Array,
    readonly maxSize: number,
  ) {
    if (
      !Number.isInteger(maxSize) ||
      maxSize < 1 ||
      maxSize > VIRTQ_MAX_SIZE ||
      (maxSize & (maxSize - 1)) !== 0
    ) {
      throw new RangeError(`virtqueue: maximum size ${maxSize} is not a power of two ≤ ${VIRTQ_MAX_SIZE}`);
    }
    const core = Core.owning(ram);
    if (core === undefined)
      throw new TypeError(
        "virtqueue: guest RAM must be a core's `ram` (the rings are processed in the core)",
      );
    this.slot = core.allocVirtqueue();
    this.ix = Object.fromEntries(SLOT_FIELDS.map((f) => [f, core.at(f) >>> 2])) as SplitQueue["ix"];
    const base = core.at("VQ_BASE") + this.slot * core.at("VQ_SLOT_SIZE");
    const buffer = ram.buffer;
    this.w = new Uint32Array(buffer, base, core.at("VQ_SEG_ADDR") / 4);
    this.segAddr = new Uint32Array(buffer, base + core.at("VQ_SEG_ADDR"), VIRTQ_MAX_SEGMENTS);
    this.segLen = new Uint32Array(buffer, base + core.at("VQ_SEG_LEN"), VIRTQ_MAX_SEGMENTS);
    this.segWrite = new Uint8Array(buffer, base + core.at("VQ_SEG_WRITE"), VIRTQ_MAX_SEGMENTS);
    this.fn = core.vq;
    this.fn.vqReset(this.slot, maxSize);
  }

  /** Queue size the driver chose (a power of two ≤ maxSize); maxSize after reset. */
  get size(): number {
    return this.w[this.ix.VQ_SIZE]!;
  }
  set size(v: number) {
    this.w[this.ix.VQ_SIZE] = v;
  }
  get ready(): boolean {
    return this.w[this.ix.VQ_READY]! !== 0;
  }
  set ready(v: boolean) {
    this.w[this.ix.VQ_READY] = v ? 1 : 0;
  }
  /** Stopped after a ring error until reset (strict mode). */
  get broken(): boolean {
    return this.w[this.ix.VQ_BROKEN]! !== 0;
  }
  set broken(v: boolean) {
    this.w[this.ix.VQ_BROKEN] = v ? 1 : 0;
  }
  /** Negotiated features that change ring handling. */
  get eventIdx(): boolean {
    return this.w[this.ix.VQ_EVENT_IDX]! !== 0;
  }
  set eventIdx(v: boolean) {
    this.w[this.ix.VQ_EVENT_IDX] = v ? 1 : 0;
  }
  get indirect(): boolean {
    return this.w[this.ix.VQ_INDIRECT]! !== 0;
  }
  set indirect(v: boolean) {
    this.w[this.ix.VQ_INDIRECT] = v ? 1 : 0;
  }
  /** Guest-physical ring addresses, low and high 32 bits. */
  get desc(): number {
    return this.w[this.ix.VQ_DESC]!;
  }
  set desc(v: number) {
    this.w[this.ix.VQ_DESC] = v;
  }
  get descHi(): number {
    return this.w[this.ix.VQ_DESC_HI]!;
  }
  set descHi(v: number) {
    this.w[this.ix.VQ_DESC_HI] = v;
  }
  get avail(): number {
    return this.w[this.ix.VQ_AVAIL]!;
  }
  set avail(v: number) {
    this.w[this.ix.VQ_AVAIL] = v;
  }
  get availHi(): number {
    return this.w[this.ix.VQ_AVAIL_HI]!;
  }
  set availHi(v: number) {
    this.w[this.ix.VQ_AVAIL_HI] = v;
  }
  get used(): number {
    return this.w[this.ix.VQ_USED]!;
  }
  set used(v: number) {
    this.w[this.ix.VQ_USED] = v;
  }
  get usedHi(): number {
    return this.w[this.ix.VQ_USED_HI]!;
  }
  set usedHi(v: number) {
    this.w[this.ix.VQ_USED_HI] = v;
  }
  /** Next avail ring position the device will read (free-running u16). */
  get lastAvail(): number {
    return this.w[this.ix.VQ_LAST_AVAIL]!;
  }
  set lastAvail(v: number) {
    this.w[this.ix.VQ_LAST_AVAIL] = v & 0xffff;
  }
  /** Next used ring position the device will write (free-running u16, published by publish()). */
  get usedIdx(): number {
    return this.w[this.ix.VQ_USED_IDX]!;
  }
  set usedIdx(v: number) {
    this.w[this.ix.VQ_USED_IDX] = v & 0xffff;
  }
  /** used.idx at the last publish: the "old" of the EVENT_IDX test (§2.7.10). */
  get signalledUsed(): number {
    return this.w[this.ix.VQ_SIGNALLED]!;
  }
  set signalledUsed(v: number) {
    this.w[this.ix.VQ_SIGNALLED] = v & 0xffff;
  }

  /** Segments of the last walk, and their device-readable / device-writable byte totals. */
  get segCount(): number {
    return this.w[this.ix.VQ_SEG_COUNT]!;
  }
  get readableBytes(): number {
    return this.w[this.ix.VQ_READABLE]!;
  }
  get writableBytes(): number {
    return this.w[this.ix.VQ_WRITABLE]!;
  }
  /** Where the last error was: descriptor index (in the queue's table, or in the indirect table), -1 for none. */
  get errorDescriptor(): number {
    return this.w[this.ix.VQ_ERR_DESC]! | 0;
  }
  set errorDescriptor(v: number) {
    this.w[this.ix.VQ_ERR_DESC] = v;
  }
  get errorIndirect(): boolean {
    return this.w[this.ix.VQ_ERR_INDIRECT]! !== 0;
  }
  /** The offending descriptor's fields (for VQ_AVAIL_IDX_JUMP, errorDescNext is the avail idx read). */
  get errorDescAddr(): number {
    return this.w[this.ix.VQ_ERR_ADDR]!;
  }
  get errorDescLen(): number {
    return this.w[this.ix.VQ_ERR_LEN]!;
  }
  get errorDescFlags(): number {
    return this.w[this.ix.VQ_ERR_FLAGS]!;
  }
  get errorDescNext(): number {
    return this.w[this.ix.VQ_ERR_NEXT]!;
  }
  /** The last checkRings found the descriptor table and the available ring overlapping (§2.7). */
  get ringsOverlapWarning(): boolean {
    return (this.w[this.ix.VQ_WARNINGS]! & 1) !== 0;
  }

  /** Back to the reset state (§2.4): size = max, not ready, addresses 0, indexes 0, nothing in flight. */
  reset(): void {
    this.fn.vqReset(this.slot, this.maxSize);
  }

  /** Check the rings' alignment, placement inside guest RAM and overlap (§2.7.1, §2.7). */
  checkRings(): number {
    return this.fn.vqCheckRings(this.slot);
  }

  /**
   * How many heads wait in the available ring, or -1 if avail.idx jumped more than the queue size
   * past lastAvail (VQ_AVAIL_IDX_JUMP; errorDescNext holds the idx read).
   */
  pending(): number {
    return this.fn.vqPending(this.slot);
  }

  /** Take the next head index from the available ring (call only when pending() > 0). */
  pop(): number {
    return this.fn.vqPop(this.slot);
  }

  /** Walk the chain starting at `head` into the segment views. Returns a VQ_* status. */
  walk(head: number): number {
    return this.fn.vqWalk(this.slot, head >>> 0);
  }

  /**
   * Write a used element (head, bytes written) at usedIdx; not visible until publish(). Dropped
   * (returns false) for the push that answers a chain refused as VQ_HEAD_IN_FLIGHT.
   */
  pushUsed(head: number, len: number): boolean {
    return this.fn.vqPushUsed(this.slot, head >>> 0, len >>> 0) !== 0;
  }

  /**
   * Publish used.idx (§2.7.8.2), write avail_event with EVENT_IDX (§2.7.10), and say whether the
   * driver wants an interrupt (used_event with EVENT_IDX, else NO_INTERRUPT, §2.7.7).
   */
  publish(): boolean {
    return this.fn.vqPublish(this.slot) !== 0;
  }

  saveState(): SplitQueueState {
    return {
      size: this.size,
      ready: this.ready,
      desc: this.desc,
      descHi: this.descHi,
      avail: this.avail,
      availHi: this.availHi,
      used: this.used,
      usedHi: this.usedHi,
      lastAvail: this.lastAvail,
      usedIdx: this.usedIdx,
      signalledUsed: this.signalledUsed,
      broken: this.broken,
    };
  }

  /** Restore a saved state (the in-flight set starts empty). */
  loadState(s: SplitQueueState): void {
    this.reset();
    const size = s.size >>> 0;
    this.size = size >= 1 && size <= this.maxSize && (size & (size - 1)) === 0 ? size : this.maxSize;
    this.ready = Boolean(s.ready);
    this.desc = s.desc;
    this.descHi = s.descHi;
    this.avail = s.avail;
    this.availHi = s.availHi;
    this.used = s.used;
    this.usedHi = s.usedHi;
    this.lastAvail = s.lastAvail;
    this.usedIdx = s.usedIdx;
    this.signalledUsed = s.signalledUsed;
    this.broken = Boolean(s.broken);
  }
}
