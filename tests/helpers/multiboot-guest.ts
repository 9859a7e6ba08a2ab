/**
 * Run one of our Multiboot guests (guest-images/) on a prepared Machine: load the image with its
 * command line, run it to the end, and return how it ended and what it printed on COM1.
 */
import type { Machine, RunOptions, RunOutcome } from "../../src/machine.js";

export interface GuestRun {
  outcome: RunOutcome;
  /** Everything the guest wrote to the serial console. */
  bytes: Buffer;
  /** The same, latin1, and split at "\n". */
  text: string;
  lines: string[];
}

export async function runMultibootGuest(
  m: Machine,
  image: Uint8Array,
  cmdline: string,
  run: RunOptions,
): Promise<GuestRun> {
  const chunks: Uint8Array[] = [];
  m.onSerialOutput((b) => chunks.push(b));
  m.loadMultiboot(image, { cmdline });
  const outcome = await m.run(run);
  const bytes = Buffer.concat(chunks);
  const text = bytes.toString("latin1");
  return { outcome, bytes, text, lines: text.split("\n") };
}
