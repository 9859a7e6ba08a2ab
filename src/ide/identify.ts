import { ATA_SECTOR } from "./ata-constants.js";

/*
 * The 256-word IDENTIFY DEVICE data of the emulated drive (ATA/ATAPI-6 clause 8, IDENTIFY DEVICE,
 * the table of its words). Word numbers below are those of that table.
 *
 * The drive claims what the command state machine implements: LBA28 and the 48-bit Address feature
 * set, READ/WRITE MULTIPLE up to 16 sectors per block, PIO modes 0-4, multiword DMA modes 0-2,
 * Ultra DMA modes 0-5 (a PIIX3 host cannot use Ultra DMA; Linux picks the fastest mode both ends
 * have), FLUSH CACHE (+EXT), a volatile write cache (so that Linux sends FLUSH CACHE on sync) and
 * the Power Management feature set (STANDBY/IDLE/CHECK POWER MODE). It does not claim the Host
 * Protected Area, SMART, Security, General Purpose Logging or queued commands.
 */

/** READ/WRITE MULTIPLE: most sectors per DRQ block (word 47 bits 7:0); a power of two. */
export const MAX_MULTIPLE = 16;
/** Default CHS translation: heads and sectors per track (words 3 and 6), as BIOSes use for LBA disks. */
export const DEFAULT_HEADS = 16;
export const DEFAULT_SECTORS_PER_TRACK = 63;
/** The largest cylinder count words 1 and 54 can report. */
const MAX_CYLINDERS = 16383;
/** LBA28 limit: words 60-61 report at most 0x0FFFFFFF sectors (ATA/ATAPI-6, 48-bit Address feature set). */
export const LBA28_SECTORS = 0x0fffffff;

/** Transfer mode as selected with SET FEATURES 0x03. */
export interface TransferMode {
  /** "pio" (PIO only), "mwdma" or "udma". */
  kind: "pio" | "mwdma" | "udma";
  /** Mode number (PIO 0-4, MWDMA 0-2, UDMA 0-5). */
  mode: number;
}

/** What the IDENTIFY data reflects of the drive's current state. */
export interface IdentifyParams {
  /** Capacity in 512-byte sectors. */
  sectors: number;
  /** Current READ/WRITE MULTIPLE block size (0 = multiple mode off). */
  multiple: number;
  /** The selected DMA mode, if any (PIO-only otherwise). */
  dma: TransferMode | undefined;
  /** Volatile write cache enabled (SET FEATURES 0x02 / 0x82). */
  writeCache: boolean;
  /** Read look-ahead enabled (SET FEATURES 0xAA / 0x55). */
  lookAhead: boolean;
  /** Serial number, at most 20 ASCII characters. */
  serial: string;
  /** Model number, at most 40 ASCII characters. */
  model: string;
  /** Firmware revision, at most 8 ASCII characters. */
  firmware: string;
  /** Current CHS translation [heads, sectors per track] (INITIALIZE DEVICE PARAMETERS). */
  geometry: [number, number];
}

/** Cylinders of a CHS geometry with `heads` and `spt` covering (at most) `sectors`. */
function cylinders(sectors: number, heads: number, spt: number): number {
  return Math.max(1, Math.min(MAX_CYLINDERS, Math.floor(sectors / (heads * spt))));
}

/** The 512 bytes of IDENTIFY DEVICE data (little-endian words). */
export function identifyData(p: IdentifyParams): Uint8Array {
  const w = new Uint16Array(256);
  w[0] = 0x0040; // bit 15 = 0: ATA device; bit 6: not removable (obsolete, still set by drives)
  w[1] = cylinders(p.sectors, DEFAULT_HEADS, DEFAULT_SECTORS_PER_TRACK);
  w[3] = DEFAULT_HEADS;
  w[6] = DEFAULT_SECTORS_PER_TRACK;
  putString(w, 10, 20, p.serial);
  putString(w, 23, 8, p.firmware);
  putString(w, 27, 40, p.model);
  w[47] = 0x8000 | MAX_MULTIPLE; // bits 15:8 = 80h, bits 7:0 = max sectors per READ/WRITE MULTIPLE block
  w[49] = 0x0f00; // IORDY supported (11) and can be disabled (10), LBA (9), DMA (8)
  w[50] = 0x4000; // bit 14 shall be one
  w[51] = 0x0200; // obsolete PIO timing mode: 2
  w[53] = 0x0007; // words 54-58, 64-70 and 88 are valid
  const [heads, spt] = p.geometry;
  const cyls = cylinders(p.sectors, heads, spt);
  const chsSectors = cyls * heads * spt;
  w[54] = cyls;
  w[55] = heads;
  w[56] = spt;
  w[57] = chsSectors & 0xffff;
  w[58] = chsSectors >>> 16;
  w[59] = p.multiple > 0 ? 0x0100 | p.multiple : 0; // bit 8: the multiple setting (7:0) is valid
  const lba28 = Math.min(p.sectors, LBA28_SECTORS);
  w[60] = lba28 & 0xffff;
  w[61] = lba28 >>> 16;
  // Word 63: multiword DMA modes 0-2 supported (bits 2:0), the selected one in bits 10:8.
  w[63] = 0x0007 | (p.dma?.kind === "mwdma" ? 0x100 << p.dma.mode : 0);
  w[64] = 0x0003; // advanced PIO modes 3 and 4 supported
  w[65] = 120; // minimum multiword DMA cycle time per word, ns (mode 2)
  w[66] = 120; // recommended multiword DMA cycle time, ns
  w[67] = 120; // minimum PIO cycle time without flow control, ns
  w[68] = 120; // minimum PIO cycle time with IORDY, ns (mode 4)
  w[80] = 0x007e; // major version: ATA-1 to ATA/ATAPI-6 (bits 1-6)
  w[82] = 0x0068; // supported: look-ahead (6), write cache (5), Power Management (3)
  w[83] = 0x7400; // bit 14 one; FLUSH CACHE EXT (13), FLUSH CACHE (12), 48-bit Address (10)
  w[84] = 0x4000; // bit 14 one
  w[85] = 0x0008 | (p.lookAhead ? 0x0040 : 0) | (p.writeCache ? 0x0020 : 0); // enabled, as word 82
  w[86] = 0x3400; // enabled, as word 83 bits 13, 12, 10
  w[87] = 0x4000; // bit 14 one
  // Word 88: Ultra DMA modes 0-5 supported (bits 5:0), the selected one in bits 13:8.
  w[88] = 0x003f | (p.dma?.kind === "udma" ? 0x100 << p.dma.mode : 0);
  // Words 100-103: the 48-bit maximum LBA + 1 (sectors), low word first.
  let n = p.sectors;
  for (let i = 100; i <= 103; i++) {
    w[i] = n % 0x10000;
    n = Math.floor(n / 0x10000);
  }
  const bytes = new Uint8Array(ATA_SECTOR);
  for (let i = 0; i < 256; i++) {
    bytes[2 * i] = w[i]! & 0xff;
    bytes[2 * i + 1] = w[i]! >>> 8;
  }
  // Word 255: integrity word: signature A5h in bits 7:0, and in bits 15:8 the two's complement of
  // the sum of bytes 0-510, so that all 512 bytes sum to zero modulo 256.
  bytes[510] = 0xa5;
  let sum = 0;
  for (let i = 0; i < 511; i++) sum += bytes[i]!;
  bytes[511] = -sum & 0xff;
  return bytes;
}

/**
 * ATA strings: ASCII padded with spaces, two characters per word with the first character in bits
 * 15:8 (so the byte order within each word is swapped on the wire).
 */
function putString(w: Uint16Array, word: number, length: number, text: string): void {
  const s = text.padEnd(length, " ").slice(0, length);
  for (let i = 0; i < length; i += 2) {
    w[word + i / 2] = ((s.charCodeAt(i) & 0x7f) << 8) | (s.charCodeAt(i + 1) & 0x7f);
  }
}
