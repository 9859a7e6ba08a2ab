/**
 * The bench worker: runs the `trapdoor bench io` comparison (src/bench/*, docs/io-comparison.md)
 * off the page's main thread and apart from the console VM's worker. It fetches the Linux images
 * the console uses, boots one Machine per configuration on a copy of the same in-memory image
 * (src/bench/io-workloads.ts benchImage, as the CLI does), and posts progress, then the report.
 */
import { selectConfigs } from "../src/bench/io-configs.js";
import { figures, formatReport } from "../src/bench/io-report.js";
import { BenchRunError, runConfig, type ConfigRun, type WorkloadResult } from "../src/bench/io-run.js";
import { benchImage, makeWorkload } from "../src/bench/io-workloads.js";
import type { FromBench, ToBench } from "./bench-protocol.js";

function post(msg: FromBench): void {
  self.postMessage(msg);
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetching ${new URL(url).pathname}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function run(msg: ToBench): Promise<void> {
  post({ type: "progress", text: "loading the Linux kernel and initramfs" });
  const [kernel, initrd] = await Promise.all([fetchBytes(msg.kernelUrl), fetchBytes(msg.initrdUrl)]);
  const image = benchImage(msg.sizeMiB);
  const configs = selectConfigs(msg.configs);
  const runs: ConfigRun[] = [];
  for (const [i, config] of configs.entries()) {
    const step = `${config.name} (${i + 1} of ${configs.length})`;
    post({ type: "progress", text: `${step}: booting Linux` });
    const workloads = msg.workloads.map((w) => makeWorkload(w, config.device, msg.sizeMiB));
    const onDone = (r: WorkloadResult): void =>
      post({ type: "progress", text: `${step}: ${r.workload.name} done, ${r.delta.allExits} exits` });
    runs.push(await runConfig({ kernel, initrd }, config, image, workloads, undefined, onDone));
  }
  const host = `${navigator.hardwareConcurrency} threads, ${navigator.userAgent}`;
  post({
    type: "done",
    report: formatReport(runs, { sizeMiB: msg.sizeMiB, host }, msg.workloads),
    rows: runs.flatMap((r) => r.results.map((w) => figures(r.config.name, w))),
  });
}

self.addEventListener("message", (ev: MessageEvent<ToBench>) => {
  run(ev.data).catch((err: unknown) =>
    post({
      type: "error",
      message: err instanceof Error ? err.message : String(err),
      output: err instanceof BenchRunError ? err.output.slice(-4000) : "",
    }),
  );
});
