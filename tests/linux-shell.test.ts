// Linux 6.1 (guest-images/linux) booted in trapdoor to its busybox shell, driven over the serial
// console like a user would, in deterministic mode. Linux's own drivers are the client of our
// devices here: the 8250 driver, the PIT/TSC calibration, the PIC, PCI config type 1, the RTC.
import { beforeAll, describe, expect, it } from "vitest";
import { Machine, type RunOutcome } from "../src/machine.js";
import { LINUX_BUILD_TIMEOUT_MS, SKIP_LINUX } from "./helpers/linux-images.js";
import {
  LINUX_APPEND,
  readLinuxImages,
  runLinuxCommands,
  shellAnswer as answer,
  type LinuxImages,
} from "./helpers/linux-session.js";

interface Session {
  outcome: RunOutcome;
  output: string;
  instructions: number;
  stats: ReturnType<Machine["stats"]>;
}

let images: LinuxImages;

/** Boot, type each command after a prompt, then `poweroff -f`. */
async function session(commands: string[]): Promise<Session> {
  const m = await Machine.create({ memory: "64M" });
  const { outcome, output } = await runLinuxCommands(m, images, LINUX_APPEND, commands, 180_000);
  return { outcome, output, instructions: m.core.instructions, stats: m.stats() };
}

describe.skipIf(SKIP_LINUX)("Linux on trapdoor", () => {
  beforeAll(async () => {
    images = await readLinuxImages();
  }, LINUX_BUILD_TIMEOUT_MS);

  const commands = [
    "uname -a",
    "cat /proc/cpuinfo",
    "cat /proc/interrupts",
    "for i in 1 2 3; do echo loop$i; done",
    // read -t waits on the kernel's timers through poll(); busybox's sleep (clock_nanosleep) is
    // tested in linux-entropy.test.ts.
    "cat /proc/uptime; read -t 2 x; cat /proc/uptime",
    "date -u +%Y",
    "cat /sys/devices/system/clocksource/clocksource0/current_clocksource",
    "echo $((6*7))",
  ];
  let first: Session;

  it("boots to the shell, answers commands and powers off", { timeout: 240_000 }, async () => {
    first = await session(commands);
    const out = first.output;
    expect(out).toContain("trapdoor linux guest ready");
    expect(answer(out, "uname -a")).toMatch(/^Linux trapdoor 6\.1\.\d+ .* i686 GNU\/Linux/);
    const cpuinfo = answer(out, "cat /proc/cpuinfo");
    expect(cpuinfo).toMatch(/cpu family\s*: 6/);
    expect(cpuinfo).toMatch(/flags\s*: .*\bfpu\b.*\btsc\b.*\bcx8\b.*\bcmov\b/);
    const irqs = answer(out, "cat /proc/interrupts");
    expect(irqs).toMatch(/^\s+0:\s+\d+\s+XT-PIC\s+timer/m);
    expect(irqs).toMatch(/^\s+4:\s+\d+\s+XT-PIC\s+ttyS0/m);
    expect(answer(out, "for i in 1 2 3; do echo loop$i; done")).toBe("loop1\r\nloop2\r\nloop3\r\n");
    // Kernel messages (the TSC clocksource switch at 1 s) may interleave; keep the uptime lines.
    const [before, after] = answer(out, "cat /proc/uptime; read -t 2 x; cat /proc/uptime")
      .split("\r\n")
      .filter((l) => /^\d+\.\d+ \d+\.\d+$/.test(l))
      .map((l) => Number(l.split(" ")[0]));
    expect(after! - before!).toBeGreaterThanOrEqual(2);
    expect(after! - before!).toBeLessThan(2.2);
    // The RTC starts at the deterministic epoch, 2026-01-01T00:00:00Z.
    expect(answer(out, "date -u +%Y")).toBe("2026\r\n");
    expect(answer(out, "echo $((6*7))")).toBe("42\r\n");
    expect(out).toContain("reboot: System halted");
    expect(first.outcome).toEqual({ kind: "halted", interruptsEnabled: false });
  });

  it("keeps the TSC as its clocksource", () => {
    expect(answer(first.output, "cat /sys/devices/system/clocksource/clocksource0/current_clocksource")).toBe(
      "tsc\r\n",
    );
  });

  it(
    "is deterministic: a second boot prints the same bytes and makes the same exits",
    { timeout: 240_000 },
    async () => {
      const second = await session(commands);
      expect(second.output).toBe(first.output);
      expect(second.instructions).toBe(first.instructions);
      expect(second.stats).toEqual(first.stats);
    },
  );
});
