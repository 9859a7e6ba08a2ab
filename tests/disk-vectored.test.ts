// Vectored backend I/O (DiskBackend.readv/writev): short counts continued in the right view, end of
// file and out-of-range accesses refused without growing the file, and the device answering IOERR
// when a vectored read fails.
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileDisk } from "../src/disk/file-disk.js";
import { MemoryDisk } from "../src/disk/memory-disk.js";
import { moveAll } from "../src/disk/vectored.js";
import { VirtioBlk, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_T_IN } from "../src/virtio/blk.js";
import { BUF, driveDevice, freshRam } from "./helpers/virtio-blk-driver.js";

const dir = mkdtempSync(join(tmpdir(), "trapdoor-vectored-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file of `size` patterned bytes (byte i is (i * 13 + (i >> 8)) & 0xff). */
function patterned(name: string, size: number): { path: string; bytes: Uint8Array } {
  const bytes = new Uint8Array(size).map((_, i) => (i * 13 + (i >> 8)) & 0xff);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

/** Views of `lengths` bytes, scattered through one buffer with gaps between them. */
function scattered(lengths: number[]): { buf: Uint8Array; views: Uint8Array[] } {
  const buf = new Uint8Array(lengths.reduce((a, n) => a + n + 7, 0));
  let at = 3;
  const views = lengths.map((n) => {
    const v = buf.subarray(at, at + n);
    at += n + 7;
    return v;
  });
  return { buf, views };
}

const concat = (views: Uint8Array[]) => Buffer.concat(views.map((v) => Buffer.from(v)));

describe("moveAll (short vectored transfers)", () => {
  it("continues after short counts inside the view where the previous call stopped", () => {
    const src = new Uint8Array(64).map((_, i) => i + 1);
    const { views } = scattered([5, 0, 11, 3, 20]);
    const calls: number[] = [];
    // A call that moves at most 4 bytes: every view is entered part-way at least once.
    moveAll(
      views,
      10,
      (vs, position) => {
        calls.push(position);
        let n = 0;
        for (const v of vs) {
          const k = Math.min(v.length, 4 - n);
          v.set(src.subarray(position + n, position + n + k));
          n += k;
          if (n === 4) break;
        }
        return n;
      },
      "test",
    );
    expect(Array.from(concat(views))).toEqual(Array.from(src.subarray(10, 10 + 39)));
    expect(calls).toEqual([10, 14, 18, 22, 26, 30, 34, 38, 42, 46]);
  });

  it("throws when a call moves nothing (end of file) instead of looping", () => {
    const { views } = scattered([8, 8]);
    let calls = 0;
    expect(() => moveAll(views, 0, () => (++calls === 1 ? 12 : 0), "disk")).toThrow(
      /disk: short transfer at 12 \(12 of 16 bytes\)/,
    );
    expect(calls).toBe(2);
  });
});

describe("FileDisk readv / writev", () => {
  it("reads and writes scattered views at consecutive offsets, leaving the gaps alone", () => {
    const { path, bytes } = patterned("rw.img", 64 * 1024);
    const d = new FileDisk(path);
    const { buf, views } = scattered([512, 1000, 24, 4096]);
    d.readv(700, views);
    expect(concat(views).equals(Buffer.from(bytes.subarray(700, 700 + 5632)))).toBe(true);
    expect(buf[0]).toBe(0); // the gap before the first view
    views.forEach((v, i) => v.fill(0xa0 + i));
    d.writev(8192, views);
    d.close();
    const after = readFileSync(path);
    expect(after.subarray(8192, 8192 + 5632).equals(concat(views))).toBe(true);
    expect([after[8191], after[8192 + 5632]]).toEqual([bytes[8191], bytes[8192 + 5632]]);
    expect(statSync(path).size).toBe(64 * 1024);
  });

  it("reads more views than one preadv takes (IOV_MAX = 1024): the short count is continued", () => {
    const { path, bytes } = patterned("many.img", 1 << 20);
    const d = new FileDisk(path);
    const { views } = scattered(Array.from({ length: 1500 }, (_, i) => 512 + (i % 3) * 8));
    const total = views.reduce((a, v) => a + v.length, 0);
    d.readv(4096, views);
    expect(concat(views).equals(Buffer.from(bytes.subarray(4096, 4096 + total)))).toBe(true);
    d.close();
  });

  it("refuses ranges past the end or read-only writes before moving anything; never grows the file", () => {
    const { path, bytes } = patterned("edge.img", 8192);
    const d = new FileDisk(path);
    const { views } = scattered([4096, 4096]);
    views[0]!.fill(0x55);
    expect(() => d.writev(512, views)).toThrow(RangeError);
    expect(() => d.readv(512, views)).toThrow(RangeError);
    expect(() => d.readv(-512, views)).toThrow(RangeError);
    d.close();
    expect(statSync(path).size).toBe(8192);
    expect(readFileSync(path).equals(Buffer.from(bytes))).toBe(true);
    const ro = new FileDisk(path, { readOnly: true });
    expect(() => ro.writev(0, views)).toThrow(/read-only/);
    ro.close();
    expect(readFileSync(path).equals(Buffer.from(bytes))).toBe(true);
  });

  it("throws at end of file when the file shrank under it", () => {
    const { path } = patterned("shrunk.img", 8192);
    const d = new FileDisk(path);
    truncateSync(path, 4096);
    const { views } = scattered([2048, 4096]);
    expect(() => d.readv(2048, views)).toThrow(/short transfer at 4096/);
    d.close();
  });
});

describe("MemoryDisk readv / writev", () => {
  it("moves scattered views like read/write of each, with one range check for the whole", () => {
    const disk = new MemoryDisk(4096);
    disk.bytes.forEach((_, i) => (disk.bytes[i] = i & 0xff));
    const { views } = scattered([100, 300, 12]);
    disk.readv(1000, views);
    expect(Array.from(concat(views))).toEqual(Array.from(disk.bytes.subarray(1000, 1412)));
    expect(() => disk.readv(3700, views)).toThrow(RangeError);
    views.forEach((v) => v.fill(9));
    expect(() => disk.writev(3700, views)).toThrow(RangeError);
    expect(disk.bytes[4095]).toBe(4095 & 0xff); // the refused write moved nothing
    disk.writev(0, views);
    expect(disk.bytes.subarray(0, 412).every((b) => b === 9)).toBe(true);
    expect(disk.bytes[412]).toBe(412 & 0xff);
    expect(() => new MemoryDisk(512, { readOnly: true }).writev(0, views)).toThrow(/read-only/);
  });
});

describe("virtio-blk over a vectored backend", () => {
  it("reads through readv, and answers IOERR when the backend fails part-way", () => {
    const { path, bytes } = patterned("dev.img", 64 * 1024);
    const backend = new FileDisk(path);
    const ram = freshRam();
    const t = driveDevice(ram, new VirtioBlk({ backend, ram, queueSize: 16 }));
    const ok = t.request(VIRTIO_BLK_T_IN, 4, 4096, BUF);
    t.kick();
    expect(ram[ok.status]).toBe(VIRTIO_BLK_S_OK);
    expect(Buffer.from(ram.subarray(BUF, BUF + 4096)).equals(Buffer.from(bytes.subarray(2048, 6144)))).toBe(
      true,
    );
    truncateSync(path, 32 * 1024); // the image shrinks under the device: sectors 64+ are gone
    const bad = t.request(VIRTIO_BLK_T_IN, 62, 4096, BUF);
    t.kick();
    expect(ram[bad.status]).toBe(VIRTIO_BLK_S_IOERR);
    expect(t.dev.blkCounters.errors).toBe(1);
    backend.close();
    expect(statSync(path).size).toBe(32 * 1024);
  });
});
