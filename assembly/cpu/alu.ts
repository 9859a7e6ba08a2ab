// Arithmetic, logic, shifts and rotates, multiply and divide, with the flag rules of SDM vol. 2.
// Where the SDM leaves a flag undefined, the choice made here is noted at the operation.
import {
  setLazy,
  setLazyIncDec,
  cf,
  getFlags,
  setFlags,
  parity,
  F_CF,
  F_PF,
  F_AF,
  F_ZF,
  F_SF,
  F_OF,
  LF_ADD,
  LF_ADC,
  LF_SUB,
  LF_SBB,
  LF_LOGIC,
  LF_INC,
  LF_DEC,
  F_ARITH,
} from "./flags";
import { maskOf, signBit } from "./operands";
import { reg8, reg16, reg32, setReg8, setReg16, setReg32, EAX, EDX } from "./state";
import { raiseNoCode, EXC_DE } from "./fault";

/** The eight classic ALU operations in encoding order: ADD OR ADC SBB AND SUB XOR CMP. */
export function alu(op: u32, sz: u32, d: u32, s: u32): u32 {
  const m = maskOf(sz);
  d &= m;
  s &= m;
  let r: u32;
  switch (op) {
    case 0:
      r = (d + s) & m;
      setLazy(LF_ADD, sz, d, s, r);
      break;
    case 1:
      r = d | s;
      setLazy(LF_LOGIC, sz, d, s, r);
      break;
    case 2: {
      const c = cf();
      r = (d + s + c) & m;
      setLazy(c != 0 ? LF_ADC : LF_ADD, sz, d, s, r);
      break;
    }
    case 3: {
      const c = cf();
      r = (d - s - c) & m;
      setLazy(c != 0 ? LF_SBB : LF_SUB, sz, d, s, r);
      break;
    }
    case 4:
      r = d & s;
      setLazy(LF_LOGIC, sz, d, s, r);
      break;
    case 5:
      r = (d - s) & m;
      setLazy(LF_SUB, sz, d, s, r);
      break;
    case 6:
      r = d ^ s;
      setLazy(LF_LOGIC, sz, d, s, r);
      break;
    default:
      r = (d - s) & m;
      setLazy(LF_SUB, sz, d, s, r);
      return d; // CMP
  }
  return r;
}

export function inc(sz: u32, d: u32): u32 {
  const r = (d + 1) & maskOf(sz);
  setLazyIncDec(LF_INC, sz, d, r);
  return r;
}

export function dec(sz: u32, d: u32): u32 {
  const r = (d - 1) & maskOf(sz);
  setLazyIncDec(LF_DEC, sz, d, r);
  return r;
}

export function neg(sz: u32, d: u32): u32 {
  const r = (0 - d) & maskOf(sz);
  setLazy(LF_SUB, sz, 0, d, r);
  return r;
}

/** Set the six arithmetic flags eagerly. */
function setArith(c: u32, r: u32, sz: u32, o: u32, a: u32): void {
  const m = maskOf(sz);
  const f =
    (getFlags() & ~F_ARITH) |
    (c != 0 ? F_CF : 0) |
    (parity(r) != 0 ? F_PF : 0) |
    (a != 0 ? F_AF : 0) |
    ((r & m) == 0 ? F_ZF : 0) |
    ((r & signBit(sz)) != 0 ? F_SF : 0) |
    (o != 0 ? F_OF : 0);
  setFlags(f);
}

/**
 * Group-2 shifts and rotates: ROL ROR RCL RCR SHL SHR SAL SAR (reg field order).
 * The count is masked to 5 bits (i286+). A masked count of 0 changes nothing, flags included.
 * OF is defined for 1-bit counts only; for larger counts we give the value of the last 1-bit
 * step (MSB before it XOR MSB after it), as the i286 does and as the 1-bit rule generalises.
 * AF after shifts is undefined; we clear it.
 */
export function shift(op: u32, sz: u32, d: u32, count: u32): u32 {
  const bits: u32 = 8 << sz;
  const m = maskOf(sz);
  const sb = signBit(sz);
  count &= 31;
  d &= m;
  if (count == 0) return d;
  let r: u32;
  let c: u32;
  let o: u32;
  const flags = getFlags();
  switch (op) {
    case 0: {
      // ROL: only CF and OF change
      const n = count & (bits - 1);
      r = n == 0 ? d : ((d << n) | (d >>> (bits - n))) & m;
      c = r & 1;
      o = ((r & sb) != 0 ? 1 : 0) ^ c;
      setFlags((flags & ~(F_CF | F_OF)) | (c != 0 ? F_CF : 0) | (o != 0 ? F_OF : 0));
      return r;
    }
    case 1: {
      // ROR
      const n = count & (bits - 1);
      r = n == 0 ? d : ((d >>> n) | (d << (bits - n))) & m;
      c = (r & sb) != 0 ? 1 : 0;
      o = c ^ ((r & (sb >> 1)) != 0 ? 1 : 0);
      setFlags((flags & ~(F_CF | F_OF)) | (c != 0 ? F_CF : 0) | (o != 0 ? F_OF : 0));
      return r;
    }
    case 2: {
      // RCL: rotate through CF, modulo bits+1
      const n = sz == 2 ? count : count % (bits + 1);
      r = d;
      c = flags & 1;
      for (let i: u32 = 0; i < n; i++) {
        const out = (r & sb) != 0 ? 1 : 0;
        r = ((r << 1) | c) & m;
        c = out;
      }
      o = ((r & sb) != 0 ? 1 : 0) ^ c;
      setFlags((flags & ~(F_CF | F_OF)) | (c != 0 ? F_CF : 0) | (o != 0 ? F_OF : 0));
      return r;
    }
    case 3: {
      // RCR
      const n = sz == 2 ? count : count % (bits + 1);
      r = d;
      c = flags & 1;
      for (let i: u32 = 0; i < n; i++) {
        const out = r & 1;
        r = (r >>> 1) | (c != 0 ? sb : 0);
        c = out;
      }
      o = ((r & sb) != 0 ? 1 : 0) ^ ((r & (sb >> 1)) != 0 ? 1 : 0);
      setFlags((flags & ~(F_CF | F_OF)) | (c != 0 ? F_CF : 0) | (o != 0 ? F_OF : 0));
      return r;
    }
    case 4:
    case 6: // SHL/SAL
      r = count < 32 ? (d << count) & m : 0;
      c = count <= bits ? (d >>> (bits - count)) & 1 : 0;
      o = ((r & sb) != 0 ? 1 : 0) ^ c;
      setArith(c, r, sz, o, 0);
      return r;
    case 5: // SHR
      r = d >>> count;
      c = (d >>> (count - 1)) & 1;
      o = count == 1 && (d & sb) != 0 ? 1 : 0; // a 0 came into the MSB before the last step
      setArith(c, r, sz, o, 0);
      return r;
    default: {
      // SAR
      const sd = (<i32>(d << (32 - bits))) >> (32 - bits);
      r = (<u32>(sd >> (count < 32 ? count : 31))) & m;
      c = (<u32>(sd >> (count - 1 < 31 ? count - 1 : 31))) & 1;
      setArith(c, r, sz, 0, 0);
      return r;
    }
  }
}

/** SHLD/SHRD (SDM vol. 2): shift d by count, filling from s. Counts above the size are undefined. */
export function shiftDouble(left: bool, sz: u32, d: u32, s: u32, count: u32): u32 {
  const bits: u32 = 8 << sz;
  const m = maskOf(sz);
  count &= 31;
  if (count == 0) return d & m;
  let r: u32;
  let c: u32;
  if (sz == 2) {
    const wide: u64 = left ? ((<u64>d) << 32) | (<u64>s) : ((<u64>s) << 32) | (<u64>d);
    if (left) {
      r = <u32>((wide << count) >> 32);
      c = (<u32>(wide >> (64 - count))) & 1;
    } else {
      r = <u32>(wide >> count);
      c = (<u32>(wide >> (count - 1))) & 1;
    }
  } else {
    // 16-bit: the i686 treats d:s as a 32-bit quantity (counts 17-31 pull in d again).
    if (left) {
      const wide: u64 = ((<u64>(d & m)) << 32) | ((<u64>(s & m)) << 16) | (<u64>(d & m));
      r = (<u32>((wide << count) >> 32)) & m;
      c = (<u32>((wide << (count - 1)) >> 47)) & 1;
    } else {
      const w2: u64 = (<u64>(d & m)) | ((<u64>(s & m)) << 16) | ((<u64>(d & m)) << 32);
      r = (<u32>(w2 >> count)) & m;
      c = (<u32>(w2 >> (count - 1))) & 1;
    }
  }
  const o = ((r ^ d) & signBit(sz)) != 0 ? 1 : 0;
  setArith(c, r, sz, o, 0);
  return r & m;
}

/** MUL/IMUL with one operand (F6/F7 /4 /5): EDX:EAX = EAX * src. CF=OF=upper half significant. */
export function mul1(sz: u32, s: u32, signed: bool): void {
  let hiSignificant: bool;
  let lo: u32;
  if (sz == 0) {
    const a = reg8(0);
    const p: u32 = signed ? <u32>(<i32>(<i8>a) * <i32>(<i8>s)) : a * (s & 0xff);
    setReg16(EAX, p);
    hiSignificant = signed ? <i32>(<i16>p) != <i32>(<i8>p) : (p & 0xff00) != 0;
    lo = p & 0xff;
  } else if (sz == 1) {
    const a = reg16(EAX);
    const p: u32 = signed ? <u32>(<i32>(<i16>a) * <i32>(<i16>s)) : a * (s & 0xffff);
    setReg16(EAX, p);
    setReg16(EDX, p >> 16);
    hiSignificant = signed ? <i32>p != <i32>(<i16>p) : (p & 0xffff0000) != 0;
    lo = p & 0xffff;
  } else {
    const a = reg32(EAX);
    const p: u64 = signed ? <u64>(<i64>(<i32>a) * <i64>(<i32>s)) : <u64>a * <u64>s;
    setReg32(EAX, <u32>p);
    setReg32(EDX, <u32>(p >> 32));
    hiSignificant = signed ? <i64>p != <i64>(<i32>(<u32>p)) : p >> 32 != 0;
    lo = <u32>p;
  }
  // SF ZF AF PF are undefined; the i686 sets SF/ZF/PF from the low half. We do the same.
  const h: u32 = hiSignificant ? 1 : 0;
  setArith(h, lo, sz, h, 0);
}

/** IMUL with two/three operands: truncated product, CF=OF=overflow. */
export function imul2(sz: u32, a: u32, b: u32): u32 {
  let r: u32;
  let overflow: bool;
  if (sz == 2) {
    const p: i64 = <i64>(<i32>a) * <i64>(<i32>b);
    r = <u32>p;
    overflow = p != <i64>(<i32>r);
  } else {
    const p: i32 = <i32>(<i16>a) * <i32>(<i16>b);
    r = (<u32>p) & 0xffff;
    overflow = p != <i32>(<i16>p);
  }
  const h: u32 = overflow ? 1 : 0;
  setArith(h, r, sz, h, 0);
  return r;
}

/** DIV/IDIV (F6/F7 /6 /7). Divide by zero or a quotient that does not fit raise #DE. */
export function div1(sz: u32, s: u32, signed: bool): void {
  if (sz == 0) {
    const dvd = reg16(EAX);
    const dvs = s & 0xff;
    if (dvs == 0) return raiseNoCode(EXC_DE);
    if (signed) {
      const a = <i32>(<i16>dvd);
      const b = <i32>(<i8>dvs);
      const q = a / b;
      if (q > 127 || q < -128) return raiseNoCode(EXC_DE);
      setReg8(0, <u32>q);
      setReg8(4, <u32>(a % b));
    } else {
      const q = dvd / dvs;
      if (q > 0xff) return raiseNoCode(EXC_DE);
      setReg8(0, q);
      setReg8(4, dvd % dvs);
    }
  } else if (sz == 1) {
    const dvd = (reg16(EDX) << 16) | reg16(EAX);
    const dvs = s & 0xffff;
    if (dvs == 0) return raiseNoCode(EXC_DE);
    if (signed) {
      const a = <i64>(<i32>dvd);
      const b = <i64>(<i16>dvs);
      const q = a / b;
      if (q > 32767 || q < -32768) return raiseNoCode(EXC_DE);
      setReg16(EAX, <u32>q);
      setReg16(EDX, <u32>(a % b));
    } else {
      const q = dvd / dvs;
      if (q > 0xffff) return raiseNoCode(EXC_DE);
      setReg16(EAX, q);
      setReg16(EDX, dvd % dvs);
    }
  } else {
    const dvd: u64 = ((<u64>reg32(EDX)) << 32) | (<u64>reg32(EAX));
    if (s == 0) return raiseNoCode(EXC_DE);
    if (signed) {
      const a = <i64>dvd;
      const b = <i64>(<i32>s);
      if (a == i64.MIN_VALUE && b == -1) return raiseNoCode(EXC_DE);
      const q = a / b;
      if (q > 0x7fffffff || q < -0x80000000) return raiseNoCode(EXC_DE);
      setReg32(EAX, <u32>q);
      setReg32(EDX, <u32>(a % b));
    } else {
      const q = dvd / <u64>s;
      if (q > 0xffffffff) return raiseNoCode(EXC_DE);
      setReg32(EAX, <u32>q);
      setReg32(EDX, <u32>(dvd % <u64>s));
    }
  }
}

/** Record a logic result (TEST, AND...) for instructions outside the ALU group. */
export function logicFlags(sz: u32, r: u32): void {
  setLazy(LF_LOGIC, sz, 0, 0, r & maskOf(sz));
}

/** Flags for an explicit add/sub result computed elsewhere (XADD, CMPXCHG). */
export function subFlags(sz: u32, d: u32, s: u32): void {
  const m = maskOf(sz);
  setLazy(LF_SUB, sz, d & m, s & m, (d - s) & m);
}
export function addFlags(sz: u32, d: u32, s: u32): void {
  const m = maskOf(sz);
  setLazy(LF_ADD, sz, d & m, s & m, (d + s) & m);
}
