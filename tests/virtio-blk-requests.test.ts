// virtio-blk DISCARD, WRITE_ZEROES, CONFIG_WCE and TOPOLOGY (virtio 1.2 §5.2.3-§5.2.6), driven
// through the modern transport's registers over a MemoryDisk, with the config layout and status
// rules taken from the spec (struct virtio_blk_config; §5.2.6.2 device requirements).
import { describe, expect, it } from "vitest";
import {
  VIRTIO_BLK_F_CONFIG_WCE,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_TOPOLOGY,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP as UNMAP,
} from "../src/virtio/blk.js";
import { MemoryDisk } from "../src/disk/memory-disk.js";
import { DEFAULT_RANGE_LIMITS, DEFAULT_TOPOLOGY, VirtioBlk } from "../src/virtio/blk.js";
import { BUF, freshRam, setupBlk } from "./helpers/virtio-blk-driver.js";

const CFG = 0x2000; // device config in BAR4
const sector = (n: number) => n * 512;

describe("virtio-blk config space (§5.2.4)", () => {
  it("offers TOPOLOGY, CONFIG_WCE, DISCARD, WRITE_ZEROES and lays their fields out as struct virtio_blk_config", () => {
    const t = setupBlk();
    t.w(0x00, 4, 0);
    const offered = t.r(0x04, 4);
    for (const bit of [
      VIRTIO_BLK_F_TOPOLOGY,
      VIRTIO_BLK_F_CONFIG_WCE,
      VIRTIO_BLK_F_DISCARD,
      VIRTIO_BLK_F_WRITE_ZEROES,
    ])
      expect(offered & (1 << bit), `feature ${bit}`).not.toBe(0);
    expect(t.r(CFG + 0, 4)).toBe(128); // capacity
    expect(t.r(CFG + 20, 4)).toBe(512); // blk_size
    expect([t.r(CFG + 24, 1), t.r(CFG + 25, 1), t.r(CFG + 26, 2), t.r(CFG + 28, 4)]).toEqual([3, 0, 8, 256]);
    expect(t.r(CFG + 32, 1)).toBe(1); // writeback after reset
    expect(t.r(CFG + 33, 1)).toBe(0); // unused0 MUST be 0
    expect([t.r(CFG + 36, 4), t.r(CFG + 40, 4), t.r(CFG + 44, 4)]).toEqual([8192, 32, 8]);
    expect([t.r(CFG + 48, 4), t.r(CFG + 52, 4), t.r(CFG + 56, 1)]).toEqual([8192, 32, 0]);
  });
});

describe("virtio-blk options", () => {
  it("refuses topology and range limits that do not fit their config fields", () => {
    const base = { backend: new MemoryDisk(4096), ram: freshRam() };
    expect(() => new VirtioBlk({ ...base, topology: { ...DEFAULT_TOPOLOGY, minIoSize: 0x10000 } })).toThrow(
      /does not fit struct virtio_blk_topology/,
    );
    expect(
      () => new VirtioBlk({ ...base, rangeLimits: { ...DEFAULT_RANGE_LIMITS, maxDiscardSeg: 0 } }),
    ).toThrow(/range limits .* are out of range/);
  });
});

describe("DISCARD and WRITE_ZEROES (§5.2.6)", () => {
  it("zeroes every range of a multi-range DISCARD and a WRITE_ZEROES with unmap, touching nothing else", () => {
    const t = setupBlk();
    const before = t.disk.bytes.slice();
    const n1 = t.ranges(BUF, [
      [4, 2, 0],
      [10, 1, 0],
    ]);
    const d = t.request(VIRTIO_BLK_T_DISCARD, 0, n1, BUF);
    const n2 = t.ranges(BUF + 0x100, [[20, 3, UNMAP]]);
    const z = t.request(VIRTIO_BLK_T_WRITE_ZEROES, 0, n2, BUF + 0x100);
    t.kick();
    expect([t.ram[d.status], t.ram[z.status]]).toEqual([VIRTIO_BLK_S_OK, VIRTIO_BLK_S_OK]);
    expect([t.used(0).len, t.used(1).len]).toEqual([1, 1]); // only the status byte is written
    const zeroed = new Set([4, 5, 10, 20, 21, 22]);
    for (let s = 0; s < 128; s++) {
      const got = t.disk.bytes.subarray(sector(s), sector(s + 1));
      if (zeroed.has(s))
        expect(
          got.every((b) => b === 0),
          `sector ${s}`,
        ).toBe(true);
      else expect(got, `sector ${s}`).toEqual(before.subarray(sector(s), sector(s + 1)));
    }
    expect(t.dev.blkCounters).toMatchObject({
      discards: 1,
      writeZeroes: 1,
      sectorsDiscarded: 3,
      sectorsZeroed: 3,
    });
    expect(t.dev.diagnostics).toEqual([]);
  });

  it("answers UNSUPP for unmap on DISCARD, unknown flags, partial ranges and too many ranges", () => {
    const t = setupBlk();
    const before = t.disk.bytes.slice();
    const a = t.request(VIRTIO_BLK_T_DISCARD, 0, t.ranges(BUF, [[1, 1, UNMAP]]), BUF);
    const b = t.request(VIRTIO_BLK_T_WRITE_ZEROES, 0, t.ranges(BUF + 0x100, [[1, 1, 2]]), BUF + 0x100);
    t.ranges(BUF + 0x200, [[1, 1, 0]]);
    const c = t.request(VIRTIO_BLK_T_DISCARD, 0, 20, BUF + 0x200);
    const many = t.ranges(
      BUF + 0x400,
      Array.from({ length: 33 }, (_, i): [number, number, number] => [i, 1, 0]),
    );
    const e = t.request(VIRTIO_BLK_T_DISCARD, 0, many, BUF + 0x400);
    t.kick();
    expect([a, b, c, e].map((r) => t.ram[r.status])).toEqual(Array(4).fill(VIRTIO_BLK_S_UNSUPP));
    expect(t.disk.bytes).toEqual(before);
    expect(t.dev.diagnostics.map((x) => x.check)).toEqual(["B9", "B9", "B9", "B9"]);
    expect(t.dev.diagnostics[0]!.message).toMatch(/unmap is not allowed on DISCARD/);
    expect(t.dev.blkCounters.unsupported).toBe(4);
  });

  it("answers IOERR for a range past the capacity or above max sectors, writable data, a read-only disk", () => {
    const t = setupBlk();
    const before = t.disk.bytes.slice();
    const past = t.request(
      VIRTIO_BLK_T_WRITE_ZEROES,
      0,
      t.ranges(BUF, [
        [0, 1, 0],
        [127, 2, 0],
      ]),
      BUF,
    );
    const big = t.request(VIRTIO_BLK_T_DISCARD, 0, t.ranges(BUF + 0x100, [[0, 9000, 0]]), BUF + 0x100);
    t.ranges(BUF + 0x200, [[0, 1, 0]]);
    const dir = t.request(VIRTIO_BLK_T_DISCARD, 0, 16, BUF + 0x200, true);
    t.kick();
    expect([past, big, dir].map((r) => t.ram[r.status])).toEqual(Array(3).fill(VIRTIO_BLK_S_IOERR));
    expect(t.disk.bytes).toEqual(before); // the good first range of `past` was not carried out either
    expect(t.dev.diagnostics.map((x) => x.check)).toEqual(["B4", "B9", "B6"]);

    const ro = setupBlk({ readOnly: true });
    const r = ro.request(VIRTIO_BLK_T_WRITE_ZEROES, 0, ro.ranges(BUF, [[0, 1, 0]]), BUF);
    ro.kick();
    expect(ro.ram[r.status]).toBe(VIRTIO_BLK_S_IOERR);
    expect(ro.dev.diagnostics.map((x) => x.check)).toEqual(["B5"]);
  });

  it("refuses DISCARD / WRITE_ZEROES with UNSUPP when the driver did not negotiate them", () => {
    const t = setupBlk({ without: [VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES] });
    const a = t.request(VIRTIO_BLK_T_DISCARD, 0, t.ranges(BUF, [[0, 1, 0]]), BUF);
    const b = t.request(VIRTIO_BLK_T_WRITE_ZEROES, 0, t.ranges(BUF + 0x100, [[0, 1, 0]]), BUF + 0x100);
    t.kick();
    expect([t.ram[a.status], t.ram[b.status]]).toEqual([VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_S_UNSUPP]);
    expect(t.disk.bytes.subarray(0, 512).some((x) => x !== 0)).toBe(true);
  });
});

describe("CONFIG_WCE (§5.2.5, §5.2.6.2 stable writes)", () => {
  it("writeback=1: writes wait for FLUSH; writeback=0 (writethrough): each write is flushed before completing", () => {
    const t = setupBlk();
    t.request(VIRTIO_BLK_T_OUT, 1, 512, BUF);
    t.kick();
    expect(t.disk.flushes).toBe(0);
    t.w(CFG + 32, 1, 0);
    expect(t.r(CFG + 32, 1)).toBe(0);
    expect(t.dev.writeback).toBe(0);
    t.request(VIRTIO_BLK_T_OUT, 2, 512, BUF);
    t.request(VIRTIO_BLK_T_WRITE_ZEROES, 0, t.ranges(BUF + 0x200, [[3, 1, 0]]), BUF + 0x200);
    t.kick();
    expect(t.disk.flushes).toBe(2);
    expect(t.dev.diagnostics).toEqual([]);
    // Reset puts writeback back to 1.
    t.w(0x14, 1, 0);
    expect(t.r(CFG + 32, 1)).toBe(1);
  });

  it("refuses writeback writes without CONFIG_WCE, of other values, at other offsets (T8)", () => {
    const t = setupBlk({ without: [VIRTIO_BLK_F_CONFIG_WCE] });
    t.w(CFG + 32, 1, 0);
    expect(t.r(CFG + 32, 1)).toBe(1);
    const u = setupBlk();
    u.w(CFG + 32, 1, 2);
    u.w(CFG + 0, 4, 5);
    expect(u.r(CFG + 32, 1)).toBe(1);
    expect([...t.dev.diagnostics, ...u.dev.diagnostics].map((d) => d.check)).toEqual(["T8", "T8", "T8"]);
  });

  it("starts in writethrough when CONFIG_WCE is negotiated without FLUSH, and flushes writes when neither is", () => {
    const t = setupBlk({ without: [VIRTIO_BLK_F_FLUSH] });
    expect(t.featuresOk).toBe(true);
    expect(t.r(CFG + 32, 1)).toBe(0);
    t.request(VIRTIO_BLK_T_OUT, 1, 512, BUF);
    t.kick();
    expect(t.disk.flushes).toBe(1);
    const n = setupBlk({ without: [VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_CONFIG_WCE] });
    n.request(VIRTIO_BLK_T_OUT, 1, 512, BUF);
    n.kick();
    expect(n.disk.flushes).toBe(1);
  });
});
