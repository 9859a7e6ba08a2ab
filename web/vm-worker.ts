/**
 * The VM worker: owns one Machine, fetches the guest images, runs the machine off the page's main
 * thread, streams serial output, status and trap counters back and feeds typed input to COM1 (see
 * web/protocol.ts). With a disk in the boot message it opens it (web/protocol.ts DiskSpec) and
 * gives the machine a virtio-blk drive on it: a picked File as a read-only BlobDisk under a
 * copy-on-write OverlayDisk, or an OPFS image as an OpfsDisk. The disk is closed when the machine
 * stops, for whatever reason (a "stop" message, the guest powering off, an error).
 *
 * `Machine.create` compiles the core from `new URL("../../build/trapdoor.wasm", import.meta.url)`
 * in src/core/core.ts. Vite rewrites that pattern in the worker bundle too: in dev it is served
 * from /@fs/<repo>/build/trapdoor.wasm, in a build it is emitted as web-dist/assets/trapdoor-<hash>.wasm.
 */
import { Machine } from "../src/index.js";
import { BlobDisk, OpfsDisk, OverlayDisk, type DiskBackend } from "../src/disk/index.js";
import type { DiskInfo, DiskSpec, FromWorker, GuestSpec, ToWorker } from "./protocol.js";
import { DashboardFeed } from "./dashboard-feed.js";

/** How often the page hears the instruction count while the guest runs. */
const STATUS_INTERVAL_MS = 200;
/** How often the page gets fresh trap counters while the guest runs. */
const STATS_INTERVAL_MS = 1000;
/** How often the dashboard gets a sample while it is on. */
const DASHBOARD_INTERVAL_MS = 250;
/**
 * Instructions per run slice. Serial output is flushed and input fed once per slice, so this
 * bounds the echo latency of a keystroke (a few ms at tens of millions of instructions/s).
 */
const SLICE_INSTRUCTIONS = 1_000_000;
/**
 * Most memory the copy-on-write overlay of a picked File may take; beyond it the guest's writes to
 * new chunks fail with IOERR (rewrites of chunks already held still work).
 */
const OVERLAY_MAX_BYTES = 512 * 1024 * 1024;

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(msg, { transfer });
}

/** The boot in progress or done (settled when the machine has stopped and the disk is closed). */
let booting: Promise<void> | undefined;
let stopRequested = false;
let machine: Machine | undefined;
/** Input that arrived before the machine existed. */
let earlyInput = "";
/** Whether the page shows the dashboard; the running machine's feed; the timer sending its samples. */
let dashboardOn = false;
let feed: DashboardFeed | undefined;
let dashboardTimer: ReturnType<typeof setInterval> | undefined;

/** Send dashboard samples while the dashboard is on and the machine runs; stop otherwise. */
function updateDashboardFeed(): void {
  const f = feed;
  if (dashboardOn && f !== undefined && dashboardTimer === undefined) {
    dashboardTimer = setInterval(
      () => post({ type: "dashboard", sample: f.sample() }),
      DASHBOARD_INTERVAL_MS,
    );
  } else if ((!dashboardOn || f === undefined) && dashboardTimer !== undefined) {
    clearInterval(dashboardTimer);
    dashboardTimer = undefined;
  }
}

self.addEventListener("message", (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  switch (msg.type) {
    case "input":
      if (machine) machine.sendSerialInput(msg.data);
      else earlyInput += msg.data;
      break;
    case "boot":
      if (booting) {
        post({ type: "error", message: "this worker has already booted a machine" });
        return;
      }
      booting = boot(msg).catch((err: unknown) => post({ type: "error", message: describeError(err) }));
      break;
    case "dashboard":
      dashboardOn = msg.on;
      updateDashboardFeed();
      break;
    case "stop":
      stopRequested = true;
      machine?.stop();
      void (booting ?? Promise.resolve()).then(() => post({ type: "stopped" }));
      break;
  }
});

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

async function openDisk(spec: DiskSpec): Promise<DiskBackend> {
  switch (spec.kind) {
    case "file":
      return new OverlayDisk(new BlobDisk(spec.file), { maxBytes: OVERLAY_MAX_BYTES });
    case "opfs":
      return OpfsDisk.open(spec.name);
  }
}

function diskInfo(spec: DiskSpec, disk: DiskBackend): DiskInfo {
  return {
    kind: spec.kind,
    name: spec.kind === "file" ? spec.file.name : spec.name,
    size: disk.size,
    transport: spec.transport,
    overlay: disk instanceof OverlayDisk ? disk.stats() : undefined,
  };
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) {
    const detail = res.headers.get("content-type")?.startsWith("text/plain") ? `: ${await res.text()}` : "";
    throw new Error(`fetching ${new URL(url).pathname}: HTTP ${res.status}${detail}`);
  }
  return new Uint8Array(await res.arrayBuffer());
}

async function load(m: Machine, guest: GuestSpec): Promise<void> {
  switch (guest.kind) {
    case "multiboot": {
      post({ type: "loading", what: "the kernel" });
      m.loadMultiboot(await fetchBytes(guest.kernelUrl), { cmdline: guest.cmdline });
      break;
    }
    case "linux": {
      post({ type: "loading", what: "the Linux kernel and initramfs" });
      const [kernel, initrd] = await Promise.all([fetchBytes(guest.kernelUrl), fetchBytes(guest.initrdUrl)]);
      m.loadLinux(kernel, { cmdline: guest.cmdline, initrd });
      break;
    }
  }
}

async function boot(msg: Extract<ToWorker, { type: "boot" }>): Promise<void> {
  if (!self.crossOriginIsolated) {
    throw new Error("the worker is not cross-origin isolated: no SharedArrayBuffer for the core's memory");
  }
  if (msg.disk === undefined) return run(msg, undefined);
  post({ type: "loading", what: "the disk" });
  const disk = await openDisk(msg.disk);
  try {
    post({ type: "disk", disk: diskInfo(msg.disk, disk) });
    await run(msg, { spec: msg.disk, backend: disk });
  } finally {
    // Release the image (an OPFS file's lock) whenever the machine stops.
    disk.close();
  }
}

async function run(
  msg: Extract<ToWorker, { type: "boot" }>,
  disk: { spec: DiskSpec; backend: DiskBackend } | undefined,
): Promise<void> {
  const m = await Machine.create({
    memory: msg.memory,
    clock: msg.clock,
    drives: disk ? [{ backend: disk.backend, transport: disk.spec.transport }] : undefined,
  });
  m.onSerialOutput((bytes) => {
    // `bytes` is a fresh copy per slice, so it can be transferred.
    post({ type: "serial", bytes }, [bytes.buffer]);
  });
  await load(m, msg.guest);
  if (stopRequested) return;
  machine = m;
  if (earlyInput !== "") m.sendSerialInput(earlyInput);
  earlyInput = "";

  const status = (): void =>
    post({
      type: "status",
      state: "running",
      instructions: m.core.instructions,
      guestNs: m.clock.now(),
      hostMs: performance.now(),
    });
  status();
  // machine.run yields to the event loop between slices, so this timer and input messages get in.
  const timer = setInterval(status, STATUS_INTERVAL_MS);
  const dashboard = new DashboardFeed(m);
  feed = dashboard;
  updateDashboardFeed();
  const statsTimer = setInterval(() => {
    post({ type: "stats", stats: m.stats() });
    if (disk) post({ type: "disk", disk: diskInfo(disk.spec, disk.backend) });
  }, STATS_INTERVAL_MS);
  try {
    const outcome = await m.run({ sliceInstructions: SLICE_INSTRUCTIONS });
    post({
      type: "status",
      state: "exited",
      outcome,
      instructions: m.core.instructions,
      guestNs: m.clock.now(),
      hostMs: performance.now(),
    });
    post({ type: "stats", stats: m.stats() });
    if (dashboardOn) post({ type: "dashboard", sample: dashboard.sample() });
    if (disk) post({ type: "disk", disk: diskInfo(disk.spec, disk.backend) });
  } finally {
    clearInterval(timer);
    clearInterval(statsTimer);
    feed = undefined;
    updateDashboardFeed();
  }
}
