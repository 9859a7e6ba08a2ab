/**
 * The figures `trapdoor bench io` derives from a workload's counters, and their presentation: a
 * text table, a bar chart of exits per MiB (log scale: the configurations differ by orders of
 * magnitude) and a JSON document.
 */
import type { ConfigRun, WorkloadResult } from "./io-run.js";
import { modeledKvmNsPerMib } from "./io-counters.js";

const MIB = 1024 * 1024;

export interface IoFigures {
  config: string;
  workload: string;
  mibPerSecGuest: number;
  mibPerSecHost: number;
  iops: number;
  /** Disk exits per MiB by cause. */
  pioPerMib: number;
  mmioPerMib: number;
  notifyPerMib: number;
  /** Disk exits (PIO + MMIO) per disk request. */
  exitsPerRequest: number;
  interruptsPerMib: number;
  interruptsPerRequest: number;
  /** Exits of every device (timer, console, ...) per MiB. */
  allExitsPerMib: number;
  /** Host wall time of the workload divided by all its exits (includes the guest code run between). */
  hostNsPerExit: number;
  /** Modeled KVM cost (ns per MiB) of these exits, in-kernel devices and a userspace device model. */
  modeledKvmNsPerMib: { inKernel: number; userspace: number };
}

export function figures(config: string, r: WorkloadResult): IoFigures {
  const d = r.delta;
  const mib = r.workload.bytes / MIB;
  const diskExits = d.diskPio + d.diskMmio;
  return {
    config,
    workload: r.workload.name,
    mibPerSecGuest: mib / (d.guestNs / 1e9),
    mibPerSecHost: mib / (d.hostNs / 1e9),
    iops: r.workload.operations / (d.guestNs / 1e9),
    pioPerMib: d.diskPio / mib,
    mmioPerMib: d.diskMmio / mib,
    notifyPerMib: d.notify / mib,
    exitsPerRequest: d.requests === 0 ? 0 : diskExits / d.requests,
    interruptsPerMib: d.interrupts / mib,
    interruptsPerRequest: d.requests === 0 ? 0 : d.interrupts / d.requests,
    allExitsPerMib: d.allExits / mib,
    hostNsPerExit: d.allExits === 0 ? 0 : d.hostNs / d.allExits,
    modeledKvmNsPerMib: modeledKvmNsPerMib(d, r.workload.bytes),
  };
}

/** A number in at most 4 significant digits (integers as they are). */
function fmt(x: number): string {
  if (x === 0) return "0";
  if (Number.isInteger(x) || Math.abs(x) >= 1000) return Math.round(x).toString();
  return x.toPrecision(3);
}

const COLUMNS: readonly [string, (f: IoFigures) => string][] = [
  ["config", (f) => f.config],
  ["workload", (f) => f.workload],
  ["MiB/s guest", (f) => fmt(f.mibPerSecGuest)],
  ["MiB/s host", (f) => fmt(f.mibPerSecHost)],
  ["IOPS", (f) => fmt(f.iops)],
  ["PIO/MiB", (f) => fmt(f.pioPerMib)],
  ["MMIO/MiB", (f) => fmt(f.mmioPerMib)],
  ["notify/MiB", (f) => fmt(f.notifyPerMib)],
  ["exits/req", (f) => fmt(f.exitsPerRequest)],
  ["irq/MiB", (f) => fmt(f.interruptsPerMib)],
  ["irq/req", (f) => fmt(f.interruptsPerRequest)],
  ["all exits/MiB", (f) => fmt(f.allExitsPerMib)],
  ["host ns/exit", (f) => fmt(f.hostNsPerExit)],
  ["KVM-kernel ns/MiB (model)", (f) => fmt(f.modeledKvmNsPerMib.inKernel)],
  ["KVM-user ns/MiB (model)", (f) => fmt(f.modeledKvmNsPerMib.userspace)],
];

/** The table as aligned text (first two columns left-aligned, numbers right-aligned). */
export function formatTable(rows: readonly IoFigures[]): string {
  const cells = [COLUMNS.map(([h]) => h), ...rows.map((r) => COLUMNS.map(([, get]) => get(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((s, i) => (i < 2 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join(
    "\n",
  );
}

/** Text bars of disk exits per MiB for one workload, on a log10 scale (one '#' per 0.25 decade). */
export function formatChart(rows: readonly IoFigures[], workload: string): string {
  const sel = rows.filter((r) => r.workload === workload);
  if (sel.length === 0) return "";
  const nameWidth = Math.max(...sel.map((r) => r.config.length));
  const out = [`disk exits per MiB, ${workload} (log scale, # = x1.78):`];
  for (const r of sel) {
    const v = r.pioPerMib + r.mmioPerMib;
    const bars = v <= 1 ? 0 : Math.round(4 * Math.log10(v));
    out.push(`${r.config.padEnd(nameWidth)}  ${"#".repeat(bars)} ${fmt(v)}`);
  }
  return out.join("\n");
}

export const DETERMINISM_NOTE =
  "Exit, request and interrupt counts and guest time come from the deterministic clock: they are " +
  "exact and identical in every run on any host. Host-time figures (MiB/s host, host ns/exit) " +
  "are wall-clock measurements and vary. The KVM columns are a model (docs/cost-model.md): published " +
  "per-exit costs applied to the exact exit counts, not a measurement.";

/** The whole text report of `trapdoor bench io` (and of the web page's bench panel): table, charts, legend. */
export function formatReport(
  runs: readonly ConfigRun[],
  options: { sizeMiB: number; host: string },
  workloads: readonly string[],
): string {
  const rows = runs.flatMap((r) => r.results.map((w) => figures(r.config.name, w)));
  return [
    `trapdoor bench io: ${options.sizeMiB} MiB per sequential workload; Linux guest, 64 MiB RAM, deterministic clock; host: ${options.host}`,
    "",
    formatTable(rows),
    "",
    ...workloads.map((w) => formatChart(rows, w) + "\n"),
    "Configurations:",
    ...runs.map((r) => `  ${r.config.name}: ${r.config.description}`),
    "Workloads:",
    ...(runs[0]?.results.map((w) => `  ${w.workload.name}: ${w.workload.command.slice(0, 110)}`) ?? []),
    "",
    DETERMINISM_NOTE,
  ].join("\n");
}

/** The machine-readable result: options, per-configuration counters and the derived figures. */
export function benchJson(runs: readonly ConfigRun[], options: { sizeMiB: number; host: string }): unknown {
  return {
    sizeMiB: options.sizeMiB,
    host: options.host,
    deterministic: true,
    note: DETERMINISM_NOTE,
    configs: runs.map((r) => ({
      name: r.config.name,
      description: r.config.description,
      workloads: r.results.map((w) => ({
        name: w.workload.name,
        command: w.workload.command,
        bytes: w.workload.bytes,
        operations: w.workload.operations,
        counters: w.delta,
        figures: figures(r.config.name, w),
      })),
    })),
  };
}
