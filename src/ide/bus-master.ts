import type { AccessWidth, IoDevice } from "../bus/device.js";
import type { DmaEngine, IdeChannel } from "./ide-channel.js";

/*
 * PCI bus master IDE (the PIIX/PIIX3 "BMIBA" I/O block at BAR4, 16 bytes; the register model of
 * SFF-8038i "Programming Interface for Bus Master IDE Controller" rev 1.0, which the PIIX3
 * datasheet's BMICX/BMISX/BMIDTPX registers follow). Per channel, 8 bytes (primary at +0, secondary
 * at +8):
 *
 *   +0 BMICX  command: bit 0 Start/Stop Bus Master, bit 3 Read/Write Control (1 = the bus master
 *             writes memory, i.e. an ATA read)
 *   +2 BMISX  status:  bit 0 Active (RO), bit 1 Error (R/WC), bit 2 Interrupt (R/WC, set when the
 *             channel's IDE interrupt rises), bits 5/6 drive 0/1 DMA capable (RW, set by firmware),
 *             bit 7 Simplex only (RO 0: both channels may run at once)
 *   +4 BMIDTPX descriptor table pointer: bits 31:2 (a dword-aligned guest-physical address)
 *
 * A Physical Region Descriptor is 8 bytes: dword 0 = memory region base (bit 0 reserved 0), dword 1
 * bits 15:1 = byte count (0 = 64 KiB), bit 31 = End Of Table. A region must not cross a 64 KiB
 * boundary and the table holds at most 8192 entries (64 KiB).
 *
 * The transfer runs when both are true: the selected device has a DMA command pending and Start is
 * 1 (Linux sets Start after writing the command; the other order works too). It completes inside
 * that trap. Every descriptor and region is checked against guest RAM before it is used; a bad
 * table (outside RAM, misaligned, crossing 64 KiB, no EOT, shorter than the command's transfer, or
 * the wrong direction, or bus mastering disabled in the PCI Command register) ends the command: the
 * device reports ERR + ABRT, the bus master Error bit is set, Active cleared, and a diagnostic
 * names the problem. Real hardware would hang or move garbage; a visible error serves the study of
 * driver behaviour better and keeps the host safe. A table longer than the transfer is fine (Active
 * then stays set until the driver clears Start, as SFF-8038i describes).
 */

export const BM_CMD_START = 0x01;
export const BM_CMD_WRITE_MEMORY = 0x08;
export const BM_STATUS_ACTIVE = 0x01;
export const BM_STATUS_ERROR = 0x02;
export const BM_STATUS_INTERRUPT = 0x04;
export const BM_STATUS_DRIVE0_DMA = 0x20;
export const BM_STATUS_DRIVE1_DMA = 0x40;
/** Size of the BAR4 I/O block. */
export const BUS_MASTER_BAR_SIZE = 16;
/** PRD entries in a 64 KiB table. */
const MAX_PRD_ENTRIES = 8192;
/** A PRD region may not cross a 64 KiB boundary. */
const REGION_BOUNDARY = 0x10000;

export interface BusMasterOptions {
  /** Guest RAM (guest-physical p is ram[p]). */
  ram: Uint8Array;
  /** PCI Command bit 2 (Bus Master Enable). */
  masterEnabled: () => boolean;
  /** A guest mistake: recorded by the controller. */
  diagnose: (message: string) => void;
  /** The bus master wrote guest RAM [addr, addr + len) (the machine drops decoded code there). */
  onGuestWrite?: (addr: number, len: number) => void;
}

/** Plain snapshot of one channel's bus master registers. */
export interface BusMasterState {
  command: number;
  status: number;
  prdPointer: number;
}

/** The bus master registers and DMA engine of one channel. */
export class BusMasterChannel implements DmaEngine {
  command = 0;
  status = 0;
  prdPointer = 0;
  /** Requests moved and bytes moved (statistics). */
  transfers = 0;
  bytes = 0;

  constructor(
    private readonly channel: IdeChannel,
    private readonly o: BusMasterOptions,
  ) {
    channel.dma = this;
    // Drive DMA capable bits, as the BIOS sets them for the drives it found.
    if (channel.drives[0] !== undefined) this.status |= BM_STATUS_DRIVE0_DMA;
    if (channel.drives[1] !== undefined) this.status |= BM_STATUS_DRIVE1_DMA;
  }

  saveState(): BusMasterState {
    return { command: this.command, status: this.status, prdPointer: this.prdPointer };
  }

  /** Restore registers only: the Interrupt bit is not re-raised and no transfer is started. */
  loadState(s: BusMasterState): void {
    this.command = s.command & (BM_CMD_START | BM_CMD_WRITE_MEMORY);
    this.status = s.status & 0x67;
    this.prdPointer = (s.prdPointer & ~3) >>> 0;
  }

  readByte(offset: number): number {
    if (offset === 0) return this.command;
    if (offset === 2) return this.status;
    if (offset >= 4) return (this.prdPointer >>> (8 * (offset - 4))) & 0xff;
    return 0;
  }

  writeByte(offset: number, v: number): void {
    if (offset === 0) return this.writeCommand(v);
    if (offset === 2) {
      const rw = BM_STATUS_DRIVE0_DMA | BM_STATUS_DRIVE1_DMA;
      this.status = (this.status & ~rw & ~(v & (BM_STATUS_ERROR | BM_STATUS_INTERRUPT))) | (v & rw);
      return;
    }
    if (offset >= 4) {
      const shift = 8 * (offset - 4);
      const p = (this.prdPointer & ~(0xff << shift)) | (v << shift);
      this.prdPointer = (p & ~3) >>> 0;
    }
  }

  private writeCommand(v: number): void {
    const wasStarted = (this.command & BM_CMD_START) !== 0;
    this.command = v & (BM_CMD_START | BM_CMD_WRITE_MEMORY);
    const start = (v & BM_CMD_START) !== 0;
    if (start && !wasStarted) {
      this.status |= BM_STATUS_ACTIVE;
      this.dmaReady();
    } else if (!start && wasStarted) {
      // Stop: any transfer in progress is abandoned (it has already completed here).
      this.status &= ~BM_STATUS_ACTIVE;
    }
  }

  interrupt(): void {
    this.status |= BM_STATUS_INTERRUPT;
  }

  dmaReady(): void {
    if (!(this.command & BM_CMD_START) || !(this.status & BM_STATUS_ACTIVE)) return;
    const drive = this.channel.pendingDma();
    const req = drive?.dmaRequest;
    if (drive === undefined || req === undefined) return;
    const fail = (message: string): void => {
      this.o.diagnose(message);
      this.status = (this.status | BM_STATUS_ERROR) & ~BM_STATUS_ACTIVE;
      drive.finishDma("host");
    };
    if (!this.o.masterEnabled())
      return fail("bus master DMA started with PCI Command bit 2 (Bus Master) clear");
    const writesMemory = (this.command & BM_CMD_WRITE_MEMORY) !== 0;
    if (writesMemory === req.toDisk) {
      return fail(
        `BMICX Read/Write Control says ${writesMemory ? "device to memory" : "memory to device"} ` +
          `but the command is a ${req.toDisk ? "write" : "read"}`,
      );
    }
    const ram = this.o.ram;
    let done = 0;
    for (let i = 0; ; i++) {
      const at = this.prdPointer + 8 * i;
      if (i === MAX_PRD_ENTRIES)
        return fail(`PRD table at ${hex(this.prdPointer)} has no EOT in 8192 entries`);
      if (at + 8 > ram.length) return fail(`PRD entry ${i} at ${hex(at)} is outside guest RAM`);
      const base = u32(ram, at);
      const flags = u32(ram, at + 4);
      const count = flags & 0xfffe || REGION_BOUNDARY;
      const eot = (flags & 0x80000000) !== 0;
      const where = `PRD entry ${i} (${hex(base)}+${count})`;
      if (base & 1 || flags & 1) return fail(`${where}: address and count must be even`);
      if ((base % REGION_BOUNDARY) + count > REGION_BOUNDARY)
        return fail(`${where} crosses a 64 KiB boundary`);
      const n = Math.min(count, req.length - done);
      if (base + n > ram.length) return fail(`${where} is outside guest RAM (${ram.length} bytes)`);
      const view = ram.subarray(base, base + n);
      if (!drive.dmaTransfer(done, view)) {
        this.status &= ~BM_STATUS_ACTIVE;
        return drive.finishDma("media");
      }
      if (!req.toDisk) this.o.onGuestWrite?.(base, n);
      done += n;
      this.bytes += n;
      if (done === req.length) {
        // The table ended exactly with the transfer: the bus master is done (Active clears).
        if (eot && n === count) this.status &= ~BM_STATUS_ACTIVE;
        this.transfers++;
        return drive.finishDma("ok");
      }
      if (eot) return fail(`PRD table describes ${done} bytes but the command moves ${req.length}`);
    }
  }
}

/** The 16-byte BAR4 block: primary channel at +0, secondary at +8. */
export class BusMasterRegisters implements IoDevice {
  /** Primary and secondary channel (set once by the controller with `connect`). */
  private channels: readonly BusMasterChannel[] = [];

  constructor(readonly name: string) {}

  connect(primary: BusMasterChannel, secondary: BusMasterChannel): void {
    this.channels = [primary, secondary];
  }

  /** Channel 0 (primary) or 1 (secondary). */
  channel(index: number): BusMasterChannel {
    return this.channels[index]!;
  }

  read(offset: number, width: AccessWidth): number {
    let v = 0;
    for (let i = 0; i < width; i++) {
      const o = offset + i;
      if (o >= BUS_MASTER_BAR_SIZE) break;
      v |= (this.channels[o >> 3]?.readByte(o & 7) ?? 0) << (8 * i);
    }
    return v >>> 0;
  }

  write(offset: number, width: AccessWidth, value: number): void {
    for (let i = 0; i < width; i++) {
      const o = offset + i;
      if (o >= BUS_MASTER_BAR_SIZE) break;
      this.channels[o >> 3]?.writeByte(o & 7, (value >>> (8 * i)) & 0xff);
    }
  }
}

function u32(ram: Uint8Array, at: number): number {
  return (ram[at]! | (ram[at + 1]! << 8) | (ram[at + 2]! << 16) | (ram[at + 3]! << 24)) >>> 0;
}

function hex(n: number): string {
  return "0x" + (n >>> 0).toString(16);
}
