/**
 * The live trap dashboard beside the console (issue #6, "In the browser"): exits/s and
 * interrupts/s by device as charts, exits by cause, the busiest ports and MMIO regions, virtqueue
 * state, and the measured host time next to — and apart from — the modeled KVM cost. It draws
 * DashboardSamples the worker sends a few times per second (web/dashboard-feed.ts); rates are per
 * second of host time over the last sample interval. Number cells carry data-value (the raw
 * figure) and rows data-key, for tests.
 */
import { modelExitCosts } from "../src/stats/cost-model.js";
import { EXIT_CAUSES } from "../src/stats/exit-causes.js";
import { HOST_TIME_CLASSES } from "../src/stats/host-time.js";
import type { AddressCount } from "../src/stats.js";
import type { DashboardSample, MmioRegionCount } from "./protocol.js";
import { LineChart, type ChartSeries } from "./line-chart.js";

/** Samples the charts span (30 s at the worker's 4 samples per second). */
const WINDOW = 120;
/** Devices drawn by name; the rest are summed into "other". */
const CHART_DEVICES = 6;
/** Rows in the ports and MMIO tables. */
const TOP_ROWS = 8;
/** Distinct hues, one per device in order of appearance (a device keeps its colour in both charts). */
const PALETTE = [
  "#58a6ff",
  "#3fb950",
  "#d29922",
  "#f85149",
  "#bc8cff",
  "#39c5cf",
  "#ff9bce",
  "#e3b341",
  "#56d364",
  "#ffa657",
  "#a5d6ff",
  "#d2a8ff",
];
const OTHER_COLOR = "#8b949e";
const VIRTIO_COUNTERS = ["kicks", "requests", "interrupts", "suppressedInterrupts", "publishes"] as const;

const fmt = new Intl.NumberFormat("en-US");
const fmt1 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const hex = (n: number, digits: number): string => `0x${n.toString(16).padStart(digits, "0")}`;

type Cell = string | { text: string; value: number; col: string };

/** A number cell: formatted text, the raw value in data-value, the column name in data-col. */
const num = (col: string, value: number, format: Intl.NumberFormat = fmt): Cell => ({
  text: format.format(value),
  value,
  col,
});

function fillTable(table: HTMLTableElement, head: string[], rows: { key: string; cells: Cell[] }[]): void {
  const thead = document.createElement("tr");
  for (const h of head) {
    const th = document.createElement("th");
    th.textContent = h;
    thead.append(th);
  }
  table.replaceChildren(
    thead,
    ...rows.map(({ key, cells }) => {
      const tr = document.createElement("tr");
      tr.dataset.key = key;
      for (const c of cells) {
        const td = document.createElement("td");
        if (typeof c === "string") td.textContent = c;
        else {
          td.textContent = c.text;
          td.dataset.value = String(c.value);
          td.dataset.col = c.col;
        }
        tr.append(td);
      }
      return tr;
    }),
  );
}

/** Per-device rate history for a chart, oldest first, all arrays the same length. */
class RateHistory {
  private readonly rates = new Map<string, number[]>();
  private length = 0;

  push(rates: Map<string, number>): void {
    for (const name of rates.keys()) {
      if (!this.rates.has(name)) this.rates.set(name, new Array<number>(this.length).fill(0));
    }
    for (const [name, values] of this.rates) {
      values.push(rates.get(name) ?? 0);
      if (values.length > WINDOW) values.shift();
    }
    this.length = Math.min(this.length + 1, WINDOW);
  }

  /** The busiest devices over the window by name, the rest as "other". */
  series(color: (name: string) => string): ChartSeries[] {
    const sum = (v: number[]): number => v.reduce((a, b) => a + b, 0);
    const ranked = [...this.rates.entries()]
      .filter(([, v]) => sum(v) > 0)
      .sort((a, b) => sum(b[1]) - sum(a[1]));
    const shown: ChartSeries[] = ranked
      .slice(0, CHART_DEVICES)
      .map(([name, values]) => ({ name, color: color(name), values: [...values] }));
    const rest = ranked.slice(CHART_DEVICES);
    if (rest.length > 0) {
      const values = new Array<number>(this.length).fill(0);
      for (const [, v] of rest) v.forEach((x, i) => (values[i]! += x));
      shown.push({ name: "other", color: OTHER_COLOR, values });
    }
    return shown;
  }

  clear(): void {
    this.rates.clear();
    this.length = 0;
  }
}

export class Dashboard {
  private readonly exitsChart: LineChart;
  private readonly irqChart: LineChart;
  private readonly exitHistory = new RateHistory();
  private readonly irqHistory = new RateHistory();
  private readonly colors = new Map<string, string>();
  private previous: DashboardSample | undefined;
  private readonly el: (id: string) => HTMLElement;

  constructor(readonly root: HTMLElement) {
    this.el = (id) => root.querySelector<HTMLElement>(`#${id}`)!;
    this.exitsChart = new LineChart(
      this.el("chart-exits") as HTMLCanvasElement,
      this.el("legend-exits"),
      WINDOW,
    );
    this.irqChart = new LineChart(this.el("chart-irqs") as HTMLCanvasElement, this.el("legend-irqs"), WINDOW);
  }

  /** Forget the history (a new machine). */
  reset(): void {
    this.previous = undefined;
    this.exitHistory.clear();
    this.irqHistory.clear();
    this.root.dataset.samples = "0";
  }

  show(sample: DashboardSample): void {
    const { point } = sample;
    const perSecond = point.hostDeltaMs > 0 ? 1000 / point.hostDeltaMs : 0;
    const prev = this.previous;
    this.previous = sample;
    this.root.dataset.samples = String(Number(this.root.dataset.samples ?? 0) + 1);

    this.exitHistory.push(new Map(point.devices.map((d) => [d.device, (d.reads + d.writes) * perSecond])));
    const owner = new Map(sample.irqOwners.map((o) => [o.irq, o.device]));
    const irqRates = new Map<string, number>();
    for (const l of point.irqLines) {
      const name = owner.get(l.irq) ?? (l.irq < 0 ? "spurious" : `irq ${l.irq}`);
      irqRates.set(name, (irqRates.get(name) ?? 0) + l.count * perSecond);
    }
    this.irqHistory.push(irqRates);
    if (!this.root.hidden) {
      this.exitsChart.draw(this.exitHistory.series((n) => this.color(n)));
      this.irqChart.draw(this.irqHistory.series((n) => this.color(n)));
    }

    const total = this.el("dash-exits-total");
    total.textContent = `${fmt.format(sample.stats.exits.total)} exits, ${fmt.format(Math.round(point.exits * perSecond))}/s`;
    total.dataset.value = String(sample.stats.exits.total);

    this.showCauses(sample, perSecond);
    this.showAddresses(
      this.el("dash-ports") as HTMLTableElement,
      "port",
      sample.stats.pio.ports.map((p) => ({ ...p, label: hex(p.address, 4) })),
      prev?.stats.pio.ports ?? [],
      perSecond,
    );
    this.showAddresses(
      this.el("dash-mmio") as HTMLTableElement,
      "region",
      sample.mmioRegions.map((r) => ({ ...r, label: `${hex(r.address, 8)} (+${hex(r.offset, 4)})` })),
      prev?.mmioRegions ?? [],
      perSecond,
    );
    this.showVirtio(sample, prev, perSecond);
    this.showCosts(sample, perSecond);
  }

  private color(name: string): string {
    let c = this.colors.get(name);
    if (c === undefined) {
      c = PALETTE[this.colors.size % PALETTE.length]!;
      this.colors.set(name, c);
    }
    return c;
  }

  private showCauses(sample: DashboardSample, perSecond: number): void {
    const { byCause } = sample.stats.exits;
    fillTable(
      this.el("dash-causes") as HTMLTableElement,
      ["cause", "exits", "/s"],
      EXIT_CAUSES.map((c) => ({
        key: c,
        cells: [c, num("total", byCause[c]), num("rate", Math.round(sample.point.byCause[c] * perSecond))],
      })),
    );
  }

  /** The busiest addresses in the last interval (then by total), with their device. */
  private showAddresses(
    table: HTMLTableElement,
    what: string,
    now: ((AddressCount | MmioRegionCount) & { label: string })[],
    before: (AddressCount | MmioRegionCount)[],
    perSecond: number,
  ): void {
    const old = new Map(before.map((a) => [a.address, a.reads + a.writes]));
    const rows = now
      .map((a) => ({ a, delta: a.reads + a.writes - (old.get(a.address) ?? 0) }))
      .sort((x, y) => y.delta - x.delta || y.a.reads + y.a.writes - (x.a.reads + x.a.writes))
      .slice(0, TOP_ROWS);
    fillTable(
      table,
      [what, "device", "reads", "writes", "/s"],
      rows.map(({ a, delta }) => ({
        key: a.label,
        cells: [
          a.label,
          a.device,
          num("reads", a.reads),
          num("writes", a.writes),
          num("rate", Math.round(delta * perSecond)),
        ],
      })),
    );
  }

  private showVirtio(sample: DashboardSample, prev: DashboardSample | undefined, perSecond: number): void {
    const box = this.el("dash-virtio");
    if (sample.virtio.length === 0) {
      box.textContent = "no virtio device: attach a disk in the disk panel (/dev/vda).";
      return;
    }
    box.replaceChildren(
      ...sample.virtio.map((d) => {
        const before = prev?.virtio.find((p) => p.device === d.device)?.counters;
        const counters = document.createElement("table");
        counters.dataset.device = d.device;
        fillTable(
          counters,
          [`${d.device} (${d.transport})`, "total", "/s"],
          VIRTIO_COUNTERS.map((k) => ({
            key: k,
            cells: [
              k,
              num("total", d.counters[k]),
              num("rate", Math.round((d.counters[k] - (before?.[k] ?? 0)) * perSecond)),
            ],
          })),
        );
        const queues = document.createElement("table");
        queues.dataset.device = d.device;
        queues.className = "queues";
        fillTable(
          queues,
          ["queue", "size", "avail depth", "in flight", "last avail", "used idx"],
          d.queues.map((q) => ({
            key: String(q.queue),
            cells: [
              q.ready ? String(q.queue) : `${q.queue} (off)`,
              num("size", q.size),
              q.availDepth === null ? "—" : num("availDepth", q.availDepth),
              num("inFlight", q.inFlight),
              num("lastAvail", q.lastAvail),
              num("usedIdx", q.usedIdx),
            ],
          })),
        );
        const wrap = document.createElement("div");
        wrap.append(counters, queues);
        return wrap;
      }),
    );
  }

  /** Measured host time (this emulator) and modeled KVM cost, in two separate tables. */
  private showCosts(sample: DashboardSample, perSecond: number): void {
    const { point, host } = sample;
    let hostNs = 0;
    for (const cls of HOST_TIME_CLASSES) hostNs += (host.exits[cls].meanNs ?? 0) * point.byCause[cls];
    fillTable(
      this.el("dash-measured") as HTMLTableElement,
      ["exit class", "host ns/exit", "timed"],
      HOST_TIME_CLASSES.map((cls) => {
        const t = host.exits[cls];
        return {
          key: cls,
          cells: [
            cls,
            t.meanNs === null ? "—" : num("meanNs", Math.round(t.meanNs)),
            num("sampled", t.sampled),
          ],
        };
      }),
    );
    const handling = this.el("dash-measured-total");
    handling.textContent = `exit handling ≈ ${fmt.format(Math.round((hostNs / 1000) * perSecond))} µs per host second (1 exit in ${host.sampleEvery} timed)`;

    const interval = modelExitCosts(point);
    const total = modelExitCosts(sample.stats.exits);
    fillTable(
      this.el("dash-modeled") as HTMLTableElement,
      ["KVM profile", "µs/s", "since start"],
      total.map((t, i) => ({
        key: t.profile,
        cells: [
          t.profile,
          num("rate", interval[i]!.totalUs * perSecond, fmt1),
          { text: `${fmt1.format(t.totalUs / 1000)} ms`, value: t.totalUs, col: "totalUs" },
        ],
      })),
    );
  }
}
