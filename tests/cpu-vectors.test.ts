/**
 * 80286 real-mode instruction vectors (SingleStepTests, ../shared/cpu-tests/80286-real/) run on
 * the trapdoor core, one vitest test per opcode file. Each asserts that every test passes except
 * the known 286-vs-i686 differences listed in tests/cpu-vectors/known-differences.json (see
 * docs/cpu-known-differences.md). Set CPU_VECTORS=8F (or "80.4,D3.5", or a prefix like "D3")
 * to run only some opcode files; CPU_VECTORS_VERBOSE=1 prints every failing test.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Core } from "../src/core/core.js";
import { invalidLock, poppedIoplNt } from "./cpu-vectors/differences.js";
import {
  clearExceptionFrame,
  clearRam,
  createCore,
  runExpectingUd,
  runVector,
} from "./cpu-vectors/runner.js";
import {
  flagsMask,
  listOpcodes,
  loadMetadata,
  loadRevoked,
  loadVectors,
  vectorsAvailable,
} from "./cpu-vectors/vectors.js";

interface KnownDifference {
  reason: string;
  /** Number of failing tests, or the exact failing hashes. */
  count?: number;
  hashes?: string[];
}

const known = JSON.parse(
  readFileSync(new URL("./cpu-vectors/known-differences.json", import.meta.url), "utf8"),
) as Record<string, KnownDifference>;

const filter = (process.env.CPU_VECTORS ?? "")
  .split(",")
  .map((s) => s.trim().toUpperCase())
  .filter((s) => s !== "");
const verbose = process.env.CPU_VECTORS_VERBOSE === "1";

const available = vectorsAvailable();
const opcodes = available
  ? listOpcodes().filter((op) => filter.length === 0 || filter.some((f) => op === f || op.startsWith(f)))
  : [];

describe.skipIf(!available)("80286 real-mode vectors", () => {
  let core: Core;
  /** opcode, passed, total, of which checked for the i686's #UD on LOCK */
  const summary: [string, number, number, number][] = [];
  const meta = available ? loadMetadata() : { opcodes: {} };
  const revoked = available ? loadRevoked() : new Set<string>();

  beforeAll(async () => {
    core = await createCore();
  });

  afterAll(() => {
    const lines = summary.map(([op, pass, total]) => `${op.padEnd(5)} ${String(pass).padStart(3)}/${total}`);
    const pass = summary.reduce((a, s) => a + s[1], 0);
    const total = summary.reduce((a, s) => a + s[2], 0);
    const lock = summary.reduce((a, s) => a + s[3], 0);
    const cols = 6;
    const rows: string[] = [];
    for (let i = 0; i < lines.length; i += cols) rows.push(lines.slice(i, i + cols).join("   "));
    console.log(
      `80286 vectors: ${pass}/${total} passed (${lock} with an invalid LOCK checked for #UD)\n${rows.join("\n")}`,
    );
  });

  it.each(opcodes)("opcode %s", (opcode) => {
    const failed: string[] = [];
    let total = 0;
    let lockUd = 0;
    for (const v of loadVectors(opcode)) {
      if (revoked.has(v.hash)) continue;
      total++;
      let diffs: string[];
      if (invalidLock(v)) {
        diffs = runExpectingUd(core, v);
        clearExceptionFrame(core, v);
        lockUd++;
      } else {
        diffs = runVector(core, v, flagsMask(meta, opcode, v), poppedIoplNt(opcode, v));
      }
      clearRam(core, v);
      if (diffs.length > 0) {
        failed.push(v.hash);
        if (verbose) console.log(`${opcode} ${v.name} [${v.hash}]\n  ${diffs.join("\n  ")}`);
      }
    }
    summary.push([opcode, total - failed.length, total, lockUd]);
    const k = known[opcode];
    if (k?.hashes !== undefined) {
      expect(failed.sort()).toEqual([...k.hashes].sort());
    } else {
      expect(total - failed.length).toBe(total - (k?.count ?? 0));
    }
  });
});
