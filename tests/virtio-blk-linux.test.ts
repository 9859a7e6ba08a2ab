// Linux 6.1's virtio_blk and virtio_pci drivers as the client of our virtio-blk: mount an ext2
// image made by e2fsprogs (mke2fs -d), check file checksums against the host's, write a file,
// sync, unmount, power off, and read the file back with debugfs (e2fsprogs, not our code).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LINUX_BUILD_TIMEOUT_MS, SKIP_LINUX } from "./helpers/linux-images.js";
import { blkSession, type BlkSession } from "./helpers/linux-blk-session.js";
import { LINUX_APPEND as APPEND, readLinuxImages, type LinuxImages } from "./helpers/linux-session.js";
import { debugfsCat, makeExt2Image, md5sumCheck, md5sumRows, sampleFiles } from "./helpers/ext2-image.js";
import { HAVE_E2FS } from "./helpers/e2fsprogs.js";

let images: LinuxImages;
let work: string;
const files = sampleFiles();
const MD5 = md5sumCheck(files, "/mnt");

const commands = [
  "mkdir -p /mnt",
  "mount -t ext2 /dev/vda /mnt",
  MD5.command,
  "echo written-by-linux > /mnt/newfile",
  "sync",
  "umount /mnt",
];

function check(s: BlkSession, img: string): void {
  const out = s.output;
  expect(s.diagnostics).toEqual([]);
  expect(out).toMatch(/virtio_blk virtio0: \[vda\] 16384 512-byte logical blocks/);
  expect(md5sumRows(out, MD5.command)).toEqual(MD5.expected);
  expect(s.outcome).toEqual({ kind: "halted", interruptsEnabled: false });
  expect(debugfsCat(img, "/newfile")).toBe("written-by-linux\n");
  // Batching: never more interrupts than kicks... per request at most one.
  expect(s.counters.interrupts).toBeLessThanOrEqual(s.counters.requests);
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
      const img = makeExt2Image(work, "modern.img", files);
      const s = await blkSession(images, img, commands, { transport: "modern" });
      check(s, img);
    },
  );

  it("transitional device, modern driver path", { timeout: 300_000 }, async () => {
    const img = makeExt2Image(work, "transitional.img", files);
    const s = await blkSession(images, img, commands, { transport: "transitional" });
    check(s, img);
    expect(s.legacy).toBe(false);
  });

  it("transitional device, legacy driver (virtio_pci.force_legacy=1)", { timeout: 300_000 }, async () => {
    const img = makeExt2Image(work, "legacy.img", files);
    const s = await blkSession(
      images,
      img,
      commands,
      { transport: "transitional" },
      APPEND + " virtio_pci.force_legacy=1",
    );
    check(s, img);
    expect(s.legacy).toBe(true);
  });
});
