import type { Core } from "./core/core.js";
import type { IoBus } from "./bus/io-bus.js";
import type { PostPort } from "./devices/post-port.js";
import type { ExitRecorder } from "./stats/exit-recorder.js";
import { CAUSE_CONSTANTS, EXIT_CAUSES, type ExitCause } from "./stats/exit-causes.js";

/** Accesses to one port or MMIO address, attributed to the device that claims it. */
export interface AddressCount {
  /** Port number or guest-physical address. */
  address: number;
  /** Device name, or "unclaimed". */
  device: string;
  reads: number;
  writes: number;
}

/** Totals per device (all of its ports or addresses together). */
export interface DeviceCount {
  device: string;
  reads: number;
  writes: number;
}

/** Accesses by width in bytes. */
export interface WidthCounts {
  1: number;
  2: number;
  4: number;
}

/** A count per interrupt/exception vector, IRQ line or virtqueue (only non-zero ones are listed). */
export interface VectorCount {
  vector: number;
  count: number;
}

/**
 * Exits by cause (docs/exits.md). Every number is deterministic: two runs of the same guest in
 * the deterministic clock mode give the same figures. Host time is elsewhere (HostTimeStats).
 */
export interface ExitStats {
  /** Guest exits: the sum of `byCause`. */
  total: number;
  /** pio-in, pio-out, mmio-read, mmio-write (notifies excluded), notify, interrupt, hlt. */
  byCause: Record<ExitCause, number>;
  /** Trapped accesses by width (notifies included, under the access they were). */
  widths: { pio: { in: WidthCounts; out: WidthCounts }; mmio: { read: WidthCounts; write: WidthCounts } };
  /**
   * Guest instructions retired between consecutive exits, as log2 buckets [min, max] (non-empty
   * buckets only); the first exit counts from the last counter reset.
   */
  instructionsBetween: { min: number; max: number; count: number }[];
  /** Virtqueue notifies by device and queue (queue -1: an index the device does not track). */
  notifies: { device: string; queue: number; count: number }[];
  /** Interrupts taken, by vector and by IRQ line (irq -1: the controller set no in-service bit). */
  interruptVectors: VectorCount[];
  irqLines: { irq: number; count: number }[];
  /** Not exits on VT-x/KVM, counted for the record: exceptions and software interrupts by vector. */
  exceptionVectors: VectorCount[];
  softwareInterrupts: VectorCount[];
  /** Times run() returned because the host asked (debug-exit, reset, stop()). */
  hostStops: number;
  /** Guest time the CPU spent halted, skipped or slept to the next timer deadline (ns). */
  idleNs: number;
}

/** A snapshot of the trap counters: what the guest did that reached the host. */
export interface TrapStats {
  /** Retired guest instructions. */
  instructions: number;
  /** Guest time since machine start (ns). */
  guestNs: number;
  pio: { reads: number; writes: number; ports: AddressCount[] };
  mmio: { reads: number; writes: number; untracked: number; addresses: AddressCount[] };
  devices: DeviceCount[];
  /** Exceptions delivered to the guest, and interrupts taken from the controller. */
  exceptions: number;
  interrupts: number;
  /** The last POST code written to port 0x80 (null before any) and how many were written. */
  postCode: { last: number | null; count: number };
  /** Guest writes to the firmware ROM, dropped. */
  romWrites: number;
  exits: ExitStats;
}

/** Where collectStats reads from: the core, the buses and the host's own counters. */
export interface StatsSources {
  core: Core;
  pio: IoBus;
  mmio: IoBus;
  post: PostPort;
  recorder: ExitRecorder;
  guestNs: number;
}

/** Read every counter from the core and attribute each address through the buses. */
export function collectStats({ core, pio, mmio, post, recorder, guestNs }: StatsSources): TrapStats {
  const ports: AddressCount[] = [];
  for (let port = 0; port < 0x10000; port++) {
    const [reads, writes] = core.portCounts(port);
    if (reads !== 0 || writes !== 0) {
      ports.push({ address: port, device: pio.find(port)?.device.name ?? "unclaimed", reads, writes });
    }
  }
  const addresses: AddressCount[] = [];
  for (const [address, [reads, writes]] of core.mmioCounts()) {
    addresses.push({ address, device: mmio.find(address)?.device.name ?? "unclaimed", reads, writes });
  }
  addresses.sort((a, b) => a.address - b.address);
  const byDevice = new Map<string, DeviceCount>();
  for (const c of [...ports, ...addresses]) {
    const d = byDevice.get(c.device) ?? { device: c.device, reads: 0, writes: 0 };
    d.reads += c.reads;
    d.writes += c.writes;
    byDevice.set(c.device, d);
  }
  return {
    instructions: core.instructions,
    guestNs,
    pio: { reads: core.ctl("C_PIO_IN"), writes: core.ctl("C_PIO_OUT"), ports },
    mmio: {
      reads: core.ctl("C_MMIO_READ"),
      writes: core.ctl("C_MMIO_WRITE"),
      untracked: core.ctl("C_MMIO_UNTRACKED"),
      addresses,
    },
    devices: [...byDevice.values()].sort((a, b) => b.reads + b.writes - (a.reads + a.writes)),
    exceptions: core.ctl("C_EXC_COUNT"),
    interrupts: core.ctl("C_IRQ_COUNT"),
    postCode: { last: post.lastCode < 0 ? null : post.lastCode, count: post.count },
    romWrites: core.ctl("C_ROM_WRITES"),
    exits: collectExits(core, recorder),
  };
}

function collectExits(core: Core, recorder: ExitRecorder): ExitStats {
  const causes = core.ctlWords("C_CAUSE_COUNTS", core.at("EXIT_CAUSES"));
  const byCause = {} as Record<ExitCause, number>;
  let total = 0;
  for (const name of EXIT_CAUSES) {
    const n = causes[core.at(CAUSE_CONSTANTS[name])]!;
    byCause[name] = n;
    total += n;
  }
  const w = core.ctlWords("C_WIDTH_COUNTS", 12);
  const widths = (kind: number): WidthCounts => ({
    1: w[kind * 3]!,
    2: w[kind * 3 + 1]!,
    4: w[kind * 3 + 2]!,
  });
  const instructionsBetween: ExitStats["instructionsBetween"] = [];
  core.ctlWords("C_GAP_HISTOGRAM", core.at("GAP_BUCKETS")).forEach((count, b) => {
    if (count !== 0)
      instructionsBetween.push({ min: b === 0 ? 0 : 2 ** (b - 1), max: b === 0 ? 0 : 2 ** b - 1, count });
  });
  return {
    total,
    byCause,
    widths: { pio: { in: widths(0), out: widths(1) }, mmio: { read: widths(2), write: widths(3) } },
    instructionsBetween,
    notifies: recorder.notifyCounts(),
    interruptVectors: nonZero(core.ctlWords("C_IRQ_VECTORS", 256)),
    irqLines: recorder.irqLines.flatMap((count, i) =>
      count === 0 ? [] : [{ irq: i === 16 ? -1 : i, count }],
    ),
    exceptionVectors: nonZero(core.ctlWords("C_EXC_VECTORS", 256)),
    softwareInterrupts: nonZero(core.ctlWords("C_SOFT_INT_VECTORS", 256)),
    hostStops: causes[core.at("EXIT_HOST_STOP")]!,
    idleNs: recorder.idleNs,
  };
}

function nonZero(counts: Uint32Array): VectorCount[] {
  const out: VectorCount[] = [];
  counts.forEach((count, vector) => {
    if (count !== 0) out.push({ vector, count });
  });
  return out;
}
