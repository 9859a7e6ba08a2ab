/**
 * ext2 images for the Linux disk tests, made and inspected with e2fsprogs (mke2fs -d, debugfs), so
 * that what Linux reads and writes is checked by tools that are not ours.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { e2fsTool, MKE2FS } from "./e2fsprogs.js";
import { shellAnswer } from "./linux-session.js";

/**
 * The files put on the image, by path: a short text, 300 KiB of xorshift bytes (many requests)
 * and a file of zeros in a subdirectory.
 */
export function sampleFiles(): Record<string, Buffer> {
  const rnd = Buffer.alloc(300 * 1024);
  let x = 0x12345678;
  for (let i = 0; i < rnd.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    rnd[i] = x & 0xff;
  }
  return {
    "hello.txt": Buffer.from("hello from the host\n"),
    "random.bin": rnd,
    "sub/zeros.bin": Buffer.alloc(4096 * 3 + 100),
  };
}

/** Write `files` under `dir`/files and make an 8 MiB ext2 image of them at `dir`/`name`. */
export function makeExt2Image(dir: string, name: string, files: Record<string, Buffer>): string {
  const root = join(dir, "files");
  for (const [path, data] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), data);
  }
  const img = join(dir, name);
  execFileSync(MKE2FS!, ["-q", "-F", "-t", "ext2", "-d", root, img, "8M"]);
  return img;
}

/** The contents of `path` in the ext2 image, read by debugfs. */
export function debugfsCat(img: string, path: string): string {
  return execFileSync(e2fsTool("debugfs")!, ["-R", `cat ${path}`, img], {
    stdio: ["ignore", "pipe", "ignore"],
  }).toString();
}

function md5(b: Buffer): string {
  return createHash("md5").update(b).digest("hex");
}

/**
 * For files mounted at `mountPoint`: the shell command that checksums them, and the rows
 * ([md5, path]) md5sum prints when Linux read them back intact.
 */
export function md5sumCheck(
  files: Record<string, Buffer>,
  mountPoint: string,
): { command: string; expected: string[][] } {
  const paths = Object.keys(files);
  return {
    command: `md5sum ${paths.map((p) => `${mountPoint}/${p}`).join(" ")}`,
    expected: paths.map((p) => [md5(files[p]!), `${mountPoint}/${p}`]),
  };
}

/** The rows md5sum printed for `command` in the Linux guest's console output. */
export function md5sumRows(output: string, command: string): string[][] {
  return shellAnswer(output, command)
    .trim()
    .split("\r\n")
    .map((l) => l.split(/\s+/));
}
