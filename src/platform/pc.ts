import type { IoBus } from "../bus/io-bus.js";
import type { GuestClock, TimedDevice } from "../clock.js";
import { Pic8259Pair } from "../devices/pic8259.js";
import { Pit8254 } from "../devices/pit8254.js";
import { Port61 } from "../devices/port61.js";
import { RtcCmos } from "../devices/rtc-cmos.js";
import { I8042 } from "../devices/i8042.js";
import { PciBus, PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_PORTS_LENGTH } from "../pci/pci-bus.js";
import { HostBridge } from "../pci/host-bridge.js";
import { assignResources, type PciResourceAssignment } from "../pci/firmware.js";

export interface PcPlatformOptions {
  pio: IoBus;
  mmio: IoBus;
  clock: GuestClock;
  /** Guest RAM size, for the CMOS memory-size bytes. */
  ramSize: number;
  /** What the RTC reads at machine start (a fixed epoch in deterministic mode). */
  rtcStart: Date;
  /** The guest asked for a reset (i8042 0xFE, PCI 0xCF9). */
  onReset: () => void;
  /** The i8042 output port changed the A20 gate. */
  onA20: (enabled: boolean) => void;
}

/** Standard ISA port assignments of the PC platform devices. */
export const PIC_MASTER_PORT = 0x20;
export const PIC_SLAVE_PORT = 0xa0;
export const ELCR_PORT = 0x4d0;
export const PIT_PORT = 0x40;
export const PORT61_PORT = 0x61;
export const RTC_PORT = 0x70;
export const KBC_DATA_PORT = 0x60;
export const KBC_COMMAND_PORT = 0x64;

/**
 * The chipset of a PC (PIIX-like, without ACPI or a local APIC): the 8259A pair, the 8254 PIT with
 * port 0x61, the MC146818 RTC/CMOS, a minimal i8042 and the PCI configuration mechanism with a
 * 440FX-style host bridge. Devices are wired to the PIC by IRQ line; `pic.onOutput` and
 * `pic.acknowledge()` connect the PIC to the core.
 */
export class PcPlatform {
  readonly pic = new Pic8259Pair();
  readonly pit: Pit8254;
  readonly port61: Port61;
  readonly rtc: RtcCmos;
  readonly kbc: I8042;
  readonly pci: PciBus;
  /** Devices with timed events, in the order the machine advances them. */
  private readonly timed: TimedDevice[];

  constructor(o: PcPlatformOptions) {
    const pio = o.pio;
    const pic = this.pic;
    this.pit = new Pit8254({ clock: o.clock, irq0: pic.irq(0) });
    this.port61 = new Port61({ clock: o.clock, pit: this.pit });
    this.rtc = new RtcCmos({
      clock: o.clock,
      irq8: pic.irq(8),
      startTime: o.rtcStart,
      memoryBytes: o.ramSize,
    });
    this.kbc = new I8042({ irq: pic.irq(1), auxIrq: pic.irq(12), onReset: o.onReset, onA20: o.onA20 });
    this.pci = new PciBus({ pio: o.pio, mmio: o.mmio, irq: (line) => pic.irq(line), onReset: o.onReset });
    this.pci.add(new HostBridge(), 0);
    pio.map(PIC_MASTER_PORT, 2, pic.master);
    pio.map(PIC_SLAVE_PORT, 2, pic.slave);
    pio.map(ELCR_PORT, 2, pic.elcr);
    pio.map(PIT_PORT, 4, this.pit);
    pio.map(PORT61_PORT, 1, this.port61);
    pio.map(RTC_PORT, 2, this.rtc);
    pio.map(KBC_DATA_PORT, 1, this.kbc.data);
    pio.map(KBC_COMMAND_PORT, 1, this.kbc.command);
    pio.map(PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_PORTS_LENGTH, this.pci);
    this.timed = [this.pit, this.rtc];
  }

  /**
   * What a BIOS does before the OS starts: assign PCI BARs and interrupt lines, and mark the PCI
   * lines level-triggered in the ELCR.
   */
  firmwareInit(): PciResourceAssignment {
    const r = assignResources(this.pci);
    this.pic.setElcr(0, r.elcr & 0xff);
    this.pic.setElcr(1, (r.elcr >>> 8) & 0xff);
    return r;
  }

  /** Add a device with timed events (e.g. a drive delaying its completions), advanced after the chipset. */
  addTimed(device: TimedDevice): void {
    this.timed.push(device);
  }

  /** The earliest deadline of any timed device (guest ns), or Infinity. */
  nextDeadline(): number {
    let d = Infinity;
    for (const t of this.timed) d = Math.min(d, t.nextDeadline());
    return d;
  }

  /** Bring every timed device up to guest time `now`. */
  advance(now: number): void {
    for (const t of this.timed) t.advance(now);
  }
}
