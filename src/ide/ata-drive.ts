import type { AccessWidth } from "../bus/device.js";
import type { DiskBackend } from "../disk/backend.js";
import * as A from "./ata-constants.js";
import {
  DEFAULT_HEADS,
  DEFAULT_SECTORS_PER_TRACK,
  identifyData,
  MAX_MULTIPLE,
  type TransferMode,
} from "./identify.js";

/*
 * One ATA hard disk on an IDE channel: its copy of the task file, the command state machine and the
 * PIO data buffer (ATA/ATAPI-6 clause 9, "Protocol": the PIO data-in, PIO data-out, DMA and
 * non-data protocols).
 *
 * Commands complete synchronously, inside the trap that wrote the Command register (or, for DMA,
 * the trap that set the bus master's Start bit): the backend is synchronous, so BSY is never seen
 * by the guest. Each completion, and each PIO data block that becomes ready, asserts INTRQ; reading
 * the Status register, writing the Command register or a reset clears it (clause 5 on INTRQ,
 * "Interrupt pending"). Whether INTRQ reaches the IRQ line (nIEN, device selection) is the
 * channel's business.
 *
 * Addresses and counts come from the guest: a transfer that does not lie inside the disk ends with
 * ERR + IDNF and a diagnostic, a backend failure with ERR + UNC; the host never throws.
 */

/** Where a DMA command wants its data: a byte range of the disk and the direction. */
export interface DmaRequest {
  /** true: WRITE DMA (memory to disk); false: READ DMA (disk to memory). */
  toDisk: boolean;
  /** Byte offset on the disk. */
  offset: number;
  /** Bytes to move (sector count * 512). */
  length: number;
}

export interface AtaDriveOptions {
  backend: DiskBackend;
  /** Refuse writes with ABRT (default: the backend's readOnly). */
  readOnly?: boolean;
  /** Serial number in IDENTIFY (20 characters at most). */
  serial?: string;
  /** A guest mistake (bad address, protocol violation): recorded by the controller. */
  diagnose: (message: string) => void;
}

/** Plain snapshot of a drive (the backend is not part of it). */
export interface AtaDriveState {
  /** features, sectorCount, lbaLow, lbaMid, lbaHigh: [current, previous]; then device. */
  taskFile: number[];
  device: number;
  status: number;
  error: number;
  intrq: boolean;
  multiple: number;
  dmaMode: TransferMode | null;
  writeCache: boolean;
  lookAhead: boolean;
  heads: number;
  sectorsPerTrack: number;
  /** The bytes of the current DRQ block. */
  buffer: number[];
  bufferPos: number;
  pio: PioTransfer | null;
  dmaRequest: DmaRequest | null;
}

/** The PIO transfer in progress. */
export interface PioTransfer {
  /** "in": device to host (reads, IDENTIFY); "out": host to device (writes). */
  dir: "in" | "out";
  /** Next LBA to read or write (unused for IDENTIFY). */
  lba: number;
  /** Sectors left after the current block. */
  remaining: number;
  /** Sectors per DRQ block: 1, or the multiple count for READ/WRITE MULTIPLE. */
  perBlock: number;
}

/** Most bytes one DRQ block holds. */
const BUFFER_BYTES = MAX_MULTIPLE * A.ATA_SECTOR;

export class AtaDrive {
  readonly backend: DiskBackend;
  readonly readOnly: boolean;
  /** Capacity in sectors. */
  readonly sectors: number;
  private readonly serial: string;
  private readonly diagnose: (message: string) => void;
  /** Called when `intrq` changes (the channel recomputes its IRQ line). */
  onInterruptChange: () => void = () => {};
  /** Called when a DMA command is ready for the bus master (the channel starts it if armed). */
  onDmaReady: () => void = () => {};

  // ---- task file (ATA/ATAPI-6 clause 7); each address register is a two-byte FIFO for 48-bit
  //      commands: `*Hob` holds the previously written byte ("previous content") ----
  features = 0;
  featuresHob = 0;
  sectorCount = 0;
  sectorCountHob = 0;
  lbaLow = 0;
  lbaLowHob = 0;
  lbaMid = 0;
  lbaMidHob = 0;
  lbaHigh = 0;
  lbaHighHob = 0;
  device = 0;
  status = A.STATUS_READY;
  error = A.DIAGNOSTIC_PASSED;
  /** The device's interrupt pending state (before nIEN). */
  intrq = false;

  // ---- settings ----
  /** READ/WRITE MULTIPLE block size in sectors (SET MULTIPLE MODE); 0 = off. */
  multiple = MAX_MULTIPLE;
  /** Selected DMA mode (SET FEATURES 0x03), undefined while in PIO default mode. */
  dmaMode: TransferMode | undefined = undefined;
  writeCache = true;
  lookAhead = true;
  /** CHS translation (INITIALIZE DEVICE PARAMETERS): heads and sectors per track. */
  heads = DEFAULT_HEADS;
  sectorsPerTrack = DEFAULT_SECTORS_PER_TRACK;

  // ---- data transfer ----
  private readonly buffer = new Uint8Array(BUFFER_BYTES);
  private bufferPos = 0;
  private bufferLen = 0;
  private pio: PioTransfer | undefined = undefined;
  /** The DMA command waiting for the bus master, if any. */
  dmaRequest: DmaRequest | undefined = undefined;

  constructor(o: AtaDriveOptions) {
    this.backend = o.backend;
    this.readOnly = o.readOnly ?? o.backend.readOnly;
    this.sectors = Math.floor(o.backend.size / A.ATA_SECTOR);
    this.serial = o.serial ?? "TRAPDOOR-ATA-0001";
    this.diagnose = o.diagnose;
    this.setSignature();
  }

  // ---- register access (the channel has already picked this drive) ----

  /**
   * A write to one of the address/count registers (offsets 1-6). Every write to the Command Block
   * goes to both devices (ATA/ATAPI-6 clause 7: "written to both devices"), which is why the channel
   * calls this on both drives.
   */
  writeRegister(reg: number, value: number): void {
    const v = value & 0xff;
    switch (reg) {
      case A.REG_ERROR_FEATURES:
        this.featuresHob = this.features;
        this.features = v;
        break;
      case A.REG_SECTOR_COUNT:
        this.sectorCountHob = this.sectorCount;
        this.sectorCount = v;
        break;
      case A.REG_LBA_LOW:
        this.lbaLowHob = this.lbaLow;
        this.lbaLow = v;
        break;
      case A.REG_LBA_MID:
        this.lbaMidHob = this.lbaMid;
        this.lbaMid = v;
        break;
      case A.REG_LBA_HIGH:
        this.lbaHighHob = this.lbaHigh;
        this.lbaHigh = v;
        break;
      case A.REG_DEVICE:
        this.device = v;
        break;
    }
  }

  /** A read of registers 1-6; `hob` (Device Control bit 7) selects the previous byte of the FIFO. */
  readRegister(reg: number, hob: boolean): number {
    switch (reg) {
      case A.REG_ERROR_FEATURES:
        return this.error;
      case A.REG_SECTOR_COUNT:
        return hob ? this.sectorCountHob : this.sectorCount;
      case A.REG_LBA_LOW:
        return hob ? this.lbaLowHob : this.lbaLow;
      case A.REG_LBA_MID:
        return hob ? this.lbaMidHob : this.lbaMid;
      case A.REG_LBA_HIGH:
        return hob ? this.lbaHighHob : this.lbaHigh;
      default:
        return this.device;
    }
  }

  /** The Status register; a read of it (not of Alternate Status) clears a pending interrupt. */
  readStatus(acknowledge: boolean): number {
    if (acknowledge) this.setIntrq(false);
    return this.status;
  }

  // ---- resets ----

  /** SRST asserted: the device is busy until SRST is released; transfers in progress are dropped. */
  beginReset(): void {
    this.pio = undefined;
    this.dmaRequest = undefined;
    this.status = A.STATUS_BSY;
    this.setIntrq(false);
  }

  /**
   * SRST released (or EXECUTE DEVICE DIAGNOSTIC): the ATA signature in the address registers, the
   * diagnostic code in Error, ready (ATA/ATAPI-6 clause 9, signature and persistence). Settings
   * (multiple count, transfer mode, write cache) persist across a software reset.
   */
  endReset(): void {
    this.setSignature();
    this.status = A.STATUS_READY;
  }

  private setSignature(): void {
    this.sectorCount = A.SIGNATURE_SECTOR_COUNT;
    this.lbaLow = A.SIGNATURE_LBA_LOW;
    this.lbaMid = 0;
    this.lbaHigh = 0;
    this.device = 0;
    this.error = A.DIAGNOSTIC_PASSED;
  }

  // ---- commands ----

  /** A write to the Command register (ATA/ATAPI-6 clause 8). */
  command(code: number): void {
    if (this.status & A.STATUS_BSY) {
      // Only a reset reaches a busy device (here: while SRST is held).
      this.diagnose(`command ${code.toString(16)}h written while the device is busy (BSY = 1)`);
      return;
    }
    this.setIntrq(false);
    this.pio = undefined;
    this.dmaRequest = undefined;
    this.error = 0;
    switch (code) {
      case A.CMD_IDENTIFY_DEVICE:
        return this.identify();
      case A.CMD_READ_SECTORS:
      case A.CMD_READ_SECTORS_NORETRY:
        return this.pioCommand("in", false, 1);
      case A.CMD_READ_SECTORS_EXT:
        return this.pioCommand("in", true, 1);
      case A.CMD_READ_MULTIPLE:
        return this.pioCommand("in", false, this.multiple);
      case A.CMD_READ_MULTIPLE_EXT:
        return this.pioCommand("in", true, this.multiple);
      case A.CMD_WRITE_SECTORS:
      case A.CMD_WRITE_SECTORS_NORETRY:
        return this.pioCommand("out", false, 1);
      case A.CMD_WRITE_SECTORS_EXT:
        return this.pioCommand("out", true, 1);
      case A.CMD_WRITE_MULTIPLE:
        return this.pioCommand("out", false, this.multiple);
      case A.CMD_WRITE_MULTIPLE_EXT:
        return this.pioCommand("out", true, this.multiple);
      case A.CMD_READ_DMA:
      case A.CMD_READ_DMA_NORETRY:
        return this.dmaCommand(false, false);
      case A.CMD_READ_DMA_EXT:
        return this.dmaCommand(false, true);
      case A.CMD_WRITE_DMA:
      case A.CMD_WRITE_DMA_NORETRY:
        return this.dmaCommand(true, false);
      case A.CMD_WRITE_DMA_EXT:
        return this.dmaCommand(true, true);
      case A.CMD_READ_VERIFY:
      case A.CMD_READ_VERIFY_NORETRY:
      case A.CMD_READ_VERIFY_EXT:
        // Nothing to verify on an emulated medium; the address is still checked.
        if (this.target(code === A.CMD_READ_VERIFY_EXT) !== undefined) this.complete();
        return;
      case A.CMD_FLUSH_CACHE:
      case A.CMD_FLUSH_CACHE_EXT:
        return this.flush();
      case A.CMD_SET_FEATURES:
        return this.setFeatures();
      case A.CMD_SET_MULTIPLE_MODE:
        return this.setMultiple();
      case A.CMD_INITIALIZE_DEVICE_PARAMETERS:
        // Sector Count = sectors per track, Device bits 3:0 = heads - 1; used for CHS addressing.
        if (this.sectorCount === 0) return this.abort();
        this.sectorsPerTrack = this.sectorCount;
        this.heads = (this.device & 0x0f) + 1;
        return this.complete();
      case A.CMD_CHECK_POWER_MODE:
        this.sectorCount = 0xff; // FFh: active or idle
        return this.complete();
      case A.CMD_STANDBY_IMMEDIATE:
      case A.CMD_IDLE_IMMEDIATE:
      case A.CMD_STANDBY:
      case A.CMD_IDLE:
      case A.CMD_SLEEP:
        // Power management: an emulated disk has no spindle; the command just succeeds.
        return this.complete();
      case A.CMD_EXECUTE_DEVICE_DIAGNOSTIC:
        this.endReset();
        return this.raise();
      default:
        if ((code & 0xf0) === A.CMD_RECALIBRATE || (code & 0xf0) === A.CMD_SEEK) return this.complete();
        // NOP, DEVICE RESET, IDENTIFY PACKET DEVICE (packet commands) and everything not listed.
        return this.abort();
    }
  }

  private identify(): void {
    const data = identifyData({
      sectors: this.sectors,
      multiple: this.multiple,
      dma: this.dmaMode,
      writeCache: this.writeCache,
      lookAhead: this.lookAhead,
      serial: this.serial,
      model: "trapdoor ATA disk",
      firmware: "1.0",
      geometry: [this.heads, this.sectorsPerTrack],
    });
    this.buffer.set(data);
    this.pio = { dir: "in", lba: 0, remaining: 0, perBlock: 1 };
    this.bufferPos = 0;
    this.bufferLen = data.length;
    this.status = A.STATUS_READY | A.STATUS_DRQ;
    this.raise();
  }

  /**
   * The LBA and sector count of a read/write command, or undefined after failing the command with
   * IDNF. LBA28: Device bits 3:0 and LBA High/Mid/Low, count 0 = 256; CHS when Device bit 6 is 0.
   * 48-bit: the previous and current bytes of each register, count 0 = 65536 (ATA/ATAPI-6, 48-bit
   * Address feature set).
   */
  private target(ext: boolean): { lba: number; count: number } | undefined {
    let lba: number;
    let count: number;
    if (ext) {
      const high = (this.lbaHighHob << 16) | (this.lbaMidHob << 8) | this.lbaLowHob;
      lba = high * 0x1000000 + ((this.lbaHigh << 16) | (this.lbaMid << 8) | this.lbaLow);
      count = (this.sectorCountHob << 8) | this.sectorCount || 0x10000;
    } else {
      count = this.sectorCount || 0x100;
      if (this.device & A.DEVICE_LBA) {
        lba = ((this.device & 0x0f) << 24) | (this.lbaHigh << 16) | (this.lbaMid << 8) | this.lbaLow;
      } else {
        const cylinder = (this.lbaHigh << 8) | this.lbaMid;
        const head = this.device & 0x0f;
        const sector = this.lbaLow;
        if (sector === 0 || sector > this.sectorsPerTrack || head >= this.heads) {
          this.diagnose(`CHS address ${cylinder}/${head}/${sector} is outside the geometry`);
          this.fail(A.ERROR_IDNF);
          return undefined;
        }
        lba = (cylinder * this.heads + head) * this.sectorsPerTrack + sector - 1;
      }
    }
    if (lba + count > this.sectors) {
      this.diagnose(`sectors ${lba}+${count} lie beyond the end of the disk (${this.sectors} sectors)`);
      this.fail(A.ERROR_IDNF);
      return undefined;
    }
    return { lba, count };
  }

  private pioCommand(dir: "in" | "out", ext: boolean, perBlock: number): void {
    if (perBlock === 0) return this.abort(); // READ/WRITE MULTIPLE with multiple mode off
    if (dir === "out" && this.readOnly) return this.abort();
    const t = this.target(ext);
    if (t === undefined) return;
    this.pio = { dir, lba: t.lba, remaining: t.count, perBlock };
    if (dir === "in") return this.loadBlock();
    // PIO data-out: DRQ for the first block without an interrupt (clause 9, PIO data-out).
    this.startBlock();
    this.status = A.STATUS_READY | A.STATUS_DRQ;
  }

  /** Size the next DRQ block of the PIO transfer and take its sectors off `remaining`. */
  private startBlock(): number {
    const p = this.pio!;
    const n = Math.min(p.perBlock, p.remaining);
    p.remaining -= n;
    this.bufferPos = 0;
    this.bufferLen = n * A.ATA_SECTOR;
    return n;
  }

  /** PIO data-in: read the next block from the backend, set DRQ and interrupt. */
  private loadBlock(): void {
    const p = this.pio!;
    const n = this.startBlock();
    try {
      this.backend.read(p.lba * A.ATA_SECTOR, this.buffer.subarray(0, n * A.ATA_SECTOR));
    } catch {
      return this.fail(A.ERROR_UNC);
    }
    p.lba += n;
    this.status = A.STATUS_READY | A.STATUS_DRQ;
    this.raise();
  }

  private dmaCommand(toDisk: boolean, ext: boolean): void {
    if (toDisk && this.readOnly) return this.abort();
    const t = this.target(ext);
    if (t === undefined) return;
    this.dmaRequest = { toDisk, offset: t.lba * A.ATA_SECTOR, length: t.count * A.ATA_SECTOR };
    // DMARQ is pending; status shows DRQ until the bus master has moved the data.
    this.status = A.STATUS_READY | A.STATUS_DRQ;
    this.onDmaReady();
  }

  /** The bus master moves `view` to or from byte `pos` of the pending DMA request. */
  dmaTransfer(pos: number, view: Uint8Array): boolean {
    const r = this.dmaRequest;
    if (r === undefined) return false;
    try {
      if (r.toDisk) this.backend.write(r.offset + pos, view);
      else this.backend.read(r.offset + pos, view);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The bus master is done with the request: "ok", "media" (the backend failed: UNC) or "host" (the
   * PRD table was unusable: the command is aborted).
   */
  finishDma(result: "ok" | "media" | "host"): void {
    if (this.dmaRequest === undefined) return;
    this.dmaRequest = undefined;
    if (result === "ok") return this.complete();
    this.fail(result === "media" ? A.ERROR_UNC : A.ERROR_ABRT);
  }

  private flush(): void {
    try {
      this.backend.flush();
    } catch {
      return this.fail(A.ERROR_ABRT);
    }
    this.complete();
  }

  /** SET FEATURES (ATA/ATAPI-6 clause 8): the subcommands Linux and BIOSes send. */
  private setFeatures(): void {
    switch (this.features) {
      case A.SETFEATURES_XFER:
        return this.setTransferMode(this.sectorCount);
      case A.SETFEATURES_WC_ON:
      case A.SETFEATURES_WC_OFF:
        this.writeCache = this.features === A.SETFEATURES_WC_ON;
        return this.complete();
      case A.SETFEATURES_LOOKAHEAD_ON:
      case A.SETFEATURES_LOOKAHEAD_OFF:
        this.lookAhead = this.features === A.SETFEATURES_LOOKAHEAD_ON;
        return this.complete();
      case A.SETFEATURES_REVERT_ON:
      case A.SETFEATURES_REVERT_OFF:
        return this.complete();
      default:
        return this.abort();
    }
  }

  /**
   * Set transfer mode: PIO default (00h/01h), PIO flow control 08h+n (n <= 4), multiword DMA 20h+n
   * (n <= 2), Ultra DMA 40h+n (n <= 5); anything else is aborted. Selecting a PIO mode deselects DMA
   * (as QEMU's IDE does); one DMA mode is selected at a time (IDENTIFY words 63 and 88).
   */
  private setTransferMode(v: number): void {
    const n = v & 0x07;
    if (v === A.XFER_PIO_DEFAULT || v === A.XFER_PIO_DEFAULT + 1) this.dmaMode = undefined;
    else if ((v & 0xf8) === A.XFER_PIO_0 && n <= 4) this.dmaMode = undefined;
    else if ((v & 0xf8) === A.XFER_MWDMA_0 && n <= 2) this.dmaMode = { kind: "mwdma", mode: n };
    else if ((v & 0xf8) === A.XFER_UDMA_0 && n <= 5) this.dmaMode = { kind: "udma", mode: n };
    else return this.abort();
    this.complete();
  }

  /**
   * SET MULTIPLE MODE: Sector Count = sectors per block, a power of two up to MAX_MULTIPLE; 0
   * disables multiple mode (as QEMU accepts); anything else is aborted and the setting kept.
   */
  private setMultiple(): void {
    const n = this.sectorCount;
    if (n > MAX_MULTIPLE || (n & (n - 1)) !== 0) return this.abort();
    this.multiple = n;
    this.complete();
  }

  // ---- the data port ----

  /** A read of the Data register: `width` bytes of the PIO data-in block. */
  readData(width: AccessWidth): number {
    const p = this.pio;
    if (p === undefined || p.dir !== "in") {
      this.diagnose("Data register read with no PIO data-in transfer in progress (DRQ is 0)");
      return 0;
    }
    let v = 0;
    for (let i = 0; i < width; i++) {
      const pos = this.bufferPos + i;
      if (pos < this.bufferLen) v |= this.buffer[pos]! << (8 * i);
    }
    this.bufferPos += width;
    if (this.bufferPos >= this.bufferLen) {
      if (p.remaining > 0) this.loadBlock();
      else {
        this.pio = undefined;
        this.status = A.STATUS_READY;
      }
    }
    return v >>> 0;
  }

  /** A write of the Data register: `width` bytes into the PIO data-out block. */
  writeData(width: AccessWidth, value: number): void {
    const p = this.pio;
    if (p === undefined || p.dir !== "out") {
      this.diagnose("Data register written with no PIO data-out transfer in progress (DRQ is 0)");
      return;
    }
    for (let i = 0; i < width; i++) {
      const pos = this.bufferPos + i;
      if (pos < this.bufferLen) this.buffer[pos] = (value >>> (8 * i)) & 0xff;
    }
    this.bufferPos += width;
    if (this.bufferPos < this.bufferLen) return;
    try {
      this.backend.write(p.lba * A.ATA_SECTOR, this.buffer.subarray(0, this.bufferLen));
    } catch {
      return this.fail(A.ERROR_UNC);
    }
    p.lba += this.bufferLen / A.ATA_SECTOR;
    if (p.remaining > 0) {
      this.startBlock();
      this.status = A.STATUS_READY | A.STATUS_DRQ;
      return this.raise();
    }
    this.complete();
  }

  // ---- snapshots ----

  saveState(): AtaDriveState {
    return {
      taskFile: [
        this.features,
        this.featuresHob,
        this.sectorCount,
        this.sectorCountHob,
        this.lbaLow,
        this.lbaLowHob,
        this.lbaMid,
        this.lbaMidHob,
        this.lbaHigh,
        this.lbaHighHob,
      ],
      device: this.device,
      status: this.status,
      error: this.error,
      intrq: this.intrq,
      multiple: this.multiple,
      dmaMode: this.dmaMode === undefined ? null : { ...this.dmaMode },
      writeCache: this.writeCache,
      lookAhead: this.lookAhead,
      heads: this.heads,
      sectorsPerTrack: this.sectorsPerTrack,
      buffer: Array.from(this.buffer.subarray(0, this.bufferLen)),
      bufferPos: this.bufferPos,
      pio: this.pio === undefined ? null : { ...this.pio },
      dmaRequest: this.dmaRequest === undefined ? null : { ...this.dmaRequest },
    };
  }

  /** Restore a saveState() snapshot (the interrupt line is re-driven by the channel). */
  loadState(s: AtaDriveState): void {
    const b = (i: number): number => (s.taskFile[i] ?? 0) & 0xff;
    [this.features, this.featuresHob, this.sectorCount, this.sectorCountHob] = [b(0), b(1), b(2), b(3)];
    [this.lbaLow, this.lbaLowHob, this.lbaMid, this.lbaMidHob] = [b(4), b(5), b(6), b(7)];
    [this.lbaHigh, this.lbaHighHob] = [b(8), b(9)];
    this.device = s.device & 0xff;
    this.status = s.status & 0xff;
    this.error = s.error & 0xff;
    this.intrq = Boolean(s.intrq);
    this.multiple = s.multiple;
    this.dmaMode = s.dmaMode ?? undefined;
    this.writeCache = Boolean(s.writeCache);
    this.lookAhead = Boolean(s.lookAhead);
    this.heads = s.heads;
    this.sectorsPerTrack = s.sectorsPerTrack;
    const data = s.buffer.slice(0, BUFFER_BYTES);
    this.buffer.set(data);
    this.bufferLen = data.length;
    this.bufferPos = Math.min(s.bufferPos, this.bufferLen);
    this.pio = s.pio === null ? undefined : { ...s.pio };
    this.dmaRequest = s.dmaRequest === null ? undefined : { ...s.dmaRequest };
  }

  // ---- completion ----

  /** Successful end of a command: ready, interrupt. */
  private complete(): void {
    this.pio = undefined;
    this.status = A.STATUS_READY;
    this.raise();
  }

  /** Aborted command (unsupported command or parameter). */
  private abort(): void {
    this.fail(A.ERROR_ABRT);
  }

  /** End the command with ERR and `error` in the Error register, and interrupt. */
  private fail(error: number): void {
    this.pio = undefined;
    this.dmaRequest = undefined;
    this.error = error;
    this.status = A.STATUS_READY | A.STATUS_ERR;
    this.raise();
  }

  private raise(): void {
    this.setIntrq(true);
  }

  private setIntrq(level: boolean): void {
    if (this.intrq === level) return;
    this.intrq = level;
    this.onInterruptChange();
  }
}
