import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Machine } from "../src/index.js";
import { runMultibootGuest } from "./helpers/multiboot-guest.js";

// guest-images/bench is the CPU benchmark guest `npm run bench` times (docs/performance.md). Its
// checksums exercise the core's fast paths (TLB, decode cache, REP bulk copies, self-modifying
// code) and must equal QEMU's (expected-qemu.txt). tests/guest-images.test.ts rebuilds the image.
const DIR = new URL("../guest-images/bench/", import.meta.url);

describe("the CPU benchmark guest", () => {
  it("prints the same checksums as under QEMU, in the same 28,496,165 instructions every run", async () => {
    const counts: number[] = [];
    for (let i = 0; i < 2; i++) {
      const m = await Machine.create({ memory: "64M" });
      // Small slices: the decode cache and the TLB are dropped at every run() entry.
      const { outcome, text } = await runMultibootGuest(m, readFileSync(new URL("bench.elf", DIR)), "", {
        timeoutMs: 120_000,
        sliceInstructions: i === 0 ? 10_000_000 : 100_000,
      });
      expect(outcome).toEqual({ kind: "debug-exit", exitCode: 1 });
      expect(text).toBe(readFileSync(new URL("expected-qemu.txt", DIR), "latin1"));
      counts.push(m.core.instructions);
    }
    expect(counts[1]).toBe(counts[0]);
    // The count guest-images/bench/README.md and docs/performance.md give for this version (v2).
    expect(counts[0]).toBe(28_496_165);
  }, 180_000);
});
