// guest-images/virtioblk: our own Multiboot kernel with its own virtio-blk driver (virtio 1.2
// §4.1, §2.7, §5.2; see its README) against MemoryDisk images, on the modern and the transitional
// transport (the latter driven through the legacy BAR0 interface, then through the modern one).
// The same kernel and disks also run under QEMU, the independent reference, when it is installed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { MemoryDisk } from "../src/disk/memory-disk.js";
import { Machine } from "../src/machine.js";
import { runMultibootGuest } from "./helpers/multiboot-guest.js";
import type { VirtioDiagnostic } from "../src/virtio/pci.js";

const KERNEL_PATH = fileURLToPath(new URL("../guest-images/virtioblk/virtioblk.elf", import.meta.url));
const KERNEL = readFileSync(KERNEL_PATH);
const SECTOR = 512;
const QEMU = "qemu-system-i386";
const hasQemu = spawnSync(QEMU, ["--version"]).status === 0;

/** Sectors 1-15 as the host prepares them (virtioblk.c host_pattern). */
const hostPattern = (s: number, i: number) => (s * 31 + i * 7 + (i >> 8)) & 0xff;
/** What the guest writes (virtioblk.c guest_pattern); tag 0 = modern interface, 1 = legacy. */
const guestPattern = (s: number, i: number, tag: number) => (s * 13 + i * 3 + tag * 0x40 + 0x11) & 0xff;

/** Sector 0: "TRAPDOOR", le64 capacity, the serial at 16; sectors 1-15: hostPattern. */
function makeImage(bytes: number, serial: string): Uint8Array {
  const d = new Uint8Array(bytes);
  d.set(new TextEncoder().encode("TRAPDOOR"), 0);
  new DataView(d.buffer).setBigUint64(8, BigInt(bytes / SECTOR), true);
  d.set(new TextEncoder().encode(serial), 16);
  for (let s = 1; s < 16; s++) for (let i = 0; i < SECTOR; i++) d[s * SECTOR + i] = hostPattern(s, i);
  return d;
}

/**
 * The image after the guest ran: 8 sectors at 32 with tag 0 (modern interface), at 48 with tag 1
 * if `legacy` (legacy interface), the last sector with tag 0 (the modern pass runs last).
 */
function imageAfter(bytes: number, serial: string, legacy: boolean): Uint8Array {
  const d = makeImage(bytes, serial);
  const put = (s: number, tag: number) => {
    for (let i = 0; i < SECTOR; i++) d[s * SECTOR + i] = guestPattern(s, i, tag);
  };
  for (let s = 32; s < 40; s++) put(s, 0);
  if (legacy) for (let s = 48; s < 56; s++) put(s, 1);
  put(bytes / SECTOR - 1, 0);
  return d;
}

const A = { size: 1 << 20, serial: "vguest-modern" };
const B = { size: 3 << 20, serial: "vguest-transitional" };

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
  const { outcome, text, lines } = await runMultibootGuest(m, KERNEL, "", { timeoutMs: 30_000 });
  return { m, outcome, text, lines, diagnostics };
}

/** The checks every pass makes (virtioblk README), and those of one interface only. */
const COMMON_CHECKS = [
  "ids", "irq-line", "reset", "offer", "queue-max", "driver-ok", "blk-size", "seg-max",
  "read-sector0", "capacity", "get-id", "read-host-data", "host-data", "write", "flush",
  "read-back-indirect", "read-back-data", "write-last-sector", "read-across-end", "read-past-end",
  "unsupported-type", "batch-status", "batch-data", "isr-queue-bit", "isr-read-clears", "final-reset",
]; // prettier-ignore
const MODERN_ONLY = [
  "capabilities", "features-ok", "num-queues", "queue-config", "event-idx-avail-event",
  "event-idx-suppresses", "batch-one-interrupt",
]; // prettier-ignore
const LEGACY_ONLY = ["io-bar", "no-interrupt-flag", "batch-interrupted"];

/** PASS names for a modern drive in `modernSlot` and a transitional one in `transitionalSlot`. */
function expectedChecks(modernSlot: string, transitionalSlot: string): string[] {
  return [
    "found",
    ...[...COMMON_CHECKS, ...MODERN_ONLY].map((c) => `${modernSlot}:modern:${c}`),
    ...[...COMMON_CHECKS, ...LEGACY_ONLY].map((c) => `${transitionalSlot}:legacy:${c}`),
    ...[...COMMON_CHECKS, ...MODERN_ONLY].map((c) => `${transitionalSlot}:modern:${c}`),
  ].sort();
}

function passedChecks(lines: string[]): string[] {
  return lines
    .filter((l) => l.startsWith("PASS "))
    .map((l) => l.slice(5))
    .sort();
}

describe("virtioblk guest (our own virtio-blk driver)", () => {
  it("drives a modern and a transitional drive: every check passes, the disks hold what it wrote", async () => {
    const a = new MemoryDisk(makeImage(A.size, A.serial));
    const b = new MemoryDisk(makeImage(B.size, B.serial));
    const run = await boot([
      { disk: a, transport: "modern", serial: A.serial },
      { disk: b, transport: "transitional", serial: B.serial },
    ]);
    expect(
      run.lines.filter((l) => l.startsWith("FAIL")),
      run.text,
    ).toEqual([]);
    const expected = expectedChecks("01", "02");
    expect(passedChecks(run.lines)).toEqual(expected);
    expect(run.lines).toContain(`virtioblk: ${expected.length} passed, 0 failed`);
    expect(run.outcome).toEqual({ kind: "debug-exit", exitCode: 1 });
    // trapdoor batches: one used.idx publish and one interrupt per notification, also without
    // EVENT_IDX (the legacy pass), where the spec would allow more.
    expect(run.lines.filter((l) => l.startsWith("info:"))).toEqual([
      "info: 01:modern: batch of 3 requests took 1 interrupt(s)",
      "info: 02:legacy: batch of 3 requests took 1 interrupt(s)",
      "info: 02:modern: batch of 3 requests took 1 interrupt(s)",
    ]);
    // The only requests the checker reports are the three that go past the end on purpose
    // (read-across-end, read-past-end and the batch's third request), in each of the three passes.
    expect(run.diagnostics.map((d) => `${d.device} ${d.check}`)).toEqual([
      ...Array<string>(3).fill("virtio-blk0 B4"),
      ...Array<string>(6).fill("virtio-blk1 B4"),
    ]);
    // The disks hold exactly what the guest wrote and nothing else changed; one FLUSH per pass.
    expect(Buffer.from(a.bytes).equals(imageAfter(A.size, A.serial, false))).toBe(true);
    expect(Buffer.from(b.bytes).equals(imageAfter(B.size, B.serial, true))).toBe(true);
    expect(a.flushes).toBe(1);
    expect(b.flushes).toBe(2);
  });

  it("runs deterministically: same output and instruction count twice", async () => {
    const once = async () =>
      boot([{ disk: new MemoryDisk(makeImage(A.size, "det")), transport: "transitional", serial: "det" }]);
    const x = await once();
    const y = await once();
    expect(x.outcome).toEqual({ kind: "debug-exit", exitCode: 1 });
    expect(y.text).toBe(x.text);
    expect(y.m.core.instructions).toBe(x.m.core.instructions);
  });

  // The independent reference: QEMU's virtio-blk-pci (modern-only, and transitional) with the same
  // kernel and images. SeaBIOS puts the drives at slots 03 and 04 (-vga none).
  it.skipIf(!hasQemu)("passes the same checks under QEMU, which leaves the same disk content", () => {
    const dir = mkdtempSync(join(tmpdir(), "trapdoor-virtioblk-qemu-"));
    const [a, b] = [join(dir, "a.img"), join(dir, "b.img")];
    writeFileSync(a, makeImage(A.size, A.serial));
    writeFileSync(b, makeImage(B.size, B.serial));
    const r = spawnSync(
      QEMU,
      [
        ["-m", "16", "-display", "none", "-vga", "none", "-no-reboot", "-serial", "stdio"],
        ["-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", KERNEL_PATH],
        ["-drive", `file=${a},if=none,id=d0,format=raw`],
        ["-device", `virtio-blk-pci,drive=d0,disable-legacy=on,serial=${A.serial}`],
        ["-drive", `file=${b},if=none,id=d1,format=raw`],
        ["-device", `virtio-blk-pci,drive=d1,disable-legacy=off,serial=${B.serial}`],
      ].flat(),
      { encoding: "latin1", timeout: 120_000 },
    );
    const lines = r.stdout.split(/\r?\n/);
    expect(
      lines.filter((l) => l.startsWith("FAIL")),
      r.stdout + r.stderr,
    ).toEqual([]);
    expect(passedChecks(lines)).toEqual(expectedChecks("03", "04"));
    expect(r.status).toBe(1); // isa-debug-exit: (0 << 1) | 1
    expect(readFileSync(a).equals(imageAfter(A.size, A.serial, false))).toBe(true);
    expect(readFileSync(b).equals(imageAfter(B.size, B.serial, true))).toBe(true);
  });
});
