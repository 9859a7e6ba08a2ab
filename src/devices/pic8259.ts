import type { AccessWidth, IoDevice } from "../bus/device.js";
import type { IrqLine } from "./irq.js";

/*
 * The PC/AT pair of Intel 8259A programmable interrupt controllers: a master (ports 0x20-0x21, IRQ 0-7)
 * and a slave (0xA0-0xA1, IRQ 8-15) whose INT output is wired to the master's IR2, plus the PIIX
 * Edge/Level Control Registers (ELCR, ports 0x4D0-0x4D1). Register behaviour follows the Intel 8259A
 * datasheet (order 231468): ICW1-ICW4 initialization, OCW1 (IMR), OCW2 (EOI and rotation), OCW3 (read
 * register select, poll, special mask mode), and the interrupt sequence; the ELCR follows the Intel
 * 82371AB (PIIX4) datasheet, section "ELCR1/ELCR2".
 *
 * Modelling choices:
 *  - Delivery: the master's INT output is reported through onOutput(level) only when it changes; the
 *    machine turns it into the core's pending word, and the core calls acknowledge() (the INTA cycle)
 *    only when it takes the interrupt. Nothing is called per instruction.
 *  - 8086 mode only: vectors are always delivered as ICW2 (bits 7-3) + IR level. ICW4.uPM = 0
 *    (MCS-80/85 CALL sequences) and ICW1.ADI are stored but have no effect, as on every x86 PC.
 *  - Cascade wiring is fixed as on the PC: the slave's INT drives master IR2 and the master always
 *    asks the slave for the vector when it acknowledges IR2. ICW3 is stored for readback only.
 *  - Special fully nested mode (ICW4.SFNM) is stored but ignored: an in-service IR2 blocks further
 *    slave interrupts until the master gets its EOI (plain fully nested mode). PCs never use SFNM.
 *  - Buffered mode (ICW4.BUF, M/S) is stored and ignored (it only drives the SP/EN pin).
 *  - Edge-triggered inputs (ELCR bit 0 and ICW1.LTIM 0) set their IRR bit on a rising edge and keep it
 *    until the interrupt is acknowledged, even if the line drops again (as QEMU). The datasheet asks the
 *    input to stay high until INTA; keeping the latch means a device pulse that an emulator samples
 *    coarsely is never lost. The edge detector compares against the pin's previous level, which
 *    initialization does not change: after ICW1 a line that is already high must go low and high
 *    again to request an interrupt (datasheet: "the edge sense circuit is reset").
 *  - Level-triggered inputs (ELCR bit 1, or ICW1.LTIM = 1): IRR follows the line while the line is
 *    high and clears when it drops. An acknowledge does not clear IRR (the line is still high).
 *  - Spurious interrupts: if nothing is requesting when INTA comes (the request went away between
 *    INT and INTA, e.g. a level line dropped, or the IMR masked it), the chip answers with IR7's vector
 *    and sets no ISR bit (datasheet: "Interrupt Sequence"). For the slave, the master did see a request
 *    on IR2, so the master sets its ISR bit 2 (unless in auto-EOI) and the slave answers IR7
 *    (vector base + 7 = IRQ 15) with no slave ISR bit: the handler must EOI the master only. This is
 *    also QEMU's behaviour and what Linux's spurious-IRQ handling expects.
 *  - Special mask mode (OCW3 ESMM/SMM): a masked ISR bit does not block lower-priority interrupts, and
 *    a non-specific EOI does not clear a masked ISR bit (datasheet, "Special Mask Mode" and "End of
 *    Interrupt").
 *  - ELCR: bits for IRQ 0, 1, 2, 8 and 13 are forced to 0 (edge), as on the PIIX: master mask 0xF8,
 *    slave mask 0xDE.
 *  - Access width: the chips are byte-wide. A wider access uses only the low byte at the given offset;
 *    upper bytes of a read are all ones and upper bytes of a write are ignored.
 */

/** ELCR bits that can be set (PIIX): IRQ 0, 1, 2 on the master and IRQ 8, 13 on the slave are edge-only. */
export const ELCR_MASTER_MASK = 0xf8;
export const ELCR_SLAVE_MASK = 0xde;

// ICW1 bits (written to offset 0 with bit 4 set).
const ICW1_IC4 = 0x01; // ICW4 needed
const ICW1_SNGL = 0x02; // single (no ICW3)
const ICW1_LTIM = 0x08; // level-triggered mode for all inputs
const ICW1_INIT = 0x10;
// ICW4 bits.
const ICW4_AEOI = 0x02;
// OCW3 bits (written to offset 0 with bit 3 set, bit 4 clear).
const OCW3_SELECT = 0x08;
const OCW3_RIS = 0x01; // read ISR (with RR)
const OCW3_RR = 0x02; // read register command
const OCW3_POLL = 0x04;
const OCW3_SMM = 0x20; // special mask mode (with ESMM)
const OCW3_ESMM = 0x40; // enable special mask mode change

/** Snapshot of one 8259A: plain numbers only. */
export interface Pic8259ChipState {
  /** Interrupt request register. */
  irr: number;
  /** In-service register. */
  isr: number;
  /** Interrupt mask register (OCW1). */
  imr: number;
  /** Current level of each IR input pin (bit n = IRn), used for edge detection and level mode. */
  lines: number;
  /** ELCR for this chip (1 = level-triggered), already masked. */
  elcr: number;
  /** ICW1 as written (LTIM, SNGL, IC4, ADI). */
  icw1: number;
  /** Vector base: ICW2 with bits 2-0 cleared. */
  vectorBase: number;
  /** ICW3 as written (stored only). */
  icw3: number;
  /** ICW4 as written (AEOI used; uPM, BUF, M/S, SFNM stored only). */
  icw4: number;
  /** Which initialization word the next odd-port write is: 0 = none (OCW1), 2, 3 or 4. */
  initStep: number;
  /** Priority rotation: the IR with the highest priority is (priorityBase) & 7; the lowest is priorityBase - 1. */
  priorityBase: number;
  /** 1 = a read of offset 0 returns ISR, 0 = IRR (OCW3 RR/RIS). */
  readIsr: number;
  /** 1 = the next read is a poll (OCW3 P). */
  poll: number;
  /** 1 = special mask mode (OCW3 ESMM/SMM). */
  specialMask: number;
  /** 1 = rotate on automatic EOI (OCW2 R=1, SL=0, EOI=0). */
  rotateOnAutoEoi: number;
}

/** Snapshot of the PIC pair. */
export interface Pic8259PairState {
  master: Pic8259ChipState;
  slave: Pic8259ChipState;
  /** Level of the external (non-cascade) input ORed into master IR2 (nothing drives it on a PC). */
  ext2: number;
}

function initialChip(): Pic8259ChipState {
  // The 8259A has no reset pin and its power-up state is undefined: software must initialize it.
  // We start with every input masked (vector base 0, no ICW4), so that a guest that never programs
  // the PIC (or runs before firmware does) gets no interrupt with a meaningless vector. ICW1 then
  // clears the IMR as the datasheet says.
  return {
    irr: 0,
    isr: 0,
    imr: 0xff,
    lines: 0,
    elcr: 0,
    icw1: 0,
    vectorBase: 0,
    icw3: 0,
    icw4: 0,
    initStep: 0,
    priorityBase: 0,
    readIsr: 0,
    poll: 0,
    specialMask: 0,
    rotateOnAutoEoi: 0,
  };
}

/** The highest-priority set bit of `mask` as a priority index 0..7 (0 = highest), or 8 if none. */
function priorityOf(c: Pic8259ChipState, mask: number): number {
  if ((mask & 0xff) === 0) return 8;
  let p = 0;
  while ((mask & (1 << ((p + c.priorityBase) & 7))) === 0) p++;
  return p;
}

/** The IR level the chip wants to interrupt with (highest unmasked request above the in-service level), or -1. */
function pendingIrq(c: Pic8259ChipState): number {
  const request = priorityOf(c, c.irr & ~c.imr);
  if (request === 8) return -1;
  // In special mask mode a masked in-service level does not block anything.
  const inService = priorityOf(c, c.specialMask ? c.isr & ~c.imr : c.isr);
  return request < inService ? (request + c.priorityBase) & 7 : -1;
}

function levelMask(c: Pic8259ChipState): number {
  return c.icw1 & ICW1_LTIM ? 0xff : c.elcr;
}

/** The INTA (or poll) side effects for IR `irq`: ISR set (unless auto-EOI), edge IRR cleared. */
function intack(c: Pic8259ChipState, irq: number): void {
  const bit = 1 << irq;
  if (c.icw4 & ICW4_AEOI) {
    if (c.rotateOnAutoEoi) c.priorityBase = (irq + 1) & 7;
  } else {
    c.isr |= bit;
  }
  if (!(levelMask(c) & bit)) c.irr &= ~bit;
}

/** One chip's register file seen as a 2-port I/O device. */
class PicChipPorts implements IoDevice {
  constructor(
    readonly name: string,
    private readonly pair: Pic8259Pair,
    private readonly which: "master" | "slave",
  ) {}

  read(offset: number, width: AccessWidth): number {
    const byte = this.pair.readChip(this.which, offset);
    if (width === 1) return byte;
    return width === 2 ? 0xff00 | byte : (0xffffff00 | byte) >>> 0;
  }

  write(offset: number, _width: AccessWidth, value: number): void {
    this.pair.writeChip(this.which, offset, value & 0xff);
  }
}

/** The PIIX ELCR pair (offset 0 = ELCR1 for IRQ 0-7, offset 1 = ELCR2 for IRQ 8-15). */
class ElcrPorts implements IoDevice {
  readonly name = "elcr";
  constructor(private readonly pair: Pic8259Pair) {}

  read(offset: number, width: AccessWidth): number {
    const byte = offset === 0 || offset === 1 ? this.pair.getElcr(offset) : 0xff;
    if (width === 1) return byte;
    return width === 2 ? 0xff00 | byte : (0xffffff00 | byte) >>> 0;
  }

  write(offset: number, _width: AccessWidth, value: number): void {
    if (offset === 0 || offset === 1) this.pair.setElcr(offset, value & 0xff);
  }
}

/**
 * The cascaded master/slave 8259A pair of a PC. Map `master` at 0x20 (2 ports), `slave` at 0xA0
 * (2 ports) and `elcr` at 0x4D0 (2 ports); wire devices to `irq(n)`; connect `onOutput` to the core's
 * pending word and `acknowledge()` to the core's INTA.
 */
export class Pic8259Pair {
  /** The master chip's ports (offsets 0-1 = I/O ports 0x20-0x21). */
  readonly master: IoDevice;
  /** The slave chip's ports (offsets 0-1 = I/O ports 0xA0-0xA1). */
  readonly slave: IoDevice;
  /** The PIIX edge/level control registers (offsets 0-1 = I/O ports 0x4D0-0x4D1). */
  readonly elcr: IoDevice;

  private m: Pic8259ChipState = initialChip();
  private s: Pic8259ChipState = initialChip();
  private ext2 = 0;
  private readonly lines: IrqLine[];
  private outputListener: (level: boolean) => void = () => {};
  /** Master INT level last reported (derived from state). */
  private intr = false;

  constructor() {
    this.master = new PicChipPorts("pic-master", this, "master");
    this.slave = new PicChipPorts("pic-slave", this, "slave");
    this.elcr = new ElcrPorts(this);
    this.lines = Array.from({ length: 16 }, (_, n) => ({ set: (level: boolean) => this.setLine(n, level) }));
  }

  /**
   * The interrupt line for ISA IRQ `n` (0-15). IRQ 2 is the cascade input: a device line given for it
   * is ORed with the slave's INT output (nothing drives it on a PC; IRQ 9 is the AT's "IRQ 2").
   */
  irq(n: number): IrqLine {
    const line = this.lines[n];
    if (!line) throw new RangeError(`PIC: no IRQ ${n}`);
    return line;
  }

  /**
   * Register the listener for the master's INT output (replaces any previous one). It is called only
   * when the level changes, and once immediately with the current level.
   */
  onOutput(cb: (level: boolean) => void): void {
    this.outputListener = cb;
    cb(this.intr);
  }

  /** Current level of the master's INT output (true = an interrupt is waiting for INTA). */
  get output(): boolean {
    return this.intr;
  }

  /**
   * The INTA cycle: returns the vector of the highest-priority pending interrupt and marks it in service
   * (ISR, unless auto-EOI). Cascades to the slave for IR2. When nothing is pending, returns the spurious
   * vector (master base + 7, or slave base + 7 when the master saw IR2 but the slave has nothing) and
   * sets no ISR bit on the chip that answered spuriously.
   */
  acknowledge(): number {
    const m = this.m;
    const irq = pendingIrq(m);
    let vector: number;
    if (irq < 0) {
      vector = m.vectorBase + 7; // spurious IRQ 7
    } else {
      intack(m, irq);
      if (irq === 2) {
        const irq2 = pendingIrq(this.s);
        if (irq2 >= 0) {
          intack(this.s, irq2);
          vector = this.s.vectorBase + irq2;
        } else {
          vector = this.s.vectorBase + 7; // spurious IRQ 15: master ISR2 stays set
        }
      } else {
        vector = m.vectorBase + irq;
      }
    }
    this.update();
    return vector & 0xff;
  }

  /** Interrupt request register as 16 bits (IRQ 8-15 in bits 8-15), for statistics and tests. */
  get irr(): number {
    return this.m.irr | (this.s.irr << 8);
  }

  /** In-service register as 16 bits. */
  get isr(): number {
    return this.m.isr | (this.s.isr << 8);
  }

  /** Interrupt mask register as 16 bits. */
  get imr(): number {
    return this.m.imr | (this.s.imr << 8);
  }

  /** A deep copy of the state of both chips. */
  saveState(): Pic8259PairState {
    return { master: { ...this.m }, slave: { ...this.s }, ext2: this.ext2 };
  }

  /** Restore a state produced by saveState (copied and masked to register widths) and re-drive INT. */
  loadState(saved: Pic8259PairState): void {
    const chip = (c: Pic8259ChipState, elcrMask: number): Pic8259ChipState => ({
      irr: c.irr & 0xff,
      isr: c.isr & 0xff,
      imr: c.imr & 0xff,
      lines: c.lines & 0xff,
      elcr: c.elcr & elcrMask,
      icw1: c.icw1 & 0xff,
      vectorBase: c.vectorBase & 0xf8,
      icw3: c.icw3 & 0xff,
      icw4: c.icw4 & 0x1f,
      initStep: [0, 2, 3, 4].includes(c.initStep) ? c.initStep : 0,
      priorityBase: c.priorityBase & 7,
      readIsr: c.readIsr ? 1 : 0,
      poll: c.poll ? 1 : 0,
      specialMask: c.specialMask ? 1 : 0,
      rotateOnAutoEoi: c.rotateOnAutoEoi ? 1 : 0,
    });
    this.m = chip(saved.master, ELCR_MASTER_MASK);
    this.s = chip(saved.slave, ELCR_SLAVE_MASK);
    this.ext2 = saved.ext2 ? 1 : 0;
    this.intr = pendingIrq(this.m) >= 0;
    this.outputListener(this.intr);
  }

  // ---- used by the port objects ----

  /** @internal Byte read from a chip's port (offset 0 or 1). */
  readChip(which: "master" | "slave", offset: number): number {
    const c = which === "master" ? this.m : this.s;
    if (offset > 1) return 0xff;
    if (c.poll) {
      // Poll: this read is the interrupt acknowledge (datasheet, "The Poll Command"), on either port.
      c.poll = 0;
      const irq = pendingIrq(c);
      if (irq < 0) return 0;
      intack(c, irq);
      this.update();
      return 0x80 | irq;
    }
    if (offset === 1) return c.imr;
    return c.readIsr ? c.isr : c.irr;
  }

  /** @internal Byte write to a chip's port (offset 0 or 1). */
  writeChip(which: "master" | "slave", offset: number, value: number): void {
    const c = which === "master" ? this.m : this.s;
    if (offset === 0) {
      if (value & ICW1_INIT) this.writeIcw1(c, value);
      else if (value & OCW3_SELECT) this.writeOcw3(c, value);
      else this.writeOcw2(c, value);
    } else if (offset === 1) {
      switch (c.initStep) {
        case 2:
          c.vectorBase = value & 0xf8;
          c.initStep = c.icw1 & ICW1_SNGL ? (c.icw1 & ICW1_IC4 ? 4 : 0) : 3;
          break;
        case 3:
          c.icw3 = value;
          c.initStep = c.icw1 & ICW1_IC4 ? 4 : 0;
          break;
        case 4:
          c.icw4 = value & 0x1f;
          c.initStep = 0;
          break;
        default:
          c.imr = value; // OCW1
      }
    }
    this.update();
  }

  /** @internal ELCR read (0 = master, 1 = slave). */
  getElcr(index: number): number {
    return index === 0 ? this.m.elcr : this.s.elcr;
  }

  /** @internal ELCR write: switching an input to level mode makes its IRR follow the pin at once. */
  setElcr(index: number, value: number): void {
    const c = index === 0 ? this.m : this.s;
    c.elcr = value & (index === 0 ? ELCR_MASTER_MASK : ELCR_SLAVE_MASK);
    const lvl = levelMask(c);
    c.irr = (c.irr & ~lvl) | (c.lines & lvl);
    this.update();
  }

  // ---- internals ----

  private writeIcw1(c: Pic8259ChipState, value: number): void {
    // Initialization (datasheet, "Initialization Command Words"): the edge sense circuit is reset,
    // IMR is cleared, IR7 gets the lowest priority, special mask mode is cleared, status read is set
    // to IRR, and if IC4 = 0 all ICW4 functions are zero. ISR is cleared too (as QEMU and Bochs).
    c.icw1 = value;
    c.initStep = 2;
    c.imr = 0;
    c.isr = 0;
    c.priorityBase = 0;
    c.readIsr = 0;
    c.poll = 0;
    c.specialMask = 0;
    c.rotateOnAutoEoi = 0;
    c.icw3 = 0;
    c.icw4 = 0;
    // Edge latches are reset; level-triggered inputs keep requesting while their pin is high.
    const lvl = levelMask(c);
    c.irr = c.lines & lvl;
  }

  private writeOcw2(c: Pic8259ChipState, value: number): void {
    const level = value & 7;
    switch (value >> 5) {
      case 0b001: // non-specific EOI
      case 0b101: {
        // rotate on non-specific EOI
        const p = priorityOf(c, c.specialMask ? c.isr & ~c.imr : c.isr);
        if (p === 8) return;
        const irq = (p + c.priorityBase) & 7;
        c.isr &= ~(1 << irq);
        if (value >> 5 === 0b101) c.priorityBase = (irq + 1) & 7;
        return;
      }
      case 0b011: // specific EOI
        c.isr &= ~(1 << level);
        return;
      case 0b111: // rotate on specific EOI
        c.isr &= ~(1 << level);
        c.priorityBase = (level + 1) & 7;
        return;
      case 0b100: // rotate in automatic EOI mode (set)
        c.rotateOnAutoEoi = 1;
        return;
      case 0b000: // rotate in automatic EOI mode (clear)
        c.rotateOnAutoEoi = 0;
        return;
      case 0b110: // set priority: `level` becomes the lowest
        c.priorityBase = (level + 1) & 7;
        return;
      default: // 0b010: no operation
        return;
    }
  }

  private writeOcw3(c: Pic8259ChipState, value: number): void {
    if (value & OCW3_ESMM) c.specialMask = value & OCW3_SMM ? 1 : 0;
    if (value & OCW3_RR) c.readIsr = value & OCW3_RIS ? 1 : 0;
    c.poll = value & OCW3_POLL ? 1 : 0;
  }

  private setLine(n: number, level: boolean): void {
    if (n === 2) {
      this.ext2 = level ? 1 : 0;
      this.update();
      return;
    }
    const c = n < 8 ? this.m : this.s;
    this.setPin(c, n & 7, level);
    this.update();
  }

  /** Drive IR pin `ir` of chip `c`: edge inputs latch IRR on a rising edge; level inputs follow the pin. */
  private setPin(c: Pic8259ChipState, ir: number, level: boolean): void {
    const bit = 1 << ir;
    const was = (c.lines & bit) !== 0;
    if (level) {
      c.lines |= bit;
      if (levelMask(c) & bit || !was) c.irr |= bit;
    } else {
      c.lines &= ~bit;
      if (levelMask(c) & bit) c.irr &= ~bit;
    }
  }

  /** Propagate the slave's INT to master IR2, then report a change of the master's INT. */
  private update(): void {
    const slaveInt = pendingIrq(this.s) >= 0;
    const ir2 = slaveInt || this.ext2 !== 0;
    if (ir2 !== ((this.m.lines & 4) !== 0)) this.setPin(this.m, 2, ir2);
    const intr = pendingIrq(this.m) >= 0;
    if (intr !== this.intr) {
      this.intr = intr;
      this.outputListener(intr);
    }
  }
}
