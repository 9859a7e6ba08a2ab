/**
 * The per-cause figures of one bench workload, taken from the counters the machine has today:
 * `machine.stats()` (port I/O and MMIO accesses per address, attributed to devices; interrupts
 * the CPU took) and the disk devices' own counters (virtio: kicks, requests, interrupts; IDE:
 * interrupts; bus master transfers). Everything that reads counters is in this file, so that a
 * richer exit-accounting API can replace it without touching the bench.
 */
import type { Machine } from "../machine.js";
import type { TrapStats } from "../stats.js";
import type { IoConfig } from "./io-configs.js";
import { EXIT_CAUSES, type ExitCause } from "../stats/exit-causes.js";
import { modelExitCosts } from "../stats/cost-model.js";

/** ATA Command register of the primary channel (ATA/ATAPI-6 §7.1: a write starts a command). */
const ATA_COMMAND_PORT = 0x1f7;

/** Counter readings at one moment (absolute), or the difference of two (a workload's share). */
export interface IoCounters {
  /** Guest time (ns) on the machine clock. */
  guestNs: number;
  /** Host wall time (ns). */
  hostNs: number;
  instructions: number;
  /** Port I/O accesses (each one a trap) to the disk's devices. */
  diskPio: number;
  /** MMIO accesses (each one a trap) to the disk's devices. */
  diskMmio: number;
  /**
   * Doorbell writes: virtio queue notifications (kicks, §4.1.4.4 / legacy QUEUE_NOTIFY), or
   * writes of the ATA Command register. Part of diskPio or diskMmio.
   */
  notify: number;
  /** Port I/O and MMIO accesses to every device (timer, serial console, PCI config, ...). */
  allExits: number;
  /** Disk requests: virtio descriptor chains processed, or ATA commands. */
  requests: number;
  /** Interrupts the disk raised. */
  interrupts: number;
  /** Interrupts the CPU took from the interrupt controller (all devices). */
  cpuInterrupts: number;
  /** Guest exits of every device by cause (docs/exits.md), the cost model's input. */
  byCause: Record<ExitCause, number>;
}

function sumAccesses(list: TrapStats["pio"]["ports"], names: readonly string[]): number {
  let n = 0;
  for (const e of list) if (names.includes(e.device)) n += e.reads + e.writes;
  return n;
}

/**
 * Read every counter the bench uses, now. `hostNs` is the wall-clock reading to record: the
 * caller takes it after the reading that starts a measurement and before the one that ends it,
 * so the cost of reading the counters stays outside.
 */
export function readIoCounters(m: Machine, config: IoConfig, hostNs: number): IoCounters {
  const s = m.stats();
  const diskPio = sumAccesses(s.pio.ports, config.deviceNames);
  const diskMmio = sumAccesses(s.mmio.addresses, config.deviceNames);
  let notify: number;
  let requests: number;
  let interrupts: number;
  const vd = m.drives[0];
  if (vd !== undefined) {
    notify = vd.counters.kicks;
    requests = vd.counters.requests;
    interrupts = vd.counters.interrupts;
  } else {
    const ide = m.ide;
    if (ide === undefined) throw new Error(`bench io: configuration ${config.name} has no disk`);
    notify = s.pio.ports.find((p) => p.address === ATA_COMMAND_PORT)?.writes ?? 0;
    requests = notify;
    interrupts = ide.channels[0].interrupts;
  }
  return {
    guestNs: m.clock.now(),
    hostNs,
    instructions: s.instructions,
    diskPio,
    diskMmio,
    notify,
    allExits: s.pio.reads + s.pio.writes + s.mmio.reads + s.mmio.writes,
    requests,
    interrupts,
    cpuInterrupts: s.interrupts,
    byCause: { ...s.exits.byCause },
  };
}

/** after − before, field by field. */
export function subtractCounters(after: IoCounters, before: IoCounters): IoCounters {
  const byCause = {} as Record<ExitCause, number>;
  for (const c of EXIT_CAUSES) byCause[c] = after.byCause[c] - before.byCause[c];
  const d = { byCause } as IoCounters;
  for (const k of Object.keys(after) as (keyof IoCounters)[]) {
    if (k !== "byCause") d[k] = after[k] - before[k];
  }
  return d;
}

/**
 * What these exits (all devices, by cause) would cost on KVM, in ns per MiB moved, from the exit
 * cost model (src/stats/cost-model.ts, docs/cost-model.md): a model, never a measurement.
 */
export function modeledKvmNsPerMib(
  delta: IoCounters,
  bytes: number,
): { inKernel: number; userspace: number } {
  const mib = bytes / (1024 * 1024);
  const costs = modelExitCosts({ byCause: delta.byCause });
  const us = (id: string) => costs.find((c) => c.profile === id)!.totalUs;
  return { inKernel: (us("kvm-in-kernel") * 1000) / mib, userspace: (us("kvm-userspace") * 1000) / mib };
}
