// Asynchronous completions in the virtio-pci transport: a device answers REQUEST_PENDING and
// completes later, in any order (virtio 1.2 §2.7.14); completions between two host steps share one
// used.idx publish and at most one interrupt (§2.7.8.2, §2.7.10); a reset abandons requests in
// flight (§2.4) and late completions never reach the ring.
import { describe, expect, it } from "vitest";
import { REQUEST_PENDING, VirtioPciDevice } from "../src/virtio/pci.js";
import type { SplitQueue } from "../src/virtio/split-queue.js";
import { driveDevice, freshRam } from "./helpers/virtio-blk-driver.js";

/** A device that stamps its head number into the request's last writable byte and completes later. */
class LaterDevice extends VirtioPciDevice {
  protected readonly deviceConfig = new Uint8Array(4);
  readonly pending: { head: number; epoch: number }[] = [];

  constructor(ram: Uint8Array) {
    super({
      name: "later",
      deviceType: 2,
      classCode: 1,
      subclass: 0x80,
      ram,
      numQueues: 1,
      maxQueueSize: 16,
      deviceFeatures: { lo: 0, hi: 0 },
    });
  }

  protected handleRequest(q: SplitQueue, _qi: number, head: number): number {
    const s = q.segCount - 1;
    this.ram[q.segAddr[s]! + q.segLen[s]! - 1] = 0x40 + head; // the "data", in RAM before completion
    this.pending.push({ head, epoch: this.resetEpoch });
    return REQUEST_PENDING;
  }

  /** Complete the k-th request taken (in submission order). */
  finish(k: number): void {
    const p = this.pending[k]!;
    this.complete(0, p.head, 1, p.epoch);
  }
}

function setup() {
  const ram = freshRam();
  const dev = new LaterDevice(ram);
  return { ...driveDevice(ram, dev), dev };
}

describe("asynchronous completions", () => {
  it("completes out of order, publishing each host step's completions once with one interrupt", () => {
    const t = setup();
    const reqs = [0, 1, 2].map(() => t.request(0, 0, 0, 0));
    t.kick();
    expect(t.dev.counters).toMatchObject({ requests: 3, interrupts: 0 });
    expect(t.usedIdx()).toBe(0);
    t.dev.finish(2);
    t.dev.finish(0);
    expect(t.usedIdx()).toBe(0); // batched until the host step
    const publishes = t.dev.counters.publishes;
    t.dev.advance(0);
    expect(t.usedIdx()).toBe(2);
    expect([t.used(0), t.used(1)]).toEqual([
      { id: reqs[2]!.head, len: 1 },
      { id: reqs[0]!.head, len: 1 },
    ]);
    // The data each used entry announces was already in guest RAM.
    expect(t.ram[reqs[2]!.status]).toBe(0x40 + reqs[2]!.head);
    expect(t.dev.counters).toMatchObject({ interrupts: 1, asyncCompletions: 2, publishes: publishes + 1 });
    expect(t.isr()).toBe(1);
    t.dev.advance(1); // nothing new: no publish, no interrupt
    expect(t.dev.counters).toMatchObject({ interrupts: 1, publishes: publishes + 1 });
    t.v.setUint16(0x2000 + 4 + 2 * 16, 2, true); // used_event (EVENT_IDX): interrupt after entry 2
    t.dev.finish(1);
    t.dev.advance(2);
    expect(t.usedIdx()).toBe(3);
    expect(t.used(2).id).toBe(reqs[1]!.head);
    expect(t.dev.counters.interrupts).toBe(2);
    expect(t.dev.diagnostics).toEqual([]);
  });

  it("drops completions of requests abandoned by a reset, even when a new request reuses the head", () => {
    const t = setup();
    t.request(0, 0, 0, 0);
    t.request(0, 0, 0, 0);
    t.kick();
    t.dev.finish(0); // batched, not yet published
    t.w(0x14, 1, 0); // reset
    expect(t.dev.counters.lateCompletions).toBe(1);
    const again = driveDevice(t.ram, t.dev); // the driver starts over; head 0 is in flight anew
    again.request(0, 0, 0, 0);
    again.kick();
    t.dev.finish(1); // old epoch, head 1: not in flight
    t.dev.advance(0);
    expect(t.dev.counters.lateCompletions).toBe(2);
    expect(again.usedIdx()).toBe(0);
    t.dev.finish(2); // the new request at head 0
    t.dev.advance(1);
    expect(again.usedIdx()).toBe(1);
    expect(again.used(0)).toEqual({ id: 0, len: 1 });
  });

  it("reports a head made available again while it is in flight (VQ17) and stops the queue (strict)", () => {
    const t = setup();
    const r = t.request(0, 0, 0, 0);
    t.kick();
    t.v.setUint16(0x2000 + 4 + 2, r.head, true); // avail.ring[1] = the same head
    t.v.setUint16(0x2000 + 2, 2, true);
    t.kick();
    expect(t.dev.diagnostics.map((d) => [d.check, d.section, d.descriptor])).toEqual([
      ["VQ17", "2.7.13", r.head],
    ]);
    expect(t.r(0x14, 1) & 0x40).toBe(0x40);
    expect(t.dev.counters.requests).toBe(1);
  });
});
