// EFLAGS with lazy arithmetic flags (Intel SDM vol. 1 §3.4.3). A flag-setting instruction
// records its operation, operands and result; CF PF AF ZF SF OF are computed only when read.
import { STATE_BASE, S_EFLAGS, S_LF_OP, S_LF_DST, S_LF_SRC, S_LF_RES } from "../layout";

export const F_CF: u32 = 1 << 0;
export const F_PF: u32 = 1 << 2;
export const F_AF: u32 = 1 << 4;
export const F_ZF: u32 = 1 << 6;
export const F_SF: u32 = 1 << 7;
export const F_TF: u32 = 1 << 8;
export const F_IF: u32 = 1 << 9;
export const F_DF: u32 = 1 << 10;
export const F_OF: u32 = 1 << 11;
export const F_IOPL: u32 = 3 << 12;
export const F_NT: u32 = 1 << 14;
export const F_RF: u32 = 1 << 16;
export const F_VM: u32 = 1 << 17;
export const F_AC: u32 = 1 << 18;
export const F_VIF: u32 = 1 << 19;
export const F_VIP: u32 = 1 << 20;
export const F_ID: u32 = 1 << 21;
/** The six arithmetic status flags. */
export const F_ARITH: u32 = F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF;

// Lazy operation = kind << 2 | size index (0: 8-bit, 1: 16-bit, 2: 32-bit).
export const LF_NONE: u32 = 0;
export const LF_ADD: u32 = 1;
/** ADC with carry-in 1 (ADC with carry-in 0 is recorded as ADD). */
export const LF_ADC: u32 = 2;
export const LF_SUB: u32 = 3;
/** SBB with borrow-in 1. */
export const LF_SBB: u32 = 4;
/** AND/OR/XOR/TEST: CF=OF=0, AF undefined (0 on the i686). */
export const LF_LOGIC: u32 = 5;
/** INC/DEC keep CF: it is materialised into S_EFLAGS before these are recorded. */
export const LF_INC: u32 = 6;
export const LF_DEC: u32 = 7;

function op(): u32 {
  return load<u32>(STATE_BASE + S_LF_OP);
}
function dst(): u32 {
  return load<u32>(STATE_BASE + S_LF_DST);
}
function src(): u32 {
  return load<u32>(STATE_BASE + S_LF_SRC);
}
function res(): u32 {
  return load<u32>(STATE_BASE + S_LF_RES);
}
function stored(): u32 {
  return load<u32>(STATE_BASE + S_EFLAGS);
}

/** Record a flag-setting operation. `size` is 0 (8-bit), 1 (16-bit) or 2 (32-bit). */
export function setLazy(kind: u32, size: u32, d: u32, s: u32, r: u32): void {
  store<u32>(STATE_BASE + S_LF_OP, (kind << 2) | size);
  store<u32>(STATE_BASE + S_LF_DST, d);
  store<u32>(STATE_BASE + S_LF_SRC, s);
  store<u32>(STATE_BASE + S_LF_RES, r);
}

/** INC/DEC: preserve the current CF first. */
export function setLazyIncDec(kind: u32, size: u32, d: u32, r: u32): void {
  const c = cf();
  store<u32>(STATE_BASE + S_EFLAGS, (stored() & ~F_CF) | c);
  setLazy(kind, size, d, 1, r);
}

function signShift(o: u32): u32 {
  return (8 << (o & 3)) - 1;
}
function sizeMask(o: u32): u32 {
  return <u32>(0xffffffff >>> (32 - (8 << (o & 3))));
}

export function cf(): u32 {
  const o = op();
  if (o == LF_NONE) return stored() & 1;
  const m = sizeMask(o);
  switch (o >> 2) {
    case LF_ADD:
      return u32((res() & m) < (dst() & m));
    case LF_ADC:
      return u32((res() & m) <= (dst() & m));
    case LF_SUB:
      return u32((dst() & m) < (src() & m));
    case LF_SBB:
      return u32((dst() & m) <= (src() & m));
    case LF_LOGIC:
      return 0;
    default:
      return stored() & 1; // INC/DEC
  }
}

export function zf(): u32 {
  const o = op();
  if (o == LF_NONE) return (stored() >> 6) & 1;
  return u32((res() & sizeMask(o)) == 0);
}

export function sf(): u32 {
  const o = op();
  if (o == LF_NONE) return (stored() >> 7) & 1;
  return (res() >> signShift(o)) & 1;
}

export function ovf(): u32 {
  const o = op();
  if (o == LF_NONE) return (stored() >> 11) & 1;
  const sh = signShift(o);
  switch (o >> 2) {
    case LF_ADD:
    case LF_ADC:
    case LF_INC:
      return (((dst() ^ res()) & (src() ^ res())) >> sh) & 1;
    case LF_SUB:
    case LF_SBB:
    case LF_DEC:
      return (((dst() ^ src()) & (dst() ^ res())) >> sh) & 1;
    default:
      return 0;
  }
}

export function pf(): u32 {
  const o = op();
  if (o == LF_NONE) return (stored() >> 2) & 1;
  return parity(res());
}

export function af(): u32 {
  const o = op();
  if (o == LF_NONE) return (stored() >> 4) & 1;
  if (o >> 2 == LF_LOGIC) return 0;
  return ((dst() ^ src() ^ res()) >> 4) & 1;
}

/** PF: 1 when the low byte of `v` has an even number of set bits. */
export function parity(v: u32): u32 {
  return ~popcnt<u32>(v & 0xff) & 1;
}

/** The full EFLAGS value, with the lazy flags computed. Bit 1 always reads as 1. */
export function getFlags(): u32 {
  const o = op();
  if (o == LF_NONE) return stored() | 2;
  const v =
    (stored() & ~F_ARITH) | cf() | (pf() << 2) | (af() << 4) | (zf() << 6) | (sf() << 7) | (ovf() << 11) | 2;
  store<u32>(STATE_BASE + S_EFLAGS, v);
  store<u32>(STATE_BASE + S_LF_OP, LF_NONE);
  return v;
}

// EFLAGS and the lazy record at the start of the current instruction (run loop), so that an
// instruction that faults after setting flags (e.g. ADD to a write-protected page) leaves them
// as they were: faults are restartable (SDM vol. 3 §6.5).
let savedFlags: u32 = 0;
let savedOp: u32 = 0;
let savedDst: u32 = 0;
let savedSrc: u32 = 0;
let savedRes: u32 = 0;

export function saveFlagState(): void {
  savedFlags = stored();
  savedOp = op();
  savedDst = dst();
  savedSrc = src();
  savedRes = res();
}

export function restoreFlagState(): void {
  store<u32>(STATE_BASE + S_EFLAGS, savedFlags);
  store<u32>(STATE_BASE + S_LF_OP, savedOp);
  store<u32>(STATE_BASE + S_LF_DST, savedDst);
  store<u32>(STATE_BASE + S_LF_SRC, savedSrc);
  store<u32>(STATE_BASE + S_LF_RES, savedRes);
}

/** Replace EFLAGS entirely (POPF, IRET, SAHF, shifts ...): the lazy record is dropped. */
export function setFlags(v: u32): void {
  store<u32>(STATE_BASE + S_EFLAGS, (v & 0x3f7fd5) | 2);
  store<u32>(STATE_BASE + S_LF_OP, LF_NONE);
}

/** Set or clear the given bits, materialising the lazy flags first. */
export function setFlagBits(mask: u32, on: bool): void {
  const v = getFlags();
  setFlags(on ? v | mask : v & ~mask);
}

/** Non-arithmetic flags (IF, DF, TF, IOPL, VM...) are always current in S_EFLAGS. */
export function sysFlags(): u32 {
  return stored();
}

/** Evaluate condition code `cc` (low nibble of Jcc/SETcc/CMOVcc), SDM vol. 2 appendix B.1. */
export function condition(cc: u32): bool {
  let r: u32;
  switch (cc >> 1) {
    case 0:
      r = ovf();
      break; // O
    case 1:
      r = cf();
      break; // B / C
    case 2:
      r = zf();
      break; // E / Z
    case 3:
      r = cf() | zf();
      break; // BE
    case 4:
      r = sf();
      break; // S
    case 5:
      r = pf();
      break; // P
    case 6:
      r = sf() ^ ovf();
      break; // L
    default:
      r = zf() | (sf() ^ ovf());
      break; // LE
  }
  return (r ^ (cc & 1)) != 0;
}
