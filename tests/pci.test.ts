import { describe, expect, it } from "vitest";
import type { AccessWidth, IoDevice } from "../src/bus/device.js";
import { IoBus } from "../src/bus/io-bus.js";
import { RecordingIrq } from "./helpers/recording-irq.js";
import {
  PCI_CAP_ID_PM,
  PCI_CAP_ID_VNDR,
  PCI_CAPABILITY_LIST,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_HEADER_TYPE,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_ROM_ADDRESS,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_INTERRUPT,
} from "../src/pci/config-space.js";
import { assignResources } from "../src/pci/firmware.js";
import { HostBridge } from "../src/pci/host-bridge.js";
import { PciBus } from "../src/pci/pci-bus.js";
import { PciDevice, type PciBar } from "../src/pci/pci-device.js";

/** A BAR's registers: records accesses, reads back a recognisable pattern. */
class Regs implements IoDevice {
  readonly log: string[] = [];
  constructor(readonly name: string) {}
  read(offset: number, width: AccessWidth): number {
    this.log.push(`r ${offset} ${width}`);
    return width === 1 ? 0xa0 + offset : 0x1000 + offset;
  }
  write(offset: number, width: AccessWidth, value: number): void {
    this.log.push(`w ${offset} ${width} ${value.toString(16)}`);
  }
}

function makeDevice(name: string, bars: (PciBar | undefined)[], interruptPin = 1): PciDevice {
  return new PciDevice({
    name,
    vendorId: 0x1af4,
    deviceId: 0x1001,
    classCode: 0x01,
    subclass: 0x00,
    subsystemVendorId: 0x1af4,
    subsystemId: 0x0002,
    interruptPin,
    bars,
  });
}

function makeMachine() {
  const pio = new IoBus("pio", 0x10000);
  const mmio = new IoBus("mmio", 2 ** 32);
  const irqs = new Map<number, RecordingIrq>();
  const resets: number[] = [];
  const bus = new PciBus({
    pio,
    mmio,
    irq: (n) => {
      let l = irqs.get(n);
      if (!l) irqs.set(n, (l = new RecordingIrq()));
      return l;
    },
    onReset: () => resets.push(1),
  });
  pio.map(0xcf8, 8, bus);
  bus.add(new HostBridge(), 0);
  const outl = (port: number, v: number) => pio.write(port, 4, v);
  const out = (port: number, w: AccessWidth, v: number) => pio.write(port, w, v);
  const inp = (port: number, w: AccessWidth) => pio.read(port, w);
  const addr = (slot: number, fn: number, reg: number, busNo = 0) =>
    (0x80000000 | (busNo << 16) | (slot << 11) | (fn << 8) | (reg & 0xfc)) >>> 0;
  /** Config read through 0xCF8/0xCFC as a guest does it. */
  const cfgRead = (slot: number, reg: number, w: AccessWidth, fn = 0) => {
    outl(0xcf8, addr(slot, fn, reg));
    return inp(0xcfc + (reg & 3), w);
  };
  const cfgWrite = (slot: number, reg: number, w: AccessWidth, v: number, fn = 0) => {
    outl(0xcf8, addr(slot, fn, reg));
    out(0xcfc + (reg & 3), w, v);
  };
  return { pio, mmio, bus, irqs, resets, outl, out, inp, addr, cfgRead, cfgWrite };
}

describe("configuration mechanism #1", () => {
  it("reads CONFIG_ADDRESS back as written (reserved bits 30:24 and 1:0 read 0)", () => {
    const m = makeMachine();
    expect(m.inp(0xcf8, 4)).toBe(0);
    m.outl(0xcf8, 0x80000000);
    expect(m.inp(0xcf8, 4)).toBe(0x80000000);
    m.outl(0xcf8, 0x8001_0a3c);
    expect(m.inp(0xcf8, 4)).toBe(0x8001_0a3c);
    m.outl(0xcf8, 0xffffffff);
    expect(m.inp(0xcf8, 4)).toBe(0x80fffffc);
  });

  it("passes Linux's pci_check_type1 probe (byte write to 0xCFB is not CONFIG_ADDRESS)", () => {
    const m = makeMachine();
    m.out(0xcfb, 1, 0x01);
    const tmp = m.inp(0xcf8, 4);
    m.outl(0xcf8, 0x80000000);
    expect(m.inp(0xcf8, 4)).toBe(0x80000000);
    m.outl(0xcf8, tmp);
    expect(tmp).toBe(0);
    // Byte/word reads of the CONFIG_ADDRESS ports are plain I/O, not the register.
    m.outl(0xcf8, 0x80000000);
    expect(m.inp(0xcf8, 1)).toBe(0xff);
    expect(m.inp(0xcfa, 2)).toBe(0xffff);
  });

  it("finds the 440FX host bridge at 00:00.0", () => {
    const m = makeMachine();
    expect(m.cfgRead(0, 0x00, 4)).toBe(0x1237_8086);
    expect(m.cfgRead(0, 0x08, 4) >>> 8).toBe(0x060000);
    expect(m.cfgRead(0, 0x08, 1)).toBe(0x02);
    expect(m.cfgRead(0, PCI_HEADER_TYPE, 1)).toBe(0x00);
    expect(m.cfgRead(0, PCI_COMMAND, 2)).toBe(0x0006);
    m.cfgWrite(0, PCI_COMMAND, 2, 0);
    expect(m.cfgRead(0, PCI_COMMAND, 2)).toBe(0x0006); // hardwired
    for (let bar = 0; bar < 6; bar++) {
      m.cfgWrite(0, 0x10 + 4 * bar, 4, 0xffffffff);
      expect(m.cfgRead(0, 0x10 + 4 * bar, 4)).toBe(0);
    }
  });

  it("reads bytes and words at unaligned offsets through 0xCFC-0xCFF", () => {
    const m = makeMachine();
    m.outl(0xcf8, m.addr(0, 0, 0x00));
    expect(m.inp(0xcfc, 1)).toBe(0x86);
    expect(m.inp(0xcfd, 1)).toBe(0x80);
    expect(m.inp(0xcfe, 1)).toBe(0x37);
    expect(m.inp(0xcff, 1)).toBe(0x12);
    expect(m.inp(0xcfc, 2)).toBe(0x8086);
    expect(m.inp(0xcfe, 2)).toBe(0x1237);
    expect(m.inp(0xcfd, 2)).toBe(0x3780); // odd word: bytes 1-2 of the dword
    m.outl(0xcf8, m.addr(0, 0, 0x08));
    expect(m.inp(0xcfe, 2)).toBe(0x0600); // sub-class, class
    expect(m.inp(0xcfb, 2)).toBe(0x02ff); // straddles 0xCFB (plain I/O) and 0xCFC
  });

  it("reads all ones for absent devices, other buses and a disabled CONFIG_ADDRESS", () => {
    const m = makeMachine();
    expect(m.cfgRead(5, 0x00, 2)).toBe(0xffff);
    expect(m.cfgRead(5, 0x00, 4)).toBe(0xffffffff);
    expect(m.cfgRead(0, 0x00, 2, 1)).toBe(0xffff); // function 1 of the host bridge
    m.outl(0xcf8, m.addr(0, 0, 0, 1));
    expect(m.inp(0xcfc, 2)).toBe(0xffff); // bus 1
    m.outl(0xcf8, 0x00000000); // enable bit clear
    expect(m.inp(0xcfc, 4)).toBe(0xffffffff);
    m.out(0xcfc, 4, 0); // ignored
    m.cfgWrite(5, 0x04, 2, 7); // absent: dropped
  });

  it("resets through 0xCF9 on a 0 -> 1 transition of bit 2 (Linux reboot=pci: 0x02 then 0x06)", () => {
    const m = makeMachine();
    expect(m.inp(0xcf9, 1)).toBe(0);
    m.out(0xcf9, 1, 0x02);
    expect(m.resets).toHaveLength(0);
    expect(m.inp(0xcf9, 1)).toBe(0x02);
    m.out(0xcf9, 1, 0x06);
    expect(m.resets).toHaveLength(1);
    expect(m.inp(0xcf9, 1)).toBe(0);
    m.out(0xcf9, 1, 0x0e);
    expect(m.resets).toHaveLength(2);
    // A dword write at 0xCF8 is CONFIG_ADDRESS, never the reset register.
    m.outl(0xcf8, 0x80000400);
    expect(m.resets).toHaveLength(2);
  });

  it("sets the multi-function bit of function 0 when other functions exist", () => {
    const m = makeMachine();
    m.bus.add(makeDevice("f0", [], 0), 3, 0);
    expect(m.cfgRead(3, PCI_HEADER_TYPE, 1)).toBe(0x00);
    m.bus.add(makeDevice("f1", [], 0), 3, 1);
    expect(m.cfgRead(3, PCI_HEADER_TYPE, 1)).toBe(0x80);
    expect(m.cfgRead(3, 0x00, 2, 1)).toBe(0x1af4);
    expect(() => m.bus.add(makeDevice("dup", [], 0), 3, 1)).toThrow(/taken/);
  });
});

describe("PciDevice BARs", () => {
  function withDevice() {
    const m = makeMachine();
    const io = new Regs("io-regs");
    const mem = new Regs("mem-regs");
    const dev = makeDevice("dev", [
      { kind: "io", size: 32, device: io },
      { kind: "mem32", size: 0x1000, device: mem },
      undefined,
      { kind: "mem32", size: 0x4000, prefetchable: true, device: new Regs("prefetch") },
    ]);
    const slot = m.bus.add(dev);
    return { ...m, io, mem, dev, slot };
  }

  it("answers the sizing protocol with the size mask and type bits", () => {
    const m = withDevice();
    expect(m.slot).toBe(1);
    expect(m.cfgRead(1, 0x10, 4)).toBe(0x00000001); // I/O BAR, address 0
    m.cfgWrite(1, 0x10, 4, 0xffffffff);
    expect(m.cfgRead(1, 0x10, 4)).toBe(0xffffffe1); // 32 bytes, I/O
    m.cfgWrite(1, 0x14, 4, 0xffffffff);
    expect(m.cfgRead(1, 0x14, 4)).toBe(0xfffff000); // 4 KiB, memory, 32-bit, not prefetchable
    m.cfgWrite(1, 0x18, 4, 0xffffffff);
    expect(m.cfgRead(1, 0x18, 4)).toBe(0); // unimplemented
    m.cfgWrite(1, 0x1c, 4, 0xffffffff);
    expect(m.cfgRead(1, 0x1c, 4)).toBe(0xffffc008); // 16 KiB prefetchable
    m.cfgWrite(1, PCI_ROM_ADDRESS, 4, 0xffffffff);
    expect(m.cfgRead(1, PCI_ROM_ADDRESS, 4)).toBe(0); // no expansion ROM
    // Low address bits below the size are hardwired to 0.
    m.cfgWrite(1, 0x10, 4, 0xc01f);
    expect(m.cfgRead(1, 0x10, 4)).toBe(0xc001);
  });

  it("maps a BAR on the bus only while decode is enabled, at offset 0 of the BAR", () => {
    const m = withDevice();
    m.cfgWrite(1, 0x10, 4, 0xc040);
    m.cfgWrite(1, 0x14, 4, 0xe000_0000);
    expect(m.pio.read(0xc040, 1)).toBe(0xff); // decode off: nothing there
    expect(m.mmio.read(0xe000_0000, 4)).toBe(0xffffffff);
    m.cfgWrite(1, PCI_COMMAND, 2, PCI_COMMAND_IO);
    expect(m.pio.read(0xc040, 1)).toBe(0xa0);
    expect(m.pio.read(0xc05f, 1)).toBe(0xa0 + 31);
    expect(m.pio.read(0xc060, 1)).toBe(0xff); // past the 32 bytes
    expect(m.mmio.read(0xe000_0000, 4)).toBe(0xffffffff); // memory decode still off
    m.cfgWrite(1, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    m.mmio.write(0xe000_0010, 4, 0x1234);
    expect(m.mem.log).toContain("w 16 4 1234");
    expect(m.dev.barMapping(0)).toBe(0xc040);
    expect(m.dev.barMapping(1)).toBe(0xe000_0000);

    // Moving the BAR moves the mapping.
    m.cfgWrite(1, 0x10, 4, 0xd000);
    expect(m.pio.read(0xc040, 1)).toBe(0xff);
    expect(m.pio.read(0xd001, 1)).toBe(0xa1);
    // Sizing with decode on takes the BAR off the bus (all-ones is not an address), restoring maps it.
    m.cfgWrite(1, 0x14, 4, 0xffffffff);
    expect(m.dev.barMapping(1)).toBeUndefined();
    m.cfgWrite(1, 0x14, 4, 0xe000_0000);
    expect(m.mmio.read(0xe000_0004, 4)).toBe(0x1004);
    // Disabling decode unmaps both.
    m.cfgWrite(1, PCI_COMMAND, 2, 0);
    expect(m.pio.list().some((x) => x.device === m.io)).toBe(false);
    expect(m.mmio.list()).toHaveLength(0);
  });

  it("leaves an overlapping BAR unmapped instead of throwing, and maps it once the clash is gone", () => {
    const m = withDevice();
    const other = new Regs("other");
    const dev2 = makeDevice("dev2", [{ kind: "io", size: 32, device: other }]);
    m.bus.add(dev2, 2);
    m.cfgWrite(1, 0x10, 4, 0xc000);
    m.cfgWrite(1, PCI_COMMAND, 2, PCI_COMMAND_IO);
    m.cfgWrite(2, 0x10, 4, 0xc000);
    m.cfgWrite(2, PCI_COMMAND, 2, PCI_COMMAND_IO);
    expect(dev2.barMapping(0)).toBeUndefined();
    expect(m.pio.read(0xc000, 1)).toBe(0xa0);
    expect(m.io.log).toContain("r 0 1");
    m.cfgWrite(1, 0x10, 4, 0xc100); // the first device moves away
    expect(dev2.barMapping(0)).toBe(0xc000);
    m.pio.read(0xc000, 1);
    expect(other.log).toEqual(["r 0 1"]);
  });

  it("rejects invalid BAR descriptions", () => {
    const d = new Regs("d");
    expect(() => makeDevice("x", [{ kind: "io", size: 24, device: d }])).toThrow(RangeError);
    expect(() => makeDevice("x", [{ kind: "io", size: 512, device: d }])).toThrow(RangeError);
    expect(() => makeDevice("x", [{ kind: "mem32", size: 8, device: d }])).toThrow(RangeError);
    expect(() =>
      makeDevice("x", [
        { kind: "mem32", size: 16, device: d },
        { kind: "mem32", size: 16, device: d },
      ]),
    ).toThrow(/same IoDevice/);
  });
});

describe("PciDevice config registers", () => {
  it("has read-only identity, writable Interrupt Line and read-only Interrupt Pin", () => {
    const m = makeMachine();
    const dev = makeDevice("dev", [], 2);
    m.bus.add(dev, 4);
    m.cfgWrite(4, 0x00, 4, 0);
    expect(m.cfgRead(4, 0x00, 4)).toBe(0x1001_1af4);
    expect(m.cfgRead(4, 0x2c, 4)).toBe(0x0002_1af4);
    expect(m.cfgRead(4, PCI_INTERRUPT_PIN, 1)).toBe(2);
    m.cfgWrite(4, PCI_INTERRUPT_PIN, 1, 4);
    expect(m.cfgRead(4, PCI_INTERRUPT_PIN, 1)).toBe(2);
    m.cfgWrite(4, PCI_INTERRUPT_LINE, 1, 11);
    expect(m.cfgRead(4, PCI_INTERRUPT_LINE, 1)).toBe(11);
    expect(m.cfgRead(4, 0x3c, 2)).toBe(0x020b);
  });

  it("clears RW1C status bits by writing 1 and keeps read-only ones", () => {
    const dev = makeDevice("dev", []);
    dev.config.set16(PCI_STATUS, dev.config.status | 0x2000 | 0x8000); // master abort, parity error
    dev.configWrite(PCI_STATUS, 2, 0x2000 | 0x0200 | 0x0010);
    expect(dev.configRead(PCI_STATUS, 2)).toBe(0x8000 | 0x0200);
    dev.configWrite(PCI_COMMAND, 2, 0xffff);
    expect(dev.configRead(PCI_COMMAND, 2)).toBe(0x0547); // IO, MEM, MASTER, PARITY, SERR, INTX_DISABLE
  });

  it("builds a capability list that Linux's pci_find_capability walks", () => {
    const m = makeMachine();
    const dev = makeDevice("dev", []);
    expect(dev.config.status & PCI_STATUS_CAP_LIST).toBe(0);
    const vndr1 = dev.addCapability(PCI_CAP_ID_VNDR, [16, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const pm = dev.addCapability(PCI_CAP_ID_PM, [0x03, 0x00, 0x00, 0x00, 0, 0], [0, 0, 0x03, 0, 0, 0]);
    const vndr2 = dev.addCapability(PCI_CAP_ID_VNDR, [16, 2, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x10, 0, 0]);
    expect(vndr1).toBe(0x40);
    expect(pm % 4).toBe(0);
    expect(vndr2).toBeGreaterThan(pm);
    m.bus.add(dev, 6);

    // drivers/pci/pci.c: __pci_bus_find_cap_start + __pci_find_next_cap_ttl.
    const findNext = (start: number, cap: number): number => {
      let pos = m.cfgRead(6, start, 1);
      let ttl = 48;
      while (ttl--) {
        if (pos < 0x40) break;
        pos &= ~3;
        const ent = m.cfgRead(6, pos, 2);
        const id = ent & 0xff;
        if (id === 0xff) break;
        if (id === cap) return pos;
        pos = ent >> 8;
      }
      return 0;
    };
    const findCapability = (cap: number): number => {
      if (!(m.cfgRead(6, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST)) return 0;
      return findNext(PCI_CAPABILITY_LIST, cap);
    };
    expect(findCapability(PCI_CAP_ID_VNDR)).toBe(vndr1);
    expect(findNext(vndr1 + 1, PCI_CAP_ID_VNDR)).toBe(vndr2);
    expect(findNext(vndr2 + 1, PCI_CAP_ID_VNDR)).toBe(0);
    expect(findCapability(PCI_CAP_ID_PM)).toBe(pm);
    expect(findCapability(0x05)).toBe(0);
    // Body bytes are where the virtio driver reads them: cap_len at +2, cfg_type at +3, bar at +4.
    expect(m.cfgRead(6, vndr2 + 2, 2)).toBe(0x0210);
    expect(m.cfgRead(6, vndr2 + 8, 4)).toBe(0x0000_1000);
    // The write mask covers only the PM control bits given.
    m.cfgWrite(6, pm + 4, 4, 0xffffffff);
    expect(m.cfgRead(6, pm + 4, 4)).toBe(0x0000_0003);
    expect(() => dev.addCapability(PCI_CAP_ID_VNDR, new Array(200).fill(0))).toThrow(RangeError);
  });

  it("calls config hooks of subclasses", () => {
    const seen: string[] = [];
    class Hooked extends PciDevice {
      constructor() {
        super({ name: "hooked", vendorId: 1, deviceId: 2, classCode: 0xff, subclass: 0 });
        this.config.setWriteMask(0x40, 4, 0xffffffff);
      }
      protected override onConfigRead(offset: number, _width: AccessWidth, value: number): number {
        return offset === 0x44 ? 0xdead : value;
      }
      protected override onConfigWrite(offset: number, width: AccessWidth, value: number): void {
        seen.push(`${offset.toString(16)}/${width}=${value.toString(16)}`);
      }
    }
    const m = makeMachine();
    m.bus.add(new Hooked(), 7);
    m.cfgWrite(7, 0x42, 2, 0xbeef);
    expect(seen).toEqual(["42/2=beef"]);
    expect(m.cfgRead(7, 0x40, 4)).toBe(0xbeef0000);
    expect(m.cfgRead(7, 0x44, 2)).toBe(0xdead);
  });
});

describe("INTx", () => {
  it("routes INTx to the assigned IRQ, honours Interrupt Disable and reports Interrupt Status", () => {
    const m = makeMachine();
    const dev = makeDevice("dev", []);
    m.bus.add(dev, 1);
    m.bus.routeInterrupt(dev, 11);
    dev.setIrq(true);
    const line = m.irqs.get(11)!;
    expect(line.level).toBe(true);
    expect(m.cfgRead(1, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT).toBe(PCI_STATUS_INTERRUPT);
    m.cfgWrite(1, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
    expect(line.level).toBe(false);
    // Interrupt Status still reflects the internal request (PCI 3.0 §6.2.3).
    expect(m.cfgRead(1, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT).toBe(PCI_STATUS_INTERRUPT);
    m.cfgWrite(1, PCI_COMMAND, 2, 0);
    expect(line.level).toBe(true);
    dev.setIrq(false);
    expect(line.level).toBe(false);
    expect(m.cfgRead(1, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT).toBe(0);
    expect(line.events).toEqual([true, false, true, false]);
    // The Interrupt Line register is scratch: writing it does not re-route.
    m.cfgWrite(1, PCI_INTERRUPT_LINE, 1, 5);
    dev.setIrq(true);
    expect(line.level).toBe(true);
    expect(m.irqs.get(5)).toBeUndefined();
  });

  it("wire-ORs functions sharing an IRQ", () => {
    const m = makeMachine();
    const a = makeDevice("a", []);
    const b = makeDevice("b", []);
    m.bus.add(a, 1);
    m.bus.add(b, 2);
    m.bus.routeInterrupt(a, 10);
    m.bus.routeInterrupt(b, 10);
    a.setIrq(true);
    b.setIrq(true);
    a.setIrq(false);
    expect(m.irqs.get(10)!.level).toBe(true);
    b.setIrq(false);
    expect(m.irqs.get(10)!.level).toBe(false);
    expect(m.irqs.get(10)!.events).toEqual([true, false]);
    expect(() => m.bus.routeInterrupt(a, 2)).toThrow(RangeError);
  });

  it("does not drive a pin-less function's IRQ", () => {
    const m = makeMachine();
    const dev = makeDevice("dev", [], 0);
    m.bus.add(dev, 1);
    m.bus.routeInterrupt(dev, 9);
    dev.setIrq(true);
    expect(dev.intxAsserted).toBe(false);
    expect(m.bus.irqLevel(9)).toBe(false);
  });
});

describe("firmware resource assignment", () => {
  function populated() {
    const m = makeMachine();
    const devs = [
      makeDevice("blk", [
        { kind: "io", size: 64, device: new Regs("blk-io") },
        { kind: "mem32", size: 0x1000, device: new Regs("blk-mem") },
        undefined,
        undefined,
        { kind: "mem32", size: 0x4000, prefetchable: true, device: new Regs("blk-mem4") },
      ]),
      makeDevice("net", [
        { kind: "io", size: 32, device: new Regs("net-io") },
        { kind: "mem32", size: 0x10000, device: new Regs("net-mem") },
      ]),
      makeDevice(
        "ide",
        [undefined, undefined, undefined, undefined, { kind: "io", size: 16, device: new Regs("bm") }],
        0,
      ),
      makeDevice("rng", [{ kind: "io", size: 128, device: new Regs("rng-io") }]),
      makeDevice("console", [{ kind: "mem32", size: 16, device: new Regs("con") }]),
      makeDevice("balloon", [{ kind: "io", size: 4, device: new Regs("bal") }], 3),
    ];
    for (const d of devs) m.bus.add(d);
    return { ...m, devs };
  }

  it("places BARs aligned, without overlaps, inside the windows, and enables decode and mastering", () => {
    const m = populated();
    const r = assignResources(m.bus, { ioBase: 0xc000, memBase: 0xe000_0000, irqs: [10, 11, 5, 9] });
    expect(r.bars).toHaveLength(9);
    for (const b of r.bars) {
      expect(b.base % b.size).toBe(0);
      if (b.kind === "io") {
        expect(b.base).toBeGreaterThanOrEqual(0xc000);
        expect(b.base + b.size).toBeLessThanOrEqual(0x10000);
      } else {
        expect(b.base).toBeGreaterThanOrEqual(0xe000_0000);
        expect(b.base + b.size).toBeLessThanOrEqual(0xfec0_0000);
      }
      for (const o of r.bars) {
        if (o === b || o.kind !== b.kind) continue;
        expect(b.base + b.size <= o.base || o.base + o.size <= b.base).toBe(true);
      }
      // The guest sees the address in the BAR and reaches the registers through the bus.
      const bar = m.cfgRead(b.slot, 0x10 + 4 * b.bar, 4);
      expect(bar & (b.kind === "io" ? ~3 : ~0xf)).toBe(b.base | 0);
      const space = b.kind === "io" ? m.pio : m.mmio;
      expect(space.find(b.base)?.device.name).toBe(m.bus.device(b.slot)!.bars[b.bar]!.device.name);
    }
    // Largest first: the 128-byte I/O BAR is at the window base, the 64 KiB memory BAR too.
    expect(r.bars.find((b) => b.name === "rng")!.base).toBe(0xc000);
    expect(r.bars.find((b) => b.name === "net" && b.kind === "mem32")!.base).toBe(0xe000_0000);
    for (const { slot, device } of m.bus.list()) {
      if (slot === 0) continue;
      const cmd = m.cfgRead(slot, PCI_COMMAND, 2);
      const hasIo = device.bars.some((b) => b?.kind === "io");
      const hasMem = device.bars.some((b) => b?.kind === "mem32");
      expect(cmd & PCI_COMMAND_IO).toBe(hasIo ? PCI_COMMAND_IO : 0);
      expect(cmd & PCI_COMMAND_MEMORY).toBe(hasMem ? PCI_COMMAND_MEMORY : 0);
      expect(cmd & PCI_COMMAND_MASTER).toBe(PCI_COMMAND_MASTER);
    }
  });

  it("assigns interrupt lines round-robin from the list and reports the level-triggered IRQs", () => {
    const m = populated();
    const r = assignResources(m.bus, { irqs: [10, 11, 5, 9] });
    // Functions with a pin, in slot order: blk(1) net(2) rng(4) console(5) balloon(6); ide has none.
    expect(r.interrupts.map((i) => [i.slot, i.irq])).toEqual([
      [1, 10],
      [2, 11],
      [4, 5],
      [5, 9],
      [6, 10],
    ]);
    expect(r.interrupts[4]!.pin).toBe(3);
    expect(r.levelTriggeredIrqs).toEqual([5, 9, 10, 11]);
    expect(r.elcr).toBe((1 << 5) | (1 << 9) | (1 << 10) | (1 << 11));
    expect(m.cfgRead(1, PCI_INTERRUPT_LINE, 1)).toBe(10);
    expect(m.cfgRead(6, PCI_INTERRUPT_LINE, 1)).toBe(10);
    expect(m.cfgRead(3, PCI_INTERRUPT_LINE, 1)).toBe(0);
    m.devs[5]!.setIrq(true);
    expect(m.irqs.get(10)!.level).toBe(true);
  });

  it("throws when the resources do not fit or an IRQ is unusable", () => {
    expect(() => assignResources(populated().bus, { ioBase: 0xff80 })).toThrow(/does not fit/);
    expect(() => assignResources(populated().bus, { memLimit: 0xe000_8000 })).toThrow(/does not fit/);
    expect(() => assignResources(populated().bus, { irqs: [2] })).toThrow(RangeError);
    expect(() => assignResources(populated().bus, { irqs: [] })).toThrow(/empty/);
    const m = populated();
    m.pio.map(0xc000, 4, new Regs("squatter"));
    expect(() => assignResources(m.bus)).toThrow(/overlaps/);
  });
});

describe("reset and snapshots", () => {
  it("reset clears BARs, command and routes; loadState restores mappings and IRQ levels", () => {
    const m = makeMachine();
    const regs = new Regs("r");
    const dev = makeDevice("dev", [{ kind: "io", size: 32, device: regs }]);
    m.bus.add(dev, 1);
    assignResources(m.bus, { irqs: [11] });
    dev.setIrq(true);
    m.outl(0xcf8, m.addr(1, 0, 0x10));
    const saved = m.bus.saveState();
    const copy = JSON.parse(JSON.stringify(saved));

    m.bus.reset();
    expect(m.bus.configAddress).toBe(0);
    expect(m.cfgRead(1, 0x10, 4)).toBe(1);
    expect(m.cfgRead(1, PCI_COMMAND, 2)).toBe(0);
    expect(m.cfgRead(1, PCI_INTERRUPT_LINE, 1)).toBe(0);
    expect(m.pio.find(0xc000)).toBeUndefined();
    expect(m.irqs.get(11)!.level).toBe(false);
    expect(dev.interruptRoute).toBeUndefined();
    expect(m.cfgRead(1, 0x00, 2)).toBe(0x1af4); // identity survives

    m.bus.loadState(copy);
    expect(m.bus.configAddress).toBe(m.addr(1, 0, 0x10));
    expect(m.inp(0xcfc, 4)).toBe(0xc001);
    expect(m.pio.read(0xc002, 1)).toBe(0xa2);
    expect(m.irqs.get(11)!.level).toBe(true);
    expect(dev.interruptRoute).toBe(11);
  });
});
