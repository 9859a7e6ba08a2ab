/**
 * A scripted session with the Linux guest: boot it on a prepared Machine, type each command at the
 * shell prompt (expect(1)-style), then `poweroff -f`, and collect the console output; then read
 * what the shell printed for one command.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ExpectScript, type ExpectStep } from "../../src/cli/expect-script.js";
import type { Machine, RunOutcome } from "../../src/machine.js";
import { linuxImageDir } from "./linux-images.js";

export interface LinuxImages {
  kernel: Uint8Array;
  initrd: Uint8Array;
}

/** Build (or find in the cache) the Linux guest and read its kernel and initramfs. */
export async function readLinuxImages(): Promise<LinuxImages> {
  const dir = await linuxImageDir();
  return {
    kernel: new Uint8Array(readFileSync(join(dir, "bzImage"))),
    initrd: new Uint8Array(readFileSync(join(dir, "initramfs.cpio.gz"))),
  };
}

/** The busybox shell prompt of the guest (as root in /root). */
export const LINUX_PROMPT = "/root # ";

/** The kernel command line of the Linux tests: the console on COM1, PCI config mechanism #1. */
export const LINUX_APPEND = "console=ttyS0 pci=conf1";

export async function runLinuxCommands(
  m: Machine,
  images: LinuxImages,
  cmdline: string,
  commands: readonly string[],
  timeoutMs = 240_000,
): Promise<{ outcome: RunOutcome; output: string }> {
  let output = "";
  m.onSerialOutput((b) => (output += Buffer.from(b).toString("latin1")));
  const steps: ExpectStep[] = [...commands, "poweroff -f"].map((c) => ({
    expect: LINUX_PROMPT,
    send: c + "\n",
  }));
  const script = new ExpectScript(steps, (t) => m.sendSerialInput(t));
  m.onSerialOutput((b) => script.feed(b));
  m.loadLinux(images.kernel, { cmdline, initrd: images.initrd });
  script.start();
  const outcome = await m.run({ timeoutMs });
  return { outcome, output };
}

/** What the shell printed for `command` (between its echo and the next prompt). */
export function shellAnswer(output: string, command: string): string {
  const at = output.indexOf(command + "\r\n");
  if (at < 0) throw new Error(`no echo of ${JSON.stringify(command)} in the console output`);
  const start = at + command.length + 2;
  return output.slice(start, output.indexOf(LINUX_PROMPT, start));
}
