import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileDisk } from "../src/disk/file-disk.js";
import { MemoryDisk } from "../src/disk/memory-disk.js";
import { parseDrive, UsageError } from "../src/cli/args.js";

const dir = mkdtempSync(join(tmpdir(), "trapdoor-disk-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("FileDisk", () => {
  it("reads and writes in place, straight into a SharedArrayBuffer view, never growing the file", () => {
    const path = join(dir, "a.img");
    const bytes = new Uint8Array(4096).map((_, i) => i & 0xff);
    writeFileSync(path, bytes);
    const d = new FileDisk(path);
    expect([d.size, d.readOnly]).toEqual([4096, false]);
    const ram = new Uint8Array(new SharedArrayBuffer(8192));
    d.read(512, ram.subarray(100, 100 + 1024));
    expect(Array.from(ram.subarray(100, 104))).toEqual([0, 1, 2, 3]);
    ram.fill(0xaa, 0, 512);
    d.write(3584, ram.subarray(0, 512));
    d.flush();
    expect(() => d.write(3585, ram.subarray(0, 512))).toThrow(RangeError);
    expect(() => d.read(4096, ram.subarray(0, 1))).toThrow(RangeError);
    expect(() => d.read(-1, ram.subarray(0, 1))).toThrow(RangeError);
    d.close();
    expect(statSync(path).size).toBe(4096);
    const after = readFileSync(path);
    expect(after[3584]).toBe(0xaa);
    expect(after[3583]).toBe(3583 & 0xff);
    expect(() => d.read(0, new Uint8Array(1))).toThrow(/closed/);
  });

  it("opens read-only and refuses writes; refuses missing files and bad sizes", () => {
    const path = join(dir, "ro.img");
    writeFileSync(path, new Uint8Array(1024));
    const d = new FileDisk(path, { readOnly: true });
    expect(() => d.write(0, new Uint8Array(512))).toThrow(/read-only/);
    d.close();
    expect(() => new FileDisk(join(dir, "missing.img"))).toThrow(/ENOENT/);
    writeFileSync(join(dir, "odd.img"), new Uint8Array(1000));
    expect(() => new FileDisk(join(dir, "odd.img"))).toThrow(/multiple of 512/);
  });
});

describe("discard and writeZeroes", () => {
  it("FileDisk zeroes in place (more than one 64 KiB chunk), keeps the size, refuses ranges past the end", () => {
    const path = join(dir, "z.img");
    writeFileSync(path, new Uint8Array(256 * 1024).fill(0x11));
    const d = new FileDisk(path);
    d.writeZeroes(512, 100 * 1024);
    d.discard(200 * 1024, 1024);
    expect(() => d.writeZeroes(255 * 1024, 2048)).toThrow(RangeError);
    expect(() => d.discard(256 * 1024, 512)).toThrow(RangeError);
    d.close();
    const after = readFileSync(path);
    expect(after.length).toBe(256 * 1024);
    expect(after[511]).toBe(0x11);
    expect(after.subarray(512, 512 + 100 * 1024).every((b) => b === 0)).toBe(true);
    expect(after[512 + 100 * 1024]).toBe(0x11);
    expect(after.subarray(200 * 1024, 201 * 1024).every((b) => b === 0)).toBe(true);
    expect(after[255 * 1024]).toBe(0x11); // the refused range was not touched
    const ro = new FileDisk(path, { readOnly: true });
    expect(() => ro.writeZeroes(0, 512)).toThrow(/read-only/);
    ro.close();
  });

  it("MemoryDisk fills the range with zeros and refuses read-only or out-of-range requests", () => {
    const d = new MemoryDisk(new Uint8Array(2048).fill(7));
    d.writeZeroes(512, 512);
    d.discard(1536, 512);
    expect(Array.from(d.bytes.subarray(510, 514))).toEqual([7, 7, 0, 0]);
    expect(Array.from(d.bytes.subarray(1022, 1026))).toEqual([0, 0, 7, 7]);
    expect(d.bytes[2047]).toBe(0);
    expect(() => d.writeZeroes(2000, 512)).toThrow(RangeError);
    expect(() => new MemoryDisk(512, { readOnly: true }).discard(0, 512)).toThrow(/read-only/);
  });
});

describe("MemoryDisk", () => {
  it("holds bytes, refuses out-of-range and read-only writes, counts flushes", () => {
    const d = new MemoryDisk(2048);
    d.write(512, new Uint8Array([1, 2, 3]));
    const out = new Uint8Array(3);
    d.read(512, out);
    expect(Array.from(out)).toEqual([1, 2, 3]);
    expect(() => d.read(2047, new Uint8Array(2))).toThrow(RangeError);
    d.flush();
    expect(d.flushes).toBe(1);
    expect(() => new MemoryDisk(new Uint8Array(512), { readOnly: true }).write(0, out)).toThrow(/read-only/);
    expect(() => new MemoryDisk(100)).toThrow(RangeError);
  });
});

describe("--drive parsing (QEMU syntax)", () => {
  it("accepts file, if, readonly, transport", () => {
    expect(parseDrive("file=a.img,if=virtio")).toEqual({
      file: "a.img",
      interface: "virtio",
      readOnly: false,
      transport: "modern",
      faults: [],
      snapshot: false,
    });
    expect(parseDrive("if=virtio,file=x,,y.img,readonly=on,transport=transitional")).toEqual({
      file: "x,y.img",
      interface: "virtio",
      readOnly: true,
      transport: "transitional",
      faults: [],
      snapshot: false,
    });
    expect(parseDrive("file=d.img,if=ide,readonly=on")).toMatchObject({
      file: "d.img",
      interface: "ide",
      readOnly: true,
    });
    expect(parseDrive("file=a.img,if=virtio,snapshot=on").snapshot).toBe(true);
    expect(parseDrive("file=a.img,if=virtio,snapshot=off").snapshot).toBe(false);
  });
  it("explains bad specs", () => {
    expect(() => parseDrive("file=a.img")).toThrow(/if=virtio or if=ide is required/);
    expect(() => parseDrive("file=a.img,if=scsi")).toThrow(/if=scsi is not supported/);
    expect(() => parseDrive("file=a.img,if=ide,transport=modern")).toThrow(
      /transport= applies to if=virtio only/,
    );
    expect(() => parseDrive("file=a.img,if=virtio,readonly=yes")).toThrow(/readonly wants on or off/);
    expect(() => parseDrive("file=a.img,if=virtio,cache=none")).toThrow(/unknown key "cache"/);
    expect(() => parseDrive("file=a.img,if=virtio,snapshot=1")).toThrow(/snapshot wants on or off/);
    expect(() => parseDrive("if=virtio")).toThrow(/file=IMG is required/);
    expect(() => parseDrive("file=a,if=virtio,transport=pci")).toThrow(UsageError);
    expect(() => parseDrive("a.img")).toThrow(/not KEY=VALUE/);
  });
});
