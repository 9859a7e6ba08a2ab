// guest-images/badvirtio: a "bad driver" that commits each mistake the virtio driver checker
// detects (docs/virtio.md), one at a time with a device reset in between, and checks from inside
// the guest how the device reacted (strict: DEVICE_NEEDS_RESET + configuration interrupt;
// lenient: used length 0 and the queue goes on; register misuse ignored; bad block requests IOERR).
// Before each mistake the guest writes its number to the POST port, so every diagnostic can be
// pinned to the mistake that caused it.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MemoryDisk } from "../src/disk/memory-disk.js";
import { Machine } from "../src/machine.js";
import { runMultibootGuest } from "./helpers/multiboot-guest.js";
import type { VirtioDiagnostic } from "../src/virtio/pci.js";

const KERNEL = readFileSync(new URL("../guest-images/badvirtio/badvirtio.elf", import.meta.url));

/** The mistakes in the order the guest commits them, with the check ID each must produce. */
const MISTAKES: [string, string][] = [
  ["vq-head-out-of-range", "VQ1"],
  ["vq-next-out-of-range", "VQ2"],
  ["vq-loop", "VQ3"],
  ["vq-read-after-write", "VQ6"],
  ["vq-buffer-outside-ram", "VQ4"],
  ["vq-zero-length", "VQ5"],
  ["vq-avail-idx-jump", "VQ14"],
  ["vq-indirect-not-negotiated", "VQ7"],
  ["vq-indirect-with-next", "VQ8"],
  ["vq-nested-indirect", "VQ9"],
  ["vq-indirect-bad-length", "VQ10"],
  ["vq-indirect-outside-ram", "VQ11"],
  ["vq-too-many-segments", "VQ12"],
  ["vq-chain-over-4gib", "VQ13"],
  ["blk-short-header", "B1"],
  ["blk-no-status", "B2"],
  ["blk-misaligned-length", "B3"],
  ["blk-beyond-capacity", "B4"],
  ["blk-wrong-direction", "B6"],
  ["blk-flush-sector", "B7"],
  ["blk-get-id-length", "B8"],
  ["kick-before-driver-ok", "T20"],
  ["unoffered-feature", "T3"],
  ["no-version-1", "T6"],
  ["queue-config-after-enable", "T15"],
  ["wrong-access-width", "T10"],
  ["bad-queue-size", "T12"],
  ["notify-missing-queue", "T21"],
  ["kick-without-bus-master", "T24"],
  ["status-bits-cleared", "T1"],
  ["vq-ring-misaligned", "VQ15"],
  ["vq-ring-outside-ram", "VQ16"],
  ["status-out-of-order", "T2"],
  ["features-after-features-ok", "T5"],
  ["queue-enable-zero", "T14"],
  ["read-only-field", "T11"],
  ["device-config-write", "T8"],
  ["pci-cfg-misaligned", "T23"],
];
/** With a read-only drive the guest commits one more. */
const READ_ONLY_MISTAKE: [string, string] = ["blk-write-read-only", "B5"];
/** With a transitional device the guest then drives the legacy interface (no NEEDS_RESET there). */
const LEGACY_MISTAKES: [string, string][] = [
  ["legacy-next-out-of-range", "VQ2"],
  ["legacy-unoffered-feature", "T3"],
  ["legacy-wrong-access-width", "T10"],
];
/** Checks that are not mistakes: the PCI_CFG capability is there and a correct window works. */
const PCI_CFG_CHECKS = ["pci-cfg-found", "pci-cfg-window"];

async function boot(mode: "strict" | "lenient", transport: "modern" | "transitional", readOnly: boolean) {
  const disk = new MemoryDisk(1 << 20);
  disk.bytes.forEach((_, i) => (disk.bytes[i] = (i * 5 + (i >> 9)) & 0xff));
  const before = disk.bytes.slice();
  /** [mistake number on the POST port when reported, diagnostic] */
  const seen: [number, VirtioDiagnostic][] = [];
  let current = 0;
  const m = await Machine.create({
    memory: "16M",
    onPostCode: (code) => (current = code),
    drives: [{ backend: disk, transport, mode, readOnly, onDiagnostic: (d) => seen.push([current, d]) }],
  });
  const { outcome, text, lines } = await runMultibootGuest(m, KERNEL, mode, { timeoutMs: 30_000 });
  return { m, outcome, text, lines, seen, disk, before };
}

describe("badvirtio guest (a driver that commits every detectable mistake)", () => {
  for (const [mode, transport, readOnly] of [
    ["strict", "modern", false],
    ["lenient", "modern", false],
    ["strict", "transitional", false],
    ["lenient", "transitional", false],
    ["lenient", "modern", true],
  ] as const) {
    const what = `${mode} checker, ${transport} ${readOnly ? "read-only " : ""}device`;
    it(`${what}: each mistake is reported exactly where it was made`, async () => {
      const run = await boot(mode, transport, readOnly);
      const mistakes = [
        ...MISTAKES,
        ...(readOnly ? [READ_ONLY_MISTAKE] : []),
        ...(transport === "transitional" ? LEGACY_MISTAKES : []),
      ];
      const names = mistakes.map(([n]) => n);
      names.splice(names.indexOf("pci-cfg-misaligned"), 0, ...PCI_CFG_CHECKS);
      const failures = run.lines.filter((l) => l.startsWith("FAIL"));
      expect(failures, run.text).toEqual([]);
      expect(run.lines).toContain(`badvirtio: ${mode} checker, device at 00:1.0`);
      // The guest saw the reaction it expected to each mistake, in this mode.
      expect(run.lines.filter((l) => l.startsWith("PASS ")).map((l) => l.slice(5))).toEqual(names);
      expect(run.lines).toContain(`badvirtio: ${names.length} passed, 0 failed`);
      expect(run.outcome).toEqual({ kind: "debug-exit", exitCode: 1 });
      // Exactly one diagnostic per mistake, with the expected check ID, while that mistake's
      // number was on the POST port; none while bringing the device up in between (0).
      expect(run.seen.map(([at, d]) => [at, d.check])).toEqual(
        mistakes.map(([, check], i) => [i + 1, check]),
      );
      for (const [, d] of run.seen) {
        expect(d.device).toBe("virtio-blk0");
        expect(d.section).toMatch(/^\d+(\.\d+)*/);
        if (/^(VQ|B)/.test(d.check)) expect(d.queue).toBe(0);
      }
      expect(run.m.drives[0]!.diagnosticCount).toBe(mistakes.length);
      // No bad request moved data: the disk is as the host left it.
      expect(Buffer.from(run.disk.bytes).equals(Buffer.from(run.before))).toBe(true);
    });
  }

  it("runs deterministically: same output, diagnostics and instruction count twice", async () => {
    const a = await boot("strict", "modern", false);
    const b = await boot("strict", "modern", false);
    expect(b.text).toBe(a.text);
    expect(b.seen).toEqual(a.seen);
    expect(b.m.core.instructions).toBe(a.m.core.instructions);
  });
});
