import { describe, expect, it } from "vitest";
import {
  HostClock,
  InstructionClock,
  ManualClock,
  PIT_HZ,
  tickTime,
  ticksAt,
  type TimedDevice,
} from "../src/clock.js";
import { Pit8254 } from "../src/devices/pit8254.js";
import { RtcCmos } from "../src/devices/rtc-cmos.js";

describe("InstructionClock", () => {
  it("maps retired instructions to ns at 1 ns per instruction by default", () => {
    let retired = 0;
    const clock = new InstructionClock(() => retired);
    expect(clock.nsPerInstruction).toBe(1);
    expect(clock.now()).toBe(0);
    retired = 1_000_000;
    expect(clock.now()).toBe(1_000_000);
  });

  it("uses the stated nominal rate", () => {
    let retired = 10;
    const clock = new InstructionClock(() => retired, 2.5);
    expect(clock.now()).toBe(25);
    retired = 1000;
    expect(clock.now()).toBe(2500);
  });

  it("rejects a non-positive rate", () => {
    expect(() => new InstructionClock(() => 0, 0)).toThrow(RangeError);
    expect(() => new InstructionClock(() => 0, -1)).toThrow(RangeError);
  });

  it("skipTo jumps forward and keeps counting instructions from there", () => {
    let retired = 100;
    const clock = new InstructionClock(() => retired);
    clock.skipTo(5000);
    expect(clock.now()).toBe(5000);
    retired = 150;
    expect(clock.now()).toBe(5050);
  });

  it("skipTo never goes backwards and ignores Infinity", () => {
    let retired = 100;
    const clock = new InstructionClock(() => retired);
    clock.skipTo(50);
    expect(clock.now()).toBe(100);
    clock.skipTo(100);
    expect(clock.now()).toBe(100);
    clock.skipTo(Infinity);
    expect(clock.now()).toBe(100);
    retired = 101;
    expect(clock.now()).toBe(101);
  });

  it("is deterministic: the same instruction counts and skips give the same times", () => {
    const run = () => {
      let retired = 0;
      const clock = new InstructionClock(() => retired);
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        retired += 1234;
        clock.skipTo(clock.now() + 777);
        times.push(clock.now());
      }
      return times;
    };
    expect(run()).toEqual(run());
  });
});

describe("HostClock", () => {
  it("follows the host source from 0 and never goes backwards", () => {
    let ms = 5000;
    const clock = new HostClock(() => ms);
    expect(clock.now()).toBe(0);
    ms = 5001.5;
    expect(clock.now()).toBe(1_500_000);
    ms = 5001; // host source misbehaves
    expect(clock.now()).toBe(1_500_000);
    clock.skipTo(1e12); // no-op in realtime mode
    expect(clock.now()).toBe(1_500_000);
  });

  it("defaults to performance.now()", () => {
    const clock = new HostClock();
    const a = clock.now();
    expect(a).toBeGreaterThanOrEqual(0);
    expect(clock.now()).toBeGreaterThanOrEqual(a);
  });
});

describe("ManualClock", () => {
  it("moves only forwards", () => {
    const clock = new ManualClock();
    clock.set(10);
    clock.advanceBy(5);
    expect(clock.now()).toBe(15);
    expect(() => clock.set(3)).toThrow(RangeError);
  });
});

describe("tick conversion", () => {
  it("counts PIT ticks exactly", () => {
    expect(PIT_HZ).toBe(1_193_182);
    expect(ticksAt(0, PIT_HZ)).toBe(0);
    expect(ticksAt(1e9, PIT_HZ)).toBe(PIT_HZ);
    expect(ticksAt(1e9 - 1, PIT_HZ)).toBe(PIT_HZ - 1);
    expect(ticksAt(838, PIT_HZ)).toBe(0); // 1 tick = 838.095 ns
    expect(ticksAt(839, PIT_HZ)).toBe(1);
  });

  it("stays exact far beyond 2^53 / PIT_HZ ns", () => {
    const t = 50 * 86400 * 1e9 + 123_456_789; // 50 days
    const expected = (BigInt(t) * BigInt(PIT_HZ)) / 1_000_000_000n;
    expect(BigInt(ticksAt(t, PIT_HZ))).toBe(expected);
  });

  it("tickTime is the first ns at which a tick has happened", () => {
    for (const hz of [PIT_HZ, 32768]) {
      for (const k of [1, 2, 3, 1000, 65536, 1_193_181, 1_193_182, 1_193_183, 123_456_789_012]) {
        const t = tickTime(k, hz);
        expect(ticksAt(t, hz)).toBe(k);
        expect(ticksAt(t - 1, hz)).toBe(k - 1);
      }
    }
    expect(tickTime(1, PIT_HZ)).toBe(839);
    expect(tickTime(32768, 32768)).toBe(1e9);
  });
});

describe("one deterministic clock drives the PIT and the RTC", () => {
  /** A toy run loop: retire instructions in slices, HLT-skip to the next deadline, count IRQ edges. */
  function run() {
    let retired = 0;
    const clock = new InstructionClock(() => retired);
    const trace: string[] = [];
    const edge = (name: string) => {
      let level = false;
      return {
        set(l: boolean) {
          if (l && !level) trace.push(`${name}@${clock.now()}`);
          level = l;
        },
      };
    };
    const pit = new Pit8254({ clock, irq0: edge("irq0") });
    const rtc = new RtcCmos({ clock, irq8: edge("irq8"), startTime: new Date("2026-01-01T00:00:00Z") });
    pit.write(3, 1, 0x34); // counter 0, mode 2, LSB/MSB: Linux's periodic tick
    const latch = Math.round(PIT_HZ / 100); // HZ = 100
    pit.write(0, 1, latch & 0xff);
    pit.write(0, 1, latch >> 8);
    rtc.write(0, 1, 0x0b);
    rtc.write(1, 1, 0x42); // 1024 Hz periodic interrupt
    const devices: TimedDevice[] = [pit, rtc];
    while (clock.now() < 1e9) {
      retired += 1000; // a slice of guest code
      for (const d of devices) d.advance(clock.now());
      // The "interrupt handler" acknowledges the RTC by reading register C.
      rtc.write(0, 1, 0x0c);
      rtc.read(1, 1);
      // HLT: skip to the next device deadline.
      const next = Math.min(...devices.map((d) => d.nextDeadline()));
      clock.skipTo(next);
      for (const d of devices) d.advance(clock.now());
    }
    return trace;
  }

  it("delivers both timers at their programmed rates and repeats exactly", () => {
    const trace = run();
    const irq0 = trace.filter((e) => e.startsWith("irq0")).length;
    const irq8 = trace.filter((e) => e.startsWith("irq8")).length;
    expect(irq0).toBeGreaterThanOrEqual(100);
    expect(irq0).toBeLessThanOrEqual(101);
    expect(irq8).toBeGreaterThanOrEqual(1023);
    expect(irq8).toBeLessThanOrEqual(1025);
    expect(run()).toEqual(trace);
  });
});
