// The split virtqueue processed in the core (assembly/virtio/queue.ts through
// src/virtio/split-queue.ts), driven by a test "driver" that writes descriptors and rings into the
// core's guest RAM the way a guest would (virtio 1.2 §2.7).
import { describe, expect, it } from "vitest";
import {
  SplitQueue,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VQ_BUFFER_OUTSIDE_RAM,
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
  VQ_ZERO_LENGTH,
} from "../src/virtio/split-queue.js";
import { idleCore, ramView } from "./helpers/core-ram.js";

const N = VIRTQ_DESC_F_NEXT;
const W = VIRTQ_DESC_F_WRITE;
const I = VIRTQ_DESC_F_INDIRECT;

// A core has a fixed number of queue slots: the tests share one core and one queue per size,
// clearing the RAM and resetting the queue for each new Driver.
const ram1M = (await idleCore(1 << 20)).ram;
const queues = new Map<number, SplitQueue>();
function queue(size: number): SplitQueue {
  let q = queues.get(size);
  if (q === undefined) queues.set(size, (q = new SplitQueue(ram1M, size)));
  q.reset();
  return q;
}

/** The guest side: writes descriptors and the avail ring, reads the used ring. */
class Driver {
  readonly ram: Uint8Array;
  readonly v: DataView;
  readonly q: SplitQueue;
  availIdx = 0;
  constructor(
    readonly size = 8,
    readonly desc = 0x1000,
    readonly avail = 0x2000,
    readonly used = 0x3000,
  ) {
    this.ram = ram1M.fill(0);
    this.v = ramView(this.ram);
    this.q = queue(size);
    Object.assign(this.q, { desc, avail, used, ready: true, indirect: true });
  }
  /** Write descriptor i of a table at `table` (default: the queue's). */
  d(i: number, addr: number, len: number, flags = 0, next = 0, table = this.desc, addrHi = 0): this {
    const at = table + 16 * i;
    this.v.setUint32(at, addr, true);
    this.v.setUint32(at + 4, addrHi, true);
    this.v.setUint32(at + 8, len, true);
    this.v.setUint16(at + 12, flags, true);
    this.v.setUint16(at + 14, next, true);
    return this;
  }
  offer(...heads: number[]): this {
    for (const h of heads) {
      this.v.setUint16(this.avail + 4 + 2 * (this.availIdx % this.size), h, true);
      this.availIdx = (this.availIdx + 1) & 0xffff;
    }
    this.v.setUint16(this.avail + 2, this.availIdx, true);
    return this;
  }
  set usedEvent(v: number) {
    this.v.setUint16(this.avail + 4 + 2 * this.size, v, true);
  }
  set availFlags(v: number) {
    this.v.setUint16(this.avail, v, true);
  }
  get usedIdx(): number {
    return this.v.getUint16(this.used + 2, true);
  }
  get availEvent(): number {
    return this.v.getUint16(this.used + 4 + 8 * this.size, true);
  }
  usedElem(i: number): [number, number] {
    const at = this.used + 4 + 8 * (i % this.size);
    return [this.v.getUint32(at, true), this.v.getUint32(at + 4, true)];
  }
  segments(): [number, number, number][] {
    const q = this.q;
    return Array.from({ length: q.segCount }, (_, s) => [q.segAddr[s]!, q.segLen[s]!, q.segWrite[s]!]);
  }
}

describe("split virtqueue walker", () => {
  it("walks a direct chain: readable, then writable segments", () => {
    const g = new Driver()
      .d(2, 0x10000, 16, N, 5)
      .d(5, 0x20000, 4096, N | W, 7)
      .d(7, 0x30000, 1, W);
    g.offer(2);
    expect(g.q.checkRings()).toBe(VQ_OK);
    expect(g.q.pending()).toBe(1);
    const head = g.q.pop();
    expect(head).toBe(2);
    expect(g.q.walk(head)).toBe(VQ_OK);
    expect(g.segments()).toEqual([
      [0x10000, 16, 0],
      [0x20000, 4096, 1],
      [0x30000, 1, 1],
    ]);
    expect([g.q.readableBytes, g.q.writableBytes]).toEqual([16, 4097]);
  });

  it("walks an indirect table (and ignores WRITE on the pointing descriptor, §2.7.5.3.2)", () => {
    const t = 0x8000;
    const g = new Driver().d(0, 0x100, 4, N, 1).d(1, t, 48, I | W);
    g.d(0, 0x10000, 16, N, 2, t)
      .d(2, 0x20000, 512, N | W, 1, t)
      .d(1, 0x30000, 1, W, 0, t);
    expect(g.q.walk(0)).toBe(VQ_OK);
    expect(g.segments()).toEqual([
      [0x100, 4, 0],
      [0x10000, 16, 0],
      [0x20000, 512, 1],
      [0x30000, 1, 1],
    ]);
    g.q.pushUsed(0, 1); // return head 0, so it may be walked again
    g.q.publish();
    g.q.indirect = false;
    expect(g.q.walk(0)).toBe(VQ_INDIRECT_NOT_NEGOTIATED);
    expect([g.q.errorDescriptor, g.q.errorIndirect]).toEqual([1, false]);
  });

  it("detects loops, direct and inside an indirect table", () => {
    const g = new Driver().d(0, 0x100, 1, N, 1).d(1, 0x200, 1, N, 0);
    expect(g.q.walk(0)).toBe(VQ_LOOP);
    const self = new Driver().d(3, 0x100, 1, N, 3);
    expect(self.q.walk(3)).toBe(VQ_LOOP);
    const t = 0x8000;
    const ind = new Driver().d(0, t, 32, I);
    ind.d(0, 0x100, 1, N, 1, t).d(1, 0x200, 1, N, 0, t);
    expect(ind.q.walk(0)).toBe(VQ_LOOP);
    expect(ind.q.errorIndirect).toBe(true);
  });

  it("refuses out-of-range head and next indexes", () => {
    const g = new Driver(8).d(0, 0x100, 1, N, 8);
    expect(g.q.walk(8)).toBe(VQ_HEAD_OUT_OF_RANGE);
    expect(g.q.walk(0)).toBe(VQ_NEXT_OUT_OF_RANGE);
    expect(g.q.errorDescNext).toBe(8);
    const t = 0x8000;
    const ind = new Driver().d(0, t, 32, I);
    ind.d(0, 0x100, 1, N, 2, t); // the table has 2 entries
    expect(ind.q.walk(0)).toBe(VQ_NEXT_OUT_OF_RANGE);
  });

  it("refuses buffers outside guest RAM, including high address bits and wrap-around", () => {
    const ram = 1 << 20;
    expect(new Driver().d(0, ram - 16, 17).q.walk(0)).toBe(VQ_BUFFER_OUTSIDE_RAM);
    expect(new Driver().d(0, ram - 16, 16).q.walk(0)).toBe(VQ_OK);
    expect(new Driver().d(0, 0x100, 16, 0, 0, 0x1000, 1).q.walk(0)).toBe(VQ_BUFFER_OUTSIDE_RAM);
    expect(new Driver().d(0, 0xfffffff0, 0x20).q.walk(0)).toBe(VQ_BUFFER_OUTSIDE_RAM);
    expect(new Driver().d(0, 0x100, 0xffffffff).q.walk(0)).toBe(VQ_BUFFER_OUTSIDE_RAM);
    expect(new Driver().d(0, 0x100, 0).q.walk(0)).toBe(VQ_ZERO_LENGTH);
  });

  it("checks indirect tables: NEXT, nesting, length, placement", () => {
    const t = 0x8000;
    expect(new Driver().d(0, t, 32, I | N, 1).q.walk(0)).toBe(VQ_INDIRECT_WITH_NEXT);
    expect(new Driver().d(0, t, 0, I).q.walk(0)).toBe(VQ_INDIRECT_BAD_LENGTH);
    expect(new Driver().d(0, t, 24, I).q.walk(0)).toBe(VQ_INDIRECT_BAD_LENGTH);
    expect(new Driver().d(0, (1 << 20) - 16, 32, I).q.walk(0)).toBe(VQ_INDIRECT_OUTSIDE_RAM);
    const nested = new Driver().d(0, t, 32, I);
    nested.d(0, 0x9000, 16, I, 0, t);
    expect(nested.q.walk(0)).toBe(VQ_NESTED_INDIRECT);
  });

  it("refuses a readable descriptor after a writable one (§2.7.4.2)", () => {
    const g = new Driver().d(0, 0x100, 1, N | W, 1).d(1, 0x200, 1);
    expect(g.q.walk(0)).toBe(VQ_READ_AFTER_WRITE);
    expect(g.q.errorDescriptor).toBe(1);
  });

  it("checks ring alignment and placement", () => {
    const g = new Driver();
    g.q.avail = 0x2001;
    expect(g.q.checkRings()).toBe(VQ_RING_MISALIGNED);
    g.q.avail = 0x2000;
    g.q.used = (1 << 20) - 8;
    expect(g.q.checkRings()).toBe(VQ_RING_OUTSIDE_RAM);
    g.q.used = 0x3000;
    g.q.descHi = 1;
    expect(g.q.checkRings()).toBe(VQ_RING_OUTSIDE_RAM);
  });

  it("follows avail.idx and used.idx across the 16-bit wrap", () => {
    const g = new Driver(4);
    for (let i = 0; i < 4; i++) g.d(i, 0x10000 + i * 0x100, 8, W);
    g.availIdx = 0xfffe;
    g.q.lastAvail = 0xfffe;
    g.q.usedIdx = g.q.signalledUsed = 0xfffe;
    g.offer(3, 1, 0, 2);
    expect(g.availIdx).toBe(2);
    expect(g.q.pending()).toBe(4);
    const heads: number[] = [];
    for (let k = 0; k < 4; k++) {
      const h = g.q.pop();
      heads.push(h);
      expect(g.q.walk(h)).toBe(VQ_OK);
      g.q.pushUsed(h, 8);
    }
    expect(heads).toEqual([3, 1, 0, 2]);
    expect(g.q.pending()).toBe(0);
    expect(g.q.publish()).toBe(true);
    expect(g.usedIdx).toBe(2);
    expect([0xfffe, 0xffff, 0, 1].map((i) => g.usedElem(i)[0])).toEqual([3, 1, 0, 2]);
  });

  it("reports an avail.idx that jumps more than the queue size", () => {
    const g = new Driver(4);
    g.v.setUint16(g.avail + 2, 5, true);
    expect(g.q.pending()).toBe(-1);
    g.v.setUint16(g.avail + 2, 4, true);
    expect(g.q.pending()).toBe(4);
  });

  it("EVENT_IDX: interrupts only when used_event is crossed, and writes avail_event", () => {
    const g = new Driver(8);
    g.q.eventIdx = true;
    for (let i = 0; i < 8; i++) g.d(i, 0x10000, 8, W);
    const complete = (n: number): boolean => {
      for (let k = 0; k < n; k++) g.q.pushUsed(g.q.pop(), 8);
      return g.q.publish();
    };
    g.usedEvent = 2; // "interrupt me when used.idx passes 2"
    g.offer(0, 1);
    expect(complete(2)).toBe(false); // used.idx 0 -> 2: entry 2 not written yet
    expect(g.availEvent).toBe(2);
    g.offer(2);
    expect(complete(1)).toBe(true); // 2 -> 3 writes entry 2
    g.offer(3, 4, 5);
    expect(complete(3)).toBe(false); // 3 -> 6, used_event still 2
    g.usedEvent = 4;
    g.offer(6);
    expect(complete(1)).toBe(false); // 6 -> 7 does not cross 4 (already passed)
    g.usedEvent = 7;
    g.offer(7, 0);
    expect(complete(2)).toBe(true); // 7 -> 9 crosses 7
    expect(g.q.publish()).toBe(false); // nothing new: no interrupt
    expect(g.availEvent).toBe(9);
  });

  it("without EVENT_IDX, honours avail.flags NO_INTERRUPT", () => {
    const g = new Driver(8).d(0, 0x10000, 8, W);
    g.offer(0);
    g.q.pushUsed(g.q.pop(), 8);
    g.availFlags = VIRTQ_AVAIL_F_NO_INTERRUPT;
    expect(g.q.publish()).toBe(false);
    g.availFlags = 0;
    g.offer(0);
    g.q.pushUsed(g.q.pop(), 8);
    expect(g.q.publish()).toBe(true);
  });

  it("keeps the segments in core memory: the device reads them in place", () => {
    const g = new Driver().d(0, 0x10000, 16, N, 1).d(1, 0x20000, 8, W);
    expect(g.q.walk(0)).toBe(VQ_OK);
    expect(g.q.segAddr.buffer).toBe(g.ram.buffer);
    expect(g.q.segLen.buffer).toBe(g.ram.buffer);
    expect(g.q.segWrite.buffer).toBe(g.ram.buffer);
    expect(g.segments()).toEqual([
      [0x10000, 16, 0],
      [0x20000, 8, 1],
    ]);
  });

  it("refuses a head offered again while in flight, and drops the answer to the duplicate", () => {
    const g = new Driver(8).d(3, 0x10000, 8, W).d(4, 0x10100, 8, W);
    g.offer(3, 3, 4);
    expect(g.q.pending()).toBe(3);
    expect(g.q.walk(g.q.pop())).toBe(VQ_OK);
    g.q.pushUsed(3, 8); // written, but not published: the driver does not own head 3 yet
    expect(g.q.walk(g.q.pop())).toBe(VQ_HEAD_IN_FLIGHT);
    expect(g.q.errorDescriptor).toBe(3);
    expect(g.q.pushUsed(3, 0)).toBe(false); // the duplicate's (lenient) return is dropped
    expect(g.q.walk(g.q.pop())).toBe(VQ_OK);
    expect(g.q.pushUsed(4, 8)).toBe(true);
    g.q.publish();
    expect(g.usedIdx).toBe(2);
    expect([g.usedElem(0), g.usedElem(1)]).toEqual([
      [3, 8],
      [4, 8],
    ]);
    // Published: head 3 is the driver's again and may be offered once more.
    g.offer(3);
    expect(g.q.walk(g.q.pop())).toBe(VQ_OK);
    // A head completed later (asynchronously) stays in flight across kicks until published.
    g.offer(3);
    expect(g.q.walk(g.q.pop())).toBe(VQ_HEAD_IN_FLIGHT);
  });

  it("refuses a used ring overlapping the driver's parts, warns about desc/avail overlap (§2.7)", () => {
    const g = new Driver(8); // desc 0x1000 (128 bytes), avail 0x2000 (22), used 0x3000 (70)
    g.q.used = 0x1040;
    expect(g.q.checkRings()).toBe(VQ_RING_OVERLAP);
    g.q.used = 0x2014; // avail ends at 0x2016
    expect(g.q.checkRings()).toBe(VQ_RING_OVERLAP);
    g.q.used = 0x2018;
    expect(g.q.checkRings()).toBe(VQ_OK);
    expect(g.q.ringsOverlapWarning).toBe(false);
    g.q.avail = 0x1070;
    expect(g.q.checkRings()).toBe(VQ_OK);
    expect(g.q.ringsOverlapWarning).toBe(true);
  });

  it("treats RAM under the firmware ROM's window below 1 MiB as outside RAM", async () => {
    const core = await idleCore(2 << 20, 64 * 1024); // the ROM shows at [0xF0000, 0x100000)
    const q = new SplitQueue(core.ram, 8);
    const v = ramView(core.ram);
    Object.assign(q, { desc: 0x1000, avail: 0x2000, used: 0x3000, ready: true });
    /** Walk a one-descriptor chain at head 0, then return head 0 so it can be walked again. */
    const walk = (addr: number, len: number): number => {
      v.setUint32(0x1000, addr, true);
      v.setUint32(0x1008, len, true);
      const st = q.walk(0);
      q.pushUsed(0, 0);
      q.publish();
      return st;
    };
    expect(walk(0xeff00, 0x100)).toBe(VQ_OK);
    expect(walk(0xeff00, 0x101)).toBe(VQ_BUFFER_OUTSIDE_RAM);
    expect(walk(0xfffff, 1)).toBe(VQ_BUFFER_OUTSIDE_RAM);
    expect(walk(0x100000, 0x1000)).toBe(VQ_OK);
    q.used = 0xf8000;
    expect(q.checkRings()).toBe(VQ_RING_OUTSIDE_RAM);
  });
});
