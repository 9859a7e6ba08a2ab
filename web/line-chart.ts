/**
 * A small line chart on a <canvas>, drawn by hand (no chart library): one line per series over a
 * sliding window of samples, a y axis from 0 to a rounded maximum, and a DOM legend. The canvas
 * carries data-samples and data-max for tests and tools.
 */

export interface ChartSeries {
  name: string;
  color: string;
  /** Oldest first; one value per sample (0 where the series had none). */
  values: number[];
}

const PAD_LEFT = 44;
const PAD_RIGHT = 6;
const PAD_Y = 8;
const GRID = "#2a323b";
const LABEL = "#8b949e";

/** 1, 2 or 5 times a power of ten, at least `v` (and at least 1). */
export function niceCeiling(v: number): number {
  if (!(v > 1)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** 1234567 → "1.2M", 12345 → "12k", 12 → "12". */
export function shortNumber(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(1)}`;
}

export class LineChart {
  private readonly ctx: CanvasRenderingContext2D;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly legend: HTMLElement,
    /** How many samples the x axis spans. */
    private readonly window: number,
  ) {
    this.ctx = canvas.getContext("2d")!;
  }

  draw(series: ChartSeries[]): void {
    const { canvas, ctx } = this;
    const dpr = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);

    const samples = Math.max(0, ...series.map((s) => s.values.length));
    const max = niceCeiling(Math.max(0, ...series.flatMap((s) => s.values)));
    canvas.dataset.samples = String(samples);
    canvas.dataset.max = String(max);

    const plotW = width - PAD_LEFT - PAD_RIGHT;
    const plotH = height - 2 * PAD_Y;
    const y = (v: number): number => PAD_Y + plotH * (1 - v / max);
    const x = (i: number, n: number): number =>
      PAD_LEFT + plotW * ((this.window - n + i) / (this.window - 1));

    ctx.font = "10px ui-monospace, monospace";
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    ctx.lineWidth = 1;
    for (const f of [0, 0.5, 1]) {
      ctx.strokeStyle = GRID;
      ctx.beginPath();
      ctx.moveTo(PAD_LEFT, Math.round(y(max * f)) + 0.5);
      ctx.lineTo(width - PAD_RIGHT, Math.round(y(max * f)) + 0.5);
      ctx.stroke();
      ctx.fillStyle = LABEL;
      ctx.fillText(shortNumber(max * f), PAD_LEFT - 4, y(max * f));
    }

    ctx.lineWidth = 1.5;
    ctx.lineJoin = "round";
    for (const s of series) {
      const n = s.values.length;
      if (n === 0) continue;
      ctx.strokeStyle = s.color;
      ctx.beginPath();
      s.values.forEach((v, i) => (i === 0 ? ctx.moveTo(x(i, n), y(v)) : ctx.lineTo(x(i, n), y(v))));
      ctx.stroke();
    }

    this.legend.replaceChildren(
      ...series.map((s) => {
        const item = document.createElement("span");
        item.className = "legend-item";
        item.style.setProperty("--swatch", s.color);
        const last = s.values[s.values.length - 1] ?? 0;
        item.textContent = `${s.name} ${shortNumber(last)}`;
        return item;
      }),
    );
  }
}
