/**
 * Boot the Linux guest once for one disk configuration and run the bench workloads at its shell,
 * reading the counters right before and right after each one. Each workload line is framed by
 * markers the guest prints (`echo` output, not the typed echo), so the shell's line editing and
 * the echo of the typed command fall outside the measurement.
 */
import { Machine, type RunOutcome } from "../machine.js";
import { MemoryDisk } from "../disk/memory-disk.js";
import type { IoConfig } from "./io-configs.js";
import { readIoCounters, subtractCounters, type IoCounters } from "./io-counters.js";
import type { Workload } from "./io-workloads.js";

/** Base kernel command line: the serial console; PCI configuration mechanism #1. */
export const BENCH_APPEND = "console=ttyS0 pci=conf1";
const PROMPT = "/root # ";
const BEGIN = "bench-begin\r\n";
const END = "bench-end\r\n";
/** Small slices so a marker is seen close to where it was printed (Machine.run's default is 2 M). */
const SLICE_INSTRUCTIONS = 250_000;
/** Host time between yields to the event loop. */
const YIELD_MS = 100;

/**
 * Machine.run, without its wait between slices: it sleeps on a timer (at least 1 ms in Node) after
 * every slice, and the emulated IDE's PIO stalls end a slice at each timer tick, so host time
 * would measure those sleeps. The deterministic clock needs no host waiting; yield now and then.
 */
async function runToEnd(m: Machine, timeoutMs: number): Promise<RunOutcome> {
  const deadline = Date.now() + timeoutMs;
  let yieldAt = Date.now() + YIELD_MS;
  for (;;) {
    const outcome = m.runSlice(SLICE_INSTRUCTIONS);
    if (outcome !== undefined) return outcome;
    const now = Date.now();
    if (now >= deadline) return { kind: "timeout" };
    if (now >= yieldAt) {
      await yieldToEventLoop();
      yieldAt = Date.now() + YIELD_MS;
    }
  }
}

/** Node's setImmediate; a 0 ms timer in a browser worker (which has no setImmediate). */
function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) =>
    typeof setImmediate === "function" ? setImmediate(resolve) : setTimeout(resolve, 0),
  );
}

/** Bytes as latin1 text (one char per byte), without Node's Buffer so this also runs in a browser. */
function latin1(b: Uint8Array): string {
  let s = "";
  for (const byte of b) s += String.fromCharCode(byte);
  return s;
}

/** Host wall clock in ns. */
function hostNow(): number {
  return Math.round(performance.now() * 1e6);
}

export interface LinuxGuest {
  kernel: Uint8Array;
  initrd: Uint8Array;
}

export interface WorkloadResult {
  workload: Workload;
  delta: IoCounters;
}

export interface ConfigRun {
  config: IoConfig;
  results: WorkloadResult[];
  outcome: RunOutcome;
  /** Everything the guest printed (for diagnosing a failed run). */
  output: string;
}

/** Raised when the guest did not run the workloads through (with the console output). */
export class BenchRunError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
  }
}

/**
 * Run `workloads` on a fresh machine (64 MiB, deterministic clock) with a copy of `image` as the
 * configuration's disk.
 */
export async function runConfig(
  guest: LinuxGuest,
  config: IoConfig,
  image: Uint8Array,
  workloads: readonly Workload[],
  timeoutMs = 30 * 60_000,
  onWorkloadDone?: (r: WorkloadResult) => void,
): Promise<ConfigRun> {
  const backend = new MemoryDisk(image.slice());
  const problems: string[] = [];
  const m = await Machine.create({
    memory: "64M",
    clock: "deterministic",
    drives: [{ ...config.drive(backend), onDiagnostic: (d) => problems.push(`${d.device}: ${d.message}`) }],
    onIdeDiagnostic: (d) => problems.push(`${d.where}: ${d.message}`),
  });
  const lines = [...workloads.map((w) => `echo bench-begin; ${w.command}; echo bench-end`), "poweroff -f"];
  const results: WorkloadResult[] = [];
  const failures: string[] = [];
  let output = "";
  let pending = "";
  let next = 0;
  let phase: "prompt" | "begin" | "end" | "done" = "prompt";
  let before: IoCounters | undefined;
  m.onSerialOutput((b) => {
    const text = latin1(b);
    output += text;
    pending += text;
    for (;;) {
      const want =
        phase === "prompt" ? PROMPT : phase === "begin" ? BEGIN : phase === "end" ? END : undefined;
      const at = want === undefined ? -1 : pending.indexOf(want);
      if (at < 0) break;
      const said = pending.slice(0, at);
      pending = pending.slice(at + want!.length);
      if (phase === "prompt") {
        m.sendSerialInput(lines[next]! + "\n");
        phase = next++ < workloads.length ? "begin" : "done";
      } else if (phase === "begin") {
        const c = readIoCounters(m, config, 0);
        before = { ...c, hostNs: hostNow() };
        phase = "end";
      } else {
        const w = workloads[results.length]!;
        const end = hostNow();
        results.push({ workload: w, delta: subtractCounters(readIoCounters(m, config, end), before!) });
        onWorkloadDone?.(results[results.length - 1]!);
        // dd reports its errors as "dd: ..."; the random-read loop prints FAIL; the kernel logs I/O errors.
        if (/^dd: |^FAIL|I\/O error/m.test(said)) failures.push(`${w.name}: ${said.trim()}`);
        phase = "prompt";
      }
    }
  });
  const append = [BENCH_APPEND, config.append].filter((s) => s !== "").join(" ");
  m.loadLinux(guest.kernel, { cmdline: append, initrd: guest.initrd });
  const outcome = await runToEnd(m, timeoutMs);
  if (problems.length > 0)
    throw new BenchRunError(`${config.name}: device diagnostics: ${problems.join("; ")}`, output);
  if (results.length !== workloads.length || outcome.kind !== "halted") {
    throw new BenchRunError(
      `${config.name}: the guest ran ${results.length} of ${workloads.length} workloads, then ${outcome.kind}`,
      output,
    );
  }
  if (failures.length > 0) {
    throw new BenchRunError(`${config.name}: workloads failed in the guest: ${failures.join("; ")}`, output);
  }
  return { config, results, outcome, output };
}
