import type { AccessWidth } from "../bus/device.js";

/*
 * The 256-byte configuration space of one PCI function, as seen through configuration transactions.
 * Register names and offsets follow the PCI Local Bus Specification, Revision 3.0 (below "PCI 3.0"),
 * §6.1 "Configuration Space Organization", Figure 6-1 "Type 00h Configuration Space Header".
 *
 * Every byte has two masks besides its value:
 *  - a write mask: the bits a configuration write may change (all other bits are read-only or
 *    hardwired, PCI 3.0 §6.1: "read-only registers ... writes have no effect");
 *  - a write-1-to-clear mask: bits a configuration write clears by writing 1 to them (the error bits
 *    of the Status register, PCI 3.0 §6.2.3: "Reads to this register behave normally. Writes are
 *    slightly different in that bits can be reset, but not set").
 * Device models set their read-only values with the raw setters (set8/set16/set32), which ignore the
 * masks; the guest goes through read/write, which honour them.
 */

/** Size of a conventional PCI configuration space (PCI 3.0 §6.1). */
export const PCI_CONFIG_SPACE_SIZE = 256;
/** Start of the device-specific area, after the 64-byte predefined header (PCI 3.0 §6.1). */
export const PCI_HEADER_SIZE = 0x40;

// ---- Type 00h header offsets (PCI 3.0 §6.1, Figure 6-1) ----
/** Vendor ID, 16 bits, read-only (PCI 3.0 §6.2.1). 0xFFFF is never a valid vendor. */
export const PCI_VENDOR_ID = 0x00;
/** Device ID, 16 bits, read-only (PCI 3.0 §6.2.1). */
export const PCI_DEVICE_ID = 0x02;
/** Command register, 16 bits (PCI 3.0 §6.2.2). */
export const PCI_COMMAND = 0x04;
/** Status register, 16 bits (PCI 3.0 §6.2.3). */
export const PCI_STATUS = 0x06;
/** Revision ID, 8 bits, read-only (PCI 3.0 §6.2.1). */
export const PCI_REVISION_ID = 0x08;
/** Class code: programming interface byte (PCI 3.0 §6.2.1, Appendix D). */
export const PCI_CLASS_PROG = 0x09;
/** Class code: sub-class byte (PCI 3.0 §6.2.1, Appendix D). */
export const PCI_CLASS_DEVICE = 0x0a;
/** Class code: base class byte (PCI 3.0 §6.2.1, Appendix D). */
export const PCI_CLASS_BASE = 0x0b;
/** Cache Line Size, 8 bits, read/write (PCI 3.0 §6.2.4). */
export const PCI_CACHE_LINE_SIZE = 0x0c;
/** Latency Timer, 8 bits, read/write (PCI 3.0 §6.2.4). */
export const PCI_LATENCY_TIMER = 0x0d;
/** Header Type; bit 7 = multi-function device (PCI 3.0 §6.2.1). */
export const PCI_HEADER_TYPE = 0x0e;
/** Built-in self test; 0 = not BIST capable (PCI 3.0 §6.2.4). */
export const PCI_BIST = 0x0f;
/** Base Address Register 0; BARs 0-5 are consecutive dwords (PCI 3.0 §6.2.5.1). */
export const PCI_BASE_ADDRESS_0 = 0x10;
/** Number of Base Address Registers in a type 00h header. */
export const PCI_NUM_BARS = 6;
/** CardBus CIS Pointer (PCI 3.0 §6.2.5.3); 0 here. */
export const PCI_CARDBUS_CIS = 0x28;
/** Subsystem Vendor ID, 16 bits, read-only (PCI 3.0 §6.2.4). */
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
/** Subsystem ID, 16 bits, read-only (PCI 3.0 §6.2.4). */
export const PCI_SUBSYSTEM_ID = 0x2e;
/** Expansion ROM Base Address (PCI 3.0 §6.2.5.2). Hardwired to 0 here: no option ROMs. */
export const PCI_ROM_ADDRESS = 0x30;
/** Capabilities Pointer, 8 bits, read-only (PCI 3.0 §6.7); valid only if PCI_STATUS_CAP_LIST. */
export const PCI_CAPABILITY_LIST = 0x34;
/** Interrupt Line, 8 bits, read/write scratch for the routing the firmware chose (PCI 3.0 §6.2.4). */
export const PCI_INTERRUPT_LINE = 0x3c;
/** Interrupt Pin: 0 = none, 1-4 = INTA#-INTD#, read-only (PCI 3.0 §6.2.4). */
export const PCI_INTERRUPT_PIN = 0x3d;
/** Min_Gnt, read-only (PCI 3.0 §6.2.4). */
export const PCI_MIN_GNT = 0x3e;
/** Max_Lat, read-only (PCI 3.0 §6.2.4). */
export const PCI_MAX_LAT = 0x3f;

// ---- Command register bits (PCI 3.0 §6.2.2, Figure 6-2) ----
/** Bit 0, I/O Space: respond to I/O space accesses (I/O BARs decode). */
export const PCI_COMMAND_IO = 0x0001;
/** Bit 1, Memory Space: respond to memory space accesses (memory BARs decode). */
export const PCI_COMMAND_MEMORY = 0x0002;
/** Bit 2, Bus Master: the device may generate PCI accesses (DMA). */
export const PCI_COMMAND_MASTER = 0x0004;
/** Bit 6, Parity Error Response. */
export const PCI_COMMAND_PARITY = 0x0040;
/** Bit 8, SERR# Enable. */
export const PCI_COMMAND_SERR = 0x0100;
/** Bit 10, Interrupt Disable: when 1 the function may not assert INTx# (PCI 3.0 §6.2.2). */
export const PCI_COMMAND_INTX_DISABLE = 0x0400;
/** The command bits a PciDevice implements as read/write (the rest read 0, as PCI 3.0 §6.2.2 allows). */
export const PCI_COMMAND_WRITABLE =
  PCI_COMMAND_IO |
  PCI_COMMAND_MEMORY |
  PCI_COMMAND_MASTER |
  PCI_COMMAND_PARITY |
  PCI_COMMAND_SERR |
  PCI_COMMAND_INTX_DISABLE;

// ---- Status register bits (PCI 3.0 §6.2.3, Figure 6-3) ----
/** Bit 3, Interrupt Status: the function's INTx# is asserted internally (read-only, ignores bit 10). */
export const PCI_STATUS_INTERRUPT = 0x0008;
/** Bit 4, Capabilities List: the Capabilities Pointer at 0x34 is valid (read-only). */
export const PCI_STATUS_CAP_LIST = 0x0010;
/** Bit 8, Master Data Parity Error (RW1C). */
export const PCI_STATUS_PARITY = 0x0100;
/** Bits 9-10, DEVSEL timing (read-only): 01 = medium. */
export const PCI_STATUS_DEVSEL_MEDIUM = 0x0200;
/** Bit 11, Signaled Target Abort (RW1C). */
export const PCI_STATUS_SIG_TARGET_ABORT = 0x0800;
/** Bit 12, Received Target Abort (RW1C). */
export const PCI_STATUS_REC_TARGET_ABORT = 0x1000;
/** Bit 13, Received Master Abort (RW1C). */
export const PCI_STATUS_REC_MASTER_ABORT = 0x2000;
/** Bit 14, Signaled System Error (RW1C). */
export const PCI_STATUS_SIG_SYSTEM_ERROR = 0x4000;
/** Bit 15, Detected Parity Error (RW1C). */
export const PCI_STATUS_DETECTED_PARITY = 0x8000;
/** All RW1C bits of the Status register (PCI 3.0 §6.2.3). */
export const PCI_STATUS_W1C =
  PCI_STATUS_PARITY |
  PCI_STATUS_SIG_TARGET_ABORT |
  PCI_STATUS_REC_TARGET_ABORT |
  PCI_STATUS_REC_MASTER_ABORT |
  PCI_STATUS_SIG_SYSTEM_ERROR |
  PCI_STATUS_DETECTED_PARITY;

// ---- Base Address Register encoding (PCI 3.0 §6.2.5.1, Figures 6-5 and 6-6) ----
/** Bit 0 of a BAR: 1 = I/O space, 0 = memory space (read-only). */
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
/** Bits 2:1 of a memory BAR: 00 = 32-bit, 10 = 64-bit (read-only). */
export const PCI_BASE_ADDRESS_MEM_TYPE_MASK = 0x06;
/** Memory BAR type 10b: 64-bit (not modelled by PciDevice; firmware rejects it). */
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
/** Bit 3 of a memory BAR: prefetchable (read-only). */
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
/** Address bits of an I/O BAR. */
export const PCI_BASE_ADDRESS_IO_MASK = 0xfffffffc;
/** Address bits of a memory BAR. */
export const PCI_BASE_ADDRESS_MEM_MASK = 0xfffffff0;

// ---- Capabilities (PCI 3.0 §6.7, Appendix H) ----
/** Capability ID: Power Management (PCI 3.0 Appendix H). */
export const PCI_CAP_ID_PM = 0x01;
/** Capability ID: MSI (PCI 3.0 Appendix H, §6.8.1). */
export const PCI_CAP_ID_MSI = 0x05;
/** Capability ID: Vendor Specific (PCI 3.0 Appendix H); virtio-pci uses it for its structures. */
export const PCI_CAP_ID_VNDR = 0x09;
/** Capability ID: MSI-X (PCI 3.0 Appendix H, §6.8.2). */
export const PCI_CAP_ID_MSIX = 0x11;

/** Config-space offset of BAR `index` (0-5). */
export function barOffset(index: number): number {
  return PCI_BASE_ADDRESS_0 + 4 * index;
}

/**
 * One function's configuration space: 256 bytes of value, a write mask and a write-1-to-clear mask.
 * Multi-byte registers are little-endian (PCI 3.0 §6.1: "all multi-byte numeric fields follow
 * little-endian ordering").
 */
export class ConfigSpace {
  /** Current register values. */
  readonly bytes = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** Per byte: bits a configuration write stores. */
  readonly writeMask = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** Per byte: bits a configuration write of 1 clears (RW1C). */
  readonly w1cMask = new Uint8Array(PCI_CONFIG_SPACE_SIZE);

  /** Guest-visible read of `width` bytes at `offset` (must lie inside the 256 bytes). */
  read(offset: number, width: AccessWidth): number {
    checkRange(offset, width);
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = (v << 8) | this.bytes[offset + i]!;
    return v >>> 0;
  }

  /**
   * Guest write of the low `width` bytes of `value` at `offset`: writable bits take the new value,
   * RW1C bits written as 1 clear, every other bit keeps its value.
   */
  write(offset: number, width: AccessWidth, value: number): void {
    checkRange(offset, width);
    for (let i = 0; i < width; i++) {
      const o = offset + i;
      const b = (value >>> (8 * i)) & 0xff;
      const wm = this.writeMask[o]!;
      this.bytes[o] = ((this.bytes[o]! & ~wm) | (b & wm)) & ~(b & this.w1cMask[o]!);
    }
  }

  /** Raw byte read (no side effects). */
  get8(offset: number): number {
    return this.bytes[offset]!;
  }

  /** Raw little-endian 16-bit read. */
  get16(offset: number): number {
    return this.bytes[offset]! | (this.bytes[offset + 1]! << 8);
  }

  /** Raw little-endian 32-bit read. */
  get32(offset: number): number {
    return (this.get16(offset) | (this.get16(offset + 2) << 16)) >>> 0;
  }

  /** Raw byte store, ignoring the masks (device-side: read-only values, status bits). */
  set8(offset: number, value: number): void {
    checkRange(offset, 1);
    this.bytes[offset] = value & 0xff;
  }

  /** Raw little-endian 16-bit store, ignoring the masks. */
  set16(offset: number, value: number): void {
    checkRange(offset, 2);
    this.bytes[offset] = value & 0xff;
    this.bytes[offset + 1] = (value >>> 8) & 0xff;
  }

  /** Raw little-endian 32-bit store, ignoring the masks. */
  set32(offset: number, value: number): void {
    checkRange(offset, 4);
    for (let i = 0; i < 4; i++) this.bytes[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  /** Set the write mask of the `width` bytes at `offset` (little-endian `mask`). */
  setWriteMask(offset: number, width: AccessWidth, mask: number): void {
    checkRange(offset, width);
    for (let i = 0; i < width; i++) this.writeMask[offset + i] = (mask >>> (8 * i)) & 0xff;
  }

  /** Set the write-1-to-clear mask of the `width` bytes at `offset` (little-endian `mask`). */
  setW1cMask(offset: number, width: AccessWidth, mask: number): void {
    checkRange(offset, width);
    for (let i = 0; i < width; i++) this.w1cMask[offset + i] = (mask >>> (8 * i)) & 0xff;
  }

  // ---- type 00h header fields (read-only views of the raw bytes) ----

  /** Vendor ID (0x00). */
  get vendorId(): number {
    return this.get16(PCI_VENDOR_ID);
  }
  /** Device ID (0x02). */
  get deviceId(): number {
    return this.get16(PCI_DEVICE_ID);
  }
  /** Command register (0x04). */
  get command(): number {
    return this.get16(PCI_COMMAND);
  }
  /** Status register (0x06). */
  get status(): number {
    return this.get16(PCI_STATUS);
  }
  /** 24-bit class code: base class << 16 | sub-class << 8 | programming interface (0x09-0x0B). */
  get classCode(): number {
    return this.get32(PCI_REVISION_ID) >>> 8;
  }
  /** Header type (0x0E), including the multi-function bit 7. */
  get headerType(): number {
    return this.get8(PCI_HEADER_TYPE);
  }
  /** Raw value of BAR `index` (0-5). */
  bar(index: number): number {
    return this.get32(barOffset(index));
  }
  /** Capabilities Pointer (0x34). */
  get capabilityPointer(): number {
    return this.get8(PCI_CAPABILITY_LIST);
  }
  /** Interrupt Line (0x3C). */
  get interruptLine(): number {
    return this.get8(PCI_INTERRUPT_LINE);
  }
  /** Interrupt Pin (0x3D): 0 = none, 1-4 = INTA#-INTD#. */
  get interruptPin(): number {
    return this.get8(PCI_INTERRUPT_PIN);
  }
}

function checkRange(offset: number, width: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + width > PCI_CONFIG_SPACE_SIZE) {
    throw new RangeError(`PCI config access at ${offset}+${width} is outside the 256-byte space`);
  }
}
