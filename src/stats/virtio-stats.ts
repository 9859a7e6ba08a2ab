/**
 * A virtio device's transport counters and the state of its split virtqueues, read without side
 * effects (nothing here touches a ring's state or raises a diagnostic), for a dashboard or a report.
 */
import type { VirtioPciDevice } from "../virtio/pci.js";

/** One split virtqueue (virtio 1.2 §2.7) as the device sees it now. */
export interface VirtqueueStats {
  queue: number;
  /** Queue size (entries) and whether the driver enabled it. */
  size: number;
  ready: boolean;
  /**
   * Heads the driver has made available and the device has not taken yet: avail.idx (read from
   * guest RAM, §2.7.6) minus the device's last seen index; null when the ring is not usable
   * (not ready, or outside guest RAM).
   */
  availDepth: number | null;
  /** Heads the device has taken and not completed yet (asynchronous backends). */
  inFlight: number;
  /** The device's free-running indexes: next avail entry to take, next used entry to write. */
  lastAvail: number;
  usedIdx: number;
}

export interface VirtioDeviceStats {
  device: string;
  transport: "modern" | "transitional";
  /** The transport's counters (VirtioPciDevice.counters): kicks, requests, interrupts, ... */
  counters: VirtioPciDevice["counters"];
  queues: VirtqueueStats[];
}

/** The counters and queue state of `dev`. */
export function virtioStats(dev: VirtioPciDevice): VirtioDeviceStats {
  return {
    device: dev.name,
    transport: dev.transport,
    counters: { ...dev.counters },
    queues: dev.queues.map((q, i) => ({
      queue: i,
      size: q.size,
      ready: q.ready,
      availDepth: availDepth(q.ram, q.ready, q.avail, q.availHi, q.lastAvail, q.size),
      inFlight: dev.inFlightCount(i),
      lastAvail: q.lastAvail,
      usedIdx: q.usedIdx,
    })),
  };
}

/** avail.idx − last seen index (mod 2^16), if the avail ring's idx field lies in guest RAM. */
function availDepth(
  ram: Uint8Array,
  ready: boolean,
  avail: number,
  availHi: number,
  lastAvail: number,
  size: number,
): number | null {
  // struct virtq_avail { le16 flags; le16 idx; ... } (§2.7.6): idx is at offset 2.
  if (!ready || availHi !== 0 || avail + 4 > ram.length) return null;
  const idx = ram[avail + 2]! | (ram[avail + 3]! << 8);
  const n = (idx - lastAvail) & 0xffff;
  // A driver that moved idx more than a queue's worth ahead is broken; the device reports that (VQ14).
  return n <= size ? n : null;
}
