import type { AccessWidth, IoDevice } from "../bus/device.js";
import { PIT_HZ, ticksAt, type GuestClock } from "../clock.js";
import type { Pit8254 } from "./pit8254.js";

/*
 * Port 0x61: the AT "NMI Status and Control" register (Intel 82371AB PIIX4 datasheet, NMI Status and
 * Control Register, "NMISC"; the same bits as on the IBM PC/AT's port B):
 *   bit 0  TIM2 gate: PIT counter 2 GATE (read/write)
 *   bit 1  speaker data enable: ANDed with counter 2's OUT to drive the speaker (read/write, stored)
 *   bit 2  PCI SERR# NMI disable (read/write, stored)
 *   bit 3  IOCHK# NMI disable (read/write, stored)
 *   bit 4  refresh cycle toggle (read-only): toggles on every DRAM refresh request, i.e. every 18 PIT
 *          clocks = 15.0857 µs. Derived from the guest clock on the same time base as the PIT, so code
 *          that times delays by counting toggles (BIOSes, Linux's io_delay alternatives) sees the same
 *          rate as the PIT.
 *   bit 5  PIT counter 2 OUT (read-only); Linux's pit_calibrate_tsc polls this.
 *   bit 6  IOCHK# NMI source status (read-only): always 0, no device asserts IOCHK#.
 *   bit 7  SERR# NMI source status (read-only): always 0, nothing signals SERR#.
 * Access width: byte-wide; a wider access uses only the low byte (upper bytes of a read are all ones).
 */

export const PORT61_GATE2 = 0x01;
export const PORT61_SPEAKER = 0x02;
export const PORT61_SERR_DISABLE = 0x04;
export const PORT61_IOCHK_DISABLE = 0x08;
export const PORT61_REFRESH = 0x10;
export const PORT61_OUT2 = 0x20;
/** Bits the guest can write (bits 4-7 are read-only status). */
const WRITABLE = 0x0f;
/** PIT clocks per refresh toggle (15.0857 µs at PIT_HZ). */
export const REFRESH_PIT_CLOCKS = 18;

/** Snapshot of port 0x61: plain numbers only. */
export interface Port61State {
  /** Bits 0-3 as last written. */
  control: number;
}

export interface Port61Options {
  /** The machine clock (for the refresh toggle). */
  clock: GuestClock;
  /** The PIT whose counter 2 gate/output this port exposes. */
  pit: Pit8254;
}

/** The NMI status and control register at port 0x61 (map with length 1). */
export class Port61 implements IoDevice {
  readonly name = "port61";
  private readonly clock: GuestClock;
  private readonly pit: Pit8254;
  private state: Port61State = { control: 0 };

  constructor(options: Port61Options) {
    this.clock = options.clock;
    this.pit = options.pit;
    this.pit.setGate2(false);
  }

  read(offset: number, width: AccessWidth): number {
    const byte = offset === 0 ? this.value() : 0xff;
    if (width === 1) return byte;
    return width === 2 ? 0xff00 | byte : (0xffffff00 | byte) >>> 0;
  }

  write(offset: number, _width: AccessWidth, value: number): void {
    if (offset !== 0) return;
    this.state.control = value & WRITABLE;
    this.pit.setGate2((value & PORT61_GATE2) !== 0);
  }

  /** True while the speaker is driven: data enable (bit 1) AND counter 2's OUT. */
  speakerOn(): boolean {
    return (this.state.control & PORT61_SPEAKER) !== 0 && this.pit.out2();
  }

  /** A copy of the register state. */
  saveState(): Port61State {
    return { ...this.state };
  }

  /** Restore a state produced by saveState and re-drive counter 2's gate. */
  loadState(saved: Port61State): void {
    this.state = { control: saved.control & WRITABLE };
    this.pit.setGate2((this.state.control & PORT61_GATE2) !== 0);
  }

  private value(): number {
    const refresh = Math.floor(ticksAt(this.clock.now(), PIT_HZ) / REFRESH_PIT_CLOCKS) & 1;
    return this.state.control | (refresh ? PORT61_REFRESH : 0) | (this.pit.out2() ? PORT61_OUT2 : 0);
  }
}
