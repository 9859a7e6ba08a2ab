/**
 * The VM worker: owns one Machine, fetches the guest images, runs the machine off the page's main
 * thread, streams serial output, status and trap counters back and feeds typed input to COM1 (see
 * web/protocol.ts).
 *
 * `Machine.create` compiles the core from `new URL("../../build/trapdoor.wasm", import.meta.url)`
 * in src/core/core.ts. Vite rewrites that pattern in the worker bundle too: in dev it is served
 * from /@fs/<repo>/build/trapdoor.wasm, in a build it is emitted as web-dist/assets/trapdoor-<hash>.wasm.
 */
import { Machine } from "../src/index.js";
import type { FromWorker, GuestSpec, ToWorker } from "./protocol.js";

/** How often the page hears the instruction count while the guest runs. */
const STATUS_INTERVAL_MS = 200;
/** How often the page gets fresh trap counters while the guest runs. */
const STATS_INTERVAL_MS = 1000;
/**
 * Instructions per run slice. Serial output is flushed and input fed once per slice, so this
 * bounds the echo latency of a keystroke (a few ms at tens of millions of instructions/s).
 */
const SLICE_INSTRUCTIONS = 1_000_000;

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(msg, { transfer });
}

let booted = false;
let machine: Machine | undefined;
/** Input that arrived before the machine existed. */
let earlyInput = "";

self.addEventListener("message", (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  switch (msg.type) {
    case "input":
      if (machine) machine.sendSerialInput(msg.data);
      else earlyInput += msg.data;
      break;
    case "boot":
      if (booted) {
        post({ type: "error", message: "this worker has already booted a machine" });
        return;
      }
      booted = true;
      boot(msg).catch((err: unknown) => {
        post({ type: "error", message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
      });
      break;
  }
});

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
  const m = await Machine.create({ memory: msg.memory, clock: msg.clock });
  m.onSerialOutput((bytes) => {
    // `bytes` is a fresh copy per slice, so it can be transferred.
    post({ type: "serial", bytes }, [bytes.buffer]);
  });
  await load(m, msg.guest);
  machine = m;
  if (earlyInput !== "") m.sendSerialInput(earlyInput);
  earlyInput = "";

  const status = (): void =>
    post({ type: "status", state: "running", instructions: m.core.instructions, guestNs: m.clock.now() });
  status();
  // machine.run yields to the event loop between slices, so this timer and input messages get in.
  const timer = setInterval(status, STATUS_INTERVAL_MS);
  const statsTimer = setInterval(() => post({ type: "stats", stats: m.stats() }), STATS_INTERVAL_MS);
  try {
    const outcome = await m.run({ sliceInstructions: SLICE_INSTRUCTIONS });
    post({
      type: "status",
      state: "exited",
      outcome,
      instructions: m.core.instructions,
      guestNs: m.clock.now(),
    });
    post({ type: "stats", stats: m.stats() });
  } finally {
    clearInterval(timer);
    clearInterval(statsTimer);
  }
}
