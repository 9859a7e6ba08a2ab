// Exit accounting (docs/exits.md): every exit is counted by cause, by access width and by the
// number of instructions since the previous exit, and, while tracing is on, written to a bounded
// ring. A few loads and stores per exit; nothing here runs per instruction.
import {
  STATE_BASE,
  S_INSTRET,
  S_TSC_OFFSET,
  CTL_BASE,
  C_TRACE_SIZE,
  C_TRACE_COUNT,
  C_EXIT_RECLASS,
  C_EXIT_TAG,
  C_EXIT_LAST_INSTRET,
  C_CAUSE_COUNTS,
  C_WIDTH_COUNTS,
  C_GAP_HISTOGRAM,
  C_COUNTERS_START,
  C_COUNTERS_END,
  C_PIO_IN,
  C_ROM_WRITES,
  C_EXC_COUNT,
  C_IRQ_COUNT,
  GAP_BUCKETS,
  PIO_COUNTERS,
  MMIO_COUNTERS,
  MMIO_COUNTER_SLOTS,
  TRACE_RING,
  TRACE_ENTRY_SIZE,
} from "./layout";

function bump(addr: u32): void {
  store<u32>(addr, load<u32>(addr) + 1);
}

/**
 * Count a trapped access by kind (0 PIO in, 1 PIO out, 2 MMIO read, 3 MMIO write) and width,
 * then record it as an exit of `cause` (or of the cause the host set while handling it).
 */
export function recordAccess(kind: u32, cause: u32, addr: u32, width: u32, value: u32): void {
  bump(CTL_BASE + C_WIDTH_COUNTS + (kind * 3 + (width >> 1)) * 4);
  recordExit(cause, addr, width, value);
}

/** Record one exit: by cause (the host's C_EXIT_RECLASS wins), in the gap histogram, traced. */
export function recordExit(cause: u32, addr: u32, width: u32, value: u32): void {
  const seen = cause;
  const reclass = load<u32>(CTL_BASE + C_EXIT_RECLASS);
  if (reclass != 0) {
    cause = reclass;
    store<u32>(CTL_BASE + C_EXIT_RECLASS, 0);
  }
  bump(CTL_BASE + C_CAUSE_COUNTS + cause * 4);
  const now = load<u64>(STATE_BASE + S_INSTRET);
  const gap = now - load<u64>(CTL_BASE + C_EXIT_LAST_INSTRET);
  store<u64>(CTL_BASE + C_EXIT_LAST_INSTRET, now);
  const bucket = min<u32>(64 - <u32>clz(gap), GAP_BUCKETS - 1);
  bump(CTL_BASE + C_GAP_HISTOGRAM + bucket * 4);
  trace(cause | (seen << 16), addr, width, value);
}

/** An event the core counts and traces but that is no exit (exceptions, host stops). */
export function recordEvent(cause: u32, vector: u32): void {
  bump(CTL_BASE + C_CAUSE_COUNTS + cause * 4);
  trace(cause | (cause << 16), vector, 0, 0);
}

/** Write a trace entry; `causes` is the cause, and in bits 16-23 the cause the core saw. */
function trace(causes: u32, addr: u32, width: u32, value: u32): void {
  const tag = load<u32>(CTL_BASE + C_EXIT_TAG);
  store<u32>(CTL_BASE + C_EXIT_TAG, 0);
  const size = load<u32>(CTL_BASE + C_TRACE_SIZE);
  if (size == 0) return;
  const n = load<u32>(CTL_BASE + C_TRACE_COUNT);
  store<u32>(CTL_BASE + C_TRACE_COUNT, n + 1);
  const e = TRACE_RING + (n % size) * TRACE_ENTRY_SIZE;
  const instret = load<u64>(STATE_BASE + S_INSTRET);
  store<u32>(e, causes | (width << 8));
  store<u32>(e + 4, addr);
  store<u32>(e + 8, value);
  store<u32>(e + 12, tag);
  store<u64>(e + 16, instret);
  store<u64>(e + 24, instret + load<u64>(STATE_BASE + S_TSC_OFFSET));
}

/**
 * Zero every trap counter (the host's Machine.resetStats, and reset): per-port and per-address
 * counts, totals, causes, widths, the gap histogram, per-vector counts and the trace ring's
 * position. The gap histogram restarts from the current instruction count.
 */
export function clearCounters(): void {
  memory.fill(PIO_COUNTERS, 0, 0x10000 * 8);
  memory.fill(MMIO_COUNTERS, 0, MMIO_COUNTER_SLOTS * 16);
  // C_PIO_IN .. C_MMIO_UNTRACKED, the exception and interrupt totals, dropped ROM writes.
  memory.fill(CTL_BASE + C_PIO_IN, 0, 20);
  store<u32>(CTL_BASE + C_EXC_COUNT, 0);
  store<u32>(CTL_BASE + C_IRQ_COUNT, 0);
  store<u32>(CTL_BASE + C_ROM_WRITES, 0);
  memory.fill(CTL_BASE + C_COUNTERS_START, 0, C_COUNTERS_END - C_COUNTERS_START);
  store<u64>(CTL_BASE + C_EXIT_LAST_INSTRET, load<u64>(STATE_BASE + S_INSTRET));
}
