import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BootImageError } from "../src/boot/boot-error.js";
import { parseElf32 } from "../src/boot/elf.js";
import {
  MULTIBOOT_BOOTLOADER_MAGIC,
  MULTIBOOT_INFO_AREA_END,
  MULTIBOOT_INFO_AREA_START,
  loadMultiboot,
  pcMemoryMap,
} from "../src/boot/multiboot.js";
import type { MultibootOptions } from "../src/boot/multiboot.js";

const MIB = 1024 * 1024;
const HEADER_MAGIC = 0x1badb002;
const AOUT_KLUDGE = 1 << 16;

// ------------------------------------------------------------------------------------------------
// Image builders
// ------------------------------------------------------------------------------------------------

interface HeaderSpec {
  flags?: number;
  /** Override the computed checksum. */
  checksum?: number;
  aout?: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number };
}

/** A Multiboot header (§3.1.2), 12 bytes, or 32 with the a.out-kludge address fields. */
function multibootHeader(spec: HeaderSpec = {}): Uint8Array {
  const flags = (spec.flags ?? 0) | (spec.aout === undefined ? 0 : AOUT_KLUDGE);
  const bytes = new Uint8Array(spec.aout === undefined ? 12 : 32);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, HEADER_MAGIC, true);
  view.setUint32(4, flags >>> 0, true);
  view.setUint32(8, spec.checksum ?? -(HEADER_MAGIC + flags) >>> 0, true);
  if (spec.aout !== undefined) {
    const { headerAddr, loadAddr, loadEndAddr, bssEndAddr, entryAddr } = spec.aout;
    [headerAddr, loadAddr, loadEndAddr, bssEndAddr, entryAddr].forEach((v, i) =>
      view.setUint32(12 + 4 * i, v, true),
    );
  }
  return bytes;
}

interface SegmentSpec {
  paddr: number;
  vaddr?: number;
  data: Uint8Array;
  memsz?: number;
  type?: number;
}

interface ElfSpec {
  segments: SegmentSpec[];
  entry: number;
  header?: HeaderSpec;
  /** File offset of the Multiboot header; default right after the program headers. */
  headerOffset?: number;
}

const PHDR_OFFSET = 52;

/** An ELF32 i386 ET_EXEC file: header, program headers, a Multiboot header, then segment data. */
function buildElf(spec: ElfSpec): Uint8Array {
  const headerOffset = spec.headerOffset ?? PHDR_OFFSET + 32 * spec.segments.length;
  const mbHeader = multibootHeader(spec.header);
  let dataOffset = Math.max(0x1000, align(headerOffset + mbHeader.length, 0x1000));
  const placed = spec.segments.map((s) => {
    const offset = dataOffset;
    dataOffset = align(dataOffset + s.data.length, 16);
    return { ...s, offset };
  });
  const image = new Uint8Array(dataOffset);
  const view = new DataView(image.buffer);
  image.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]); // magic, ELFCLASS32, ELFDATA2LSB, EV_CURRENT
  view.setUint16(16, 2, true); // ET_EXEC
  view.setUint16(18, 3, true); // EM_386
  view.setUint32(20, 1, true);
  view.setUint32(24, spec.entry, true);
  view.setUint32(28, PHDR_OFFSET, true);
  view.setUint16(40, 52, true);
  view.setUint16(42, 32, true);
  view.setUint16(44, spec.segments.length, true);
  placed.forEach((s, i) => {
    const at = PHDR_OFFSET + 32 * i;
    const fields = [
      s.type ?? 1,
      s.offset,
      s.vaddr ?? s.paddr,
      s.paddr,
      s.data.length,
      s.memsz ?? s.data.length,
    ];
    fields.forEach((v, j) => view.setUint32(at + 4 * j, v, true));
    view.setUint32(at + 24, 5, true); // PF_R | PF_X
    image.set(s.data, s.offset);
  });
  image.set(mbHeader, headerOffset);
  return image;
}

interface AoutSpec {
  loadAddr?: number;
  code?: Uint8Array;
  bssSize?: number;
  /** Overrides of the computed address fields. */
  fields?: Partial<NonNullable<HeaderSpec["aout"]>>;
}

/** A flat a.out-kludge image: the 32-byte header at load_addr, then code. */
function buildAout(spec: AoutSpec = {}): Uint8Array {
  const loadAddr = spec.loadAddr ?? 0x100000;
  const code = spec.code ?? pattern(64, 7);
  const loadEndAddr = loadAddr + 32 + code.length;
  const fields = {
    headerAddr: loadAddr,
    loadAddr,
    loadEndAddr,
    bssEndAddr: loadEndAddr + (spec.bssSize ?? 0x100),
    entryAddr: loadAddr + 32,
    ...spec.fields,
  };
  const image = new Uint8Array(32 + code.length);
  image.set(multibootHeader({ aout: fields }));
  image.set(code, 32);
  return image;
}

function align(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

function freshRam(size = 8 * MIB, fill = 0xaa): Uint8Array {
  return new Uint8Array(size).fill(fill);
}

/** A simple valid kernel: one segment at 1 MiB. */
function simpleElf(overrides: Partial<ElfSpec> = {}): Uint8Array {
  return buildElf({ segments: [{ paddr: 0x100000, data: pattern(256, 1) }], entry: 0x100000, ...overrides });
}

function expectRefusal(
  image: Uint8Array,
  message: string,
  ram = freshRam(),
  options?: MultibootOptions,
): void {
  let caught: unknown;
  try {
    loadMultiboot(image, ram, options);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(BootImageError);
  expect((caught as BootImageError).message).toContain(message);
}

// ------------------------------------------------------------------------------------------------
// Reading the information structure back (§3.3)
// ------------------------------------------------------------------------------------------------

function readCString(ram: Uint8Array, addr: number): string {
  const end = ram.indexOf(0, addr);
  return new TextDecoder().decode(ram.subarray(addr, end));
}

function readInfo(ram: Uint8Array, addr: number) {
  const view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  const u32 = (at: number) => view.getUint32(at, true);
  const mmapLength = u32(addr + 44);
  const mmapAddr = u32(addr + 48);
  const mmap: { size: number; base: number; length: number; type: number }[] = [];
  for (let at = mmapAddr; at < mmapAddr + mmapLength; at += u32(at) + 4) {
    mmap.push({
      size: u32(at),
      base: u32(at + 4) + u32(at + 8) * 2 ** 32,
      length: u32(at + 12) + u32(at + 16) * 2 ** 32,
      type: u32(at + 20),
    });
  }
  return {
    flags: u32(addr),
    memLower: u32(addr + 4),
    memUpper: u32(addr + 8),
    cmdlineAddr: u32(addr + 16),
    cmdline: readCString(ram, u32(addr + 16)),
    modsCount: u32(addr + 20),
    mmapAddr,
    mmap,
    bootLoaderNameAddr: u32(addr + 64),
    bootLoaderName: readCString(ram, u32(addr + 64)),
  };
}

const inInfoArea = (addr: number) => addr >= MULTIBOOT_INFO_AREA_START && addr < MULTIBOOT_INFO_AREA_END;

// ------------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------------

describe("pcMemoryMap", () => {
  it("describes a PC with the 640 KiB-1 MiB hole", () => {
    expect(pcMemoryMap(64 * MIB)).toEqual([
      { base: 0, length: 0x9fc00, type: 1 },
      { base: 0x9fc00, length: 0x400, type: 2 },
      { base: 0xf0000, length: 0x10000, type: 2 },
      { base: 0x100000, length: 63 * MIB, type: 1 },
    ]);
  });

  it("rejects RAM sizes that are too small or not page multiples", () => {
    expect(() => pcMemoryMap(MIB)).toThrow(RangeError);
    expect(() => pcMemoryMap(2 * MIB + 100)).toThrow(RangeError);
  });
});

describe("parseElf32", () => {
  it("reads the header and program headers", () => {
    const elf = parseElf32(simpleElf({ entry: 0x100010 }));
    expect(elf.entry).toBe(0x100010);
    expect(elf.machine).toBe(3);
    expect(elf.type).toBe(2);
    expect(elf.segments).toEqual([
      { type: 1, offset: 0x1000, vaddr: 0x100000, paddr: 0x100000, filesz: 256, memsz: 256, flags: 5 },
    ]);
  });

  it("refuses a truncated program header table", () => {
    const image = simpleElf().subarray(0, PHDR_OFFSET + 16);
    expect(() => parseElf32(image)).toThrow(/program header table extends past the end of the file/);
  });
});

describe("loadMultiboot: ELF kernels", () => {
  const text = pattern(300, 3);
  const data = pattern(16, 9);
  const image = buildElf({
    segments: [
      { paddr: 0x100000, data: text },
      { paddr: 0x200000, data, memsz: 0x1000 },
    ],
    entry: 0x100020,
  });

  it("places PT_LOAD segments at p_paddr and zeroes bss", () => {
    const ram = freshRam();
    const state = loadMultiboot(image, ram);
    expect(ram.subarray(0x100000, 0x100000 + text.length)).toEqual(text);
    expect(ram[0x100000 + text.length]).toBe(0xaa); // untouched past filesz = memsz
    expect(ram.subarray(0x200000, 0x200010)).toEqual(data);
    expect(ram.subarray(0x200010, 0x201000).every((b) => b === 0)).toBe(true);
    expect(ram[0x201000]).toBe(0xaa);
    expect(state).toMatchObject({ loadStart: 0x100000, loadEnd: 0x201000, format: "elf" });
  });

  it("returns the Multiboot entry state", () => {
    const state = loadMultiboot(image, freshRam());
    expect(state.eip).toBe(0x100020);
    expect(state.eax).toBe(MULTIBOOT_BOOTLOADER_MAGIC);
    expect(state.eax).toBe(0x2badb002);
    expect(state.ebx).toBe(MULTIBOOT_INFO_AREA_START);
    expect(state.memoryMap).toEqual(pcMemoryMap(8 * MIB));
  });

  it("translates a virtual e_entry to the physical address of its segment", () => {
    const higherHalf = buildElf({
      segments: [{ paddr: 0x100000, vaddr: 0xc0100000, data: pattern(64, 1) }],
      entry: 0xc0100010,
    });
    expect(loadMultiboot(higherHalf, freshRam()).eip).toBe(0x100010);
  });

  it("skips non-PT_LOAD and empty segments", () => {
    const withNote = buildElf({
      segments: [
        { paddr: 0x300000, data: pattern(8, 1), type: 4 }, // PT_NOTE: not placed
        { paddr: 0x100000, data: pattern(8, 2) },
        { paddr: 0x400000, data: new Uint8Array(0) }, // empty PT_LOAD
      ],
      entry: 0x100000,
    });
    const ram = freshRam();
    const state = loadMultiboot(withNote, ram);
    expect(ram[0x300000]).toBe(0xaa);
    expect(state).toMatchObject({ loadStart: 0x100000, loadEnd: 0x100008 });
  });

  it("accepts the page-align (bit 0) and memory-info (bit 1) requirement flags", () => {
    expect(loadMultiboot(simpleElf({ header: { flags: 3 } }), freshRam()).eip).toBe(0x100000);
  });
});

describe("loadMultiboot: information structure", () => {
  it("writes flags, memory sizes, command line, memory map and boot loader name", () => {
    const ram = freshRam(64 * MIB);
    const state = loadMultiboot(simpleElf(), ram, { cmdline: "console=ttyS0 debug" });
    const info = readInfo(ram, state.ebx);
    expect(info.flags).toBe((1 << 0) | (1 << 2) | (1 << 6) | (1 << 9));
    expect(info.memLower).toBe(639);
    expect(info.memUpper).toBe(63 * 1024);
    expect(info.cmdline).toBe("console=ttyS0 debug");
    expect(info.modsCount).toBe(0);
    expect(info.bootLoaderName).toBe("trapdoor");
    expect(info.mmap).toEqual([
      { size: 20, base: 0, length: 0x9fc00, type: 1 },
      { size: 20, base: 0x9fc00, length: 0x400, type: 2 },
      { size: 20, base: 0xf0000, length: 0x10000, type: 2 },
      { size: 20, base: 0x100000, length: 63 * MIB, type: 1 },
    ]);
    for (const addr of [info.cmdlineAddr, info.mmapAddr, info.bootLoaderNameAddr]) {
      expect(inInfoArea(addr)).toBe(true);
    }
  });

  it("always provides a command line, empty by default, and honours a custom loader name", () => {
    const ram = freshRam();
    const state = loadMultiboot(simpleElf(), ram, { bootloaderName: "test loader" });
    const info = readInfo(ram, state.ebx);
    expect(info.flags & (1 << 2)).not.toBe(0);
    expect(info.cmdline).toBe("");
    expect(info.bootLoaderName).toBe("test loader");
  });

  it("refuses a command line that does not fit or contains NUL", () => {
    expectRefusal(simpleElf(), "too long", freshRam(), { cmdline: "x".repeat(0x10000) });
    expectRefusal(simpleElf(), "contains a NUL", freshRam(), { cmdline: "a\0b" });
  });
});

describe("loadMultiboot: a.out kludge", () => {
  it("loads the file at load_addr, zeroes bss up to bss_end_addr and enters at entry_addr", () => {
    const code = pattern(100, 5);
    const image = buildAout({ loadAddr: 0x200000, code, bssSize: 0x300 });
    const ram = freshRam();
    const state = loadMultiboot(image, ram);
    expect(ram.subarray(0x200000, 0x200000 + image.length)).toEqual(image);
    const loadEnd = 0x200000 + image.length;
    expect(ram.subarray(loadEnd, loadEnd + 0x300).every((b) => b === 0)).toBe(true);
    expect(ram[loadEnd + 0x300]).toBe(0xaa);
    expect(state).toMatchObject({
      eip: 0x200020,
      eax: 0x2badb002,
      ebx: MULTIBOOT_INFO_AREA_START,
      loadStart: 0x200000,
      loadEnd: loadEnd + 0x300,
      format: "aout-kludge",
    });
  });

  it("loads to the end of the file when load_end_addr is 0 and skips bss when bss_end_addr is 0", () => {
    // The header sits 16 bytes into the loaded image.
    const image = new Uint8Array(16 + 32 + 40).fill(0x90);
    image.set(
      multibootHeader({
        aout: {
          headerAddr: 0x100010,
          loadAddr: 0x100000,
          loadEndAddr: 0,
          bssEndAddr: 0,
          entryAddr: 0x100000,
        },
      }),
      16,
    );
    const ram = freshRam();
    const state = loadMultiboot(image, ram);
    expect(ram.subarray(0x100000, 0x100000 + image.length)).toEqual(image);
    expect(ram[0x100000 + image.length]).toBe(0xaa);
    expect(state.loadEnd).toBe(0x100000 + image.length);
  });

  it("uses the address fields even when the file is also ELF", () => {
    const elf = simpleElf();
    const mb = multibootHeader({
      aout: {
        headerAddr: 0x500054,
        loadAddr: 0x500000,
        loadEndAddr: 0x500100,
        bssEndAddr: 0,
        entryAddr: 0x500000,
      },
    });
    elf.set(mb, PHDR_OFFSET + 32);
    const state = loadMultiboot(elf, freshRam());
    expect(state).toMatchObject({ format: "aout-kludge", eip: 0x500000, loadStart: 0x500000 });
  });
});

describe("loadMultiboot: refusals", () => {
  it("refuses a file without a Multiboot header", () => {
    expectRefusal(new Uint8Array(4096), "not a Multiboot v1 kernel: no header with magic 0x1BADB002");
  });

  it("refuses a header with a bad checksum", () => {
    expectRefusal(simpleElf({ header: { checksum: 0x12345678 } }), "bad checksum");
  });

  it("refuses a header beyond the first 8192 bytes", () => {
    const image = simpleElf({ headerOffset: 8192 });
    expectRefusal(image, "found at file offset 0x00002000");
    expectRefusal(image, "first 8192 bytes");
  });

  it("refuses a header that straddles the 8192-byte limit", () => {
    expectRefusal(simpleElf({ headerOffset: 8188 }), "extends past the first 8192 bytes");
  });

  it("refuses a header cut off by the end of the file", () => {
    const image = new Uint8Array(8);
    new DataView(image.buffer).setUint32(4, HEADER_MAGIC, true);
    expectRefusal(image, "is truncated");
  });

  it("refuses a truncated file (segment past end of file)", () => {
    const image = buildElf({ segments: [{ paddr: 0x100000, data: pattern(0x400, 1) }], entry: 0x100000 });
    const truncated = image.subarray(0, 0x1000 + 0x200);
    expectRefusal(
      truncated,
      "ELF program header 0 extends past the end of the file (offset 0x00001000, size",
    );
  });

  it("refuses a segment outside guest RAM, naming the range and RAM size", () => {
    const image = buildElf({ segments: [{ paddr: 0x4000000, data: pattern(0x1000, 1) }], entry: 0x4000000 });
    expectRefusal(
      image,
      "segment 0 at 0x04000000-0x04001000 lies outside guest RAM (64 MiB)",
      freshRam(64 * MIB),
    );
  });

  it("refuses a segment that runs off the end of RAM", () => {
    const image = buildElf({ segments: [{ paddr: 0x7ff000, data: pattern(0x2000, 1) }], entry: 0x7ff000 });
    expectRefusal(image, "extends past the end of guest RAM (8 MiB)");
  });

  it("refuses a segment whose end wraps past 4 GiB", () => {
    const image = buildElf({
      segments: [{ paddr: 0xfffff000, data: pattern(16, 1), memsz: 0x2000 }],
      entry: 0xfffff000,
    });
    expectRefusal(image, "wraps past the 4 GiB end");
  });

  it("refuses a segment in the 640 KiB-1 MiB hole", () => {
    const image = buildElf({ segments: [{ paddr: 0xb8000, data: pattern(0x100, 1) }], entry: 0xb8000 });
    expectRefusal(image, "segment 0 at 0x000b8000-0x000b8100 is not in available memory");
    expectRefusal(image, "0x0009fc00-0x00100000");
  });

  it("refuses a segment overlapping the information area", () => {
    const image = buildElf({ segments: [{ paddr: 0xf000, data: pattern(0x2000, 1) }], entry: 0xf000 });
    expectRefusal(image, "overlaps 0x00008000-0x00010000, where the loader puts the Multiboot information");
  });

  it("leaves RAM untouched when it refuses an image", () => {
    const image = buildElf({
      segments: [
        { paddr: 0x100000, data: pattern(16, 1) },
        { paddr: 0xa0000, data: pattern(16, 1) },
      ],
      entry: 0x100000,
    });
    const ram = freshRam();
    expect(() => loadMultiboot(image, ram)).toThrow(BootImageError);
    expect(ram.every((b) => b === 0xaa)).toBe(true);
  });

  it("refuses ELF64 kernels", () => {
    const image = simpleElf();
    image[4] = 2;
    expectRefusal(image, "ELF64 kernels are not supported: trapdoor loads 32-bit Multiboot kernels");
  });

  it("refuses ELF files for another machine", () => {
    const image = simpleElf();
    new DataView(image.buffer).setUint16(18, 0x3e, true);
    expectRefusal(image, "ELF machine is 62 (x86-64), not EM_386");
  });

  it("refuses ELF files that are not executables", () => {
    const image = simpleElf();
    new DataView(image.buffer).setUint16(16, 3, true);
    expectRefusal(image, "ELF file type is 3 (ET_DYN");
  });

  it("refuses an entry point outside every PT_LOAD segment", () => {
    expectRefusal(simpleElf({ entry: 0x200000 }), "ELF entry point 0x00200000 is not inside any PT_LOAD");
  });

  it("refuses a non-ELF file without the a.out kludge", () => {
    const image = new Uint8Array(64);
    image.set(multibootHeader(), 0);
    expectRefusal(image, "not an ELF file and its Multiboot header does not set flag bit 16");
  });

  it("refuses the video-mode flag", () => {
    expectRefusal(
      simpleElf({ header: { flags: 1 << 2 } }),
      "requires a video mode (Multiboot header flag bit 2)",
    );
  });

  it("refuses unknown required flags but ignores unknown optional ones", () => {
    expectRefusal(simpleElf({ header: { flags: 1 << 5 } }), "set required bit(s) 5");
    expect(loadMultiboot(simpleElf({ header: { flags: 1 << 20 } }), freshRam()).format).toBe("elf");
  });

  it("refuses inconsistent a.out-kludge fields", () => {
    expectRefusal(buildAout({ fields: { loadAddr: 0x100040 } }), "load_addr 0x00100040 is above header_addr");
    expectRefusal(
      buildAout({ fields: { headerAddr: 0x100010 } }),
      "loading would start before the beginning of the file",
    );
    expectRefusal(buildAout({ fields: { loadEndAddr: 0x100000 } }), "load_end_addr 0x00100000 is not above");
    expectRefusal(buildAout({ fields: { loadEndAddr: 0x110000 } }), "but the file is truncated at 96 bytes");
    expectRefusal(buildAout({ fields: { bssEndAddr: 0x100010 } }), "bss_end_addr 0x00100010 is below");
    expectRefusal(buildAout({ fields: { entryAddr: 0x100060 } }), "entry_addr 0x00100060 is outside");
  });

  it("refuses an a.out-kludge header cut off by the end of the file", () => {
    expectRefusal(buildAout().subarray(0, 20), "needs 32 bytes but the file is 20 bytes");
  });

  it("refuses an a.out-kludge image outside available memory", () => {
    expectRefusal(buildAout({ loadAddr: 0xa0000 }), "a.out-kludge image at 0x000a0000-");
  });
});

describe("loadMultiboot: the hello guest kernel", () => {
  const elfPath = "guest-images/hello/hello.elf";
  const binPath = "guest-images/hello/hello.bin";

  it.skipIf(!existsSync(elfPath))("loads hello.elf at its segments' physical addresses", () => {
    const image = new Uint8Array(readFileSync(elfPath));
    const ram = freshRam();
    const state = loadMultiboot(image, ram);
    expect(state.format).toBe("elf");
    expect(state.eip).toBeGreaterThanOrEqual(0x100000);
    expect(state.eip).toBeLessThan(state.loadEnd);
    for (const segment of parseElf32(image).segments.filter((s) => s.type === 1 && s.filesz > 0)) {
      const fileBytes = image.subarray(segment.offset, segment.offset + segment.filesz);
      expect(ram.subarray(segment.paddr, segment.paddr + segment.filesz)).toEqual(fileBytes);
    }
  });

  it.skipIf(!existsSync(binPath))("loads hello.bin (a.out kludge) at load_addr", () => {
    const image = new Uint8Array(readFileSync(binPath));
    const ram = freshRam();
    const state = loadMultiboot(image, ram);
    expect(state.format).toBe("aout-kludge");
    expect(state.eip).toBeGreaterThanOrEqual(0x100000);
    expect(state.eip).toBeLessThan(state.loadEnd);
    const header = findAoutHeader(image);
    const loadOffset = header.offset - (header.headerAddr - header.loadAddr);
    const loadSize =
      header.loadEndAddr === 0 ? image.length - loadOffset : header.loadEndAddr - header.loadAddr;
    expect(state.loadStart).toBe(header.loadAddr);
    expect(ram.subarray(header.loadAddr, header.loadAddr + loadSize)).toEqual(
      image.subarray(loadOffset, loadOffset + loadSize),
    );
  });
});

/** The Multiboot header of a real a.out-kludge image, read independently of the loader. */
function findAoutHeader(image: Uint8Array) {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  for (let offset = 0; offset + 32 <= Math.min(image.length, 8192); offset += 4) {
    if (view.getUint32(offset, true) !== HEADER_MAGIC) continue;
    return {
      offset,
      headerAddr: view.getUint32(offset + 12, true),
      loadAddr: view.getUint32(offset + 16, true),
      loadEndAddr: view.getUint32(offset + 20, true),
    };
  }
  throw new Error("hello.bin has no Multiboot header");
}
