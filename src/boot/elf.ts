/**
 * A minimal, strict ELF32 parser: the file header and the program header table of a little-endian
 * i386 (EM_386) file, which is all a boot loader needs to place a kernel in memory.
 *
 * Every offset and size is checked against the file before it is used, and anything this parser
 * does not understand is refused with a {@link BootImageError} whose message names the problem.
 * Section headers are not read. Field offsets follow the System V ABI, "ELF Header" and
 * "Program Header" (Tool Interface Standard ELF 1.2, Book I, Chapter 1 and 2).
 */
import { BootImageError, hex32 } from "./boot-error.js";

/** `e_machine` value for Intel 80386. */
export const EM_386 = 3;
/** `e_type` value for an executable file. */
export const ET_EXEC = 2;
/** `p_type` value for a loadable segment. */
export const PT_LOAD = 1;

/** One entry of the program header table (Elf32_Phdr), fields as unsigned 32-bit numbers. */
export interface Elf32Segment {
  type: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  flags: number;
}

/** What a loader needs from an ELF32 file: entry point, machine, file type, and program headers. */
export interface Elf32Image {
  entry: number;
  machine: number;
  type: number;
  segments: Elf32Segment[];
}

const ELF_HEADER_SIZE = 52;
const PROGRAM_HEADER_SIZE = 32;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const EV_CURRENT = 1;

/** Well-known `e_machine` values, only to make refusals readable. */
const MACHINE_NAMES: ReadonlyMap<number, string> = new Map([
  [0x03, "i386"],
  [0x08, "MIPS"],
  [0x14, "PowerPC"],
  [0x28, "ARM"],
  [0x32, "IA-64"],
  [0x3e, "x86-64"],
  [0xb7, "AArch64"],
  [0xf3, "RISC-V"],
]);

/** True if the file starts with the ELF magic bytes 0x7F 'E' 'L' 'F'. */
export function hasElfMagic(image: Uint8Array): boolean {
  return (
    image.length >= 4 && image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46
  );
}

/**
 * Parse the header and program headers of a little-endian ELF32 file for EM_386.
 *
 * @throws BootImageError if the file is not ELF, is ELF64, big-endian, for another machine, or if
 *   the header, the program header table, or any segment's file bytes extend past the end of the file.
 */
export function parseElf32(image: Uint8Array): Elf32Image {
  checkIdent(image);
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const machine = view.getUint16(18, true);
  checkMachine(machine);
  const version = view.getUint32(20, true);
  if (version !== EV_CURRENT) {
    throw new BootImageError(`ELF header has e_version ${version}; only version ${EV_CURRENT} exists`);
  }
  return {
    type: view.getUint16(16, true),
    machine,
    entry: view.getUint32(24, true),
    segments: readProgramHeaders(view),
  };
}

/** Check e_ident: magic, class, data encoding, version (ELF 1.2, Book I, Figure 1-4), and header length. */
function checkIdent(image: Uint8Array): void {
  if (!hasElfMagic(image)) {
    throw new BootImageError("not an ELF file: it does not start with the magic bytes 7F 45 4C 46");
  }
  if (image.length < 16) {
    throw new BootImageError(`ELF identification is truncated (file is ${image.length} bytes, need 16)`);
  }
  const elfClass = image[4];
  if (elfClass === ELFCLASS64) {
    throw new BootImageError("ELF64 kernels are not supported: trapdoor loads 32-bit Multiboot kernels");
  }
  if (elfClass !== ELFCLASS32) {
    throw new BootImageError(`ELF file has invalid class ${elfClass} (expected 1, ELFCLASS32)`);
  }
  if (image[5] !== ELFDATA2LSB) {
    throw new BootImageError(
      `ELF file has data encoding ${image[5]}; only little-endian (1, ELFDATA2LSB) i386 files are supported`,
    );
  }
  if (image[6] !== EV_CURRENT) {
    throw new BootImageError(`ELF identification has version ${image[6]}; only version ${EV_CURRENT} exists`);
  }
  if (image.length < ELF_HEADER_SIZE) {
    throw new BootImageError(
      `ELF header is truncated (file is ${image.length} bytes, an ELF32 header is ${ELF_HEADER_SIZE})`,
    );
  }
}

function checkMachine(machine: number): void {
  if (machine === EM_386) return;
  const name = MACHINE_NAMES.get(machine);
  const described = name === undefined ? `${machine}` : `${machine} (${name})`;
  throw new BootImageError(
    `ELF machine is ${described}, not EM_386 (3): trapdoor loads 32-bit x86 Multiboot kernels`,
  );
}

/** Read and bounds-check the program header table and each entry's file bytes. */
function readProgramHeaders(view: DataView): Elf32Segment[] {
  const phoff = view.getUint32(28, true);
  const phentsize = view.getUint16(42, true);
  const phnum = view.getUint16(44, true);
  if (phnum === 0) return [];
  if (phentsize < PROGRAM_HEADER_SIZE) {
    throw new BootImageError(
      `ELF program header entries are ${phentsize} bytes, smaller than an Elf32_Phdr (${PROGRAM_HEADER_SIZE})`,
    );
  }
  const tableSize = phentsize * phnum;
  if (phoff + tableSize > view.byteLength) {
    throw new BootImageError(
      `ELF program header table extends past the end of the file (offset ${hex32(phoff)}, ` +
        `${phnum} entries of ${phentsize} bytes, file is ${view.byteLength} bytes)`,
    );
  }
  const segments: Elf32Segment[] = [];
  for (let index = 0; index < phnum; index++) {
    segments.push(readProgramHeader(view, phoff + index * phentsize, index));
  }
  return segments;
}

function readProgramHeader(view: DataView, at: number, index: number): Elf32Segment {
  const segment: Elf32Segment = {
    type: view.getUint32(at, true),
    offset: view.getUint32(at + 4, true),
    vaddr: view.getUint32(at + 8, true),
    paddr: view.getUint32(at + 12, true),
    filesz: view.getUint32(at + 16, true),
    memsz: view.getUint32(at + 20, true),
    flags: view.getUint32(at + 24, true),
  };
  if (segment.offset + segment.filesz > view.byteLength) {
    throw new BootImageError(
      `ELF program header ${index} extends past the end of the file (offset ${hex32(segment.offset)}, ` +
        `size ${hex32(segment.filesz)}, file is ${view.byteLength} bytes)`,
    );
  }
  if (segment.type === PT_LOAD && segment.memsz < segment.filesz) {
    throw new BootImageError(
      `ELF program header ${index} has p_memsz ${hex32(segment.memsz)} smaller than p_filesz ${hex32(segment.filesz)}`,
    );
  }
  return segment;
}
