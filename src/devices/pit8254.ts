import type { AccessWidth, IoDevice } from "../bus/device.js";
import { PIT_HZ, tickTime, ticksAt, type GuestClock, type TimedDevice } from "../clock.js";
import type { IrqLine } from "./irq.js";

/*
 * An Intel 8254 programmable interval timer as wired on a PC: three counters clocked at PIT_HZ
 * (1.193182 MHz); counter 0's OUT drives IRQ 0; counter 1 (DRAM refresh on old PCs) has its gate tied
 * high and its OUT unconnected; counter 2's GATE and OUT are wired to port 0x61 (see port61.ts).
 * Offsets 0-2 are the counters, offset 3 the control word register (ports 0x40-0x43).
 *
 * Everything follows the Intel 8254 datasheet (order 231164), "Mode Definitions", "Read Operations"
 * and "Read-Back Command":
 *  - Count loading: a count written to the count register (CR) is transferred to the counting element
 *    (CE) on the next CLK pulse (modes 0, 2, 3, 4), or on the next CLK pulse after a GATE trigger
 *    (modes 1, 5, and a GATE rising edge restarts modes 2 and 3). Null count is set by a control word
 *    or a CR write and cleared by the CR->CE transfer.
 *  - Mode 0: OUT low after the control word and on a count write; high when CE reaches 0 (N + 1 CLK
 *    pulses after the write); the first byte of a two-byte write stops counting; GATE low pauses.
 *  - Mode 1: GATE trigger loads CE and sets OUT low; OUT high when CE reaches 0; retriggerable.
 *  - Mode 2: OUT low for one CLK when CE reaches 1, then CE reloads from CR (period N); a new count
 *    takes effect at the end of the current period; GATE low stops counting and sets OUT high.
 *  - Mode 3: square wave of period N: OUT high for ceil(N/2) and low for floor(N/2) CLKs; CE counts
 *    down by 2 from N (even N) or N-1 (odd N); a new count takes effect at the end of the current
 *    half-cycle; GATE low stops counting and sets OUT high.
 *  - Mode 4: OUT strobes low for one CLK when CE reaches 0 (N + 1 CLKs after the write); GATE low pauses.
 *  - Mode 5: as mode 4, but started (and restarted) by a GATE rising edge.
 *  - After the terminal count, modes 0, 1, 4 and 5 keep decrementing (wrapping 0 -> FFFF, or 9999 in BCD).
 *  - Counts of 0 mean 2^16 (binary) or 10^4 (BCD). A count of 1 is illegal in modes 2 and 3; we run
 *    it as a count of 2 so that the output keeps a defined waveform.
 *  - Read: latch command and read-back (count and status latches, each latched at most once until
 *    read; status is read before count), or a live read of CE; LSB / MSB / LSB-then-MSB access with
 *    separate read and write flip-flops.
 *
 * Time: nothing ticks. Each counter keeps its state as of a CLK pulse number (`tick`), and moves to
 * any later pulse in closed form (`sync`), so reading a counter or finding the next OUT edge is O(1)
 * whatever the elapsed time. Pulse k happens at guest time tickTime(k, PIT_HZ); every guest access
 * happens between pulses, at pulse ticksAt(now, PIT_HZ).
 *
 * IRQ 0: the line follows counter 0's OUT. If a rising edge happened since the line was last driven
 * but the sampled level hides it (the machine advanced past a short pulse), the edge is reproduced
 * on the line so that an edge-triggered PIC sees it; several edges missed at once merge into one,
 * like lost timer ticks on real hardware.
 *
 * Access width: byte-wide; a wider access uses only the low byte at the given offset (upper bytes of a
 * read are all ones, upper bytes of a write ignored).
 */

// Access modes (RW bits 5-4 of the control word).
const RW_LATCH = 0;
const RW_LSB = 1;
const RW_MSB = 2;
const RW_WORD = 3;

/** Snapshot of one counter: plain numbers only. */
export interface PitChannelState {
  /** Mode bits M2-M0 as programmed (6 and 7 behave as 2 and 3). */
  mode: number;
  /** 1 = BCD counting. */
  bcd: number;
  /** Access mode: 1 = LSB only, 2 = MSB only, 3 = LSB then MSB. */
  access: number;
  /** Count register: the last complete count written (raw 16 bits; 0 = maximum). */
  cr: number;
  /** LSB of a two-byte count written so far. */
  crLow: number;
  /** Write flip-flop: 1 when the next write (access 3) is the MSB. */
  writeMsb: number;
  /** Read flip-flop: 1 when the next read (access 3) is the MSB. */
  readMsb: number;
  /** Latched count (16 bits), or -1 when no count is latched. */
  countLatch: number;
  /** Latched status byte, or -1 when no status is latched. */
  statusLatch: number;
  /** Level of the GATE input. */
  gate: number;
  /** Null count flag (status bit 6). */
  nullCount: number;
  /** 1 once a complete count has been written since the last control word. */
  hasCount: number;
  /** 1 = a CR->CE transfer happens on the next CLK pulse. */
  loadPending: number;
  /** 1 = CE holds a loaded count (0 after a control word until the first transfer). */
  started: number;
  /**
   * Modes 0, 1, 4, 5: the count loaded into CE (raw; CE = count - elapsed). Modes 2 and 3: the count
   * of the current period (mode 2) or half-cycle (mode 3). Before `started`: the frozen CE value.
   */
  count: number;
  /** CLK pulses counted since `count` was loaded (or since the current period/half-cycle began). */
  elapsed: number;
  /** Mode 3: 1 during the low half-cycle. */
  lowHalf: number;
  /** The CLK pulse number this state is valid at (after that pulse). */
  tick: number;
}

/** Snapshot of the PIT. */
export interface Pit8254State {
  channels: PitChannelState[];
  /** Level last driven on IRQ 0. */
  irq0Level: number;
}

export interface Pit8254Options {
  /** The machine clock. */
  clock: GuestClock;
  /** Counter 0's OUT (IRQ 0 on the PIC). */
  irq0: IrqLine;
}

function initialChannel(tick: number, gate: number): PitChannelState {
  // The 8254 has no reset: mode, count and output are undefined at power-up. We start every counter
  // as if programmed with mode 3, LSB/MSB access and no count written yet (OUT high, nothing pending).
  return {
    mode: 3,
    bcd: 0,
    access: RW_WORD,
    cr: 0,
    crLow: 0,
    writeMsb: 0,
    readMsb: 0,
    countLatch: -1,
    statusLatch: -1,
    gate,
    nullCount: 1,
    hasCount: 0,
    loadPending: 0,
    started: 0,
    count: 0,
    elapsed: 0,
    lowHalf: 0,
    tick,
  };
}

/** Effective mode 0-5 from the programmed bits (x10 = 2, x11 = 3). */
function modeOf(c: PitChannelState): number {
  return c.mode >= 6 ? c.mode - 4 : c.mode;
}

function bcdToNumber(v: number): number {
  return ((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf);
}

function numberToBcd(n: number): number {
  return (
    ((Math.floor(n / 1000) % 10) << 12) |
    ((Math.floor(n / 100) % 10) << 8) |
    ((Math.floor(n / 10) % 10) << 4) |
    (n % 10)
  );
}

/** The counter's modulus: 10^4 in BCD, 2^16 in binary. */
function modulus(c: PitChannelState): number {
  return c.bcd ? 10000 : 0x10000;
}

/** A raw count as a number of CLK pulses (0 means the modulus). */
function effective(c: PitChannelState, raw: number): number {
  const n = c.bcd ? bcdToNumber(raw) : raw;
  return n === 0 ? modulus(c) : n;
}

/** A raw count as a number (0 stays 0). */
function numeric(c: PitChannelState, raw: number): number {
  return c.bcd ? bcdToNumber(raw) : raw;
}

/** A number in [0, modulus) as the raw CE value. */
function raw(c: PitChannelState, n: number): number {
  return c.bcd ? numberToBcd(n) : n & 0xffff;
}

/** Mode 2/3 period count: N, with the illegal 1 run as 2. */
function periodic(c: PitChannelState, rawCount: number): number {
  return Math.max(2, effective(c, rawCount));
}

/** Mode 3 half-cycle length for period n: high ceil(n/2), low floor(n/2). */
function halfLength(n: number, low: number): number {
  return low ? n >> 1 : (n + 1) >> 1;
}

/** Whether CE is counting (decrementing) on CLK pulses in the current state. */
function counting(c: PitChannelState): boolean {
  if (!c.started) return false;
  const mode = modeOf(c);
  return mode === 1 || mode === 5 || c.gate !== 0;
}

/** Current CE value (raw) of a synced counter. */
function ceValue(c: PitChannelState): number {
  if (!c.started) return c.count & 0xffff;
  const mode = modeOf(c);
  const mod = modulus(c);
  if (mode === 2) return raw(c, (periodic(c, c.count) - c.elapsed) % mod);
  if (mode === 3) {
    const n = periodic(c, c.count);
    const start = n & 1 ? n - 1 : n;
    return raw(c, (start - 2 * c.elapsed) % mod);
  }
  const v = (((numeric(c, c.count) - c.elapsed) % mod) + mod) % mod;
  return raw(c, v);
}

/** Current OUT level of a synced counter. */
function outLevel(c: PitChannelState): boolean {
  const mode = modeOf(c);
  if (!c.started) return mode !== 0;
  switch (mode) {
    case 0:
    case 1:
      return c.elapsed >= effective(c, c.count);
    case 2:
      return c.gate === 0 || c.elapsed !== periodic(c, c.count) - 1;
    case 3:
      return c.gate === 0 || c.lowHalf === 0;
    default: // 4, 5: one-CLK strobe when CE reaches 0
      return c.elapsed !== effective(c, c.count);
  }
}

/** Apply the CR->CE transfer of a CLK pulse. */
function load(c: PitChannelState): void {
  c.loadPending = 0;
  c.nullCount = 0;
  c.started = 1;
  c.count = c.cr;
  c.elapsed = 0;
  c.lowHalf = 0;
}

/** Move a counter to CLK pulse `to` (>= c.tick), with no external event in between. */
function sync(c: PitChannelState, to: number): void {
  let d = to - c.tick;
  if (d <= 0) return;
  c.tick = to;
  if (c.loadPending) {
    load(c);
    d--;
  }
  if (d === 0 || !counting(c)) return;
  const mode = modeOf(c);
  if (mode === 2) {
    const n = periodic(c, c.count);
    let e = c.elapsed + d;
    if (e >= n) {
      // End of the current period: reload from CR (which may hold a new count).
      e -= n;
      c.count = c.cr;
      c.nullCount = 0;
      e %= periodic(c, c.cr);
    }
    c.elapsed = e;
  } else if (mode === 3) {
    let e = c.elapsed + d;
    let n = periodic(c, c.count);
    let len = halfLength(n, c.lowHalf);
    if (e >= len) {
      // End of the current half-cycle: OUT toggles and CE reloads from CR.
      e -= len;
      c.lowHalf ^= 1;
      c.count = c.cr;
      c.nullCount = 0;
      n = periodic(c, c.cr);
      e %= n; // whole periods change nothing
      len = halfLength(n, c.lowHalf);
      if (e >= len) {
        e -= len;
        c.lowHalf ^= 1;
      }
    }
    c.elapsed = e;
  } else {
    c.elapsed += d;
  }
}

/** The first CLK pulse after c.tick at which OUT rises, if nothing external happens; or Infinity. */
function nextRise(c: PitChannelState): number {
  let t = c.tick;
  let s = c;
  if (c.loadPending) {
    // The transfer itself can end a mode 4/5 strobe (a retrigger while OUT is low).
    s = { ...c };
    const before = outLevel(s);
    sync(s, t + 1);
    t++;
    if (!before && outLevel(s)) return t;
  }
  if (!counting(s)) return Infinity;
  const mode = modeOf(s);
  switch (mode) {
    case 0:
    case 1: {
      const n = effective(s, s.count);
      return s.elapsed < n ? t + (n - s.elapsed) : Infinity;
    }
    case 2:
      return t + (periodic(s, s.count) - s.elapsed);
    case 3: {
      const n = periodic(s, s.count);
      const rest = halfLength(n, s.lowHalf) - s.elapsed;
      return s.lowHalf ? t + rest : t + rest + halfLength(periodic(s, s.cr), 1);
    }
    default: {
      const n = effective(s, s.count);
      if (s.elapsed < n) return t + (n - s.elapsed) + 1;
      return s.elapsed === n ? t + 1 : Infinity;
    }
  }
}

/**
 * The 8254 PIT of a PC (ports 0x40-0x43). Counter 0 drives IRQ 0; counter 2's gate and output are
 * reached through setGate2/out2 (port 0x61).
 */
export class Pit8254 implements IoDevice, TimedDevice {
  readonly name = "pit";
  private readonly clock: GuestClock;
  private readonly irq0: IrqLine;
  private channels: PitChannelState[];
  private irq0Level = false;

  constructor(options: Pit8254Options) {
    this.clock = options.clock;
    this.irq0 = options.irq0;
    const tick = this.currentTick();
    // Gates of counters 0 and 1 are tied high on a PC; counter 2's gate starts low (port 0x61 = 0).
    this.channels = [initialChannel(tick, 1), initialChannel(tick, 1), initialChannel(tick, 0)];
    this.irq0Level = outLevel(this.channels[0]!);
    this.irq0.set(this.irq0Level);
  }

  read(offset: number, width: AccessWidth): number {
    const byte = offset < 3 ? this.readCounter(offset) : 0xff; // the control word register is write-only
    if (width === 1) return byte;
    return width === 2 ? 0xff00 | byte : (0xffffff00 | byte) >>> 0;
  }

  write(offset: number, _width: AccessWidth, value: number): void {
    value &= 0xff;
    if (offset < 3) this.writeCounter(offset, value);
    else if (offset === 3) this.writeControl(value);
  }

  /** Drive counter 2's GATE input (port 0x61 bit 0). */
  setGate2(level: boolean): void {
    this.setGate(2, level);
  }

  /** Counter 2's OUT level now (port 0x61 bit 5). */
  out2(): boolean {
    const c = this.channels[2]!;
    sync(c, this.currentTick());
    return outLevel(c);
  }

  /**
   * Drive the GATE input of counter `n` (0-2). On a PC only counter 2's gate is wired (counters 0
   * and 1 are tied high); exposed for completeness and tests.
   */
  setGate(n: number, level: boolean): void {
    const c = this.channels[n];
    if (!c) throw new RangeError(`PIT: no counter ${n}`);
    const g = level ? 1 : 0;
    if (g === c.gate) return;
    this.syncChannel(n);
    c.gate = g;
    const mode = modeOf(c);
    // A rising edge is a trigger: modes 1 and 5 (re)load CE from CR on the next CLK, modes 2 and 3
    // restart from CR. A trigger before any count was written does nothing.
    if (g && mode !== 0 && mode !== 4 && c.hasCount) c.loadPending = 1;
    if (n === 0) this.driveIrq0(false);
  }

  /** Next time (guest ns) counter 0's OUT rises, or Infinity. */
  nextDeadline(): number {
    // No sync here: syncing would swallow an edge without driving IRQ 0. A rise computed from an older
    // state may lie in the past, which correctly asks the machine to call advance() at once.
    const t = nextRise(this.channels[0]!);
    return t === Infinity ? Infinity : tickTime(t, PIT_HZ);
  }

  /** Bring counter 0 up to `now` and drive IRQ 0 (reproducing a missed rising edge). */
  advance(now: number): void {
    this.syncChannel(0, ticksAt(now, PIT_HZ));
  }

  /** Status byte of counter `n` as the read-back command would latch it (for tests and debugging). */
  status(n: number): number {
    const c = this.channels[n];
    if (!c) throw new RangeError(`PIT: no counter ${n}`);
    this.syncChannel(n);
    return this.statusByte(c);
  }

  /** A deep copy of the PIT state. */
  saveState(): Pit8254State {
    return { channels: this.channels.map((c) => ({ ...c })), irq0Level: this.irq0Level ? 1 : 0 };
  }

  /** Restore a state produced by saveState and re-drive IRQ 0. */
  loadState(saved: Pit8254State): void {
    this.channels = [0, 1, 2].map((i) => {
      const c = saved.channels[i]!;
      return {
        mode: c.mode & 7,
        bcd: c.bcd ? 1 : 0,
        access: c.access >= 1 && c.access <= 3 ? c.access : RW_WORD,
        cr: c.cr & 0xffff,
        crLow: c.crLow & 0xff,
        writeMsb: c.writeMsb ? 1 : 0,
        readMsb: c.readMsb ? 1 : 0,
        countLatch: c.countLatch < 0 ? -1 : c.countLatch & 0xffff,
        statusLatch: c.statusLatch < 0 ? -1 : c.statusLatch & 0xff,
        gate: c.gate ? 1 : 0,
        nullCount: c.nullCount ? 1 : 0,
        hasCount: c.hasCount ? 1 : 0,
        loadPending: c.loadPending ? 1 : 0,
        started: c.started ? 1 : 0,
        count: c.count & 0xffff,
        elapsed: Math.max(0, Math.floor(c.elapsed)),
        lowHalf: c.lowHalf ? 1 : 0,
        tick: Math.floor(c.tick),
      };
    });
    this.irq0Level = saved.irq0Level !== 0;
    this.irq0.set(this.irq0Level);
    this.driveIrq0(false);
  }

  // ---- internals ----

  private currentTick(): number {
    return ticksAt(this.clock.now(), PIT_HZ);
  }

  /** Sync counter `n` to pulse `to` (default: now); for counter 0, drive IRQ 0 with any edge seen. */
  private syncChannel(n: number, to = this.currentTick()): void {
    const c = this.channels[n]!;
    if (to <= c.tick) return;
    const rose = n === 0 && nextRise(c) <= to;
    sync(c, to);
    if (n === 0) this.driveIrq0(rose);
  }

  private driveIrq0(rose: boolean): void {
    const level = outLevel(this.channels[0]!);
    if (rose) {
      if (this.irq0Level) this.irq0.set(false);
      this.irq0.set(true);
      if (!level) this.irq0.set(false);
    } else if (level !== this.irq0Level) {
      this.irq0.set(level);
    }
    this.irq0Level = level;
  }

  private statusByte(c: PitChannelState): number {
    return (
      (outLevel(c) ? 0x80 : 0) | (c.nullCount ? 0x40 : 0) | (c.access << 4) | (c.mode << 1) | (c.bcd ? 1 : 0)
    );
  }

  private writeControl(value: number): void {
    const sc = value >> 6;
    if (sc === 3) {
      // Read-back command: bit 5 = !COUNT, bit 4 = !STATUS, bits 3-1 = counters 2, 1, 0.
      for (let n = 0; n < 3; n++) {
        if (!(value & (2 << n))) continue;
        const c = this.channels[n]!;
        this.syncChannel(n);
        if (!(value & 0x10) && c.statusLatch < 0) c.statusLatch = this.statusByte(c);
        if (!(value & 0x20) && c.countLatch < 0) {
          c.countLatch = ceValue(c);
          c.readMsb = 0;
        }
      }
      return;
    }
    const c = this.channels[sc]!;
    this.syncChannel(sc);
    const access = (value >> 4) & 3;
    if (access === RW_LATCH) {
      // Counter latch command: ignored if a latched count has not been read yet.
      if (c.countLatch < 0) {
        c.countLatch = ceValue(c);
        c.readMsb = 0;
      }
      return;
    }
    // Control word: all control logic of the counter is reset and OUT goes to the mode's initial level.
    c.count = ceValue(c); // CE keeps its value, frozen until a count is loaded
    c.started = 0;
    c.loadPending = 0;
    c.elapsed = 0;
    c.lowHalf = 0;
    c.mode = (value >> 1) & 7;
    c.bcd = value & 1;
    c.access = access;
    c.nullCount = 1;
    c.hasCount = 0;
    c.writeMsb = 0;
    c.readMsb = 0;
    c.countLatch = -1;
    c.statusLatch = -1;
    if (sc === 0) this.driveIrq0(false);
  }

  private writeCounter(n: number, value: number): void {
    const c = this.channels[n]!;
    this.syncChannel(n);
    const mode = modeOf(c);
    let complete = true;
    switch (c.access) {
      case RW_LSB:
        c.cr = value;
        break;
      case RW_MSB:
        c.cr = value << 8;
        break;
      default:
        if (!c.writeMsb) {
          c.crLow = value;
          c.writeMsb = 1;
          complete = false;
          // Mode 0: writing the first byte stops counting and sets OUT low at once.
          if (mode === 0) this.stopCounting(c);
        } else {
          c.cr = c.crLow | (value << 8);
          c.writeMsb = 0;
        }
    }
    if (complete) {
      c.nullCount = 1;
      c.hasCount = 1;
      switch (mode) {
        case 0:
          this.stopCounting(c);
          c.loadPending = 1;
          break;
        case 4:
          c.loadPending = 1; // software retrigger: the new count loads on the next CLK
          break;
        case 2:
        case 3:
          // The first count loads on the next CLK; later ones wait for the end of the period.
          if (!c.started) c.loadPending = 1;
          break;
        default:
          break; // modes 1 and 5 wait for a GATE trigger
      }
    }
    if (n === 0) this.driveIrq0(false);
  }

  /** Freeze CE at its current value and stop counting (mode 0 count write: OUT goes low). */
  private stopCounting(c: PitChannelState): void {
    c.loadPending = 0;
    if (!c.started) return;
    c.count = ceValue(c);
    c.started = 0;
    c.elapsed = 0;
  }

  private readCounter(n: number): number {
    const c = this.channels[n]!;
    if (c.statusLatch >= 0) {
      const s = c.statusLatch;
      c.statusLatch = -1;
      return s;
    }
    let value: number;
    const latched = c.countLatch >= 0;
    if (latched) {
      value = c.countLatch;
    } else {
      this.syncChannel(n);
      value = ceValue(c);
    }
    let byte: number;
    let done = true;
    switch (c.access) {
      case RW_LSB:
        byte = value & 0xff;
        break;
      case RW_MSB:
        byte = value >> 8;
        break;
      default:
        byte = c.readMsb ? value >> 8 : value & 0xff;
        done = c.readMsb === 1;
        c.readMsb ^= 1;
    }
    if (latched && done) c.countLatch = -1;
    return byte;
  }
}
