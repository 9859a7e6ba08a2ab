import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Machine } from "../src/index.js";

// guest-images/bench is the CPU benchmark guest `npm run bench` times (docs/performance.md). Its
// checksums exercise the core's fast paths (TLB, decode cache, REP bulk copies, self-modifying
// code) and must equal QEMU's (expected-qemu.txt). tests/guest-images.test.ts rebuilds the image.
const DIR = new URL("../guest-images/bench/", import.meta.url);

describe("the CPU benchmark guest", () => {
  it("prints the same checksums as under QEMU, in the same number of instructions every run", async () => {
    const counts: number[] = [];
    for (let i = 0; i < 2; i++) {
      const m = await Machine.create({ memory: "64M" });
      const chunks: Uint8Array[] = [];
      m.onSerialOutput((b) => chunks.push(b));
      m.loadMultiboot(readFileSync(new URL("bench.elf", DIR)));
      // Small slices: the decode cache and the TLB are dropped at every run() entry.
      const outcome = await m.run({ timeoutMs: 120_000, sliceInstructions: i === 0 ? 10_000_000 : 100_000 });
      expect(outcome).toEqual({ kind: "debug-exit", exitCode: 1 });
      expect(Buffer.concat(chunks).toString("latin1")).toBe(
        readFileSync(new URL("expected-qemu.txt", DIR), "latin1"),
      );
      counts.push(m.core.instructions);
    }
    expect(counts[1]).toBe(counts[0]);
  }, 180_000);
});
