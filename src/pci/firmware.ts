import {
  barOffset,
  PCI_BASE_ADDRESS_IO_MASK,
  PCI_BASE_ADDRESS_MEM_MASK,
  PCI_BASE_ADDRESS_MEM_TYPE_MASK,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_NUM_BARS,
} from "./config-space.js";
import type { PciBarKind } from "./pci-device.js";
import type { PciBus } from "./pci-bus.js";

/*
 * The part of a PC BIOS that sets PCI up before the kernel starts ("POST-time configuration"),
 * because Linux booted without ACPI or a PCI BIOS (pci=conf1-style direct access) keeps the BARs
 * and Interrupt Line values it finds.
 *
 * It uses only configuration transactions, like SeaBIOS's pciinit.c:
 *  1. For every function on bus 0 (devfn order), clear the I/O and memory decode bits and size each
 *     BAR with the protocol of PCI 3.0 §6.2.5.1 (save, write all ones, read the size mask, restore).
 *  2. Sort the requests of each space by size, largest first (stable in devfn/BAR order), and give
 *     each the next address aligned to its size: with sizes that are powers of two this packs the
 *     window without gaps, and naturally-aligned BARs are what §6.2.5.1 requires.
 *  3. Route each function that has an Interrupt Pin to the next IRQ of `irqs`, round-robin, and write
 *     that IRQ to its Interrupt Line register (PCI 3.0 §6.2.4: "POST software will write the routing
 *     information into this register").
 *  4. Enable decode in the Command register (I/O if it has I/O BARs, memory if it has memory BARs)
 *     and bus mastering (§6.2.2 bits 0-2), last, once every BAR holds its final address.
 *
 * Simplification of interrupt routing: a real PIIX routes INTA#-INTD# of slot n through PIRQA-D with
 * the swizzle (slot + pin - 1) mod 4, and SeaBIOS programs PIRQA-D as IRQ 10, 10, 11, 11. Here each
 * function gets its own route straight from the list, round-robin; the result is consistent because
 * the guest has no $PIR or ACPI _PRT table and reads only the Interrupt Line register. PCI
 * interrupts are level-sensitive and shared (PCI 3.0 §2.2.6), so every IRQ handed out must be
 * level-triggered in the PIC's ELCR (ports 0x4D0/0x4D1): the result lists them and gives the mask.
 */

/** Where the firmware places PCI resources. */
export interface PciResourceOptions {
  /** First port of the PCI I/O window (default 0xC000, as SeaBIOS). */
  ioBase?: number;
  /** End (exclusive) of the I/O window (default 0x10000). */
  ioLimit?: number;
  /**
   * First address of the 32-bit memory window (default 0xE000_0000). Must be at or above the top of
   * guest RAM: RAM hides anything below it from MMIO.
   */
  memBase?: number;
  /** End (exclusive) of the memory window (default 0xFEC0_0000, where the I/O APIC page starts). */
  memLimit?: number;
  /** ISA IRQs handed to INTx# pins, round-robin (default [10, 11, 5, 9]). 1-15, not 2. */
  irqs?: readonly number[];
}

/** One BAR placed by the firmware. */
export interface PciBarAssignment {
  slot: number;
  fn: number;
  /** BAR index 0-5. */
  bar: number;
  kind: PciBarKind;
  base: number;
  size: number;
  /** The function's name, for listings. */
  name: string;
}

/** One interrupt routed by the firmware. */
export interface PciIrqAssignment {
  slot: number;
  fn: number;
  /** Interrupt Pin register value (1-4 = INTA#-INTD#). */
  pin: number;
  /** ISA IRQ, also written to the Interrupt Line register. */
  irq: number;
  name: string;
}

/** The outcome of assignResources. */
export interface PciResourceAssignment {
  /** Every BAR, in the order they were placed (per space, largest first). */
  bars: PciBarAssignment[];
  /** Every routed interrupt, in devfn order. */
  interrupts: PciIrqAssignment[];
  /** The distinct IRQs handed out, ascending: mark these level-triggered in the ELCR. */
  levelTriggeredIrqs: number[];
  /** The same as an ELCR bit mask: bit n = IRQ n (low byte -> port 0x4D0, high byte -> 0x4D1). */
  elcr: number;
}

/** Default PCI I/O window start. */
export const PCI_IO_BASE = 0xc000;
/** Default PCI 32-bit memory window start. */
export const PCI_MEM_BASE = 0xe000_0000;
/** Default PCI 32-bit memory window end (exclusive): the I/O APIC at 0xFEC0_0000. */
export const PCI_MEM_LIMIT = 0xfec0_0000;
/** Default IRQ list for INTx# routing. */
export const PCI_DEFAULT_IRQS: readonly number[] = [10, 11, 5, 9];

interface BarRequest {
  slot: number;
  fn: number;
  bar: number;
  kind: PciBarKind;
  size: number;
  name: string;
}

/**
 * Assign BAR addresses and interrupt lines to every function on `bus` and enable decoding and bus
 * mastering, as a BIOS would before starting the kernel. Throws if the resources do not fit in the
 * windows, if a device has a 64-bit BAR, or if a placed BAR cannot be mapped because something else
 * already claims its range (a machine-assembly error).
 */
export function assignResources(bus: PciBus, options: PciResourceOptions = {}): PciResourceAssignment {
  const ioBase = options.ioBase ?? PCI_IO_BASE;
  const ioLimit = options.ioLimit ?? 0x10000;
  const memBase = options.memBase ?? PCI_MEM_BASE;
  const memLimit = options.memLimit ?? PCI_MEM_LIMIT;
  const irqs = options.irqs ?? PCI_DEFAULT_IRQS;
  for (const irq of irqs) {
    if (!Number.isInteger(irq) || irq < 1 || irq > 15 || irq === 2) {
      throw new RangeError(`pci firmware: IRQ ${irq} is not a usable ISA IRQ (1-15, not 2)`);
    }
  }

  const functions = bus.list();
  const requests: BarRequest[] = [];
  const spaces = new Map<number, number>(); // devfn -> command bits to enable

  // 1. Size the BARs with decode off.
  for (const { slot, fn, device } of functions) {
    const cmd = bus.configRead(slot, fn, PCI_COMMAND, 2);
    bus.configWrite(slot, fn, PCI_COMMAND, 2, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
    let enable = PCI_COMMAND_MASTER;
    for (let bar = 0; bar < PCI_NUM_BARS; bar++) {
      const off = barOffset(bar);
      const saved = bus.configRead(slot, fn, off, 4);
      bus.configWrite(slot, fn, off, 4, 0xffffffff);
      const mask = bus.configRead(slot, fn, off, 4);
      bus.configWrite(slot, fn, off, 4, saved);
      if (mask === 0) continue; // unimplemented BAR
      const io = (mask & PCI_BASE_ADDRESS_SPACE_IO) !== 0;
      if (!io && (mask & PCI_BASE_ADDRESS_MEM_TYPE_MASK) !== 0) {
        throw new Error(`pci firmware: ${device.name} BAR${bar} is not a 32-bit memory BAR`);
      }
      const addrBits = (mask & (io ? PCI_BASE_ADDRESS_IO_MASK : PCI_BASE_ADDRESS_MEM_MASK)) >>> 0;
      const size = (addrBits & -addrBits) >>> 0; // lowest writable address bit
      if (size === 0) continue;
      requests.push({ slot, fn, bar, kind: io ? "io" : "mem32", size, name: device.name });
      enable |= io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
    }
    spaces.set(slot * 8 + fn, enable);
  }

  // 2. Place them, largest first, each aligned to its size.
  const bars: PciBarAssignment[] = [];
  const place = (kind: PciBarKind, base: number, limit: number): void => {
    const list = requests.filter((r) => r.kind === kind).sort((a, b) => b.size - a.size);
    let next = base;
    for (const r of list) {
      const at = Math.ceil(next / r.size) * r.size;
      if (at + r.size > limit) {
        throw new RangeError(
          `pci firmware: ${r.name} BAR${r.bar} (${r.size} bytes) does not fit in the ${kind} window ` +
            `0x${base.toString(16)}-0x${(limit - 1).toString(16)}`,
        );
      }
      bus.configWrite(r.slot, r.fn, barOffset(r.bar), 4, at);
      bars.push({ ...r, base: at });
      next = at + r.size;
    }
  };
  place("io", ioBase, ioLimit);
  place("mem32", memBase, memLimit);

  // 3. Route interrupts round-robin and write the Interrupt Line registers.
  const interrupts: PciIrqAssignment[] = [];
  let k = 0;
  for (const { slot, fn, device } of functions) {
    const pin = bus.configRead(slot, fn, PCI_INTERRUPT_PIN, 1);
    if (pin === 0) continue;
    if (irqs.length === 0)
      throw new RangeError(`pci firmware: ${device.name} needs an IRQ but the list is empty`);
    const irq = irqs[k++ % irqs.length]!;
    bus.routeInterrupt(device, irq);
    bus.configWrite(slot, fn, PCI_INTERRUPT_LINE, 1, irq);
    interrupts.push({ slot, fn, pin, irq, name: device.name });
  }

  // 4. Enable decode and bus mastering, then check that every BAR really reached the bus.
  for (const { slot, fn } of functions) {
    const cmd = bus.configRead(slot, fn, PCI_COMMAND, 2);
    bus.configWrite(slot, fn, PCI_COMMAND, 2, cmd | spaces.get(slot * 8 + fn)!);
  }
  for (const b of bars) {
    if (bus.device(b.slot, b.fn)?.barMapping(b.bar) !== b.base) {
      throw new Error(
        `pci firmware: ${b.name} BAR${b.bar} at 0x${b.base.toString(16)}+${b.size} overlaps another claim on the ${b.kind === "io" ? "pio" : "mmio"} bus`,
      );
    }
  }

  const levelTriggeredIrqs = [...new Set(interrupts.map((i) => i.irq))].sort((a, b) => a - b);
  const elcr = levelTriggeredIrqs.reduce((m, irq) => m | (1 << irq), 0);
  return { bars, interrupts, levelTriggeredIrqs, elcr };
}
