/**
 * Messages between the page's bench panel (web/bench-panel.ts) and the bench worker
 * (web/bench-worker.ts), which runs the `trapdoor bench io` comparison (docs/io-comparison.md).
 */
import type { IoFigures } from "../src/bench/io-report.js";
import type { WorkloadName } from "../src/bench/io-workloads.js";

export type ToBench = {
  type: "run";
  kernelUrl: string;
  initrdUrl: string;
  sizeMiB: number;
  configs: string[];
  workloads: WorkloadName[];
};

export type FromBench =
  | { type: "progress"; text: string }
  /** `report` is io-report's text (table, charts, legend); `rows` its figures, for the page's chart. */
  | { type: "done"; report: string; rows: IoFigures[] }
  | { type: "error"; message: string; output: string };
