/**
 * The exit trace: the core writes each exit into a bounded ring in its memory (no allocation per
 * exit; assembly/exits.ts); this file decodes the ring into events, oldest first, and prints them
 * as JSON lines, one event per line like QEMU's trace backends.
 */
import type { Core } from "../core/core.js";
import type { IoBus } from "../bus/io-bus.js";
import { causeNames, type EventCause, type ExitCause } from "./exit-causes.js";

/** One traced exit or event. */
export interface TraceEvent {
  /** Cause (docs/exits.md). */
  event: ExitCause | EventCause;
  /** Guest time (ns since machine start) and retired instructions when it happened. */
  guestNs: number;
  instructions: number;
  /** Port (pio-*, notify through a port), physical address (mmio-*, notify through MMIO). */
  port?: number;
  address?: number;
  /** Access width in bytes and the value read or written. */
  width?: number;
  value?: number;
  /** The device that claims the port or address ("unclaimed" when none). */
  device?: string;
  /** notify: the virtqueue; interrupt: the IRQ line (absent when the controller did not say). */
  queue?: number;
  irq?: number;
  /** interrupt, exception: the vector. */
  vector?: number;
}

export interface TraceSnapshot {
  /** Events in the ring, oldest first. */
  events: TraceEvent[];
  /** Events recorded since the last clear; those beyond the ring's size were overwritten. */
  recorded: number;
  dropped: number;
}

/** Decode the core's trace ring; devices are named through the buses. */
export function readTrace(core: Core, pio: IoBus, mmio: IoBus): TraceSnapshot {
  const size = core.traceSize;
  const recorded = core.ctl("C_TRACE_COUNT");
  if (size === 0) return { events: [], recorded, dropped: recorded };
  const names = causeNames((n) => core.at(n));
  const w = core.traceWords();
  const n = Math.min(recorded, size);
  const first = recorded > size ? recorded % size : 0;
  const events: TraceEvent[] = [];
  for (let k = 0; k < n; k++) {
    const i = ((first + k) % size) * 8;
    // Only the core writes the ring, always with a valid cause code.
    const cause = names[w[i]! & 0xff]!;
    const seen = names[(w[i]! >>> 16) & 0xff];
    const width = (w[i]! >>> 8) & 0xff;
    const addr = w[i + 1]!;
    const tag = w[i + 3]!;
    const e: TraceEvent = {
      event: cause,
      guestNs: w[i + 6]! + w[i + 7]! * 2 ** 32,
      instructions: w[i + 4]! + w[i + 5]! * 2 ** 32,
    };
    if (cause === "interrupt" || cause === "exception") {
      e.vector = addr;
      if (cause === "interrupt" && tag !== 0) e.irq = tag - 1;
    } else if (width !== 0) {
      const port = seen === "pio-in" || seen === "pio-out";
      if (port) e.port = addr;
      else e.address = addr;
      e.device = (port ? pio : mmio).find(addr)?.device.name ?? "unclaimed";
      e.width = width;
      e.value = w[i + 2]!;
      if (cause === "notify") e.queue = tag - 1;
    }
    events.push(e);
  }
  return { events, recorded, dropped: recorded - n };
}

/** JSON lines, one event per line. */
export function traceToJsonLines(events: readonly TraceEvent[]): string {
  return events.map((e) => JSON.stringify(e) + "\n").join("");
}
