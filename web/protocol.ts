/**
 * Messages between the page (web/main.ts) and the VM worker (web/vm-worker.ts).
 */
import type { RunOutcome, TrapStats } from "../src/index.js";

export type { RunOutcome, TrapStats };

/** What to boot. URLs are absolute; the worker fetches them. */
export type GuestSpec =
  | {
      kind: "multiboot";
      /** A Multiboot ELF or a.out-kludge binary. */
      kernelUrl: string;
      cmdline: string;
    }
  | {
      kind: "linux";
      /** A bzImage. */
      kernelUrl: string;
      initrdUrl: string;
      cmdline: string;
    };

/** Page → worker. */
export type ToWorker =
  | {
      type: "boot";
      guest: GuestSpec;
      /** Guest RAM, QEMU style ("64M"). */
      memory: string;
      /** Guest time: follows the host clock, or retired instructions (see MachineOptions.clock). */
      clock: "realtime" | "deterministic";
    }
  /** Keys typed or text pasted into the terminal, as xterm.js's onData gives them. */
  | { type: "input"; data: string };

/** Worker → page. */
export type FromWorker =
  /** The worker is fetching the guest images. */
  | { type: "loading"; what: string }
  | { type: "serial"; bytes: Uint8Array }
  | {
      type: "status";
      state: "running" | "exited";
      /** Why the run ended (with state "exited"). */
      outcome?: RunOutcome;
      /** Retired guest instructions so far. */
      instructions: number;
      /** Guest time since machine start, in ns. */
      guestNs: number;
    }
  | { type: "stats"; stats: TrapStats }
  | { type: "error"; message: string };
