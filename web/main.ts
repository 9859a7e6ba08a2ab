/**
 * The trapdoor web page: an xterm.js terminal on the guest's COM1, a status line, and a VM
 * worker (web/vm-worker.ts) that runs the machine. On load it boots the hello guest.
 */
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";
import "./style.css";
import type { FromWorker, RunOutcome, ToWorker, TrapStats } from "./protocol.js";

declare global {
  interface Window {
    /** The terminal, for tests and for poking at in the console. */
    __trapdoorTerm?: Terminal;
    /** The terminal's whole buffer (scrollback included) as text, one line per row. */
    __trapdoorText?: () => string;
  }
}

const CMDLINE = "console=web";
const MEMORY = "64M";

const statusEl = document.querySelector<HTMLElement>("#status")!;
const trapsEl = document.querySelector<HTMLElement>("#traps")!;
const noticeEl = document.querySelector<HTMLElement>("#notice")!;
const terminalEl = document.querySelector<HTMLElement>("#terminal")!;

const term = new Terminal({
  // The guest sends a bare "\n" (0x0A) at the end of each line, no "\r". A real serial
  // terminal would only move down a row; convertEol makes xterm.js treat it as CR LF so each
  // line starts at column 0.
  convertEol: true,
  cursorBlink: false,
  disableStdin: true,
  scrollback: 10_000,
  fontFamily: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
  fontSize: 14,
  // Rows a little taller than the font: with the default, the DOM renderer clips underscores.
  lineHeight: 1.2,
  theme: { background: "#101418", foreground: "#d8dee4" },
});
const fit = new FitAddon();
term.loadAddon(fit);
term.open(terminalEl);
fit.fit();
new ResizeObserver(() => fit.fit()).observe(terminalEl);
window.addEventListener("resize", () => fit.fit());

window.__trapdoorTerm = term;
window.__trapdoorText = () => {
  const buf = term.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? "");
  return lines.join("\n");
};

const fmt = new Intl.NumberFormat("en-US");

function setStatus(state: string, text: string): void {
  statusEl.dataset.state = state;
  statusEl.textContent = text;
}

function describeOutcome(outcome: RunOutcome | undefined): string {
  switch (outcome?.kind) {
    case "debug-exit":
      return `exited with code ${outcome.exitCode}`;
    case "triple-fault":
      return "exited: triple fault (shutdown)";
    case "halted":
      return outcome.interruptsEnabled ? "exited: halted" : "exited: halted with interrupts disabled";
    case "timeout":
      return "exited: timeout";
    case "instruction-limit":
      return "exited: instruction limit reached";
    case "stopped":
      return "exited: stopped";
    case "internal-error":
      return `exited: internal error: ${outcome.message}`;
    default:
      return "exited";
  }
}

function showStats(stats: TrapStats): void {
  trapsEl.replaceChildren();
  const total = document.createElement("span");
  total.className = "traps-total";
  total.textContent = `traps — PIO: ${fmt.format(stats.pio.reads)} reads, ${fmt.format(stats.pio.writes)} writes`;
  trapsEl.append(total);
  if (stats.mmio.reads !== 0 || stats.mmio.writes !== 0) {
    total.textContent += ` · MMIO: ${fmt.format(stats.mmio.reads)} reads, ${fmt.format(stats.mmio.writes)} writes`;
  }
  for (const d of stats.devices) {
    const dev = document.createElement("span");
    dev.className = "traps-device";
    dev.textContent = `${d.device}: ${fmt.format(d.reads)} r / ${fmt.format(d.writes)} w`;
    trapsEl.append(dev);
  }
  trapsEl.hidden = false;
}

function fail(message: string): void {
  setStatus("error", `error: ${message}`);
  term.write(`\r\n\x1b[31m[trapdoor] ${message}\x1b[0m\r\n`);
}

async function main(): Promise<void> {
  if (!window.crossOriginIsolated) {
    noticeEl.textContent =
      "This page is not cross-origin isolated, so SharedArrayBuffer is unavailable and the emulator " +
      "cannot run. Serve it with the headers Cross-Origin-Opener-Policy: same-origin and " +
      "Cross-Origin-Embedder-Policy: require-corp (npm run dev / npm run preview do).";
    noticeEl.hidden = false;
    setStatus("error", "error: not cross-origin isolated");
    return;
  }

  setStatus("loading", "loading…");
  // Vite rewrites this URL: /@fs/<repo>/guest-images/hello/hello.elf in dev, an emitted
  // asset (assets/hello-<hash>.elf) in a build.
  const kernelUrl = new URL("../guest-images/hello/hello.elf", import.meta.url);
  const res = await fetch(kernelUrl);
  if (!res.ok) throw new Error(`fetching ${kernelUrl.pathname}: HTTP ${res.status}`);
  const kernel = await res.arrayBuffer();

  const worker = new Worker(new URL("./vm-worker.ts", import.meta.url), {
    type: "module",
    name: "trapdoor-vm",
  });
  worker.addEventListener("error", (ev) =>
    fail(`worker failed: ${ev.message || "could not load vm-worker"}`),
  );
  worker.addEventListener("message", (ev: MessageEvent<FromWorker>) => {
    const msg = ev.data;
    switch (msg.type) {
      case "serial":
        term.write(msg.bytes);
        break;
      case "status": {
        const n = `${fmt.format(msg.instructions)} instructions retired`;
        if (msg.state === "running") {
          setStatus("running", `running — ${n}`);
        } else {
          setStatus("exited", `${describeOutcome(msg.outcome)} — ${n}`);
          if (msg.outcome?.kind === "debug-exit") statusEl.dataset.exitCode = String(msg.outcome.exitCode);
        }
        break;
      }
      case "stats":
        showStats(msg.stats);
        break;
      case "error":
        fail(msg.message);
        break;
    }
  });
  const boot: ToWorker = { type: "boot", kernel, cmdline: CMDLINE, memory: MEMORY };
  worker.postMessage(boot, [kernel]);
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
