// BlobDisk's block cache and ranges (src/disk/blob-disk.ts). Node has no FileReaderSync, so the
// Blob here is a stand-in whose slices carry their bytes, read by a reader that counts its calls;
// the real FileReaderSync on a picked File is exercised in tests/browser/web-disks.test.ts.
import { describe, expect, it } from "vitest";
import { BLOB_BLOCK_SIZE, BlobDisk, type SyncBlobReader } from "../src/disk/blob-disk.js";

/** A Blob-shaped view of `bytes` and a reader that records each range it is asked for. */
function fakeBlob(bytes: Uint8Array) {
  type Slice = { bytes: Uint8Array; start: number };
  const blob = {
    size: bytes.length,
    slice: (start: number, end: number): Slice => ({ bytes: bytes.slice(start, end), start }),
  } as unknown as Blob;
  const ranges: [number, number][] = [];
  const reader: SyncBlobReader = {
    readAsArrayBuffer(b) {
      const s = b as unknown as Slice;
      ranges.push([s.start, s.bytes.length]);
      return s.bytes.buffer as ArrayBuffer;
    },
  };
  return { blob, reader, ranges };
}

const MIB = BLOB_BLOCK_SIZE;

describe("BlobDisk", () => {
  const size = 3 * MIB + 512 * 7; // the last block is short
  const data = new Uint8Array(size).map((_, i) => (i * 7 + (i >> 12)) & 0xff);

  it("reads any range exactly, a block of the Blob at a time, the last block short", () => {
    const { blob, reader, ranges } = fakeBlob(data);
    const d = new BlobDisk(blob, { reader });
    expect([d.size, d.readOnly, d.name]).toEqual([size, true, "blob"]);
    const ram = new Uint8Array(new SharedArrayBuffer(2 * MIB + 16));
    for (const [offset, length] of [
      [0, 512],
      [MIB - 100, 300], // across a block boundary
      [size - 1000, 1000], // in the short last block
      [512, 2 * MIB], // three blocks
    ] as const) {
      const view = ram.subarray(5, 5 + length);
      d.read(offset, view);
      expect(Buffer.from(view).equals(Buffer.from(data.subarray(offset, offset + length)))).toBe(true);
    }
    // Each block was read once, whole (1 MiB aligned, the last one 3584 bytes).
    expect(ranges).toEqual([
      [0, MIB],
      [MIB, MIB],
      [3 * MIB, 512 * 7],
      [2 * MIB, MIB],
    ]);
    expect(d.blockReads).toBe(4);
  });

  it("keeps at most cacheBlocks blocks, dropping the least recently used", () => {
    const { blob, reader, ranges } = fakeBlob(data);
    const d = new BlobDisk(blob, { reader, cacheBlocks: 2 });
    const one = new Uint8Array(1);
    for (const block of [0, 1, 0, 2, 0, 1]) d.read(block * MIB, one);
    // 0, 1 read; 0 hit; 2 read (drops 1, the least recently used); 0 hit; 1 read again.
    expect(ranges.map(([start]) => start / MIB)).toEqual([0, 1, 2, 1]);
  });

  it("refuses writes, out-of-range reads, bad sizes; close() ends it", () => {
    const { blob, reader } = fakeBlob(data);
    const d = new BlobDisk(blob, { reader });
    expect(() => d.write(0, new Uint8Array(512))).toThrow(/read-only/);
    expect(() => d.read(size - 1, new Uint8Array(2))).toThrow(RangeError);
    expect(() => d.read(-512, new Uint8Array(1))).toThrow(RangeError);
    d.flush();
    d.close();
    expect(() => d.read(0, new Uint8Array(1))).toThrow(/closed/);
    expect(() => new BlobDisk(fakeBlob(new Uint8Array(1000)).blob, { reader })).toThrow(/multiple of 512/);
    expect(() => new BlobDisk(fakeBlob(new Uint8Array(0)).blob, { reader })).toThrow(RangeError);
    // Without a reader it needs a worker's FileReaderSync, which Node does not have.
    expect(() => new BlobDisk(blob)).toThrow(/FileReaderSync/);
  });
});
