// The PIIX3 IDE controller driven port by port, as a driver would: ATA/ATAPI-6 register protocol
// (PIO data-in/data-out, DMA, non-data), SFF-8038i bus master DMA with PRD tables in guest RAM, and
// the PIIX3 configuration registers, over a MemoryDisk.
import { describe, expect, it } from "vitest";
import { IoBus } from "../src/bus/io-bus.js";
import { MemoryDisk } from "../src/disk/memory-disk.js";
import { assignResources } from "../src/pci/firmware.js";
import { PciBus } from "../src/pci/pci-bus.js";
import { PCI_COMMAND, PCI_COMMAND_MASTER } from "../src/pci/config-space.js";
import { PiixIde, type IdeDiagnostic } from "../src/ide/piix-ide.js";
import { RecordingIrq } from "./helpers/recording-irq.js";
import { Machine } from "../src/machine.js";

const SECTORS = 128;
const PRD = 0x1000;
const BUF = 0x10000;
const RAM = 1 << 20;

function setup(opts: { readOnly?: boolean; slave?: boolean } = {}) {
  const pio = new IoBus("pio", 0x10000);
  const mmio = new IoBus("mmio", 2 ** 32);
  const irqs = new Map<number, RecordingIrq>();
  const irq = (n: number) => {
    if (!irqs.has(n)) irqs.set(n, new RecordingIrq());
    return irqs.get(n)!;
  };
  const pci = new PciBus({ pio, mmio, irq });
  const disk = new MemoryDisk(SECTORS * 512, { readOnly: opts.readOnly });
  disk.bytes.forEach((_, i) => (disk.bytes[i] = (i * 7 + (i >> 9)) & 0xff));
  const ram = new Uint8Array(RAM);
  const diagnostics: IdeDiagnostic[] = [];
  const drives = [{ backend: disk }, opts.slave ? { backend: new MemoryDisk(512 * 8) } : undefined];
  const ide = new PiixIde({ drives, ram, pio, irq, onDiagnostic: (d) => diagnostics.push(d) });
  pci.add(ide);
  const res = assignResources(pci);
  const bmBase = res.bars.find((b) => b.bar === 4)!.base;
  const inb = (port: number) => pio.read(port, 1);
  const outb = (port: number, v: number) => pio.write(port, 1, v);
  const inw = (port: number) => pio.read(port, 2);
  const outw = (port: number, v: number) => pio.write(port, 2, v);
  const irq14 = irq(14);
  const view = new DataView(ram.buffer);
  return { pio, pci, ide, disk, ram, view, diagnostics, bmBase, inb, outb, inw, outw, irq14, res, irq };
}

type Ctx = ReturnType<typeof setup>;

/** Program an LBA28 command (device 0, LBA mode) and issue it. */
function lba28(t: Ctx, cmd: number, lba: number, count: number, features = 0): void {
  t.outb(0x1f6, 0xe0 | ((lba >>> 24) & 0x0f));
  t.outb(0x1f1, features);
  t.outb(0x1f2, count & 0xff);
  t.outb(0x1f3, lba & 0xff);
  t.outb(0x1f4, (lba >>> 8) & 0xff);
  t.outb(0x1f5, (lba >>> 16) & 0xff);
  t.outb(0x1f7, cmd);
}

/** Read `words` 16-bit words from the Data register. */
function readWords(t: Ctx, words: number): Uint8Array {
  const out = new Uint8Array(words * 2);
  for (let i = 0; i < words; i++) {
    const w = t.inw(0x1f0);
    out[2 * i] = w & 0xff;
    out[2 * i + 1] = w >> 8;
  }
  return out;
}

function identify(t: Ctx): Uint16Array {
  t.outb(0x1f6, 0xa0);
  t.outb(0x1f7, 0xec);
  const b = readWords(t, 256);
  return new Uint16Array(b.buffer);
}

function ataString(id: Uint16Array, from: number, words: number): string {
  let s = "";
  for (let i = from; i < from + words; i++) s += String.fromCharCode(id[i]! >> 8, id[i]! & 0xff);
  return s.trimEnd();
}

/** Write a PRD table at PRD: [address, byte count, eot]. */
function prdTable(t: Ctx, entries: [number, number, boolean][]): void {
  entries.forEach(([addr, count, eot], i) => {
    t.view.setUint32(PRD + 8 * i, addr, true);
    t.view.setUint32(PRD + 8 * i + 4, (count & 0xffff) | (eot ? 0x80000000 : 0), true);
  });
  t.pio.write(t.bmBase + 4, 4, PRD);
}

describe("PIIX3 IDE: PCI function", () => {
  it("is 8086:7010, class 01.01 prog-if 80, with BAR4 (16 I/O ports) and both channels decoding", () => {
    const t = setup();
    const slot = t.pci.list().find((e) => e.device === t.ide)!.slot;
    expect(t.pci.configRead(slot, 0, 0, 4)).toBe(0x70108086);
    expect(t.pci.configRead(slot, 0, 0x08, 4) >>> 8).toBe(0x010180);
    expect(t.pci.configRead(slot, 0, 0x10, 4)).toBe(0); // no BAR0-3 in compatibility mode
    expect(t.res.bars).toEqual([expect.objectContaining({ bar: 4, kind: "io", size: 16 })]);
    expect(t.pci.configRead(slot, 0, 0x3d, 1)).toBe(0); // no INTx#: IRQ 14/15 are legacy ISA lines
    expect(t.pci.configRead(slot, 0, 0x40, 2) & 0x8000).toBe(0x8000);
    expect(t.pci.configRead(slot, 0, 0x42, 2) & 0x8000).toBe(0x8000);
    // IDETIM is read/write (ata_piix programs timings there).
    t.pci.configWrite(slot, 0, 0x40, 2, 0xa307);
    expect(t.pci.configRead(slot, 0, 0x40, 2)).toBe(0xa307);
  });

  it("stops decoding a channel whose IDE Decode Enable bit is 0, and a channel without drives floats", () => {
    const t = setup();
    expect(t.inb(0x1f7)).toBe(0x50);
    const slot = t.pci.list().find((e) => e.device === t.ide)!.slot;
    t.pci.configWrite(slot, 0, 0x40, 2, 0x0000);
    expect(t.inb(0x1f7)).toBe(0xff);
    expect(t.inb(0x177)).toBe(0xff); // secondary: no drives
    expect(t.inb(0x376)).toBe(0xff);
  });
});

describe("PIIX3 IDE: ATA registers and commands", () => {
  it("SRST: busy while set, then the ATA signature (ATA/ATAPI-6 signature: 01h 01h 00h 00h) and diagnostic code 01h", () => {
    const t = setup();
    t.outb(0x1f2, 0x55);
    t.outb(0x1f3, 0xaa);
    t.outb(0x3f6, 0x04);
    expect(t.inb(0x3f6) & 0x80).toBe(0x80);
    t.outb(0x3f6, 0x00);
    expect(t.inb(0x1f7)).toBe(0x50);
    expect([t.inb(0x1f2), t.inb(0x1f3), t.inb(0x1f4), t.inb(0x1f5), t.inb(0x1f1)]).toEqual([1, 1, 0, 0, 1]);
    expect(t.irq14.events).toEqual([]);
  });

  it("IDENTIFY DEVICE describes an LBA48 disk with the capacity, DMA modes, multiple count and a valid checksum", () => {
    const t = setup();
    t.outb(0x1f6, 0xa0);
    t.outb(0x1f7, 0xec);
    expect(t.irq14.level).toBe(true);
    expect(t.inb(0x3f6)).toBe(0x58); // Alternate Status: DRDY DSC DRQ, does not acknowledge
    expect(t.irq14.level).toBe(true);
    expect(t.inb(0x1f7)).toBe(0x58); // Status acknowledges
    expect(t.irq14.level).toBe(false);
    const id = readWords(t, 256);
    const w = new Uint16Array(id.buffer);
    expect(t.inb(0x1f7)).toBe(0x50); // DRQ drops after the 256th word
    expect(w[0]! & 0x8000).toBe(0); // ATA device
    expect(w[49]! & 0x0300).toBe(0x0300); // LBA and DMA supported
    expect(w[60]! | (w[61]! << 16)).toBe(SECTORS);
    expect([w[100], w[101], w[102], w[103]]).toEqual([SECTORS, 0, 0, 0]);
    expect(w[83]! & 0x3400).toBe(0x3400); // FLUSH CACHE EXT, FLUSH CACHE, 48-bit
    expect(w[47]! & 0xff).toBe(16);
    expect(w[59]).toBe(0x0110); // multiple setting valid, 16
    expect(w[63]! & 0x07).toBe(0x07);
    expect(w[88]! & 0x3f).toBe(0x3f);
    expect(w[80]! & 0x40).toBe(0x40); // ATA/ATAPI-6
    expect(ataString(w, 27, 20)).toBe("trapdoor ATA disk");
    expect(ataString(w, 10, 10)).toBe("TRAPDOOR-ATA-0");
    expect(id[510]).toBe(0xa5);
    expect(id.reduce((a, b) => a + b, 0) & 0xff).toBe(0);
  });

  it("SET FEATURES selects a transfer mode (words 63/88) and SET MULTIPLE MODE changes word 59", () => {
    const t = setup();
    lba28(t, 0xef, 0, 0x22, 0x03); // MWDMA2
    expect(t.inb(0x1f7)).toBe(0x50);
    expect(identify(t)[63]).toBe(0x0407);
    lba28(t, 0xef, 0, 0x45, 0x03); // UDMA5
    let id = identify(t);
    expect([id[63], id[88]]).toEqual([0x0007, 0x203f]);
    lba28(t, 0xef, 0, 0x46, 0x03); // UDMA6: not supported
    expect([t.inb(0x1f7), t.inb(0x1f1)]).toEqual([0x51, 0x04]);
    lba28(t, 0xc6, 0, 4);
    expect(t.inb(0x1f7)).toBe(0x50);
    expect(identify(t)[59]).toBe(0x0104);
    lba28(t, 0xc6, 0, 3); // not a power of two
    expect([t.inb(0x1f7), t.inb(0x1f1)]).toEqual([0x51, 0x04]);
    id = identify(t);
    expect(id[59]).toBe(0x0104);
  });

  it("READ SECTORS: one interrupt per sector, data from the disk", () => {
    const t = setup();
    lba28(t, 0x20, 5, 2);
    expect(t.irq14.events).toEqual([true]);
    expect(t.inb(0x1f7)).toBe(0x58);
    const first = readWords(t, 256);
    expect(t.irq14.events).toEqual([true, false, true]);
    expect(t.inb(0x1f7)).toBe(0x58);
    const second = readWords(t, 256);
    expect(t.inb(0x1f7)).toBe(0x50);
    expect(first).toEqual(t.disk.bytes.subarray(5 * 512, 6 * 512));
    expect(second).toEqual(t.disk.bytes.subarray(6 * 512, 7 * 512));
  });

  it("READ MULTIPLE moves `multiple` sectors per interrupt; 32-bit Data accesses move 4 bytes each", () => {
    const t = setup();
    lba28(t, 0xc6, 0, 4);
    t.inb(0x1f7);
    t.irq14.events = [];
    lba28(t, 0xc4, 8, 6); // blocks of 4 and 2 sectors
    const got = new Uint8Array(6 * 512);
    const dv = new DataView(got.buffer);
    t.inb(0x1f7);
    for (let i = 0; i < 4 * 128; i++) dv.setUint32(4 * i, t.pio.read(0x1f0, 4), true);
    expect(t.irq14.events).toEqual([true, false, true]);
    t.inb(0x1f7);
    for (let i = 4 * 128; i < 6 * 128; i++) dv.setUint32(4 * i, t.pio.read(0x1f0, 4), true);
    expect(t.inb(0x1f7)).toBe(0x50);
    expect(got).toEqual(t.disk.bytes.subarray(8 * 512, 14 * 512));
  });

  it("WRITE SECTORS: DRQ without an interrupt for the first sector, an interrupt after the last", () => {
    const t = setup();
    lba28(t, 0x30, 10, 1);
    expect(t.irq14.events).toEqual([]);
    expect(t.inb(0x3f6)).toBe(0x58);
    for (let i = 0; i < 256; i++) t.outw(0x1f0, 0x0100 * (i & 0xff) + 0x11);
    expect(t.irq14.events).toEqual([true]);
    expect(t.inb(0x1f7)).toBe(0x50);
    expect(t.disk.bytes[10 * 512]).toBe(0x11);
    expect(t.disk.bytes[10 * 512 + 3]).toBe(0x01);
    expect(t.disk.bytes[11 * 512]).toBe((11 * 512 * 7 + 11) & 0xff); // next sector untouched
  });

  it("READ SECTORS EXT takes the 48-bit address from the register FIFOs; HOB reads the previous bytes", () => {
    const t = setup();
    t.outb(0x1f6, 0x40);
    t.outb(0x1f2, 0); // count 15:8
    t.outb(0x1f3, 0); // LBA 31:24
    t.outb(0x1f4, 0); // LBA 39:32
    t.outb(0x1f5, 0); // LBA 47:40
    t.outb(0x1f2, 1); // count 7:0
    t.outb(0x1f3, 0x7f); // LBA 7:0
    t.outb(0x1f4, 0);
    t.outb(0x1f5, 0);
    t.outb(0x3f6, 0x80);
    expect(t.inb(0x1f3)).toBe(0); // previous byte
    t.outb(0x3f6, 0x00);
    expect(t.inb(0x1f3)).toBe(0x7f);
    t.outb(0x1f7, 0x24);
    expect(readWords(t, 256)).toEqual(t.disk.bytes.subarray(0x7f * 512, 0x80 * 512));
    // The same with a high byte set addresses sector 2^24 + 0x7f: beyond the disk.
    t.outb(0x1f3, 1);
    t.outb(0x1f3, 0x7f);
    t.outb(0x1f2, 0);
    t.outb(0x1f2, 1);
    t.outb(0x1f7, 0x24);
    expect([t.inb(0x1f7), t.inb(0x1f1)]).toEqual([0x51, 0x10]);
  });

  it("an LBA beyond the disk fails with ERR + IDNF, an interrupt and a diagnostic", () => {
    const t = setup();
    lba28(t, 0x20, SECTORS - 1, 2);
    expect(t.irq14.level).toBe(true);
    expect([t.inb(0x1f7), t.inb(0x1f1)]).toEqual([0x51, 0x10]);
    expect(t.diagnostics).toEqual([
      { where: "ide0.0", message: expect.stringContaining(`sectors ${SECTORS - 1}+2 lie beyond the end`) },
    ]);
    // Data port reads with nothing to transfer are a protocol error too.
    t.inw(0x1f0);
    expect(t.diagnostics.at(-1)!.message).toMatch(/DRQ is 0/);
  });

  it("unknown commands, NOP and IDENTIFY PACKET DEVICE abort; writes to a read-only disk abort", () => {
    const t = setup({ readOnly: true });
    for (const cmd of [0x00, 0xa1, 0xb0, 0xff]) {
      lba28(t, cmd, 0, 1);
      expect([t.inb(0x1f7), t.inb(0x1f1)]).toEqual([0x51, 0x04]);
    }
    lba28(t, 0x30, 0, 1);
    expect([t.inb(0x1f7), t.inb(0x1f1)]).toEqual([0x51, 0x04]);
    expect(t.diagnostics).toEqual([]);
  });

  it("FLUSH CACHE flushes the backend; STANDBY IMMEDIATE and CHECK POWER MODE complete", () => {
    const t = setup();
    lba28(t, 0xe7, 0, 0);
    expect(t.inb(0x1f7)).toBe(0x50);
    lba28(t, 0xea, 0, 0);
    expect(t.disk.flushes).toBe(2);
    lba28(t, 0xe0, 0, 0);
    expect(t.inb(0x1f7)).toBe(0x50);
    lba28(t, 0xe5, 0, 0);
    expect([t.inb(0x1f7), t.inb(0x1f2)]).toEqual([0x50, 0xff]);
  });

  it("nIEN holds the interrupt off the line; clearing it lets the pending interrupt through", () => {
    const t = setup();
    t.outb(0x3f6, 0x02);
    lba28(t, 0xe7, 0, 0);
    expect(t.irq14.events).toEqual([]);
    t.outb(0x3f6, 0x00);
    expect(t.irq14.events).toEqual([true]);
  });

  it("an absent device 1 reads as 00h while device 0 is present; a present one answers itself", () => {
    const t = setup();
    t.outb(0x1f6, 0xb0);
    t.outb(0x1f2, 0x55);
    expect([t.inb(0x1f7), t.inb(0x1f2)]).toEqual([0, 0]);
    t.outb(0x1f7, 0xec); // no device executes it
    expect(t.irq14.events).toEqual([]);
    const u = setup({ slave: true });
    u.outb(0x1f6, 0xb0);
    u.outb(0x1f7, 0xec);
    const id = readWords(u, 256);
    expect(new Uint16Array(id.buffer)[60]).toBe(8);
  });
});

describe("PIIX3 IDE: bus master DMA", () => {
  it("READ DMA scatters into the PRD regions, sets Interrupt, clears Active, interrupts once", () => {
    const t = setup();
    prdTable(t, [
      [BUF, 512, false],
      [BUF + 0x3000, 1024, true],
    ]);
    lba28(t, 0xc8, 20, 3);
    expect(t.irq14.events).toEqual([]); // nothing moves before Start
    t.outb(t.bmBase, 0x09); // Start, bus master writes memory
    expect(t.irq14.events).toEqual([true]);
    expect(t.inb(t.bmBase + 2) & 0x07).toBe(0x04); // Interrupt, no Error, not Active
    expect(t.inb(0x1f7)).toBe(0x50);
    t.outb(t.bmBase, 0x00);
    t.outb(t.bmBase + 2, 0x04); // write 1 to clear Interrupt
    expect(t.inb(t.bmBase + 2) & 0x07).toBe(0);
    expect(t.ram.subarray(BUF, BUF + 512)).toEqual(t.disk.bytes.subarray(20 * 512, 21 * 512));
    expect(t.ram.subarray(BUF + 0x3000, BUF + 0x3400)).toEqual(t.disk.bytes.subarray(21 * 512, 23 * 512));
    expect(t.diagnostics).toEqual([]);
  });

  it("WRITE DMA gathers from the PRD regions (Start before the command works too)", () => {
    const t = setup();
    for (let i = 0; i < 1024; i++) t.ram[BUF + i] = (i * 13) & 0xff;
    prdTable(t, [[BUF, 1024, true]]);
    t.outb(t.bmBase, 0x01); // Start, bus master reads memory
    lba28(t, 0xca, 40, 2);
    expect(t.irq14.events).toEqual([true]);
    expect(t.inb(0x1f7)).toBe(0x50);
    expect(t.disk.bytes.subarray(40 * 512, 42 * 512)).toEqual(t.ram.subarray(BUF, BUF + 1024));
  });

  it("WRITE DMA EXT and a 64 KiB region (byte count 0)", () => {
    const t = setup();
    t.ram.fill(0x5a, BUF, BUF + 0x10000);
    prdTable(t, [[BUF, 0, true]]);
    t.outb(0x1f6, 0x40);
    t.outb(0x1f2, 0);
    t.outb(0x1f2, 128);
    t.outb(0x1f3, 0);
    t.outb(0x1f3, 0);
    t.outb(0x1f7, 0x35);
    t.outb(t.bmBase, 0x01);
    expect(t.inb(0x1f7)).toBe(0x50);
    expect(t.disk.bytes.every((b) => b === 0x5a)).toBe(true);
  });

  it.each([
    ["a region outside guest RAM", [[RAM + 0x1000, 512, true]], /outside guest RAM/],
    ["a region crossing 64 KiB", [[BUF + 0xff00, 512, true]], /crosses a 64 KiB boundary/],
    [
      "a table shorter than the transfer",
      [[BUF, 512, true]],
      /describes 512 bytes but the command moves 1024/,
    ],
    ["an odd address", [[BUF + 1, 1024, true]], /must be even/],
  ] as const)(
    "a bad PRD table (%s) ends in ERR + ABRT, bus master Error and a diagnostic",
    (_, entries, msg) => {
      const t = setup();
      prdTable(
        t,
        entries.map((e) => [...e]),
      );
      lba28(t, 0xc8, 0, 2);
      t.outb(t.bmBase, 0x09);
      expect(t.irq14.events).toEqual([true]);
      expect([t.inb(0x1f7), t.inb(0x1f1)]).toEqual([0x51, 0x04]);
      expect(t.inb(t.bmBase + 2) & 0x07).toBe(0x06); // Interrupt + Error, not Active
      expect(t.diagnostics).toHaveLength(1);
      expect(t.diagnostics[0]!.where).toBe("ide0-bm");
      expect(t.diagnostics[0]!.message).toMatch(msg);
    },
  );

  it("a PRD table pointer at the end of RAM, the wrong direction or bus mastering off are refused", () => {
    const t = setup();
    t.pio.write(t.bmBase + 4, 4, RAM - 4);
    lba28(t, 0xc8, 0, 1);
    t.outb(t.bmBase, 0x09);
    expect(t.diagnostics.at(-1)!.message).toMatch(/PRD entry 0 at 0xffffc is outside guest RAM/);
    prdTable(t, [[BUF, 512, true]]);
    t.outb(t.bmBase, 0);
    lba28(t, 0xc8, 0, 1);
    t.outb(t.bmBase, 0x01); // reads memory, but READ DMA writes it
    expect(t.diagnostics.at(-1)!.message).toMatch(/Read\/Write Control/);
    t.outb(t.bmBase, 0);
    const slot = t.pci.list().find((e) => e.device === t.ide)!.slot;
    t.pci.configWrite(
      slot,
      0,
      PCI_COMMAND,
      2,
      t.pci.configRead(slot, 0, PCI_COMMAND, 2) & ~PCI_COMMAND_MASTER,
    );
    lba28(t, 0xc8, 0, 1);
    t.outb(t.bmBase, 0x09);
    expect(t.diagnostics.at(-1)!.message).toMatch(/Bus Master\) clear/);
    expect(t.diagnostics).toHaveLength(3);
    expect(t.ram.subarray(BUF, BUF + 512).every((b) => b === 0)).toBe(true);
  });
});

describe("PIIX3 IDE: snapshots", () => {
  it("a controller restored mid-transfer delivers the rest of the data and the same registers", () => {
    const t = setup();
    lba28(t, 0xc6, 0, 2);
    t.inb(0x1f7);
    lba28(t, 0xc4, 30, 4); // two blocks of 2 sectors
    const first = readWords(t, 300); // into the first block
    const u = setup();
    u.ide.loadIdeState(JSON.parse(JSON.stringify(t.ide.saveIdeState())));
    expect(u.irq14.level).toBe(t.irq14.level);
    const rest = readWords(u, 4 * 256 - 300);
    expect([...first, ...rest]).toEqual([...t.disk.bytes.subarray(30 * 512, 34 * 512)]);
    expect(u.inb(0x1f7)).toBe(0x50);
    expect(u.ide.saveIdeState().channels[0]!.drives[0]!.multiple).toBe(2);
    expect(u.pio.read(u.bmBase + 2, 1)).toBe(t.pio.read(t.bmBase + 2, 1));
  });

  it("a command written while SRST holds the device busy is ignored with a diagnostic", () => {
    const t = setup();
    t.outb(0x3f6, 0x04);
    t.outb(0x1f7, 0xec);
    expect(t.diagnostics.at(-1)!.message).toMatch(/busy/);
    t.outb(0x3f6, 0x00);
    expect(t.inb(0x1f7)).toBe(0x50);
  });
});

describe("PIIX3 IDE in the Machine", () => {
  it("takes the next free slot after the virtio drives (which keep theirs) and decodes after firmware", async () => {
    const disk = (n: number) => new MemoryDisk(n * 512);
    const m = await Machine.create({
      memory: "4M",
      drives: [
        { backend: disk(8), interface: "ide" },
        { backend: disk(16) },
        { backend: disk(32), interface: "ide" },
      ],
    });
    const slots = m.platform.pci.list().map((e) => [e.slot, e.device.name]);
    expect(slots).toEqual([
      [0, expect.any(String)],
      [1, "virtio-blk0"],
      [2, "piix3-ide"],
    ]);
    expect(m.drives).toHaveLength(1);
    expect([m.ide!.drive(0)!.sectors, m.ide!.drive(1)!.sectors, m.ide!.drive(2)]).toEqual([8, 32, undefined]);
    expect(m.pio.read(0x1f7, 1)).toBe(0x50);
    expect(m.ide!.barMapping(4)).toBeGreaterThanOrEqual(0xc000);
    await expect(
      Machine.create({
        memory: "4M",
        drives: Array.from({ length: 5 }, () => ({ backend: disk(8), interface: "ide" as const })),
      }),
    ).rejects.toThrow(/5 IDE drives/);
  });
});
