import { describe, expect, it } from "vitest";
import { ManualClock, PIT_HZ, tickTime } from "../src/clock.js";
import type { IrqLine } from "../src/devices/irq.js";
import { Pit8254 } from "../src/devices/pit8254.js";
import { Port61 } from "../src/devices/port61.js";

/** Guest ns of PIT clock pulse k. */
const T = (k: number) => tickTime(k, PIT_HZ);
const CTRL = 3;

class RecordingIrq implements IrqLine {
  level = false;
  rises = 0;
  events: boolean[] = [];
  set(level: boolean): void {
    if (level && !this.level) this.rises++;
    this.level = level;
    this.events.push(level);
  }
}

function makePit() {
  const clock = new ManualClock();
  const irq = new RecordingIrq();
  const pit = new Pit8254({ clock, irq0: irq });
  const port61 = new Port61({ clock, pit });
  const wr = (off: number, v: number) => pit.write(off, 1, v);
  const rd = (off: number) => pit.read(off, 1);
  /** Move guest time to just at pulse k (k = 0: time 0). */
  const at = (k: number) => clock.set(k === 0 ? 0 : T(k));
  /** Program counter `ch`: control word then a 16-bit count (LSB then MSB). */
  const program = (ch: number, mode: number, count: number, bcd = 0) => {
    wr(CTRL, (ch << 6) | 0x30 | (mode << 1) | bcd);
    wr(ch, count & 0xff);
    wr(ch, count >> 8);
  };
  /** Latch and read a 16-bit count (access mode LSB/MSB). */
  const latched = (ch: number) => {
    wr(CTRL, ch << 6);
    return rd(ch) | (rd(ch) << 8);
  };
  return { clock, irq, pit, port61, wr, rd, at, program, latched };
}

describe("Pit8254 mode 0 (interrupt on terminal count)", () => {
  it("OUT goes low on the control word and high N+1 pulses after the count write", () => {
    const { pit, irq, at, program, latched } = makePit();
    program(0, 0, 100); // written at pulse 0: loads on pulse 1
    expect(irq.level).toBe(false);
    const rises = irq.rises;
    expect(pit.nextDeadline()).toBe(T(101));
    at(1);
    expect(latched(0)).toBe(100);
    at(51);
    expect(latched(0)).toBe(50);
    at(100);
    pit.advance(T(100));
    expect(latched(0)).toBe(1);
    expect(irq.level).toBe(false);
    at(101);
    pit.advance(T(101));
    expect(irq.level).toBe(true);
    expect(irq.rises).toBe(rises + 1);
    expect(latched(0)).toBe(0);
    // It keeps counting (wrapping) with OUT high, and no further edge is due.
    at(103);
    expect(latched(0)).toBe(0xfffe);
    expect(pit.nextDeadline()).toBe(Infinity);
    expect(pit.status(0) & 0x80).toBe(0x80);
  });

  it("writing the first byte of a new count stops counting and sets OUT low at once", () => {
    const { pit, irq, wr, at, program, latched } = makePit();
    program(0, 0, 10);
    at(20);
    pit.advance(T(20));
    expect(irq.level).toBe(true);
    wr(0, 0x05);
    expect(irq.level).toBe(false);
    at(30);
    expect(latched(0)).toBe(0xfff7); // frozen at the value it had when the LSB was written
    wr(0, 0x00); // MSB: count 5 loads on pulse 31
    at(35);
    expect(latched(0)).toBe(1);
    at(36);
    pit.advance(T(36));
    expect(irq.level).toBe(true);
  });

  it("GATE low pauses counting without touching OUT (counter 2 via port 0x61)", () => {
    const { pit, port61, at, program, latched } = makePit();
    port61.write(0, 1, 0x01); // gate 2 high
    program(2, 0, 10);
    at(5);
    expect(latched(2)).toBe(6);
    port61.write(0, 1, 0x00); // gate low at pulse 5
    at(50);
    expect(latched(2)).toBe(6);
    expect(pit.out2()).toBe(false);
    port61.write(0, 1, 0x01); // resumes on pulse 51
    at(55);
    expect(latched(2)).toBe(1);
    expect(pit.out2()).toBe(false);
    at(56);
    expect(pit.out2()).toBe(true);
    expect(port61.read(0, 1) & 0x20).toBe(0x20);
  });
});

describe("Pit8254 mode 1 (hardware retriggerable one-shot)", () => {
  it("a GATE rising edge starts the one-shot; it can be retriggered", () => {
    const { pit, port61, at, program, latched } = makePit();
    program(2, 1, 10);
    expect(pit.out2()).toBe(true);
    at(5);
    expect(pit.out2()).toBe(true); // no trigger yet
    port61.write(0, 1, 0x01); // trigger at pulse 5: loads on pulse 6
    expect(pit.out2()).toBe(true);
    at(6);
    expect(pit.out2()).toBe(false);
    expect(latched(2)).toBe(10);
    at(12);
    port61.write(0, 1, 0x00);
    port61.write(0, 1, 0x01); // retrigger at pulse 12: reloads on pulse 13
    at(20);
    expect(pit.out2()).toBe(false);
    at(22);
    expect(pit.out2()).toBe(false);
    at(23);
    expect(pit.out2()).toBe(true);
  });
});

describe("Pit8254 mode 2 (rate generator)", () => {
  it("OUT is low for one pulse per period and IRQ 0 rises every N pulses", () => {
    const { pit, irq, at, program, latched } = makePit();
    program(0, 2, 5); // loads on pulse 1
    expect(irq.level).toBe(true);
    const rises = irq.rises;
    at(4); // CE = 2
    expect(latched(0)).toBe(2);
    expect(pit.status(0) & 0x80).toBe(0x80);
    at(5); // CE = 1: OUT low
    pit.advance(T(5));
    expect(irq.level).toBe(false);
    expect(latched(0)).toBe(1);
    expect(pit.nextDeadline()).toBe(T(6));
    at(6); // reload: CE = 5, OUT high
    pit.advance(T(6));
    expect(irq.level).toBe(true);
    expect(latched(0)).toBe(5);
    expect(irq.rises).toBe(rises + 1);
    expect(pit.nextDeadline()).toBe(T(11));
    for (let k = 11; k <= 51; k += 5) {
      at(k);
      pit.advance(T(k));
    }
    expect(irq.rises).toBe(rises + 10);
  });

  it("a new count takes effect at the end of the current period", () => {
    const { pit, wr, at, program, latched } = makePit();
    program(0, 2, 100);
    at(30);
    wr(0, 10);
    wr(0, 0);
    expect(pit.status(0) & 0x40).toBe(0x40); // null count until the reload
    expect(latched(0)).toBe(71);
    expect(pit.nextDeadline()).toBe(T(101));
    at(101);
    expect(latched(0)).toBe(10);
    expect(pit.status(0) & 0x40).toBe(0);
    expect(pit.nextDeadline()).toBe(T(111));
  });

  it("reproduces one IRQ 0 edge when the machine advanced past several periods", () => {
    const { pit, irq, at, program } = makePit();
    program(0, 2, 10);
    const before = irq.rises;
    at(1005);
    pit.advance(T(1005));
    expect(irq.rises).toBe(before + 1);
    expect(irq.level).toBe(true);
    // Sampled while OUT is in its low pulse: the edge is still reproduced, then the line drops.
    at(2000); // 1999 pulses after the load: CE = 1
    pit.advance(T(2000));
    expect(irq.rises).toBe(before + 2);
    expect(irq.level).toBe(false);
    expect(irq.events.slice(-2)).toEqual([true, false]);
  });

  it("GATE low forces OUT high and a rising GATE restarts the count (counter 2)", () => {
    const { pit, port61, at, program, latched } = makePit();
    port61.write(0, 1, 0x01);
    program(2, 2, 4);
    at(4);
    expect(pit.out2()).toBe(false); // CE = 1
    port61.write(0, 1, 0x00);
    expect(pit.out2()).toBe(true);
    at(20);
    expect(latched(2)).toBe(1);
    port61.write(0, 1, 0x01); // restart: reload on pulse 21
    at(21);
    expect(latched(2)).toBe(4);
    at(24);
    expect(pit.out2()).toBe(false);
  });
});

describe("Pit8254 mode 3 (square wave)", () => {
  it("even count: OUT high N/2 and low N/2 pulses, CE counts down by 2", () => {
    const { pit, irq, at, program, latched } = makePit();
    program(0, 3, 8); // loads on pulse 1
    const levels: boolean[] = [];
    const counts: number[] = [];
    for (let k = 1; k <= 17; k++) {
      at(k);
      pit.advance(T(k));
      levels.push(irq.level);
      counts.push(latched(0));
    }
    const H = true,
      L = false;
    expect(levels).toEqual([H, H, H, H, L, L, L, L, H, H, H, H, L, L, L, L, H]);
    expect(counts).toEqual([8, 6, 4, 2, 8, 6, 4, 2, 8, 6, 4, 2, 8, 6, 4, 2, 8]);
  });

  it("odd count: OUT high (N+1)/2 and low (N-1)/2 pulses", () => {
    const { pit, at, program, latched } = makePit();
    program(2, 3, 5);
    pit.setGate2(true); // trigger: loads on pulse 1
    const levels: boolean[] = [];
    const counts: number[] = [];
    for (let k = 1; k <= 11; k++) {
      at(k);
      levels.push(pit.out2());
      counts.push(latched(2));
    }
    const H = true,
      L = false;
    expect(levels).toEqual([H, H, H, L, L, H, H, H, L, L, H]);
    expect(counts).toEqual([4, 2, 0, 4, 2, 4, 2, 0, 4, 2, 4]);
  });

  it("the BIOS's 18.2 Hz timer: count 0 gives 65536 pulses per IRQ 0 edge", () => {
    const { pit, irq, wr } = makePit();
    wr(CTRL, 0x36);
    wr(0, 0);
    wr(0, 0);
    const first = pit.nextDeadline();
    expect(first).toBe(T(1 + 65536));
    pit.advance(first);
    const second = pit.nextDeadline();
    expect(second).toBe(T(1 + 2 * 65536));
    expect(irq.rises).toBeGreaterThanOrEqual(1);
    expect((second - first) / 1e6).toBeCloseTo(54.925, 2); // ms
  });

  it("a new count takes effect at the end of the current half-cycle", () => {
    const { pit, wr, at, program, latched } = makePit();
    program(0, 3, 20); // high pulses 1-10, low from 11
    at(3);
    wr(0, 6);
    wr(0, 0);
    expect(pit.nextDeadline()).toBe(T(11 + 3)); // high until 11, then low for 6/2 = 3
    at(11);
    expect(latched(0)).toBe(6);
    expect(pit.status(0) & 0x80).toBe(0);
  });
});

describe("Pit8254 mode 4 (software triggered strobe)", () => {
  it("OUT strobes low for one pulse N+1 pulses after the write", () => {
    const { pit, irq, at, program } = makePit();
    program(0, 4, 10);
    expect(irq.level).toBe(true);
    expect(pit.nextDeadline()).toBe(T(12));
    at(10);
    pit.advance(T(10));
    expect(irq.level).toBe(true);
    at(11);
    pit.advance(T(11));
    expect(irq.level).toBe(false);
    at(12);
    pit.advance(T(12));
    expect(irq.level).toBe(true);
    expect(pit.nextDeadline()).toBe(Infinity);
  });
});

describe("Pit8254 mode 5 (hardware triggered strobe)", () => {
  it("a GATE rising edge starts the count; OUT strobes low N+1 pulses later", () => {
    const { pit, at, program } = makePit();
    program(2, 5, 3);
    at(10);
    expect(pit.out2()).toBe(true);
    pit.setGate2(true); // loads on pulse 11, CE = 0 on pulse 14
    at(13);
    expect(pit.out2()).toBe(true);
    at(14);
    expect(pit.out2()).toBe(false);
    at(15);
    expect(pit.out2()).toBe(true);
  });
});

describe("Pit8254 reading and writing", () => {
  it("LSB-only and MSB-only access modes", () => {
    const { wr, rd, at } = makePit();
    wr(CTRL, 0x50); // counter 1, LSB only, mode 0
    wr(1, 0x80);
    at(1);
    expect(rd(1)).toBe(0x80);
    wr(CTRL, 0x60); // counter 1, MSB only, mode 0
    wr(1, 0x02); // count 0x0200
    at(2);
    expect(rd(1)).toBe(0x02);
    at(3);
    expect(rd(1)).toBe(0x01); // 0x01FF
  });

  it("the read flip-flop of an unlatched LSB/MSB read sees the live counter", () => {
    const { pit, wr, rd, at, program } = makePit();
    pit.setGate2(true);
    program(2, 0, 0x0105);
    // Linux's pit_expect_msb reads LSB then MSB with inb(0x42) twice, no latch.
    at(1);
    expect(rd(2)).toBe(0x05);
    at(10); // count 0x00FC by now
    expect(rd(2)).toBe(0x00);
    expect(rd(2)).toBe(0xfc);
    wr(CTRL, 0xb0); // a control word resets the flip-flop
    expect(rd(2)).toBe(0xfc);
  });

  it("the counter latch holds the value until read; a second latch is ignored", () => {
    const { wr, rd, at, program } = makePit();
    program(0, 2, 1000);
    at(101);
    wr(CTRL, 0x00);
    at(200);
    wr(CTRL, 0x00); // ignored: the first latch has not been read
    expect(rd(0) | (rd(0) << 8)).toBe(900);
    at(201);
    wr(CTRL, 0x00);
    expect(rd(0)).toBe(800 & 0xff);
    wr(CTRL, 0x00); // ignored while half read
    at(301);
    expect(rd(0)).toBe(800 >> 8);
    expect(rd(0) | (rd(0) << 8)).toBe(700); // unlatched again: live value
  });

  it("read-back: status then count; null count until the count is loaded", () => {
    const { wr, rd, at } = makePit();
    wr(CTRL, 0xb4); // counter 2, LSB/MSB, mode 2, binary
    wr(2, 0x34);
    wr(2, 0x12);
    wr(CTRL, 0xc8); // read-back count and status of counter 2
    expect(rd(2)).toBe(0x80 | 0x40 | 0x30 | 0x04); // OUT high, null count, RW 3, mode 2
    at(1);
    wr(CTRL, 0xe8); // status only
    expect(rd(2)).toBe(0xb4); // null count cleared by the load
    at(2);
    wr(CTRL, 0xc8); // count and status of counter 2, with the count latched from pulse 0
    // The first read-back's count latch (from pulse 0, before the load) is still unread.
    expect(rd(2)).toBe(0xb4);
    expect(rd(2) | (rd(2) << 8)).toBe(0); // CE before the first load
    wr(CTRL, 0xd8); // count only (bit 5 = 0)
    expect(rd(2) | (rd(2) << 8)).toBe(0x1234); // loaded, but GATE 2 is low: not counting
    wr(CTRL, 0xd8);
    wr(CTRL, 0xe8); // status and count both latched: status is read first
    expect(rd(2)).toBe(0xb4);
    expect(rd(2) | (rd(2) << 8)).toBe(0x1234);
  });

  it("read-back of several counters at once", () => {
    const { wr, rd, program } = makePit();
    program(0, 2, 100);
    program(1, 3, 200);
    wr(CTRL, 0xe6); // status of counters 0 and 1
    expect(rd(0)).toBe(0x80 | 0x40 | 0x34);
    expect(rd(1)).toBe(0x80 | 0x40 | 0x36);
  });

  it("BCD counting", () => {
    const { at, program, latched } = makePit();
    program(0, 0, 0x0100, 1);
    at(1);
    expect(latched(0)).toBe(0x0100);
    at(2);
    expect(latched(0)).toBe(0x0099);
    at(101);
    expect(latched(0)).toBe(0x0000);
    at(102);
    expect(latched(0)).toBe(0x9999);
  });

  it("BCD count 0 is 10000 pulses", () => {
    const { pit, program } = makePit();
    program(0, 2, 0, 1);
    expect(pit.nextDeadline()).toBe(T(1 + 10000));
  });

  it("the control register reads as all ones and wide accesses use the low byte", () => {
    const { pit } = makePit();
    expect(pit.read(3, 1)).toBe(0xff);
    expect(pit.read(0, 2) >> 8).toBe(0xff);
  });
});

describe("Pit8254 counter 2 and port 0x61 as Linux uses them", () => {
  it("pit_calibrate_tsc: mode 0, 10 ms count, OUT2 rises after latch + 1 pulses", () => {
    const { clock, port61, pit } = makePit();
    const latch = Math.floor(PIT_HZ / (1000 / 10)); // 11931
    clock.set(5_000_000);
    port61.write(0, 1, (port61.read(0, 1) & ~0x02) | 0x01); // gate high, speaker off
    pit.write(3, 1, 0xb0);
    pit.write(2, 1, latch & 0xff);
    pit.write(2, 1, latch >> 8);
    const start = clock.now();
    const startTick = Math.floor((start * PIT_HZ) / 1e9);
    const rise = T(startTick + latch + 1);
    clock.set(rise - 1);
    expect(port61.read(0, 1) & 0x20).toBe(0);
    clock.set(rise);
    expect(port61.read(0, 1) & 0x20).toBe(0x20);
    expect((rise - start) / 1e6).toBeCloseTo(10.0, 2);
  });

  it("quick_pit_calibrate: mode 0 from 0xFFFF, the MSB steps down every 256 pulses", () => {
    const { pit, port61, at } = makePit();
    port61.write(0, 1, 0x01);
    pit.write(3, 1, 0xb0);
    pit.write(2, 1, 0xff);
    pit.write(2, 1, 0xff);
    const msbAt = (k: number) => {
      at(k);
      pit.read(2, 1);
      return pit.read(2, 1);
    };
    expect(msbAt(1)).toBe(0xff);
    expect(msbAt(256)).toBe(0xff); // CE = 0xFF00
    expect(msbAt(257)).toBe(0xfe);
    expect(msbAt(1 + 10 * 256)).toBe(0xf5);
  });

  it("port 0x61: stored bits, refresh toggle every 18 pulses, read-only status bits", () => {
    const { clock, port61 } = makePit();
    port61.write(0, 1, 0xff);
    expect(port61.read(0, 1) & 0xcf).toBe(0x0f);
    clock.set(T(17));
    expect(port61.read(0, 1) & 0x10).toBe(0);
    clock.set(T(18));
    expect(port61.read(0, 1) & 0x10).toBe(0x10);
    clock.set(T(36));
    expect(port61.read(0, 1) & 0x10).toBe(0);
    expect(T(18)).toBeCloseTo(15085, -1); // 15.085 µs
    expect(port61.speakerOn()).toBe(true); // counter 2 starts with OUT high (no count written)
    const saved = port61.saveState();
    port61.write(0, 1, 0);
    port61.loadState(saved);
    expect(port61.read(0, 1) & 0x0f).toBe(0x0f);
  });
});

describe("Pit8254 closed form against pulse-by-pulse sampling", () => {
  it("nextDeadline predicts the first OUT rise for every mode, count and mid-count rewrite", () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let trial = 0; trial < 200; trial++) {
      const { pit, wr, at, program } = makePit();
      const mode = rand(6);
      program(0, mode, 2 + rand(40));
      let k = 0;
      // Optionally rewrite the count (LSB/MSB) part-way through.
      if (rand(2)) {
        k = 1 + rand(30);
        at(k);
        wr(0, 2 + rand(40));
        wr(0, 0);
      }
      const predicted = pit.nextDeadline();
      let observed = Infinity;
      let prev = (pit.status(0) & 0x80) !== 0;
      for (let j = k + 1; j <= k + 200; j++) {
        at(j);
        const out = (pit.status(0) & 0x80) !== 0;
        if (out && !prev) {
          observed = T(j);
          break;
        }
        prev = out;
      }
      if (predicted > T(k + 200)) expect(observed).toBe(Infinity);
      else expect(observed).toBe(predicted);
    }
  });
});

describe("Pit8254 state", () => {
  it("saves and restores counting state", () => {
    const a = makePit();
    a.pit.setGate2(true);
    a.program(0, 2, 50);
    a.program(2, 0, 300);
    a.at(20);
    a.wr(CTRL, 0x80); // latch counter 2
    const saved = JSON.parse(JSON.stringify(a.pit.saveState()));
    const clock = new ManualClock(T(20));
    const irq = new RecordingIrq();
    const b = new Pit8254({ clock, irq0: irq });
    b.loadState(saved);
    expect(b.read(2, 1) | (b.read(2, 1) << 8)).toBe(281);
    expect(b.nextDeadline()).toBe(a.pit.nextDeadline());
    expect(b.nextDeadline()).toBe(T(51));
    expect(irq.level).toBe(true);
  });
});
