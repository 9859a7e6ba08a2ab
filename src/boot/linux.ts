/**
 * A Linux x86 boot protocol loader for bzImage kernels (boot protocol 2.06 and later), written as
 * a pure function over guest RAM: it validates the real-mode setup header, places the
 * protected-mode kernel and the initrd, fills in `struct boot_params` (the "zero page") with the
 * e820 memory map and the command line, writes a GDT with the boot selectors, and returns the CPU
 * state of the 32-bit boot protocol. No BIOS and none of the kernel's real-mode setup code runs.
 *
 * The specification is Linux's Documentation/arch/x86/boot.rst (Documentation/x86/boot.rst in
 * Linux 6.1) and Documentation/arch/x86/zero-page.rst; "boot.rst" in comments means the former.
 *
 * Guest physical memory used by the loader, all in conventional memory below 640 KiB (the kernel
 * copies boot_params and the command line into its own memory early, and reserves the first
 * 64 KiB anyway):
 * - {@link LINUX_GDT_ADDR}: the GDT, with flat 4 GiB descriptors at selectors 0x10 (code) and
 *   0x18 (data), as boot.rst's 32-bit boot protocol requires;
 * - {@link LINUX_SETUP_DATA_ADDR}: the setup_data list (boot.rst, protocol 2.09+), one
 *   SETUP_RNG_SEED node holding the random seed when one is given, up to
 *   {@link LINUX_SETUP_DATA_END};
 * - {@link LINUX_STACK_TOP}: ESP at entry (not part of the protocol; the kernel sets its own);
 * - {@link LINUX_BOOT_PARAMS_ADDR}: the 4 KiB boot_params, ESI at entry;
 * - {@link LINUX_CMDLINE_ADDR}: the NUL-terminated command line, up to {@link LINUX_CMDLINE_END}.
 * The protected-mode kernel goes to 0x100000 (or to pref_address for a relocatable kernel when
 * the whole of its init_size fits there), and the initrd as high as the header and RAM allow.
 */
import type { Core, SegName } from "../core/core.js";
import { BootImageError, hex32 } from "./boot-error.js";
import { hasElfMagic } from "./elf.js";
import { pcMemoryMap } from "./multiboot.js";
import type { E820Entry } from "./multiboot.js";

/** The GDT the loader writes: null, null, code at selector 0x10, data at selector 0x18. */
export const LINUX_GDT_ADDR = 0x5000;
/**
 * The setup_data list (boot.rst "setup_data"): its nodes go here, below the stack's 4 KiB. Linux
 * reads them in setup_arch() (arch/x86/kernel/setup.c parse_setup_data), long before it hands low
 * memory to its allocator, and reserves them (memblock_x86_reserve_range_setup_data).
 */
export const LINUX_SETUP_DATA_ADDR = 0x5800;
/** One past the last byte setup_data nodes may use. */
export const LINUX_SETUP_DATA_END = 0x6000;
/** arch/x86/include/uapi/asm/bootparam.h: `struct setup_data` is next (u64), type, len (u32). */
const SETUP_DATA_HEADER_SIZE = 16;
/** The largest seed that fits in the setup_data area. */
export const LINUX_RNG_SEED_MAX = LINUX_SETUP_DATA_END - LINUX_SETUP_DATA_ADDR - SETUP_DATA_HEADER_SIZE;
/** ESP at entry: the top of a small stack below boot_params. */
export const LINUX_STACK_TOP = 0x7000;
/** Where `struct boot_params` (the zero page, 4 KiB) goes; ESI at entry. */
export const LINUX_BOOT_PARAMS_ADDR = 0x7000;
/** Where the command line goes. */
export const LINUX_CMDLINE_ADDR = 0x8000;
/** One past the last byte the command line (with its NUL) may use. */
export const LINUX_CMDLINE_END = 0x10000;
/** Where the protected-mode kernel of a non-relocatable bzImage goes (boot.rst: code32_start). */
export const LINUX_KERNEL_ADDR = 0x100000;
/** __BOOT_CS and __BOOT_DS: the selectors boot.rst's 32-bit boot protocol requires. */
export const LINUX_BOOT_CS = 0x10;
export const LINUX_BOOT_DS = 0x18;
/** The oldest boot protocol accepted: 2.06 (Linux 2.6.22), the first with cmdline_size. */
export const LINUX_MIN_PROTOCOL = 0x206;

/** Loader options that are not part of the kernel image. */
export interface LinuxOptions {
  /** Kernel command line; default empty. Must not contain NUL or exceed the header's cmdline_size. */
  cmdline?: string;
  /** Initial ramdisk (e.g. a gzip'ed newc cpio archive), placed as high as the kernel allows. */
  initrd?: Uint8Array;
  /**
   * A random seed for the kernel, passed as a setup_data node of type SETUP_RNG_SEED (9), as
   * bootloaders do (Linux 5.20+/6.1 mixes it into its input pool, arch/x86/kernel/setup.c, and
   * credits 8 bits per byte when CONFIG_RANDOM_TRUST_BOOTLOADER is set; 32 bytes make its CRNG
   * ready). 1 to {@link LINUX_RNG_SEED_MAX} bytes. Omitted for kernels older than protocol 2.09,
   * which have no setup_data field. Default: none.
   */
  rngSeed?: Uint8Array;
}

/** CPU state of boot.rst's 32-bit boot protocol, and where the loader put things. */
export interface LinuxEntryState {
  /** The 32-bit entry point: the address the protected-mode kernel was loaded at. */
  eip: number;
  /** Physical address of boot_params (the zero page). */
  esi: number;
  /** ESP at entry (not part of the protocol). */
  esp: number;
  /** The GDT the loader wrote: base and limit for GDTR. */
  gdtBase: number;
  gdtLimit: number;
  /** Boot protocol version from the header, e.g. 0x20f for 2.15. */
  protocol: number;
  /** Where the protected-mode kernel landed: [loadStart, loadEnd). */
  loadStart: number;
  loadEnd: number;
  /**
   * The memory the kernel needs from its runtime start address (where it decompresses itself)
   * before it reads the memory map: [runtimeStart, runtimeStart + init_size). Protocol 2.10+;
   * for older kernels this is the loaded image.
   */
  runtimeStart: number;
  runtimeEnd: number;
  /** Where the initrd landed, when there is one. */
  initrd?: { addr: number; size: number };
  /** Physical address of the NUL-terminated command line (boot_params cmd_line_ptr). */
  cmdlineAddr: number;
  /** The SETUP_RNG_SEED setup_data node, when the seed was passed: its address and seed length. */
  rngSeed?: { addr: number; size: number };
  /** The e820 map given to the kernel, as also written into boot_params. */
  memoryMap: E820Entry[];
}

const KIB = 1024;
const MIB = 1024 * KIB;
const PAGE = 4096;
const BOOT_PARAMS_SIZE = 4096;

/** Offsets in the image and in boot_params (the setup header is at the same offset in both). */
const OFF_SETUP_SECTS = 0x1f1;
const OFF_SYSSIZE = 0x1f4;
const OFF_BOOT_FLAG = 0x1fe;
const OFF_JUMP = 0x200;
const OFF_HEADER = 0x202;
const OFF_VERSION = 0x206;
const OFF_TYPE_OF_LOADER = 0x210;
const OFF_LOADFLAGS = 0x211;
const OFF_CODE32_START = 0x214;
const OFF_RAMDISK_IMAGE = 0x218;
const OFF_RAMDISK_SIZE = 0x21c;
const OFF_HEAP_END_PTR = 0x224;
const OFF_CMD_LINE_PTR = 0x228;
const OFF_INITRD_ADDR_MAX = 0x22c;
const OFF_KERNEL_ALIGNMENT = 0x230;
const OFF_RELOCATABLE_KERNEL = 0x234;
const OFF_XLOADFLAGS = 0x236;
const OFF_CMDLINE_SIZE = 0x238;
const OFF_HARDWARE_SUBARCH = 0x23c;
const OFF_HARDWARE_SUBARCH_DATA = 0x240;
const OFF_SETUP_DATA = 0x250;
const OFF_PREF_ADDRESS = 0x258;
const OFF_INIT_SIZE = 0x260;
/** The setup header may not run into boot_params' edd_mbr_sig_buffer (zero-page.rst). */
const SETUP_HEADER_LIMIT = 0x290;

/** boot_params fields outside the setup header (zero-page.rst). */
const BP_EXT_RAMDISK_IMAGE = 0x0c0;
const BP_EXT_RAMDISK_SIZE = 0x0c4;
const BP_EXT_CMD_LINE_PTR = 0x0c8;
const BP_ALT_MEM_K = 0x1e0;
const BP_E820_ENTRIES = 0x1e8;
const BP_E820_TABLE = 0x2d0;
const E820_ENTRY_SIZE = 20;
const E820_MAX_ENTRIES = 128;

const HDRS_MAGIC = 0x53726448; // "HdrS"
const BOOT_FLAG = 0xaa55;
/** setup_data type of a random seed (arch/x86/include/uapi/asm/bootparam.h). */
const SETUP_RNG_SEED = 9;
/** loadflags bits (boot.rst). */
const LOADED_HIGH = 1 << 0;
const CAN_USE_HEAP = 1 << 7;
/** xloadflags bit 0 (protocol 2.12+): a 64-bit kernel with a 64-bit entry at 0x200. */
const XLF_KERNEL_64 = 1 << 0;
/** type_of_loader: 0xFF, "undefined" (boot.rst: no assigned boot loader ID). */
const TYPE_OF_LOADER_UNDEFINED = 0xff;
/** hardware_subarch: X86_SUBARCH_PC, the default x86 platform. */
const X86_SUBARCH_PC = 0;
/**
 * heap_end_ptr as a loader that put the real-mode setup at 0x90000 with the usual 0x9800-byte
 * setup area would set it (boot.rst: end of setup stack/heap minus 0x200). Only the real-mode
 * setup code, which the 32-bit protocol skips, uses it.
 */
const HEAP_END_PTR = 0x9800 - 0x200;

/** Flat descriptors for the GDT, and the attribute bits (high dword bits 8..23 >> 8) for the caches. */
const GDT_CODE_DESCRIPTOR = [0x0000ffff, 0x00cf9b00]; // base 0, limit 4 GiB, execute/read, accessed
const GDT_DATA_DESCRIPTOR = [0x0000ffff, 0x00cf9300]; // base 0, limit 4 GiB, read/write, accessed
const FLAT_CODE_ATTRIBUTES = (GDT_CODE_DESCRIPTOR[1]! >>> 8) & 0xffff;
const FLAT_DATA_ATTRIBUTES = (GDT_DATA_DESCRIPTOR[1]! >>> 8) & 0xffff;
const GDT_ENTRIES = 4;

/** The setup header fields this loader reads. */
interface SetupHeader {
  protocol: number;
  /** Bytes of boot sector + real-mode setup: (setup_sects || 4) + 1 sectors. */
  setupSize: number;
  /** Bytes of protected-mode kernel (syssize * 16). */
  kernelSize: number;
  /** One past the last header byte, 0x202 + the byte at 0x201 (boot.rst). */
  headerEnd: number;
  loadflags: number;
  initrdAddrMax: number;
  kernelAlignment: number;
  relocatable: boolean;
  cmdlineSize: number;
  /** Protocol 2.10+, else undefined. */
  prefAddress?: number;
  initSize?: number;
}

/** True when `image` has the "HdrS" signature of a Linux boot protocol 2.00+ kernel at 0x202. */
export function hasBzImageMagic(image: Uint8Array): boolean {
  return image.length >= OFF_HEADER + 4 && readU32(image, OFF_HEADER) === HDRS_MAGIC;
}

/**
 * Load a Linux bzImage with boot.rst's 32-bit boot protocol: validate the setup header, copy the
 * protected-mode kernel, place the initrd, and write boot_params, the command line and a GDT.
 *
 * `ram` is all of guest RAM (guest physical address 0 is `ram[0]`). Everything is validated before
 * anything is written, so a refused image leaves `ram` untouched.
 *
 * This function does not touch the CPU; {@link enterLinuxState} puts a core in the state the
 * protocol requires: 32-bit protected mode, paging off, GDTR = the loader's GDT, CS = 0x10 and
 * DS = ES = SS = 0x18 (flat 4 GiB), interrupts disabled, ESI = boot_params, EBP = EDI = EBX = 0,
 * EIP = the 32-bit entry.
 *
 * @throws BootImageError if the image is not a bzImage this loader can boot (no "HdrS", protocol
 *   older than 2.06, a zImage, a 64-bit kernel, a truncated setup or payload), if the kernel or
 *   the initrd does not fit in RAM where the header allows, or if the command line is longer than
 *   the kernel's cmdline_size.
 * @throws RangeError if `ram.length` is not a valid RAM size (see {@link pcMemoryMap}).
 */
export function loadLinux(image: Uint8Array, ram: Uint8Array, options: LinuxOptions = {}): LinuxEntryState {
  const memoryMap = pcMemoryMap(ram.length);
  const hdr = parseSetupHeader(image);
  const cmdline = encodeCmdline(options.cmdline ?? "", hdr.cmdlineSize);
  const rngSeed = checkRngSeed(options.rngSeed, hdr.protocol);
  const ramSize = ram.length;

  // Where the protected-mode kernel goes, and the memory it needs once running.
  const relocatedToPref =
    hdr.relocatable &&
    hdr.prefAddress !== undefined &&
    hdr.prefAddress > LINUX_KERNEL_ADDR &&
    hdr.prefAddress + Math.max(hdr.kernelSize, hdr.initSize ?? 0) <= ramSize;
  const loadStart = relocatedToPref ? hdr.prefAddress! : LINUX_KERNEL_ADDR;
  const loadEnd = loadStart + hdr.kernelSize;
  const runtimeStart = runtimeStartFor(hdr, loadStart);
  const runtimeEnd = runtimeStart + (hdr.initSize ?? hdr.kernelSize);
  if (loadEnd > ramSize) {
    throw new BootImageError(
      `the protected-mode kernel is ${formatSize(hdr.kernelSize)} and goes at ${hex32(loadStart)}, ` +
        `so it needs more than the ${formatSize(ramSize)} of guest RAM (it would end at ${hex32(loadEnd)})`,
    );
  }
  if (runtimeEnd > ramSize) {
    throw new BootImageError(
      `the kernel needs ${formatSize(runtimeEnd - runtimeStart)} (init_size) of RAM from its runtime address ` +
        `${hex32(runtimeStart)} to decompress and start, up to ${hex32(runtimeEnd)}, ` +
        `but guest RAM is ${formatSize(ramSize)}: give it at least ${formatSize(roundUp(runtimeEnd, MIB))}`,
    );
  }
  const kernelTop = Math.max(loadEnd, runtimeEnd);
  const initrd =
    options.initrd === undefined ? undefined : placeInitrd(options.initrd, hdr, kernelTop, ramSize);

  // Validated: write.
  ram.set(image.subarray(hdr.setupSize, hdr.setupSize + hdr.kernelSize), loadStart);
  if (initrd !== undefined) ram.set(options.initrd!, initrd.addr);
  writeGdt(ram);
  ram.fill(0, LINUX_CMDLINE_ADDR, LINUX_CMDLINE_END);
  ram.set(cmdline, LINUX_CMDLINE_ADDR);
  const setupData = rngSeed === undefined ? 0 : writeRngSeedNode(ram, rngSeed);
  writeBootParams(ram, image, hdr, { loadStart, initrd, memoryMap, setupData });

  return {
    eip: loadStart,
    esi: LINUX_BOOT_PARAMS_ADDR,
    esp: LINUX_STACK_TOP,
    gdtBase: LINUX_GDT_ADDR,
    gdtLimit: GDT_ENTRIES * 8 - 1,
    protocol: hdr.protocol,
    loadStart,
    loadEnd,
    runtimeStart,
    runtimeEnd,
    initrd,
    cmdlineAddr: LINUX_CMDLINE_ADDR,
    rngSeed: rngSeed === undefined ? undefined : { addr: LINUX_SETUP_DATA_ADDR, size: rngSeed.length },
    memoryMap,
  };
}

/**
 * Put the CPU in the state of boot.rst's 32-bit boot protocol: protected mode with paging off,
 * GDTR = the loader's GDT, CS = __BOOT_CS (0x10) flat execute/read, DS = ES = SS (and FS, GS) =
 * __BOOT_DS (0x18) flat read/write, EFLAGS.IF = 0, ESI = boot_params, EBP = EDI = EBX = 0 (and the
 * other general registers 0 but ESP), EIP = the 32-bit entry.
 */
export function enterLinuxState(core: Core, s: LinuxEntryState): void {
  core.reset();
  core.cr0 = 0x11; // PE, ET
  core.cpl = 0;
  core.gdtr = { base: s.gdtBase, limit: s.gdtLimit };
  for (const seg of ["es", "ss", "ds", "fs", "gs"] as SegName[]) {
    core.setSegment(seg, {
      selector: LINUX_BOOT_DS,
      base: 0,
      limit: 0xffffffff,
      attributes: FLAT_DATA_ATTRIBUTES,
    });
  }
  core.setSegment("cs", {
    selector: LINUX_BOOT_CS,
    base: 0,
    limit: 0xffffffff,
    attributes: FLAT_CODE_ATTRIBUTES,
  });
  core.eflags = 0x2;
  for (const r of ["eax", "ecx", "edx", "ebx", "ebp", "edi"] as const) core.setReg(r, 0);
  core.setReg("esi", s.esi);
  core.setReg("esp", s.esp);
  core.eip = s.eip;
}

// ---------------------------------------------------------------------------------------------
// The setup header (boot.rst "The real-mode kernel header")
// ---------------------------------------------------------------------------------------------

function parseSetupHeader(image: Uint8Array): SetupHeader {
  if (!hasBzImageMagic(image)) throw notBzImage(image);
  if (image.length < OFF_VERSION + 2) {
    throw new BootImageError(
      `Linux kernel image is truncated: the file is ${image.length} bytes, too short for the setup header`,
    );
  }
  const bootFlag = readU16(image, OFF_BOOT_FLAG);
  if (bootFlag !== BOOT_FLAG) {
    throw new BootImageError(
      `Linux setup header is corrupt: boot_flag at 0x1fe is 0x${bootFlag.toString(16).padStart(4, "0")}, ` +
        `must be 0xaa55`,
    );
  }
  const protocol = readU16(image, OFF_VERSION);
  if (protocol < LINUX_MIN_PROTOCOL) {
    throw new BootImageError(
      `Linux boot protocol ${protocolName(protocol)} is too old: trapdoor needs 2.06 or later ` +
        `(Linux 2.6.22 and later), the first with cmdline_size`,
    );
  }
  const setupSects = image[OFF_SETUP_SECTS]! === 0 ? 4 : image[OFF_SETUP_SECTS]!;
  const setupSize = (setupSects + 1) * 512;
  if (image.length < setupSize) {
    throw new BootImageError(
      `Linux kernel image is truncated: setup_sects says the real-mode setup is ${setupSize} bytes ` +
        `(${setupSects} + 1 sectors), but the file is only ${image.length} bytes`,
    );
  }
  const loadflags = image[OFF_LOADFLAGS]!;
  if ((loadflags & LOADED_HIGH) === 0) {
    throw new BootImageError(
      "Linux kernel is a zImage (loadflags LOADED_HIGH clear: its kernel loads at 0x10000); only bzImage is supported",
    );
  }
  if (protocol >= 0x20c && (readU16(image, OFF_XLOADFLAGS) & XLF_KERNEL_64) !== 0) {
    throw new BootImageError(
      "Linux kernel is 64-bit (xloadflags XLF_KERNEL_64); trapdoor's CPU is a 32-bit i686 without long mode, " +
        "so it needs an i386 kernel (ARCH=i386)",
    );
  }
  const syssize = readU32(image, OFF_SYSSIZE);
  if (syssize === 0) {
    throw new BootImageError("Linux setup header is corrupt: syssize (the protected-mode kernel size) is 0");
  }
  const kernelSize = syssize * 16;
  if (image.length < setupSize + kernelSize) {
    throw new BootImageError(
      `Linux kernel image is truncated: the header says ${setupSize} bytes of setup and ${kernelSize} bytes ` +
        `of protected-mode kernel (syssize ${syssize} x 16), ${setupSize + kernelSize} in all, ` +
        `but the file is ${image.length} bytes`,
    );
  }
  const headerEnd = Math.min(OFF_HEADER + image[OFF_JUMP + 1]!, SETUP_HEADER_LIMIT);
  const relocatable = image[OFF_RELOCATABLE_KERNEL]! !== 0;
  let kernelAlignment = readU32(image, OFF_KERNEL_ALIGNMENT);
  if (relocatable && (kernelAlignment === 0 || (kernelAlignment & (kernelAlignment - 1)) !== 0)) {
    throw new BootImageError(
      `Linux setup header is corrupt: kernel_alignment ${hex32(kernelAlignment)} of a relocatable kernel ` +
        `is not a power of two`,
    );
  }
  if (!relocatable) kernelAlignment = 1;
  const hdr: SetupHeader = {
    protocol,
    setupSize,
    kernelSize,
    headerEnd,
    loadflags,
    initrdAddrMax: readU32(image, OFF_INITRD_ADDR_MAX),
    kernelAlignment,
    relocatable,
    cmdlineSize: readU32(image, OFF_CMDLINE_SIZE),
  };
  if (protocol >= 0x20a) {
    const prefHigh = readU32(image, OFF_PREF_ADDRESS + 4);
    const prefAddress = readU32(image, OFF_PREF_ADDRESS);
    if (prefHigh !== 0) {
      throw new BootImageError(
        `Linux kernel wants to run above 4 GiB (pref_address 0x${prefHigh.toString(16)}${prefAddress.toString(16).padStart(8, "0")})`,
      );
    }
    hdr.prefAddress = prefAddress;
    hdr.initSize = readU32(image, OFF_INIT_SIZE);
  }
  return hdr;
}

/** The error for an image without "HdrS", saying what it looks like instead when we can tell. */
function notBzImage(image: Uint8Array): BootImageError {
  if (hasElfMagic(image)) {
    return new BootImageError(
      'not a Linux bzImage: this is an ELF file (a vmlinux?); boot arch/x86/boot/bzImage, which has the "HdrS" setup header',
    );
  }
  if (image.length < OFF_HEADER + 4) {
    return new BootImageError(
      `not a Linux bzImage: the file is ${image.length} bytes, too short to hold the setup header ("HdrS" at 0x202)`,
    );
  }
  return new BootImageError('not a Linux bzImage: no "HdrS" setup header signature at offset 0x202');
}

/**
 * Where the kernel decompresses itself and runs (arch/x86/boot/compressed/head_32.S): a relocatable
 * kernel at its load address rounded up to kernel_alignment but not below pref_address
 * (LOAD_PHYSICAL_ADDR), a non-relocatable one at pref_address. Before protocol 2.10 the header does
 * not say; the loaded image is all we can check.
 */
function runtimeStartFor(hdr: SetupHeader, loadStart: number): number {
  if (hdr.prefAddress === undefined) return loadStart;
  if (!hdr.relocatable) return hdr.prefAddress;
  return Math.max(roundUp(loadStart, hdr.kernelAlignment), hdr.prefAddress);
}

// ---------------------------------------------------------------------------------------------
// Command line and initrd
// ---------------------------------------------------------------------------------------------

/** UTF-8 bytes of the command line plus its NUL; refuse NULs and lines over cmdline_size. */
function encodeCmdline(text: string, cmdlineSize: number): Uint8Array {
  if (text.includes("\0")) throw new BootImageError("kernel command line contains a NUL character");
  const utf8 = new TextEncoder().encode(text);
  if (utf8.length > cmdlineSize) {
    throw new BootImageError(
      `kernel command line is ${utf8.length} bytes, but this kernel accepts at most ${cmdlineSize} ` +
        `(cmdline_size in its setup header)`,
    );
  }
  const room = LINUX_CMDLINE_END - LINUX_CMDLINE_ADDR - 1;
  if (utf8.length > room) {
    throw new BootImageError(
      `kernel command line is ${utf8.length} bytes, but trapdoor's command line area holds at most ${room}`,
    );
  }
  const bytes = new Uint8Array(utf8.length + 1);
  bytes.set(utf8);
  return bytes;
}

/**
 * The initrd goes as high as possible, page-aligned, ending at or below both initrd_addr_max + 1
 * and the top of RAM (as boot.rst recommends and QEMU does), and above everything the kernel needs.
 */
function placeInitrd(
  initrd: Uint8Array,
  hdr: SetupHeader,
  kernelTop: number,
  ramSize: number,
): { addr: number; size: number } {
  const size = initrd.length;
  if (size === 0) throw new BootImageError("the initrd is empty (0 bytes)");
  const limit = hdr.initrdAddrMax + 1; // initrd_addr_max is the highest byte the initrd may use
  const top = Math.min(limit, ramSize);
  const bottom = roundUp(kernelTop, PAGE);
  const addr = Math.floor((top - size) / PAGE) * PAGE;
  if (addr < bottom) {
    const why =
      limit < ramSize
        ? `below initrd_addr_max ${hex32(hdr.initrdAddrMax)} (from the kernel's setup header)`
        : `below the top of guest RAM (${formatSize(ramSize)})`;
    throw new BootImageError(
      `the initrd is ${formatSize(size)} (${size} bytes) and does not fit: it must lie above the kernel's memory ` +
        `(up to ${hex32(bottom)}) and ${why}, which leaves ${formatSize(Math.max(0, top - bottom))}`,
    );
  }
  return { addr, size };
}

/** The seed to pass, or undefined when there is none or the kernel has no setup_data (< 2.09). */
function checkRngSeed(seed: Uint8Array | undefined, protocol: number): Uint8Array | undefined {
  if (seed === undefined || protocol < 0x209) return undefined;
  if (seed.length === 0 || seed.length > LINUX_RNG_SEED_MAX) {
    throw new BootImageError(
      `the RNG seed is ${seed.length} bytes; trapdoor passes 1 to ${LINUX_RNG_SEED_MAX} (32 make Linux's CRNG ready)`,
    );
  }
  return seed;
}

// ---------------------------------------------------------------------------------------------
// Writing boot_params, setup_data and the GDT
// ---------------------------------------------------------------------------------------------

function writeGdt(ram: Uint8Array): void {
  const view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  ram.fill(0, LINUX_GDT_ADDR, LINUX_GDT_ADDR + GDT_ENTRIES * 8);
  const put = (selector: number, [lo, hi]: number[]) => {
    view.setUint32(LINUX_GDT_ADDR + selector, lo!, true);
    view.setUint32(LINUX_GDT_ADDR + selector + 4, hi!, true);
  };
  put(LINUX_BOOT_CS, GDT_CODE_DESCRIPTOR);
  put(LINUX_BOOT_DS, GDT_DATA_DESCRIPTOR);
}

/**
 * The one-node setup_data list (boot.rst "setup_data"; struct setup_data in bootparam.h): next = 0
 * (the last node), type = SETUP_RNG_SEED, len, then the seed. Linux zeroes the seed and len once it
 * has read them. Returns the node's address for boot_params' setup_data field.
 */
function writeRngSeedNode(ram: Uint8Array, seed: Uint8Array): number {
  const at = LINUX_SETUP_DATA_ADDR;
  const view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  ram.fill(0, at, LINUX_SETUP_DATA_END);
  view.setUint32(at + 8, SETUP_RNG_SEED, true);
  view.setUint32(at + 12, seed.length, true);
  ram.set(seed, at + SETUP_DATA_HEADER_SIZE);
  return at;
}

/**
 * boot.rst: zero boot_params, copy the setup header from the image (0x1F1 up to 0x202 + the byte at
 * 0x201), then fill in the fields a boot loader writes. The sentinel at 0x1EF stays 0.
 */
function writeBootParams(
  ram: Uint8Array,
  image: Uint8Array,
  hdr: SetupHeader,
  placed: {
    loadStart: number;
    initrd?: { addr: number; size: number };
    memoryMap: E820Entry[];
    /** Physical address of the first setup_data node, 0 for none. */
    setupData: number;
  },
): void {
  const bp = LINUX_BOOT_PARAMS_ADDR;
  ram.fill(0, bp, bp + BOOT_PARAMS_SIZE);
  ram.set(image.subarray(OFF_SETUP_SECTS, hdr.headerEnd), bp + OFF_SETUP_SECTS);
  const view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  const u8 = (off: number, v: number) => view.setUint8(bp + off, v);
  const u16 = (off: number, v: number) => view.setUint16(bp + off, v, true);
  const u32 = (off: number, v: number) => view.setUint32(bp + off, v >>> 0, true);

  u8(OFF_TYPE_OF_LOADER, TYPE_OF_LOADER_UNDEFINED);
  u8(OFF_LOADFLAGS, hdr.loadflags | CAN_USE_HEAP);
  u16(OFF_HEAP_END_PTR, HEAP_END_PTR);
  u32(OFF_CODE32_START, placed.loadStart);
  u32(OFF_RAMDISK_IMAGE, placed.initrd?.addr ?? 0);
  u32(OFF_RAMDISK_SIZE, placed.initrd?.size ?? 0);
  u32(OFF_CMD_LINE_PTR, LINUX_CMDLINE_ADDR);
  if (hdr.protocol >= 0x207) {
    u32(OFF_HARDWARE_SUBARCH, X86_SUBARCH_PC);
    u32(OFF_HARDWARE_SUBARCH_DATA, 0);
    u32(OFF_HARDWARE_SUBARCH_DATA + 4, 0);
  }
  if (hdr.protocol >= 0x209) {
    u32(OFF_SETUP_DATA, placed.setupData); // 64-bit physical pointer; ours is below 4 GiB
    u32(OFF_SETUP_DATA + 4, 0);
  }
  // The high halves of the 64-bit initrd and command line addresses (2.12+): all below 4 GiB.
  u32(BP_EXT_RAMDISK_IMAGE, 0);
  u32(BP_EXT_RAMDISK_SIZE, 0);
  u32(BP_EXT_CMD_LINE_PTR, 0);

  // alt_mem_k: KiB of memory above 1 MiB, for kernels that do not find an e820 map.
  const extended = placed.memoryMap.find((e) => e.type === 1 && e.base === MIB);
  u32(BP_ALT_MEM_K, extended === undefined ? 0 : Math.floor(extended.length / KIB));
  const entries = placed.memoryMap.slice(0, E820_MAX_ENTRIES);
  u8(BP_E820_ENTRIES, entries.length);
  entries.forEach((e, i) => {
    const at = BP_E820_TABLE + i * E820_ENTRY_SIZE;
    u32(at, e.base);
    u32(at + 4, 0);
    u32(at + 8, e.length);
    u32(at + 12, Math.floor(e.length / 2 ** 32));
    u32(at + 16, e.type);
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function readU16(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}

function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

function roundUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

function protocolName(version: number): string {
  return `${version >> 8}.${(version & 0xff).toString().padStart(2, "0")}`;
}

function formatSize(bytes: number): string {
  if (bytes % MIB === 0) return `${bytes / MIB} MiB`;
  if (bytes >= MIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  if (bytes % KIB === 0) return `${bytes / KIB} KiB`;
  return `${bytes} bytes`;
}
