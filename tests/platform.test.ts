import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { Machine, type MachineOptions, type RunOutcome } from "../src/machine.js";
import { runMultibootGuest } from "./helpers/multiboot-guest.js";

// The irqtest kernel (guest-images/irqtest/README.md) drives the PC platform the way Linux does
// (8259A init, PIT tick and calibration, RTC, UART interrupts, PCI, i8042), prints PASS/FAIL lines on
// COM1 and exits through port 0xF4 with 0 (all passed: exit code 1) or 1 (exit code 3). Every check
// passes under QEMU 7.2, which keeps its expectations independent of trapdoor.
const ELF = readFileSync(new URL("../guest-images/irqtest/irqtest.elf", import.meta.url));

interface Run {
  m: Machine;
  outcome: RunOutcome;
  bytes: Buffer;
  lines: string[];
  failures: string[];
  passes: string[];
}

async function boot(clock: MachineOptions["clock"] = "deterministic"): Promise<Run> {
  const m = await Machine.create({ memory: "16M", clock });
  const { outcome, bytes, lines } = await runMultibootGuest(m, ELF, "", { timeoutMs: 60_000 });
  return {
    m,
    outcome,
    bytes,
    lines,
    failures: lines.filter((l) => l.startsWith("FAIL")),
    passes: lines.filter((l) => l.startsWith("PASS")),
  };
}

/** Every check ran and passed, and the summary and exit code agree. */
function expectAllPassed(r: Run): void {
  const text = r.lines.join("\n");
  expect(r.failures, text).toEqual([]);
  expect(r.lines[0]).toBe("irqtest: start");
  expect(r.passes.length + r.failures.length).toBe(53);
  expect(r.lines).toContain(`irqtest: ${r.passes.length} passed, ${r.failures.length} failed`);
  expect(r.outcome, text.slice(-2000)).toEqual({
    kind: "debug-exit",
    exitCode: 1,
  });
}

describe("irqtest: the PC platform as Linux drives it", () => {
  let first: Run;
  beforeAll(async () => {
    first = await boot();
  });

  it("passes every check in deterministic mode", () => {
    expectAllPassed(first);
    // Things the guest reports as information, fixed by the platform's configuration.
    expect(first.lines).toContain("info: pci 00:00.0 8086:1237 class 060000 rev 02 hdr 00 irq 0 pin 0");
    expect(first.lines).toContain("info: RTC time 2026-01-01 00:00:00 (BCD mode)");
    // Guest time follows retired instructions at 1 ns each: the PIT measures a 1000 MHz TSC.
    expect(first.lines.some((l) => /^info: pit_calibrate_tsc: .* TSC 99\d\.\d{3} MHz$/.test(l))).toBe(true);
  });

  it("is deterministic: byte-identical output, instruction count and trap statistics", async () => {
    const second = await boot();
    expect(second.bytes.equals(first.bytes)).toBe(true);
    expect(second.m.core.instructions).toBe(first.m.core.instructions);
    expect(second.m.stats()).toEqual(first.m.stats());
    expect(second.outcome).toEqual(first.outcome);
  });

  it("passes in realtime mode (guest time follows the host clock)", async () => {
    const r = await boot("realtime");
    expectAllPassed(r);
  });
});
