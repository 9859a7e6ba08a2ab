// The Linux guest images made by guest-images/linux/build.sh: a bzImage that follows the x86 Linux
// boot protocol and a gzip'ed newc initramfs with /init and a static i386 busybox. The first run
// on a machine builds the kernel (minutes); later runs reuse the cache. TRAPDOOR_SKIP_LINUX=1 skips.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { LINUX_BUILD_TIMEOUT_MS, SKIP_LINUX, linuxImageDir } from "./helpers/linux-images.js";

/** build.sh --print-path, timed (a cache hit must be quick). */
async function printPath(): Promise<{ path: string; ms: number }> {
  const t0 = Date.now();
  const path = await linuxImageDir();
  return { path, ms: Date.now() - t0 };
}

interface CpioEntry {
  name: string;
  mode: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Buffer;
}

/** A minimal reader for the "newc" cpio format (magic 070701) that gen_init_cpio writes. */
function parseNewc(buf: Buffer): Map<string, CpioEntry> {
  const entries = new Map<string, CpioEntry>();
  const align4 = (n: number) => (n + 3) & ~3;
  let off = 0;
  for (;;) {
    if (off + 110 > buf.length) throw new Error(`cpio: truncated header at ${off}`);
    const magic = buf.toString("latin1", off, off + 6);
    if (magic !== "070701") throw new Error(`cpio: bad magic ${JSON.stringify(magic)} at ${off}`);
    // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
    const field = (i: number) => parseInt(buf.toString("latin1", off + 6 + 8 * i, off + 14 + 8 * i), 16);
    const [mode, fileSize, rdevMajor, rdevMinor, nameSize] = [
      field(1),
      field(6),
      field(9),
      field(10),
      field(11),
    ];
    const name = buf.toString("latin1", off + 110, off + 110 + nameSize - 1); // namesize counts the NUL
    const dataStart = align4(off + 110 + nameSize);
    if (name === "TRAILER!!!") return entries;
    const data = buf.subarray(dataStart, dataStart + fileSize);
    if (data.length !== fileSize) throw new Error(`cpio: ${name}: truncated data`);
    entries.set("/" + name.replace(/^\.?\//, ""), { name, mode, rdevMajor, rdevMinor, data });
    off = align4(dataStart + fileSize);
  }
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;
const S_IFLNK = 0o120000;

describe.skipIf(SKIP_LINUX)("guest-images/linux", () => {
  let dir = "";

  beforeAll(async () => {
    dir = (await printPath()).path;
  }, LINUX_BUILD_TIMEOUT_MS);

  it("build.sh --print-path prints only the cache directory, and a second run reuses it", async () => {
    expect(dir).toMatch(/\/linux\/[0-9a-f]{16}$/);
    expect(dir).not.toContain(fileURLToPath(new URL("..", import.meta.url)));
    const again = await printPath();
    expect(again.path).toBe(dir);
    expect(again.ms).toBeLessThan(30_000);
  }, 60_000);

  it("bzImage is an x86 Linux boot-protocol image (>= 2.06, LOADED_HIGH)", () => {
    const img = readFileSync(join(dir, "bzImage"));
    expect(img.readUInt16LE(0x1fe)).toBe(0xaa55); // boot_flag
    expect(img.toString("latin1", 0x202, 0x206)).toBe("HdrS"); // header magic
    const version = img.readUInt16LE(0x206);
    expect(version).toBeGreaterThanOrEqual(0x0206);
    const setupSects = img.readUInt8(0x1f1);
    expect(setupSects).toBeGreaterThan(0);
    const setupBytes = (setupSects + 1) * 512;
    // syssize (0x1F4) is the protected-mode part in 16-byte paragraphs: the rest of the file.
    const sysBytes = img.readUInt32LE(0x1f4) * 16;
    expect(sysBytes).toBeGreaterThanOrEqual(img.length - setupBytes);
    expect(sysBytes - (img.length - setupBytes)).toBeLessThan(16);
    const loadflags = img.readUInt8(0x211);
    expect(loadflags & 0x01).toBe(0x01); // LOADED_HIGH: protected-mode code goes to 0x100000
    // kernel_version (0x20E) points, relative to 0x200, at a NUL-terminated version string.
    const verOff = img.readUInt16LE(0x20e) + 0x200;
    const verStr = img.toString("latin1", verOff, img.indexOf(0, verOff));
    expect(verStr).toMatch(/^6\.1\.\d+ /);
  });

  it("initramfs is a gzip'ed newc cpio with /init, a static i386 /bin/busybox and /dev/console", () => {
    const gz = readFileSync(join(dir, "initramfs.cpio.gz"));
    expect([gz[0], gz[1]]).toEqual([0x1f, 0x8b]);
    const files = parseNewc(gunzipSync(gz));

    const init = files.get("/init");
    expect(init, "/init").toBeDefined();
    expect(init!.mode & S_IFMT).toBe(S_IFREG);
    expect(init!.mode & 0o111).not.toBe(0);
    const script = init!.data.toString("utf8");
    expect(script.startsWith("#!/bin/busybox sh\n")).toBe(true);
    expect(script).toContain("trapdoor linux guest ready");

    const bb = files.get("/bin/busybox");
    expect(bb, "/bin/busybox").toBeDefined();
    expect(bb!.mode & S_IFMT).toBe(S_IFREG);
    expect(bb!.mode & 0o111).not.toBe(0);
    const elf = bb!.data;
    expect(elf.toString("latin1", 0, 4)).toBe("\x7fELF");
    expect(elf[4]).toBe(1); // ELFCLASS32
    expect(elf[5]).toBe(1); // little-endian
    expect(elf.readUInt16LE(16)).toBe(2); // ET_EXEC: static, not PIE
    expect(elf.readUInt16LE(18)).toBe(3); // EM_386
    // No PT_INTERP program header: statically linked.
    const [phoff, phentsize, phnum] = [elf.readUInt32LE(28), elf.readUInt16LE(42), elf.readUInt16LE(44)];
    for (let i = 0; i < phnum; i++) expect(elf.readUInt32LE(phoff + i * phentsize)).not.toBe(3);

    const sh = files.get("/bin/sh");
    expect(sh && sh.mode & S_IFMT).toBe(S_IFLNK);
    const console = files.get("/dev/console");
    expect(console && console.mode & S_IFMT).toBe(S_IFCHR);
    expect([console!.rdevMajor, console!.rdevMinor]).toEqual([5, 1]);
    for (const d of ["/proc", "/sys", "/dev", "/sbin", "/usr/bin", "/usr/sbin"]) {
      expect(files.has(d), d).toBe(true);
    }
  });
});
