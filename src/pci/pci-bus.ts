import { allOnes, type AccessWidth, type IoDevice } from "../bus/device.js";
import type { IoBus } from "../bus/io-bus.js";
import { unconnectedIrq, type IrqLine } from "../devices/irq.js";
import { PCI_HEADER_TYPE } from "./config-space.js";
import type { PciDevice, PciDeviceHost, PciDeviceState } from "./pci-device.js";

/*
 * PCI bus 0 and the host side of Configuration Mechanism #1 (PCI Local Bus Specification 3.0,
 * §3.2.2.3.2 "Software Generation of Configuration Transactions"), plus the PIIX3 Reset Control
 * register that shares the port range.
 *
 * Ports (map this object at 0xCF8, length 8):
 *  - 0xCF8 CONFIG_ADDRESS, a 32-bit register "accessed only when referenced as a DWORD": bit 31
 *    enable, bits 23:16 bus, 15:11 device, 10:8 function, 7:2 register. Bits 30:24 (reserved) and
 *    1:0 "are read-only and must return 0's when read"; every other bit reads back as written.
 *    Byte and word accesses to 0xCF8-0xCFB are not CONFIG_ADDRESS ("pass through ... as normal I/O"):
 *    they read as all ones and are ignored, except the byte at 0xCF9.
 *  - 0xCF9 (byte): Reset Control register of the PIIX/PIIX3 (82371FB/SB datasheet, "RC - Reset
 *    Control Register", I/O 0CF9h): bit 1 System Reset (1 = hard, 0 = soft), bit 2 Reset CPU (a 0 -> 1
 *    transition starts the reset selected by bit 1), bit 3 Full Reset (PIIX4/ICH, stored only). Both
 *    kinds end in `onReset()` (one CPU, no separate INIT); the register then reads 0 again, as after
 *    a hardware reset. Linux's reboot=pci writes 0x02 then 0x06 (or 0x0E).
 *  - 0xCFC-0xCFF CONFIG_DATA: with bit 31 set, a byte/word/dword access at 0xCFC + n reaches the
 *    configuration register (CONFIG_ADDRESS bits 7:2) + n of the addressed function. Without bit 31
 *    the access is ordinary I/O: reads all ones, writes ignored.
 *
 * Only bus 0 exists: other bus numbers, empty slots and absent functions read as all ones (a master
 * abort, §6.1: "returning all 1's ... Vendor ID 0xFFFF"), and writes to them are dropped. Functions
 * 1-7 are visible when added; function 0 of that slot then reports a multi-function Header Type
 * (bit 7, §6.2.1).
 *
 * INTx# routing: each function's pin is routed to one ISA IRQ (the PIRQ router of a PIIX, configured
 * by the firmware). Several functions may share an IRQ; the line is the wired-OR of their pins (PCI
 * interrupts are level-sensitive and shareable, §2.2.6), so the machine must mark these IRQs
 * level-triggered in the ELCR (see src/pci/firmware.ts).
 */

/** First port of the configuration mechanism #1 range (CONFIG_ADDRESS). */
export const PCI_CONFIG_ADDRESS_PORT = 0xcf8;
/** CONFIG_DATA port (0xCFC-0xCFF). */
export const PCI_CONFIG_DATA_PORT = 0xcfc;
/** Reset Control register port of the PIIX (byte at 0xCF9). */
export const PCI_RESET_CONTROL_PORT = 0xcf9;
/** Number of ports claimed at 0xCF8. */
export const PCI_CONFIG_PORTS_LENGTH = 8;

/** CONFIG_ADDRESS bit 31: enable configuration space mapping. */
export const CONFIG_ADDRESS_ENABLE = 0x80000000;
/** Bits of CONFIG_ADDRESS that are stored (30:24 and 1:0 read as 0, PCI 3.0 §3.2.2.3.2). */
const CONFIG_ADDRESS_MASK = 0x80fffffc;

/** Reset Control: bit 1, System Reset (hard reset when set). */
export const RESET_CONTROL_SYSTEM = 0x02;
/** Reset Control: bit 2, Reset CPU (0 -> 1 triggers the reset). */
export const RESET_CONTROL_CPU = 0x04;
/** Reset Control: bit 3, Full Reset (PIIX4 and later; stored only). */
export const RESET_CONTROL_FULL = 0x08;

/** Slots on a bus (device numbers 0-31) and functions per device (0-7). */
export const PCI_SLOTS = 32;
export const PCI_FUNCTIONS = 8;

/** Options of a PciBus. */
export interface PciBusOptions {
  /** Port-I/O space for I/O BARs. */
  pio: IoBus;
  /** Memory space for memory BARs. */
  mmio: IoBus;
  /** The interrupt controller input for ISA IRQ `line` (1-15); default: nothing connected. */
  irq?: (line: number) => IrqLine;
  /** Called when the guest resets the machine through 0xCF9. */
  onReset?: () => void;
  /** Name of the 0xCF8-0xCFF IoDevice for statistics (default "pci-conf"). */
  name?: string;
}

/** A device plugged into the bus, with its address. */
export interface PciSlotEntry {
  /** Device number 0-31. */
  readonly slot: number;
  /** Function number 0-7. */
  readonly fn: number;
  readonly device: PciDevice;
}

/** Snapshot of the bus: the host-side registers and each function's state, by devfn. */
export interface PciBusState {
  configAddress: number;
  resetControl: number;
  /** States of the plugged functions, keyed by devfn = slot * 8 + fn. */
  devices: { devfn: number; state: PciDeviceState }[];
}

/** PCI bus 0 with the configuration mechanism #1 ports; itself the IoDevice for 0xCF8-0xCFF. */
export class PciBus implements IoDevice, PciDeviceHost {
  readonly name: string;
  readonly pio: IoBus;
  readonly mmio: IoBus;
  private readonly irqFor: (line: number) => IrqLine;
  private readonly irqLines = new Map<number, IrqLine>();
  /** Level last driven on each ISA IRQ that has been used. */
  private readonly irqLevels = new Map<number, boolean>();
  private readonly onReset: () => void;
  /** Functions by devfn (slot * 8 + fn). */
  private readonly functions: (PciDevice | undefined)[] = new Array<PciDevice | undefined>(
    PCI_SLOTS * PCI_FUNCTIONS,
  ).fill(undefined);
  private configAddressValue = 0;
  private resetControlValue = 0;

  constructor(options: PciBusOptions) {
    this.name = options.name ?? "pci-conf";
    this.pio = options.pio;
    this.mmio = options.mmio;
    this.irqFor = options.irq ?? (() => unconnectedIrq);
    this.onReset = options.onReset ?? (() => {});
  }

  // ---- topology ----

  /**
   * Plug `device` in at `slot` (default: the lowest slot whose function 0 is free) and function `fn`
   * (default 0). Returns the slot. Throws if the address is taken or out of range, or if the device is
   * already on the bus.
   */
  add(device: PciDevice, slot?: number, fn = 0): number {
    if (this.functions.includes(device)) throw new Error(`pci: ${device.name} is already on the bus`);
    let s = slot;
    if (s === undefined) {
      s = 0;
      while (s < PCI_SLOTS && this.functions[s * PCI_FUNCTIONS] !== undefined) s++;
      if (s === PCI_SLOTS) throw new Error(`pci: no free slot for ${device.name}`);
    }
    if (
      !Number.isInteger(s) ||
      s < 0 ||
      s >= PCI_SLOTS ||
      !Number.isInteger(fn) ||
      fn < 0 ||
      fn >= PCI_FUNCTIONS
    ) {
      throw new RangeError(`pci: bad address ${s}.${fn} for ${device.name}`);
    }
    const devfn = s * PCI_FUNCTIONS + fn;
    const taken = this.functions[devfn];
    if (taken !== undefined) throw new Error(`pci: 00:${hex2(s)}.${fn} is taken by ${taken.name}`);
    this.functions[devfn] = device;
    this.updateMultiFunction(s);
    device.attach(this);
    return s;
  }

  /** Unplug `device` (its BARs leave the buses and its INTx# deasserts). */
  remove(device: PciDevice): void {
    const devfn = this.functions.indexOf(device);
    if (devfn < 0) return;
    const route = device.interruptRoute;
    this.functions[devfn] = undefined;
    device.attach(undefined);
    if (route !== undefined) this.driveIrq(route);
    this.updateMultiFunction(devfn >> 3);
  }

  /** The function at 00:slot.fn, or undefined. */
  device(slot: number, fn = 0): PciDevice | undefined {
    if (
      !Number.isInteger(slot) ||
      slot < 0 ||
      slot >= PCI_SLOTS ||
      !Number.isInteger(fn) ||
      fn < 0 ||
      fn >= 8
    ) {
      return undefined;
    }
    return this.functions[slot * PCI_FUNCTIONS + fn];
  }

  /** Every plugged function, in devfn order (the order an enumerating guest finds them). */
  list(): PciSlotEntry[] {
    const out: PciSlotEntry[] = [];
    this.functions.forEach((device, devfn) => {
      if (device !== undefined) out.push({ slot: devfn >> 3, fn: devfn & 7, device });
    });
    return out;
  }

  /** Header Type bit 7 of function 0 tells whether functions 1-7 exist (PCI 3.0 §6.2.1). */
  private updateMultiFunction(slot: number): void {
    const f0 = this.functions[slot * PCI_FUNCTIONS];
    if (f0 === undefined) return;
    let multi = false;
    for (let fn = 1; fn < PCI_FUNCTIONS; fn++)
      multi ||= this.functions[slot * PCI_FUNCTIONS + fn] !== undefined;
    const ht = f0.config.headerType;
    f0.config.set8(PCI_HEADER_TYPE, multi ? ht | 0x80 : ht & 0x7f);
  }

  // ---- configuration transactions on bus 0 ----

  /**
   * A type 0 configuration read of 00:slot.fn at register `offset` (the host-side entry point the
   * firmware uses; the guest goes through 0xCFC). Absent functions read all ones. An access that
   * crosses the 256-byte space end is assembled per byte (bytes beyond read 0xFF).
   */
  configRead(slot: number, fn: number, offset: number, width: AccessWidth): number {
    const device = this.device(slot, fn);
    if (device === undefined) return allOnes(width);
    if (offset + width <= 256 && (offset & (width - 1)) === 0) return device.configRead(offset, width);
    let v = 0;
    for (let i = width - 1; i >= 0; i--) {
      const o = offset + i;
      v = (v << 8) | (o < 256 ? device.configRead(o, 1) : 0xff);
    }
    return v >>> 0;
  }

  /** A type 0 configuration write to 00:slot.fn (dropped if the function is absent). */
  configWrite(slot: number, fn: number, offset: number, width: AccessWidth, value: number): void {
    const device = this.device(slot, fn);
    if (device === undefined) return;
    if (offset + width <= 256 && (offset & (width - 1)) === 0) {
      device.configWrite(offset, width, value);
    } else {
      for (let i = 0; i < width && offset + i < 256; i++)
        device.configWrite(offset + i, 1, (value >>> (8 * i)) & 0xff);
    }
    // A moved or disabled BAR may unblock another function's BAR that overlapped it.
    for (const d of this.functions) if (d !== undefined && d !== device) d.updateMappings();
  }

  // ---- the 0xCF8-0xCFF IoDevice ----

  /** CONFIG_ADDRESS as the guest reads it back. */
  get configAddress(): number {
    return this.configAddressValue;
  }

  read(offset: number, width: AccessWidth): number {
    if (offset === 0 && width === 4) return this.configAddressValue;
    if (offset === 1 && width === 1) return this.resetControlValue;
    if (offset >= 4 && offset + width <= 8) return this.dataRead(offset - 4, width);
    // Misaligned or straddling access: assemble byte by byte; only CONFIG_DATA bytes carry data.
    let v = 0;
    for (let i = width - 1; i >= 0; i--) {
      const p = offset + i;
      v = (v << 8) | (p >= 4 && p < 8 ? this.dataRead(p - 4, 1) : 0xff);
    }
    return v >>> 0;
  }

  write(offset: number, width: AccessWidth, value: number): void {
    if (offset === 0 && width === 4) {
      this.configAddressValue = (value & CONFIG_ADDRESS_MASK) >>> 0;
      return;
    }
    if (offset === 1 && width === 1) {
      this.writeResetControl(value & 0xff);
      return;
    }
    if (offset >= 4 && offset + width <= 8) {
      this.dataWrite(offset - 4, width, value);
      return;
    }
    for (let i = 0; i < width; i++) {
      const p = offset + i;
      if (p >= 4 && p < 8) this.dataWrite(p - 4, 1, (value >>> (8 * i)) & 0xff);
    }
  }

  /** Decode CONFIG_ADDRESS: [slot, fn, register + byte] or undefined (disabled or bus != 0). */
  private target(byte: number): [number, number, number] | undefined {
    const a = this.configAddressValue;
    if (!(a & CONFIG_ADDRESS_ENABLE)) return undefined;
    if ((a >>> 16) & 0xff) return undefined; // only bus 0 exists
    return [(a >>> 11) & 0x1f, (a >>> 8) & 7, (a & 0xfc) + byte];
  }

  private dataRead(byte: number, width: AccessWidth): number {
    const t = this.target(byte);
    return t === undefined ? allOnes(width) : this.configRead(t[0], t[1], t[2], width);
  }

  private dataWrite(byte: number, width: AccessWidth, value: number): void {
    const t = this.target(byte);
    if (t !== undefined) this.configWrite(t[0], t[1], t[2], width, value);
  }

  private writeResetControl(value: number): void {
    const old = this.resetControlValue;
    this.resetControlValue = value & (RESET_CONTROL_SYSTEM | RESET_CONTROL_CPU | RESET_CONTROL_FULL);
    if (!(old & RESET_CONTROL_CPU) && value & RESET_CONTROL_CPU) {
      this.resetControlValue = 0; // the register is cleared by the reset it starts
      this.onReset();
    }
  }

  // ---- interrupts ----

  /**
   * Route the INTx# pin of `device` to ISA IRQ `irq` (1-15, not the cascade IRQ 2), or unroute it with
   * undefined. This is the chipset's PIRQ routing, set by the firmware; it does not touch the Interrupt
   * Line register (the firmware writes that separately, as a BIOS does).
   */
  routeInterrupt(device: PciDevice, irq: number | undefined): void {
    if (!this.functions.includes(device)) throw new Error(`pci: ${device.name} is not on the bus`);
    if (irq !== undefined && (!Number.isInteger(irq) || irq < 1 || irq > 15 || irq === 2)) {
      throw new RangeError(`pci: IRQ ${irq} is not a usable ISA IRQ (1-15, not 2)`);
    }
    const old = device.interruptRoute;
    device.setInterruptRoute(irq);
    if (old !== undefined && old !== irq) this.driveIrq(old);
  }

  /** PciDeviceHost: a device's effective INTx# level or route changed. */
  intxChanged(device: PciDevice): void {
    const route = device.interruptRoute;
    if (route !== undefined) this.driveIrq(route);
  }

  /** Whether ISA IRQ `irq` is driven high by some PCI function now. */
  irqLevel(irq: number): boolean {
    return this.irqLevels.get(irq) ?? false;
  }

  /** Drive ISA IRQ `irq` to the wired-OR of the pins routed to it (only changes, unless forced). */
  private driveIrq(irq: number, force = false): void {
    let level = false;
    for (const d of this.functions) {
      if (d !== undefined && d.interruptRoute === irq && d.intxAsserted) {
        level = true;
        break;
      }
    }
    if (!force && (this.irqLevels.get(irq) ?? false) === level) return;
    this.irqLevels.set(irq, level);
    let line = this.irqLines.get(irq);
    if (line === undefined) {
      line = this.irqFor(irq);
      this.irqLines.set(irq, line);
    }
    line.set(level);
  }

  // ---- reset and snapshots ----

  /** Machine reset: host registers to 0, every function reset (BARs off the buses, routes cleared). */
  reset(): void {
    this.configAddressValue = 0;
    this.resetControlValue = 0;
    for (const d of this.functions) d?.reset();
    for (const irq of [...this.irqLevels.keys()]) this.driveIrq(irq, true);
  }

  /** A deep copy of the bus registers and every function's configuration state. */
  saveState(): PciBusState {
    return {
      configAddress: this.configAddressValue,
      resetControl: this.resetControlValue,
      devices: this.list().map(({ slot, fn, device }) => ({
        devfn: slot * 8 + fn,
        state: device.saveState(),
      })),
    };
  }

  /**
   * Restore a state produced by saveState on a bus with the same devices plugged at the same
   * addresses. All BARs are unmapped first so that restored mappings cannot clash with stale ones;
   * every IRQ is re-driven.
   */
  loadState(saved: PciBusState): void {
    this.configAddressValue = (saved.configAddress & CONFIG_ADDRESS_MASK) >>> 0;
    this.resetControlValue =
      saved.resetControl & (RESET_CONTROL_SYSTEM | RESET_CONTROL_CPU | RESET_CONTROL_FULL);
    for (const d of this.functions) d?.unmapAll();
    for (const { devfn, state } of saved.devices) {
      const d = this.functions[devfn];
      if (d === undefined)
        throw new Error(`pci: snapshot has a function at devfn ${devfn} that is not plugged`);
      d.loadState(state);
    }
    for (const d of this.functions) d?.updateMappings();
    const irqs = new Set(this.irqLevels.keys());
    for (const d of this.functions) if (d?.interruptRoute !== undefined) irqs.add(d.interruptRoute);
    for (const irq of irqs) this.driveIrq(irq, true);
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}
