/**
 * A Multiboot v1 kernel loader (Multiboot Specification version 0.6.96), written as a pure
 * function over guest RAM: it finds the Multiboot header, places the kernel image, writes the
 * Multiboot information structure, and returns the CPU state the caller must establish.
 *
 * Section numbers in comments (§3.1.1 and so on) refer to that specification.
 *
 * Guest physical memory used by the loader:
 * - the kernel's own bytes, wherever its ELF program headers or a.out-kludge fields put them,
 *   which must lie inside available RAM as reported by {@link pcMemoryMap};
 * - the information area [{@link MULTIBOOT_INFO_AREA_START}, {@link MULTIBOOT_INFO_AREA_END}),
 *   0x8000-0xFFFF: in conventional memory below 640 KiB, above the real-mode IVT, BIOS data area
 *   and the traditional 0x7C00 boot sector. It holds, in order, the information structure, the
 *   memory map, the boot loader name and the command line. No kernel byte may land there.
 */
import { BootImageError, hex32 } from "./boot-error.js";
import { ET_EXEC, PT_LOAD, hasElfMagic, parseElf32 } from "./elf.js";
import type { Elf32Segment } from "./elf.js";

/** Value in EAX when the kernel is entered, telling it a Multiboot loader started it (§3.2). */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** The `magic` field of the Multiboot header in the kernel image (§3.1.2). */
export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** The header must lie entirely within this many bytes at the start of the image (§3.1.1). */
export const MULTIBOOT_SEARCH_LIMIT = 8192;
/** First byte of the guest-physical area where the loader writes the information structure. */
export const MULTIBOOT_INFO_AREA_START = 0x8000;
/** One past the last byte of the information area. */
export const MULTIBOOT_INFO_AREA_END = 0x10000;

/** One entry of a BIOS INT 15h E820-style memory map. */
export interface E820Entry {
  base: number;
  length: number;
  /** 1: available RAM; 2: reserved. */
  type: 1 | 2;
}

interface AddressRange {
  base: number;
  length: number;
}

/** Loader options that are not part of the kernel image. */
export interface MultibootOptions {
  /** Kernel command line (§3.3 `cmdline`); default empty. Must not contain NUL. */
  cmdline?: string;
  /** Boot loader name (§3.3 `boot_loader_name`); default "trapdoor". Must not contain NUL. */
  bootloaderName?: string;
}

/** CPU state a Multiboot loader hands over (spec §3.2 "Machine state"). */
export interface MultibootEntryState {
  /** Physical address of the kernel entry point. */
  eip: number;
  /** Always {@link MULTIBOOT_BOOTLOADER_MAGIC}. */
  eax: number;
  /** Physical address of the Multiboot information structure. */
  ebx: number;
  /** where the image landed, for diagnostics */
  loadStart: number;
  /** One past the last byte placed (including zero-filled bss). */
  loadEnd: number;
  /** The memory map given to the kernel, as also written into the information structure. */
  memoryMap: E820Entry[];
  /** Which header told the loader where to put the kernel. */
  format: "elf" | "aout-kludge";
}

const KIB = 1024;
const MIB = 1024 * KIB;
const FOUR_GIB = 0x1_0000_0000;
const MIN_RAM = 2 * MIB;
const PAGE = 4096;

/** Header flag bits (§3.1.2). Bits 0-15 are requirements; bits 16-31 are optional features. */
const HEADER_FLAG_PAGE_ALIGN_MODULES = 1 << 0;
const HEADER_FLAG_MEMORY_INFO = 1 << 1;
const HEADER_FLAG_VIDEO_MODE = 1 << 2;
const HEADER_FLAG_AOUT_KLUDGE = 1 << 16;
const KNOWN_REQUIRED_FLAGS =
  HEADER_FLAG_PAGE_ALIGN_MODULES | HEADER_FLAG_MEMORY_INFO | HEADER_FLAG_VIDEO_MODE;
const REQUIRED_FLAGS_MASK = 0xffff;
/** magic, flags, checksum (§3.1.2). */
const HEADER_BASE_SIZE = 12;
/** ... plus header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr (§3.1.3). */
const HEADER_AOUT_SIZE = 32;

/** Information structure flag bits (§3.3). */
const INFO_FLAG_MEMORY = 1 << 0;
const INFO_FLAG_CMDLINE = 1 << 2;
const INFO_FLAG_MMAP = 1 << 6;
const INFO_FLAG_BOOT_LOADER_NAME = 1 << 9;
/**
 * Where the memory map starts inside the information area: after the structure, which is 116 bytes
 * up to and including the framebuffer fields (§3.3), rounded up to 16.
 */
const INFO_MMAP_OFFSET = 128;
/** Each mmap entry: a 4-byte `size` field followed by `size` (20) bytes (§3.3). */
const MMAP_ENTRY_SIZE = 20;

/** The §3.1.2/§3.1.3 header fields this loader reads. The a.out-kludge fields are set only with flag 16. */
interface MultibootHeader {
  /** File offset of the `magic` field. */
  offset: number;
  flags: number;
  aout?: AoutKludgeFields;
}

interface AoutKludgeFields {
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

/** A run of guest-physical memory the loader fills: `bytes` copied to `addr`, then `zeroSize` zeros. */
interface Placement {
  label: string;
  addr: number;
  bytes: Uint8Array;
  zeroSize: number;
}

interface LoadPlan {
  placements: Placement[];
  entry: number;
  format: MultibootEntryState["format"];
}

/**
 * The physical memory map of a PC with `ramSize` bytes of RAM, as a BIOS would report it:
 * conventional memory [0, 0x9FC00) available, the EBDA [0x9FC00, 0xA0000) reserved, VGA memory and
 * option ROMs [0xA0000, 0xF0000) absent, the BIOS ROM [0xF0000, 0x100000) reserved, and extended
 * memory [0x100000, ramSize) available.
 *
 * @throws RangeError unless `ramSize` is at least 2 MiB, at most 4 GiB and a multiple of 4 KiB.
 */
export function pcMemoryMap(ramSize: number): E820Entry[] {
  if (!Number.isInteger(ramSize) || ramSize < MIN_RAM || ramSize > FOUR_GIB || ramSize % PAGE !== 0) {
    throw new RangeError(`guest RAM size must be a multiple of 4 KiB from 2 MiB to 4 GiB, got ${ramSize}`);
  }
  return [
    { base: 0, length: 0x9fc00, type: 1 },
    { base: 0x9fc00, length: 0x400, type: 2 },
    { base: 0xf0000, length: 0x10000, type: 2 },
    { base: 0x100000, length: ramSize - 0x100000, type: 1 },
  ];
}

/**
 * Load a Multiboot v1 kernel into guest RAM and write the Multiboot information structure.
 *
 * `ram` is all of guest RAM (guest physical address 0 is `ram[0]`). The image is validated in full
 * before anything is written, so a refused image leaves `ram` untouched. On success the kernel is
 * placed (from its ELF PT_LOAD segments at their physical addresses, or from the a.out-kludge
 * address fields if header flag bit 16 is set, §3.1.3), bss is zeroed, and the information
 * structure (§3.3) is written in [{@link MULTIBOOT_INFO_AREA_START}, {@link MULTIBOOT_INFO_AREA_END}).
 *
 * This function does not touch the CPU. The caller must enter the kernel in the §3.2 machine
 * state: EIP, EAX and EBX from the result; CS a 32-bit execute/read code segment and
 * DS, ES, FS, GS, SS 32-bit read/write data segments, all with base 0 and limit 0xFFFFFFFF (flat
 * 4 GiB); CR0.PE = 1 and CR0.PG = 0 (protected mode, paging off); EFLAGS.IF = 0 and EFLAGS.VM = 0;
 * A20 enabled. ESP, GDTR and IDTR are undefined: the kernel sets up its own.
 *
 * @throws BootImageError if the image is not a Multiboot v1 kernel this loader can satisfy, is
 *   truncated or malformed, or places any byte outside available RAM or inside the information area.
 *   Messages name ELF segments by their 0-based program header index ("segment 0 at ..."), the
 *   order `readelf -l` lists them in.
 * @throws RangeError if `ram.length` is not a valid RAM size (see {@link pcMemoryMap}).
 */
export function loadMultiboot(
  image: Uint8Array,
  ram: Uint8Array,
  options: MultibootOptions = {},
): MultibootEntryState {
  const memoryMap = pcMemoryMap(ram.length);
  const header = findHeader(image);
  const plan = header.aout === undefined ? planElf(image) : planAoutKludge(image, header.offset, header.aout);
  for (const placement of plan.placements) checkPlacement(placement, memoryMap, ram.length);
  const info = layoutInfo(memoryMap, options);
  for (const placement of plan.placements) {
    ram.set(placement.bytes, placement.addr);
    const zeroStart = placement.addr + placement.bytes.length;
    ram.fill(0, zeroStart, zeroStart + placement.zeroSize);
  }
  writeInfo(ram, info);
  return {
    eip: plan.entry,
    eax: MULTIBOOT_BOOTLOADER_MAGIC,
    ebx: MULTIBOOT_INFO_AREA_START,
    loadStart: Math.min(...plan.placements.map((p) => p.addr)),
    loadEnd: Math.max(...plan.placements.map(placementEnd)),
    memoryMap,
    format: plan.format,
  };
}

// ---------------------------------------------------------------------------------------------
// Header (§3.1)
// ---------------------------------------------------------------------------------------------

/** Find the first 4-byte-aligned header with a valid checksum entirely in the first 8 KiB (§3.1.1). */
function findHeader(image: Uint8Array): MultibootHeader {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const searchEnd = Math.min(image.length, MULTIBOOT_SEARCH_LIMIT);
  let badChecksumOffset: number | undefined;
  for (let offset = 0; offset + 4 <= searchEnd; offset += 4) {
    if (view.getUint32(offset, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    checkHeaderFits(image, offset, HEADER_BASE_SIZE);
    const flags = view.getUint32(offset + 4, true);
    const checksum = view.getUint32(offset + 8, true);
    if ((MULTIBOOT_HEADER_MAGIC + flags + checksum) % FOUR_GIB !== 0) {
      badChecksumOffset ??= offset;
      continue;
    }
    checkRequiredFlags(flags);
    return { offset, flags, aout: readAoutFields(image, view, offset, flags) };
  }
  throw noHeaderError(view, badChecksumOffset);
}

/** Refuse a header whose `size` bytes at `offset` leave the first 8 KiB or the file. */
function checkHeaderFits(image: Uint8Array, offset: number, size: number): void {
  if (offset + size > MULTIBOOT_SEARCH_LIMIT) {
    throw new BootImageError(
      `Multiboot header at file offset ${hex32(offset)} is ${size} bytes and extends past the first ` +
        `${MULTIBOOT_SEARCH_LIMIT} bytes of the file (§3.1.1 requires it to lie entirely within them)`,
    );
  }
  if (offset + size > image.length) {
    throw new BootImageError(
      `Multiboot header at file offset ${hex32(offset)} is truncated: it needs ${size} bytes ` +
        `but the file is ${image.length} bytes`,
    );
  }
}

/** Refuse requirement bits (0-15) this loader cannot satisfy (§3.1.2). */
function checkRequiredFlags(flags: number): void {
  const unknown = flags & REQUIRED_FLAGS_MASK & ~KNOWN_REQUIRED_FLAGS;
  if (unknown !== 0) {
    throw new BootImageError(
      `Multiboot header flags ${hex32(flags)} set required bit(s) ${bitList(unknown)} that Multiboot 0.6.96 ` +
        `does not define; §3.1.2 says a loader must refuse a kernel requiring features it does not understand`,
    );
  }
  if ((flags & HEADER_FLAG_VIDEO_MODE) !== 0) {
    throw new BootImageError(
      "kernel requires a video mode (Multiboot header flag bit 2), which trapdoor does not support",
    );
  }
  // Bit 0 (page-align modules) holds vacuously: no modules are loaded. Bit 1 (memory
  // information) is always satisfied: mem_lower/mem_upper and the memory map are always provided.
}

function readAoutFields(
  image: Uint8Array,
  view: DataView,
  offset: number,
  flags: number,
): AoutKludgeFields | undefined {
  if ((flags & HEADER_FLAG_AOUT_KLUDGE) === 0) return undefined;
  checkHeaderFits(image, offset, HEADER_AOUT_SIZE);
  return {
    headerAddr: view.getUint32(offset + 12, true),
    loadAddr: view.getUint32(offset + 16, true),
    loadEndAddr: view.getUint32(offset + 20, true),
    bssEndAddr: view.getUint32(offset + 24, true),
    entryAddr: view.getUint32(offset + 28, true),
  };
}

/** The error for an image with no usable header, saying what was found instead if anything. */
function noHeaderError(view: DataView, badChecksumOffset: number | undefined): BootImageError {
  if (badChecksumOffset !== undefined) {
    const flags = view.getUint32(badChecksumOffset + 4, true);
    const checksum = view.getUint32(badChecksumOffset + 8, true);
    const sum = (MULTIBOOT_HEADER_MAGIC + flags + checksum) % FOUR_GIB;
    return new BootImageError(
      `Multiboot header at file offset ${hex32(badChecksumOffset)} has a bad checksum: ` +
        `magic + flags + checksum = ${hex32(sum)}, must be 0 (§3.1.2)`,
    );
  }
  const lateOffset = findMagicFrom(view, MULTIBOOT_SEARCH_LIMIT);
  if (lateOffset !== undefined) {
    return new BootImageError(
      `not a Multiboot v1 kernel: magic 0x1BADB002 found at file offset ${hex32(lateOffset)}, but §3.1.1 ` +
        `requires the header within the first ${MULTIBOOT_SEARCH_LIMIT} bytes`,
    );
  }
  return new BootImageError(
    `not a Multiboot v1 kernel: no header with magic 0x1BADB002 in the first ${MULTIBOOT_SEARCH_LIMIT} bytes`,
  );
}

function findMagicFrom(view: DataView, start: number): number | undefined {
  for (let offset = start; offset + 4 <= view.byteLength; offset += 4) {
    if (view.getUint32(offset, true) === MULTIBOOT_HEADER_MAGIC) return offset;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Image placement: ELF (§3.1.1) or a.out kludge (§3.1.3)
// ---------------------------------------------------------------------------------------------

const ELF_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [0, "ET_NONE"],
  [1, "ET_REL, a relocatable object"],
  [3, "ET_DYN, a shared object or PIE"],
  [4, "ET_CORE, a core dump"],
]);

/** Plan an ELF kernel: every non-empty PT_LOAD segment at its p_paddr. */
function planElf(image: Uint8Array): LoadPlan {
  if (!hasElfMagic(image)) {
    throw new BootImageError(
      "kernel is not an ELF file and its Multiboot header does not set flag bit 16 (a.out kludge), " +
        "so there is no way to know where to load it (§3.1.3)",
    );
  }
  const elf = parseElf32(image);
  if (elf.type !== ET_EXEC) {
    const name = ELF_TYPE_NAMES.get(elf.type) ?? "unknown";
    throw new BootImageError(
      `ELF file type is ${elf.type} (${name}); a Multiboot kernel must be ET_EXEC (2)`,
    );
  }
  const loads = elf.segments
    .map((segment, index) => ({ segment, index }))
    .filter(({ segment }) => segment.type === PT_LOAD && segment.memsz > 0);
  if (loads.length === 0) {
    throw new BootImageError("ELF kernel has no PT_LOAD segments to load");
  }
  return {
    placements: loads.map(({ segment, index }) => ({
      label: `segment ${index}`,
      addr: segment.paddr,
      bytes: image.subarray(segment.offset, segment.offset + segment.filesz),
      zeroSize: segment.memsz - segment.filesz,
    })),
    entry: physicalEntry(
      elf.entry,
      loads.map(({ segment }) => segment),
    ),
    format: "elf",
  };
}

/**
 * e_entry is a virtual address; translate it through the PT_LOAD segment containing it to the
 * physical address where that segment is loaded (identical when p_vaddr = p_paddr), as GRUB does.
 */
function physicalEntry(entry: number, loads: Elf32Segment[]): number {
  const segment = loads.find((s) => entry >= s.vaddr && entry < s.vaddr + s.memsz);
  if (segment === undefined) {
    throw new BootImageError(`ELF entry point ${hex32(entry)} is not inside any PT_LOAD segment`);
  }
  return entry - segment.vaddr + segment.paddr;
}

/** Plan an a.out-kludge kernel from the §3.1.3 header address fields. */
function planAoutKludge(image: Uint8Array, headerOffset: number, fields: AoutKludgeFields): LoadPlan {
  const { headerAddr, loadAddr, loadEndAddr, bssEndAddr, entryAddr } = fields;
  if (loadAddr > headerAddr) {
    throw new BootImageError(
      `a.out kludge: load_addr ${hex32(loadAddr)} is above header_addr ${hex32(headerAddr)} (§3.1.3 requires ` +
        `load_addr <= header_addr)`,
    );
  }
  const loadOffset = headerOffset - (headerAddr - loadAddr);
  if (loadOffset < 0) {
    throw new BootImageError(
      `a.out kludge: header_addr - load_addr = ${hex32(headerAddr - loadAddr)}, but the header is at file ` +
        `offset ${hex32(headerOffset)}, so loading would start before the beginning of the file`,
    );
  }
  const loadSize = aoutLoadSize(image, loadOffset, loadAddr, loadEndAddr);
  const loadEnd = loadAddr + loadSize;
  if (bssEndAddr !== 0 && bssEndAddr < loadEnd) {
    throw new BootImageError(
      `a.out kludge: bss_end_addr ${hex32(bssEndAddr)} is below the end of the loaded image ${hex32(loadEnd)}`,
    );
  }
  if (entryAddr < loadAddr || entryAddr >= loadEnd) {
    throw new BootImageError(
      `a.out kludge: entry_addr ${hex32(entryAddr)} is outside the loaded image ` +
        `${hex32(loadAddr)}-${hex32(loadEnd)}`,
    );
  }
  return {
    placements: [
      {
        label: "a.out-kludge image",
        addr: loadAddr,
        bytes: image.subarray(loadOffset, loadOffset + loadSize),
        zeroSize: bssEndAddr === 0 ? 0 : bssEndAddr - loadEnd,
      },
    ],
    entry: entryAddr,
    format: "aout-kludge",
  };
}

/** Bytes to load: up to load_end_addr, or to the end of the file when it is 0 (§3.1.3). */
function aoutLoadSize(image: Uint8Array, loadOffset: number, loadAddr: number, loadEndAddr: number): number {
  if (loadEndAddr === 0) {
    if (loadOffset >= image.length) {
      throw new BootImageError(
        `a.out kludge: loading starts at file offset ${hex32(loadOffset)}, at or past the end of the ` +
          `file (${image.length} bytes)`,
      );
    }
    return image.length - loadOffset;
  }
  if (loadEndAddr <= loadAddr) {
    throw new BootImageError(
      `a.out kludge: load_end_addr ${hex32(loadEndAddr)} is not above load_addr ${hex32(loadAddr)}`,
    );
  }
  const size = loadEndAddr - loadAddr;
  if (loadOffset + size > image.length) {
    throw new BootImageError(
      `a.out kludge: load_addr-load_end_addr needs ${size} bytes from file offset ${hex32(loadOffset)}, ` +
        `but the file is truncated at ${image.length} bytes`,
    );
  }
  return size;
}

// ---------------------------------------------------------------------------------------------
// Placement checks
// ---------------------------------------------------------------------------------------------

function placementEnd(placement: Placement): number {
  return placement.addr + placement.bytes.length + placement.zeroSize;
}

/** Refuse a placement unless it lies wholly in one available region and outside the information area. */
function checkPlacement(placement: Placement, memoryMap: E820Entry[], ramSize: number): void {
  const { addr } = placement;
  const end = placementEnd(placement);
  const where = `${placement.label} at ${hex32(addr)}-${hex32(end)}`;
  const ram = `guest RAM (${formatSize(ramSize)})`;
  if (end > FOUR_GIB) {
    throw new BootImageError(`${where} wraps past the 4 GiB end of the 32-bit address space`);
  }
  if (addr >= ramSize) throw new BootImageError(`${where} lies outside ${ram}`);
  if (end > ramSize) throw new BootImageError(`${where} extends past the end of ${ram}`);
  const available = memoryMap.filter((e) => e.type === 1);
  if (!available.some((e) => addr >= e.base && end <= e.base + e.length)) {
    const overlapped = unavailableRanges(available, ramSize).filter(
      (r) => addr < r.base + r.length && end > r.base,
    );
    throw new BootImageError(
      `${where} is not in available memory: it overlaps ${overlapped.map(formatRange).join(", ")} ` +
        `(reserved or absent: the PC hole below 1 MiB holds the EBDA, VGA memory and ROMs; ` +
        `available in ${ram}: ${available.map(formatRange).join(", ")})`,
    );
  }
  if (addr < MULTIBOOT_INFO_AREA_END && end > MULTIBOOT_INFO_AREA_START) {
    throw new BootImageError(
      `${where} overlaps ${hex32(MULTIBOOT_INFO_AREA_START)}-${hex32(MULTIBOOT_INFO_AREA_END)}, where the ` +
        `loader puts the Multiboot information structure`,
    );
  }
}

/** The gaps in [0, ramSize) between available regions. */
function unavailableRanges(available: E820Entry[], ramSize: number): AddressRange[] {
  const gaps: AddressRange[] = [];
  let cursor = 0;
  for (const region of [...available].sort((a, b) => a.base - b.base)) {
    if (region.base > cursor) gaps.push({ base: cursor, length: region.base - cursor });
    cursor = Math.max(cursor, region.base + region.length);
  }
  if (ramSize > cursor) gaps.push({ base: cursor, length: ramSize - cursor });
  return gaps;
}

function formatRange(range: AddressRange): string {
  return `${hex32(range.base)}-${hex32(range.base + range.length)}`;
}

function formatSize(bytes: number): string {
  return bytes % MIB === 0 ? `${bytes / MIB} MiB` : `${bytes / KIB} KiB`;
}

function bitList(mask: number): string {
  const bits: number[] = [];
  for (let bit = 0; bit < 32; bit++) if ((mask >>> bit) & 1) bits.push(bit);
  return bits.join(", ");
}

// ---------------------------------------------------------------------------------------------
// Information structure (§3.3)
// ---------------------------------------------------------------------------------------------

/** Where each part of the information area goes and what it contains. */
interface InfoLayout {
  memoryMap: E820Entry[];
  memLowerKiB: number;
  memUpperKiB: number;
  mmapAddr: number;
  nameAddr: number;
  name: Uint8Array;
  cmdlineAddr: number;
  cmdline: Uint8Array;
}

/** Lay out the information area, refusing strings that do not fit in it. */
function layoutInfo(memoryMap: E820Entry[], options: MultibootOptions): InfoLayout {
  const name = encodeCString("boot loader name", options.bootloaderName ?? "trapdoor");
  const cmdline = encodeCString("kernel command line", options.cmdline ?? "");
  const mmapAddr = MULTIBOOT_INFO_AREA_START + INFO_MMAP_OFFSET;
  const nameAddr = mmapAddr + memoryMap.length * (4 + MMAP_ENTRY_SIZE);
  const cmdlineAddr = nameAddr + name.length;
  const end = cmdlineAddr + cmdline.length;
  if (end > MULTIBOOT_INFO_AREA_END) {
    throw new BootImageError(
      `kernel command line and boot loader name are too long: together they need ${name.length + cmdline.length} ` +
        `bytes, but the Multiboot information area has room for ${MULTIBOOT_INFO_AREA_END - nameAddr}`,
    );
  }
  return {
    memoryMap,
    memLowerKiB: availableKiBFrom(memoryMap, 0),
    memUpperKiB: availableKiBFrom(memoryMap, MIB),
    mmapAddr,
    nameAddr,
    name,
    cmdlineAddr,
    cmdline,
  };
}

/** UTF-8 bytes of `text` plus a terminating NUL; refuse embedded NULs, which would cut the string. */
function encodeCString(what: string, text: string): Uint8Array {
  if (text.includes("\0")) throw new BootImageError(`${what} contains a NUL character`);
  const utf8 = new TextEncoder().encode(text);
  const bytes = new Uint8Array(utf8.length + 1);
  bytes.set(utf8);
  return bytes;
}

/** KiB of the available region starting exactly at `base` (§3.3 mem_lower / mem_upper), or 0. */
function availableKiBFrom(memoryMap: E820Entry[], base: number): number {
  const region = memoryMap.find((e) => e.type === 1 && e.base === base);
  return region === undefined ? 0 : Math.floor(region.length / KIB);
}

/** Zero the information area and write the structure, memory map and strings. */
function writeInfo(ram: Uint8Array, info: InfoLayout): void {
  ram.fill(0, MULTIBOOT_INFO_AREA_START, MULTIBOOT_INFO_AREA_END);
  const view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  const at = MULTIBOOT_INFO_AREA_START;
  const flags = INFO_FLAG_MEMORY | INFO_FLAG_CMDLINE | INFO_FLAG_MMAP | INFO_FLAG_BOOT_LOADER_NAME;
  view.setUint32(at + 0, flags, true);
  view.setUint32(at + 4, info.memLowerKiB, true);
  view.setUint32(at + 8, info.memUpperKiB, true);
  view.setUint32(at + 16, info.cmdlineAddr, true);
  view.setUint32(at + 44, info.nameAddr - info.mmapAddr, true); // mmap_length
  view.setUint32(at + 48, info.mmapAddr, true);
  view.setUint32(at + 64, info.nameAddr, true);
  writeMemoryMap(view, info.mmapAddr, info.memoryMap);
  ram.set(info.name, info.nameAddr);
  ram.set(info.cmdline, info.cmdlineAddr);
}

/** Each entry: size (20) at offset -4, then base_addr and length as 64-bit values, then type (§3.3). */
function writeMemoryMap(view: DataView, addr: number, memoryMap: E820Entry[]): void {
  let at = addr;
  for (const entry of memoryMap) {
    view.setUint32(at, MMAP_ENTRY_SIZE, true);
    writeUint64(view, at + 4, entry.base);
    writeUint64(view, at + 12, entry.length);
    view.setUint32(at + 20, entry.type, true);
    at += 4 + MMAP_ENTRY_SIZE;
  }
}

function writeUint64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % FOUR_GIB, true);
  view.setUint32(at + 4, Math.floor(value / FOUR_GIB), true);
}
