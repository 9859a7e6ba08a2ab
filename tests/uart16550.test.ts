import { describe, expect, it } from "vitest";
import { RecordingIrq } from "./helpers/recording-irq.js";
import { Uart16550 } from "../src/devices/uart16550.js";

// Register offsets (PC16550D datasheet, Table II).
const RBR = 0,
  THR = 0,
  DLL = 0,
  IER = 1,
  DLM = 1,
  IIR = 2,
  FCR = 2,
  LCR = 3,
  MCR = 4,
  LSR = 5,
  MSR = 6,
  SCR = 7;

function makeUart() {
  const irq = new RecordingIrq();
  const sent: number[] = [];
  const uart = new Uart16550({ irq, transmit: (b) => sent.push(b) });
  const rd = (off: number) => uart.read(off, 1);
  const wr = (off: number, v: number) => uart.write(off, 1, v);
  return { uart, irq, sent, rd, wr };
}

describe("Uart16550 registers", () => {
  it("has the datasheet reset values", () => {
    const { uart, rd } = makeUart();
    expect(uart.name).toBe("uart0");
    expect(rd(IER)).toBe(0);
    expect(rd(IIR)).toBe(0x01);
    expect(rd(LCR)).toBe(0);
    expect(rd(MCR)).toBe(0);
    expect(rd(LSR)).toBe(0x60);
    expect(rd(MSR) & 0x0f).toBe(0);
  });

  it("takes a name option", () => {
    expect(new Uart16550({ name: "uart1", transmit: () => {} }).name).toBe("uart1");
  });

  it("switches offsets 0/1 to the divisor latch with DLAB and reads it back", () => {
    const { rd, wr, sent } = makeUart();
    wr(IER, 0x05);
    wr(LCR, 0x83); // DLAB + 8N1
    wr(DLL, 0x01);
    wr(DLM, 0x02);
    expect(rd(DLL)).toBe(0x01);
    expect(rd(DLM)).toBe(0x02);
    expect(sent).toEqual([]); // DLL write is not a THR write
    wr(LCR, 0x03);
    expect(rd(IER)).toBe(0x05);
    expect(rd(LCR)).toBe(0x03);
    wr(THR, 0x41);
    expect(sent).toEqual([0x41]);
    wr(LCR, 0x83);
    expect(rd(DLL)).toBe(0x01); // THR write did not touch the latch
    expect(rd(DLM)).toBe(0x02);
  });

  it("reads back LCR, MCR (5 bits), SCR and IER (4 bits)", () => {
    const { rd, wr } = makeUart();
    wr(LCR, 0x5b);
    expect(rd(LCR)).toBe(0x5b);
    wr(MCR, 0xff);
    expect(rd(MCR)).toBe(0x1f);
    wr(MCR, 0x0b);
    expect(rd(MCR)).toBe(0x0b);
    wr(SCR, 0xa5);
    expect(rd(SCR)).toBe(0xa5);
    wr(IER, 0xff);
    expect(rd(IER)).toBe(0x0f);
  });

  it("uses the low byte for wide accesses and reads all ones above it", () => {
    const { uart, rd } = makeUart();
    uart.write(SCR, 2, 0x1234);
    expect(rd(SCR)).toBe(0x34);
    expect(uart.read(SCR, 2)).toBe(0xff34);
    expect(uart.read(SCR, 4)).toBe(0xffffff34);
    expect(uart.read(LSR, 4)).toBe(0xffffff60);
  });

  it("shows FIFO-enabled bits 6-7 in IIR only while FCR bit 0 is set", () => {
    const { rd, wr } = makeUart();
    expect(rd(IIR)).toBe(0x01);
    wr(FCR, 0x01);
    expect(rd(IIR)).toBe(0xc1);
    wr(FCR, 0x00);
    expect(rd(IIR)).toBe(0x01);
  });
});

describe("Uart16550 transmitter and THRE interrupt", () => {
  it("sends THR bytes to the transmit callback, all 8 bits, THRE/TEMT always set", () => {
    const { rd, wr, sent } = makeUart();
    for (const b of [0x48, 0x69, 0xff, 0x00]) wr(THR, b);
    expect(sent).toEqual([0x48, 0x69, 0xff, 0x00]);
    expect(rd(LSR) & 0x60).toBe(0x60);
  });

  it("raises, clears and re-raises THRE with FIFOs (IIR 0xC2), IRQ only with OUT2", () => {
    const { rd, wr, irq } = makeUart();
    wr(FCR, 0x07);
    wr(IER, 0x02); // ETBEI while THR empty -> THRE interrupt
    expect(irq.level).toBe(false); // OUT2 clear: the PC's IRQ gate is closed
    wr(MCR, 0x08); // OUT2
    expect(irq.level).toBe(true);
    expect(rd(IIR)).toBe(0xc2); // reading IIR reporting THRE clears it
    expect(irq.level).toBe(false);
    expect(rd(IIR)).toBe(0xc1);
    wr(THR, 0x41); // THR write -> transmitted at once -> THR empty again
    expect(irq.level).toBe(true);
    expect(rd(IIR)).toBe(0xc2);
    expect(rd(IIR)).toBe(0xc1);
  });

  it("raises THRE without FIFOs as IIR 0x02", () => {
    const { rd, wr, irq } = makeUart();
    wr(MCR, 0x08);
    wr(IER, 0x02);
    expect(irq.level).toBe(true);
    expect(rd(IIR)).toBe(0x02);
    expect(rd(IIR)).toBe(0x01);
    expect(irq.level).toBe(false);
  });

  it("re-raises THRE when ETBEI goes 0 -> 1 (Linux's THRE test) and drops it when ETBEI clears", () => {
    const { rd, wr, irq } = makeUart();
    wr(MCR, 0x08);
    wr(IER, 0x02);
    expect(rd(IIR)).toBe(0x02);
    wr(IER, 0x02); // no rising edge: stays cleared
    expect(rd(IIR)).toBe(0x01);
    wr(IER, 0x00);
    wr(IER, 0x02);
    expect(rd(IIR)).toBe(0x02);
    wr(IER, 0x00);
    wr(THR, 0x41); // ETBEI off: nothing pending
    expect(rd(IIR)).toBe(0x01);
    expect(irq.level).toBe(false);
  });

  it("pulses the line on a THR write while THRE is still pending (new edge for the PIC)", () => {
    const { wr, irq } = makeUart();
    wr(MCR, 0x08);
    wr(IER, 0x02);
    irq.events = [];
    wr(THR, 0x41);
    expect(irq.events).toEqual([false, true]);
  });

  it("does not clear THRE on an IIR read that reports a higher-priority interrupt", () => {
    const { uart, rd, wr } = makeUart();
    wr(IER, 0x03);
    uart.receive([0x55]);
    expect(rd(IIR)).toBe(0x04); // received data outranks THRE
    expect(rd(RBR)).toBe(0x55);
    expect(rd(IIR)).toBe(0x02); // THRE still pending
    expect(rd(IIR)).toBe(0x01);
  });
});

describe("Uart16550 receiver", () => {
  it("delivers received bytes in FIFO order and sets DR", () => {
    const { uart, rd, wr } = makeUart();
    wr(FCR, 0x01);
    expect(uart.rxSpace).toBe(16);
    expect(uart.receive(new Uint8Array([1, 2, 3]))).toBe(3);
    expect(uart.rxSpace).toBe(13);
    expect(rd(LSR) & 0x01).toBe(1);
    expect([rd(RBR), rd(RBR), rd(RBR)]).toEqual([1, 2, 3]);
    expect(rd(LSR) & 0x01).toBe(0);
    expect(rd(RBR)).toBe(3); // empty: RBR keeps its last contents
  });

  it("accepts only what fits (16 bytes in FIFO mode) and never sets OE for the host", () => {
    const { uart, rd, wr } = makeUart();
    wr(FCR, 0x01);
    const data = Array.from({ length: 20 }, (_, i) => i + 0x30);
    expect(uart.receive(data)).toBe(16);
    expect(uart.rxSpace).toBe(0);
    expect(uart.receive(data.slice(16))).toBe(0);
    expect(rd(LSR) & 0x02).toBe(0);
    expect(rd(RBR)).toBe(0x30);
    expect(uart.receive(data.slice(16))).toBe(1);
    const out: number[] = [];
    while (rd(LSR) & 1) out.push(rd(RBR));
    expect(out).toEqual(data.slice(1, 17));
  });

  it("holds one byte in 16450 mode", () => {
    const { uart, rd } = makeUart();
    expect(uart.rxSpace).toBe(1);
    expect(uart.receive([0x61, 0x62])).toBe(1);
    expect(uart.rxSpace).toBe(0);
    expect(rd(RBR)).toBe(0x61);
    expect(uart.receive([0x62])).toBe(1);
    expect(rd(RBR)).toBe(0x62);
  });

  it("raises received-data at the trigger level and character timeout below it", () => {
    const cases: [number, number][] = [
      [0x01, 1],
      [0x41, 4],
      [0x81, 8],
      [0xc1, 14],
    ];
    for (const [fcr, trigger] of cases) {
      const { uart, rd, wr, irq } = makeUart();
      wr(FCR, fcr);
      wr(MCR, 0x08);
      wr(IER, 0x01);
      expect(irq.level).toBe(false);
      if (trigger > 1) {
        uart.receive(new Array<number>(trigger - 1).fill(0x20));
        expect(rd(IIR)).toBe(0xcc); // below the trigger: character timeout (documented choice)
        expect(irq.level).toBe(true);
      }
      uart.receive([0x21]);
      expect(rd(IIR)).toBe(0xc4);
      expect(irq.level).toBe(true);
      rd(RBR);
      if (trigger > 1) expect(rd(IIR)).toBe(0xcc);
      while (rd(LSR) & 1) rd(RBR);
      expect(rd(IIR)).toBe(0xc1);
      expect(irq.level).toBe(false);
    }
  });

  it("raises received-data (0x04) in 16450 mode and clears it on RBR read", () => {
    const { uart, rd, wr, irq } = makeUart();
    wr(MCR, 0x08);
    wr(IER, 0x01);
    uart.receive([0x7a]);
    expect(irq.level).toBe(true);
    expect(rd(IIR)).toBe(0x04);
    expect(rd(IIR)).toBe(0x04); // IIR read does not clear it
    expect(rd(RBR)).toBe(0x7a);
    expect(irq.level).toBe(false);
    expect(rd(IIR)).toBe(0x01);
  });

  it("FCR clears the RX FIFO, and toggling FIFO mode clears it too", () => {
    const { uart, rd, wr } = makeUart();
    wr(FCR, 0x01);
    uart.receive([1, 2, 3]);
    wr(FCR, 0x03);
    expect(rd(LSR) & 1).toBe(0);
    expect(uart.rxSpace).toBe(16);
    uart.receive([4, 5]);
    wr(FCR, 0x05); // TX clear only: RX kept
    expect(rd(RBR)).toBe(4);
    wr(FCR, 0x00); // leave FIFO mode: both FIFOs cleared
    expect(rd(LSR) & 1).toBe(0);
    expect(uart.rxSpace).toBe(1);
  });

  it("ignores FCR trigger bits unless FCR0 is set", () => {
    const { uart, rd, wr } = makeUart();
    wr(FCR, 0x41); // trigger 4
    wr(FCR, 0xc0); // FCR0 = 0: disables FIFOs, trigger not programmed
    wr(FCR, 0x01); // enabled again with trigger 1
    wr(IER, 0x01);
    uart.receive([9]);
    expect(rd(IIR)).toBe(0xc4);
  });

  it("reports line errors at the FIFO top, clears OE/PE/FE/BI on LSR read, bit 7 while errors wait", () => {
    const { uart, rd, wr, irq } = makeUart();
    wr(FCR, 0x01);
    wr(MCR, 0x08);
    wr(IER, 0x04); // ELSI only
    uart.receive([0x41]);
    expect(uart.receiveWithErrors(0x42, 0x04)).toBe(true); // parity error, second in the FIFO
    expect(uart.receiveWithErrors(0x99, 0x10)).toBe(true); // break: a zero character
    expect(irq.level).toBe(false); // errors not yet at the top
    expect(rd(LSR)).toBe(0xe1); // DR, THRE, TEMT, error in RCVR FIFO
    expect(rd(RBR)).toBe(0x41);
    expect(irq.level).toBe(true);
    expect(rd(IIR)).toBe(0xc6);
    expect(rd(LSR)).toBe(0xe5); // PE revealed; bit 7 set
    expect(rd(LSR)).toBe(0xe1); // PE cleared by the read; bit 7 stays (BI waits in the FIFO)
    expect(irq.level).toBe(false);
    expect(rd(RBR)).toBe(0x42);
    expect(rd(LSR)).toBe(0xf1); // BI revealed
    expect(rd(RBR)).toBe(0x00);
    expect(rd(LSR)).toBe(0x60);
  });

  it("receive line status outranks received data", () => {
    const { uart, rd, wr } = makeUart();
    wr(IER, 0x05);
    uart.receiveWithErrors(0x41, 0x08);
    expect(rd(IIR)).toBe(0x06);
    expect(rd(LSR)).toBe(0x69); // DR, FE, THRE, TEMT (no bit 7 in 16450 mode)
    expect(rd(IIR)).toBe(0x04);
  });
});

describe("Uart16550 loopback", () => {
  it("routes THR to the receiver, not to the transmit callback", () => {
    const { rd, wr, sent } = makeUart();
    wr(FCR, 0x07);
    wr(MCR, 0x10);
    wr(THR, 0x11);
    wr(THR, 0x22);
    expect(sent).toEqual([]);
    expect(rd(LSR) & 1).toBe(1);
    expect([rd(RBR), rd(RBR)]).toEqual([0x11, 0x22]);
    wr(MCR, 0x00);
    wr(THR, 0x33);
    expect(sent).toEqual([0x33]);
  });

  it("makes MSR follow MCR: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD (Linux's autoconfig probe)", () => {
    const { rd, wr } = makeUart();
    rd(MSR);
    wr(MCR, 0x1a); // LOOP | OUT2 | RTS
    expect(rd(MSR) & 0xf0).toBe(0x90);
    wr(MCR, 0x10);
    expect(rd(MSR)).toBe(0x09); // CTS and DCD dropped: DCTS, DDCD
    wr(MCR, 0x11); // DTR
    expect(rd(MSR)).toBe(0x22);
    wr(MCR, 0x14); // OUT1 -> RI, DTR off
    expect(rd(MSR)).toBe(0x42);
    wr(MCR, 0x10); // RI trailing edge
    expect(rd(MSR)).toBe(0x04);
    expect(rd(MSR)).toBe(0x00);
  });

  it("raises a modem status interrupt (IIR 0x00) from MCR changes in loopback, gated off at the pin", () => {
    const { rd, wr, irq } = makeUart();
    wr(MCR, 0x10);
    rd(MSR);
    wr(IER, 0x08);
    wr(MCR, 0x1a);
    expect(rd(IIR)).toBe(0x00);
    expect(irq.level).toBe(false); // OUT2 pin forced inactive in loopback
    rd(MSR);
    expect(rd(IIR)).toBe(0x01);
  });

  it("sets OE in 16450 mode when a looped-back byte overwrites an unread one", () => {
    const { uart, rd, wr } = makeUart();
    wr(MCR, 0x10);
    wr(THR, 0x01);
    expect(rd(LSR) & 0x02).toBe(0);
    wr(THR, 0x02);
    wr(IER, 0x04);
    expect(rd(IIR)).toBe(0x06);
    expect(rd(LSR)).toBe(0x63); // DR | OE | THRE | TEMT
    expect(rd(LSR)).toBe(0x61); // OE cleared by the read
    expect(rd(IIR)).toBe(0x01);
    expect(rd(RBR)).toBe(0x02); // the new byte replaced the old one
    expect(uart.receive([5])).toBe(0); // SIN disconnected in loopback
  });

  it("sets OE in FIFO mode when the FIFO is full and keeps the FIFO contents", () => {
    const { rd, wr } = makeUart();
    wr(FCR, 0x01);
    wr(MCR, 0x10);
    for (let i = 0; i < 17; i++) wr(THR, i);
    expect(rd(LSR)).toBe(0x63);
    const out: number[] = [];
    while (rd(LSR) & 1) out.push(rd(RBR));
    expect(out).toEqual(Array.from({ length: 16 }, (_, i) => i));
  });
});

describe("Uart16550 modem inputs", () => {
  it("starts with CTS, DSR and DCD asserted and reports host changes as deltas", () => {
    const { uart, rd, wr, irq } = makeUart();
    expect(rd(MSR)).toBe(0xb0);
    wr(MCR, 0x08);
    wr(IER, 0x08);
    uart.setModemInputs({ dcd: false, ri: true });
    expect(irq.level).toBe(true);
    expect(rd(IIR)).toBe(0x00);
    expect(rd(MSR)).toBe(0x78); // CTS DSR RI, DDCD
    expect(irq.level).toBe(false);
    uart.setModemInputs({ ri: false });
    expect(rd(MSR)).toBe(0x34); // TERI
  });
});

describe("Uart16550 state", () => {
  it("round-trips through saveState/loadState with identical register reads", () => {
    const a = makeUart();
    a.wr(LCR, 0x83);
    a.wr(DLL, 0x03);
    a.wr(DLM, 0x00);
    a.wr(LCR, 0x1b);
    a.wr(FCR, 0x81);
    a.wr(MCR, 0x0b);
    a.wr(IER, 0x07);
    a.wr(SCR, 0x5a);
    a.uart.receive([10, 20, 30]);
    a.uart.receiveWithErrors(40, 0x08);
    const saved = a.uart.saveState();
    a.uart.receive([99]); // later changes must not leak into the snapshot
    a.wr(SCR, 0);

    const b = makeUart();
    b.uart.loadState(saved);
    expect(b.irq.level).toBe(true);
    expect(b.uart.saveState()).toEqual(saved);
    const c = makeUart();
    c.uart.loadState(saved);
    const sequence = (u: ReturnType<typeof makeUart>) => {
      const r: number[] = [];
      for (const off of [LCR, MCR, SCR, IER, IIR, MSR]) r.push(u.rd(off));
      u.wr(LCR, 0x9b);
      r.push(u.rd(DLL), u.rd(DLM));
      u.wr(LCR, 0x1b);
      while (u.rd(LSR) & 1) r.push(u.rd(LSR), u.rd(RBR), u.rd(IIR));
      r.push(u.rd(LSR), u.rd(IIR));
      return r;
    };
    const rb = sequence(b);
    expect(sequence(c)).toEqual(rb);
    expect(rb.slice(0, 8)).toEqual([0x1b, 0x0b, 0x5a, 0x07, 0xcc, 0xb0, 0x03, 0x00]);
  });

  it("saveState is a deep copy", () => {
    const { uart } = makeUart();
    uart.receive([1]);
    const s = uart.saveState();
    s.rxFifo.push(2);
    expect(uart.saveState().rxFifo).toEqual([1]);
  });

  it("reset restores the power-on registers", () => {
    const { uart, rd, wr, irq } = makeUart();
    wr(MCR, 0x08);
    wr(IER, 0x02);
    expect(irq.level).toBe(true);
    uart.reset();
    expect(irq.level).toBe(false);
    expect([rd(IER), rd(IIR), rd(LCR), rd(MCR), rd(LSR), rd(MSR)]).toEqual([0, 1, 0, 0, 0x60, 0xb0]);
  });
});
