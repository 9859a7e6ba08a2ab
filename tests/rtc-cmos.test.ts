import { describe, expect, it } from "vitest";
import { ManualClock } from "../src/clock.js";
import type { IrqLine } from "../src/devices/irq.js";
import { RtcCmos } from "../src/devices/rtc-cmos.js";

class RecordingIrq implements IrqLine {
  level = false;
  rises = 0;
  set(level: boolean): void {
    if (level && !this.level) this.rises++;
    this.level = level;
  }
}

const SEC = 1e9;
const EPOCH = new Date("2026-01-01T00:00:00Z"); // a Thursday

function makeRtc(opts: { start?: Date; memoryBytes?: number } = {}) {
  const clock = new ManualClock();
  const irq = new RecordingIrq();
  const rtc = new RtcCmos({
    clock,
    irq8: irq,
    startTime: opts.start ?? EPOCH,
    ...(opts.memoryBytes !== undefined ? { memoryBytes: opts.memoryBytes } : {}),
  });
  const rd = (reg: number) => {
    rtc.write(0, 1, reg);
    return rtc.read(1, 1);
  };
  const wr = (reg: number, v: number) => {
    rtc.write(0, 1, reg);
    rtc.write(1, 1, v);
  };
  /** Seconds, minutes, hours, day of week, day of month, month, year, century. */
  const time = () => [0, 2, 4, 6, 7, 8, 9, 0x32].map(rd);
  return { clock, irq, rtc, rd, wr, time };
}

describe("RtcCmos time registers", () => {
  it("starts at the given epoch in BCD, 24-hour mode", () => {
    const { rd, time } = makeRtc();
    expect(time()).toEqual([0x00, 0x00, 0x00, 5, 0x01, 0x01, 0x26, 0x20]);
    expect(rd(0x0a)).toBe(0x26);
    expect(rd(0x0b)).toBe(0x02);
    expect(rd(0x0d)).toBe(0x80);
  });

  it("advances with the guest clock", () => {
    const { clock, time } = makeRtc();
    clock.set(3725.5 * SEC);
    expect(time()).toEqual([0x05, 0x02, 0x01, 5, 0x01, 0x01, 0x26, 0x20]);
    clock.set((86400 * 59 + 3600 * 23 + 60 * 59 + 59) * SEC); // 2026-03-01 23:59:59, a Sunday
    expect(time()).toEqual([0x59, 0x59, 0x23, 1, 0x01, 0x03, 0x26, 0x20]);
  });

  it("binary mode (DM = 1)", () => {
    const { clock, wr, time } = makeRtc();
    wr(0x0b, 0x06);
    clock.set((3600 * 13 + 60 * 45 + 30) * SEC);
    expect(time()).toEqual([30, 45, 13, 5, 1, 1, 26, 20]);
  });

  it("12-hour mode puts PM in bit 7 of the hours", () => {
    const { clock, wr, rd } = makeRtc();
    wr(0x0b, 0x00); // BCD, 12-hour
    expect(rd(4)).toBe(0x12); // midnight = 12 AM
    clock.set(3600 * 1 * SEC);
    expect(rd(4)).toBe(0x01);
    clock.set(3600 * 12 * SEC);
    expect(rd(4)).toBe(0x92); // noon = 12 PM
    clock.set(3600 * 23 * SEC);
    expect(rd(4)).toBe(0x91);
    wr(0x0b, 0x04); // binary, 12-hour
    expect(rd(4)).toBe(0x80 | 11);
  });

  it("rolls over the century", () => {
    const { clock, time } = makeRtc({ start: new Date("2099-12-31T23:59:59Z") });
    expect(time()).toEqual([0x59, 0x59, 0x23, 5, 0x31, 0x12, 0x99, 0x20]);
    clock.set(SEC);
    expect(time()).toEqual([0x00, 0x00, 0x00, 6, 0x01, 0x01, 0x00, 0x21]);
  });

  it("a realtime start with milliseconds updates at the next host second", () => {
    const { clock, rd } = makeRtc({ start: new Date("2026-01-01T00:00:00.250Z") });
    clock.set(0.75 * SEC - 1);
    expect(rd(0)).toBe(0x00);
    clock.set(0.75 * SEC);
    expect(rd(0)).toBe(0x01);
  });

  it("UIP is set for the 244 µs before each update", () => {
    const { clock, rd } = makeRtc();
    expect(rd(0x0a) & 0x80).toBe(0);
    clock.set(999_755_859);
    expect(rd(0x0a) & 0x80).toBe(0);
    clock.set(999_755_860); // 32760/32768 s
    expect(rd(0x0a) & 0x80).toBe(0x80);
    expect(rd(0)).toBe(0x00);
    clock.set(SEC);
    expect(rd(0x0a) & 0x80).toBe(0);
    expect(rd(0)).toBe(0x01);
  });
});

describe("RtcCmos setting the time", () => {
  it("SET stops updates, takes the written time, and clears UIE", () => {
    const { clock, rd, wr, time } = makeRtc();
    wr(0x0b, 0x12); // UIE
    wr(0x0b, 0x82 | 0x10); // SET (with UIE: cleared by SET)
    expect(rd(0x0b)).toBe(0x82);
    // Linux's mc146818_set_time order: year, month, day, hours, minutes, seconds.
    wr(9, 0x28);
    wr(8, 0x02);
    wr(7, 0x29); // 29 February 2028: valid only once the year is known
    wr(4, 0x12);
    wr(2, 0x34);
    wr(0, 0x56);
    wr(0x32, 0x20);
    clock.set(5 * SEC);
    expect(rd(0)).toBe(0x56); // frozen while SET = 1
    expect(rd(0x0a) & 0x80).toBe(0); // no UIP while stopped
    wr(0x0b, 0x02);
    expect(time()).toEqual([0x56, 0x34, 0x12, 3, 0x29, 0x02, 0x28, 0x20]); // a Tuesday
    clock.set(6 * SEC); // updates continue on the old phase
    expect(rd(0)).toBe(0x57);
    clock.set(10 * SEC);
    expect(time().slice(0, 3)).toEqual([0x01, 0x35, 0x12]);
  });

  it("writing a field while running changes only that field", () => {
    const { clock, wr, time } = makeRtc();
    clock.set(2.5 * SEC);
    wr(2, 0x30); // minutes
    expect(time().slice(0, 3)).toEqual([0x02, 0x30, 0x00]);
    clock.set(3 * SEC);
    expect(time().slice(0, 3)).toEqual([0x03, 0x30, 0x00]);
  });

  it("a day-of-week register written by the guest counts on from its own value", () => {
    const { clock, wr, rd } = makeRtc();
    wr(6, 1);
    expect(rd(6)).toBe(1);
    clock.set(86400 * SEC);
    expect(rd(6)).toBe(2);
    clock.set(86400 * 6 * SEC);
    expect(rd(6)).toBe(7);
    clock.set(86400 * 7 * SEC);
    expect(rd(6)).toBe(1);
  });

  it("a day-of-week written while SET = 1 is kept and counts on", () => {
    const { clock, wr, rd } = makeRtc();
    wr(0x0b, 0x82);
    wr(6, 0x02); // the guest claims Monday (1 January 2026 is a Thursday)
    wr(0x0b, 0x02);
    expect(rd(6)).toBe(2);
    clock.set(86400 * SEC);
    expect(rd(6)).toBe(3);
  });

  it("a divider reset stops the clock; the first update comes 500 ms after release", () => {
    const { clock, rd, wr } = makeRtc();
    clock.set(1.2 * SEC);
    wr(0x0a, 0x76); // divider reset
    clock.set(10 * SEC);
    expect(rd(0)).toBe(0x01);
    wr(0x0a, 0x26);
    clock.set(10.5 * SEC - 1);
    expect(rd(0)).toBe(0x01);
    clock.set(10.5 * SEC);
    expect(rd(0)).toBe(0x02);
  });
});

describe("RtcCmos interrupts", () => {
  it("periodic interrupt at 1024 Hz (RS = 6) on IRQ 8; reading C clears it", () => {
    const { clock, irq, rtc, rd, wr } = makeRtc();
    wr(0x0b, 0x42); // PIE
    expect(rtc.nextDeadline()).toBe(976_563); // 1/1024 s, rounded up to a whole ns
    clock.set(976_562);
    rtc.advance(clock.now());
    expect(irq.level).toBe(false);
    clock.set(976_563);
    rtc.advance(clock.now());
    expect(irq.level).toBe(true);
    expect(rtc.nextDeadline()).toBe(Infinity); // IRQ 8 stays high until C is read
    expect(rd(0x0c)).toBe(0xc0);
    expect(irq.level).toBe(false);
    expect(rd(0x0c)).toBe(0x00);
    expect(rtc.nextDeadline()).toBe(1_953_125);
  });

  it("delivers exactly the programmed rate when the machine follows its deadlines", () => {
    for (const [rs, perSecond] of [
      [0x3, 8192],
      [0x6, 1024],
      [0xf, 2],
      [0x1, 256],
    ] as const) {
      const { clock, irq, rtc, rd, wr } = makeRtc();
      wr(0x0a, 0x20 | rs);
      wr(0x0b, 0x42);
      let count = 0;
      for (;;) {
        const t = rtc.nextDeadline();
        if (t > SEC) break;
        clock.set(t);
        rtc.advance(t);
        if (irq.level) {
          count++;
          rd(0x0c);
        }
      }
      expect(count).toBe(perSecond);
    }
  });

  it("PF is set without PIE; enabling PIE then raises IRQ 8", () => {
    const { clock, irq, rtc, rd, wr } = makeRtc();
    clock.set(0.01 * SEC);
    rtc.advance(clock.now());
    expect(irq.level).toBe(false);
    wr(0x0b, 0x42);
    expect(irq.level).toBe(true);
    expect(rd(0x0c)).toBe(0xd0 & 0xc0); // PF|IRQF (no update yet)
  });

  it("rate select 0 disables the periodic interrupt", () => {
    const { clock, rtc, rd, wr } = makeRtc();
    wr(0x0a, 0x20);
    wr(0x0b, 0x42);
    expect(rtc.nextDeadline()).toBe(Infinity);
    clock.set(0.5 * SEC);
    expect(rd(0x0c)).toBe(0);
  });

  it("update-ended interrupt once per second", () => {
    const { clock, irq, rtc, rd, wr } = makeRtc();
    wr(0x0b, 0x12); // UIE
    expect(rtc.nextDeadline()).toBe(SEC);
    clock.set(SEC);
    rtc.advance(SEC);
    expect(irq.level).toBe(true);
    expect(rd(0x0c)).toBe(0xd0); // IRQF | UF, and PF: the 1024 Hz periodic flag runs regardless of PIE
    expect(rtc.nextDeadline()).toBe(2 * SEC);
    // Reading C in a polling loop sees UF once per update (Linux's rtc "uie" emulation).
    clock.set(2.5 * SEC);
    expect(rd(0x0c) & 0x10).toBe(0x10);
    expect(rd(0x0c) & 0x10).toBe(0);
  });

  it("alarm interrupt at an exact time", () => {
    const { clock, irq, rtc, rd, wr } = makeRtc();
    wr(1, 0x05);
    wr(3, 0x00);
    wr(5, 0x00);
    wr(0x0b, 0x22); // AIE
    expect(rtc.nextDeadline()).toBe(5 * SEC);
    clock.set(4 * SEC);
    rtc.advance(4 * SEC);
    expect(irq.level).toBe(false);
    clock.set(5 * SEC);
    rtc.advance(5 * SEC);
    expect(irq.level).toBe(true);
    expect(rd(0x0c)).toBe(0xf0); // IRQF | PF | AF | UF
    expect(rtc.nextDeadline()).toBe((86400 + 5) * SEC); // tomorrow
  });

  it("alarm with don't-care bytes fires every minute at :30, even across a long skip", () => {
    const { clock, irq, rtc, rd, wr } = makeRtc();
    wr(1, 0x30);
    wr(3, 0xc0);
    wr(5, 0xff);
    wr(0x0b, 0x22);
    expect(rtc.nextDeadline()).toBe(30 * SEC);
    clock.set(30 * SEC);
    rtc.advance(30 * SEC);
    expect(rd(0x0c)).toBe(0xf0);
    expect(rtc.nextDeadline()).toBe(90 * SEC);
    clock.set(1000 * SEC); // several alarms missed: AF is simply set
    rtc.advance(clock.now());
    expect(irq.level).toBe(true);
    expect(rd(0x0c) & 0x20).toBe(0x20);
  });

  it("alarm in 12-hour mode compares the PM bit", () => {
    const { clock, rtc, rd, wr } = makeRtc();
    wr(0x0b, 0x20); // AIE, BCD, 12-hour
    wr(1, 0x00);
    wr(3, 0x00);
    wr(5, 0x81); // 1 PM
    expect(rtc.nextDeadline()).toBe(13 * 3600 * SEC);
    clock.set(3600 * SEC); // 1 AM: no alarm
    expect(rd(0x0c) & 0x20).toBe(0);
  });
});

describe("RtcCmos CMOS memory", () => {
  it("selects registers through port 0x70 and keeps the NMI mask bit", () => {
    const { rtc, rd, wr } = makeRtc();
    expect(rtc.nmiMasked).toBe(false);
    rtc.write(0, 1, 0x8f);
    expect(rtc.nmiMasked).toBe(true);
    rtc.write(1, 1, 0x5a);
    expect(rd(0x0f)).toBe(0x5a);
    expect(rtc.nmiMasked).toBe(false);
    wr(0x7f, 0xa5);
    expect(rd(0x7f)).toBe(0xa5);
    expect(rtc.read(0, 1)).toBe(0xff); // port 0x70 is write-only
    wr(0x0d, 0x00); // register D is read-only
    expect(rd(0x0d)).toBe(0x80);
  });

  it("memory size bytes for 64 MiB", () => {
    const { rd } = makeRtc({ memoryBytes: 64 * 1024 * 1024 });
    expect(rd(0x15) | (rd(0x16) << 8)).toBe(640);
    expect(rd(0x17) | (rd(0x18) << 8)).toBe(63 * 1024);
    expect(rd(0x30) | (rd(0x31) << 8)).toBe(63 * 1024);
    expect(rd(0x34) | (rd(0x35) << 8)).toBe((48 * 1024) / 64);
  });

  it("memory size bytes for 1 GiB are capped", () => {
    const { rd } = makeRtc({ memoryBytes: 1024 * 1024 * 1024 });
    expect(rd(0x15) | (rd(0x16) << 8)).toBe(640);
    expect(rd(0x17) | (rd(0x18) << 8)).toBe(0xffff);
    expect(rd(0x30) | (rd(0x31) << 8)).toBe(0xffff);
    expect(rd(0x34) | (rd(0x35) << 8)).toBe(((1024 - 16) * 1024) / 64);
  });

  it("checksum over 0x10-0x2D at 0x2E (high) / 0x2F (low)", () => {
    const { rtc, rd } = makeRtc({ memoryBytes: 64 * 1024 * 1024 });
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += rd(i);
    expect((rd(0x2e) << 8) | rd(0x2f)).toBe(sum);
    expect(rd(0x14)).toBe(0x02); // equipment: FPU, VGA, no floppy
    rtc.poke(0x10, 0x40);
    rtc.updateChecksum();
    expect((rd(0x2e) << 8) | rd(0x2f)).toBe(sum + 0x40);
    expect(() => rtc.poke(0x0b, 0)).toThrow(RangeError);
  });
});

describe("RtcCmos state", () => {
  it("saves and restores time, registers and pending flags", () => {
    const a = makeRtc();
    a.wr(0x0b, 0x42);
    a.wr(0x40, 0x77);
    a.clock.set(2.5 * SEC);
    a.rtc.advance(a.clock.now());
    expect(a.irq.level).toBe(true);
    const saved = JSON.parse(JSON.stringify(a.rtc.saveState()));
    const clock = new ManualClock(2.5 * SEC);
    const irq = new RecordingIrq();
    const b = new RtcCmos({ clock, irq8: irq, startTime: new Date(0) });
    b.loadState(saved);
    expect(irq.level).toBe(true);
    b.write(0, 1, 0);
    expect(b.read(1, 1)).toBe(0x02);
    b.write(0, 1, 0x40);
    expect(b.read(1, 1)).toBe(0x77);
    expect(b.time().toISOString()).toBe("2026-01-01T00:00:02.000Z");
  });
});
