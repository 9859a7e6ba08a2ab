/*
 * ATA register bits and command codes, as defined by ATA/ATAPI-6 (T13/1410D revision 3b):
 * clause 7 (register descriptions) and clause 8 (command descriptions). Only what the emulated
 * drive implements or reports is listed.
 */

// ---- Command block register offsets from 0x1F0 / 0x170 (ATA/ATAPI-6 clause 7, "I/O register descriptions") ----
export const REG_DATA = 0;
/** Read: Error; write: Features. */
export const REG_ERROR_FEATURES = 1;
export const REG_SECTOR_COUNT = 2;
/** LBA bits 7:0 (CHS: sector number). */
export const REG_LBA_LOW = 3;
/** LBA bits 15:8 (CHS: cylinder low). */
export const REG_LBA_MID = 4;
/** LBA bits 23:16 (CHS: cylinder high). */
export const REG_LBA_HIGH = 5;
/** Device register: DEV (bit 4), LBA (bit 6), LBA bits 27:24 / CHS head (bits 3:0). */
export const REG_DEVICE = 6;
/** Read: Status (clears a pending interrupt); write: Command. */
export const REG_STATUS_COMMAND = 7;

// ---- Status register (ATA/ATAPI-6 clause 7, Status register) ----
export const STATUS_ERR = 0x01;
export const STATUS_DRQ = 0x08;
/** Bit 4: device seek complete in earlier standards (DSC), "device specific" in ATA-6; set when ready. */
export const STATUS_DSC = 0x10;
export const STATUS_DF = 0x20;
export const STATUS_DRDY = 0x40;
export const STATUS_BSY = 0x80;
/** The status of an idle, ready drive. */
export const STATUS_READY = STATUS_DRDY | STATUS_DSC;

// ---- Error register (ATA/ATAPI-6 clause 7, Error register) ----
/** Command aborted (unsupported command or parameter, or the command could not complete). */
export const ERROR_ABRT = 0x04;
/** ID not found: the requested address is outside the user-addressable range. */
export const ERROR_IDNF = 0x10;
/** Uncorrectable data error (the backend failed a read or write). */
export const ERROR_UNC = 0x40;

// ---- Device register (ATA/ATAPI-6 clause 7, Device register) ----
/** DEV: selects device 1. */
export const DEVICE_DEV = 0x10;
/** LBA: the address registers hold an LBA (else CHS). */
export const DEVICE_LBA = 0x40;

// ---- Device Control register at 0x3F6 / 0x376 (ATA/ATAPI-6 clause 7, Device Control register) ----
/** nIEN: 1 = the device's INTRQ is released (no interrupts to the host). */
export const CONTROL_NIEN = 0x02;
/** SRST: software reset of both devices while set. */
export const CONTROL_SRST = 0x04;
/** HOB: reads of the address registers return the previous (high-order) byte of the 48-bit FIFO. */
export const CONTROL_HOB = 0x80;

// ---- Commands (ATA/ATAPI-6 clause 8; opcodes as in its command code table) ----
export const CMD_NOP = 0x00;
export const CMD_DEVICE_RESET = 0x08;
/** RECALIBRATE: 0x10-0x1F (obsolete in ATA-6, still sent by old drivers). */
export const CMD_RECALIBRATE = 0x10;
export const CMD_READ_SECTORS = 0x20;
export const CMD_READ_SECTORS_NORETRY = 0x21;
export const CMD_READ_SECTORS_EXT = 0x24;
export const CMD_READ_DMA_EXT = 0x25;
export const CMD_READ_MULTIPLE_EXT = 0x29;
export const CMD_WRITE_SECTORS = 0x30;
export const CMD_WRITE_SECTORS_NORETRY = 0x31;
export const CMD_WRITE_SECTORS_EXT = 0x34;
export const CMD_WRITE_DMA_EXT = 0x35;
export const CMD_WRITE_MULTIPLE_EXT = 0x39;
export const CMD_READ_VERIFY = 0x40;
export const CMD_READ_VERIFY_NORETRY = 0x41;
export const CMD_READ_VERIFY_EXT = 0x42;
/** SEEK: 0x70-0x7F. */
export const CMD_SEEK = 0x70;
export const CMD_EXECUTE_DEVICE_DIAGNOSTIC = 0x90;
export const CMD_INITIALIZE_DEVICE_PARAMETERS = 0x91;
export const CMD_IDENTIFY_PACKET_DEVICE = 0xa1;
export const CMD_READ_MULTIPLE = 0xc4;
export const CMD_WRITE_MULTIPLE = 0xc5;
export const CMD_SET_MULTIPLE_MODE = 0xc6;
export const CMD_READ_DMA = 0xc8;
export const CMD_READ_DMA_NORETRY = 0xc9;
export const CMD_WRITE_DMA = 0xca;
export const CMD_WRITE_DMA_NORETRY = 0xcb;
export const CMD_STANDBY_IMMEDIATE = 0xe0;
export const CMD_IDLE_IMMEDIATE = 0xe1;
export const CMD_STANDBY = 0xe2;
export const CMD_IDLE = 0xe3;
export const CMD_CHECK_POWER_MODE = 0xe5;
export const CMD_SLEEP = 0xe6;
export const CMD_FLUSH_CACHE = 0xe7;
export const CMD_FLUSH_CACHE_EXT = 0xea;
export const CMD_IDENTIFY_DEVICE = 0xec;
export const CMD_SET_FEATURES = 0xef;

// ---- SET FEATURES subcommands, in the Features register (ATA/ATAPI-6 clause 8, SET FEATURES) ----
export const SETFEATURES_WC_ON = 0x02;
export const SETFEATURES_XFER = 0x03;
export const SETFEATURES_LOOKAHEAD_OFF = 0x55;
export const SETFEATURES_REVERT_OFF = 0x66;
export const SETFEATURES_WC_OFF = 0x82;
export const SETFEATURES_LOOKAHEAD_ON = 0xaa;
export const SETFEATURES_REVERT_ON = 0xcc;

// ---- Transfer mode values for SET FEATURES 0x03, in Sector Count (ATA/ATAPI-6 SET FEATURES "Set transfer mode") ----
/** PIO default mode (0x00) and PIO default with IORDY disabled (0x01). */
export const XFER_PIO_DEFAULT = 0x00;
/** 0x08 | n: PIO flow control transfer mode n. */
export const XFER_PIO_0 = 0x08;
/** 0x20 | n: multiword DMA mode n. */
export const XFER_MWDMA_0 = 0x20;
/** 0x40 | n: Ultra DMA mode n. */
export const XFER_UDMA_0 = 0x40;

/** The signature an ATA (non-packet) device leaves after reset or diagnostics (ATA/ATAPI-6 clause 9, signature and persistence). */
export const SIGNATURE_SECTOR_COUNT = 0x01;
export const SIGNATURE_LBA_LOW = 0x01;
/** Diagnostic code in the Error register: device 0 passed (and device 1 passed or is absent). */
export const DIAGNOSTIC_PASSED = 0x01;

/** Bytes per sector. */
export const ATA_SECTOR = 512;
