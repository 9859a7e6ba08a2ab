// Linux 6.1's virtio_blk against the request types and fault injection beyond plain reads and
// writes: DISCARD and WRITE_ZEROES from busybox blkdiscard, the TOPOLOGY and discard limits as
// Linux reports them in sysfs, CONFIG_WCE through /sys/block/vda/cache_type, and an injected read
// error surfacing as a failed dd and a kernel I/O error while the machine carries on.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LINUX_BUILD_TIMEOUT_MS, SKIP_LINUX } from "./helpers/linux-images.js";
import { blkSession } from "./helpers/linux-blk-session.js";
import { readLinuxImages, shellAnswer as answer, type LinuxImages } from "./helpers/linux-session.js";

let images: LinuxImages;
let work: string;
const MiB = 1 << 20;

/** An 8 MiB raw image: byte i holds (i >> 9) & 0xff | 1, never 0, so zeroed ranges stand out. */
function patternImage(name: string): string {
  const img = join(work, name);
  const b = Buffer.alloc(8 * MiB);
  for (let i = 0; i < b.length; i++) b[i] = ((i >> 9) & 0xff) | 1;
  writeFileSync(img, b);
  return img;
}

describe.skipIf(SKIP_LINUX)(
  "Linux and virtio-blk: discard, write zeroes, topology, cache mode, faults",
  () => {
    beforeAll(async () => {
      images = await readLinuxImages();
      work = mkdtempSync(join(tmpdir(), "trapdoor-vblkx-"));
    }, LINUX_BUILD_TIMEOUT_MS);

    afterAll(() => {
      if (work && !process.env.TRAPDOOR_DUMP) rmSync(work, { recursive: true, force: true });
    });

    it(
      "DISCARD from blkdiscard, topology and discard limits in sysfs, cache_type toggles CONFIG_WCE",
      { timeout: 300_000 },
      async () => {
        const img = patternImage("discard.img");
        const before = readFileSync(img);
        // Commands stay under 72 columns: the console wraps longer echoes.
        const files = ["physical_block_size", "minimum_io_size", "optimal_io_size", "discard_granularity"];
        const sysfs = [...files, "discard_max_bytes", "write_zeroes_max_bytes", "max_discard_segments"].map(
          (f) => `cat /sys/block/vda/queue/${f}`,
        );
        const DISCARD = "blkdiscard -o 1048576 -l 1048576 /dev/vda; echo rc=$?";
        const CACHE = "cat /sys/block/vda/cache_type";
        const WT = "echo 'write through' > /sys/block/vda/cache_type";
        const DD = "dd if=/dev/zero of=/dev/vda bs=4096 count=1 seek=100 conv=fsync";
        const s = await blkSession(images, img, [...sysfs, CACHE, DISCARD, WT, CACHE, DD]);
        const out = s.output;
        expect(s.outcome).toEqual({ kind: "halted", interruptsEnabled: false });
        expect(s.diagnostics).toEqual([]);
        // TOPOLOGY (4 KiB physical blocks, 4 KiB minimum and 128 KiB optimal I/O) and the DISCARD /
        // WRITE_ZEROES limits (8192 sectors, 32 ranges, 8-sector alignment) as Linux 6.1 applied them.
        expect(sysfs.map((c) => answer(out, c).trim())).toEqual([
          "4096",
          "4096",
          "131072",
          "4096",
          "4194304",
          "4194304",
          "32",
        ]);
        expect(answer(out, CACHE).trim()).toBe("write back");
        expect(answer(out, DISCARD).trim()).toBe("rc=0");
        const after = readFileSync(img);
        expect(after.subarray(MiB, 2 * MiB).every((b) => b === 0)).toBe(true);
        // Nothing else changed but the 4 KiB block dd zeroed below.
        expect(Buffer.compare(after.subarray(0, 409600), before.subarray(0, 409600))).toBe(0);
        expect(Buffer.compare(after.subarray(413696, MiB), before.subarray(413696, MiB))).toBe(0);
        expect(Buffer.compare(after.subarray(2 * MiB), before.subarray(2 * MiB))).toBe(0);
        expect(s.blkCounters.sectorsDiscarded).toBe(2048);
        // CONFIG_WCE: Linux wrote writeback = 0, read it back, and then relied on write-through: no
        // FLUSH request for the fsync, but the device flushed the backend before completing the write.
        expect(answer(out.slice(out.indexOf(WT)), CACHE).trim()).toBe("write through");
        expect(answer(out, DD)).toMatch(/1\+0 records out/);
        expect(after.subarray(100 * 4096, 101 * 4096).every((b) => b === 0)).toBe(true);
        expect(s.blkCounters.flushes).toBe(0);
        expect(s.blkCounters.backendFlushes).toBeGreaterThanOrEqual(1);
        // Not exercised here, for want of a guest tool: WRITE_ZEROES (busybox 1.35's blkdiscard has no
        // -z and its fallocate no zero-range/punch-hole mode, the ways user space reaches BLKZEROOUT /
        // blkdev_issue_zeroout), and fstrim (FITRIM is an ext4/xfs/btrfs ioctl; Linux 6.1's ext2, the
        // only filesystem in our guest kernel, has none). Both are covered by virtio-blk-requests.test.ts.
      },
    );

    it(
      "an injected read error fails dd with EIO and a kernel I/O error; delayed completions keep Linux going",
      { timeout: 300_000 },
      async () => {
        const img = patternImage("faults.img");
        const BAD = "dd if=/dev/vda of=/dev/null bs=4096 skip=1000 count=1; echo rc=$?";
        const GOOD = "dd if=/dev/vda of=/dev/null bs=4096 count=64 2>/dev/null; echo rc=$?";
        const drive = {
          faults: [
            { kind: "read-error", first: 8000, last: 8007 },
            { kind: "delay", microseconds: 200 },
          ] as const,
        };
        const s = await blkSession(images, img, [BAD, GOOD], drive);
        expect(s.outcome).toEqual({ kind: "halted", interruptsEnabled: false });
        expect(s.diagnostics).toEqual([]);
        const bad = answer(s.output, BAD);
        expect(bad).toMatch(/Input\/output error/);
        expect(bad).toMatch(/rc=1/);
        expect(s.output).toMatch(/I\/O error, dev vda, sector 8000 op 0x0:\(READ\)/);
        expect(answer(s.output, GOOD).trim()).toBe("rc=0");
        const errors = s.faults.filter((f) => f.rule === "read-error:8000-8007");
        expect(errors.length).toBeGreaterThanOrEqual(1);
        expect(s.blkCounters.errors).toBe(errors.length);
        // Every request went through the asynchronous path and was published after its delay.
        expect(s.counters.asyncCompletions).toBe(s.counters.requests);
        expect(s.faults.filter((f) => f.rule === "delay:200us")).toHaveLength(s.counters.requests);
        // Deterministic: a second run gives the same console, counters and fault events.
        const again = await blkSession(images, patternImage("faults2.img"), [BAD, GOOD], drive);
        expect(again.output).toBe(s.output);
        expect(again.counters).toEqual(s.counters);
        expect(again.faults).toEqual(s.faults);
      },
    );
  },
);
