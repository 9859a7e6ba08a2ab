// Segment register loads (SDM vol. 3 §3.4, §5.4-5.8). Real and virtual-8086 mode load
// base = selector << 4; protected mode loads a descriptor from the GDT or LDT with its checks.
import { STATE_BASE, S_GDTR_BASE, S_GDTR_LIMIT, S_LDTR } from "../layout";
import {
  setSegCache,
  segLimit,
  segAttr,
  protectedMode,
  cpl,
  setCpl,
  CS,
  SS,
  ATTR_P,
  ATTR_S,
  ATTR_DB,
  ATTR_G,
  ATTR_ACCESSED,
} from "./state";
import { sysRead32, linWrite8 } from "./memory";
import { sysFlags, F_VM } from "./flags";
import { raise, faulted, EXC_GP, EXC_NP, EXC_SS } from "./fault";

/** Descriptor read by readDescriptor: low and high dwords, and its linear address. */
export let descLo: u32 = 0;
export let descHi: u32 = 0;
export let descAddr: u32 = 0;

export function vm86(): bool {
  return (sysFlags() & F_VM) != 0;
}

export function realOrV86(): bool {
  return !protectedMode() || vm86();
}

/** Read the descriptor for `sel` from the GDT or LDT; #GP(sel) when outside the table limit. */
export function readDescriptor(sel: u32): bool {
  let base: u32;
  let limit: u32;
  if ((sel & 4) != 0) {
    base = load<u32>(STATE_BASE + S_LDTR + 4);
    limit = load<u32>(STATE_BASE + S_LDTR + 8);
  } else {
    base = load<u32>(STATE_BASE + S_GDTR_BASE);
    limit = load<u32>(STATE_BASE + S_GDTR_LIMIT);
  }
  if ((sel | 7) > limit) {
    raise(EXC_GP, sel & 0xfffc);
    return false;
  }
  descAddr = base + (sel & 0xfff8);
  descLo = sysRead32(descAddr);
  descHi = sysRead32(descAddr + 4);
  return !faulted();
}

export function descBase(lo: u32, hi: u32): u32 {
  return (lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000);
}

export function descLimit(lo: u32, hi: u32): u32 {
  const raw = (lo & 0xffff) | (hi & 0xf0000);
  return (hi & (ATTR_G << 8)) != 0 ? (raw << 12) | 0xfff : raw;
}

export function descAttr(hi: u32): u32 {
  return (hi >>> 8) & 0xf0ff;
}

/** Load a segment register in real or virtual-8086 mode. */
export function loadSegReal(s: u32, sel: u32): void {
  sel &= 0xffff;
  if (vm86()) {
    // V86: every segment is a 64 KiB, present, writable, DPL 3 data/code segment.
    setSegCache(s, sel, sel << 4, 0xffff, s == CS ? 0xfb : 0xf3);
  } else {
    // Real mode keeps the cached limit and attributes (SDM vol. 3 §9.1.1; "unreal mode").
    setSegCache(s, sel, sel << 4, segLimit(s), segAttr(s) | ATTR_P);
  }
}

/**
 * Load a data segment register (DS ES FS GS) or SS in protected mode with the checks of SDM
 * vol. 2 "MOV — Move to segment register". Returns false after raising a fault.
 */
export function loadSegProtected(s: u32, sel: u32): bool {
  sel &= 0xffff;
  const rpl = sel & 3;
  if ((sel & 0xfffc) == 0) {
    if (s == SS) {
      raise(EXC_GP, 0);
      return false;
    }
    // A null selector loads an unusable segment: any access through it faults.
    setSegCache(s, sel, 0, 0, 0);
    return true;
  }
  if (!readDescriptor(sel)) return false;
  const attr = descAttr(descHi);
  const type = attr & 0xf;
  const dpl = (attr >> 5) & 3;
  if ((attr & ATTR_S) == 0) {
    raise(EXC_GP, sel & 0xfffc);
    return false;
  }
  if (s == SS) {
    // Writable data, RPL = DPL = CPL.
    if ((type & 0xa) != 0x2 || rpl != cpl() || dpl != cpl()) {
      raise(EXC_GP, sel & 0xfffc);
      return false;
    }
    if ((attr & ATTR_P) == 0) {
      raise(EXC_SS, sel & 0xfffc);
      return false;
    }
  } else {
    // Data or readable code; non-conforming needs max(CPL, RPL) <= DPL.
    if ((type & 0xa) == 0x8) {
      raise(EXC_GP, sel & 0xfffc);
      return false;
    }
    const conforming = (type & 0xc) == 0xc;
    if (!conforming && (rpl > dpl || cpl() > dpl)) {
      raise(EXC_GP, sel & 0xfffc);
      return false;
    }
    if ((attr & ATTR_P) == 0) {
      raise(EXC_NP, sel & 0xfffc);
      return false;
    }
  }
  setAccessed();
  setSegCache(s, sel, descBase(descLo, descHi), descLimit(descLo, descHi), attr | ATTR_ACCESSED);
  return true;
}

/** Set the accessed bit of the descriptor last read (SDM vol. 3 §3.4.5.1). */
export function setAccessed(): void {
  if ((descHi & 0x100) == 0) {
    descHi |= 0x100;
    linWrite8(descAddr + 5, descHi >> 8);
  }
}

/** Load any data segment register or SS for MOV/POP/LxS, in whatever mode the CPU is in. */
export function loadSeg(s: u32, sel: u32): bool {
  if (realOrV86()) {
    loadSegReal(s, sel);
    return true;
  }
  return loadSegProtected(s, sel);
}

/**
 * Load CS for a far JMP/CALL/RET/IRET to a code segment in protected mode. Gates and task
 * switches are handled by the callers. Sets CPL from the new CS.
 */
export function loadCodeSegment(sel: u32, newCpl: u32, newEip: u32 = 0): bool {
  sel &= 0xffff;
  if ((sel & 0xfffc) == 0) {
    raise(EXC_GP, 0);
    return false;
  }
  if (!readDescriptor(sel)) return false;
  const attr = descAttr(descHi);
  if ((attr & ATTR_S) == 0 || (attr & 0x8) == 0) {
    raise(EXC_GP, sel & 0xfffc);
    return false;
  }
  if ((attr & ATTR_P) == 0) {
    raise(EXC_NP, sel & 0xfffc);
    return false;
  }
  // The new EIP must lie within the new code segment: #GP(0) at the transferring instruction.
  if (newEip > descLimit(descLo, descHi)) {
    raise(EXC_GP, 0);
    return false;
  }
  setAccessed();
  setSegCache(
    CS,
    (sel & 0xfffc) | newCpl,
    descBase(descLo, descHi),
    descLimit(descLo, descHi),
    attr | ATTR_ACCESSED,
  );
  setCpl(newCpl);
  return true;
}

/** Flat 4 GiB segment attributes: present, DPL 0, 32-bit, 4 KiB granular; code (exec/read) or data (r/w). */
export const FLAT_CODE_ATTR: u32 = ATTR_P | ATTR_S | ATTR_DB | ATTR_G | 0xb;
export const FLAT_DATA_ATTR: u32 = ATTR_P | ATTR_S | ATTR_DB | ATTR_G | 0x3;
