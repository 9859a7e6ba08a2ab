// The two-byte opcode map 0F xx (SDM vol. 2 appendix A, table A-3), i686 subset.
import {
  reg32,
  setReg32,
  reg16,
  setReg16,
  segSel,
  protectedMode,
  cpl,
  cr0,
  EAX,
  ECX,
  EDX,
  EBX,
  FS,
  GS,
  SS,
  CR0_PE,
  CR0_TS,
  CR0_PG,
  tlbFlush,
  tlbFlushNonGlobal,
} from "./state";
import {
  fetch8,
  fetchImm,
  decodeModRM,
  nextEip,
  o32,
  mod,
  regField,
  rm,
  eaSeg,
  eaOff,
  setNextEip,
} from "./decode";
import { osz, getReg, setReg, rmRead, rmWrite, readMem, writeMem, sext, maskOf } from "./operands";
import { alu, shiftDouble, imul2, logicFlags, subFlags, addFlags } from "./alu";
import { getFlags, setFlags, condition, F_CF, F_ZF, F_ARITH } from "./flags";
import { push, pop } from "./stack";
import { countOpcode } from "./profile";
import {
  loadSeg,
  realOrV86,
  readDescriptor,
  descLo,
  descHi,
  descBase,
  descLimit,
  descAttr,
} from "./segments";
import { raise, raiseNoCode, faulted, EXC_GP, EXC_UD, EXC_NP } from "./fault";
import { jumpNear, loadFarPointer, notImplemented } from "./execute";
import { read32, linWrite8 } from "./memory";
import {
  STATE_BASE,
  S_CR0,
  S_CR2,
  S_CR3,
  S_CR4,
  S_GDTR_BASE,
  S_GDTR_LIMIT,
  S_IDTR_BASE,
  S_IDTR_LIMIT,
  S_LDTR,
  S_TR,
  S_DR,
  S_INSTRET,
  S_TSC_OFFSET,
  S_SYSENTER,
} from "../layout";
import { cpuid } from "./cpuid";
import { debugRegistersChanged } from "./debug";
import { group15 } from "./fpu/execute";
import { setSegCache, setCpl, CS as SEG_CS, ESP } from "./state";
import { FLAT_CODE_ATTR, FLAT_DATA_ATTR } from "./segments";
import { F_VM, F_IF, F_RF } from "./flags";

/** The time-stamp counter: retired instructions plus the host-maintained offset (layout.ts). */
function tsc(): u64 {
  return load<u64>(STATE_BASE + S_INSTRET) + load<u64>(STATE_BASE + S_TSC_OFFSET);
}

function privileged(): bool {
  if (protectedMode() && cpl() != 0) {
    raise(EXC_GP, 0);
    return false;
  }
  return true;
}

export function step0f(op: u32): void {
  if (faulted()) return;
  countOpcode(0x100 | op);
  if (op >= 0x80 && op <= 0x8f) {
    // Jcc rel16/32
    const d = fetchImm();
    if (!faulted() && condition(op & 15)) jumpNear(nextEip + d);
    return;
  }
  if (op >= 0x90 && op <= 0x9f) {
    // SETcc r/m8
    decodeModRM();
    rmWrite(0, condition(op & 15) ? 1 : 0);
    return;
  }
  if (op >= 0x40 && op <= 0x4f) {
    // CMOVcc: the source is read even when the move is not taken
    decodeModRM();
    const v = rmRead(osz());
    if (faulted()) return;
    if (condition(op & 15)) setReg(osz(), regField, v);
    else if (o32) setReg32(regField, reg32(regField)); // a 32-bit CMOV always writes (no upper bits here)
    return;
  }
  if (op >= 0xc8 && op <= 0xcf) {
    // BSWAP (16-bit form is undefined; the i686 zeroes the word)
    const r = op & 7;
    const v = reg32(r);
    if (o32) setReg32(r, bswap<u32>(v));
    else setReg16(r, 0);
    return;
  }
  switch (op) {
    case 0x00:
      group6();
      return;
    case 0x01:
      group7();
      return;
    case 0x06: // CLTS
      if (privileged()) store<u32>(STATE_BASE + S_CR0, cr0() & ~CR0_TS);
      return;
    case 0x08:
    case 0x09: // INVD / WBINVD: no caches to manage
      privileged();
      return;
    case 0x0b: // UD2
      raiseNoCode(EXC_UD);
      return;
    case 0x1f: // multi-byte NOP (0F 1F /0), present on the i686
      decodeModRM();
      return;
    case 0x20:
    case 0x21:
    case 0x22:
    case 0x23:
      movControl(op);
      return;
    case 0x30: // WRMSR
      if (privileged()) wrmsr(reg32(ECX), reg32(EAX), reg32(EDX));
      return;
    case 0x31: {
      // RDTSC: retired instructions plus the offset the host keeps in step with guest time.
      // CR4.TSD restricts it to CPL 0 (SDM vol. 2 "RDTSC").
      if ((load<u32>(STATE_BASE + S_CR4) & 4) != 0 && protectedMode() && cpl() != 0) return raise(EXC_GP, 0);
      const t = tsc();
      setReg32(EAX, <u32>t);
      setReg32(EDX, <u32>(t >> 32));
      return;
    }
    case 0x32: // RDMSR
      if (privileged()) rdmsr(reg32(ECX));
      return;
    case 0xa0:
      push(osz(), segSel(FS));
      return;
    case 0xa8:
      push(osz(), segSel(GS));
      return;
    case 0xa1:
    case 0xa9: {
      const v = pop(osz());
      if (!faulted()) loadSeg(op == 0xa1 ? FS : GS, v);
      return;
    }
    case 0xa2:
      cpuid();
      return;
    case 0xa3:
      bitOp(0, false);
      return;
    case 0xab:
      bitOp(1, false);
      return;
    case 0xb3:
      bitOp(2, false);
      return;
    case 0xbb:
      bitOp(3, false);
      return;
    case 0xba: {
      // group 8: BT/BTS/BTR/BTC r/m, imm8
      decodeModRM();
      if (regField < 4) return raiseNoCode(EXC_UD);
      bitOp(regField - 4, true);
      return;
    }
    case 0xa4:
    case 0xa5:
    case 0xac:
    case 0xad: {
      // SHLD / SHRD
      decodeModRM();
      const sz = osz();
      const d = rmRead(sz);
      const n = (op & 1) == 0 ? fetch8() : reg32(ECX) & 0xff;
      if (faulted() || (n & 31) == 0) return;
      rmWrite(sz, shiftDouble(op < 0xa8, sz, d, getReg(sz, regField), n));
      return;
    }
    case 0xaf: {
      // IMUL r, r/m
      decodeModRM();
      const sz = osz();
      const v = rmRead(sz);
      if (!faulted()) setReg(sz, regField, imul2(sz, getReg(sz, regField), v));
      return;
    }
    case 0xb0:
    case 0xb1: {
      // CMPXCHG r/m, r
      decodeModRM();
      const sz: u32 = op == 0xb0 ? 0 : osz();
      const d = rmRead(sz);
      if (faulted()) return;
      const a = getReg(sz, EAX);
      subFlags(sz, a, d);
      if (a == d) rmWrite(sz, getReg(sz, regField));
      else {
        rmWrite(sz, d); // the destination is always written (a locked read-modify-write)
        if (!faulted()) setReg(sz, EAX, d);
      }
      return;
    }
    case 0xb2:
    case 0xb4:
    case 0xb5: // LSS / LFS / LGS
      decodeModRM();
      if (mod == 3) return raiseNoCode(EXC_UD);
      loadFarPointer(op == 0xb2 ? SS : op == 0xb4 ? FS : GS);
      return;
    case 0xb6:
    case 0xb7:
    case 0xbe:
    case 0xbf: {
      // MOVZX / MOVSX
      decodeModRM();
      const ssz: u32 = (op & 1) == 0 ? 0 : 1;
      const v = rmRead(ssz);
      if (faulted()) return;
      setReg(osz(), regField, op >= 0xbe ? sext(ssz, v) : v);
      return;
    }
    case 0xbc:
    case 0xbd: {
      // BSF / BSR: ZF=1 and destination unchanged for a zero source
      decodeModRM();
      const sz = osz();
      const v = rmRead(sz) & maskOf(sz);
      if (faulted()) return;
      if (v == 0) {
        setFlags(getFlags() | F_ZF);
        return;
      }
      setReg(sz, regField, op == 0xbc ? ctz<u32>(v) : 31 - clz<u32>(v));
      logicFlags(sz, 1); // ZF=0; other flags undefined
      return;
    }
    case 0xc0:
    case 0xc1: {
      // XADD r/m, r
      decodeModRM();
      const sz: u32 = op == 0xc0 ? 0 : osz();
      const d = rmRead(sz);
      if (faulted()) return;
      const s = getReg(sz, regField);
      rmWrite(sz, (d + s) & maskOf(sz));
      if (faulted()) return;
      setReg(sz, regField, d);
      addFlags(sz, d, s);
      return;
    }
    case 0xc7:
      cmpxchg8b();
      return;
    case 0xae:
      group15();
      return; // FXSAVE / FXRSTOR
    default:
      undefinedOrLater(op);
  }
}

/** 0F opcodes an i686 defines that are not built yet stop the run; all others are #UD. */
function undefinedOrLater(op: u32): void {
  switch (op) {
    case 0x02:
    case 0x03: // LAR / LSL
      larLsl(op == 0x02);
      return;
    case 0x34:
      sysenter();
      return;
    case 0x35:
      sysexit();
      return;
    case 0x33:
    case 0x05:
    case 0x07:
      notImplemented(0x0f00 | op);
      return;
    default:
      raiseNoCode(EXC_UD);
  }
}

/** BT/BTS/BTR/BTC (kind 0-3). A register bit offset addresses memory beyond the operand. */
function bitOp(kind: u32, imm: bool): void {
  if (!imm) decodeModRM();
  const sz = osz();
  const bits: u32 = 8 << sz;
  let off: u32;
  let seg = eaSeg;
  let addr = eaOff;
  if (imm) {
    off = fetch8() & (bits - 1);
  } else {
    const b = getReg(sz, regField);
    if (mod == 3) off = b & (bits - 1);
    else {
      const sb = <i32>sext(sz, b);
      addr += <u32>((sb >> (sz == 2 ? 5 : 4)) * ((<i32>bits) >> 3));
      off = (<u32>sb) & (bits - 1);
    }
  }
  if (faulted()) return;
  const v = mod == 3 ? getReg(sz, rm) : readMem(sz, seg, addr);
  if (faulted()) return;
  const c = (v >>> off) & 1;
  setFlags((getFlags() & ~F_CF) | c);
  if (kind == 0) return;
  const mask: u32 = 1 << off;
  const r = kind == 1 ? v | mask : kind == 2 ? v & ~mask : v ^ mask;
  if (mod == 3) setReg(sz, rm, r);
  else writeMem(sz, seg, addr, r);
}

function cmpxchg8b(): void {
  decodeModRM();
  if (regField != 1 || mod == 3) return raiseNoCode(EXC_UD);
  const lo = readMem(2, eaSeg, eaOff);
  const hi = readMem(2, eaSeg, eaOff + 4);
  if (faulted()) return;
  if (lo == reg32(EAX) && hi == reg32(EDX)) {
    writeMem(2, eaSeg, eaOff, reg32(EBX));
    writeMem(2, eaSeg, eaOff + 4, reg32(ECX));
    if (!faulted()) setFlags(getFlags() | F_ZF);
  } else {
    writeMem(2, eaSeg, eaOff, lo);
    writeMem(2, eaSeg, eaOff + 4, hi);
    if (faulted()) return;
    setReg32(EAX, lo);
    setReg32(EDX, hi);
    setFlags(getFlags() & ~F_ZF);
  }
}

/** Group 6: SLDT STR LLDT LTR VERR VERW (protected mode only). */
function group6(): void {
  if (realOrV86()) return raiseNoCode(EXC_UD);
  decodeModRM();
  switch (regField) {
    case 0:
      storeSelector(load<u32>(STATE_BASE + S_LDTR));
      return;
    case 1:
      storeSelector(load<u32>(STATE_BASE + S_TR));
      return;
    case 2:
    case 3: {
      if (!privileged()) return;
      const sel = rmRead(1);
      if (faulted()) return;
      loadSystemSegment(regField == 2 ? S_LDTR : S_TR, sel);
      return;
    }
    case 4:
    case 5: {
      // VERR / VERW
      const sel = rmRead(1);
      if (faulted()) return;
      setZf(verifySegment(sel, regField == 5));
      return;
    }
    default:
      raiseNoCode(EXC_UD);
  }
}

// ---- LAR LSL VERR VERW (SDM vol. 2): report through ZF, never fault on a bad selector ----

function setZf(on: bool): void {
  setFlags(on ? getFlags() | F_ZF : getFlags() & ~F_ZF);
}

/**
 * Read the descriptor for `sel` if the selector is not null and lies inside its table; false
 * (no fault) otherwise. A page fault while reading the table is still raised.
 */
function peekDescriptor(sel: u32): bool {
  if ((sel & 0xfffc) == 0) return false;
  const limit = (sel & 4) != 0 ? load<u32>(STATE_BASE + S_LDTR + 8) : load<u32>(STATE_BASE + S_GDTR_LIMIT);
  if ((sel & 4) != 0 && (load<u32>(STATE_BASE + S_LDTR) & 0xfffc) == 0) return false;
  if ((sel | 7) > limit) return false;
  return readDescriptor(sel);
}

/** Privilege rule shared by LAR/LSL/VERR/VERW: except for conforming code, DPL >= max(CPL, RPL). */
function visibleAtCpl(sel: u32, attr: u32): bool {
  if ((attr & 0x1c) == 0x1c) return true; // conforming code
  const dpl = (attr >> 5) & 3;
  return dpl >= cpl() && dpl >= (sel & 3);
}

/** LAR (0F 02) and LSL (0F 03): access rights or the segment limit of a descriptor. */
function larLsl(isLar: bool): void {
  if (realOrV86()) return raiseNoCode(EXC_UD);
  decodeModRM();
  const sel = rmRead(1);
  if (faulted()) return;
  if (!peekDescriptor(sel)) {
    if (!faulted()) setZf(false);
    return;
  }
  const attr = descAttr(descHi);
  if ((attr & 0x10) == 0) {
    // System descriptors: LAR accepts TSSs, LDTs, call and task gates; LSL only TSSs and LDTs.
    const t = attr & 0xf;
    const ok = isLar
      ? t == 1 || t == 2 || t == 3 || t == 4 || t == 5 || t == 9 || t == 0xb || t == 0xc
      : t == 1 || t == 2 || t == 3 || t == 9 || t == 0xb;
    if (!ok) return setZf(false);
  }
  if (!visibleAtCpl(sel, attr)) return setZf(false);
  if (isLar) setReg(osz(), regField, o32 ? descHi & 0x00f0ff00 : descHi & 0xff00);
  else setReg(osz(), regField, descLimit(descLo, descHi));
  setZf(true);
}

/** VERR / VERW: is the segment readable / writable at the current CPL and the selector's RPL? */
function verifySegment(sel: u32, write: bool): bool {
  if (!peekDescriptor(sel)) return false;
  const attr = descAttr(descHi);
  if ((attr & 0x10) == 0) return false;
  const code = (attr & 0x8) != 0;
  if (write ? code || (attr & 2) == 0 : code && (attr & 2) == 0) return false;
  return visibleAtCpl(sel, attr);
}

// ---- SYSENTER / SYSEXIT (SDM vol. 2): flat segments derived from IA32_SYSENTER_CS ----

function sysenter(): void {
  const cs = load<u32>(STATE_BASE + S_SYSENTER) & 0xffff;
  if (!protectedMode() || (cs & 0xfffc) == 0) return raise(EXC_GP, 0);
  setFlags(getFlags() & ~(F_VM | F_IF | F_RF));
  setSegCache(SEG_CS, cs & 0xfffc, 0, 0xffffffff, FLAT_CODE_ATTR);
  setSegCache(SS, (cs + 8) & 0xfffc, 0, 0xffffffff, FLAT_DATA_ATTR);
  setCpl(0);
  setReg32(ESP, load<u32>(STATE_BASE + S_SYSENTER + 4));
  setNextEip(load<u32>(STATE_BASE + S_SYSENTER + 8));
}

function sysexit(): void {
  const cs = load<u32>(STATE_BASE + S_SYSENTER) & 0xffff;
  if (!protectedMode() || realOrV86() || cpl() != 0 || (cs & 0xfffc) == 0) return raise(EXC_GP, 0);
  setSegCache(SEG_CS, ((cs + 16) & 0xfffc) | 3, 0, 0xffffffff, FLAT_CODE_ATTR | 0x60);
  setSegCache(SS, ((cs + 24) & 0xfffc) | 3, 0, 0xffffffff, FLAT_DATA_ATTR | 0x60);
  setCpl(3);
  setReg32(ESP, reg32(ECX));
  setNextEip(reg32(EDX));
}

function storeSelector(sel: u32): void {
  if (mod == 3) setReg(osz(), rm, sel & 0xffff);
  else writeMem(1, eaSeg, eaOff, sel);
}

/** LLDT / LTR (SDM vol. 2): a null LDT selector is allowed; LTR marks the TSS busy. */
function loadSystemSegment(which: u32, sel: u32): void {
  const p = STATE_BASE + which;
  if ((sel & 0xfffc) == 0 && which == S_LDTR) {
    store<u32>(p, sel);
    store<u32>(p + 4, 0);
    store<u32>(p + 8, 0);
    store<u32>(p + 12, 0);
    return;
  }
  if ((sel & 4) != 0 || (sel & 0xfffc) == 0) return raise(EXC_GP, sel & 0xfffc);
  if (!readDescriptor(sel)) return;
  const attr = descAttr(descHi);
  const type = attr & 0x1f;
  const ok = which == S_LDTR ? type == 0x02 : type == 0x01 || type == 0x09;
  if (!ok) return raise(EXC_GP, sel & 0xfffc);
  if ((attr & 0x80) == 0) return raise(EXC_NP, sel & 0xfffc);
  store<u32>(p, sel);
  store<u32>(p + 4, descBase(descLo, descHi));
  store<u32>(p + 8, descLimit(descLo, descHi));
  store<u32>(p + 12, attr | (which == S_TR ? 2 : 0));
  if (which == S_TR) linWrite8(gdtEntry(sel) + 5, (descHi >> 8) | 2);
}

function gdtEntry(sel: u32): u32 {
  return load<u32>(STATE_BASE + S_GDTR_BASE) + (sel & 0xfff8);
}

/** Group 7: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG. */
function group7(): void {
  decodeModRM();
  switch (regField) {
    case 0:
    case 1: {
      // SGDT / SIDT: 16-bit operand size stores 24 bits of base... the i686 stores all 32
      if (mod == 3) return raiseNoCode(EXC_UD);
      const b = regField == 0 ? S_GDTR_BASE : S_IDTR_BASE;
      writeMem(1, eaSeg, eaOff, load<u32>(STATE_BASE + b + 4));
      writeMem(2, eaSeg, eaOff + 2, o32 ? load<u32>(STATE_BASE + b) : load<u32>(STATE_BASE + b) & 0xffffff);
      return;
    }
    case 2:
    case 3: {
      // LGDT / LIDT
      if (mod == 3) return raiseNoCode(EXC_UD);
      if (!privileged()) return;
      const limit = readMem(1, eaSeg, eaOff);
      let base = read32(eaSeg, eaOff + 2);
      if (faulted()) return;
      if (!o32) base &= 0xffffff;
      const b = regField == 2 ? S_GDTR_BASE : S_IDTR_BASE;
      store<u32>(STATE_BASE + b, base);
      store<u32>(STATE_BASE + b + 4, limit);
      return;
    }
    case 4: // SMSW
      if (mod == 3) setReg(osz(), rm, cr0() & (o32 ? 0xffffffff : 0xffff));
      else writeMem(1, eaSeg, eaOff, cr0());
      return;
    case 6: {
      // LMSW: loads PE MP EM TS; cannot clear PE
      if (!privileged()) return;
      const v = rmRead(1);
      if (faulted()) return;
      const c = cr0();
      store<u32>(STATE_BASE + S_CR0, (c & ~0xe) | (v & 0xf) | (c & CR0_PE));
      tlbFlush();
      return;
    }
    case 7: // INVLPG: the TLB is dropped whole, global pages too (a 4 MiB page may cover many entries)
      if (mod == 3) return raiseNoCode(EXC_UD);
      if (privileged()) tlbFlush();
      return;
    default:
      raiseNoCode(EXC_UD);
  }
}

/** MOV to/from CRn and DRn (0F 20-23). The ModRM's mod field is ignored (always registers). */
// CR4 bits this CPU has (SDM vol. 3 §2.5): VME PVI TSD DE PSE (0-4), PGE (7) and OSFXSR (9),
// which CPUID's FXSR bit promises; setting any other bit (PAE, MCE, PCE, ...) is #GP(0).
const CR4_VALID: u32 = 0x29f;
const CR4_DE: u32 = 8;
// DR6 bits 4-11 and 16-31 and DR7 bit 10 read as 1 (SDM vol. 3 §18.2.3, §18.2.4).
const DR6_FIXED: u32 = 0xffff0ff0;
const DR7_FIXED: u32 = 0x400;

function movControl(op: u32): void {
  decodeModRM();
  if (!privileged()) return;
  const n = regField;
  if (op == 0x20 || op == 0x22) {
    if (n == 1 || n > 4) return raiseNoCode(EXC_UD);
    const off = n == 0 ? S_CR0 : n == 2 ? S_CR2 : n == 3 ? S_CR3 : S_CR4;
    if (op == 0x20) {
      setReg32(rm, load<u32>(STATE_BASE + off));
      return;
    }
    let v = reg32(rm);
    if (n == 0) {
      // PG without PE is #GP(0); ET is hardwired to 1 with an x87.
      if ((v & CR0_PG) != 0 && (v & CR0_PE) == 0) return raise(EXC_GP, 0);
      v |= 0x10;
    }
    if (n == 4 && (v & ~CR4_VALID) != 0) return raise(EXC_GP, 0);
    store<u32>(STATE_BASE + off, v);
    // A CR3 load keeps global pages; CR0 and CR4 writes (PG, PGE, PSE) drop everything.
    if (n == 3) tlbFlushNonGlobal();
    else if (n != 2) tlbFlush();
    return;
  }
  // DR4/DR5 alias DR6/DR7 while CR4.DE is clear and are #UD while it is set (SDM vol. 3 §18.2.2).
  let d = n;
  if (d == 4 || d == 5) {
    if ((load<u32>(STATE_BASE + S_CR4) & CR4_DE) != 0) return raiseNoCode(EXC_UD);
    d += 2;
  }
  if (op == 0x21) {
    setReg32(rm, load<u32>(STATE_BASE + S_DR + d * 4));
    return;
  }
  let v = reg32(rm);
  if (d == 6) v |= DR6_FIXED;
  if (d == 7) v |= DR7_FIXED;
  store<u32>(STATE_BASE + S_DR + d * 4, v);
  if (d != 6) debugRegistersChanged();
}

// MSRs (SDM vol. 4): TSC (0x10), SYSENTER_CS/ESP/EIP (0x174-0x176). Others: #GP(0).
function rdmsr(idx: u32): void {
  if (idx == 0x10) {
    const t = tsc();
    setReg32(EAX, <u32>t);
    setReg32(EDX, <u32>(t >> 32));
  } else if (idx >= 0x174 && idx <= 0x176) {
    setReg32(EAX, load<u32>(STATE_BASE + S_SYSENTER + (idx - 0x174) * 4));
    setReg32(EDX, 0);
  } else {
    raise(EXC_GP, 0);
  }
}

function wrmsr(idx: u32, lo: u32, hi: u32): void {
  if (idx >= 0x174 && idx <= 0x176) store<u32>(STATE_BASE + S_SYSENTER + (idx - 0x174) * 4, lo);
  else raise(EXC_GP, 0);
}
