import { describe, expect, it } from "vitest";
import { IoBus } from "../src/bus/io-bus.js";
import {
  CTR_AUXDIS,
  CTR_AUXINT,
  CTR_KBDDIS,
  CTR_KBDINT,
  CTR_XLATE,
  I8042,
  STATUS_AUXDATA,
  STATUS_CMD,
  STATUS_IBF,
  STATUS_OBF,
  STATUS_SYS,
  STATUS_TIMEOUT,
  STATUS_UNLOCKED,
} from "../src/devices/i8042.js";
import { RecordingIrq } from "./helpers/recording-irq.js";

// Linux's command encoding (drivers/input/serio/i8042.h): bits 8-11 = bytes in, 12-15 = bytes out.
const I8042_CMD_CTL_RCTR = 0x0120;
const I8042_CMD_CTL_WCTR = 0x1060;
const I8042_CMD_CTL_TEST = 0x01aa;
const I8042_CMD_KBD_TEST = 0x01ab;
const I8042_CMD_AUX_DISABLE = 0x00a7;
const I8042_CMD_AUX_ENABLE = 0x00a8;
const I8042_CMD_AUX_TEST = 0x01a9;
const I8042_CMD_AUX_SEND = 0x10d4;
const I8042_CMD_AUX_LOOP = 0x11d3;

function makeKbc() {
  const irq = new RecordingIrq();
  const auxIrq = new RecordingIrq();
  const resets: number[] = [];
  const a20: boolean[] = [];
  const kbc = new I8042({ irq, auxIrq, onReset: () => resets.push(1), onA20: (on) => a20.push(on) });
  const pio = new IoBus("pio", 0x10000);
  pio.map(0x60, 1, kbc.data);
  pio.map(0x64, 1, kbc.command);
  const inb = (port: number) => pio.read(port, 1);
  const outb = (port: number, v: number) => pio.write(port, 1, v);
  /** i8042_flush(): read while OBF, at most 16 bytes; returns the bytes or throws like -EIO. */
  const flush = (): number[] => {
    const got: number[] = [];
    while (inb(0x64) & STATUS_OBF) {
      if (got.length >= 16) throw new Error("i8042_flush: buffer never empties");
      got.push(inb(0x60));
    }
    return got;
  };
  /** __i8042_command(): polls IBF before each write and OBF before each read, as Linux does. */
  const command = (param: number[], cmd: number): number => {
    const send = (cmd >> 12) & 0xf;
    const receive = (cmd >> 8) & 0xf;
    if (inb(0x64) & STATUS_IBF) return -1;
    outb(0x64, cmd & 0xff);
    for (let i = 0; i < send; i++) {
      if (inb(0x64) & STATUS_IBF) return -1;
      outb(0x60, param[i]!);
    }
    for (let i = 0; i < receive; i++) {
      const str = inb(0x64);
      if (!(str & STATUS_OBF)) return -1; // i8042_wait_read timeout
      if (cmd === I8042_CMD_AUX_LOOP && !(str & STATUS_AUXDATA)) return -1;
      param[i] = inb(0x60);
    }
    return 0;
  };
  return { kbc, irq, auxIrq, resets, a20, pio, inb, outb, flush, command };
}

describe("I8042 status and controller commands", () => {
  it("reports a present, idle controller (Linux i8042_controller_check)", () => {
    const k = makeKbc();
    const status = k.inb(0x64);
    expect(status & STATUS_OBF).toBe(0);
    expect(status & STATUS_IBF).toBe(0);
    expect(status & STATUS_SYS).toBe(STATUS_SYS);
    expect(status & STATUS_UNLOCKED).toBe(STATUS_UNLOCKED);
    expect(k.flush()).toEqual([]);
  });

  it("passes the self test (AAh -> 55h) and the interface tests", () => {
    const k = makeKbc();
    const p = [0];
    expect(k.command(p, I8042_CMD_CTL_TEST)).toBe(0);
    expect(p[0]).toBe(0x55);
    expect(k.command(p, I8042_CMD_KBD_TEST)).toBe(0);
    expect(p[0]).toBe(0x00);
    expect(k.command(p, I8042_CMD_AUX_TEST)).toBe(0);
    expect(p[0]).toBe(0x00);
    expect(k.inb(0x64) & STATUS_CMD).toBe(STATUS_CMD);
  });

  it("reads and writes the command byte as i8042_controller_init does", () => {
    const k = makeKbc();
    const ctr = [0, 0];
    expect(k.command(ctr, I8042_CMD_CTL_RCTR)).toBe(0);
    const again = [0];
    expect(k.command(again, I8042_CMD_CTL_RCTR)).toBe(0);
    expect(again[0]).toBe(ctr[0]); // a stable CTR read
    expect(ctr[0]! & CTR_XLATE).toBe(CTR_XLATE);
    const next = (ctr[0]! | CTR_KBDDIS) & ~CTR_KBDINT;
    expect(k.command([next], I8042_CMD_CTL_WCTR)).toBe(0);
    expect(k.kbc.commandByte).toBe(next);
    expect(k.command(again, I8042_CMD_CTL_RCTR)).toBe(0);
    expect(again[0]).toBe(next);
    expect(k.flush()).toEqual([]);
    // The system flag in the status register follows command byte bit 2.
    k.command([next & ~0x04], I8042_CMD_CTL_WCTR);
    expect(k.inb(0x64) & STATUS_SYS).toBe(0);
  });

  it("runs Linux's AUX probe: loopback, port toggling, IRQ12 delivery, no mouse behind it", () => {
    const k = makeKbc();
    const p = [0x5a];
    expect(k.command(p, I8042_CMD_AUX_LOOP)).toBe(0);
    expect(p[0]).toBe(0x5a);
    // i8042_toggle_aux: disable then enable, checking the CTR bit each time.
    expect(k.command([], I8042_CMD_AUX_DISABLE)).toBe(0);
    const ctr = [0];
    k.command(ctr, I8042_CMD_CTL_RCTR);
    expect(ctr[0]! & CTR_AUXDIS).toBe(CTR_AUXDIS);
    expect(k.command([], I8042_CMD_AUX_ENABLE)).toBe(0);
    k.command(ctr, I8042_CMD_CTL_RCTR);
    expect(ctr[0]! & CTR_AUXDIS).toBe(0);
    // IRQ test: enable AUX interrupts, loop A5h without reading, expect IRQ12 with AUXDATA.
    k.command([ctr[0]! | CTR_AUXINT], I8042_CMD_CTL_WCTR);
    expect(k.command([0xa5], I8042_CMD_AUX_LOOP & 0xf0ff)).toBe(0);
    expect(k.auxIrq.level).toBe(true);
    expect(k.irq.level).toBe(false);
    expect(k.inb(0x64) & (STATUS_OBF | STATUS_AUXDATA)).toBe(STATUS_OBF | STATUS_AUXDATA);
    expect(k.inb(0x60)).toBe(0xa5);
    expect(k.auxIrq.level).toBe(false);
    // Multiplexer check: the third loop byte comes back unchanged, so it is not an active mux.
    for (const v of [0xf0, 0x56, 0xa4]) {
      const q = [v];
      expect(k.command(q, I8042_CMD_AUX_LOOP)).toBe(0);
      expect(q[0]).toBe(v);
    }
    // psmouse sends GETID (F2h) with D4h: no device answers -> FEh with time-out.
    expect(k.command([0xf2], I8042_CMD_AUX_SEND)).toBe(0);
    const status = k.inb(0x64);
    expect(status & (STATUS_OBF | STATUS_AUXDATA | STATUS_TIMEOUT)).toBe(
      STATUS_OBF | STATUS_AUXDATA | STATUS_TIMEOUT,
    );
    expect(k.inb(0x60)).toBe(0xfe);
    expect(k.inb(0x64) & (STATUS_OBF | STATUS_TIMEOUT)).toBe(0);
  });
});

describe("I8042 keyboard", () => {
  /** ps2_command as atkbd uses it, with interrupts: bytes arrive one per IRQ1 edge. */
  function kbdCommand(k: ReturnType<typeof makeKbc>, bytes: number[], expectIn: number): number[] {
    const got: number[] = [];
    for (const b of bytes) {
      k.outb(0x60, b);
      expect(k.irq.level).toBe(true);
      got.push(k.inb(0x60));
    }
    while (got.length < bytes.length + expectIn) {
      expect(k.irq.level).toBe(true);
      expect(k.inb(0x64) & STATUS_OBF).toBe(STATUS_OBF);
      got.push(k.inb(0x60));
    }
    expect(k.inb(0x64) & STATUS_OBF).toBe(0);
    return got;
  }

  it("answers reset with FAh AAh and identify with FAh ABh 41h (translated) / 83h (raw)", () => {
    const k = makeKbc();
    expect(kbdCommand(k, [0xff], 1)).toEqual([0xfa, 0xaa]);
    expect(kbdCommand(k, [0xf2], 2)).toEqual([0xfa, 0xab, 0x41]);
    k.command([k.kbc.commandByte & ~CTR_XLATE], I8042_CMD_CTL_WCTR);
    expect(kbdCommand(k, [0xf2], 2)).toEqual([0xfa, 0xab, 0x83]);
  });

  it("acknowledges LEDs, typematic, enable/disable and reports the scan code set", () => {
    const k = makeKbc();
    expect(kbdCommand(k, [0xed, 0x00], 0)).toEqual([0xfa, 0xfa]);
    expect(kbdCommand(k, [0xf3, 0x00], 0)).toEqual([0xfa, 0xfa]);
    expect(kbdCommand(k, [0xf5], 0)).toEqual([0xfa]);
    expect(k.kbc.queueScancode(0x1e)).toBe(false); // not scanning
    expect(kbdCommand(k, [0xf4], 0)).toEqual([0xfa]);
    expect(kbdCommand(k, [0xf0, 0x00], 1)).toEqual([0xfa, 0xfa, 0x41]);
    expect(kbdCommand(k, [0xee], 0)).toEqual([0xee]);
    expect(kbdCommand(k, [0xe8], 0)).toEqual([0xfa]); // anything else: ACK
  });

  it("raises an IRQ1 edge per byte and holds keyboard bytes while the interface is disabled", () => {
    const k = makeKbc();
    k.outb(0x64, 0xad);
    expect(k.kbc.queueScancode(0x1e)).toBe(true);
    expect(k.inb(0x64) & STATUS_OBF).toBe(0);
    k.outb(0x64, 0xae);
    expect(k.irq.level).toBe(true);
    k.kbc.queueScancode(0x9e);
    expect(k.inb(0x60)).toBe(0x1e);
    expect(k.irq.level).toBe(true);
    expect(k.inb(0x60)).toBe(0x9e);
    expect(k.irq.level).toBe(false);
    expect(k.irq.events).toEqual([true, false, true, false]);
    // With KBDINT clear the byte is still there to poll, but no IRQ.
    k.command([k.kbc.commandByte & ~CTR_KBDINT], I8042_CMD_CTL_WCTR);
    k.kbc.queueScancode(0x1e);
    expect(k.irq.level).toBe(false);
    expect(k.flush()).toEqual([0x1e]);
  });

  it("writes the keyboard output buffer with D2h", () => {
    const k = makeKbc();
    k.outb(0x64, 0xd2);
    k.outb(0x60, 0x42);
    expect(k.inb(0x64) & (STATUS_OBF | STATUS_AUXDATA)).toBe(STATUS_OBF);
    expect(k.irq.level).toBe(true);
    expect(k.inb(0x60)).toBe(0x42);
  });
});

describe("I8042 output port: reset and A20", () => {
  it("resets the machine on FEh (as Linux's reboot=kbd loop does)", () => {
    const k = makeKbc();
    for (let i = 0; i < 3; i++) {
      while (k.inb(0x64) & STATUS_IBF);
      k.outb(0x64, 0xfe);
    }
    expect(k.resets).toHaveLength(3);
    k.outb(0x64, 0xff); // pulses nothing
    expect(k.resets).toHaveLength(3);
  });

  it("drives A20 and reset through D1h and reads the output port back with D0h", () => {
    const k = makeKbc();
    expect(k.kbc.a20).toBe(true);
    const p = [0];
    k.command(p, 0x01d0);
    expect(p[0]! & 0x03).toBe(0x03);
    k.command([0xdd], 0x10d1); // A20 off, reset inactive
    expect(k.a20).toEqual([false]);
    expect(k.kbc.a20).toBe(false);
    k.command([0xdf], 0x10d1); // A20 on
    expect(k.a20).toEqual([false, true]);
    k.command([0xdf], 0x10d1); // no change: no callback
    expect(k.a20).toEqual([false, true]);
    expect(k.resets).toHaveLength(0);
    k.command([0xde], 0x10d1); // bit 0 low: CPU reset
    expect(k.resets).toHaveLength(1);
    k.command(p, 0x01d0);
    expect(p[0]! & 0x03).toBe(0x03);
  });

  it("aborts a pending parameter when a new command arrives", () => {
    const k = makeKbc();
    k.outb(0x64, 0xd1);
    k.outb(0x64, 0xaa);
    expect(k.inb(0x60)).toBe(0x55);
    k.outb(0x60, 0xff); // goes to the keyboard (reset), not to the output port
    expect(k.flush()).toEqual([0xfa, 0xaa]);
    expect(k.resets).toHaveLength(0);
  });

  it("saves and restores its state", () => {
    const k = makeKbc();
    k.outb(0x64, 0xd1); // pending output-port write
    k.kbc.queueScancode(0x1e);
    const saved = JSON.parse(JSON.stringify(k.kbc.saveState()));
    const k2 = makeKbc();
    k2.kbc.loadState(saved);
    expect(k2.irq.level).toBe(true);
    expect(k2.inb(0x60)).toBe(0x1e);
    k2.outb(0x60, 0xdd);
    expect(k2.a20).toEqual([false]);
    k2.kbc.reset();
    expect(k2.kbc.commandByte).toBe(k.kbc.commandByte);
    expect(k2.inb(0x64) & STATUS_OBF).toBe(0);
  });
});
