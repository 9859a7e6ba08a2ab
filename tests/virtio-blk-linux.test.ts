// Linux 6.1's virtio_blk and virtio_pci drivers as the client of our virtio-blk: mount an ext2
// image made by e2fsprogs (mke2fs -d), check file checksums against the host's, write a file,
// sync, unmount, power off, and read the file back with debugfs (e2fsprogs, not our code).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Machine, type RunOutcome } from "../src/machine.js";
import { FileDisk } from "../src/disk/file-disk.js";
import type { VirtioDiagnostic } from "../src/virtio/pci.js";
import { LINUX_BUILD_TIMEOUT_MS, SKIP_LINUX } from "./helpers/linux-images.js";
import {
  LINUX_PROMPT as PROMPT,
  readLinuxImages,
  runLinuxCommands,
  type LinuxImages,
} from "./helpers/linux-session.js";
import {
  debugfsCat,
  HAVE_E2FS,
  makeExt2Image,
  md5sumCheck,
  md5sumRows,
  sampleFiles,
} from "./helpers/ext2-image.js";

const APPEND = "console=ttyS0 pci=conf1";

let images: LinuxImages;
let work: string;
const files = sampleFiles();

function makeImage(name: string): string {
  return makeExt2Image(work, name, files);
}

interface Session {
  outcome: RunOutcome;
  output: string;
  diagnostics: VirtioDiagnostic[];
  stats: { kicks: number; requests: number; interrupts: number };
  legacy: boolean;
}

async function session(
  img: string,
  transport: "modern" | "transitional",
  commands: string[],
  append = APPEND,
): Promise<Session> {
  const backend = new FileDisk(img);
  const diagnostics: VirtioDiagnostic[] = [];
  const m = await Machine.create({
    memory: "64M",
    drives: [{ backend, transport, onDiagnostic: (d) => diagnostics.push(d) }],
  });
  try {
    const { outcome, output } = await runLinuxCommands(m, images, append, commands);
    const c = m.drives[0]!.counters;
    if (process.env.TRAPDOOR_DUMP) writeFileSync(img + ".log", output);
    return {
      outcome,
      output,
      diagnostics,
      legacy: m.drives[0]!.counters.legacyAccesses > 0,
      stats: { kicks: c.kicks, requests: c.requests, interrupts: c.interrupts },
    };
  } finally {
    backend.close();
  }
}

const MD5 = md5sumCheck(files, "/mnt");
const commands = [
  "mkdir -p /mnt",
  "mount -t ext2 /dev/vda /mnt",
  MD5.command,
  "echo written-by-linux > /mnt/newfile",
  "sync",
  "umount /mnt",
];

function check(s: Session, img: string): void {
  const out = s.output;
  expect(s.diagnostics).toEqual([]);
  expect(out).toMatch(/virtio_blk virtio0: \[vda\] 16384 512-byte logical blocks/);
  expect(md5sumRows(out, MD5.command, PROMPT)).toEqual(MD5.expected);
  expect(s.outcome).toEqual({ kind: "halted", interruptsEnabled: false });
  expect(debugfsCat(img, "/newfile")).toBe("written-by-linux\n");
  // Batching: never more interrupts than kicks... per request at most one.
  expect(s.stats.interrupts).toBeLessThanOrEqual(s.stats.requests);
}

describe.skipIf(SKIP_LINUX || !HAVE_E2FS)("Linux mounts an ext2 image on virtio-blk", () => {
  beforeAll(async () => {
    images = await readLinuxImages();
    work = mkdtempSync(join(tmpdir(), "trapdoor-vblk-"));
  }, LINUX_BUILD_TIMEOUT_MS);

  afterAll(() => {
    if (work && !process.env.TRAPDOOR_DUMP) rmSync(work, { recursive: true, force: true });
  });

  it(
    "modern transport: reads match the host, a written file reaches the image",
    { timeout: 300_000 },
    async () => {
      const img = makeImage("modern.img");
      const s = await session(img, "modern", commands);
      check(s, img);
    },
  );

  it("transitional device, modern driver path", { timeout: 300_000 }, async () => {
    const img = makeImage("transitional.img");
    const s = await session(img, "transitional", commands);
    check(s, img);
    expect(s.legacy).toBe(false);
  });

  it("transitional device, legacy driver (virtio_pci.force_legacy=1)", { timeout: 300_000 }, async () => {
    const img = makeImage("legacy.img");
    const s = await session(img, "transitional", commands, APPEND + " virtio_pci.force_legacy=1");
    check(s, img);
    expect(s.legacy).toBe(true);
  });
});
