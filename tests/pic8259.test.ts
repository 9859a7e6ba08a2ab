import { describe, expect, it } from "vitest";
import { Pic8259Pair } from "../src/devices/pic8259.js";

// Offsets within each chip's 2-port window (0x20/0x21, 0xA0/0xA1).
const CMD = 0;
const DATA = 1;

/** A PIC pair initialized the way Linux's init_8259A does (ICW1 0x11, ICW2 0x20/0x28, ICW3 4/2, ICW4 1). */
function makePic(opts: { autoEoi?: boolean } = {}) {
  const pic = new Pic8259Pair();
  const outputs: boolean[] = [];
  pic.onOutput((level) => outputs.push(level));
  const m = (off: number, v: number) => pic.master.write(off, 1, v);
  const s = (off: number, v: number) => pic.slave.write(off, 1, v);
  const rm = (off: number) => pic.master.read(off, 1);
  const rs = (off: number) => pic.slave.read(off, 1);
  const icw4 = opts.autoEoi ? 0x03 : 0x01;
  m(DATA, 0xff); // mask all (Linux does this first)
  s(DATA, 0xff);
  m(CMD, 0x11); // ICW1: edge, cascade, ICW4 needed
  m(DATA, 0x20); // ICW2: vectors 0x20-0x27
  m(DATA, 0x04); // ICW3: slave on IR2
  m(DATA, icw4); // ICW4: 8086 mode (and auto-EOI)
  s(CMD, 0x11);
  s(DATA, 0x28); // vectors 0x28-0x2F
  s(DATA, 0x02); // ICW3: slave identity 2
  s(DATA, icw4);
  m(DATA, 0x00); // unmask all
  s(DATA, 0x00);
  outputs.length = 0;
  return { pic, outputs, m, s, rm, rs };
}

/** Pulse an edge-triggered line (up then down). */
function pulse(pic: Pic8259Pair, n: number) {
  pic.irq(n).set(true);
  pic.irq(n).set(false);
}

const readIsr = (write: (o: number, v: number) => void, read: (o: number) => number) => {
  write(CMD, 0x0b);
  const v = read(CMD);
  write(CMD, 0x0a);
  return v;
};

describe("Pic8259Pair initialization", () => {
  it("powers up with every input masked, so an unprogrammed PIC never interrupts", () => {
    const pic = new Pic8259Pair();
    pic.irq(0).set(true);
    expect(pic.output).toBe(false);
    expect(pic.imr).toBe(0xffff);
    expect(pic.irr & 1).toBe(1);
  });

  it("programs both chips with Linux's ICW sequence and reads back the IMR", () => {
    const { pic, m, rm, rs } = makePic();
    expect(rm(DATA)).toBe(0);
    expect(rs(DATA)).toBe(0);
    m(DATA, 0xfb);
    expect(rm(DATA)).toBe(0xfb);
    expect(pic.imr).toBe(0xfb);
    expect(pic.output).toBe(false);
  });

  it("reports the master's INT output through onOutput only on changes", () => {
    const { pic, outputs, m } = makePic();
    pic.irq(0).set(true);
    pic.irq(0).set(true); // same level again: no new edge
    expect(outputs).toEqual([true]);
    expect(pic.acknowledge()).toBe(0x20);
    expect(outputs).toEqual([true, false]);
    m(CMD, 0x20); // EOI
    expect(outputs).toEqual([true, false]);
  });

  it("ICW1 resets the IMR, ISR, priority and edge latches", () => {
    const { pic, m, rm } = makePic();
    m(DATA, 0x0f);
    pic.irq(4).set(true);
    pic.acknowledge();
    m(CMD, 0xc4); // set priority: IR4 lowest
    m(CMD, 0x11);
    m(DATA, 0x40);
    m(DATA, 0x04);
    m(DATA, 0x01);
    expect(rm(DATA)).toBe(0);
    expect(readIsr(m, rm)).toBe(0);
    expect(rm(CMD)).toBe(0); // IRR: the edge latch was reset
    // The IR4 line is still high: it must go low and high again to request.
    expect(pic.output).toBe(false);
    pic.irq(4).set(false);
    pic.irq(4).set(true);
    expect(pic.acknowledge()).toBe(0x44);
  });
});

describe("Pic8259Pair priorities, EOI and masking", () => {
  it("delivers the highest priority first and nests by ISR", () => {
    const { pic, m, rm } = makePic();
    pic.irq(3).set(true);
    pic.irq(1).set(true);
    expect(pic.acknowledge()).toBe(0x21);
    expect(readIsr(m, rm)).toBe(0x02);
    // IR3 is lower priority than the in-service IR1: INT stays low until EOI.
    expect(pic.output).toBe(false);
    // A higher-priority IR0 interrupts the IR1 handler.
    pic.irq(0).set(true);
    expect(pic.output).toBe(true);
    expect(pic.acknowledge()).toBe(0x20);
    expect(readIsr(m, rm)).toBe(0x03);
    m(CMD, 0x20); // non-specific EOI clears IR0 (highest in service)
    expect(readIsr(m, rm)).toBe(0x02);
    expect(pic.output).toBe(false);
    m(CMD, 0x20);
    expect(pic.output).toBe(true);
    expect(pic.acknowledge()).toBe(0x23);
  });

  it("clears an edge IRR bit on acknowledge and reads IRR/ISR via OCW3", () => {
    const { pic, m, rm } = makePic();
    pic.irq(5).set(true);
    m(CMD, 0x0a); // read IRR
    expect(rm(CMD)).toBe(0x20);
    pic.acknowledge();
    expect(rm(CMD)).toBe(0x00);
    m(CMD, 0x0b); // read ISR
    expect(rm(CMD)).toBe(0x20);
    expect(rm(CMD)).toBe(0x20); // the selection sticks
    m(CMD, 0x65); // specific EOI for IR5 (as Linux's mask_and_ack_8259A)
    expect(rm(CMD)).toBe(0);
  });

  it("masked requests stay in IRR and are delivered when unmasked", () => {
    const { pic, outputs, m } = makePic();
    m(DATA, 0x01);
    pulse(pic, 0);
    expect(pic.output).toBe(false);
    expect(pic.irr & 1).toBe(1);
    m(DATA, 0x00);
    expect(outputs).toEqual([true]);
    expect(pic.acknowledge()).toBe(0x20);
  });

  it("rotates priorities on non-specific EOI, on specific EOI and by set-priority", () => {
    const { pic, m } = makePic();
    pic.irq(0).set(true);
    expect(pic.acknowledge()).toBe(0x20);
    m(CMD, 0xa0); // rotate on non-specific EOI: IR0 becomes lowest
    pic.irq(0).set(false);
    pic.irq(0).set(true);
    pic.irq(1).set(true);
    expect(pic.acknowledge()).toBe(0x21); // IR1 now highest
    m(CMD, 0xe1); // rotate on specific EOI for IR1: IR1 lowest, IR2 highest
    expect(pic.acknowledge()).toBe(0x20); // IR0 (priority 6 of 8) still before IR1
    m(CMD, 0x60);
    m(CMD, 0xc6); // set priority: IR6 lowest, IR7 highest
    pic.irq(7).set(true);
    pic.irq(3).set(true);
    expect(pic.acknowledge()).toBe(0x27);
  });

  it("auto-EOI sets no ISR bit, and rotates when asked", () => {
    const { pic, m, rm } = makePic({ autoEoi: true });
    pic.irq(1).set(true);
    pic.irq(4).set(true);
    expect(pic.acknowledge()).toBe(0x21);
    expect(readIsr(m, rm)).toBe(0);
    expect(pic.acknowledge()).toBe(0x24);
    m(CMD, 0x80); // rotate in auto-EOI mode (set)
    pic.irq(1).set(false);
    pic.irq(1).set(true);
    pic.irq(0).set(true);
    expect(pic.acknowledge()).toBe(0x20); // IR0 highest; it then becomes lowest
    pic.irq(0).set(false);
    pic.irq(0).set(true);
    expect(pic.acknowledge()).toBe(0x21);
    expect(pic.acknowledge()).toBe(0x20);
  });
});

describe("Pic8259Pair cascade", () => {
  it("delivers slave interrupts with the slave's vectors through master IR2", () => {
    const { pic, m, s, rm, rs } = makePic();
    pic.irq(8).set(true);
    expect(pic.output).toBe(true);
    expect(pic.acknowledge()).toBe(0x28);
    expect(readIsr(m, rm)).toBe(0x04);
    expect(readIsr(s, rs)).toBe(0x01);
    pic.irq(14).set(true);
    pic.irq(8).set(false);
    expect(pic.output).toBe(false); // IR2 is in service on the master
    s(CMD, 0x60); // specific EOI IR0 on the slave
    m(CMD, 0x62); // specific EOI IR2 on the master
    expect(pic.output).toBe(true);
    expect(pic.acknowledge()).toBe(0x2e);
  });

  it("orders slave interrupts between IRQ 1 and IRQ 3", () => {
    const { pic, m, s } = makePic();
    pic.irq(3).set(true);
    pic.irq(12).set(true);
    pic.irq(1).set(true);
    expect(pic.acknowledge()).toBe(0x21);
    m(CMD, 0x20);
    expect(pic.acknowledge()).toBe(0x2c);
    s(CMD, 0x20);
    m(CMD, 0x20);
    expect(pic.acknowledge()).toBe(0x23);
  });

  it("masking the slave's input on the master holds slave interrupts back", () => {
    const { pic, m } = makePic();
    m(DATA, 0x04);
    pic.irq(9).set(true);
    expect(pic.output).toBe(false);
    m(DATA, 0x00);
    expect(pic.acknowledge()).toBe(0x29);
  });
});

describe("Pic8259Pair level/edge (ELCR)", () => {
  it("forces IRQ 0, 1, 2, 8 and 13 to edge as on the PIIX", () => {
    const { pic } = makePic();
    pic.elcr.write(0, 1, 0xff);
    pic.elcr.write(1, 1, 0xff);
    expect(pic.elcr.read(0, 1)).toBe(0xf8);
    expect(pic.elcr.read(1, 1)).toBe(0xde);
  });

  it("level mode: IRR follows the line; the interrupt repeats after EOI while the line is high", () => {
    const { pic, m, s } = makePic();
    pic.elcr.write(1, 1, 0x08); // IRQ 11 level-triggered
    pic.irq(11).set(true);
    expect(pic.acknowledge()).toBe(0x2b);
    expect(pic.irr & (1 << 11)).not.toBe(0); // still requested: the line is high
    s(CMD, 0x20);
    m(CMD, 0x20);
    expect(pic.output).toBe(true);
    expect(pic.acknowledge()).toBe(0x2b);
    pic.irq(11).set(false); // the handler services the device, then sends the EOIs
    expect(pic.irr & (1 << 11)).toBe(0);
    s(CMD, 0x20);
    m(CMD, 0x20);
    expect(pic.output).toBe(false);
  });

  it("edge mode: a latched request survives the line dropping; a held line does not repeat", () => {
    const { pic, m } = makePic();
    pulse(pic, 4);
    expect(pic.acknowledge()).toBe(0x24);
    m(CMD, 0x20);
    expect(pic.output).toBe(false);
    pic.irq(4).set(true);
    expect(pic.acknowledge()).toBe(0x24);
    m(CMD, 0x20);
    expect(pic.output).toBe(false); // still high, no new edge
  });

  it("switching an input to level mode samples the line", () => {
    const { pic } = makePic();
    pic.irq(10).set(true);
    expect(pic.acknowledge()).toBe(0x2a);
    pic.slave.write(CMD, 1, 0x20);
    pic.master.write(CMD, 1, 0x20);
    expect(pic.output).toBe(false);
    pic.elcr.write(1, 1, 0x04);
    expect(pic.output).toBe(true);
    expect(pic.acknowledge()).toBe(0x2a);
  });
});

describe("Pic8259Pair spurious interrupts", () => {
  it("answers IRQ 7 (vector base + 7, no ISR bit) when the request went away before INTA", () => {
    const { pic, outputs, m, rm } = makePic();
    pic.elcr.write(0, 1, 0x20); // IRQ 5 level
    pic.irq(5).set(true);
    expect(outputs).toEqual([true]);
    pic.irq(5).set(false);
    expect(pic.output).toBe(false);
    expect(pic.acknowledge()).toBe(0x27);
    expect(readIsr(m, rm)).toBe(0);
  });

  it("answers IRQ 7 when the IMR masked the request before INTA", () => {
    const { pic, m, rm } = makePic();
    pic.irq(6).set(true);
    m(DATA, 0x40);
    expect(pic.acknowledge()).toBe(0x27);
    expect(readIsr(m, rm)).toBe(0);
  });

  it("answers IRQ 15 for a vanished slave request, with the master's cascade ISR bit set", () => {
    const { pic, m, s, rm, rs } = makePic();
    pic.elcr.write(1, 1, 0x02); // IRQ 9 level
    pic.irq(9).set(true);
    expect(pic.output).toBe(true);
    pic.irq(9).set(false);
    // The master latched the edge from the slave's INT on IR2.
    expect(pic.output).toBe(true);
    expect(pic.acknowledge()).toBe(0x2f);
    expect(readIsr(s, rs)).toBe(0);
    expect(readIsr(m, rm)).toBe(0x04);
    m(CMD, 0x62); // the handler EOIs the master only (Linux does this for spurious IRQ 15)
    expect(readIsr(m, rm)).toBe(0);
  });
});

describe("Pic8259Pair special mask mode", () => {
  it("lets lower priorities in while a masked level is in service", () => {
    const { pic, m, rm } = makePic();
    pic.irq(1).set(true);
    expect(pic.acknowledge()).toBe(0x21);
    pic.irq(4).set(true);
    expect(pic.output).toBe(false); // fully nested: IR4 waits for IR1's EOI
    m(DATA, 0x02); // mask IR1 (the one in service)
    m(CMD, 0x68); // OCW3: ESMM + SMM
    expect(pic.output).toBe(true);
    expect(pic.acknowledge()).toBe(0x24);
    expect(readIsr(m, rm)).toBe(0x12);
    // A non-specific EOI does not clear a masked ISR bit in special mask mode: IR4 goes first.
    m(CMD, 0x20);
    expect(readIsr(m, rm)).toBe(0x02);
    m(CMD, 0x20);
    expect(readIsr(m, rm)).toBe(0x02);
    m(CMD, 0x48); // OCW3: ESMM, SMM off
    m(DATA, 0x00);
    m(CMD, 0x61);
    expect(readIsr(m, rm)).toBe(0);
  });
});

describe("Pic8259Pair poll mode", () => {
  it("returns 0x80 | level and acknowledges; 0 when nothing is pending", () => {
    const { pic, m, rm } = makePic();
    m(CMD, 0x0c); // OCW3: poll
    expect(rm(CMD)).toBe(0);
    pic.irq(6).set(true);
    m(CMD, 0x0c);
    expect(rm(DATA)).toBe(0x86); // the poll read works on either port
    expect(readIsr(m, rm)).toBe(0x40);
    expect(rm(DATA)).toBe(0); // back to IMR reads
  });

  it("polling the slave after a master IR2 poll", () => {
    const { pic, m, s, rm, rs } = makePic();
    pic.irq(13).set(true);
    m(CMD, 0x0c);
    expect(rm(CMD)).toBe(0x82);
    s(CMD, 0x0c);
    expect(rs(CMD)).toBe(0x85);
  });
});

describe("Pic8259Pair access width and state", () => {
  it("a wider access uses the low byte", () => {
    const { pic } = makePic();
    pic.master.write(DATA, 2, 0x1234);
    expect(pic.master.read(DATA, 2)).toBe(0xff34);
    expect(pic.master.read(DATA, 4)).toBe(0xffffff34);
  });

  it("saves and restores state, re-driving INT", () => {
    const { pic } = makePic();
    pic.irq(3).set(true);
    pic.irq(12).set(true);
    const saved = pic.saveState();
    const other = new Pic8259Pair();
    const seen: boolean[] = [];
    other.onOutput((l) => seen.push(l));
    other.loadState(JSON.parse(JSON.stringify(saved)));
    expect(seen).toEqual([false, true]);
    expect(other.acknowledge()).toBe(0x2c);
    expect(other.saveState()).not.toEqual(saved);
    expect(pic.acknowledge()).toBe(0x2c);
    expect(other.saveState()).toEqual(pic.saveState());
  });

  it("rejects IRQ numbers outside 0-15", () => {
    expect(() => new Pic8259Pair().irq(16)).toThrow(RangeError);
  });
});
