import type { AccessWidth } from "../bus/device.js";
import { SECTOR_SIZE, type DiskBackend } from "../disk/backend.js";
import { features, hasFeature, VIRTIO_ID_BLOCK, type FeatureWords } from "./constants.js";
import { VirtioPciDevice, type VirtioCheckMode, type VirtioDiagnostic } from "./pci.js";
import type { SplitQueue } from "./split-queue.js";

/*
 * virtio-blk (virtio 1.2 §5.2) on the virtio-pci transport. One request queue. Requests are
 * { le32 type; le32 reserved; le64 sector } (device-readable), data, then one device-writable
 * status byte (§5.2.6); the device assumes no descriptor layout (§2.7.4): the header, data and
 * status may be split across descriptors any way the driver likes.
 *
 * Offered: SIZE_MAX, SEG_MAX, BLK_SIZE (512), FLUSH, RO for read-only images, plus the transport's
 * VERSION_1, INDIRECT_DESC, EVENT_IDX. Request types: IN, OUT, FLUSH, GET_ID; anything else is
 * UNSUPP. A request is checked completely before any data moves: data length a multiple of 512,
 * inside the capacity, in the right direction (IN/GET_ID data writable, OUT data readable), OUT on
 * a read-only disk refused; failures get IOERR (§5.2.6.1/§5.2.6.2) and move no data. Data moves
 * straight between guest RAM views and the backend (no intermediate buffer).
 */

export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;

export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;

export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

/** GET_ID answer length (§5.2.6.1). */
export const VIRTIO_BLK_ID_BYTES = 20;
/** Device config bytes (struct virtio_blk_config of Linux 6.1). */
export const VIRTIO_BLK_CONFIG_SIZE = 72;
/** Largest segment we advertise (size_max). */
export const VIRTIO_BLK_SIZE_MAX = 1 << 20;

export interface VirtioBlkOptions {
  name?: string;
  backend: DiskBackend;
  /** Guest RAM (guest-physical p is ram[p]). */
  ram: Uint8Array;
  transport?: "modern" | "transitional";
  /** Offer VIRTIO_BLK_F_RO and refuse writes (default: the backend's readOnly). */
  readOnly?: boolean;
  /** GET_ID answer, ASCII, at most 20 bytes (default "trapdoor-<name>"). */
  serial?: string;
  /** Queue size (power of two, default 256). */
  queueSize?: number;
  ring?: { indirect?: boolean; eventIdx?: boolean };
  mode?: VirtioCheckMode;
  onDiagnostic?: (d: VirtioDiagnostic) => void;
  onGuestWrite?: (addr: number, len: number) => void;
  /** The exit being handled is a notify of `queue` (exit accounting). */
  onNotify?: (queue: number) => void;
}

export class VirtioBlk extends VirtioPciDevice {
  readonly backend: DiskBackend;
  readonly readOnly: boolean;
  readonly serial: Uint8Array;
  protected readonly deviceConfig = new Uint8Array(VIRTIO_BLK_CONFIG_SIZE);
  /** Request counters by type. */
  readonly blkCounters = {
    reads: 0,
    writes: 0,
    flushes: 0,
    getIds: 0,
    unsupported: 0,
    errors: 0,
    bytesRead: 0,
    bytesWritten: 0,
  };
  private flushNegotiated = false;
  private readonly header = new Uint8Array(16);
  private readonly headerView = new DataView(this.header.buffer);

  constructor(o: VirtioBlkOptions) {
    const readOnly = o.readOnly ?? o.backend.readOnly;
    const queueSize = o.queueSize ?? 256;
    const bits = [VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH];
    if (readOnly) bits.push(VIRTIO_BLK_F_RO);
    const name = o.name ?? "virtio-blk";
    super({
      name,
      deviceType: VIRTIO_ID_BLOCK,
      transport: o.transport,
      classCode: 0x01, // mass storage
      subclass: 0x80, // other
      ram: o.ram,
      numQueues: 1,
      maxQueueSize: queueSize,
      deviceFeatures: features(...bits),
      ring: o.ring,
      mode: o.mode,
      onDiagnostic: o.onDiagnostic,
      onGuestWrite: o.onGuestWrite,
      onNotify: o.onNotify,
    });
    if (o.backend.size % SECTOR_SIZE !== 0)
      throw new RangeError(`${name}: disk size is not a multiple of 512`);
    this.backend = o.backend;
    this.readOnly = readOnly;
    const serial = new TextEncoder().encode(o.serial ?? `trapdoor-${name}`);
    if (serial.length > VIRTIO_BLK_ID_BYTES) throw new RangeError(`${name}: serial is longer than 20 bytes`);
    this.serial = new Uint8Array(VIRTIO_BLK_ID_BYTES);
    this.serial.set(serial);
    // struct virtio_blk_config (§5.2.4)
    const c = new DataView(this.deviceConfig.buffer);
    const sectors = o.backend.size / SECTOR_SIZE;
    c.setUint32(0, sectors >>> 0, true); // capacity
    c.setUint32(4, Math.floor(sectors / 2 ** 32), true);
    c.setUint32(8, VIRTIO_BLK_SIZE_MAX, true); // size_max
    c.setUint32(12, queueSize - 2, true); // seg_max (header and status take two descriptors)
    c.setUint32(20, SECTOR_SIZE, true); // blk_size
  }

  /** Capacity in 512-byte sectors. */
  get capacity(): number {
    return this.backend.size / SECTOR_SIZE;
  }

  protected override writeDeviceConfig(offset: number, width: AccessWidth, value: number): void {
    this.report(
      "5.2.4",
      "T8",
      `write of ${value} (${width} bytes) to virtio-blk config offset ${offset}: no writable field (CONFIG_WCE not offered)`,
    );
  }

  protected override featuresNegotiated(f: FeatureWords): void {
    this.flushNegotiated = hasFeature(f, VIRTIO_BLK_F_FLUSH);
  }

  protected override deviceReset(): void {
    this.flushNegotiated = false;
  }

  protected handleRequest(q: SplitQueue, qi: number, head: number): number {
    // §5.2.6: a readable header of 16 bytes and a writable status byte at the very end.
    if (q.readableBytes < 16) {
      this.report(
        "5.2.6",
        "B1",
        `request at head ${head} has ${q.readableBytes} device-readable bytes, less than the 16-byte header`,
        qi,
        head,
      );
      return -1;
    }
    if (q.writableBytes < 1) {
      this.report(
        "5.2.6",
        "B2",
        `request at head ${head} has no device-writable byte for the status`,
        qi,
        head,
      );
      return -1;
    }
    this.gatherHeader(q);
    const type = this.headerView.getUint32(0, true);
    const sector = this.headerView.getUint32(8, true) + this.headerView.getUint32(12, true) * 2 ** 32;
    const dataIn = q.writableBytes - 1; // device-writable data bytes (before the status)
    const dataOut = q.readableBytes - 16; // device-readable data bytes (after the header)
    let status = VIRTIO_BLK_S_OK;
    let written = 0;
    switch (type) {
      case VIRTIO_BLK_T_IN:
      case VIRTIO_BLK_T_OUT: {
        const out = type === VIRTIO_BLK_T_OUT;
        const len = out ? dataOut : dataIn;
        const wrong = out ? dataIn : dataOut;
        const what = out ? "OUT" : "IN";
        if (wrong !== 0) {
          this.report(
            "5.2.6",
            "B6",
            `${what} request at head ${head} has ${wrong} data bytes in the wrong direction`,
            qi,
            head,
          );
          status = VIRTIO_BLK_S_IOERR;
        } else if (len % SECTOR_SIZE !== 0) {
          this.report(
            "5.2.6.1",
            "B3",
            `${what} request at head ${head}: data length ${len} is not a multiple of 512`,
            qi,
            head,
          );
          status = VIRTIO_BLK_S_IOERR;
        } else if (sector + len / SECTOR_SIZE > this.capacity) {
          this.report(
            "5.2.6.1",
            "B4",
            `${what} request at head ${head}: sectors ${sector}+${len / SECTOR_SIZE} go past the capacity ${this.capacity}`,
            qi,
            head,
          );
          status = VIRTIO_BLK_S_IOERR;
        } else if (out && this.readOnly) {
          this.report(
            "5.2.6.2",
            "B5",
            `OUT request at head ${head} on a read-only disk (VIRTIO_BLK_F_RO)`,
            qi,
            head,
          );
          status = VIRTIO_BLK_S_IOERR;
        } else {
          try {
            if (out) this.transferOut(q, sector * SECTOR_SIZE);
            else this.transferIn(q, sector * SECTOR_SIZE, len);
            if (out) {
              this.blkCounters.writes++;
              this.blkCounters.bytesWritten += len;
            } else {
              this.blkCounters.reads++;
              this.blkCounters.bytesRead += len;
              written = len;
            }
          } catch {
            status = VIRTIO_BLK_S_IOERR;
            written = out ? 0 : len;
          }
        }
        break;
      }
      case VIRTIO_BLK_T_FLUSH:
        if (!this.flushNegotiated)
          this.report(
            "5.2.6.1",
            "B7",
            `FLUSH at head ${head} without VIRTIO_BLK_F_FLUSH negotiated`,
            qi,
            head,
          );
        if (sector !== 0)
          this.report("5.2.6.1", "B7", `FLUSH at head ${head} with sector ${sector} (MUST be 0)`, qi, head);
        if (dataIn !== 0 || dataOut !== 0) {
          this.report("5.2.6.1", "B7", `FLUSH at head ${head} carries data`, qi, head);
          status = VIRTIO_BLK_S_UNSUPP;
          break;
        }
        try {
          this.backend.flush();
          this.blkCounters.flushes++;
        } catch {
          status = VIRTIO_BLK_S_IOERR;
        }
        break;
      case VIRTIO_BLK_T_GET_ID:
        if (dataIn !== VIRTIO_BLK_ID_BYTES) {
          this.report(
            "5.2.6.1",
            "B8",
            `GET_ID at head ${head} with ${dataIn} writable data bytes (want 20)`,
            qi,
            head,
          );
        }
        if (dataOut !== 0) {
          this.report("5.2.6", "B6", `GET_ID at head ${head} has ${dataOut} readable data bytes`, qi, head);
          status = VIRTIO_BLK_S_IOERR;
          break;
        }
        written = this.scatter(q, this.serial.subarray(0, Math.min(dataIn, VIRTIO_BLK_ID_BYTES)));
        this.blkCounters.getIds++;
        break;
      default:
        this.blkCounters.unsupported++;
        status = VIRTIO_BLK_S_UNSUPP;
    }
    if (status === VIRTIO_BLK_S_IOERR) this.blkCounters.errors++;
    this.writeStatus(q, status);
    return written + 1;
  }

  /** Copy the first 16 readable bytes (the header) out of the chain. */
  private gatherHeader(q: SplitQueue): void {
    let need = 16;
    let at = 0;
    for (let s = 0; s < q.segCount && need > 0; s++) {
      if (q.segWrite[s]) break;
      const n = Math.min(need, q.segLen[s]!);
      this.header.set(this.ram.subarray(q.segAddr[s]!, q.segAddr[s]! + n), at);
      at += n;
      need -= n;
    }
  }

  /** OUT: readable bytes after the 16-byte header go to the disk at `pos`. */
  private transferOut(q: SplitQueue, pos: number): void {
    let skip = 16;
    for (let s = 0; s < q.segCount; s++) {
      if (q.segWrite[s]) break;
      let addr = q.segAddr[s]!;
      let len = q.segLen[s]!;
      if (skip > 0) {
        const k = Math.min(skip, len);
        skip -= k;
        addr += k;
        len -= k;
      }
      if (len === 0) continue;
      this.backend.write(pos, this.ram.subarray(addr, addr + len));
      pos += len;
    }
  }

  /** IN: `total` bytes from the disk at `pos` into the writable segments (before the status byte). */
  private transferIn(q: SplitQueue, pos: number, total: number): void {
    for (let s = 0; s < q.segCount && total > 0; s++) {
      if (!q.segWrite[s]) continue;
      const addr = q.segAddr[s]!;
      const len = Math.min(q.segLen[s]!, total);
      this.backend.read(pos, this.ram.subarray(addr, addr + len));
      this.onGuestWrite(addr, len);
      pos += len;
      total -= len;
    }
  }

  /** Copy `data` into the writable segments; returns the bytes written. */
  private scatter(q: SplitQueue, data: Uint8Array): number {
    let done = 0;
    for (let s = 0; s < q.segCount && done < data.length; s++) {
      if (!q.segWrite[s]) continue;
      const n = Math.min(q.segLen[s]!, data.length - done);
      this.ram.set(data.subarray(done, done + n), q.segAddr[s]!);
      this.onGuestWrite(q.segAddr[s]!, n);
      done += n;
    }
    return done;
  }

  /** The status byte is the last byte of the last (writable) segment. */
  private writeStatus(q: SplitQueue, status: number): void {
    const s = q.segCount - 1;
    const addr = q.segAddr[s]! + q.segLen[s]! - 1;
    this.ram[addr] = status;
    this.onGuestWrite(addr, 1);
  }
}
