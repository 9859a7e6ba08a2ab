/**
 * A time series of the trap counters: each point is what changed since the previous one (the CLI's
 * --stats-interval, a dashboard's chart). Plain objects, no Node imports: it runs in a Worker too.
 */
import type { TrapStats } from "../stats.js";
import { EXIT_CAUSES, type ExitCause } from "./exit-causes.js";

/** What happened between two points. Counts are deltas; `hostMs` is measured, the rest exact. */
export interface StatsPoint {
  /** Host ms since the series started, and since the previous point. */
  hostMs: number;
  hostDeltaMs: number;
  /** Guest time and instructions in this interval. */
  guestNs: number;
  instructions: number;
  /** Exits in this interval, in total and by cause. */
  exits: number;
  byCause: Record<ExitCause, number>;
  /** Accesses per device in this interval (devices with none are left out). */
  devices: { device: string; reads: number; writes: number }[];
  /** Interrupts per IRQ line and notifies per device and queue in this interval (non-zero only). */
  irqLines: { irq: number; count: number }[];
  notifies: { device: string; queue: number; count: number }[];
}

export class StatsSeries {
  private last: TrapStats;
  private readonly started: number;
  private lastHost: number;

  /**
   * @param snapshot takes a counter snapshot (Machine.stats)
   * @param hostNow host ms (default performance.now)
   */
  constructor(
    private readonly snapshot: () => TrapStats,
    private readonly hostNow: () => number = () => performance.now(),
  ) {
    this.last = snapshot();
    this.started = this.lastHost = hostNow();
  }

  /** The deltas since the previous call (or since the series started). */
  next(): StatsPoint {
    const now = this.snapshot();
    const host = this.hostNow();
    const prev = this.last;
    const byCause = {} as Record<ExitCause, number>;
    for (const c of EXIT_CAUSES) byCause[c] = now.exits.byCause[c] - prev.exits.byCause[c];
    const point: StatsPoint = {
      hostMs: round3(host - this.started),
      hostDeltaMs: round3(host - this.lastHost),
      guestNs: now.guestNs - prev.guestNs,
      instructions: now.instructions - prev.instructions,
      exits: now.exits.total - prev.exits.total,
      byCause,
      devices: changed(
        now.devices,
        prev.devices,
        (d) => d.device,
        (d, p) => ({
          device: d.device,
          reads: d.reads - (p?.reads ?? 0),
          writes: d.writes - (p?.writes ?? 0),
        }),
        (d) => d.reads !== 0 || d.writes !== 0,
      ),
      irqLines: changed(
        now.exits.irqLines,
        prev.exits.irqLines,
        (l) => String(l.irq),
        (l, p) => ({ irq: l.irq, count: l.count - (p?.count ?? 0) }),
        (l) => l.count !== 0,
      ),
      notifies: changed(
        now.exits.notifies,
        prev.exits.notifies,
        (n) => `${n.device}/${n.queue}`,
        (n, p) => ({ device: n.device, queue: n.queue, count: n.count - (p?.count ?? 0) }),
        (n) => n.count !== 0,
      ),
    };
    this.last = now;
    this.lastHost = host;
    return point;
  }
}

/** Entries of `now` minus the matching entries of `prev` (by key), keeping those `keep` accepts. */
function changed<T, D>(
  now: readonly T[],
  prev: readonly T[],
  key: (t: T) => string,
  minus: (t: T, p: T | undefined) => D,
  keep: (d: D) => boolean,
): D[] {
  const before = new Map(prev.map((p) => [key(p), p]));
  return now.map((t) => minus(t, before.get(key(t)))).filter(keep);
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
