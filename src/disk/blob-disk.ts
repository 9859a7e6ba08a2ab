import { checkRange, SECTOR_SIZE, type DiskBackend } from "./backend.js";

/** The synchronous read a BlobDisk needs: FileReaderSync's, in a worker. */
export interface SyncBlobReader {
  readAsArrayBuffer(blob: Blob): ArrayBuffer;
}

/**
 * Reads go through a cache of aligned blocks of this size: Chromium's FileReaderSync costs
 * milliseconds per call whatever the length (about 7 ms for 4 KiB, 23 ms for 128 KiB measured in
 * Chromium 156), and the device reads one descriptor segment (often 4 KiB) per call.
 */
export const BLOB_BLOCK_SIZE = 1024 * 1024;
/** Default number of cached blocks (so at most 32 MiB of cache). */
export const BLOB_CACHE_BLOCKS = 32;

/**
 * A read-only disk over a browser Blob, typically a `File` the user picked: the image stays where
 * it is (the browser reads it from disk on demand) and is never loaded whole into memory. Reads
 * are synchronous, as the device needs them, through FileReaderSync (File API §FileReaderSync),
 * which only dedicated and shared workers have: Blob.slice selects a block, readAsArrayBuffer
 * reads it. The last `cacheBlocks` blocks read are kept (least recently used dropped first), which
 * bounds the memory to cacheBlocks × BLOB_BLOCK_SIZE. Wrap it in an OverlayDisk to let the guest
 * write.
 *
 * If the file changes on disk after it was picked, the browser refuses to read it
 * (NotReadableError); the device answers the guest's request with IOERR.
 */
export class BlobDisk implements DiskBackend {
  readonly size: number;
  readonly readOnly = true;
  /** For messages: the File's name, or "blob". */
  readonly name: string;
  /** FileReaderSync calls so far. */
  blockReads = 0;
  private blob: Blob | undefined;
  private readonly reader: SyncBlobReader;
  private readonly cacheBlocks: number;
  /** Block index → bytes, least recently used first (Map keeps insertion order). */
  private readonly cache = new Map<number, Uint8Array>();

  /** Throws a RangeError if the Blob's size is not a positive multiple of 512 bytes. */
  constructor(blob: Blob, options: { reader?: SyncBlobReader; cacheBlocks?: number } = {}) {
    this.name = "name" in blob && typeof blob.name === "string" ? blob.name : "blob";
    if (blob.size === 0 || blob.size % SECTOR_SIZE !== 0) {
      throw new RangeError(
        `${this.name}: size ${blob.size} is not a positive multiple of ${SECTOR_SIZE} bytes`,
      );
    }
    if (options.reader === undefined && typeof FileReaderSync === "undefined") {
      throw new Error("BlobDisk needs FileReaderSync, which only a worker has");
    }
    this.reader = options.reader ?? new FileReaderSync();
    this.cacheBlocks = Math.max(1, options.cacheBlocks ?? BLOB_CACHE_BLOCKS);
    this.size = blob.size;
    this.blob = blob;
  }

  read(offset: number, into: Uint8Array): void {
    const blob = this.open(offset, into.length);
    for (let done = 0; done < into.length;) {
      const pos = offset + done;
      const index = Math.floor(pos / BLOB_BLOCK_SIZE);
      const block = this.block(blob, index);
      const within = pos - index * BLOB_BLOCK_SIZE;
      const n = Math.min(block.length - within, into.length - done);
      into.set(block.subarray(within, within + n), done);
      done += n;
    }
  }

  write(offset: number, from: Uint8Array): void {
    this.open(offset, from.length);
    throw new Error(`${this.name}: a Blob is read-only`);
  }

  flush(): void {
    if (this.blob === undefined) throw new Error(`${this.name}: closed`);
  }

  close(): void {
    this.blob = undefined;
    this.cache.clear();
  }

  /** Block `index`, from the cache or read now (the disk's last block may be short). */
  private block(blob: Blob, index: number): Uint8Array {
    const cached = this.cache.get(index);
    if (cached !== undefined) {
      this.cache.delete(index);
      this.cache.set(index, cached);
      return cached;
    }
    const start = index * BLOB_BLOCK_SIZE;
    const end = Math.min(this.size, start + BLOB_BLOCK_SIZE);
    const bytes = new Uint8Array(this.reader.readAsArrayBuffer(blob.slice(start, end)));
    this.blockReads++;
    if (bytes.length !== end - start) {
      throw new Error(`${this.name}: short read at ${start} (${bytes.length} of ${end - start} bytes)`);
    }
    if (this.cache.size >= this.cacheBlocks) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(index, bytes);
    return bytes;
  }

  private open(offset: number, length: number): Blob {
    if (this.blob === undefined) throw new Error(`${this.name}: closed`);
    checkRange(this.name, this.size, offset, length);
    return this.blob;
  }
}
