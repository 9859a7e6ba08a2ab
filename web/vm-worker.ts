/**
 * The VM worker: owns one Machine, runs it off the page's main thread and streams serial output,
 * status and trap counters back (see web/protocol.ts).
 *
 * `Machine.create` compiles the core from `new URL("../../build/trapdoor.wasm", import.meta.url)`
 * in src/core/core.ts. Vite rewrites that pattern in the worker bundle too: in dev it is served
 * from /@fs/<repo>/build/trapdoor.wasm, in a build it is emitted as web-dist/assets/trapdoor-<hash>.wasm.
 */
import { Machine } from "../src/index.js";
import type { FromWorker, ToWorker } from "./protocol.js";

/** How often the page hears the instruction count while the guest runs. */
const STATUS_INTERVAL_MS = 200;

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(msg, { transfer });
}

let booted = false;

self.addEventListener("message", (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  if (msg.type !== "boot") return;
  if (booted) {
    post({ type: "error", message: "this worker has already booted a machine" });
    return;
  }
  booted = true;
  boot(msg).catch((err: unknown) => {
    post({ type: "error", message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  });
});

async function boot(msg: ToWorker): Promise<void> {
  if (!self.crossOriginIsolated) {
    throw new Error("the worker is not cross-origin isolated: no SharedArrayBuffer for the core's memory");
  }
  const machine = await Machine.create({ memory: msg.memory });
  machine.onSerialOutput((bytes) => {
    // `bytes` is a fresh copy per slice, so it can be transferred.
    post({ type: "serial", bytes }, [bytes.buffer]);
  });
  machine.loadMultiboot(new Uint8Array(msg.kernel), { cmdline: msg.cmdline });

  post({ type: "status", state: "running", instructions: machine.core.instructions });
  // machine.run yields to the event loop between slices, so this timer gets to fire.
  const timer = setInterval(() => {
    post({ type: "status", state: "running", instructions: machine.core.instructions });
  }, STATUS_INTERVAL_MS);
  try {
    const outcome = await machine.run({ sliceInstructions: 2_000_000 });
    post({ type: "status", state: "exited", outcome, instructions: machine.core.instructions });
    post({ type: "stats", stats: machine.stats() });
  } finally {
    clearInterval(timer);
  }
}
