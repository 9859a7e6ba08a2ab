// Linux 6.1's virtio_blk and virtio_pci drivers as the client of our virtio-blk: mount an ext2
// image made by e2fsprogs (mke2fs -d), check file checksums against the host's, write a file,
// sync, unmount, power off, and read the file back with debugfs (e2fsprogs, not our code).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LINUX_BUILD_TIMEOUT_MS, SKIP_LINUX } from "./helpers/linux-images.js";
import {
  answer,
  APPEND,
  blkSession,
  loadLinuxImages,
  type BlkSession,
  type LinuxImages,
} from "./helpers/linux-blk-session.js";

function which(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd} || test -x /usr/sbin/${cmd} || test -x /sbin/${cmd}`]);
    return true;
  } catch {
    return false;
  }
}
const E2FS = which("mke2fs") && which("debugfs");
const tool = (name: string): string => {
  for (const d of ["/usr/sbin", "/sbin"]) {
    try {
      execFileSync("test", ["-x", `${d}/${name}`]);
      return `${d}/${name}`;
    } catch {
      /* next */
    }
  }
  return name;
};

let images: LinuxImages;
let work: string;
const files: Record<string, Buffer> = {};

function makeImage(name: string): string {
  const img = join(work, name);
  execFileSync(tool("mke2fs"), ["-q", "-F", "-t", "ext2", "-d", join(work, "files"), img, "8M"]);
  return img;
}

const MD5 = "md5sum /mnt/hello.txt /mnt/random.bin /mnt/sub/zeros.bin";
const commands = [
  "mkdir -p /mnt",
  "mount -t ext2 /dev/vda /mnt",
  MD5,
  "echo written-by-linux > /mnt/newfile",
  "sync",
  "umount /mnt",
];

function check(s: BlkSession, img: string): void {
  const out = s.output;
  expect(s.diagnostics).toEqual([]);
  expect(out).toMatch(/virtio_blk virtio0: \[vda\] 16384 512-byte logical blocks/);
  const sums = answer(out, MD5)
    .trim()
    .split("\r\n")
    .map((l) => l.split(/\s+/));
  expect(sums).toEqual([
    [md5(files["hello.txt"]!), "/mnt/hello.txt"],
    [md5(files["random.bin"]!), "/mnt/random.bin"],
    [md5(files["zeros.bin"]!), "/mnt/sub/zeros.bin"],
  ]);
  expect(s.outcome).toEqual({ kind: "halted", interruptsEnabled: false });
  const cat = execFileSync(tool("debugfs"), ["-R", "cat /newfile", img], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  expect(cat.toString()).toBe("written-by-linux\n");
  // Batching: never more interrupts than kicks... per request at most one.
  expect(s.counters.interrupts).toBeLessThanOrEqual(s.counters.requests);
}

function md5(b: Buffer): string {
  return createHash("md5").update(b).digest("hex");
}

describe.skipIf(SKIP_LINUX || !E2FS)("Linux mounts an ext2 image on virtio-blk", () => {
  beforeAll(async () => {
    images = await loadLinuxImages();
    work = mkdtempSync(join(tmpdir(), "trapdoor-vblk-"));
    mkdirSync(join(work, "files", "sub"), { recursive: true });
    files["hello.txt"] = Buffer.from("hello from the host\n");
    // Deterministic pseudo-random bytes (xorshift), 300 KiB: many requests, indirect chains.
    const rnd = Buffer.alloc(300 * 1024);
    let x = 0x12345678;
    for (let i = 0; i < rnd.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      rnd[i] = x & 0xff;
    }
    files["random.bin"] = rnd;
    files["zeros.bin"] = Buffer.alloc(4096 * 3 + 100);
    writeFileSync(join(work, "files", "hello.txt"), files["hello.txt"]);
    writeFileSync(join(work, "files", "random.bin"), files["random.bin"]);
    writeFileSync(join(work, "files", "sub", "zeros.bin"), files["zeros.bin"]);
  }, LINUX_BUILD_TIMEOUT_MS);

  afterAll(() => {
    if (work && !process.env.TRAPDOOR_DUMP) rmSync(work, { recursive: true, force: true });
  });

  it(
    "modern transport: reads match the host, a written file reaches the image",
    { timeout: 300_000 },
    async () => {
      const img = makeImage("modern.img");
      const s = await blkSession(images, img, commands, { transport: "modern" });
      check(s, img);
    },
  );

  it("transitional device, modern driver path", { timeout: 300_000 }, async () => {
    const img = makeImage("transitional.img");
    const s = await blkSession(images, img, commands, { transport: "transitional" });
    check(s, img);
    expect(s.legacy).toBe(false);
  });

  it("transitional device, legacy driver (virtio_pci.force_legacy=1)", { timeout: 300_000 }, async () => {
    const img = makeImage("legacy.img");
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
