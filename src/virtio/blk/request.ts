/*
 * virtio-blk requests (virtio 1.2 §5.2.6): { le32 type; le32 reserved; le64 sector } device-readable,
 * then data, then one device-writable status byte. This file decides, before any data moves,
 * whether a request is acceptable and which status a refusal gets; each refusal is also a driver
 * checker finding (check IDs B* of docs/virtio.md).
 *
 * Status choices follow the spec where it has a MUST (§5.2.6.2: UNSUPP for unknown range flags and
 * for unmap on DISCARD; IOERR for writes to a read-only device) and QEMU's virtio-blk and Linux
 * 6.1's expectations elsewhere: IOERR for a bad length, a wrong direction or a range past the
 * capacity; UNSUPP for an unknown type or a DISCARD/WRITE_ZEROES the device cannot take (not
 * negotiated, data not whole 16-byte ranges, more ranges than max_*_seg). Linux maps UNSUPP to
 * BLK_STS_NOTSUPP (EOPNOTSUPP) and everything else that is not OK to BLK_STS_IOERR (EIO).
 */
import { SECTOR_SIZE } from "../../disk/backend.js";
import type { BlkRangeLimits } from "./config.js";

export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;

export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

/** The request header's size. */
export const VIRTIO_BLK_HEADER_BYTES = 16;
/** GET_ID answer length (§5.2.6). */
export const VIRTIO_BLK_ID_BYTES = 20;
/** struct virtio_blk_discard_write_zeroes { le64 sector; le32 num_sectors; le32 flags } (§5.2.6). */
export const VIRTIO_BLK_RANGE_BYTES = 16;
/** flags bit 0: WRITE_ZEROES may deallocate; MUST be 0 for DISCARD (§5.2.6.1). */
export const VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;

/** A checker finding: spec section, check ID, what the driver did. */
export type Report = (section: string, check: string, message: string) => void;

/** The decoded header and the data byte counts of one chain. */
export interface BlkRequest {
  type: number;
  sector: number;
  /** Device-readable data bytes after the header. */
  dataOut: number;
  /** Device-writable data bytes before the status byte. */
  dataIn: number;
  /** Head descriptor (for messages). */
  head: number;
}

const TYPE_NAMES: Readonly<Record<number, string>> = {
  [VIRTIO_BLK_T_IN]: "IN",
  [VIRTIO_BLK_T_OUT]: "OUT",
  [VIRTIO_BLK_T_FLUSH]: "FLUSH",
  [VIRTIO_BLK_T_GET_ID]: "GET_ID",
  [VIRTIO_BLK_T_DISCARD]: "DISCARD",
  [VIRTIO_BLK_T_WRITE_ZEROES]: "WRITE_ZEROES",
};

/** "OUT request at head 3". */
export function describe(r: BlkRequest): string {
  return `${TYPE_NAMES[r.type] ?? `type ${r.type}`} request at head ${r.head}`;
}

/**
 * IN/OUT (§5.2.6.1, §5.2.6.2): data only in the request's direction, a multiple of 512 bytes,
 * inside the capacity, and no OUT on a read-only device. Returns the status (OK: go ahead).
 */
export function checkReadWrite(r: BlkRequest, capacity: number, readOnly: boolean, report: Report): number {
  const out = r.type === VIRTIO_BLK_T_OUT;
  const len = out ? r.dataOut : r.dataIn;
  const wrong = out ? r.dataIn : r.dataOut;
  if (wrong !== 0) {
    report("5.2.6", "B6", `${describe(r)} has ${wrong} data bytes in the wrong direction`);
    return VIRTIO_BLK_S_IOERR;
  }
  if (len % SECTOR_SIZE !== 0) {
    report("5.2.6.1", "B3", `${describe(r)}: data length ${len} is not a multiple of 512`);
    return VIRTIO_BLK_S_IOERR;
  }
  if (r.sector + len / SECTOR_SIZE > capacity) {
    report(
      "5.2.6.1",
      "B4",
      `${describe(r)}: sectors ${r.sector}+${len / SECTOR_SIZE} go past the capacity ${capacity}`,
    );
    return VIRTIO_BLK_S_IOERR;
  }
  if (out && readOnly) {
    report("5.2.6.2", "B5", `${describe(r)} on a read-only disk (VIRTIO_BLK_F_RO)`);
    return VIRTIO_BLK_S_IOERR;
  }
  return VIRTIO_BLK_S_OK;
}

/**
 * FLUSH (§5.2.6.1): the driver MUST set sector 0 and SHOULD send no data; sending it without
 * VIRTIO_BLK_F_FLUSH is reported too. Only data makes it fail (UNSUPP, as QEMU).
 */
export function checkFlush(r: BlkRequest, negotiated: boolean, report: Report): number {
  if (!negotiated) report("5.2.6.1", "B7", `FLUSH at head ${r.head} without VIRTIO_BLK_F_FLUSH negotiated`);
  if (r.sector !== 0) report("5.2.6.1", "B7", `FLUSH at head ${r.head} with sector ${r.sector} (MUST be 0)`);
  if (r.dataIn !== 0 || r.dataOut !== 0) {
    report("5.2.6.1", "B7", `FLUSH at head ${r.head} carries data`);
    return VIRTIO_BLK_S_UNSUPP;
  }
  return VIRTIO_BLK_S_OK;
}

/** GET_ID (§5.2.6.1): 20 writable data bytes (fewer get a prefix, reported), no readable data. */
export function checkGetId(r: BlkRequest, report: Report): number {
  if (r.dataIn !== VIRTIO_BLK_ID_BYTES)
    report("5.2.6.1", "B8", `GET_ID at head ${r.head} with ${r.dataIn} writable data bytes (want 20)`);
  if (r.dataOut !== 0) {
    report("5.2.6", "B6", `GET_ID at head ${r.head} has ${r.dataOut} readable data bytes`);
    return VIRTIO_BLK_S_IOERR;
  }
  return VIRTIO_BLK_S_OK;
}

/**
 * DISCARD / WRITE_ZEROES framing (§5.2.6, §5.2.6.1): the feature negotiated, readable data only,
 * whole 16-byte ranges, at least one and at most max_*_seg of them. Returns the status and, when
 * OK, the number of ranges (in `ranges`).
 */
export function checkRangeFraming(
  r: BlkRequest,
  negotiated: boolean,
  maxSeg: number,
  report: Report,
): { status: number; ranges: number } {
  const what = describe(r);
  const fail = (status: number, section: string, check: string, message: string) => {
    report(section, check, `${what}: ${message}`);
    return { status, ranges: 0 };
  };
  if (!negotiated) return fail(VIRTIO_BLK_S_UNSUPP, "5.2.3", "B9", "its feature bit was not negotiated");
  if (r.dataIn !== 0)
    return fail(
      VIRTIO_BLK_S_IOERR,
      "5.2.6",
      "B6",
      `${r.dataIn} device-writable data bytes (ranges are read)`,
    );
  const n = r.dataOut / VIRTIO_BLK_RANGE_BYTES;
  if (r.dataOut === 0 || !Number.isInteger(n))
    return fail(VIRTIO_BLK_S_UNSUPP, "5.2.6.1", "B9", `data length ${r.dataOut} is not whole 16-byte ranges`);
  if (n > maxSeg)
    return fail(VIRTIO_BLK_S_UNSUPP, "5.2.6.1", "B9", `${n} ranges, more than the ${maxSeg} allowed`);
  return { status: VIRTIO_BLK_S_OK, ranges: n };
}

/**
 * Each range of a DISCARD / WRITE_ZEROES (`ranges` is the readable data, 16 bytes per range):
 * unknown flags, or unmap on DISCARD, are UNSUPP (§5.2.6.2 MUST); a read-only device refuses with
 * IOERR (§5.2.6.2); more than max_*_sectors or a range past the capacity is IOERR. All ranges are
 * checked before any is carried out.
 */
export function checkRanges(
  r: BlkRequest,
  ranges: DataView,
  count: number,
  limits: BlkRangeLimits,
  capacity: number,
  readOnly: boolean,
  report: Report,
): number {
  const discard = r.type === VIRTIO_BLK_T_DISCARD;
  const allowed = discard ? 0 : VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
  const maxSectors = discard ? limits.maxDiscardSectors : limits.maxWriteZeroesSectors;
  const what = describe(r);
  for (let i = 0; i < count; i++) {
    const flags = ranges.getUint32(16 * i + 12, true);
    if (flags & ~allowed) {
      const unmap = discard && flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
      report(
        "5.2.6.2",
        "B9",
        `${what}: range ${i} has flags 0x${flags.toString(16)} (${unmap ? "unmap is not allowed on DISCARD" : "unknown flag bits"})`,
      );
      return VIRTIO_BLK_S_UNSUPP;
    }
  }
  if (readOnly) {
    report("5.2.6.2", "B5", `${what} on a read-only disk (VIRTIO_BLK_F_RO)`);
    return VIRTIO_BLK_S_IOERR;
  }
  for (let i = 0; i < count; i++) {
    const sector = rangeSector(ranges, i);
    const n = rangeSectors(ranges, i);
    if (n > maxSectors) {
      report("5.2.6.1", "B9", `${what}: range ${i} has ${n} sectors, more than the ${maxSectors} allowed`);
      return VIRTIO_BLK_S_IOERR;
    }
    if (sector + n > capacity) {
      report(
        "5.2.6.1",
        "B4",
        `${what}: range ${i}, sectors ${sector}+${n}, goes past the capacity ${capacity}`,
      );
      return VIRTIO_BLK_S_IOERR;
    }
  }
  return VIRTIO_BLK_S_OK;
}

/** First sector of range `i`. */
export function rangeSector(ranges: DataView, i: number): number {
  return ranges.getUint32(16 * i, true) + ranges.getUint32(16 * i + 4, true) * 2 ** 32;
}

/** Sector count of range `i`. */
export function rangeSectors(ranges: DataView, i: number): number {
  return ranges.getUint32(16 * i + 8, true);
}
