/**
 * The page's "bench io" panel: runs the `trapdoor bench io` comparison (docs/io-comparison.md) in
 * its own worker (web/bench-worker.ts), so the console VM keeps running; shows its progress, then
 * io-report's text (table, chart, legend) and a bar chart of disk exits per MiB on a log scale.
 * Each bar carries its figure in data-value and its configuration in data-config (for tests).
 */
import type { IoFigures } from "../src/bench/io-report.js";
import type { WorkloadName } from "../src/bench/io-workloads.js";
import type { FromBench, ToBench } from "./bench-protocol.js";

export interface BenchGuest {
  kernelUrl: string;
  initrdUrl: string;
}

export class BenchPanel {
  private readonly form: HTMLFormElement;
  private readonly status: HTMLElement;
  private readonly chart: HTMLElement;
  private readonly report: HTMLElement;
  private worker: Worker | undefined;

  constructor(
    readonly root: HTMLElement,
    private readonly guest: BenchGuest,
  ) {
    this.form = root.querySelector<HTMLFormElement>("#bench-form")!;
    this.status = root.querySelector<HTMLElement>("#bench-status")!;
    this.chart = root.querySelector<HTMLElement>("#bench-chart")!;
    this.report = root.querySelector<HTMLElement>("#bench-report")!;
    this.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.start();
    });
  }

  private setStatus(state: "running" | "done" | "error", text: string): void {
    this.status.dataset.state = state;
    this.status.textContent = text;
  }

  private start(): void {
    if (this.worker !== undefined) return;
    const data = new FormData(this.form);
    const configs = data.getAll("config").map(String);
    if (configs.length === 0) {
      this.setStatus("error", "pick at least one configuration");
      return;
    }
    const msg: ToBench = {
      type: "run",
      kernelUrl: this.guest.kernelUrl,
      initrdUrl: this.guest.initrdUrl,
      sizeMiB: Number(data.get("size")),
      configs,
      workloads: [String(data.get("workload")) as WorkloadName],
    };
    this.chart.replaceChildren();
    this.report.textContent = "";
    this.setStatus("running", "starting");
    this.form.querySelector<HTMLButtonElement>("button")!.disabled = true;
    const worker = new Worker(new URL("./bench-worker.ts", import.meta.url), {
      type: "module",
      name: "trapdoor-bench",
    });
    this.worker = worker;
    worker.addEventListener("message", (ev: MessageEvent<FromBench>) => this.onMessage(ev.data));
    worker.addEventListener("error", (ev) => this.finish("error", `worker error: ${ev.message}`));
    worker.postMessage(msg);
  }

  private onMessage(msg: FromBench): void {
    switch (msg.type) {
      case "progress":
        this.setStatus("running", msg.text);
        break;
      case "done":
        this.drawChart(msg.rows);
        this.report.textContent = msg.report;
        this.finish("done", `done: ${msg.rows.length} results`);
        break;
      case "error":
        this.report.textContent = msg.output === "" ? "" : `guest console (end):\n${msg.output}`;
        this.finish("error", msg.message);
        break;
    }
  }

  private finish(state: "done" | "error", text: string): void {
    this.worker?.terminate();
    this.worker = undefined;
    this.form.querySelector<HTMLButtonElement>("button")!.disabled = false;
    this.setStatus(state, text);
  }

  /** One bar per row: disk exits (PIO + MMIO) per MiB, log10 scale as io-report's text chart. */
  private drawChart(rows: readonly IoFigures[]): void {
    const value = (r: IoFigures): number => r.pioPerMib + r.mmioPerMib;
    const top = Math.max(1, ...rows.map((r) => Math.log10(Math.max(1, value(r)))));
    this.chart.replaceChildren(
      ...rows.map((r) => {
        const row = document.createElement("div");
        row.className = "bench-bar";
        row.dataset.config = r.config;
        row.dataset.workload = r.workload;
        row.dataset.value = String(value(r));
        const label = document.createElement("span");
        label.textContent = `${r.config} ${r.workload}`;
        const track = document.createElement("span");
        track.className = "bench-bar-track";
        const bar = document.createElement("span");
        bar.className = "bench-bar-fill";
        bar.style.width = `${(100 * Math.log10(Math.max(1, value(r)))) / top}%`;
        track.append(bar);
        const figure = document.createElement("span");
        figure.textContent = `${Math.round(value(r))} disk exits/MiB`;
        row.append(label, track, figure);
        return row;
      }),
    );
  }
}
