// The copy-on-write overlay (src/disk/overlay-disk.ts) against a model: a plain byte array that
// takes every write. The base must never change (it is read-only, and its bytes are compared with
// a copy taken before), until an explicit commit().
import { describe, expect, it } from "vitest";
import { MemoryDisk } from "../src/disk/memory-disk.js";
import { OverlayDisk } from "../src/disk/overlay-disk.js";

/** xorshift32: a deterministic sequence, so a failure replays identically. */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

/** `length` bytes: a random start and step, so that any two writes differ (cheaper than rng per byte). */
function randomBytes(next: (n: number) => number, length: number): Uint8Array {
  const b = new Uint8Array(length);
  const start = next(256);
  const step = 1 + 2 * next(128);
  for (let i = 0; i < length; i++) b[i] = (start + i * step + (i >> 8)) & 0xff;
  return b;
}

/** A base of `size` random bytes; counts the base's reads. */
function makeBase(next: (n: number) => number, size: number, readOnly = true) {
  const base = new MemoryDisk(randomBytes(next, size), { readOnly });
  const reads: [number, number][] = [];
  const read = base.read.bind(base);
  base.read = (offset, into) => {
    reads.push([offset, into.length]);
    read(offset, into);
  };
  return { base, original: base.bytes.slice(), reads };
}

describe("OverlayDisk", () => {
  for (const [chunkSize, size, seed] of [
    [512, 64 * 1024, 1],
    [4096, 200 * 512, 2], // the last chunk is short (102400 = 25 chunks of 4 KiB)
    [65536, 1000 * 512, 3], // short last chunk too, and accesses spanning chunk boundaries
  ] as const) {
    it(`matches a model over random reads and writes (chunks of ${chunkSize}, ${size} bytes)`, () => {
      const next = rng(seed);
      const { base, original } = makeBase(next, size);
      const model = original.slice();
      const disk = new OverlayDisk(base, { chunkSize });
      expect([disk.size, disk.readOnly, base.readOnly]).toEqual([size, false, true]);
      // Guest RAM is a SharedArrayBuffer: the device hands views of it to the backend.
      const ram = new Uint8Array(new SharedArrayBuffer(3 * chunkSize + 1024));
      let written = 0;
      for (let op = 0; op < 2000; op++) {
        // Any length from 1 byte to three chunks, anywhere (sector alignment is the device's
        // business; the backend must be exact for every range).
        const length = 1 + next(Math.min(3 * chunkSize, size));
        const offset = next(size - length + 1);
        const view = ram.subarray(next(1024), undefined).subarray(0, length);
        if (next(2) === 0) {
          view.set(randomBytes(next, length));
          disk.write(offset, view);
          model.set(view, offset);
          written += length;
        } else {
          view.fill(0xee);
          disk.read(offset, view);
          expect(Buffer.from(view).equals(Buffer.from(model.subarray(offset, offset + length)))).toBe(true);
        }
      }
      // The whole disk reads as the model; the base is as it was.
      const all = new Uint8Array(size);
      disk.read(0, all);
      expect(Buffer.from(all).equals(Buffer.from(model))).toBe(true);
      expect(Buffer.from(base.bytes).equals(Buffer.from(original))).toBe(true);
      const st = disk.stats();
      expect(st.chunkSize).toBe(chunkSize);
      expect(st.bytesWritten).toBe(written);
      expect(st.dirtyChunks).toBeGreaterThan(0);
      // Every chunk is full size except the disk's last one, when the size is not a multiple.
      const chunks = Math.ceil(size / chunkSize);
      expect(st.dirtyChunks).toBeLessThanOrEqual(chunks);
      expect(st.overlayBytes).toBeLessThanOrEqual(size);
      expect(st.overlayBytes).toBeGreaterThan((st.dirtyChunks - 1) * chunkSize);
    });
  }

  it("copies a chunk from the base on its first partial write, then reads it from memory", () => {
    const next = rng(7);
    const { base, original, reads } = makeBase(next, 16 * 4096);
    const disk = new OverlayDisk(base, { chunkSize: 4096 });
    disk.write(4096 + 100, new Uint8Array([1, 2, 3]));
    expect(reads).toEqual([[4096, 4096]]);
    expect(disk.stats()).toEqual({ chunkSize: 4096, dirtyChunks: 1, overlayBytes: 4096, bytesWritten: 3 });
    reads.length = 0;
    // Chunks 0, 1 (overlay), 2, 3: the base is read for chunk 0 and for chunks 2-3 in one call.
    const out = new Uint8Array(4 * 4096);
    disk.read(0, out);
    expect(reads).toEqual([
      [0, 4096],
      [8192, 8192],
    ]);
    expect(Array.from(out.subarray(4096 + 99, 4096 + 104))).toEqual([
      original[4096 + 99],
      1,
      2,
      3,
      original[4096 + 103],
    ]);
    expect(Buffer.from(out.subarray(0, 4096)).equals(Buffer.from(original.subarray(0, 4096)))).toBe(true);
    // Reads entirely inside the overlay do not touch the base.
    reads.length = 0;
    disk.read(4096, new Uint8Array(4096));
    expect(reads).toEqual([]);
  });

  it("refuses out-of-range accesses and writes that would exceed maxBytes, changing nothing", () => {
    const next = rng(11);
    const { base, original } = makeBase(next, 8 * 1024);
    const disk = new OverlayDisk(base, { chunkSize: 1024, maxBytes: 2048 });
    expect(() => disk.read(8 * 1024 - 1, new Uint8Array(2))).toThrow(RangeError);
    expect(() => disk.write(-512, new Uint8Array(512))).toThrow(RangeError);
    expect(() => disk.write(0.5, new Uint8Array(1))).toThrow(RangeError);
    disk.write(0, new Uint8Array(1024).fill(9));
    // Two more chunks do not fit next to the first: nothing of this write lands.
    expect(() => disk.write(1024 + 1000, new Uint8Array(100).fill(7))).toThrow(/overlay: full/);
    expect(disk.stats()).toEqual({ chunkSize: 1024, dirtyChunks: 1, overlayBytes: 1024, bytesWritten: 1024 });
    const after = new Uint8Array(8 * 1024);
    disk.read(0, after);
    expect(after.subarray(0, 1024).every((b) => b === 9)).toBe(true);
    expect(Buffer.from(after.subarray(1024)).equals(Buffer.from(original.subarray(1024)))).toBe(true);
    // One more chunk fits.
    disk.write(4096, new Uint8Array(10).fill(7));
    expect(disk.stats().overlayBytes).toBe(2048);
    expect(Buffer.from(base.bytes).equals(Buffer.from(original))).toBe(true);
  });

  it("leaves the overlay as it was when the base fails a read during a write", () => {
    const base = new MemoryDisk(8 * 1024, { readOnly: true });
    const disk = new OverlayDisk(base, { chunkSize: 1024 });
    const read = base.read.bind(base);
    // The base fails on its second chunk read (an I/O error on the host).
    let reads = 0;
    base.read = (offset, into) => {
      if (++reads === 2) throw new Error("host I/O error");
      read(offset, into);
    };
    expect(() => disk.write(1000, new Uint8Array(100).fill(5))).toThrow(/host I\/O error/);
    expect(disk.stats()).toEqual({ chunkSize: 1024, dirtyChunks: 0, overlayBytes: 0, bytesWritten: 0 });
    const out = new Uint8Array(2048);
    disk.read(0, out);
    expect(out.every((b) => b === 0)).toBe(true);
  });

  it("rejects chunk sizes that are not powers of two of at least 512", () => {
    const base = new MemoryDisk(4096);
    for (const chunkSize of [0, 256, 1000, 4097, 1.5 * 1024]) {
      expect(() => new OverlayDisk(base, { chunkSize })).toThrow(RangeError);
    }
  });

  it("commit() writes the overlay into a writable base, flushes it and empties the overlay", () => {
    const next = rng(5);
    const { base } = makeBase(next, 32 * 1024, false);
    const disk = new OverlayDisk(base, { chunkSize: 4096 });
    const model = base.bytes.slice();
    for (let i = 0; i < 50; i++) {
      const length = 1 + next(6000);
      const offset = next(model.length - length + 1);
      const data = randomBytes(next, length);
      disk.write(offset, data);
      model.set(data, offset);
    }
    disk.flush();
    expect(base.flushes).toBe(0);
    expect(Buffer.from(base.bytes).equals(Buffer.from(model))).toBe(false);
    disk.commit();
    expect(base.flushes).toBe(1);
    expect(Buffer.from(base.bytes).equals(Buffer.from(model))).toBe(true);
    expect(disk.stats().dirtyChunks).toBe(0);
    expect(disk.stats().overlayBytes).toBe(0);
  });

  it("refuses to commit into a read-only base; close() closes the base", () => {
    const base = new MemoryDisk(4096, { readOnly: true });
    const disk = new OverlayDisk(base);
    disk.write(0, new Uint8Array([1]));
    expect(() => disk.commit()).toThrow(/read-only base/);
    expect(base.bytes[0]).toBe(0);
    disk.close();
    expect(() => base.read(0, new Uint8Array(1))).toThrow(/closed/);
    expect(() => disk.read(0, new Uint8Array(1))).toThrow(/closed/);
    expect(() => disk.flush()).toThrow(/closed/);
  });

  for (const vectoredBase of [true, false]) {
    it(`readv matches the model over random splits (base ${vectoredBase ? "with" : "without"} readv)`, () => {
      const next = rng(vectoredBase ? 4 : 5);
      const chunkSize = 4096;
      const size = 64 * 1024;
      const { base, original } = makeBase(next, size);
      const baseReadv: [number, number][] = [];
      if (vectoredBase) {
        const readv = base.readv.bind(base);
        base.readv = (offset, into) => {
          baseReadv.push([offset, into.length]);
          readv(offset, into);
        };
      } else (base as { readv?: unknown }).readv = undefined;
      const disk = new OverlayDisk(base, { chunkSize });
      const model = original.slice();
      // A clean disk: one readv of the overlay is one readv of the base, whatever the split.
      const ram = new Uint8Array(new SharedArrayBuffer(4 * chunkSize));
      const split = (length: number) => {
        const views: Uint8Array[] = [];
        let at = 0;
        while (at < length) {
          const n = Math.min(length - at, 1 + next(1500));
          views.push(ram.subarray(at + views.length, at + views.length + n)); // a byte's gap between views
          at += n;
        }
        return views;
      };
      const concat = (views: Uint8Array[]) => Buffer.concat(views.map((v) => Buffer.from(v)));
      const first = split(3 * chunkSize);
      disk.readv(1000, first);
      expect(concat(first).equals(Buffer.from(model.subarray(1000, 1000 + 3 * chunkSize)))).toBe(true);
      if (vectoredBase) expect(baseReadv).toEqual([[1000, first.length + 3]]); // pieces cut at 3 chunk edges
      for (let op = 0; op < 400; op++) {
        const length = 1 + next(3 * chunkSize);
        const offset = next(size - length + 1);
        if (next(3) === 0) {
          const data = randomBytes(next, length);
          disk.write(offset, data);
          model.set(data, offset);
        } else {
          const views = split(length);
          views.forEach((v) => v.fill(0xee));
          disk.readv(offset, views);
          expect(concat(views).equals(Buffer.from(model.subarray(offset, offset + length)))).toBe(true);
        }
      }
      expect(() => disk.readv(size - 10, split(11))).toThrow(RangeError);
      expect(Buffer.from(base.bytes).equals(Buffer.from(original))).toBe(true);
    });
  }
});
