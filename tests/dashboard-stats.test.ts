// What the web dashboard reads besides Machine.stats(): virtio queue state without side effects
// (src/stats/virtio-stats.ts, avail depth per virtio 1.2 §2.7.6) and the device on each IRQ line
// (src/stats/irq-owners.ts: the PC/AT ISA assignments and the PCI Interrupt Line the firmware wrote).
import { describe, expect, it } from "vitest";
import { Machine, MemoryDisk, irqOwners, virtioStats } from "../src/index.js";
import { AVAIL, setupBlk } from "./helpers/virtio-blk-driver.js";
import { VIRTIO_BLK_T_IN } from "../src/virtio/blk.js";

describe("virtioStats", () => {
  it("reports heads waiting in the available ring until a kick takes them, and changes nothing", () => {
    const t = setupBlk();
    for (let i = 0; i < 3; i++) t.request(VIRTIO_BLK_T_IN, i, 512, 0x10000 + 512 * i);
    const before = virtioStats(t.dev);
    expect(before.queues[0]).toEqual({
      queue: 0,
      size: 16,
      ready: true,
      availDepth: 3,
      inFlight: 0,
      lastAvail: 0,
      usedIdx: 0,
    });
    expect(virtioStats(t.dev)).toEqual(before); // reading twice: same answer
    t.kick();
    const after = virtioStats(t.dev);
    expect(after.queues[0]).toMatchObject({ availDepth: 0, inFlight: 0, lastAvail: 3, usedIdx: 3 });
    expect(after.counters).toMatchObject({ kicks: 1, requests: 3, interrupts: 1 });
    // A copy: the snapshot taken before the kick did not move.
    expect(before.counters).toMatchObject({ kicks: 0, requests: 0 });
    expect(t.dev.diagnostics).toEqual([]);
  });

  it("gives no depth for an avail.idx more than a queue ahead, without raising the device's diagnostic", () => {
    const t = setupBlk();
    new DataView(t.ram.buffer, t.ram.byteOffset).setUint16(AVAIL + 2, 17, true);
    expect(virtioStats(t.dev).queues[0]!.availDepth).toBeNull();
    expect(t.dev.diagnostics).toEqual([]);
  });
});

describe("irqOwners", () => {
  it("names the platform's ISA devices and each PCI function on the line the firmware gave it", async () => {
    const m = await Machine.create({
      memory: "16M",
      drives: [
        { backend: new MemoryDisk(64 * 1024) },
        { backend: new MemoryDisk(64 * 1024) },
        { backend: new MemoryDisk(64 * 1024), interface: "ide" },
      ],
    });
    const owners = new Map(irqOwners(m).map((o) => [o.irq, o.device]));
    expect(owners.get(0)).toBe("pit");
    expect(owners.get(1)).toBe("i8042");
    expect(owners.get(4)).toBe("uart0");
    expect(owners.get(8)).toBe("rtc");
    expect(owners.get(14)).toBe("piix3-ide");
    expect(owners.get(15)).toBe("piix3-ide");
    for (const d of m.drives) {
      // The Interrupt Line register (PCI 3.0 §6.2.4) says where the firmware routed INTx#.
      const line = d.config.interruptLine;
      expect(line).toBeGreaterThan(0);
      expect(owners.get(line)!.split("+")).toContain(d.name);
    }
    expect(m.drives.map((d) => d.name)).toEqual(["virtio-blk0", "virtio-blk1"]);
  });
});
