export { SECTOR_SIZE, checkRange } from "./backend.js";
export type { DiskBackend } from "./backend.js";
export { MemoryDisk } from "./memory-disk.js";
export { OverlayDisk, DEFAULT_CHUNK_SIZE } from "./overlay-disk.js";
export type { OverlayOptions, OverlayStats } from "./overlay-disk.js";
export { BlobDisk, BLOB_BLOCK_SIZE, BLOB_CACHE_BLOCKS } from "./blob-disk.js";
export type { SyncBlobReader } from "./blob-disk.js";
export { OpfsDisk, OPFS_DISK_DIR } from "./opfs-disk.js";
