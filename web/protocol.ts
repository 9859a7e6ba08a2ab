/**
 * Messages between the page (web/main.ts) and the VM worker (web/vm-worker.ts).
 */
import type { RunOutcome, TrapStats } from "../src/index.js";

export type { RunOutcome, TrapStats };

/** Page → worker. */
export type ToWorker = {
  type: "boot";
  /** The kernel image (Multiboot ELF or a.out-kludge binary); transferred. */
  kernel: ArrayBuffer;
  cmdline: string;
  /** Guest RAM, QEMU style ("64M"). */
  memory: string;
};

/** Worker → page. */
export type FromWorker =
  | { type: "serial"; bytes: Uint8Array }
  | {
      type: "status";
      state: "running" | "exited";
      /** Why the run ended (with state "exited"). */
      outcome?: RunOutcome;
      /** Retired guest instructions so far. */
      instructions: number;
    }
  | { type: "stats"; stats: TrapStats }
  | { type: "error"; message: string };
