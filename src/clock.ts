/*
 * The machine clock: one source of guest time for the PIT, the RTC, the TSC and every timer deadline.
 *
 * Guest time is a number of nanoseconds since machine start, held in a float64. Integers are exact
 * up to 2^53 ns (about 104 days of guest time), which is far beyond any run we make.
 *
 * Two clocks implement it:
 *  - InstructionClock (deterministic mode, the default for tests and benchmarks): time advances with
 *    retired instructions at a stated nominal rate, and HLT skips straight to the next device deadline.
 *    Identical runs therefore give identical output, exit counts and device timings.
 *  - HostClock (realtime mode): time follows the host's monotonic clock (performance.now()).
 *
 * Devices never keep their own notion of time: they read the clock and derive counter values
 * analytically (e.g. the PIT computes its count from elapsed ticks, never ticking per PIT cycle), so
 * TSC, PIT and RTC stay mutually consistent in both modes.
 */

/** Guest time in nanoseconds since machine start (a float64 number; exact integers up to 2^53 ns ≈ 104 days). */
export interface GuestClock {
  /** Current guest time in ns. Never decreases. */
  now(): number;
}

/**
 * A device with timed events. The machine asks every timed device for its next deadline to know how
 * far HLT may skip, and calls advance(now) before/after running guest code.
 */
export interface TimedDevice {
  /**
   * Absolute guest time (ns) of the device's next event that can change an interrupt line, or
   * Infinity if none is scheduled. Calling advance(t) with t >= this deadline delivers the event.
   */
  nextDeadline(): number;
  /** Bring the device up to guest time `now` (ns): raise any interrupts that became due. */
  advance(now: number): void;
}

/** The 8254 PIT input clock on a PC: 105/88 MHz = 1.193181818... MHz, rounded as Linux's PIT_TICK_RATE. */
export const PIT_HZ = 1_193_182;

/** Nanoseconds per second. */
export const NS_PER_SECOND = 1_000_000_000;

/**
 * Number of whole periods of a `hz` clock that have elapsed at guest time `ns`, i.e.
 * floor(ns * hz / 1e9), computed exactly for ns < 2^53 and hz < 9e6 (the product itself would not be
 * exact in a float64, so the whole seconds are split off first). Fractional `ns` is floored first.
 * Tick k (k >= 1) happens at tickTime(k, hz); tick 0 is at time 0.
 */
export function ticksAt(ns: number, hz: number): number {
  const t = Math.floor(ns);
  const seconds = Math.floor(t / NS_PER_SECOND);
  const rest = t - seconds * NS_PER_SECOND; // 0 <= rest < 1e9, exact
  const product = rest * hz; // < 9e15: exact
  let sub = Math.floor(product / NS_PER_SECOND);
  if (sub * NS_PER_SECOND > product) sub--; // guard against rounding up at an exact boundary
  return seconds * hz + sub;
}

/**
 * Guest time (ns, an integer) of tick `ticks` of a `hz` clock: the smallest integer t with
 * ticksAt(t, hz) >= ticks, i.e. ceil(ticks * 1e9 / hz), computed exactly (see ticksAt).
 */
export function tickTime(ticks: number, hz: number): number {
  const whole = Math.floor(ticks / hz);
  const rest = ticks - whole * hz; // 0 <= rest < hz
  const product = rest * NS_PER_SECOND; // < 9e15: exact
  let sub = Math.ceil(product / hz);
  if ((sub - 1) * hz >= product)
    sub--; // guard against rounding up past an exact quotient
  else if (sub * hz < product) sub++; // guard against rounding down onto an integer
  return whole * NS_PER_SECOND + sub;
}

/**
 * Deterministic clock: guest ns = instructions * nsPerInstruction (+ skipped idle time).
 *
 * The default rate is 1 ns per retired instruction: a nominal 1 GHz processor that retires one
 * instruction per cycle. The rate is nominal, not a model of real instruction timings; it only has to
 * be stated and fixed so that runs are reproducible.
 */
export class InstructionClock implements GuestClock {
  private readonly instructions: () => number;
  /** Nominal guest time per retired instruction, in ns. */
  readonly nsPerInstruction: number;
  /**
   * Guest time that passed without retiring instructions, in ns: idle time skipped at HLT and
   * stalls charged with advanceBy (I/O bus accesses). Part of the state of a machine snapshot.
   */
  skipped = 0;

  /**
   * @param instructions Returns the number of instructions retired since machine start.
   * @param nsPerInstruction Guest ns per retired instruction (default 1: a nominal 1 GHz, 1 instruction per ns).
   */
  constructor(instructions: () => number, nsPerInstruction = 1) {
    if (!(nsPerInstruction > 0) || !Number.isFinite(nsPerInstruction)) {
      throw new RangeError(`nsPerInstruction must be a positive number, got ${nsPerInstruction}`);
    }
    this.instructions = instructions;
    this.nsPerInstruction = nsPerInstruction;
  }

  /** Current guest time: instructions * nsPerInstruction + skipped idle time. */
  now(): number {
    return this.instructions() * this.nsPerInstruction + this.skipped;
  }

  /** The CPU stalls for `ns` without retiring instructions (e.g. an I/O bus access). */
  advanceBy(ns: number): void {
    this.skipped += ns;
  }

  /** HLT: jump guest time forward to `t` (never backwards; a `t` at or before now() does nothing). */
  skipTo(t: number): void {
    const now = this.now();
    if (t > now && Number.isFinite(t)) this.skipped += t - now;
  }
}

/**
 * Realtime clock: guest time follows the host's monotonic clock (performance.now()), starting at 0
 * when the clock is created. It never goes backwards even if the host source misbehaves. There is
 * no rule tying it to the instruction count. skipTo is a no-op: in realtime mode the machine sleeps
 * until the deadline instead of skipping.
 */
export class HostClock implements GuestClock {
  private readonly hostNowMs: () => number;
  private readonly startMs: number;
  private last = 0;

  /** @param hostNowMs Host monotonic time in ms (default performance.now; injectable for tests). */
  constructor(hostNowMs: () => number = () => performance.now()) {
    this.hostNowMs = hostNowMs;
    this.startMs = hostNowMs();
  }

  /** Host time elapsed since construction, in ns (monotonic). */
  now(): number {
    const t = (this.hostNowMs() - this.startMs) * 1e6;
    if (t > this.last) this.last = t;
    return this.last;
  }

  /** No-op: realtime guest time cannot be skipped; the machine sleeps until the deadline instead. */
  skipTo(_t: number): void {}
}

/** A clock set by hand, for tests and tools: now() returns whatever was last set. */
export class ManualClock implements GuestClock {
  /** Current guest time in ns. */
  time: number;

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  /** Set the time (ns); moving backwards is refused, as guest time is monotonic. */
  set(t: number): void {
    if (t < this.time) throw new RangeError(`ManualClock: time moved backwards (${t} < ${this.time})`);
    this.time = t;
  }

  /** Advance the time by `dt` ns. */
  advanceBy(dt: number): void {
    this.set(this.time + dt);
  }

  /** Same as set (for symmetry with InstructionClock). */
  skipTo(t: number): void {
    if (t > this.time) this.time = t;
  }
}
