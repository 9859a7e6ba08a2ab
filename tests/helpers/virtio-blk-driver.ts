// A register-level virtio-blk driver for tests: initialises a VirtioBlk over a MemoryDisk on the
// modern transport like a driver does (virtio 1.2 §3.1.1, §4.1.4) and queues hand-built requests
// (§5.2.6) in a 16-entry split queue at fixed guest addresses.
import type { IoDevice } from "../../src/bus/device.js";
import type { GuestClock } from "../../src/clock.js";
import { MemoryDisk } from "../../src/disk/memory-disk.js";
import { PCI_COMMAND, PCI_COMMAND_MASTER } from "../../src/pci/config-space.js";
import {
  VirtioBlk,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  type BlkFaultEvent,
  type BlkFaultRule,
} from "../../src/virtio/blk.js";
import type { VirtioPciDevice } from "../../src/virtio/pci.js";
import { idleCore, ramView } from "./core-ram.js";

// Virtqueues are processed by the core, so device RAM must be a core's RAM, and each device takes
// one of its core's virtqueue slots for good. A small pool of idle cores, handed out in turn (RAM
// cleared), gives each setup fresh RAM and keeps a file's slots from running out.
const POOL = await Promise.all(Array.from({ length: 4 }, () => idleCore(1 << 20)));
let nextCore = 0;

/** Fresh (zeroed) guest RAM of 1 MiB inside an idle core. */
export function freshRam(): Uint8Array {
  const ram = POOL[nextCore++ % POOL.length]!.ram;
  return ram.fill(0);
}

export const DESC = 0x1000,
  AVAIL = 0x2000,
  USED = 0x3000,
  BUF = 0x10000;
/** Disk size: 128 sectors. */
export const DISK_BYTES = 64 * 1024;

export interface BlkSetupOptions {
  readOnly?: boolean;
  mode?: "strict" | "lenient";
  /** Driver features to accept, [lo, hi] (default: everything offered). */
  features?: [number, number];
  /** Features bits (0-31) to leave out of what the device offers. */
  without?: number[];
  faults?: BlkFaultRule[];
  clock?: GuestClock;
  onFault?: (e: BlkFaultEvent) => void;
}

/** A VirtioBlk over a patterned MemoryDisk, initialised through its registers. */
export function setupBlk(opts: BlkSetupOptions = {}) {
  const ram = freshRam();
  const disk = new MemoryDisk(DISK_BYTES);
  disk.bytes.forEach((_, i) => (disk.bytes[i] = (i * 7 + (i >> 9)) & 0xff));
  const dev = new VirtioBlk({
    backend: disk,
    ram,
    readOnly: opts.readOnly,
    mode: opts.mode,
    queueSize: 16,
    faults: opts.faults,
    clock: opts.clock,
    onFault: opts.onFault,
  });
  return { ...driveDevice(ram, dev, opts), disk };
}

/** Initialise any virtio-pci device (modern transport, queue 0 of 16 entries) as a driver would. */
export function driveDevice<D extends VirtioPciDevice>(
  ram: Uint8Array,
  dev: D,
  opts: { features?: [number, number]; without?: number[] } = {},
) {
  const v = ramView(ram);
  dev.config.set16(PCI_COMMAND, PCI_COMMAND_MASTER);
  const bar = dev.bars[4]!.device as IoDevice;
  const w = (off: number, width: 1 | 2 | 4, val: number) => bar.write(off, width, val);
  const r = (off: number, width: 1 | 2 | 4) => bar.read(off, width);
  // §3.1.1 initialisation
  w(0x14, 1, 0);
  w(0x14, 1, 1);
  w(0x14, 1, 3);
  w(0x00, 4, 0);
  let f0 = r(0x04, 4);
  for (const bit of opts.without ?? []) f0 &= ~(1 << bit);
  w(0x00, 4, 1);
  const f1 = r(0x04, 4);
  w(0x08, 4, 0);
  w(0x0c, 4, opts.features?.[0] ?? f0 >>> 0);
  w(0x08, 4, 1);
  w(0x0c, 4, opts.features?.[1] ?? f1);
  w(0x14, 1, 0xb);
  const featuresOk = (r(0x14, 1) & 8) !== 0;
  w(0x16, 2, 0);
  w(0x18, 2, 16);
  w(0x20, 4, DESC);
  w(0x24, 4, 0);
  w(0x28, 4, AVAIL);
  w(0x2c, 4, 0);
  w(0x30, 4, USED);
  w(0x34, 4, 0);
  w(0x1c, 2, 1);
  w(0x14, 1, 0xf);
  let availIdx = 0;
  let next = 0;
  const desc = (addr: number, len: number, flags: number, nxt: number) => {
    const i = next++ % 16;
    v.setUint32(DESC + 16 * i, addr, true);
    v.setUint32(DESC + 16 * i + 4, 0, true);
    v.setUint32(DESC + 16 * i + 8, len, true);
    v.setUint16(DESC + 16 * i + 12, flags, true);
    v.setUint16(DESC + 16 * i + 14, nxt, true);
    return i;
  };
  /** Queue a request: header, data (dir by type), status; returns { head, status address }. */
  const request = (type: number, sector: number, dataLen: number, dataAt: number, dataWritable?: boolean) => {
    const hdr = BUF + 0x8000 + (next % 16) * 32;
    v.setUint32(hdr, type, true);
    v.setUint32(hdr + 4, 0, true);
    v.setUint32(hdr + 8, sector, true);
    v.setUint32(hdr + 12, 0, true);
    const status = hdr + 16;
    ram[status] = 0xff;
    const h = next % 16;
    const writable = dataWritable ?? (type === VIRTIO_BLK_T_IN || type === VIRTIO_BLK_T_GET_ID);
    if (dataLen > 0) {
      desc(hdr, 16, 1, (h + 1) % 16);
      desc(dataAt, dataLen, 1 | (writable ? 2 : 0), (h + 2) % 16);
    } else desc(hdr, 16, 1, (h + 1) % 16);
    desc(status, 1, 2, 0);
    v.setUint16(AVAIL + 4 + 2 * (availIdx % 16), h, true);
    availIdx++;
    v.setUint16(AVAIL + 2, availIdx, true);
    return { head: h, status };
  };
  /** Write DISCARD / WRITE_ZEROES ranges { le64 sector; le32 num_sectors; le32 flags } at `at`. */
  const ranges = (at: number, list: [sector: number, count: number, flags: number][]) => {
    list.forEach(([sector, count, flags], i) => {
      v.setUint32(at + 16 * i, sector, true);
      v.setUint32(at + 16 * i + 4, 0, true);
      v.setUint32(at + 16 * i + 8, count, true);
      v.setUint32(at + 16 * i + 12, flags, true);
    });
    return 16 * list.length;
  };
  const kick = () => w(0x3000, 2, 0);
  const isr = () => r(0x1000, 1);
  /** The used ring's element k: { id, len }. */
  const used = (k: number) => ({
    id: v.getUint32(USED + 4 + 8 * k, true),
    len: v.getUint32(USED + 8 + 8 * k, true),
  });
  return {
    ram,
    v,
    dev,
    w,
    r,
    request,
    ranges,
    kick,
    isr,
    used,
    featuresOk,
    usedIdx: () => v.getUint16(USED + 2, true),
  };
}
