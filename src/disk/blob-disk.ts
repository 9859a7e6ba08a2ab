import { checkRange, SECTOR_SIZE, type DiskBackend } from "./backend.js";

/** The synchronous read a BlobDisk needs: FileReaderSync's, in a worker. */
export interface SyncBlobReader {
  readAsArrayBuffer(blob: Blob): ArrayBuffer;
}

/**
 * Largest piece read at once: a read allocates a temporary ArrayBuffer of its length before the
 * bytes are copied into guest RAM, so this bounds the memory a single guest request costs.
 */
export const BLOB_READ_PIECE = 1024 * 1024;

/**
 * A read-only disk over a browser Blob, typically a `File` the user picked: the image stays where
 * it is (the browser reads it from disk on demand) and is never loaded whole into memory. Reads
 * are synchronous, as the device needs them, through FileReaderSync (File API §FileReaderSync),
 * which only dedicated and shared workers have: Blob.slice selects the range, readAsArrayBuffer
 * reads it. Wrap it in an OverlayDisk to let the guest write.
 *
 * If the file changes on disk after it was picked, the browser refuses to read it
 * (NotReadableError); the device answers the guest's request with IOERR.
 */
export class BlobDisk implements DiskBackend {
  readonly size: number;
  readonly readOnly = true;
  /** For messages: the File's name, or "blob". */
  readonly name: string;
  private blob: Blob | undefined;
  private readonly reader: SyncBlobReader;

  /** Throws a RangeError if the Blob's size is not a positive multiple of 512 bytes. */
  constructor(blob: Blob, options: { reader?: SyncBlobReader } = {}) {
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
    this.size = blob.size;
    this.blob = blob;
  }

  read(offset: number, into: Uint8Array): void {
    const blob = this.open(offset, into.length);
    for (let done = 0; done < into.length; done += BLOB_READ_PIECE) {
      const end = Math.min(into.length, done + BLOB_READ_PIECE);
      const bytes = new Uint8Array(this.reader.readAsArrayBuffer(blob.slice(offset + done, offset + end)));
      if (bytes.length !== end - done) {
        throw new Error(
          `${this.name}: short read at ${offset + done} (${bytes.length} of ${end - done} bytes)`,
        );
      }
      into.set(bytes, done);
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
  }

  private open(offset: number, length: number): Blob {
    if (this.blob === undefined) throw new Error(`${this.name}: closed`);
    checkRange(this.name, this.size, offset, length);
    return this.blob;
  }
}
