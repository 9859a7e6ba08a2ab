// The copy-on-write overlay under a real driver: Linux 6.1 mounts an ext2 image (made by
// e2fsprogs' mke2fs -d) through an OverlayDisk over a read-only FileDisk, as the CLI's
// --drive ...,snapshot=on does. Linux changes a file and creates one, remounts and reads both
// back; the image file stays byte for byte as it was.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Machine } from "../src/machine.js";
import { FileDisk } from "../src/disk/file-disk.js";
import { OverlayDisk } from "../src/disk/overlay-disk.js";
import { LINUX_BUILD_TIMEOUT_MS, SKIP_LINUX } from "./helpers/linux-images.js";
import { LINUX_APPEND, readLinuxImages, runLinuxCommands } from "./helpers/linux-session.js";
import { makeExt2Image } from "./helpers/ext2-image.js";
import { MKE2FS } from "./helpers/e2fsprogs.js";

const work = mkdtempSync(join(tmpdir(), "trapdoor-overlay-linux-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(SKIP_LINUX || MKE2FS === undefined)("OverlayDisk under Linux's virtio_blk", () => {
  it(
    "takes Linux's writes in memory; the image is unchanged",
    { timeout: LINUX_BUILD_TIMEOUT_MS },
    async () => {
      const images = await readLinuxImages();
      const img = makeExt2Image(work, "ext2.img", { "a.txt": Buffer.from("original\n") });
      const before = readFileSync(img);

      const disk = new OverlayDisk(new FileDisk(img, { readOnly: true }));
      const m = await Machine.create({ memory: "64M", drives: [{ backend: disk }] });
      const { outcome, output } = await runLinuxCommands(m, images, LINUX_APPEND, [
        "mount -t ext2 /dev/vda /mnt && echo changed > /mnt/a.txt && echo created > /mnt/b.txt && sync && umount /mnt",
        "mount -t ext2 /dev/vda /mnt && cat /mnt/a.txt /mnt/b.txt",
      ]);
      const st = disk.stats();
      disk.close();

      expect(outcome, output.slice(-2000)).toEqual({ kind: "halted", interruptsEnabled: false });
      // What cat printed (the kernel may log the mount in between).
      const answer = output.slice(output.lastIndexOf("cat /mnt/a.txt /mnt/b.txt"));
      expect(answer).toMatch(/\r\nchanged\r\n(\[[^\n]*\n)*created\r\n/);
      // The disk was writable (the base is read-only) and Linux's writes landed in chunks.
      expect(st.dirtyChunks).toBeGreaterThan(0);
      expect(st.bytesWritten).toBeGreaterThan(0);
      expect(readFileSync(img).equals(before)).toBe(true);
    },
  );
});
