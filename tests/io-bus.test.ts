import { describe, expect, it } from "vitest";
import { IoBus } from "../src/bus/io-bus.js";
import type { AccessWidth, IoDevice } from "../src/bus/device.js";

class Recorder implements IoDevice {
  readonly log: string[] = [];
  constructor(readonly name: string) {}
  read(offset: number, width: AccessWidth): number {
    this.log.push(`r ${offset} ${width}`);
    return 0x1234_5678 & (width === 4 ? 0xffffffff : (1 << (8 * width)) - 1);
  }
  write(offset: number, width: AccessWidth, value: number): void {
    this.log.push(`w ${offset} ${width} ${value.toString(16)}`);
  }
}

describe("IoBus", () => {
  it("dispatches to the claiming device with the offset inside its range", () => {
    const bus = new IoBus("pio", 0x10000);
    const a = new Recorder("a");
    const b = new Recorder("b");
    bus.map(0x3f8, 8, a);
    bus.map(0x80, 1, b);
    expect(bus.read(0x3fd, 1)).toBe(0x78);
    bus.write(0x3f8, 2, 0xbeef);
    bus.write(0x80, 1, 0x55);
    expect(a.log).toEqual(["r 5 1", "w 0 2 beef"]);
    expect(b.log).toEqual(["w 0 1 55"]);
  });

  it("reads unclaimed addresses as all ones for the access width and counts them", () => {
    const bus = new IoBus("pio", 0x10000);
    expect(bus.read(0x1234, 1)).toBe(0xff);
    expect(bus.read(0x1234, 2)).toBe(0xffff);
    expect(bus.read(0x1235, 4)).toBe(0xffffffff);
    bus.write(0x1234, 1, 0);
    expect(bus.unclaimed.reads.get(0x1234)).toBe(2);
    expect(bus.unclaimed.reads.get(0x1235)).toBe(1);
    expect(bus.unclaimed.writes.get(0x1234)).toBe(1);
  });

  it("finds ranges by binary search across many mappings, including the edges", () => {
    const bus = new IoBus("mmio", 2 ** 32);
    const devs = Array.from({ length: 20 }, (_, i) => new Recorder(`d${i}`));
    // Map in a shuffled order to check that lookups do not depend on insertion order.
    for (const i of [7, 3, 19, 0, 11, 5, 15, 1, 9, 13, 2, 17, 4, 6, 8, 10, 12, 14, 16, 18]) {
      bus.map(0xfe00_0000 + i * 0x1000, 0x1000, devs[i]!);
    }
    expect(bus.find(0xfe00_0000)?.device.name).toBe("d0");
    expect(bus.find(0xfe00_0fff)?.device.name).toBe("d0");
    expect(bus.find(0xfe01_3000)?.device.name).toBe("d19");
    expect(bus.find(0xfe01_4000)).toBeUndefined();
    expect(bus.find(0xfdff_ffff)).toBeUndefined();
  });

  it("refuses overlapping, empty and out-of-space ranges", () => {
    const bus = new IoBus("pio", 0x10000);
    bus.map(0x60, 1, new Recorder("kbd"));
    expect(() => bus.map(0x5f, 2, new Recorder("x"))).toThrow(/overlaps kbd/);
    expect(() => bus.map(0x100, 0, new Recorder("x"))).toThrow(/bad range/);
    expect(() => bus.map(0xfffe, 4, new Recorder("x"))).toThrow(/exceeds the bus/);
  });

  it("unmaps a device so its range reads as unclaimed again", () => {
    const bus = new IoBus("pio", 0x10000);
    const d = new Recorder("bar");
    bus.map(0xc000, 0x40, d);
    expect(bus.read(0xc000, 1)).toBe(0x78);
    bus.unmap(d);
    expect(bus.read(0xc000, 1)).toBe(0xff);
  });
});

describe("IoBus under a hostile guest", () => {
  it("keeps its unclaimed-address bookkeeping bounded however many addresses are probed", () => {
    const bus = new IoBus("mmio", 2 ** 32);
    for (let a = 0; a < 100_000; a++) bus.write(0x8000_0000 + a * 4, 4, 0);
    expect(bus.unclaimed.writes.size).toBe(4096);
    expect(bus.unclaimed.untracked).toBe(100_000 - 4096);
  });
});
