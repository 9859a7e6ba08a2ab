// EFLAGS with lazy arithmetic flags (Intel SDM vol. 1 §3.4.3). A flag-setting instruction
// records its operation, operands and result; CF PF AF ZF SF OF are computed only when read.
import { STATE_BASE, S_EFLAGS, S_LF_OP, S_LF_DST, S_LF_SRC, S_LF_RES } from "../layout";
import { raiseAttention } from "./fault";

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
/**
 * 32-bit SHL/SAL, SHR, SAR with a count of 1-31 (dst = value, src = count); recorded by the
 * decode cache only (dcache.ts), with the flags of alu.ts `shift`: OF from the last 1-bit step
 * for SHL, from the MSB for SHR with a count of 1 (else 0), 0 for SAR; AF 0.
 */
export const LF_SHL: u32 = 8;
export const LF_SHR: u32 = 9;
export const LF_SAR: u32 = 10;

// @ts-ignore: decorator
@inline
function op(): u32 {
  return load<u32>(STATE_BASE + S_LF_OP);
}
// @ts-ignore: decorator
@inline
function dst(): u32 {
  return load<u32>(STATE_BASE + S_LF_DST);
}
// @ts-ignore: decorator
@inline
function src(): u32 {
  return load<u32>(STATE_BASE + S_LF_SRC);
}
// @ts-ignore: decorator
@inline
function res(): u32 {
  return load<u32>(STATE_BASE + S_LF_RES);
}
// @ts-ignore: decorator
@inline
function stored(): u32 {
  return load<u32>(STATE_BASE + S_EFLAGS);
}

/** Record a flag-setting operation. `size` is 0 (8-bit), 1 (16-bit) or 2 (32-bit). */
// @ts-ignore: decorator
@inline
export function setLazy(kind: u32, size: u32, d: u32, s: u32, r: u32): void {
  if (!flagsSaved) saveFlagState();
  store<u32>(STATE_BASE + S_LF_OP, (kind << 2) | size);
  store<u32>(STATE_BASE + S_LF_DST, d);
  store<u32>(STATE_BASE + S_LF_SRC, s);
  store<u32>(STATE_BASE + S_LF_RES, r);
}

/** INC/DEC: preserve the current CF first. */
export function setLazyIncDec(kind: u32, size: u32, d: u32, r: u32): void {
  if (!flagsSaved) saveFlagState();
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
    case LF_SHL:
      return (dst() >>> (32 - src())) & 1;
    case LF_SHR:
      return (dst() >>> (src() - 1)) & 1;
    case LF_SAR:
      return (<u32>((<i32>dst()) >> (src() - 1))) & 1;
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
    case LF_SHL:
      return (res() >>> 31) ^ cf();
    case LF_SHR:
      return src() == 1 ? dst() >>> 31 : 0;
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
  if (o >> 2 == LF_LOGIC || o >> 2 >= LF_SHL) return 0;
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

// EFLAGS and the lazy record at the start of the current instruction, so that an instruction
// that faults after setting flags (e.g. ADD to a write-protected page) leaves them as they were:
// faults are restartable (SDM vol. 3 §6.5). The copy is taken lazily, by the first write to the
// flags in the instruction (setLazy, setLazyIncDec, setFlags; getFlags only materialises the same
// value); the run loop clears `flagsSaved` before each instruction and restores on a fault only
// when it is set.
export let flagsSaved: bool = false;
export function clearFlagsSaved(): void {
  flagsSaved = false;
}
let savedFlags: u32 = 0;
let savedOp: u32 = 0;
let savedDst: u32 = 0;
let savedSrc: u32 = 0;
let savedRes: u32 = 0;

export function saveFlagState(): void {
  flagsSaved = true;
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
  if (!flagsSaved) saveFlagState();
  raiseAttention();
  store<u32>(STATE_BASE + S_EFLAGS, (v & 0x3f7fd5) | 2);
  store<u32>(STATE_BASE + S_LF_OP, LF_NONE);
}

/** Set or clear the given bits, materialising the lazy flags first. */
export function setFlagBits(mask: u32, on: bool): void {
  const v = getFlags();
  setFlags(on ? v | mask : v & ~mask);
}

/** Non-arithmetic flags (IF, DF, TF, IOPL, VM...) are always current in S_EFLAGS. */
// @ts-ignore: decorator
@inline
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
