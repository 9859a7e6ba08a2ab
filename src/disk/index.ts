export { SECTOR_SIZE, checkRange } from "./backend.js";
export type { DiskBackend } from "./backend.js";
export { MemoryDisk } from "./memory-disk.js";
