// Boot the Linux guest with one virtio-blk drive over an image file, type shell commands at its
// busybox prompt (then `poweroff -f`), and collect what the drive saw.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ExpectScript, type ExpectStep } from "../../src/cli/expect-script.js";
import { FileDisk } from "../../src/disk/file-disk.js";
import { Machine, type DriveOptions, type RunOutcome } from "../../src/machine.js";
import type { BlkFaultEvent } from "../../src/virtio/blk.js";
import type { VirtioDiagnostic } from "../../src/virtio/pci.js";
import { linuxImageDir } from "./linux-images.js";

export const PROMPT = "/root # ";
export const APPEND = "console=ttyS0 pci=conf1";

export interface LinuxImages {
  kernel: Uint8Array;
  initrd: Uint8Array;
}

export async function loadLinuxImages(): Promise<LinuxImages> {
  const dir = await linuxImageDir();
  return {
    kernel: new Uint8Array(readFileSync(join(dir, "bzImage"))),
    initrd: new Uint8Array(readFileSync(join(dir, "initramfs.cpio.gz"))),
  };
}

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
  append = APPEND,
): Promise<BlkSession> {
  const backend = new FileDisk(img);
  const diagnostics: VirtioDiagnostic[] = [];
  const faults: BlkFaultEvent[] = [];
  const m = await Machine.create({
    memory: "64M",
    drives: [{ ...drive, backend, onDiagnostic: (d) => diagnostics.push(d), onFault: (f) => faults.push(f) }],
  });
  let output = "";
  m.onSerialOutput((b) => (output += Buffer.from(b).toString("latin1")));
  const steps: ExpectStep[] = [...commands, "poweroff -f"].map((c) => ({ expect: PROMPT, send: c + "\n" }));
  const script = new ExpectScript(steps, (t) => m.sendSerialInput(t));
  m.onSerialOutput((b) => script.feed(b));
  m.loadLinux(images.kernel, { cmdline: append, initrd: images.initrd });
  script.start();
  try {
    const outcome = await m.run({ timeoutMs: 240_000 });
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

/** What the shell printed in answer to `command` (between its echo and the next prompt). */
export function answer(output: string, command: string): string {
  const at = output.indexOf(command + "\r\n");
  if (at < 0) throw new Error(`no echo of ${JSON.stringify(command)}`);
  const start = at + command.length + 2;
  return output.slice(start, output.indexOf(PROMPT, start));
}
