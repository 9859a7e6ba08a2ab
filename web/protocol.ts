/**
 * Messages between the page (web/main.ts) and the VM worker (web/vm-worker.ts).
 */
import type {
  HostTimeStats,
  IrqOwner,
  RunOutcome,
  StatsPoint,
  TrapStats,
  VirtioDeviceStats,
} from "../src/index.js";
import type { OverlayStats } from "../src/disk/index.js";

export type { OverlayStats, RunOutcome, TrapStats };

/** Guest accesses to one MMIO region: a 4 KiB page of a device's mapping (e.g. a virtio-pci capability). */
export interface MmioRegionCount {
  device: string;
  /** Guest-physical address of the region, and its offset in the device's mapping. */
  address: number;
  offset: number;
  reads: number;
  writes: number;
}

/** One update of the live dashboard (web/dashboard.ts), taken between run slices. */
export interface DashboardSample {
  /** What changed since the previous sample (exact counts; hostDeltaMs is measured). */
  point: StatsPoint;
  /** The counters since machine start. */
  stats: TrapStats;
  /** stats.mmio.addresses grouped by region. */
  mmioRegions: MmioRegionCount[];
  /** Measured host time per exit class (sampled), kept apart from the counters. */
  host: HostTimeStats;
  /** The device on each IRQ line, to attribute interrupts. */
  irqOwners: IrqOwner[];
  /** Each virtio device's counters and virtqueues. */
  virtio: VirtioDeviceStats[];
}

/** A disk for the guest's /dev/vda (virtio-blk). */
export type DiskSpec = (
  | {
      /** A local image the user picked: read-only, under a copy-on-write overlay in memory. */
      kind: "file";
      file: File;
    }
  | {
      /** A persistent image in the origin private file system (OPFS), read and written in place. */
      kind: "opfs";
      name: string;
    }
) & {
  /** The virtio-pci transport (see DriveOptions.transport). */
  transport: "modern" | "transitional";
};

/** The attached disk, as the worker opened it. */
export interface DiskInfo {
  kind: DiskSpec["kind"];
  name: string;
  /** Bytes. */
  size: number;
  transport: DiskSpec["transport"];
  /** What the copy-on-write overlay holds (kind "file"). */
  overlay?: OverlayStats;
}

/** What to boot. URLs are absolute; the worker fetches them. */
export type GuestSpec =
  | {
      kind: "multiboot";
      /** A Multiboot ELF or a.out-kludge binary. */
      kernelUrl: string;
      cmdline: string;
    }
  | {
      kind: "linux";
      /** A bzImage. */
      kernelUrl: string;
      initrdUrl: string;
      cmdline: string;
    };

/** Page → worker. */
export type ToWorker =
  | {
      type: "boot";
      guest: GuestSpec;
      /** Guest RAM, QEMU style ("64M"). */
      memory: string;
      /** Guest time: follows the host clock, or retired instructions (see MachineOptions.clock). */
      clock: "realtime" | "deterministic";
      /** A disk to attach as /dev/vda, if any. */
      disk?: DiskSpec;
    }
  /** Stop the machine and close its disk; the worker answers "stopped". */
  | { type: "stop" }
  /** Keys typed or text pasted into the terminal, as xterm.js's onData gives them. */
  | { type: "input"; data: string }
  /** Start or stop sending dashboard samples (a few per second while on). */
  | { type: "dashboard"; on: boolean };

/** Worker → page. */
export type FromWorker =
  /** The worker is fetching the guest images. */
  | { type: "loading"; what: string }
  | { type: "serial"; bytes: Uint8Array }
  | {
      type: "status";
      state: "running" | "exited";
      /** Why the run ended (with state "exited"). */
      outcome?: RunOutcome;
      /** Retired guest instructions so far. */
      instructions: number;
      /** Guest time since machine start, in ns. */
      guestNs: number;
      /** The worker's performance.now() when it took these figures (for instructions per second). */
      hostMs: number;
    }
  | { type: "stats"; stats: TrapStats }
  | { type: "dashboard"; sample: DashboardSample }
  /** The disk is open (sent again with fresh overlay figures while the guest runs). */
  | { type: "disk"; disk: DiskInfo }
  /** The machine has stopped and its disk is closed (after a "stop"). */
  | { type: "stopped" }
  | { type: "error"; message: string };
