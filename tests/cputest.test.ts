import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Machine } from "../src/machine.js";
import { runMultibootGuest } from "./helpers/multiboot-guest.js";

// The cputest kernels (guest-images/cputest/README.md): each checks one area of the protected-mode
// CPU that the instruction vectors cannot reach, prints PASS/FAIL lines on COM1 and exits through
// port 0xF4 with 0 (all passed, exit code 1) or 1.
const DIR = new URL("../guest-images/cputest/", import.meta.url);
const SUITES = ["paging", "privilege", "exceptions", "tasks", "v86", "segments", "features", "vme"];

async function boot(suite: string) {
  const m = await Machine.create({ memory: "16M" });
  const run = await runMultibootGuest(m, readFileSync(new URL(`${suite}.elf`, DIR)), "", {
    timeoutMs: 20_000,
  });
  return { m, ...run };
}

describe("cputest kernels", () => {
  for (const suite of SUITES) {
    it(`${suite}: every check passes`, async () => {
      const { outcome, text } = await boot(suite);
      const lines = text.split("\n");
      const failures = lines.filter((l) => l.startsWith("FAIL"));
      expect(failures, failures.join("\n")).toEqual([]);
      expect(lines.filter((l) => l.startsWith("PASS")).length).toBeGreaterThan(10);
      expect(lines).toContain(
        `cputest ${suite}: ${lines.filter((l) => l.startsWith("PASS")).length} passed, 0 failed`,
      );
      expect(outcome, text.slice(-2000)).toEqual({ kind: "debug-exit", exitCode: 1 });
    });
  }

  it("features: global pages survive a CR3 load in the software TLB (CR4.PGE)", async () => {
    // Architecturally a CR3 load may keep or drop a global translation (QEMU drops it); trapdoor
    // keeps it, which is what makes PGE worth having: the kernel's TLB entries outlive a switch.
    const { text } = await boot("features");
    expect(text).toContain("INFO pge-global-after-cr3-load: kept");
  });

  it("runs deterministically: same output and instruction count twice", async () => {
    for (const suite of ["tasks", "v86"]) {
      const a = await boot(suite);
      const b = await boot(suite);
      expect(b.text).toBe(a.text);
      expect(b.m.core.instructions).toBe(a.m.core.instructions);
      expect(a.m.core.instructions).toBeGreaterThan(0);
    }
  });
});
