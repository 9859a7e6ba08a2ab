// virtio-blk on the modern virtio-pci transport, driven register by register like a driver
// (virtio 1.2 §3.1.1, §4.1.4, §5.2), over a MemoryDisk.
import { describe, expect, it } from "vitest";
import { PCI_STATUS_INTERRUPT } from "../src/pci/config-space.js";
import {
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
} from "../src/virtio/blk.js";
import { AVAIL, BUF, DESC, setupBlk as setup, USED } from "./helpers/virtio-blk-driver.js";

describe("virtio-blk over modern virtio-pci", () => {
  it("identifies as 1AF4:1042 (rev 1) with class 0x018000 and the virtio capabilities", () => {
    const { dev } = setup();
    const c = dev.config;
    expect([c.get16(0), c.get16(2), c.bytes[8], c.bytes[0xb], c.bytes[0xa]]).toEqual([
      0x1af4, 0x1042, 1, 1, 0x80,
    ]);
    const types: number[] = [];
    for (let p = c.bytes[0x34]!; p !== 0; p = c.bytes[p + 1]!)
      if (c.bytes[p] === 9) types.push(c.bytes[p + 3]!);
    expect(types).toEqual([1, 2, 3, 4, 5]);
  });

  it("negotiates, batches several requests into one used.idx publish and one interrupt", () => {
    const t = setup();
    expect(t.featuresOk).toBe(true);
    const reqs = [0, 1, 2].map((k) => t.request(VIRTIO_BLK_T_IN, 10 + k, 1024, BUF + k * 0x1000));
    t.kick();
    expect(t.usedIdx()).toBe(3);
    expect(t.dev.counters).toMatchObject({ kicks: 1, requests: 3, interrupts: 1, publishes: 1 });
    for (const [k, r] of reqs.entries()) {
      expect(t.ram[r.status]).toBe(VIRTIO_BLK_S_OK);
      expect(t.ram.subarray(BUF + k * 0x1000, BUF + k * 0x1000 + 1024)).toEqual(
        t.disk.bytes.subarray((10 + k) * 512, (10 + k) * 512 + 1024),
      );
      expect(t.v.getUint32(USED + 4 + 8 * k + 4, true)).toBe(1025); // data + status byte
    }
    expect(t.dev.config.status & PCI_STATUS_INTERRUPT).not.toBe(0);
    expect(t.isr()).toBe(1);
    expect(t.dev.config.status & PCI_STATUS_INTERRUPT).toBe(0);
    expect(t.isr()).toBe(0);
    expect(t.dev.diagnostics).toEqual([]);
  });

  it("writes, flushes and answers GET_ID", () => {
    const t = setup();
    t.ram.fill(0x5a, BUF, BUF + 512);
    const wr = t.request(VIRTIO_BLK_T_OUT, 3, 512, BUF);
    const fl = t.request(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
    const id = t.request(VIRTIO_BLK_T_GET_ID, 0, 20, BUF + 0x1000);
    t.kick();
    expect([t.ram[wr.status], t.ram[fl.status], t.ram[id.status]]).toEqual([0, 0, 0]);
    expect(t.disk.bytes.subarray(1536, 2048).every((b) => b === 0x5a)).toBe(true);
    expect(t.disk.flushes).toBe(1);
    expect(new TextDecoder().decode(t.ram.subarray(BUF + 0x1000, BUF + 0x1000 + 19))).toBe(
      "trapdoor-virtio-blk",
    );
  });

  it("answers bad requests with IOERR/UNSUPP and moves no data", () => {
    const t = setup({ readOnly: true });
    const before = t.disk.bytes.slice();
    const past = t.request(VIRTIO_BLK_T_IN, 127, 1024, BUF); // 128 sectors: 127+2 is past the end
    const odd = t.request(VIRTIO_BLK_T_IN, 0, 100, BUF);
    const ro = t.request(VIRTIO_BLK_T_OUT, 0, 512, BUF);
    const dir = t.request(VIRTIO_BLK_T_IN, 0, 512, BUF, false);
    const unk = t.request(99, 0, 0, 0);
    t.kick();
    expect([past, odd, ro, dir].map((r) => t.ram[r.status])).toEqual(Array(4).fill(VIRTIO_BLK_S_IOERR));
    expect(t.ram[unk.status]).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(t.disk.bytes).toEqual(before);
    expect(t.dev.diagnostics.map((d) => d.check)).toEqual(["B4", "B3", "B5", "B6"]);
    expect(t.usedIdx()).toBe(5);
  });

  it("refuses FEATURES_OK for features not offered, or without VERSION_1", () => {
    expect(setup({ features: [0x8000_0000, 1] }).featuresOk).toBe(false);
    const t = setup({ features: [0, 0] });
    expect(t.featuresOk).toBe(false);
    expect(t.dev.diagnostics.map((d) => d.check)).toContain("T6");
  });

  it("strict mode: a looping chain sets DEVICE_NEEDS_RESET, raises a config interrupt, names the descriptor", () => {
    const t = setup();
    t.v.setUint32(DESC, BUF, true);
    t.v.setUint32(DESC + 8, 16, true);
    t.v.setUint16(DESC + 12, 1, true); // NEXT
    t.v.setUint16(DESC + 14, 0, true); // -> itself
    t.v.setUint16(AVAIL + 4, 0, true);
    t.v.setUint16(AVAIL + 2, 1, true);
    t.kick();
    expect(t.r(0x14, 1) & 0x40).toBe(0x40);
    expect(t.isr()).toBe(2);
    expect(t.dev.diagnostics[0]).toMatchObject({ section: "2.7.5.2", queue: 0, descriptor: 0 });
    expect(t.dev.diagnostics[0]!.message).toMatch(/queue 0: descriptor 0 .*loop/);
    // The queue stays stopped until reset; reset clears NEEDS_RESET.
    t.kick();
    expect(t.dev.counters.requests).toBe(0);
    t.w(0x14, 1, 0);
    expect(t.r(0x14, 1)).toBe(0);
  });

  it("lenient mode: the bad chain is returned with length 0 and the queue goes on", () => {
    const t = setup({ mode: "lenient" });
    t.v.setUint32(DESC, 0xfff000, true); // outside 1 MiB RAM
    t.v.setUint32(DESC + 8, 16, true);
    t.v.setUint16(DESC + 12, 0, true);
    t.v.setUint16(AVAIL + 4, 0, true);
    t.v.setUint16(AVAIL + 2, 1, true);
    t.kick();
    expect(t.usedIdx()).toBe(1);
    expect(t.r(0x14, 1) & 0x40).toBe(0);
    expect(t.dev.diagnostics[0]!.check).toBe("VQ4");
  });

  it("reports register misuse: kick before DRIVER_OK, wrong widths, queue writes after enable", () => {
    const t = setup();
    t.w(0x18, 2, 8); // queue_size after enable
    t.r(0x14, 4); // device_status is 1 byte
    t.w(0x14, 1, 0);
    t.w(0x3000, 2, 0); // kick after reset
    expect(t.dev.diagnostics.map((d) => d.check)).toEqual(["T15", "T10", "T20"]);
  });
});
