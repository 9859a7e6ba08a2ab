import type { Core, SegName } from "../core/core.js";
import type { MultibootEntryState } from "./multiboot.js";

// Descriptor attribute bits (high dword bits 8..23 >> 8): P, S, D/B, G and the type nibble.
const FLAT_CODE = 0x80 | 0x10 | 0x4000 | 0x8000 | 0xb; // execute/read, accessed
const FLAT_DATA = 0x80 | 0x10 | 0x4000 | 0x8000 | 0x3; // read/write, accessed

/**
 * Put the CPU in the state Multiboot 0.6.96 §3.2 promises: 32-bit protected mode with paging
 * off, CS a flat 4 GiB execute/read segment, DS ES FS GS SS flat read/write, EFLAGS.IF = 0 and
 * VM = 0, EAX = magic, EBX = information structure. The GDTR is left for the OS to load.
 */
export function enterMultibootState(core: Core, s: MultibootEntryState): void {
  core.reset();
  core.cr0 = 0x11; // PE, ET
  core.cpl = 0;
  for (const seg of ["es", "ss", "ds", "fs", "gs"] as SegName[]) {
    core.setSegment(seg, { selector: 0x10, base: 0, limit: 0xffffffff, attributes: FLAT_DATA });
  }
  core.setSegment("cs", { selector: 0x08, base: 0, limit: 0xffffffff, attributes: FLAT_CODE });
  core.eflags = 0x2;
  core.setReg("eax", s.eax);
  core.setReg("ebx", s.ebx);
  core.eip = s.eip;
}
