// The transport's reaction to the ring checks the core makes (docs/virtio.md, checker table): a
// head offered twice before it was returned (VQ17), a used ring overlapping the driver's parts
// (VQ18, refused) and a descriptor table overlapping the available ring (T17, a warning).
import { describe, expect, it } from "vitest";
import type { IoDevice } from "../src/bus/device.js";
import { MemoryDisk } from "../src/disk/memory-disk.js";
import { PCI_COMMAND, PCI_COMMAND_MASTER } from "../src/pci/config-space.js";
import { VirtioBlk, VIRTIO_BLK_T_IN } from "../src/virtio/blk.js";
import { VIRTIO_STATUS_DEVICE_NEEDS_RESET } from "../src/virtio/constants.js";
import type { VirtioCheckMode } from "../src/virtio/pci.js";
import { idleCore, ramView } from "./helpers/core-ram.js";

const RAM = (await idleCore(1 << 20)).ram;
const [DESC, AVAIL, USED, HDR, DATA] = [0x1000, 0x2000, 0x3000, 0x8000, 0x9000];

/** A blk device at DRIVER_OK with queue 0 (size 8) configured but not yet enabled. */
function device(mode: VirtioCheckMode, rings = { desc: DESC, avail: AVAIL, used: USED }) {
  const ram = RAM.fill(0);
  const v = ramView(ram);
  const dev = new VirtioBlk({ backend: new MemoryDisk(64 * 1024), ram, mode, queueSize: 8 });
  dev.config.set16(PCI_COMMAND, PCI_COMMAND_MASTER);
  dev.status = 0xf; // ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK
  Object.assign(dev.queues[0]!, rings);
  const bar = dev.bars[4]!.device as IoDevice;
  const enable = () => bar.write(0x1c, 2, 1);
  // One IN request at head 0: header, 512 bytes of data, status byte.
  v.setUint32(HDR, VIRTIO_BLK_T_IN, true);
  const d = (i: number, addr: number, len: number, flags: number, next: number) => {
    v.setUint32(DESC + 16 * i, addr, true);
    v.setUint32(DESC + 16 * i + 8, len, true);
    v.setUint16(DESC + 16 * i + 12, flags, true);
    v.setUint16(DESC + 16 * i + 14, next, true);
  };
  d(0, HDR, 16, 1, 1);
  d(1, DATA, 512, 3, 2);
  d(2, HDR + 16, 1, 2, 0);
  const offer = (...heads: number[]) => {
    let idx = v.getUint16(AVAIL + 2, true);
    for (const h of heads) v.setUint16(AVAIL + 4 + 2 * (idx++ % 8), h, true);
    v.setUint16(AVAIL + 2, idx, true);
  };
  const kick = () => bar.write(0x3000, 2, 0);
  return { dev, v, enable, offer, kick, usedIdx: () => v.getUint16(USED + 2, true) };
}

describe("virtio ring checks at the transport", () => {
  it("strict: a head offered twice in one batch is VQ17 and needs a reset", () => {
    const t = device("strict");
    t.enable();
    t.offer(0, 0);
    t.kick();
    expect(t.dev.diagnostics.map((d) => [d.check, d.section, d.descriptor])).toEqual([["VQ17", "2.7.13", 0]]);
    expect(t.dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).not.toBe(0);
    expect(t.usedIdx()).toBe(1); // the first request completed and was published
  });

  it("lenient: the duplicate is reported and not returned; the head is usable once published", () => {
    const t = device("lenient");
    t.enable();
    t.offer(0, 0);
    t.kick();
    expect(t.dev.diagnostics.map((d) => d.check)).toEqual(["VQ17"]);
    expect(t.usedIdx()).toBe(1);
    t.offer(0);
    t.kick();
    expect(t.dev.diagnostics).toHaveLength(1);
    expect(t.usedIdx()).toBe(2);
    expect(t.dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(0);
  });

  it("refuses a used ring overlapping the descriptor table (VQ18) when the queue is enabled", () => {
    const t = device("strict", { desc: DESC, avail: AVAIL, used: DESC + 0x40 });
    t.enable();
    expect(t.dev.diagnostics.map((d) => [d.check, d.section])).toEqual([["VQ18", "2.7"]]);
    expect(t.dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).not.toBe(0);
  });

  it("only warns (T17) about a descriptor table overlapping the available ring", () => {
    const t = device("strict", { desc: DESC, avail: DESC + 0x70, used: USED });
    t.enable();
    expect(t.dev.diagnostics.map((d) => [d.check, d.section])).toEqual([["T17", "2.7"]]);
    expect(t.dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(0);
  });
});
