/*
 * Fault injection for one virtio-blk drive, so driver authors can exercise their error paths.
 * Rules are deterministic: they name sectors, request numbers (the device's 1-based count of
 * requests, `counters.requests`) and guest time, never host time or chance.
 *
 *   read-error:A-B    IN requests touching sectors A..B (inclusive) fail with IOERR, no data moved
 *   write-error:A-B   the same for OUT, DISCARD and WRITE_ZEROES
 *   delay:N[us|ms]    every request completes N µs (or ms) of guest time after it was kicked
 *   drop-irq:N        the interrupt that would announce request N's completion is not raised
 *
 * A single sector may be written `A` for `A-A`. The text form is what `--drive ...,fault=RULE`
 * takes (repeatable); the API takes the parsed objects (DriveOptions.faults).
 */

export type BlkFaultRule =
  | { kind: "read-error"; first: number; last: number }
  | { kind: "write-error"; first: number; last: number }
  | { kind: "delay"; microseconds: number }
  | { kind: "drop-irq"; request: number };

/** One fault that was injected, as users see it (CLI: a `trapdoor: ...: fault ...` line). */
export interface BlkFaultEvent {
  device: string;
  /** The request number it hit. */
  request: number;
  /** The rule, in its text form. */
  rule: string;
  message: string;
}

/** Longest delay a rule may ask for: 60 s of guest time. */
export const MAX_FAULT_DELAY_US = 60_000_000;

const SYNTAX = "read-error:A-B, write-error:A-B, delay:N[us|ms] or drop-irq:N";

/** The text form of a rule (the inverse of parseFaultRule). */
export function formatFaultRule(r: BlkFaultRule): string {
  switch (r.kind) {
    case "read-error":
    case "write-error":
      return `${r.kind}:${r.first}-${r.last}`;
    case "delay":
      return `delay:${r.microseconds}us`;
    case "drop-irq":
      return `drop-irq:${r.request}`;
  }
}

/** Parse one rule's text form; a RangeError says what is wrong with it. */
export function parseFaultRule(text: string): BlkFaultRule {
  const colon = text.indexOf(":");
  const kind = colon < 0 ? text : text.slice(0, colon);
  const arg = colon < 0 ? "" : text.slice(colon + 1);
  const bad = (why: string) => new RangeError(`fault "${text}": ${why} (rules: ${SYNTAX})`);
  const integer = (s: string, what: string): number => {
    if (!/^\d+$/.test(s)) throw bad(`${what} "${s}" is not a non-negative integer`);
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw bad(`${what} ${s} is too large`);
    return n;
  };
  let rule: BlkFaultRule;
  switch (kind) {
    case "read-error":
    case "write-error": {
      const m = /^([^-]*)(?:-(.*))?$/.exec(arg)!;
      const first = integer(m[1]!, "first sector");
      const last = m[2] === undefined ? first : integer(m[2], "last sector");
      rule = { kind, first, last };
      break;
    }
    case "delay": {
      const m = /^(\d+)(us|ms)?$/.exec(arg);
      if (!m) throw bad(`want delay:N with N in µs, or Nms`);
      rule = { kind, microseconds: integer(m[1]!, "delay") * (m[2] === "ms" ? 1000 : 1) };
      break;
    }
    case "drop-irq":
      rule = { kind, request: integer(arg, "request number") };
      break;
    default:
      throw bad(`unknown fault kind "${kind}"`);
  }
  checkFaultRule(rule);
  return rule;
}

/** Throw a RangeError unless the rule is well-formed (rules from the API are checked too). */
export function checkFaultRule(r: BlkFaultRule): void {
  const bad = (why: string) => new RangeError(`fault ${formatFaultRule(r)}: ${why}`);
  switch (r.kind) {
    case "read-error":
    case "write-error":
      if (!Number.isSafeInteger(r.first) || !Number.isSafeInteger(r.last) || r.first < 0)
        throw bad("sectors must be non-negative integers");
      if (r.first > r.last) throw bad(`first sector ${r.first} is after last sector ${r.last}`);
      return;
    case "delay":
      if (!Number.isInteger(r.microseconds) || r.microseconds < 1 || r.microseconds > MAX_FAULT_DELAY_US)
        throw bad(`the delay must be 1 µs to ${MAX_FAULT_DELAY_US / 1e6} s`);
      return;
    case "drop-irq":
      if (!Number.isSafeInteger(r.request) || r.request < 1) throw bad("request numbers count from 1");
      return;
  }
}

/** A drive's rules, ready for per-request lookups. */
export class FaultPlan {
  readonly rules: readonly BlkFaultRule[];
  /** Guest ns every completion is held back (0: none). */
  readonly delayNs: number;

  constructor(rules: readonly BlkFaultRule[]) {
    rules.forEach(checkFaultRule);
    const delays = rules.filter((r) => r.kind === "delay");
    if (delays.length > 1) throw new RangeError("at most one delay fault per drive");
    this.rules = rules;
    this.delayNs = delays.length === 1 ? delays[0]!.microseconds * 1000 : 0;
  }

  /** The error rule (read-error for reads, else write-error) whose sectors meet [sector, sector + count). */
  errorFor(write: boolean, sector: number, count: number): BlkFaultRule | undefined {
    const kind = write ? "write-error" : "read-error";
    return this.rules.find(
      (r) => r.kind === kind && sector <= r.last && sector + Math.max(count, 1) - 1 >= r.first,
    );
  }

  /** Whether request `n`'s interrupt is to be dropped. */
  dropsInterrupt(n: number): boolean {
    return this.rules.some((r) => r.kind === "drop-irq" && r.request === n);
  }
}
