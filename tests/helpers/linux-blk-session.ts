// Boot the Linux guest with one virtio-blk drive over an image file, type shell commands at its
// busybox prompt (then `poweroff -f`), and collect what the drive saw.
import { writeFileSync } from "node:fs";
import { FileDisk } from "../../src/disk/file-disk.js";
import { Machine, type DriveOptions, type RunOutcome } from "../../src/machine.js";
import type { BlkFaultEvent } from "../../src/virtio/blk.js";
import type { VirtioDiagnostic } from "../../src/virtio/pci.js";
import { LINUX_APPEND, runLinuxCommands, type LinuxImages } from "./linux-session.js";

export interface BlkSession {
  outcome: RunOutcome;
  /** The serial console, latin1. */
  output: string;
  diagnostics: VirtioDiagnostic[];
  faults: BlkFaultEvent[];
  /** The drive's transport counters (kicks, requests, interrupts, ...). */
  counters: Machine["drives"][number]["counters"];
  blkCounters: Machine["drives"][number]["blkCounters"];
  legacy: boolean;
}

/** Run `commands` at the prompt of a Linux guest whose /dev/vda is the image file `img`. */
export async function blkSession(
  images: LinuxImages,
  img: string,
  commands: string[],
  drive: Omit<DriveOptions, "backend"> = {},
  append = LINUX_APPEND,
): Promise<BlkSession> {
  const backend = new FileDisk(img);
  const diagnostics: VirtioDiagnostic[] = [];
  const faults: BlkFaultEvent[] = [];
  const m = await Machine.create({
    memory: "64M",
    drives: [{ ...drive, backend, onDiagnostic: (d) => diagnostics.push(d), onFault: (f) => faults.push(f) }],
  });
  try {
    const { outcome, output } = await runLinuxCommands(m, images, append, commands);
    const d = m.drives[0]!;
    if (process.env.TRAPDOOR_DUMP) writeFileSync(img + ".log", output);
    return {
      outcome,
      output,
      diagnostics,
      faults,
      counters: { ...d.counters },
      blkCounters: { ...d.blkCounters },
      legacy: d.counters.legacyAccesses > 0,
    };
  } finally {
    backend.close();
  }
}
