import type { AccessWidth, IoDevice } from "../bus/device.js";
import { unconnectedIrq, type IrqLine } from "./irq.js";

/*
 * A National/TI PC16550D UART (the "16550A" of every PC COM port), register-accurate at offsets 0-7.
 * Bit names follow the PC16550D datasheet, Table II "Summary of Registers".
 *
 * Modelling choices (all visible to the guest only through register values):
 *  - The transmitter is infinitely fast: a THR write hands the byte to `transmit` at once, so LSR.THRE
 *    and LSR.TEMT always read 1 and the TX FIFO is always empty. The THRE *interrupt* still follows the
 *    datasheet (set when THR empties, cleared by an IIR read that reports it or by a THR write, and
 *    raised when ETBEI goes 0 -> 1 while THR is empty).
 *  - Line settings (word length, stop bits, parity, break, divisor) are stored for readback only:
 *    bytes pass through with all 8 bits (as QEMU does), because bare-metal test guests often write THR
 *    without ever programming LCR, whose reset value selects 5-bit words.
 *  - Character timeout (IIR = 0x0C): the 4-character-time timer is modelled as already expired, so in
 *    FIFO mode a non-empty RX FIFO below the trigger level reports "character timeout" immediately and
 *    a FIFO at or above the trigger level reports "received data available" (0x04). Both have the same
 *    priority and both are cleared by reading RBR until the condition goes away.
 *  - Host-side flow control: `receive` never drops a byte; it accepts only what fits (16 bytes in FIFO
 *    mode, 1 in 16450 mode) and the host retries the rest later. LSR.OE is therefore set only when the
 *    guest truly loses data, which happens in loopback mode (the guest's own THR writes land in a full
 *    receiver; the transmitter cannot be held off).
 *  - Loopback (MCR.LOOP): SIN is disconnected, so `receive` accepts nothing (rxSpace is 0) until the guest
 *    leaves loopback. The modem control outputs are forced inactive, so the OUT2 pin is inactive and the
 *    PC's IRQ gate is closed: interrupts are fully operational inside the UART (IIR reports them) but do
 *    not reach the interrupt controller.
 *  - IRQ output: on a PC the INTR pin reaches the PIC only through a gate enabled by the OUT2 output, so
 *    the line is driven high only when an interrupt is pending, MCR.OUT2 = 1 and MCR.LOOP = 0.
 *  - Access width: the UART is byte-wide. A 2- or 4-byte access uses only the low byte at the given
 *    offset (the register there); the upper bytes of a read are all ones (nothing drives them) and the
 *    upper bytes of a write are ignored.
 */

// Register offsets (DLAB = LCR bit 7 selects the divisor latch at offsets 0 and 1).
const RBR_THR_DLL = 0;
const IER_DLM = 1;
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

// IER: Interrupt Enable Register (bits 4-7 are always 0).
export const IER_ERBFI = 0x01; // Enable Received Data Available Interrupt
export const IER_ETBEI = 0x02; // Enable Transmitter Holding Register Empty Interrupt
export const IER_ELSI = 0x04; // Enable Receiver Line Status Interrupt
export const IER_EDSSI = 0x08; // Enable MODEM Status Interrupt

// IIR: Interrupt Identification Register. Bit 0 = 0 means "interrupt pending"; bits 6-7 = FIFOs enabled.
export const IIR_NO_INT = 0x01;
export const IIR_MODEM_STATUS = 0x00;
export const IIR_THRE = 0x02;
export const IIR_RX_DATA = 0x04;
export const IIR_RX_LINE_STATUS = 0x06;
export const IIR_CHAR_TIMEOUT = 0x0c;
export const IIR_FIFOS_ENABLED = 0xc0;

// FCR: FIFO Control Register (write-only).
export const FCR_ENABLE = 0x01; // FIFO Enable
export const FCR_CLEAR_RX = 0x02; // RCVR FIFO Reset (self-clearing)
export const FCR_CLEAR_TX = 0x04; // XMIT FIFO Reset (self-clearing)
export const FCR_DMA_MODE = 0x08; // DMA Mode Select (affects only the RXRDY/TXRDY pins)
export const FCR_TRIGGER_MASK = 0xc0; // RCVR Trigger: 00 = 1, 01 = 4, 10 = 8, 11 = 14 bytes

// LCR: Line Control Register.
export const LCR_DLAB = 0x80; // Divisor Latch Access Bit

// MCR: MODEM Control Register (bits 5-7 are always 0).
export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10;

// LSR: Line Status Register.
export const LSR_DR = 0x01; // Data Ready
export const LSR_OE = 0x02; // Overrun Error
export const LSR_PE = 0x04; // Parity Error
export const LSR_FE = 0x08; // Framing Error
export const LSR_BI = 0x10; // Break Interrupt
export const LSR_THRE = 0x20; // Transmitter Holding Register Empty
export const LSR_TEMT = 0x40; // Transmitter Empty
export const LSR_RX_FIFO_ERROR = 0x80; // Error in RCVR FIFO (FIFO mode only)
/** The per-character receive errors (PE, FE, BI) that travel with a character through the RX FIFO. */
const LSR_CHAR_ERRORS = LSR_PE | LSR_FE | LSR_BI;
/** The latched error bits cleared by an LSR read; any of them is a receiver line status interrupt. */
const LSR_LATCHED = LSR_OE | LSR_CHAR_ERRORS;

// MSR: MODEM Status Register. Bits 0-3 are delta bits (cleared by reading MSR), bits 4-7 line status.
export const MSR_DCTS = 0x01; // Delta Clear To Send
export const MSR_DDSR = 0x02; // Delta Data Set Ready
export const MSR_TERI = 0x04; // Trailing Edge Ring Indicator
export const MSR_DDCD = 0x08; // Delta Data Carrier Detect
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;
const MSR_DELTAS = 0x0f;
const MSR_STATUS = 0xf0;

/** Depth of the 16550 receiver FIFO. */
export const RX_FIFO_SIZE = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14] as const;

/** Snapshot of a UART: plain numbers and arrays only. */
export interface Uart16550State {
  /** RBR as last loaded: what an RBR read returns when no character is waiting. */
  rbr: number;
  /** IER, bits 0-3. */
  ier: number;
  /** FCR as last programmed: FIFO enable (bit 0), DMA mode (bit 3), trigger (bits 6-7). */
  fcr: number;
  lcr: number;
  /** MCR, bits 0-4. */
  mcr: number;
  /** LSR bits latched until an LSR read: OE, PE, FE, BI. DR/THRE/TEMT/bit 7 are computed on read. */
  lsrErrors: number;
  /** MSR: delta bits 0-3 and current CTS/DSR/RI/DCD in bits 4-7. */
  msr: number;
  scr: number;
  dll: number;
  dlm: number;
  /** Received characters, oldest first (at most 16; at most 1 when FIFOs are off). */
  rxFifo: number[];
  /** PE/FE/BI bits of each character in rxFifo not yet revealed in LSR (revealed at the FIFO top). */
  rxErrors: number[];
  /** 1 while the THRE interrupt is pending (only meaningful while IER.ETBEI = 1). */
  thrInterrupt: number;
  /** Host-side MODEM inputs in MSR bit positions (CTS 0x10, DSR 0x20, RI 0x40, DCD 0x80). */
  modemInputs: number;
}

export interface Uart16550Options {
  /** Device name for statistics (default "uart0"). */
  name?: string;
  /** Interrupt line to the PIC (default: not connected). */
  irq?: IrqLine;
  /** Called with each byte the guest transmits, immediately. */
  transmit: (byte: number) => void;
}

/** Host-side MODEM input lines; omitted lines keep their level. */
export interface ModemInputs {
  cts?: boolean;
  dsr?: boolean;
  ri?: boolean;
  dcd?: boolean;
}

/** Reset value of the host-side MODEM inputs: a ready peer (CTS, DSR and DCD asserted, as QEMU). */
const DEFAULT_MODEM_INPUTS = MSR_CTS | MSR_DSR | MSR_DCD;

function initialState(): Uart16550State {
  // Master reset values from the datasheet (Table IV): IER = 0, IIR = 1, FCR = 0, LCR = 0, MCR = 0,
  // LSR = 0x60, MSR deltas = 0. The divisor latch and SCR are not reset by hardware; we start them at
  // divisor 12 (9600 baud at 1.8432 MHz) and 0.
  return {
    rbr: 0,
    ier: 0,
    fcr: 0,
    lcr: 0,
    mcr: 0,
    lsrErrors: 0,
    msr: DEFAULT_MODEM_INPUTS,
    scr: 0,
    dll: 12,
    dlm: 0,
    rxFifo: [],
    rxErrors: [],
    thrInterrupt: 0,
    modemInputs: DEFAULT_MODEM_INPUTS,
  };
}

export class Uart16550 implements IoDevice {
  readonly name: string;
  private state: Uart16550State = initialState();
  private readonly irq: IrqLine;
  private readonly transmitByte: (byte: number) => void;
  /** Level last driven on the IRQ line (derived from state, so not part of it). */
  private irqLevel = false;

  constructor(options: Uart16550Options) {
    this.name = options.name ?? "uart0";
    this.irq = options.irq ?? unconnectedIrq;
    this.transmitByte = options.transmit;
  }

  /** Master reset (MR pin): registers to their reset values; host MODEM inputs are kept. */
  reset(): void {
    const inputs = this.state.modemInputs;
    this.state = initialState();
    this.state.modemInputs = inputs;
    this.state.msr = inputs;
    this.updateIrq(true);
  }

  read(offset: number, width: AccessWidth): number {
    const byte = this.readRegister(offset);
    this.updateIrq();
    if (width === 1) return byte;
    return width === 2 ? 0xff00 | byte : (0xffffff00 | byte) >>> 0;
  }

  write(offset: number, _width: AccessWidth, value: number): void {
    this.writeRegister(offset, value & 0xff);
    this.updateIrq();
  }

  /**
   * Host -> guest: put received characters into the RX FIFO (or the 16450-mode RBR). Returns how many
   * were accepted, from the start of `bytes`; the rest must be offered again later. Nothing is ever
   * dropped here, and nothing is accepted in loopback mode (SIN is disconnected).
   */
  receive(bytes: Uint8Array | number[]): number {
    const n = Math.min(bytes.length, this.rxSpace);
    for (let i = 0; i < n; i++) this.pushRx(bytes[i]! & 0xff, 0);
    if (n > 0) this.updateIrq();
    return n;
  }

  /**
   * Host -> guest: receive one character with line errors (`errors` is a mask of LSR_PE, LSR_FE and
   * LSR_BI). A break (LSR_BI) loads a zero character, as the datasheet specifies. The errors are
   * revealed in LSR when the character reaches the top of the FIFO. Returns false if there was no room.
   */
  receiveWithErrors(byte: number, errors: number): boolean {
    if (this.rxSpace === 0) return false;
    const e = errors & LSR_CHAR_ERRORS;
    this.pushRx(e & LSR_BI ? 0 : byte & 0xff, e);
    this.updateIrq();
    return true;
  }

  /** How many characters `receive` would accept now. */
  get rxSpace(): number {
    const s = this.state;
    if (s.mcr & MCR_LOOP) return 0;
    return Math.max(0, this.rxCapacity() - s.rxFifo.length);
  }

  /** Drive the host-side MODEM input lines (seen in MSR unless in loopback); changes set delta bits. */
  setModemInputs(lines: ModemInputs): void {
    const s = this.state;
    let m = s.modemInputs;
    const apply = (level: boolean | undefined, bit: number): void => {
      if (level !== undefined) m = level ? m | bit : m & ~bit;
    };
    apply(lines.cts, MSR_CTS);
    apply(lines.dsr, MSR_DSR);
    apply(lines.ri, MSR_RI);
    apply(lines.dcd, MSR_DCD);
    s.modemInputs = m & MSR_STATUS;
    this.updateMsrStatus();
    this.updateIrq();
  }

  /** A deep copy of the device state. */
  saveState(): Uart16550State {
    const s = this.state;
    return { ...s, rxFifo: [...s.rxFifo], rxErrors: [...s.rxErrors] };
  }

  /** Restore a state produced by saveState (copied, masked to register widths) and re-drive the IRQ. */
  loadState(saved: Uart16550State): void {
    const fifoOn = (saved.fcr & FCR_ENABLE) !== 0;
    const depth = Math.min(saved.rxFifo.length, fifoOn ? RX_FIFO_SIZE : 1);
    this.state = {
      rbr: saved.rbr & 0xff,
      ier: saved.ier & 0x0f,
      fcr: saved.fcr & (FCR_ENABLE | FCR_DMA_MODE | FCR_TRIGGER_MASK),
      lcr: saved.lcr & 0xff,
      mcr: saved.mcr & 0x1f,
      lsrErrors: saved.lsrErrors & LSR_LATCHED,
      msr: saved.msr & 0xff,
      scr: saved.scr & 0xff,
      dll: saved.dll & 0xff,
      dlm: saved.dlm & 0xff,
      rxFifo: saved.rxFifo.slice(0, depth).map((b) => b & 0xff),
      rxErrors: Array.from({ length: depth }, (_, i) => (saved.rxErrors[i] ?? 0) & LSR_CHAR_ERRORS),
      thrInterrupt: saved.thrInterrupt ? 1 : 0,
      modemInputs: saved.modemInputs & MSR_STATUS,
    };
    this.updateIrq(true);
  }

  // ---- registers ----

  private readRegister(offset: number): number {
    const s = this.state;
    const dlab = (s.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case RBR_THR_DLL:
        return dlab ? s.dll : this.readRbr();
      case IER_DLM:
        return dlab ? s.dlm : s.ier;
      case IIR_FCR: {
        // Reading IIR clears a THRE interrupt if (and only if) it is the one being reported.
        const id = this.interruptId();
        if (id === IIR_THRE) s.thrInterrupt = 0;
        return id | (s.fcr & FCR_ENABLE ? IIR_FIFOS_ENABLED : 0);
      }
      case LCR:
        return s.lcr;
      case MCR:
        return s.mcr;
      case LSR: {
        const value = this.lsrValue();
        // Reading LSR clears OE, PE, FE and BI; bit 7 then clears unless more errors wait in the FIFO.
        s.lsrErrors = 0;
        return value;
      }
      case MSR: {
        const value = s.msr;
        s.msr &= MSR_STATUS; // reading MSR clears the delta bits
        return value;
      }
      case SCR:
        return s.scr;
      default:
        return 0xff; // outside the 8-register window: nothing drives the bus
    }
  }

  private writeRegister(offset: number, value: number): void {
    const s = this.state;
    const dlab = (s.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case RBR_THR_DLL:
        if (dlab) s.dll = value;
        else this.writeThr(value);
        return;
      case IER_DLM:
        if (dlab) s.dlm = value;
        else this.writeIer(value);
        return;
      case IIR_FCR:
        this.writeFcr(value);
        return;
      case LCR:
        s.lcr = value;
        return;
      case MCR:
        s.mcr = value & 0x1f;
        // Entering or leaving loopback, or changing the outputs that loop back, moves the MSR inputs.
        this.updateMsrStatus();
        return;
      case SCR:
        s.scr = value;
        return;
      default:
        // LSR and MSR writes are for factory test only (datasheet); ignored, as QEMU does.
        return;
    }
  }

  /** RBR read: pop the oldest character; the next one's line errors become visible in LSR. */
  private readRbr(): number {
    const s = this.state;
    if (s.rxFifo.length === 0) return s.rbr; // nothing new: RBR keeps its last contents
    s.rbr = s.rxFifo.shift()!;
    s.rxErrors.shift();
    this.revealTopErrors();
    return s.rbr;
  }

  private writeThr(value: number): void {
    const s = this.state;
    // Writing THR clears the THRE interrupt; drive that before the (instant) transmission sets it again,
    // so an edge-triggered PIC sees the new edge a real UART would produce.
    s.thrInterrupt = 0;
    this.updateIrq();
    if (s.mcr & MCR_LOOP) this.loopbackReceive(value);
    else this.transmitByte(value);
    // The character moved on at once: THR is empty again.
    if (s.ier & IER_ETBEI) s.thrInterrupt = 1;
  }

  private writeIer(value: number): void {
    const s = this.state;
    const old = s.ier;
    s.ier = value & 0x0f;
    // ETBEI rising while THR is empty raises the THRE interrupt (re-sampled on the rising edge, as
    // Bochs and QEMU do; Linux's THRE test and Windows rely on it). With ETBEI off it is not pending.
    if ((old ^ s.ier) & IER_ETBEI) s.thrInterrupt = s.ier & IER_ETBEI ? 1 : 0;
  }

  private writeFcr(value: number): void {
    const s = this.state;
    const wasOn = (s.fcr & FCR_ENABLE) !== 0;
    const on = (value & FCR_ENABLE) !== 0;
    // Changing between FIFO and 16450 mode clears both FIFOs.
    if (wasOn !== on) this.clearRx();
    if (!on) {
      // FCR0 must be 1 for the other FCR bits to be programmed.
      s.fcr &= ~FCR_ENABLE;
      return;
    }
    if (value & FCR_CLEAR_RX) this.clearRx();
    // FCR_CLEAR_TX: the TX FIFO is always empty here (instant transmitter); nothing to clear.
    s.fcr = value & (FCR_ENABLE | FCR_DMA_MODE | FCR_TRIGGER_MASK);
  }

  // ---- receiver ----

  private rxCapacity(): number {
    return this.state.fcr & FCR_ENABLE ? RX_FIFO_SIZE : 1;
  }

  private triggerLevel(): number {
    return TRIGGER_LEVELS[(this.state.fcr & FCR_TRIGGER_MASK) >> 6]!;
  }

  private clearRx(): void {
    this.state.rxFifo = [];
    this.state.rxErrors = [];
  }

  /** Append a character known to fit; reveal its errors at once if it is the new top. */
  private pushRx(byte: number, errors: number): void {
    const s = this.state;
    s.rxFifo.push(byte);
    s.rxErrors.push(errors);
    if (s.rxFifo.length === 1) this.revealTopErrors();
  }

  /** PE/FE/BI of the character at the top of the FIFO are latched into LSR (datasheet, LSR bits 2-4). */
  private revealTopErrors(): void {
    const s = this.state;
    if (s.rxFifo.length > 0 && s.rxErrors[0]) {
      s.lsrErrors |= s.rxErrors[0];
      s.rxErrors[0] = 0;
    }
  }

  /** A looped-back THR byte arrives at the receiver; a full receiver means a real overrun. */
  private loopbackReceive(byte: number): void {
    const s = this.state;
    if (s.rxFifo.length < this.rxCapacity()) {
      this.pushRx(byte, 0);
      return;
    }
    s.lsrErrors |= LSR_OE;
    if (!(s.fcr & FCR_ENABLE)) {
      // 16450 mode: the new character overwrites the unread one in RBR.
      s.rxFifo[0] = byte;
      s.rxErrors[0] = 0;
    }
    // FIFO mode: the character in the shift register is overwritten and never enters the FIFO.
  }

  // ---- status ----

  private lsrValue(): number {
    const s = this.state;
    let v = LSR_THRE | LSR_TEMT | s.lsrErrors;
    if (s.rxFifo.length > 0) v |= LSR_DR;
    if (s.fcr & FCR_ENABLE && (s.lsrErrors & LSR_CHAR_ERRORS || s.rxErrors.some((e) => e !== 0))) {
      v |= LSR_RX_FIFO_ERROR;
    }
    return v;
  }

  /** Recompute MSR bits 4-7 from their source and set the delta bits for any change. */
  private updateMsrStatus(): void {
    const s = this.state;
    const m = s.mcr;
    // In loopback the MODEM inputs are wired to the MCR outputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
    const now =
      m & MCR_LOOP
        ? ((m & MCR_RTS) << 3) | ((m & MCR_DTR) << 5) | ((m & MCR_OUT1) << 4) | ((m & MCR_OUT2) << 4)
        : s.modemInputs;
    const old = s.msr & MSR_STATUS;
    const changed = now ^ old;
    let delta = 0;
    if (changed & MSR_CTS) delta |= MSR_DCTS;
    if (changed & MSR_DSR) delta |= MSR_DDSR;
    if (old & MSR_RI && !(now & MSR_RI)) delta |= MSR_TERI; // trailing edge only
    if (changed & MSR_DCD) delta |= MSR_DDCD;
    s.msr = now | (s.msr & MSR_DELTAS) | delta;
  }

  // ---- interrupts ----

  /** IIR bits 0-3 for the highest-priority pending, enabled interrupt (datasheet Table V). */
  private interruptId(): number {
    const s = this.state;
    if (s.ier & IER_ELSI && s.lsrErrors & LSR_LATCHED) return IIR_RX_LINE_STATUS;
    if (s.ier & IER_ERBFI && s.rxFifo.length > 0) {
      if (!(s.fcr & FCR_ENABLE)) return IIR_RX_DATA;
      return s.rxFifo.length >= this.triggerLevel() ? IIR_RX_DATA : IIR_CHAR_TIMEOUT;
    }
    if (s.ier & IER_ETBEI && s.thrInterrupt) return IIR_THRE;
    if (s.ier & IER_EDSSI && s.msr & MSR_DELTAS) return IIR_MODEM_STATUS;
    return IIR_NO_INT;
  }

  /** Drive the IRQ line: INTR gated by the OUT2 pin (inactive in loopback). Only changes are driven. */
  private updateIrq(force = false): void {
    const m = this.state.mcr;
    const level = (m & (MCR_OUT2 | MCR_LOOP)) === MCR_OUT2 && this.interruptId() !== IIR_NO_INT;
    if (level !== this.irqLevel || force) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }
}
