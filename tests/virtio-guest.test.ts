// guest-images/virtioblk: our own Multiboot kernel with its own virtio-blk driver (virtio 1.2
// §4.1, §2.7, §5.2; see its README) against MemoryDisk images, on the modern and the transitional
// transport (the latter driven through the legacy BAR0 interface, then through the modern one).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MemoryDisk } from "../src/disk/memory-disk.js";
import { Machine } from "../src/machine.js";
import type { VirtioDiagnostic } from "../src/virtio/pci.js";

const KERNEL = readFileSync(new URL("../guest-images/virtioblk/virtioblk.elf", import.meta.url));
const SECTOR = 512;

/** Sectors 1-15 as the host prepares them (virtioblk.c host_pattern). */
const hostPattern = (s: number, i: number) => (s * 31 + i * 7 + (i >> 8)) & 0xff;
/** What the guest writes (virtioblk.c guest_pattern); tag 0 = modern interface, 1 = legacy. */
const guestPattern = (s: number, i: number, tag: number) => (s * 13 + i * 3 + tag * 0x40 + 0x11) & 0xff;

/** Sector 0: "TRAPDOOR", le64 capacity, the serial at 16; sectors 1-15: hostPattern. */
function makeDisk(bytes: number, serial: string): MemoryDisk {
  const disk = new MemoryDisk(bytes);
  const d = disk.bytes;
  d.set(new TextEncoder().encode("TRAPDOOR"), 0);
  new DataView(d.buffer).setBigUint64(8, BigInt(bytes / SECTOR), true);
  d.set(new TextEncoder().encode(serial), 16);
  for (let s = 1; s < 16; s++) for (let i = 0; i < SECTOR; i++) d[s * SECTOR + i] = hostPattern(s, i);
  return disk;
}

/** First byte of sectors [first, first + count) of `disk` that differs from guestPattern(tag), or -1. */
function firstMismatch(disk: MemoryDisk, first: number, count: number, tag: number): number {
  for (let s = first; s < first + count; s++)
    for (let i = 0; i < SECTOR; i++)
      if (disk.bytes[s * SECTOR + i] !== guestPattern(s, i, tag)) return s * SECTOR + i;
  return -1;
}

async function boot(drives: { disk: MemoryDisk; transport: "modern" | "transitional"; serial: string }[]) {
  const diagnostics: VirtioDiagnostic[] = [];
  const m = await Machine.create({
    memory: "16M",
    drives: drives.map((d) => ({
      backend: d.disk,
      transport: d.transport,
      serial: d.serial,
      onDiagnostic: (x: VirtioDiagnostic) => diagnostics.push(x),
    })),
  });
  const chunks: Uint8Array[] = [];
  m.onSerialOutput((b) => chunks.push(b));
  m.loadMultiboot(KERNEL, { cmdline: "" });
  const outcome = await m.run({ timeoutMs: 30_000 });
  const text = Buffer.concat(chunks).toString("latin1");
  return { m, outcome, text, lines: text.split("\n"), diagnostics };
}

/** The checks every pass makes (virtioblk README); legacy passes check io-bar instead of capabilities etc. */
const COMMON_CHECKS = [
  "ids", "irq-line", "reset", "offer", "queue-max", "driver-ok", "blk-size", "seg-max",
  "read-sector0", "capacity", "get-id", "read-host-data", "host-data", "write", "flush",
  "read-back-indirect", "read-back-data", "write-last-sector", "read-across-end", "read-past-end",
  "unsupported-type", "batch-one-interrupt", "batch-status", "batch-data", "isr-queue-bit",
  "isr-read-clears", "final-reset",
]; // prettier-ignore
const MODERN_ONLY = [
  "capabilities",
  "features-ok",
  "num-queues",
  "queue-config",
  "event-idx-avail-event",
  "event-idx-suppresses",
];
const LEGACY_ONLY = ["io-bar", "no-interrupt-flag"];

describe("virtioblk guest (our own virtio-blk driver)", () => {
  it("drives a modern and a transitional drive: every check passes, the checker reports only the reads past the end", async () => {
    const a = makeDisk(1 << 20, "vguest-modern");
    const b = makeDisk(3 << 20, "vguest-transitional");
    const run = await boot([
      { disk: a, transport: "modern", serial: "vguest-modern" },
      { disk: b, transport: "transitional", serial: "vguest-transitional" },
    ]);
    const failures = run.lines.filter((l) => l.startsWith("FAIL"));
    expect(failures, run.text).toEqual([]);
    const passed = new Set(run.lines.filter((l) => l.startsWith("PASS ")).map((l) => l.slice(5)));
    const expected = [
      "found",
      ...[...COMMON_CHECKS, ...MODERN_ONLY].map((c) => `01:modern:${c}`),
      ...[...COMMON_CHECKS, ...LEGACY_ONLY].map((c) => `02:legacy:${c}`),
      ...[...COMMON_CHECKS, ...MODERN_ONLY].map((c) => `02:modern:${c}`),
    ];
    expect([...passed].sort()).toEqual(expected.sort());
    expect(run.lines).toContain(`virtioblk: ${expected.length} passed, 0 failed`);
    expect(run.outcome).toEqual({ kind: "debug-exit", exitCode: 1 });
    // The only requests the checker reports are the three that go past the end on purpose
    // (read-across-end, read-past-end and the batch's third request), in each of the three passes.
    expect(run.diagnostics.map((d) => `${d.device} ${d.check}`)).toEqual([
      ...Array<string>(3).fill("virtio-blk0 B4"),
      ...Array<string>(6).fill("virtio-blk1 B4"),
    ]);

    // What the guest wrote is on the disks: 8 sectors at 32 (modern interface, tag 0), at 48
    // (legacy interface, tag 1), and the last sector (written last by the modern pass).
    expect(firstMismatch(a, 32, 8, 0)).toBe(-1);
    expect(firstMismatch(b, 32, 8, 0)).toBe(-1);
    expect(firstMismatch(b, 48, 8, 1)).toBe(-1);
    expect(firstMismatch(a, (1 << 20) / SECTOR - 1, 1, 0)).toBe(-1);
    expect(firstMismatch(b, (3 << 20) / SECTOR - 1, 1, 0)).toBe(-1);
    // ... and nothing else changed: the prepared sectors and the untouched ones are intact.
    expect(firstMismatch(a, 48, 8, 1)).toBe(48 * SECTOR);
    for (let s = 1; s < 16; s++) expect(a.bytes[s * SECTOR + 5]).toBe(hostPattern(s, 5));
    expect(a.bytes.subarray(16 * SECTOR, 32 * SECTOR).every((x) => x === 0)).toBe(true);
    expect(a.flushes).toBe(1);
    expect(b.flushes).toBe(2);
  });

  it("runs deterministically: same output and instruction count twice", async () => {
    const once = async () =>
      boot([{ disk: makeDisk(1 << 20, "det"), transport: "transitional", serial: "det" }]);
    const x = await once();
    const y = await once();
    expect(x.outcome).toEqual({ kind: "debug-exit", exitCode: 1 });
    expect(y.text).toBe(x.text);
    expect(y.m.core.instructions).toBe(x.m.core.instructions);
  });
});
