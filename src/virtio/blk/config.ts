/*
 * virtio-blk feature bits (virtio 1.2 §5.2.3) and the device configuration layout (§5.2.4,
 * struct virtio_blk_config as Linux 6.1 declares it: 72 bytes, little-endian).
 */
import { SECTOR_SIZE } from "../../disk/backend.js";

export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_TOPOLOGY = 10;
export const VIRTIO_BLK_F_CONFIG_WCE = 11;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;

/** Field offsets in struct virtio_blk_config (§5.2.4). */
export const BLK_CFG_CAPACITY = 0; // le64
export const BLK_CFG_SIZE_MAX = 8; // le32
export const BLK_CFG_SEG_MAX = 12; // le32
export const BLK_CFG_BLK_SIZE = 20; // le32
export const BLK_CFG_PHYSICAL_BLOCK_EXP = 24; // u8
export const BLK_CFG_ALIGNMENT_OFFSET = 25; // u8
export const BLK_CFG_MIN_IO_SIZE = 26; // le16
export const BLK_CFG_OPT_IO_SIZE = 28; // le32
export const BLK_CFG_WRITEBACK = 32; // u8, driver-writable with CONFIG_WCE
export const BLK_CFG_MAX_DISCARD_SECTORS = 36; // le32
export const BLK_CFG_MAX_DISCARD_SEG = 40; // le32
export const BLK_CFG_DISCARD_SECTOR_ALIGNMENT = 44; // le32
export const BLK_CFG_MAX_WRITE_ZEROES_SECTORS = 48; // le32
export const BLK_CFG_MAX_WRITE_ZEROES_SEG = 52; // le32
export const BLK_CFG_WRITE_ZEROES_MAY_UNMAP = 56; // u8
/** Device config bytes (Linux 6.1's struct ends after the secure-erase fields, which we leave 0). */
export const VIRTIO_BLK_CONFIG_SIZE = 72;

/** Largest data segment we advertise (size_max). */
export const VIRTIO_BLK_SIZE_MAX = 1 << 20;

/**
 * TOPOLOGY (§5.2.4 struct virtio_blk_topology): hints in logical blocks (blk_size = 512 here).
 * Linux 6.1 turns them into physical_block_size = 512 << physicalBlockExp, alignment_offset,
 * minimum_io_size and optimal_io_size (each × 512) under /sys/block/vdX/queue.
 */
export interface BlkTopology {
  /** log2 of logical blocks per physical block (u8). */
  physicalBlockExp: number;
  /** Offset of the first aligned logical block (u8). */
  alignmentOffset: number;
  /** Suggested minimum I/O size in blocks (le16). */
  minIoSize: number;
  /** Optimal (suggested maximum) I/O size in blocks (le32). */
  optIoSize: number;
}

/** A host image file on a 4 KiB-block filesystem: 4 KiB physical blocks, 128 KiB optimal I/O. */
export const DEFAULT_TOPOLOGY: Readonly<BlkTopology> = {
  physicalBlockExp: 3,
  alignmentOffset: 0,
  minIoSize: 8,
  optIoSize: 256,
};

/** DISCARD / WRITE_ZEROES limits (§5.2.4), in 512-byte sectors and segments per request. */
export interface BlkRangeLimits {
  maxDiscardSectors: number;
  maxDiscardSeg: number;
  /** Linux 6.1 uses it as the discard granularity. */
  discardSectorAlignment: number;
  maxWriteZeroesSectors: number;
  maxWriteZeroesSeg: number;
}

/**
 * 4 MiB per range and 32 ranges per request (Linux 6.1 caps discard ranges at 256); discard in
 * 4 KiB units, like the physical block size above.
 */
export const DEFAULT_RANGE_LIMITS: Readonly<BlkRangeLimits> = {
  maxDiscardSectors: 8192,
  maxDiscardSeg: 32,
  discardSectorAlignment: 8,
  maxWriteZeroesSectors: 8192,
  maxWriteZeroesSeg: 32,
};

/** Throw a RangeError unless the topology fields fit their config widths. */
export function checkTopology(t: BlkTopology): void {
  const fits = (v: number, max: number) => Number.isInteger(v) && v >= 0 && v <= max;
  if (
    !fits(t.physicalBlockExp, 15) ||
    !fits(t.alignmentOffset, 0xff) ||
    !fits(t.minIoSize, 0xffff) ||
    !fits(t.optIoSize, 0xffffffff)
  ) {
    throw new RangeError(`virtio-blk topology ${JSON.stringify(t)} does not fit struct virtio_blk_topology`);
  }
}

/** Throw a RangeError unless the limits fit their le32 fields; at most 4096 ranges per request. */
export function checkRangeLimits(l: BlkRangeLimits): void {
  const fits = (v: number, min: number, max: number) => Number.isInteger(v) && v >= min && v <= max;
  if (
    !fits(l.maxDiscardSectors, 1, 0xffffffff) ||
    !fits(l.maxWriteZeroesSectors, 1, 0xffffffff) ||
    !fits(l.discardSectorAlignment, 0, 0xffffffff) ||
    !fits(l.maxDiscardSeg, 1, 4096) ||
    !fits(l.maxWriteZeroesSeg, 1, 4096)
  ) {
    throw new RangeError(`virtio-blk range limits ${JSON.stringify(l)} are out of range`);
  }
}

/** The device config bytes for a disk of `bytes` bytes with `segMax` data segments per request. */
export function buildBlkConfig(
  bytes: number,
  segMax: number,
  topology: BlkTopology,
  limits: BlkRangeLimits,
): Uint8Array {
  const config = new Uint8Array(VIRTIO_BLK_CONFIG_SIZE);
  const c = new DataView(config.buffer);
  const sectors = bytes / SECTOR_SIZE;
  c.setUint32(BLK_CFG_CAPACITY, sectors >>> 0, true);
  c.setUint32(BLK_CFG_CAPACITY + 4, Math.floor(sectors / 2 ** 32), true);
  c.setUint32(BLK_CFG_SIZE_MAX, VIRTIO_BLK_SIZE_MAX, true);
  c.setUint32(BLK_CFG_SEG_MAX, segMax, true);
  c.setUint32(BLK_CFG_BLK_SIZE, SECTOR_SIZE, true);
  c.setUint8(BLK_CFG_PHYSICAL_BLOCK_EXP, topology.physicalBlockExp);
  c.setUint8(BLK_CFG_ALIGNMENT_OFFSET, topology.alignmentOffset);
  c.setUint16(BLK_CFG_MIN_IO_SIZE, topology.minIoSize, true);
  c.setUint32(BLK_CFG_OPT_IO_SIZE, topology.optIoSize, true);
  c.setUint8(BLK_CFG_WRITEBACK, 1); // §5.2.5: the mode after reset is ours to choose: writeback
  c.setUint32(BLK_CFG_MAX_DISCARD_SECTORS, limits.maxDiscardSectors, true);
  c.setUint32(BLK_CFG_MAX_DISCARD_SEG, limits.maxDiscardSeg, true);
  c.setUint32(BLK_CFG_DISCARD_SECTOR_ALIGNMENT, limits.discardSectorAlignment, true);
  c.setUint32(BLK_CFG_MAX_WRITE_ZEROES_SECTORS, limits.maxWriteZeroesSectors, true);
  c.setUint32(BLK_CFG_MAX_WRITE_ZEROES_SEG, limits.maxWriteZeroesSeg, true);
  // §5.2.6.2: write_zeroes_may_unmap is 0 iff WRITE_ZEROES never deallocates; our backends write
  // zeros in place, so it stays 0.
  c.setUint8(BLK_CFG_WRITE_ZEROES_MAY_UNMAP, 0);
  return config;
}
