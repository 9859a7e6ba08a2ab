// virtio-blk fault injection: each rule against hand-built rings over a MemoryDisk, guest time from
// a ManualClock, and the rules' text form as the CLI takes it (--drive ...,fault=RULE).
import { describe, expect, it } from "vitest";
import { parseDrive, UsageError } from "../src/cli/args.js";
import { ManualClock } from "../src/clock.js";
import {
  parseFaultRule,
  VirtioBlk,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  type BlkFaultEvent,
} from "../src/virtio/blk.js";
import { MemoryDisk } from "../src/disk/memory-disk.js";
import { BUF, freshRam, setupBlk } from "./helpers/virtio-blk-driver.js";

const AVAIL = 0x2000;

describe("fault rules", () => {
  it("read-error fails reads touching the sectors with IOERR and moves no data; other I/O goes on", () => {
    const events: BlkFaultEvent[] = [];
    const t = setupBlk({ faults: [parseFaultRule("read-error:10-11")], onFault: (e) => events.push(e) });
    t.ram.fill(0xee, BUF, BUF + 0x3000);
    const hit = t.request(VIRTIO_BLK_T_IN, 8, 2048, BUF); // sectors 8-11
    const miss = t.request(VIRTIO_BLK_T_IN, 12, 512, BUF + 0x1000);
    t.ram.fill(0x5a, BUF + 0x2000, BUF + 0x2200);
    const write = t.request(VIRTIO_BLK_T_OUT, 10, 512, BUF + 0x2000);
    t.kick();
    expect([hit, miss, write].map((r) => t.ram[r.status])).toEqual([
      VIRTIO_BLK_S_IOERR,
      VIRTIO_BLK_S_OK,
      VIRTIO_BLK_S_OK,
    ]);
    expect(t.ram.subarray(BUF, BUF + 2048).every((b) => b === 0xee)).toBe(true);
    expect(t.used(0).len).toBe(1);
    expect(t.disk.bytes.subarray(10 * 512, 11 * 512).every((b) => b === 0x5a)).toBe(true);
    expect(events).toEqual([
      {
        device: "virtio-blk",
        request: 1,
        rule: "read-error:10-11",
        message: "request 1: IN request at head 0 (sectors 8-11) fails with IOERR",
      },
    ]);
    expect(t.dev.blkCounters).toMatchObject({ faults: 1, errors: 1, reads: 1, writes: 1 });
    expect(t.dev.diagnostics).toEqual([]); // a fault is not a driver mistake
  });

  it("write-error fails OUT and WRITE_ZEROES on the sectors, leaving the disk as it was", () => {
    const t = setupBlk({ faults: [parseFaultRule("write-error:5")] });
    const before = t.disk.bytes.slice();
    const out = t.request(VIRTIO_BLK_T_OUT, 4, 1024, BUF);
    const wz = t.request(VIRTIO_BLK_T_WRITE_ZEROES, 0, t.ranges(BUF + 0x1000, [[0, 8, 0]]), BUF + 0x1000);
    const read = t.request(VIRTIO_BLK_T_IN, 5, 512, BUF + 0x2000);
    t.kick();
    expect([out, wz, read].map((r) => t.ram[r.status])).toEqual([
      VIRTIO_BLK_S_IOERR,
      VIRTIO_BLK_S_IOERR,
      VIRTIO_BLK_S_OK,
    ]);
    expect(t.disk.bytes).toEqual(before);
    expect(t.dev.blkCounters.faults).toBe(2);
  });

  it("delay holds completions back by guest time; the deadline wakes the device, then one publish", () => {
    const clock = new ManualClock(1_000);
    const events: string[] = [];
    const t = setupBlk({
      clock,
      faults: [parseFaultRule("delay:50us")],
      onFault: (e) => events.push(e.message),
    });
    const a = t.request(VIRTIO_BLK_T_IN, 0, 512, BUF);
    const b = t.request(VIRTIO_BLK_T_IN, 1, 512, BUF + 0x1000);
    t.kick();
    expect(t.ram[a.status]).toBe(VIRTIO_BLK_S_OK); // data and status already in RAM...
    expect(t.usedIdx()).toBe(0); // ...but not announced
    expect(t.dev.nextDeadline()).toBe(51_000);
    t.dev.advance(50_999);
    expect(t.usedIdx()).toBe(0);
    t.dev.advance(51_000);
    expect(t.usedIdx()).toBe(2);
    expect([t.used(0).id, t.used(1).id]).toEqual([a.head, b.head]);
    expect(t.used(0).len).toBe(513);
    expect(t.dev.counters).toMatchObject({ interrupts: 1, asyncCompletions: 2 });
    expect(t.dev.nextDeadline()).toBe(Infinity);
    expect(events).toEqual([
      "request 1: completes 50 µs of guest time later",
      "request 2: completes 50 µs of guest time later",
    ]);
  });

  it("delayed completions of a reset device are dropped and counted", () => {
    const clock = new ManualClock();
    const t = setupBlk({ clock, faults: [{ kind: "delay", microseconds: 10 }] });
    t.request(VIRTIO_BLK_T_IN, 0, 512, BUF);
    t.kick();
    t.w(0x14, 1, 0);
    t.dev.advance(20_000);
    expect(t.dev.counters.lateCompletions).toBe(1);
    expect(t.usedIdx()).toBe(0);
    expect(t.dev.counters.interrupts).toBe(0);
  });

  it("drop-irq:N suppresses only the interrupt announcing request N", () => {
    const events: BlkFaultEvent[] = [];
    const t = setupBlk({ faults: [parseFaultRule("drop-irq:2")], onFault: (e) => events.push(e) });
    const irqs: number[] = [];
    for (let k = 0; k < 3; k++) {
      t.v.setUint16(AVAIL + 4 + 2 * 16, k, true); // used_event: interrupt after this entry
      t.request(VIRTIO_BLK_T_IN, k, 512, BUF);
      t.kick();
      irqs.push(t.dev.counters.interrupts);
      t.isr();
    }
    expect(irqs).toEqual([1, 1, 2]);
    expect(t.usedIdx()).toBe(3); // request 2 still completed
    expect(t.dev.counters.suppressedInterrupts).toBe(1);
    expect(events.map((e) => [e.request, e.rule, e.message])).toEqual([
      [2, "drop-irq:2", "request 2: the interrupt announcing its completion was not raised"],
    ]);
  });

  it("needs a clock for delays, at most one delay, and well-formed rules (API)", () => {
    const disk = new MemoryDisk(4096);
    const ram = freshRam();
    expect(() => new VirtioBlk({ backend: disk, ram, faults: [{ kind: "delay", microseconds: 5 }] })).toThrow(
      /needs the machine clock/,
    );
    expect(
      () => new VirtioBlk({ backend: disk, ram, faults: [{ kind: "read-error", first: 9, last: 3 }] }),
    ).toThrow(/first sector 9 is after last sector 3/);
    expect(() => new VirtioBlk({ backend: disk, ram, faults: [{ kind: "drop-irq", request: 0 }] })).toThrow(
      /count from 1/,
    );
  });
});

describe("fault rule syntax", () => {
  it("parses every kind", () => {
    expect(parseFaultRule("read-error:100-199")).toEqual({ kind: "read-error", first: 100, last: 199 });
    expect(parseFaultRule("write-error:7")).toEqual({ kind: "write-error", first: 7, last: 7 });
    expect(parseFaultRule("delay:250")).toEqual({ kind: "delay", microseconds: 250 });
    expect(parseFaultRule("delay:3ms")).toEqual({ kind: "delay", microseconds: 3000 });
    expect(parseFaultRule("drop-irq:42")).toEqual({ kind: "drop-irq", request: 42 });
  });

  it("takes fault= in --drive, repeatable, and explains bad rules as usage errors", () => {
    expect(parseDrive("file=a.img,if=virtio,fault=read-error:1-2,fault=drop-irq:3").faults).toEqual([
      { kind: "read-error", first: 1, last: 2 },
      { kind: "drop-irq", request: 3 },
    ]);
    const bad: [string, RegExp][] = [
      ["fault=read-error:5-1", /first sector 5 is after last sector 1/],
      ["fault=read-error:x", /first sector "x" is not a non-negative integer/],
      ["fault=delay:0", /1 µs to 60 s/],
      ["fault=delay:5s", /want delay:N/],
      ["fault=drop-irq:0", /count from 1/],
      ["fault=explode:1", /unknown fault kind "explode".*read-error:A-B/],
      ["fault=delay:1,fault=delay:2", /at most one delay fault/],
    ];
    for (const [spec, why] of bad) {
      expect(() => parseDrive(`file=a.img,if=virtio,${spec}`), spec).toThrow(UsageError);
      expect(() => parseDrive(`file=a.img,if=virtio,${spec}`), spec).toThrow(why);
    }
  });
});
