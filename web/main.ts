/**
 * The trapdoor web page: an xterm.js terminal on the guest's COM1, a status line, and a VM
 * worker (web/vm-worker.ts) that runs the machine.
 *
 * By default it boots the Linux guest (guest-images/linux: a 6.1 kernel and a busybox shell) with
 * a realtime clock; the terminal is interactive (typing and paste go to COM1, the terminal follows
 * the window's size). URL parameters:
 *   ?guest=linux|hello   which guest (the selector in the header sets it)
 *   ?clock=realtime|deterministic   override the guest's clock
 *   ?disk=opfs:NAME[&transport=transitional]   boot with that persistent disk (web/disk-panel.ts)
 *   ?dashboard=off   start with the live trap dashboard (web/dashboard.ts) hidden; its button toggles it
 * Without a disk the guest boots at once; attaching or detaching a disk restarts the machine in a
 * new worker.
 */
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";
import "./style.css";
import type { DiskSpec, FromWorker, GuestSpec, RunOutcome, ToWorker, TrapStats } from "./protocol.js";
import { DiskPanel, diskFromUrl } from "./disk-panel.js";
import { Dashboard } from "./dashboard.js";
import { BenchPanel } from "./bench-panel.js";

declare global {
  interface Window {
    /** The terminal, for tests and for poking at in the console. */
    __trapdoorTerm?: Terminal;
    /** The terminal's whole buffer (scrollback included) as text, one line per row. */
    __trapdoorText?: () => string;
  }
}

const MEMORY = "64M";
/** How long a restart waits for the old worker to stop and close its disk before ending it. */
const STOP_TIMEOUT_MS = 3000;
/** Guest speed (#speed) is instructions retired over at least this much of the worker's time. */
const SPEED_WINDOW_MS = 1000;

interface GuestChoice {
  label: string;
  clock: "realtime" | "deterministic";
  /** Whether the guest reads the serial console (and the terminal takes keyboard input). */
  interactive: boolean;
  /**
   * The hello guest ends its lines with a bare "\n" (0x0A); a real serial terminal would only move
   * down a row, so xterm.js is told to treat it as CR LF. Linux's tty sends "\r\n" itself (ONLCR)
   * and full-screen programs rely on a bare LF moving straight down, so not for Linux.
   */
  convertEol: boolean;
  spec(): GuestSpec;
}

/** Relative to the page: the dev server and a build serve the Linux images here (web/vite-linux-images.ts). */
const pageUrl = (path: string): string => new URL(path, document.baseURI).href;

const GUESTS: Record<string, GuestChoice> = {
  linux: {
    label: "Linux 6.1 (busybox shell)",
    clock: "realtime",
    interactive: true,
    convertEol: false,
    spec: () => ({
      kind: "linux",
      kernelUrl: pageUrl("guest/linux/bzImage"),
      initrdUrl: pageUrl("guest/linux/initramfs.img"),
      cmdline: "console=ttyS0 pci=conf1",
    }),
  },
  hello: {
    label: "hello (Multiboot test guest)",
    clock: "deterministic",
    interactive: false,
    convertEol: true,
    spec: () => ({
      kind: "multiboot",
      // Vite rewrites this URL: /@fs/<repo>/guest-images/hello/hello.elf in dev, an emitted
      // asset (assets/hello-<hash>.elf) in a build.
      kernelUrl: new URL("../guest-images/hello/hello.elf", import.meta.url).href,
      cmdline: "console=web",
    }),
  },
};
const DEFAULT_GUEST = "linux";

const params = new URLSearchParams(location.search);
const guestName = params.get("guest") ?? DEFAULT_GUEST;
const clockParam = params.get("clock");

const statusEl = document.querySelector<HTMLElement>("#status")!;
const trapsEl = document.querySelector<HTMLElement>("#traps")!;
const noticeEl = document.querySelector<HTMLElement>("#notice")!;
const terminalEl = document.querySelector<HTMLElement>("#terminal")!;
const titleEl = document.querySelector<HTMLElement>("#console-title")!;
const guestSelect = document.querySelector<HTMLSelectElement>("#guest")!;
const speedEl = document.querySelector<HTMLElement>("#speed")!;
const dashboardToggle = document.querySelector<HTMLButtonElement>("#dashboard-toggle")!;
const dashboard = new Dashboard(document.querySelector<HTMLElement>("#dashboard")!);
// The bench io panel boots the same Linux images in its own worker.
const benchGuest = GUESTS.linux!.spec();
if (benchGuest.kind === "linux")
  new BenchPanel(document.querySelector<HTMLElement>("#bench-panel")!, benchGuest);

const term = new Terminal({
  // Set per guest in main() (GuestChoice.convertEol, .interactive).
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
    case "reset":
      return "exited: the guest asked for a reset (not supported yet)";
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

/** Show or hide the dashboard; the worker sends samples only while it is shown. */
function setDashboard(on: boolean): void {
  dashboard.root.hidden = !on;
  dashboardToggle.setAttribute("aria-pressed", String(on));
  const msg: ToWorker = { type: "dashboard", on };
  vm?.postMessage(msg);
  const url = new URL(location.href);
  if (on) url.searchParams.delete("dashboard");
  else url.searchParams.set("dashboard", "off");
  history.replaceState(null, "", url);
}

/** Recent (worker ms, instructions) pairs from status messages, oldest first. */
let speedSamples: { hostMs: number; instructions: number }[] = [];

/** Guest MIPS over the last SPEED_WINDOW_MS of the worker's time, in #speed (data-mips: the figure). */
function showSpeed(hostMs: number, instructions: number): void {
  speedSamples.push({ hostMs, instructions });
  while (speedSamples.length > 2 && hostMs - speedSamples[1]!.hostMs >= SPEED_WINDOW_MS) speedSamples.shift();
  const first = speedSamples[0]!;
  const ms = hostMs - first.hostMs;
  if (ms < SPEED_WINDOW_MS) return;
  const mips = (instructions - first.instructions) / ms / 1000;
  speedEl.dataset.mips = mips.toFixed(2);
  speedEl.textContent = `${mips.toFixed(1)} MIPS`;
}

function fail(message: string): void {
  setStatus("error", `error: ${message}`);
  term.write(`\r\n\x1b[31m[trapdoor] ${message}\x1b[0m\r\n`);
}

function formatGuestTime(ns: number): string {
  if (ns < 1e6) return `${Math.round(ns / 1e3)} µs`;
  if (ns < 1e9) return `${Math.round(ns / 1e6)} ms`;
  const seconds = ns / 1e9;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s`;
}

function setUpGuestSelector(current: string): void {
  for (const [name, g] of Object.entries(GUESTS)) {
    const opt = document.createElement("option");
    opt.value = name;
    opt.textContent = g.label;
    opt.selected = name === current;
    guestSelect.append(opt);
  }
  guestSelect.addEventListener("change", () => {
    const url = new URL(location.href);
    if (guestSelect.value === DEFAULT_GUEST) url.searchParams.delete("guest");
    else url.searchParams.set("guest", guestSelect.value);
    location.assign(url);
  });
}

async function main(): Promise<void> {
  setUpGuestSelector(guestName);
  const guest = GUESTS[guestName];
  if (guest === undefined) {
    throw new Error(`unknown guest "${guestName}" (?guest= takes ${Object.keys(GUESTS).join(" or ")})`);
  }
  let clock = guest.clock;
  if (clockParam === "realtime" || clockParam === "deterministic") clock = clockParam;
  else if (clockParam !== null)
    throw new Error(`?clock= takes realtime or deterministic, not "${clockParam}"`);
  const spec = guest.spec();
  titleEl.textContent = `COM1 — ${guest.label}, cmdline "${spec.cmdline}", ${MEMORY.replace(/M$/, " MiB")}, ${clock} clock`;
  term.options.convertEol = guest.convertEol;

  if (!window.crossOriginIsolated) {
    noticeEl.textContent =
      "This page is not cross-origin isolated, so SharedArrayBuffer is unavailable and the emulator " +
      "cannot run. Serve it with the headers Cross-Origin-Opener-Policy: same-origin and " +
      "Cross-Origin-Embedder-Policy: require-corp (npm run dev / npm run preview do).";
    noticeEl.hidden = false;
    setStatus("error", "error: not cross-origin isolated");
    return;
  }

  dashboardToggle.addEventListener("click", () => setDashboard(dashboard.root.hidden));
  setDashboard(params.get("dashboard") !== "off");

  const initialDisk = diskFromUrl(params);
  const diskPanel: DiskPanel = new DiskPanel(initialDisk, (disk) =>
    startVm(guest, spec, clock, diskPanel, disk),
  );
  if (guest.interactive) {
    // Typing, paste (xterm.js sends pasted text through onData too, bracketed if the guest asked)
    // and the terminal's own answers (e.g. to a cursor position query) all go to COM1.
    term.options.disableStdin = false;
    term.options.cursorBlink = true;
    term.onData((data) => {
      const input: ToWorker = { type: "input", data };
      vm?.postMessage(input);
    });
    term.focus();
  }
  await startVm(guest, spec, clock, diskPanel, initialDisk);
}

/** The worker running the machine. */
let vm: Worker | undefined;

/** Stop the machine (its worker closes the disk, releasing an OPFS file) and end its worker. */
async function stopVm(): Promise<void> {
  const worker = vm;
  if (worker === undefined) return;
  vm = undefined;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, STOP_TIMEOUT_MS);
    worker.addEventListener("message", (ev: MessageEvent<FromWorker>) => {
      if (ev.data.type !== "stopped") return;
      clearTimeout(timer);
      resolve();
    });
    const stop: ToWorker = { type: "stop" };
    worker.postMessage(stop);
  });
  worker.terminate();
}

/** (Re)start the machine in a new worker, with `disk` as /dev/vda if given. */
async function startVm(
  guest: GuestChoice,
  spec: GuestSpec,
  clock: GuestChoice["clock"],
  diskPanel: DiskPanel,
  disk: DiskSpec | undefined,
): Promise<void> {
  if (vm !== undefined) {
    setStatus("loading", "stopping…");
    await stopVm();
    term.reset();
    trapsEl.hidden = true;
    delete statusEl.dataset.exitCode;
    dashboard.reset();
    speedSamples = [];
    speedEl.textContent = "";
    delete speedEl.dataset.mips;
    if (guest.interactive) {
      term.options.disableStdin = false;
      term.focus();
    }
  }
  setStatus("loading", "loading…");
  const worker = new Worker(new URL("./vm-worker.ts", import.meta.url), {
    type: "module",
    name: "trapdoor-vm",
  });
  vm = worker;
  worker.addEventListener("error", (ev) =>
    fail(`worker failed: ${ev.message || "could not load vm-worker"}`),
  );
  worker.addEventListener("message", (ev: MessageEvent<FromWorker>) => {
    // A stopped machine's last words do not belong on the page any more.
    if (worker !== vm) return;
    const msg = ev.data;
    switch (msg.type) {
      case "loading":
        setStatus("loading", `loading ${msg.what}…`);
        break;
      case "serial":
        term.write(msg.bytes);
        break;
      case "status": {
        const n = `${fmt.format(msg.instructions)} instructions retired — guest time ${formatGuestTime(msg.guestNs)}`;
        showSpeed(msg.hostMs, msg.instructions);
        if (msg.state === "running") {
          setStatus("running", `running — ${n}`);
        } else {
          setStatus("exited", `${describeOutcome(msg.outcome)} — ${n}`);
          if (msg.outcome?.kind === "debug-exit") statusEl.dataset.exitCode = String(msg.outcome.exitCode);
          term.options.disableStdin = true;
        }
        break;
      }
      case "stats":
        showStats(msg.stats);
        break;
      case "dashboard":
        dashboard.show(msg.sample);
        break;
      case "disk":
        diskPanel.showAttached(msg.disk);
        break;
      case "stopped":
        break;
      case "error":
        fail(msg.message);
        break;
    }
  });

  const boot: ToWorker = { type: "boot", guest: spec, memory: MEMORY, clock, disk };
  worker.postMessage(boot);
  const feed: ToWorker = { type: "dashboard", on: !dashboard.root.hidden };
  worker.postMessage(feed);
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
