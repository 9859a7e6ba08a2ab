import type { AccessWidth, IoDevice } from "../bus/device.js";
import { NS_PER_SECOND, tickTime, ticksAt, type GuestClock, type TimedDevice } from "../clock.js";
import type { IrqLine } from "./irq.js";

/*
 * The Motorola MC146818A real-time clock and its 128 bytes of CMOS RAM, as on every PC: port 0x70
 * (offset 0) selects a register (bits 6-0) and holds the NMI mask (bit 7, 1 = NMI disabled); port 0x71
 * (offset 1) reads or writes the selected register. Register behaviour follows the MC146818A data
 * sheet ("Address Map", "Time, Calendar and Alarm Locations", "Register A" to "Register D",
 * "Update Cycle", "Interrupts"); the CMOS layout follows the IBM PC/AT BIOS conventions (as QEMU's
 * pc_cmos_init writes them).
 *
 * Modelling choices:
 *  - Time is not ticked: while the clock runs, the time is `epochSec` (seconds since 1970-01-01 UTC) at
 *    guest time `anchorNs`, plus the whole seconds elapsed since. Updates happen at anchorNs + k s; the
 *    32.768 kHz divider chain (for the periodic interrupt and UIP) is aligned with them, as in the chip
 *    where the 1 Hz update is the last divider stage. Reads of the time registers present that count in
 *    the current data mode (BCD or binary) and hour format (24 h, or 12 h with bit 7 = PM).
 *  - SET = 1 or a divider reset (register A DV2-0 > 010, as QEMU) stops updates: the time registers
 *    then become plain bytes that the guest writes; when the clock restarts, they are read back as the
 *    new time. After SET is cleared, updates continue on the divider's existing phase; after a divider
 *    reset is released, the first update comes 500 ms later (datasheet: "the first update cycle begins
 *    one-half second later"). SET = 1 also clears UIE (datasheet, Register B).
 *  - Writing a time register while the clock runs sets that field at once (the other fields keep the
 *    current time) without changing the phase of the updates.
 *  - Invalid dates the guest writes are normalized as a calendar would (month clamped to 1-12, day 32
 *    of a month rolls into the next); the real chip would count on from the bad values.
 *  - Changing DM or 24/12 presents the same time in the new format (the chip does not convert, and the
 *    datasheet asks software to rewrite the time after changing formats, so such guests see no change).
 *  - The day-of-week register (1 = Sunday) starts at the true weekday and stays with the date until the
 *    guest writes it; from then on it counts independently of the date, as in the chip (kept as an
 *    offset from the true weekday). Guests that never write it (Linux) always see the true weekday.
 *  - Register 0x32 (century, an IBM convention, not an MC146818 register) is kept with the time: it
 *    reads the century of the current year and advances with it, like QEMU.
 *  - UIP (register A bit 7) is 1 for the 244 µs (8 cycles of 32.768 kHz) before each update and 0 while
 *    updates are stopped. The update itself is instantaneous.
 *  - Flags: PF is set by every periodic event (rate from register A RS3-0), UF by every update, AF by
 *    every update whose time matches the alarm (alarm bytes 0xC0-0xFF are "don't care"), whatever the
 *    enable bits. IRQF = PF·PIE + AF·AIE + UF·UIE; IRQ 8 follows IRQF. Reading register C returns the
 *    flags, clears them and lowers IRQ 8.
 *  - Register D reads 0x80 (VRT: the battery is fine). DSE (daylight saving) is stored and ignored.
 *  - Port 0x70 is write-only on a PC; reading it returns 0xFF.
 *  - Access width: byte-wide; a wider access uses only the low byte (upper bytes of a read are all ones).
 */

// Register indexes.
export const RTC_SECONDS = 0x00;
export const RTC_SECONDS_ALARM = 0x01;
export const RTC_MINUTES = 0x02;
export const RTC_MINUTES_ALARM = 0x03;
export const RTC_HOURS = 0x04;
export const RTC_HOURS_ALARM = 0x05;
export const RTC_DAY_OF_WEEK = 0x06;
export const RTC_DAY_OF_MONTH = 0x07;
export const RTC_MONTH = 0x08;
export const RTC_YEAR = 0x09;
export const RTC_REG_A = 0x0a;
export const RTC_REG_B = 0x0b;
export const RTC_REG_C = 0x0c;
export const RTC_REG_D = 0x0d;
export const CMOS_EQUIPMENT = 0x14;
export const CMOS_BASE_MEM_LO = 0x15;
export const CMOS_EXT_MEM_LO = 0x17;
export const CMOS_CHECKSUM_HI = 0x2e;
export const CMOS_EXT_MEM2_LO = 0x30;
export const CMOS_CENTURY = 0x32;
export const CMOS_MEM_ABOVE_16M_LO = 0x34;

// Register A.
export const REG_A_UIP = 0x80;
const REG_A_DV = 0x70;
const REG_A_RS = 0x0f;
// Register B.
export const REG_B_SET = 0x80;
export const REG_B_PIE = 0x40;
export const REG_B_AIE = 0x20;
export const REG_B_UIE = 0x10;
export const REG_B_SQWE = 0x08;
export const REG_B_DM_BINARY = 0x04;
export const REG_B_24H = 0x02;
export const REG_B_DSE = 0x01;
// Register C.
export const REG_C_IRQF = 0x80;
export const REG_C_PF = 0x40;
export const REG_C_AF = 0x20;
export const REG_C_UF = 0x10;
// Register D.
export const REG_D_VRT = 0x80;

/** The divider chain's input: the 32.768 kHz time base. */
const BASE_HZ = 32768;
/** UIP is set this many 32.768 kHz cycles (244 µs) before each update. */
const UIP_CYCLES = 8;
/** Time registers kept as plain bytes while the clock is stopped (plus the century byte). */
const TIME_REGISTERS = [
  RTC_SECONDS,
  RTC_MINUTES,
  RTC_HOURS,
  RTC_DAY_OF_WEEK,
  RTC_DAY_OF_MONTH,
  RTC_MONTH,
  RTC_YEAR,
  CMOS_CENTURY,
];
const SECONDS_PER_DAY = 86400;

/** Snapshot of the RTC/CMOS: plain numbers only. */
export interface RtcCmosState {
  /** Selected register (port 0x70 bits 6-0). */
  index: number;
  /** 1 = NMI disabled (port 0x70 bit 7). */
  nmiMasked: number;
  /**
   * The 128 bytes. Register A bits 6-0, B, C flags (bits 6-4) and the RAM are stored here; the time
   * registers hold the time only while the clock is stopped (SET or divider reset).
   */
  cmos: number[];
  /** RTC time (seconds since 1970-01-01 UTC) at guest time anchorNs. */
  epochSec: number;
  /** Guest time (ns) of an update boundary; updates happen at anchorNs + k * 1 s. */
  anchorNs: number;
  /** Day-of-week register minus the true weekday, mod 7 (0 until the guest writes register 6). */
  dowOffset: number;
  /** 1 = register 6 was written while the clock was stopped (applied when it restarts). */
  dowWritten: number;
  /** Guest time (ns) up to which the interrupt flags have been brought. */
  lastNs: number;
}

export interface RtcCmosOptions {
  /** The machine clock. */
  clock: GuestClock;
  /** IRQ 8 on the slave PIC. */
  irq8: IrqLine;
  /**
   * The RTC's time at guest time clock.now() when the device is created: host time in realtime mode,
   * a fixed epoch (e.g. 2026-01-01T00:00:00Z) in deterministic mode. The machine decides.
   */
  startTime: Date;
  /** Guest RAM size in bytes, for the CMOS memory size bytes (default 0: only the fields are zero). */
  memoryBytes?: number;
}

// ---- calendar (proleptic Gregorian, UTC; H. Hinnant's days_from_civil / civil_from_days) ----

function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

function toBcd(n: number): number {
  return ((Math.floor(n / 10) % 10) << 4) | (n % 10);
}

function fromBcd(b: number): number {
  return (b >> 4) * 10 + (b & 0x0f);
}

/** Whether alarm byte `alarm` matches time byte `value` (0xC0-0xFF = don't care). */
function alarmMatches(alarm: number, value: number): boolean {
  return (alarm & 0xc0) === 0xc0 || alarm === value;
}

/** The MC146818A RTC and CMOS RAM (ports 0x70-0x71; map with length 2). */
export class RtcCmos implements IoDevice, TimedDevice {
  readonly name = "rtc";
  private readonly clock: GuestClock;
  private readonly irq8: IrqLine;
  private state: RtcCmosState;
  private irqLevel = false;

  constructor(options: RtcCmosOptions) {
    this.clock = options.clock;
    this.irq8 = options.irq8;
    const now = this.clock.now();
    const ms = options.startTime.getTime();
    if (!Number.isFinite(ms)) throw new RangeError("RtcCmos: invalid startTime");
    const epochSec = Math.floor(ms / 1000);
    const cmos = new Array<number>(128).fill(0);
    cmos[RTC_REG_A] = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate (the BIOS setting)
    cmos[RTC_REG_B] = REG_B_24H; // BCD, 24-hour, no interrupts
    cmos[RTC_REG_D] = REG_D_VRT;
    this.state = {
      index: 0,
      nmiMasked: 0,
      cmos,
      epochSec,
      anchorNs: now - (ms - epochSec * 1000) * 1e6,
      dowOffset: 0,
      dowWritten: 0,
      lastNs: now,
    };
    this.initCmos(options.memoryBytes ?? 0);
    this.irq8.set(false);
  }

  /** True when port 0x70 bit 7 (NMI disable) was last written as 1. */
  get nmiMasked(): boolean {
    return this.state.nmiMasked !== 0;
  }

  read(offset: number, width: AccessWidth): number {
    const byte = offset === 1 ? this.readRegister(this.state.index) : 0xff;
    if (width === 1) return byte;
    return width === 2 ? 0xff00 | byte : (0xffffff00 | byte) >>> 0;
  }

  write(offset: number, _width: AccessWidth, value: number): void {
    value &= 0xff;
    if (offset === 0) {
      this.state.index = value & 0x7f;
      this.state.nmiMasked = value >> 7;
    } else if (offset === 1) {
      this.writeRegister(this.state.index, value);
    }
  }

  /** The RTC's current time (seconds resolution), for the host. */
  time(): Date {
    return new Date(this.currentSeconds() * 1000);
  }

  /** Read CMOS byte `index` without side effects on register C (host/BIOS-loader use). */
  peek(index: number): number {
    const i = index & 0x7f;
    if (i === RTC_REG_C) {
      this.sync();
      return this.regC();
    }
    return this.readRegister(i);
  }

  /** Store CMOS RAM byte `index` (0x0E-0x7F, not the clock registers) from the host, e.g. for a BIOS. */
  poke(index: number, value: number): void {
    const i = index & 0x7f;
    if (i < 0x0e || i === CMOS_CENTURY) throw new RangeError(`RtcCmos.poke: ${i} is a clock register`);
    this.state.cmos[i] = value & 0xff;
  }

  /** Recompute the standard checksum over 0x10-0x2D into 0x2E (high) and 0x2F (low). */
  updateChecksum(): void {
    const c = this.state.cmos;
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += c[i]!;
    c[CMOS_CHECKSUM_HI] = (sum >> 8) & 0xff;
    c[CMOS_CHECKSUM_HI + 1] = sum & 0xff;
  }

  /** Next guest time (ns) at which an enabled interrupt can raise IRQ 8, or Infinity. */
  nextDeadline(): number {
    const s = this.state;
    const b = s.cmos[RTC_REG_B]!;
    if (this.irqf()) return Infinity; // IRQ 8 is already high until register C is read
    let t = Infinity;
    const period = this.periodTicks();
    if (b & REG_B_PIE && period > 0) {
      const k = Math.floor(this.ticks32(s.lastNs) / period) + 1;
      t = Math.min(t, s.anchorNs + tickTime(k * period, BASE_HZ));
    }
    if (!this.stopped()) {
      const sec = this.secondIndex(s.lastNs);
      if (b & REG_B_UIE) t = Math.min(t, s.anchorNs + (sec + 1) * NS_PER_SECOND);
      if (b & REG_B_AIE) {
        const next = this.nextAlarm(s.epochSec + sec);
        if (next !== Infinity) t = Math.min(t, s.anchorNs + (next - s.epochSec) * NS_PER_SECOND);
      }
    }
    return t;
  }

  /** Bring the interrupt flags up to guest time `now` and drive IRQ 8. */
  advance(now: number): void {
    this.sync(now);
  }

  /** A deep copy of the device state. */
  saveState(): RtcCmosState {
    return { ...this.state, cmos: [...this.state.cmos] };
  }

  /** Restore a state produced by saveState and re-drive IRQ 8. */
  loadState(saved: RtcCmosState): void {
    const cmos = Array.from({ length: 128 }, (_, i) => (saved.cmos[i] ?? 0) & 0xff);
    cmos[RTC_REG_A]! &= 0x7f;
    cmos[RTC_REG_C]! &= REG_C_PF | REG_C_AF | REG_C_UF;
    cmos[RTC_REG_D] = REG_D_VRT;
    this.state = {
      index: saved.index & 0x7f,
      nmiMasked: saved.nmiMasked ? 1 : 0,
      cmos,
      epochSec: Math.floor(saved.epochSec),
      anchorNs: saved.anchorNs,
      dowOffset: mod(Math.floor(saved.dowOffset), 7),
      dowWritten: saved.dowWritten ? 1 : 0,
      lastNs: saved.lastNs,
    };
    this.irqLevel = this.irqf();
    this.irq8.set(this.irqLevel);
  }

  // ---- CMOS layout ----

  private initCmos(memoryBytes: number): void {
    const c = this.state.cmos;
    const KiB = 1024;
    const MiB = 1024 * KiB;
    // 0x14 equipment byte: bit 1 = math coprocessor present; bits 5-4 = 00 (EGA/VGA); no floppy (bit 0).
    c[CMOS_EQUIPMENT] = 0x02;
    // 0x15/0x16: base memory in KiB (640).
    const base = Math.min(Math.floor(memoryBytes / KiB), 640);
    c[CMOS_BASE_MEM_LO] = base & 0xff;
    c[CMOS_BASE_MEM_LO + 1] = base >> 8;
    // 0x17/0x18 and 0x30/0x31: extended memory above 1 MiB in KiB, capped at 0xFFFF.
    const ext = Math.min(memoryBytes > MiB ? Math.floor((memoryBytes - MiB) / KiB) : 0, 0xffff);
    c[CMOS_EXT_MEM_LO] = ext & 0xff;
    c[CMOS_EXT_MEM_LO + 1] = ext >> 8;
    c[CMOS_EXT_MEM2_LO] = ext & 0xff;
    c[CMOS_EXT_MEM2_LO + 1] = ext >> 8;
    // 0x34/0x35: memory above 16 MiB in 64 KiB units, capped at 0xFFFF.
    const high = Math.min(
      memoryBytes > 16 * MiB ? Math.floor((memoryBytes - 16 * MiB) / (64 * KiB)) : 0,
      0xffff,
    );
    c[CMOS_MEM_ABOVE_16M_LO] = high & 0xff;
    c[CMOS_MEM_ABOVE_16M_LO + 1] = high >> 8;
    this.updateChecksum();
  }

  // ---- registers ----

  private readRegister(i: number): number {
    const s = this.state;
    const c = s.cmos;
    if (TIME_REGISTERS.includes(i)) {
      return this.stopped() ? c[i]! : this.encodeTime(this.currentSeconds())[i]!;
    }
    switch (i) {
      case RTC_REG_A:
        return c[RTC_REG_A]! | (this.updateInProgress() ? REG_A_UIP : 0);
      case RTC_REG_C: {
        this.sync();
        const value = this.regC();
        c[RTC_REG_C] = 0;
        this.driveIrq();
        return value;
      }
      case RTC_REG_D:
        return REG_D_VRT;
      default:
        return c[i]!;
    }
  }

  private writeRegister(i: number, value: number): void {
    const s = this.state;
    const c = s.cmos;
    if (TIME_REGISTERS.includes(i)) {
      if (this.stopped()) {
        c[i] = value;
        if (i === RTC_DAY_OF_WEEK) s.dowWritten = 1;
        return;
      }
      // Running: set this field now; the other fields keep the current time; the update phase is kept.
      this.sync();
      const now = this.clock.now();
      const fields = this.encodeTime(this.currentSeconds());
      fields[i] = value;
      for (const r of TIME_REGISTERS) c[r] = fields[r]!;
      const t = this.decodeTime();
      if (i === RTC_DAY_OF_WEEK) this.setDayOfWeek(value, t);
      s.epochSec = t - this.secondIndex(now);
      this.driveIrq();
      return;
    }
    switch (i) {
      case RTC_REG_A: {
        this.sync();
        const wasStopped = this.stopped();
        const wasReset = this.dividerReset();
        c[RTC_REG_A] = value & 0x7f;
        this.restartOrFreeze(wasStopped, wasReset && !this.dividerReset());
        this.driveIrq();
        return;
      }
      case RTC_REG_B: {
        this.sync();
        const wasStopped = this.stopped();
        // SET = 1 clears UIE (datasheet, Register B bit 4).
        c[RTC_REG_B] = value & REG_B_SET ? value & ~REG_B_UIE : value;
        this.restartOrFreeze(wasStopped, false);
        this.driveIrq();
        return;
      }
      case RTC_REG_C:
      case RTC_REG_D:
        return; // read-only
      default:
        c[i] = value;
    }
  }

  /** Handle a change of the stopped state after a register A/B write. */
  private restartOrFreeze(wasStopped: boolean, dividerReleased: boolean): void {
    const s = this.state;
    const stopped = this.stopped();
    const now = this.clock.now();
    if (!wasStopped && stopped) {
      // Freeze: the time registers become plain bytes holding the current time.
      const fields = this.encodeTime(s.epochSec + this.secondIndex(now));
      for (const r of TIME_REGISTERS) s.cmos[r] = fields[r]!;
    } else if (wasStopped && !stopped) {
      const t = this.decodeTime();
      if (s.dowWritten) this.setDayOfWeek(s.cmos[RTC_DAY_OF_WEEK]!, t);
      if (dividerReleased) {
        // The divider chain restarts: the first update comes half a second later.
        s.anchorNs = now - NS_PER_SECOND / 2;
        s.epochSec = t;
      } else {
        // SET released: updates resume on the divider's existing phase.
        s.epochSec = t - this.secondIndex(now);
      }
      s.lastNs = Math.max(s.lastNs, now);
    }
  }

  // ---- time ----

  private stopped(): boolean {
    return (this.state.cmos[RTC_REG_B]! & REG_B_SET) !== 0 || this.dividerReset();
  }

  private dividerReset(): boolean {
    return (this.state.cmos[RTC_REG_A]! & REG_A_DV) > 0x20;
  }

  /** Whole seconds between anchorNs and guest time `ns`. */
  private secondIndex(ns: number): number {
    return Math.floor((ns - this.state.anchorNs) / NS_PER_SECOND);
  }

  /** 32.768 kHz cycles between anchorNs and guest time `ns`. */
  private ticks32(ns: number): number {
    return ticksAt(ns - this.state.anchorNs, BASE_HZ);
  }

  /** The RTC time now in seconds since 1970 (the frozen bytes while stopped). */
  private currentSeconds(): number {
    if (this.stopped()) return this.decodeTime();
    return this.state.epochSec + this.secondIndex(this.clock.now());
  }

  private updateInProgress(): boolean {
    if (this.stopped()) return false;
    return ticksAt(this.clock.now() - this.state.anchorNs, BASE_HZ) % BASE_HZ >= BASE_HZ - UIP_CYCLES;
  }

  /** Periodic interrupt period in 32.768 kHz cycles (register A RS3-0), or 0 when off or in reset. */
  private periodTicks(): number {
    const rs = this.state.cmos[RTC_REG_A]! & REG_A_RS;
    if (rs === 0 || this.dividerReset()) return 0;
    // RS 1 and 2 give the same rates as 8 and 9 with a 32.768 kHz time base (datasheet, Table 5).
    return rs <= 2 ? 1 << (rs + 6) : 1 << (rs - 1);
  }

  private binary(): boolean {
    return (this.state.cmos[RTC_REG_B]! & REG_B_DM_BINARY) !== 0;
  }

  private encode(n: number): number {
    return this.binary() ? n : toBcd(n);
  }

  private decode(b: number): number {
    return this.binary() ? b : fromBcd(b);
  }

  /** The hours register byte for hour `h` (0-23) in the current format. */
  private encodeHour(h: number): number {
    if (this.state.cmos[RTC_REG_B]! & REG_B_24H) return this.encode(h);
    return this.encode(h % 12 === 0 ? 12 : h % 12) | (h >= 12 ? 0x80 : 0);
  }

  /** The time registers (indexed by register number) for time `t` in the current format. */
  private encodeTime(t: number): number[] {
    const days = Math.floor(t / SECONDS_PER_DAY);
    const sod = t - days * SECONDS_PER_DAY;
    const [y, m, d] = civilFromDays(days);
    const out = new Array<number>(CMOS_CENTURY + 1).fill(0);
    out[RTC_SECONDS] = this.encode(sod % 60);
    out[RTC_MINUTES] = this.encode(Math.floor(sod / 60) % 60);
    out[RTC_HOURS] = this.encodeHour(Math.floor(sod / 3600));
    out[RTC_DAY_OF_WEEK] = this.encode(mod(days + 4 + this.state.dowOffset, 7) + 1);
    out[RTC_DAY_OF_MONTH] = this.encode(d);
    out[RTC_MONTH] = this.encode(m);
    out[RTC_YEAR] = this.encode(mod(y, 100));
    out[CMOS_CENTURY] = this.encode(mod(Math.floor(y / 100), 100));
    return out;
  }

  /** Parse the time register bytes in CMOS into seconds since 1970 (and the weekday offset). */
  private decodeTime(): number {
    const c = this.state.cmos;
    const sec = this.decode(c[RTC_SECONDS]!);
    const min = this.decode(c[RTC_MINUTES]!);
    const hb = c[RTC_HOURS]!;
    const hour =
      c[RTC_REG_B]! & REG_B_24H
        ? this.decode(hb & 0x7f)
        : (this.decode(hb & 0x7f) % 12) + (hb & 0x80 ? 12 : 0);
    const year = this.decode(c[CMOS_CENTURY]!) * 100 + this.decode(c[RTC_YEAR]!);
    const month = Math.min(12, Math.max(1, this.decode(c[RTC_MONTH]!)));
    const day = Math.max(1, this.decode(c[RTC_DAY_OF_MONTH]!));
    return daysFromCivil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + min * 60 + sec;
  }

  /** Make the day-of-week register read `value` (1-7) on the day of time `t`, counting on from there. */
  private setDayOfWeek(value: number, t: number): void {
    const days = Math.floor(t / SECONDS_PER_DAY);
    this.state.dowOffset = mod(this.decode(value) - 1 - mod(days + 4, 7), 7);
    this.state.dowWritten = 0;
  }

  /** The first second after `from` (seconds since 1970) whose time matches the alarm, or Infinity. */
  private nextAlarm(from: number): number {
    const c = this.state.cmos;
    const aSec = c[RTC_SECONDS_ALARM]!;
    const aMin = c[RTC_MINUTES_ALARM]!;
    const aHour = c[RTC_HOURS_ALARM]!;
    const day0 = Math.floor(from / SECONDS_PER_DAY);
    for (let day = day0; day <= day0 + 1; day++) {
      const dayStart = day * SECONDS_PER_DAY;
      for (let h = 0; h < 24; h++) {
        const hourStart = dayStart + h * 3600;
        if (hourStart + 3599 <= from || !alarmMatches(aHour, this.encodeHour(h))) continue;
        for (let m = 0; m < 60; m++) {
          const minuteStart = hourStart + m * 60;
          if (minuteStart + 59 <= from || !alarmMatches(aMin, this.encode(m))) continue;
          for (let sec = 0; sec < 60; sec++) {
            const t = minuteStart + sec;
            if (t > from && alarmMatches(aSec, this.encode(sec))) return t;
          }
        }
      }
    }
    return Infinity;
  }

  // ---- interrupts ----

  /** Register C flags plus IRQF. */
  private regC(): number {
    return this.state.cmos[RTC_REG_C]! | (this.irqf() ? REG_C_IRQF : 0);
  }

  private irqf(): boolean {
    const c = this.state.cmos;
    const flags = c[RTC_REG_C]!;
    const b = c[RTC_REG_B]!;
    return (
      ((flags & REG_C_PF && b & REG_B_PIE) ||
        (flags & REG_C_AF && b & REG_B_AIE) ||
        (flags & REG_C_UF && b & REG_B_UIE)) !== 0
    );
  }

  /** Set the flags for every periodic event, update and alarm in (lastNs, now], then drive IRQ 8. */
  private sync(now = this.clock.now()): void {
    const s = this.state;
    if (now <= s.lastNs) {
      this.driveIrq();
      return;
    }
    let flags = s.cmos[RTC_REG_C]!;
    const period = this.periodTicks();
    if (period > 0 && Math.floor(this.ticks32(now) / period) > Math.floor(this.ticks32(s.lastNs) / period)) {
      flags |= REG_C_PF;
    }
    if (!this.stopped()) {
      const s0 = this.secondIndex(s.lastNs);
      const s1 = this.secondIndex(now);
      if (s1 > s0) {
        flags |= REG_C_UF;
        if (this.nextAlarm(s.epochSec + s0) <= s.epochSec + s1) flags |= REG_C_AF;
      }
    }
    s.cmos[RTC_REG_C] = flags;
    s.lastNs = now;
    this.driveIrq();
  }

  private driveIrq(): void {
    const level = this.irqf();
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq8.set(level);
    }
  }
}
