/**
 * Host time spent handling exits, by class: measured (performance.now(), which works in Node and
 * in a Worker), never part of the deterministic counters. Reading the clock costs about 90 ns in
 * Node 20 on our development VM, as much as a cheap exit itself, so by default only one exit in N
 * is timed (docs/exits.md has the measurements). Which exits are timed is drawn from a fixed-seed
 * xorshift generator: the same exits in every run, and no aliasing with a guest whose exits come in
 * a fixed pattern (a plain "every Nth" would time only the LSR reads of a serial loop).
 */
import { EXIT_CAUSES, type ExitCause } from "./exit-causes.js";

/** Exit classes the host times: the bus dispatch of each kind of trap (HLT has none). */
export type HostTimeClass = Exclude<ExitCause, "hlt">;
export const HOST_TIME_CLASSES: readonly HostTimeClass[] = EXIT_CAUSES.filter(
  (c): c is HostTimeClass => c !== "hlt",
);
export const HT_PIO_IN = 0;
export const HT_PIO_OUT = 1;
export const HT_MMIO_READ = 2;
export const HT_MMIO_WRITE = 3;
export const HT_NOTIFY = 4;
export const HT_INTERRUPT = 5;

/** Default: time one exit in this many. */
export const DEFAULT_HOST_TIME_SAMPLING = 64;

export interface HostTimeClassStats {
  /** Exits of this class that were timed. */
  sampled: number;
  /** Host ns the timed exits took, in total. */
  ns: number;
  /** ns per timed exit (null when none was timed). */
  meanNs: number | null;
}

/** Measured host time: varies from run to run, kept apart from the counters (TrapStats). */
export interface HostTimeStats {
  /** One exit in `sampleEvery` is timed (1: every exit; 0: timing off). */
  sampleEvery: number;
  /** Host time inside the bus dispatch of each exit class, from the timed exits. */
  exits: Record<HostTimeClass, HostTimeClassStats>;
  /** Host ms spent in the core's run() (guest code and every exit handled inside it). */
  runMs: number;
}

/** The generator's seed (any non-zero value). */
const SAMPLER_SEED = 0x2545f491;

export class HostTimer {
  private rng = SAMPLER_SEED;
  private readonly sampled = new Float64Array(HOST_TIME_CLASSES.length);
  private readonly ns = new Float64Array(HOST_TIME_CLASSES.length);
  runMs = 0;

  /** @param every time one exit in `every` (1: all, 0: none). */
  constructor(readonly every: number = DEFAULT_HOST_TIME_SAMPLING) {
    if (!Number.isInteger(every) || every < 0)
      throw new RangeError(`host-time sampling must be a non-negative integer, got ${every}`);
  }

  /** Start of an exit's dispatch: a timestamp when this exit is timed, else -1. */
  start(): number {
    if (this.every <= 1) return this.every === 0 ? -1 : performance.now();
    // xorshift32 (Marsaglia, "Xorshift RNGs", J. Stat. Softw. 8(14), 2003), shifts 13/17/5.
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    return (x >>> 0) % this.every === 0 ? performance.now() : -1;
  }

  /** End of the dispatch of an exit whose `start` returned `t0`. */
  stop(t0: number, cls: number): void {
    this.ns[cls]! += (performance.now() - t0) * 1e6;
    this.sampled[cls]!++;
  }

  snapshot(): HostTimeStats {
    const exits = {} as Record<HostTimeClass, HostTimeClassStats>;
    HOST_TIME_CLASSES.forEach((name, i) => {
      const sampled = this.sampled[i]!;
      const ns = this.ns[i]!;
      exits[name] = { sampled, ns: Math.round(ns), meanNs: sampled === 0 ? null : Math.round(ns / sampled) };
    });
    return { sampleEvery: this.every, exits, runMs: Math.round(this.runMs * 1000) / 1000 };
  }

  reset(): void {
    this.sampled.fill(0);
    this.ns.fill(0);
    this.runMs = 0;
    this.rng = SAMPLER_SEED;
  }
}
