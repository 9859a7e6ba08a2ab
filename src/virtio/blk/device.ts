/*
 * virtio-blk (virtio 1.2 §5.2) on the virtio-pci transport: one request queue, requests checked
 * completely (request.ts) before any data moves, data moved straight between guest RAM views and
 * the backend (chain.ts), optional fault injection (faults.ts).
 *
 * Offered: SIZE_MAX, SEG_MAX, BLK_SIZE (512), FLUSH, TOPOLOGY, CONFIG_WCE, DISCARD, WRITE_ZEROES,
 * RO for read-only images, plus the transport's VERSION_1, INDIRECT_DESC, EVENT_IDX.
 *
 * Write caching (§5.2.5, §5.2.6.2): a write is made stable (backend flush) before its completion
 * when neither CONFIG_WCE nor FLUSH was negotiated, or when CONFIG_WCE was negotiated and
 * `writeback` is 0 (writethrough); otherwise FLUSH makes completed writes stable. `writeback` is
 * 1 after reset, 0 when CONFIG_WCE is negotiated without FLUSH (§5.2.5.2 MUST), and the driver may
 * write 0 or 1 to it once CONFIG_WCE is negotiated (Linux: /sys/block/vdX/cache_type).
 */
import type { AccessWidth } from "../../bus/device.js";
import type { GuestClock } from "../../clock.js";
import { SECTOR_SIZE, type DiskBackend } from "../../disk/backend.js";
import {
  features,
  hasFeature,
  VIRTIO_ID_BLOCK,
  VIRTIO_STATUS_FEATURES_OK,
  type FeatureWords,
} from "../constants.js";
import { REQUEST_PENDING, VirtioPciDevice, type VirtioCheckMode, type VirtioDiagnostic } from "../pci.js";
import type { SplitQueue } from "../split-queue.js";
import { diskToWritable, gatherReadable, readableToDisk, scatterWritable, writeStatusByte } from "./chain.js";
import {
  BLK_CFG_WRITEBACK,
  buildBlkConfig,
  checkRangeLimits,
  checkTopology,
  DEFAULT_RANGE_LIMITS,
  DEFAULT_TOPOLOGY,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_CONFIG_WCE,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
  VIRTIO_BLK_F_TOPOLOGY,
  VIRTIO_BLK_F_WRITE_ZEROES,
  type BlkRangeLimits,
  type BlkTopology,
} from "./config.js";
import { newBlkCounters } from "./counters.js";
import { FaultPlan, formatFaultRule, type BlkFaultEvent, type BlkFaultRule } from "./faults.js";
import {
  checkFlush,
  checkGetId,
  checkRangeFraming,
  checkRanges,
  checkReadWrite,
  describe,
  rangeSector,
  rangeSectors,
  VIRTIO_BLK_HEADER_BYTES,
  VIRTIO_BLK_ID_BYTES,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  type BlkRequest,
  type Report,
} from "./request.js";

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
  /** TOPOLOGY fields (default DEFAULT_TOPOLOGY). */
  topology?: BlkTopology;
  /** DISCARD / WRITE_ZEROES limits (default DEFAULT_RANGE_LIMITS). */
  rangeLimits?: BlkRangeLimits;
  /** Fault injection rules (faults.ts). */
  faults?: readonly BlkFaultRule[];
  /** Each fault injected. */
  onFault?: (e: BlkFaultEvent) => void;
  /** Guest time, for delay faults (required with one). */
  clock?: GuestClock;
  /** A delayed completion was scheduled (the machine ends the CPU slice so the deadline is met exactly). */
  onSchedule?: () => void;
  onDiagnostic?: (d: VirtioDiagnostic) => void;
  onGuestWrite?: (addr: number, len: number) => void;
  /** The exit being handled is a notify of `queue` (exit accounting). */
  onNotify?: (queue: number) => void;
}

/** A completion held back by a delay fault. */
interface Delayed {
  due: number;
  qi: number;
  head: number;
  len: number;
  epoch: number;
  request: number;
  dropInterrupt: boolean;
}

/** Zeros for backends without writeZeroes. */
const ZEROS = new Uint8Array(64 * 1024);

export class VirtioBlk extends VirtioPciDevice {
  readonly backend: DiskBackend;
  readonly readOnly: boolean;
  readonly serial: Uint8Array;
  readonly limits: BlkRangeLimits;
  readonly faults: FaultPlan;
  protected readonly deviceConfig: Uint8Array;
  /** Request counters by type and outcome. */
  readonly blkCounters = newBlkCounters();
  private flushNegotiated = false;
  private wceNegotiated = false;
  private discardNegotiated = false;
  private writeZeroesNegotiated = false;
  private readonly header = new Uint8Array(VIRTIO_BLK_HEADER_BYTES);
  private readonly headerView = new DataView(this.header.buffer);
  private readonly rangeBytes: Uint8Array;
  private readonly rangeView: DataView;
  /** The request being handled (reused: no allocation per request). */
  private readonly req: BlkRequest = { type: 0, sector: 0, dataIn: 0, dataOut: 0, head: 0 };
  private reqQueue = 0;
  private readonly reportReq: Report;
  private readonly clock: GuestClock | undefined;
  private readonly onFault: ((e: BlkFaultEvent) => void) | undefined;
  private readonly onSchedule: (() => void) | undefined;
  private readonly delayed: Delayed[] = [];
  /** The request whose interrupt the next publish drops (drop-irq). */
  private dropRequest = 0;

  constructor(o: VirtioBlkOptions) {
    const readOnly = o.readOnly ?? o.backend.readOnly;
    const queueSize = o.queueSize ?? 256;
    const bits = [
      VIRTIO_BLK_F_SIZE_MAX,
      VIRTIO_BLK_F_SEG_MAX,
      VIRTIO_BLK_F_BLK_SIZE,
      VIRTIO_BLK_F_FLUSH,
      VIRTIO_BLK_F_TOPOLOGY,
      VIRTIO_BLK_F_CONFIG_WCE,
      VIRTIO_BLK_F_DISCARD,
      VIRTIO_BLK_F_WRITE_ZEROES,
    ];
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
    const topology = o.topology ?? DEFAULT_TOPOLOGY;
    checkTopology(topology);
    this.limits = o.rangeLimits ?? DEFAULT_RANGE_LIMITS;
    checkRangeLimits(this.limits);
    // seg_max: header and status take two descriptors.
    this.deviceConfig = buildBlkConfig(o.backend.size, queueSize - 2, topology, this.limits);
    this.rangeBytes = new Uint8Array(16 * Math.max(this.limits.maxDiscardSeg, this.limits.maxWriteZeroesSeg));
    this.rangeView = new DataView(this.rangeBytes.buffer);
    this.faults = new FaultPlan(o.faults ?? []);
    if (this.faults.delayNs > 0 && o.clock === undefined)
      throw new RangeError(`${name}: a delay fault needs the machine clock (VirtioBlkOptions.clock)`);
    this.clock = o.clock;
    this.onFault = o.onFault;
    this.onSchedule = o.onSchedule;
    this.reportReq = (section, check, message) =>
      this.report(section, check, message, this.reqQueue, this.req.head);
  }

  /** Capacity in 512-byte sectors. */
  get capacity(): number {
    return this.backend.size / SECTOR_SIZE;
  }

  /** The cache mode the driver sees in `writeback` (1 writeback, 0 writethrough). */
  get writeback(): number {
    return this.deviceConfig[BLK_CFG_WRITEBACK]!;
  }

  /** §5.2.6.2: completed writes must be stable now (cases 1 and 2 of the stable-write rule). */
  private get writeThrough(): boolean {
    return this.wceNegotiated ? this.writeback === 0 : !this.flushNegotiated;
  }

  protected override writeDeviceConfig(offset: number, width: AccessWidth, value: number): void {
    const configured = this.legacy || (this.status & VIRTIO_STATUS_FEATURES_OK) !== 0;
    if (offset === BLK_CFG_WRITEBACK && width === 1 && this.wceNegotiated && configured && value <= 1) {
      this.deviceConfig[BLK_CFG_WRITEBACK] = value; // §5.2.6.1: 0 writethrough, 1 writeback
      return;
    }
    this.report(
      "5.2.5.1",
      "T8",
      `write of ${value} (${width} bytes) to virtio-blk config offset ${offset}: only writeback (offset 32, 1 byte, 0 or 1) is writable, after FEATURES_OK with CONFIG_WCE negotiated`,
    );
  }

  protected override featuresNegotiated(f: FeatureWords): void {
    this.flushNegotiated = hasFeature(f, VIRTIO_BLK_F_FLUSH);
    this.wceNegotiated = hasFeature(f, VIRTIO_BLK_F_CONFIG_WCE);
    this.discardNegotiated = hasFeature(f, VIRTIO_BLK_F_DISCARD);
    this.writeZeroesNegotiated = hasFeature(f, VIRTIO_BLK_F_WRITE_ZEROES);
    // §5.2.5.2: CONFIG_WCE without FLUSH starts in writethrough.
    if (this.wceNegotiated && !this.flushNegotiated) this.deviceConfig[BLK_CFG_WRITEBACK] = 0;
  }

  protected override deviceReset(): void {
    this.flushNegotiated = this.wceNegotiated = false;
    this.discardNegotiated = this.writeZeroesNegotiated = false;
    this.deviceConfig[BLK_CFG_WRITEBACK] = 1;
    this.dropRequest = 0;
    // Delayed completions stay scheduled: when due they carry the old epoch and are dropped.
  }

  protected handleRequest(q: SplitQueue, qi: number, head: number): number {
    // §5.2.6: a readable header of 16 bytes and a writable status byte at the very end.
    if (q.readableBytes < VIRTIO_BLK_HEADER_BYTES) {
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
    gatherReadable(this.ram, q, 0, this.header);
    const r = this.req;
    r.type = this.headerView.getUint32(0, true);
    r.sector = this.headerView.getUint32(8, true) + this.headerView.getUint32(12, true) * 2 ** 32;
    r.dataIn = q.writableBytes - 1;
    r.dataOut = q.readableBytes - VIRTIO_BLK_HEADER_BYTES;
    r.head = head;
    this.reqQueue = qi;
    const n = this.counters.requests;
    let status: number;
    let written = 0;
    switch (r.type) {
      case VIRTIO_BLK_T_IN:
      case VIRTIO_BLK_T_OUT:
        status = checkReadWrite(r, this.capacity, this.readOnly, this.reportReq);
        if (status === VIRTIO_BLK_S_OK) [status, written] = this.readWrite(q, n);
        break;
      case VIRTIO_BLK_T_FLUSH:
        status = checkFlush(r, this.flushNegotiated, this.reportReq);
        if (status === VIRTIO_BLK_S_OK) status = this.flush();
        if (status === VIRTIO_BLK_S_OK) this.blkCounters.flushes++;
        break;
      case VIRTIO_BLK_T_GET_ID:
        status = checkGetId(r, this.reportReq);
        if (status === VIRTIO_BLK_S_OK) {
          written = scatterWritable(
            this.ram,
            q,
            this.serial.subarray(0, Math.min(r.dataIn, VIRTIO_BLK_ID_BYTES)),
            this.onGuestWrite,
          );
          this.blkCounters.getIds++;
        }
        break;
      case VIRTIO_BLK_T_DISCARD:
      case VIRTIO_BLK_T_WRITE_ZEROES:
        status = this.ranges(q, n);
        break;
      default:
        status = VIRTIO_BLK_S_UNSUPP; // §5.2.6: unknown types (QEMU and Linux agree on UNSUPP)
    }
    if (status === VIRTIO_BLK_S_IOERR) this.blkCounters.errors++;
    if (status === VIRTIO_BLK_S_UNSUPP) this.blkCounters.unsupported++;
    writeStatusByte(this.ram, q, status, this.onGuestWrite);
    return this.finish(qi, head, written + 1, n);
  }

  /** Apply delay and drop-irq faults to a request whose data and status are in guest RAM. */
  private finish(qi: number, head: number, used: number, n: number): number {
    const dropInterrupt = this.faults.dropsInterrupt(n);
    const delay = this.faults.delayNs;
    if (delay === 0) {
      if (dropInterrupt) this.armDrop(n);
      return used;
    }
    const due = this.clock!.now() + delay;
    this.delayed.push({ due, qi, head, len: used, epoch: this.resetEpoch, request: n, dropInterrupt });
    this.onSchedule?.();
    this.fault(
      n,
      { kind: "delay", microseconds: delay / 1000 },
      `completes ${delay / 1000} µs of guest time later`,
    );
    return REQUEST_PENDING;
  }

  private armDrop(n: number): void {
    this.suppressNextInterrupt = true;
    this.dropRequest = n;
  }

  protected override interruptSuppressed(due: boolean): void {
    const n = this.dropRequest;
    this.fault(
      n,
      { kind: "drop-irq", request: n },
      due
        ? "the interrupt announcing its completion was not raised"
        : "no interrupt was due for its completion (the driver suppressed it); nothing dropped",
    );
  }

  override nextDeadline(): number {
    let d = Infinity;
    for (const x of this.delayed) d = Math.min(d, x.due);
    return d;
  }

  /** Release the delayed completions due by `now`, then publish them in one batch. */
  override advance(now: number): void {
    if (this.delayed.length > 0) {
      const keep: Delayed[] = [];
      for (const x of this.delayed) {
        if (x.due > now) {
          keep.push(x);
          continue;
        }
        if (x.dropInterrupt) this.armDrop(x.request);
        this.complete(x.qi, x.head, x.len, x.epoch);
      }
      this.delayed.splice(0, this.delayed.length, ...keep);
    }
    super.advance(now);
  }

  /** IN / OUT of a checked request: [status, bytes written to the guest]. */
  private readWrite(q: SplitQueue, n: number): [number, number] {
    const r = this.req;
    const out = r.type === VIRTIO_BLK_T_OUT;
    const len = out ? r.dataOut : r.dataIn;
    const pos = r.sector * SECTOR_SIZE;
    if (this.injectedError(out, r.sector, len / SECTOR_SIZE, n)) return [VIRTIO_BLK_S_IOERR, 0];
    try {
      if (out) {
        readableToDisk(this.ram, q, VIRTIO_BLK_HEADER_BYTES, this.backend, pos);
        this.blkCounters.writes++;
        this.blkCounters.bytesWritten += len;
        return [this.writeThrough ? this.flush() : VIRTIO_BLK_S_OK, 0];
      }
      diskToWritable(this.ram, q, this.backend, pos, len, this.onGuestWrite);
      this.blkCounters.reads++;
      this.blkCounters.bytesRead += len;
      return [VIRTIO_BLK_S_OK, len];
    } catch {
      return [VIRTIO_BLK_S_IOERR, out ? 0 : len]; // a failed read may have filled part of the buffer
    }
  }

  /** DISCARD / WRITE_ZEROES (§5.2.6): framing, then every range, then the work. */
  private ranges(q: SplitQueue, n: number): number {
    const r = this.req;
    const discard = r.type === VIRTIO_BLK_T_DISCARD;
    const framing = checkRangeFraming(
      r,
      discard ? this.discardNegotiated : this.writeZeroesNegotiated,
      discard ? this.limits.maxDiscardSeg : this.limits.maxWriteZeroesSeg,
      this.reportReq,
    );
    if (framing.status !== VIRTIO_BLK_S_OK) return framing.status;
    const count = framing.ranges;
    const view = this.rangeView;
    gatherReadable(this.ram, q, VIRTIO_BLK_HEADER_BYTES, this.rangeBytes.subarray(0, 16 * count));
    const status = checkRanges(r, view, count, this.limits, this.capacity, this.readOnly, this.reportReq);
    if (status !== VIRTIO_BLK_S_OK) return status;
    for (let i = 0; i < count; i++) {
      if (this.injectedError(true, rangeSector(view, i), rangeSectors(view, i), n)) return VIRTIO_BLK_S_IOERR;
    }
    let sectors = 0;
    try {
      for (let i = 0; i < count; i++) {
        const pos = rangeSector(view, i) * SECTOR_SIZE;
        const len = rangeSectors(view, i) * SECTOR_SIZE;
        sectors += len / SECTOR_SIZE;
        if (discard) this.backend.discard?.(pos, len);
        else this.zero(pos, len);
      }
    } catch {
      return VIRTIO_BLK_S_IOERR;
    }
    if (discard) {
      this.blkCounters.discards++;
      this.blkCounters.sectorsDiscarded += sectors;
    } else {
      this.blkCounters.writeZeroes++;
      this.blkCounters.sectorsZeroed += sectors;
    }
    return this.writeThrough ? this.flush() : VIRTIO_BLK_S_OK;
  }

  /** Zero [pos, pos + len) on the backend (§5.2.6.2: later reads MUST return zeroes). */
  private zero(pos: number, len: number): void {
    if (this.backend.writeZeroes) return this.backend.writeZeroes(pos, len);
    for (let done = 0; done < len; done += ZEROS.length)
      this.backend.write(pos + done, ZEROS.subarray(0, Math.min(ZEROS.length, len - done)));
  }

  private flush(): number {
    try {
      this.backend.flush();
      this.blkCounters.backendFlushes++;
      return VIRTIO_BLK_S_OK;
    } catch {
      return VIRTIO_BLK_S_IOERR;
    }
  }

  /** A read-error / write-error rule covering these sectors: report it and say so. */
  private injectedError(write: boolean, sector: number, count: number, n: number): boolean {
    const rule = this.faults.errorFor(write, sector, count);
    if (rule === undefined) return false;
    const last = sector + Math.max(count, 1) - 1;
    this.fault(n, rule, `${describe(this.req)} (sectors ${sector}-${last}) fails with IOERR`);
    return true;
  }

  private fault(request: number, rule: BlkFaultRule, message: string): void {
    this.blkCounters.faults++;
    this.onFault?.({
      device: this.name,
      request,
      rule: formatFaultRule(rule),
      message: `request ${request}: ${message}`,
    });
  }
}
