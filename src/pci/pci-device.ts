import type { AccessWidth, IoDevice } from "../bus/device.js";
import type { IoBus } from "../bus/io-bus.js";
import {
  barOffset,
  ConfigSpace,
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CACHE_LINE_SIZE,
  PCI_CAPABILITY_LIST,
  PCI_CLASS_BASE,
  PCI_CLASS_DEVICE,
  PCI_CLASS_PROG,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_WRITABLE,
  PCI_CONFIG_SPACE_SIZE,
  PCI_DEVICE_ID,
  PCI_HEADER_SIZE,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_LATENCY_TIMER,
  PCI_NUM_BARS,
  PCI_REVISION_ID,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_DEVSEL_MEDIUM,
  PCI_STATUS_INTERRUPT,
  PCI_STATUS_W1C,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from "./config-space.js";

/*
 * A PCI function with a type 00h configuration header (PCI Local Bus Specification 3.0, §6.1-§6.2),
 * the model the host bridge, virtio-pci and the PIIX IDE controller are built on.
 *
 *  - Base Address Registers (§6.2.5.1) are described by size and kind; the read-only low bits encode
 *    the kind, and the address bits below the size are hardwired to 0, so the sizing protocol of
 *    §6.2.5.1 ("write a value of all 1's to the register, then read it back") returns the size mask
 *    with the type bits. Only 32-bit BARs are modelled ("io" and "mem32").
 *  - A BAR's IoDevice is mapped on the machine's port (pio) or memory (mmio) IoBus exactly while the
 *    matching Command decode bit (§6.2.2 bits 0/1) is set and the BAR holds a usable address. As in
 *    QEMU, address 0 and ranges reaching the last byte of the space count as "not assigned" (this is
 *    also what keeps a BAR that is being sized, i.e. holds all ones, off the bus). A BAR whose range
 *    overlaps another claim on the bus is left unmapped (accesses read as all ones) until it moves;
 *    guests cannot make the host throw.
 *  - Capabilities (§6.7) are allocated upwards from 0x40 and linked in the order added.
 *  - INTx# (§2.2.6): `setIrq(level)` sets Status bit 3 (Interrupt Status, which reflects the internal
 *    state regardless of Interrupt Disable, §6.2.3) and the pin is asserted towards the bus only while
 *    Command bit 10 (Interrupt Disable, §6.2.2) is 0. The bus routes the pin to an ISA IRQ chosen by the
 *    firmware; the Interrupt Line register (§6.2.4) is a scratch register that does not re-route.
 *  - The Expansion ROM BAR (§6.2.5.2) and BIST are hardwired to 0: no option ROMs.
 */

/** Kind of a Base Address Register: I/O space or 32-bit memory space (PCI 3.0 §6.2.5.1). */
export type PciBarKind = "io" | "mem32";

/** Description of one BAR. */
export interface PciBar {
  /** I/O space or 32-bit memory space. */
  readonly kind: PciBarKind;
  /**
   * Size in bytes, a power of two: 4-256 for "io" (PCI 3.0 §6.2.5.1 limits an I/O BAR to 256 bytes),
   * at least 16 for "mem32".
   */
  readonly size: number;
  /** Memory BAR bit 3 (read-only): reads have no side effects and may be merged. mem32 only. */
  readonly prefetchable?: boolean;
  /**
   * The registers behind the BAR; it sees offsets relative to the BAR base. It must not be mapped
   * anywhere else on the same bus (moving the BAR unmaps every range of this IoDevice).
   */
  readonly device: IoDevice;
}

/** Identity and resources of a PCI function. */
export interface PciDeviceOptions {
  /** Name for diagnostics ("virtio-blk", "piix-ide", ...). */
  name: string;
  /** Vendor ID (PCI 3.0 §6.2.1). */
  vendorId: number;
  /** Device ID (PCI 3.0 §6.2.1). */
  deviceId: number;
  /** Revision ID (default 0). */
  revision?: number;
  /** Base class code, e.g. 0x01 mass storage, 0x06 bridge (PCI 3.0 Appendix D). */
  classCode: number;
  /** Sub-class code (PCI 3.0 Appendix D). */
  subclass: number;
  /** Programming interface (default 0). */
  progIf?: number;
  /** Subsystem Vendor ID (default 0, PCI 3.0 §6.2.4). */
  subsystemVendorId?: number;
  /** Subsystem ID (default 0). */
  subsystemId?: number;
  /** Interrupt Pin: 0 = none (default), 1-4 = INTA#-INTD# (PCI 3.0 §6.2.4). */
  interruptPin?: number;
  /** BARs by index 0-5; `undefined` entries are unimplemented BARs (read as 0). */
  bars?: readonly (PciBar | undefined)[];
}

/** What a PciDevice needs from the bus it sits on (implemented by PciBus). */
export interface PciDeviceHost {
  /** The port-I/O space that I/O BARs map into. */
  readonly pio: IoBus;
  /** The memory space that memory BARs map into. */
  readonly mmio: IoBus;
  /** The device's effective INTx# level or its routing changed: re-drive the routed IRQ. */
  intxChanged(device: PciDevice): void;
}

/** Snapshot of a PciDevice: plain numbers and arrays only. */
export interface PciDeviceState {
  /** The 256 configuration bytes (Status bit 3 carries the internal INTx# level). */
  config: number[];
  /** ISA IRQ the INTx# pin is routed to by the chipset, or -1 if not routed. */
  route: number;
}

/** Writable bits of a BAR of `size` bytes: the address bits at and above the size. */
function barWriteMask(size: number): number {
  return ~(size - 1) >>> 0;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/**
 * A PCI function (type 00h header). Use it directly with a description, or extend it and override
 * the protected hooks `onConfigRead` / `onConfigWrite` for registers with side effects.
 */
export class PciDevice {
  /** Name for diagnostics. */
  readonly name: string;
  /** The configuration space (device models may read and raw-set it). */
  readonly config = new ConfigSpace();
  /** BAR descriptions by index (always 6 entries). */
  readonly bars: readonly (PciBar | undefined)[];
  private host: PciDeviceHost | undefined;
  /** Base at which each BAR's IoDevice is currently mapped, or undefined. */
  private readonly mapped: (number | undefined)[] = new Array<number | undefined>(PCI_NUM_BARS).fill(
    undefined,
  );
  /** ISA IRQ the pin is routed to, or -1. */
  private route = -1;
  /** Offset of the last capability added, or 0 if none. */
  private lastCapability = 0;
  /** First free byte of the device-specific area for the next capability. */
  private capabilityEnd = PCI_HEADER_SIZE;

  constructor(options: PciDeviceOptions) {
    this.name = options.name;
    const c = this.config;
    c.set16(PCI_VENDOR_ID, options.vendorId);
    c.set16(PCI_DEVICE_ID, options.deviceId);
    c.set8(PCI_REVISION_ID, options.revision ?? 0);
    c.set8(PCI_CLASS_PROG, options.progIf ?? 0);
    c.set8(PCI_CLASS_DEVICE, options.subclass);
    c.set8(PCI_CLASS_BASE, options.classCode);
    c.set16(PCI_SUBSYSTEM_VENDOR_ID, options.subsystemVendorId ?? 0);
    c.set16(PCI_SUBSYSTEM_ID, options.subsystemId ?? 0);
    const pin = options.interruptPin ?? 0;
    if (!Number.isInteger(pin) || pin < 0 || pin > 4) {
      throw new RangeError(`${this.name}: interrupt pin ${pin} is not 0-4`);
    }
    c.set8(PCI_INTERRUPT_PIN, pin);
    // DEVSEL timing "medium", as most PCI targets report (PCI 3.0 §6.2.3, bits 9-10, read-only).
    c.set16(PCI_STATUS, PCI_STATUS_DEVSEL_MEDIUM);

    c.setWriteMask(PCI_COMMAND, 2, PCI_COMMAND_WRITABLE);
    c.setW1cMask(PCI_STATUS, 2, PCI_STATUS_W1C);
    c.setWriteMask(PCI_CACHE_LINE_SIZE, 1, 0xff);
    c.setWriteMask(PCI_LATENCY_TIMER, 1, 0xff);
    c.setWriteMask(PCI_INTERRUPT_LINE, 1, 0xff);

    const bars = options.bars ?? [];
    if (bars.length > PCI_NUM_BARS) throw new RangeError(`${this.name}: more than 6 BARs`);
    const list: (PciBar | undefined)[] = [];
    for (let i = 0; i < PCI_NUM_BARS; i++) {
      const bar = bars[i];
      list.push(bar);
      if (bar === undefined) continue;
      this.checkBar(i, bar, list);
      const typeBits =
        bar.kind === "io" ? PCI_BASE_ADDRESS_SPACE_IO : bar.prefetchable ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0;
      c.set32(barOffset(i), typeBits);
      c.setWriteMask(barOffset(i), 4, barWriteMask(bar.size));
    }
    this.bars = list;
  }

  private checkBar(index: number, bar: PciBar, earlier: readonly (PciBar | undefined)[]): void {
    const where = `${this.name}: BAR${index}`;
    if (bar.kind === "io") {
      if (!isPowerOfTwo(bar.size) || bar.size < 4 || bar.size > 256) {
        throw new RangeError(`${where}: I/O BAR size ${bar.size} is not a power of two in 4-256`);
      }
      if (bar.prefetchable) throw new RangeError(`${where}: an I/O BAR cannot be prefetchable`);
    } else if (bar.kind === "mem32") {
      if (!isPowerOfTwo(bar.size) || bar.size < 16 || bar.size > 2 ** 31) {
        throw new RangeError(`${where}: memory BAR size ${bar.size} is not a power of two in 16-2^31`);
      }
    } else {
      throw new RangeError(`${where}: unknown BAR kind`);
    }
    for (let j = 0; j < index; j++) {
      if (earlier[j]?.device === bar.device) throw new Error(`${where}: same IoDevice as BAR${j}`);
    }
  }

  // ---- capabilities (PCI 3.0 §6.7) ----

  /**
   * Append a capability to the list (PCI 3.0 §6.7): `id` and the next pointer occupy its first two
   * bytes, `body` follows from offset + 2 (for a vendor-specific capability, id 0x09, body[0] is its
   * length byte cap_len). `writeMask`, if given, is per byte of `body` (missing bytes are read-only).
   * Sets Status bit 4 and the Capabilities Pointer. Returns the capability's offset (dword-aligned,
   * at 0x40 or above). Throws if the device-specific area (0x40-0xFF) is full.
   */
  addCapability(id: number, body: ArrayLike<number>, writeMask?: ArrayLike<number>): number {
    const offset = (this.capabilityEnd + 3) & ~3;
    const end = offset + 2 + body.length;
    if (end > PCI_CONFIG_SPACE_SIZE) {
      throw new RangeError(`${this.name}: capability 0x${id.toString(16)} does not fit in config space`);
    }
    const c = this.config;
    c.set8(offset, id);
    c.set8(offset + 1, 0); // end of list
    for (let i = 0; i < body.length; i++) {
      c.set8(offset + 2 + i, body[i]!);
      c.writeMask[offset + 2 + i] = (writeMask?.[i] ?? 0) & 0xff;
    }
    if (this.lastCapability === 0) c.set8(PCI_CAPABILITY_LIST, offset);
    else c.set8(this.lastCapability + 1, offset);
    c.set16(PCI_STATUS, c.status | PCI_STATUS_CAP_LIST);
    this.lastCapability = offset;
    this.capabilityEnd = end;
    return offset;
  }

  // ---- configuration accesses (called by PciBus) ----

  /** A configuration read of `width` bytes at `offset` (inside the 256 bytes), as the guest sees it. */
  configRead(offset: number, width: AccessWidth): number {
    return this.onConfigRead(offset, width, this.config.read(offset, width)) >>> 0;
  }

  /**
   * A configuration write: applies the write masks, then re-evaluates BAR mappings and INTx# if the
   * Command register or a BAR changed, then calls `onConfigWrite`.
   */
  configWrite(offset: number, width: AccessWidth, value: number): void {
    const c = this.config;
    const oldCommand = c.command;
    c.write(offset, width, value);
    const end = offset + width;
    if (offset < PCI_COMMAND + 2 && end > PCI_COMMAND) {
      if ((oldCommand ^ c.command) & PCI_COMMAND_INTX_DISABLE) this.host?.intxChanged(this);
    }
    if (offset < barOffset(PCI_NUM_BARS) && end > PCI_COMMAND) this.updateMappings();
    this.onConfigWrite(offset, width, value);
  }

  /**
   * Hook: a configuration read produced `value` (after the masks). Return the value the guest sees.
   * Default: unchanged.
   */
  protected onConfigRead(_offset: number, _width: AccessWidth, value: number): number {
    return value;
  }

  /** Hook: called after a configuration write was applied (with the value as the guest wrote it). */
  protected onConfigWrite(_offset: number, _width: AccessWidth, _value: number): void {}

  // ---- BAR decoding ----

  /**
   * The address BAR `index` decodes at now (Command decode bit set, usable address), or undefined.
   * Mirrors QEMU's pci_bar_address(): 0 and ranges that wrap or touch the last address are unassigned.
   */
  barAddress(index: number): number | undefined {
    const bar = this.bars[index];
    if (bar === undefined) return undefined;
    const c = this.config;
    const raw = c.bar(index);
    if (bar.kind === "io") {
      if (!(c.command & PCI_COMMAND_IO)) return undefined;
      const base = (raw & ~(bar.size - 1)) >>> 0;
      const limit = this.host?.pio.limit ?? 0x10000;
      return base === 0 || base + bar.size > limit ? undefined : base;
    }
    if (!(c.command & PCI_COMMAND_MEMORY)) return undefined;
    const base = (raw & ~(bar.size - 1)) >>> 0;
    const limit = this.host?.mmio.limit ?? 2 ** 32;
    return base === 0 || base + bar.size >= limit ? undefined : base;
  }

  /** Where BAR `index`'s IoDevice is mapped on the bus now, or undefined (diagnostics, tests). */
  barMapping(index: number): number | undefined {
    return this.mapped[index];
  }

  /**
   * Bring the bus mappings of every BAR in line with the Command register and BAR values. Idempotent;
   * PciBus calls it for all devices after each configuration write, so a BAR that was blocked by an
   * overlap gets mapped once the other claim moves away.
   */
  updateMappings(): void {
    const host = this.host;
    if (host === undefined) return;
    for (let i = 0; i < PCI_NUM_BARS; i++) {
      const bar = this.bars[i];
      if (bar === undefined) continue;
      const want = this.barAddress(i);
      if (want === this.mapped[i]) continue;
      const space = bar.kind === "io" ? host.pio : host.mmio;
      if (this.mapped[i] !== undefined) {
        space.unmap(bar.device);
        this.mapped[i] = undefined;
      }
      if (want !== undefined) {
        try {
          space.map(want, bar.size, bar.device);
          this.mapped[i] = want;
        } catch {
          // Overlaps another claim: not decoded until the guest moves one of them (see file comment).
        }
      }
    }
  }

  /** Remove every BAR mapping from the buses (before a reset or a state load). */
  unmapAll(): void {
    const host = this.host;
    for (let i = 0; i < PCI_NUM_BARS; i++) {
      const bar = this.bars[i];
      if (bar === undefined || this.mapped[i] === undefined || host === undefined) continue;
      (bar.kind === "io" ? host.pio : host.mmio).unmap(bar.device);
      this.mapped[i] = undefined;
    }
  }

  // ---- INTx# ----

  /**
   * Drive the function's internal interrupt request (INTx#, PCI 3.0 §2.2.6): sets Status bit 3; the
   * pin reaches the routed IRQ only while Command bit 10 (Interrupt Disable) is 0. A function without
   * an Interrupt Pin only records the status bit.
   */
  setIrq(level: boolean): void {
    const c = this.config;
    const was = (c.status & PCI_STATUS_INTERRUPT) !== 0;
    if (was === level) return;
    c.set16(PCI_STATUS, level ? c.status | PCI_STATUS_INTERRUPT : c.status & ~PCI_STATUS_INTERRUPT);
    this.host?.intxChanged(this);
  }

  /** The level the INTx# pin drives towards the interrupt router now. */
  get intxAsserted(): boolean {
    const c = this.config;
    return (
      c.interruptPin !== 0 &&
      (c.status & PCI_STATUS_INTERRUPT) !== 0 &&
      (c.command & PCI_COMMAND_INTX_DISABLE) === 0
    );
  }

  /** ISA IRQ (1-15) the chipset routes INTx# to, or undefined when not routed. */
  get interruptRoute(): number | undefined {
    return this.route < 0 ? undefined : this.route;
  }

  // ---- attachment, reset, snapshots ----

  /**
   * Called by PciBus when the device is plugged in (or with undefined when removed). Not for device
   * models or the machine.
   */
  attach(host: PciDeviceHost | undefined): void {
    if (host === undefined) this.unmapAll();
    this.host = host;
    this.updateMappings();
  }

  /**
   * Called by PciBus to set the chipset's routing of INTx# (the PIRQ router of a PIIX). Not for the
   * guest: the Interrupt Line register does not route.
   */
  setInterruptRoute(irq: number | undefined): void {
    this.route = irq ?? -1;
    this.host?.intxChanged(this);
  }

  /**
   * RST#: writable and RW1C configuration bits return to 0 (PCI 3.0 §6.2.2: Command is 0 after reset;
   * BARs, Interrupt Line and capability control fields are 0 here), INTx# deasserts, BARs leave the
   * bus and the chipset route is cleared. Subclasses with other reset values extend this.
   */
  reset(): void {
    this.unmapAll();
    const c = this.config;
    for (let i = 0; i < PCI_CONFIG_SPACE_SIZE; i++) {
      c.bytes[i] = c.bytes[i]! & ~(c.writeMask[i]! | c.w1cMask[i]!);
    }
    c.set16(PCI_STATUS, c.status & ~PCI_STATUS_INTERRUPT);
    this.route = -1;
    this.host?.intxChanged(this);
  }

  /** A copy of the configuration bytes and routing. */
  saveState(): PciDeviceState {
    return { config: Array.from(this.config.bytes), route: this.route };
  }

  /**
   * Restore a state produced by saveState: bytes are copied (masks and read-only identity come from
   * the constructor), BARs re-mapped and INTx# re-driven.
   */
  loadState(saved: PciDeviceState): void {
    if (saved.config.length !== PCI_CONFIG_SPACE_SIZE) {
      throw new RangeError(`${this.name}: config state must have 256 bytes`);
    }
    this.unmapAll();
    this.config.bytes.set(saved.config.map((b) => b & 0xff));
    // The BAR type bits are hardwired: keep them from the description, whatever the snapshot says.
    for (let i = 0; i < PCI_NUM_BARS; i++) {
      const bar = this.bars[i];
      const o = PCI_BASE_ADDRESS_0 + 4 * i;
      const typeBits =
        bar === undefined
          ? 0
          : bar.kind === "io"
            ? PCI_BASE_ADDRESS_SPACE_IO
            : bar.prefetchable
              ? PCI_BASE_ADDRESS_MEM_PREFETCH
              : 0;
      this.config.set32(
        o,
        bar === undefined ? 0 : (this.config.get32(o) & barWriteMask(bar.size)) | typeBits,
      );
    }
    this.route = Number.isInteger(saved.route) && saved.route >= 1 && saved.route <= 15 ? saved.route : -1;
    this.updateMappings();
    this.host?.intxChanged(this);
  }
}
