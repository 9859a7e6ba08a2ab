// Software extended-precision arithmetic for the x87 (SDM vol. 1 §4.2.2, §8.1, §4.8, §4.9).
// A value is (se, sig): se = sign << 15 | 15-bit biased exponent, sig = the 64-bit significand
// with its explicit integer bit. Results go to the module globals rSe/rSig; the exceptions an
// operation raises accumulate in `fexc` (status-word bit positions). Nothing here allocates.

export const IE: u32 = 0x01;
export const DE: u32 = 0x02;
export const ZE: u32 = 0x04;
export const OE: u32 = 0x08;
export const UE: u32 = 0x10;
export const PE: u32 = 0x20;
export const SF: u32 = 0x40;

export const BIAS: i32 = 16383;
export const INT_BIT: u64 = 0x8000000000000000;
const QUIET_BIT: u64 = 0x4000000000000000;
/** The QNaN floating-point indefinite (SDM vol. 1 §4.8.3.7). */
export const INDEF_SE: u32 = 0xffff;
export const INDEF_SIG: u64 = 0xc000000000000000;
/** Exponent adjustment for unmasked overflow/underflow with a register destination (§8.5.4-5). */
const WRAP: i32 = 24576;

// Rounding control (0 nearest, 1 down, 2 up, 3 toward zero) and the precision in bits (24, 53,
// 64) the next rounding uses. Precision control applies only to FADD FSUB FMUL FDIV FSQRT and
// their variants (SDM vol. 1 §8.1.5.2); usePC selects it for those.
export let rc: u32 = 0;
export let precBits: u32 = 64;
let pcBits: u32 = 64;
/** Exception-mask bits of the control word, for the unmasked overflow/underflow responses. */
export let masks: u32 = 0x3f;
/** Set by the caller when the destination is a register (unmasked #O/#U deliver a wrapped result). */
export let toRegister: bool = true;

export let fexc: u32 = 0;
/** The last rounding increased the magnitude (status word C1, SDM vol. 1 §8.1.3.3). */
export let roundedUp: bool = false;
/** The last rounded result was tiny (below the normal range after rounding). */
let wasTiny: bool = false;

export let rSe: u32 = 0;
export let rSig: u64 = 0;

export function setControl(cw: u32): void {
  rc = (cw >> 10) & 3;
  const pc = (cw >> 8) & 3;
  pcBits = pc == 0 ? 24 : pc == 2 ? 53 : 64;
  precBits = 64;
  masks = cw & 0x3f;
}
export function usePC(): void {
  precBits = pcBits;
}
export function setToRegister(v: bool): void {
  toRegister = v;
}
export function clearExc(): void {
  fexc = 0;
  roundedUp = false;
  wasTiny = false;
}
export function raiseExc(f: u32): void {
  fexc |= f;
}

export function result(se: u32, sig: u64): void {
  rSe = se;
  rSig = sig;
}

// ---------------------------------------------------------------- classification

export function expOf(se: u32): i32 {
  return <i32>(se & 0x7fff);
}
export function signOf(se: u32): u32 {
  return (se >> 15) & 1;
}
export function isNaN(se: u32, sig: u64): bool {
  return (se & 0x7fff) == 0x7fff && sig << 1 != 0 && sig >> 63 != 0;
}
export function isSNaN(se: u32, sig: u64): bool {
  return isNaN(se, sig) && (sig & QUIET_BIT) == 0;
}
export function isInf(se: u32, sig: u64): bool {
  return (se & 0x7fff) == 0x7fff && sig == INT_BIT;
}
export function isZero(se: u32, sig: u64): bool {
  return (se & 0x7fff) == 0 && sig == 0;
}
/** Denormal or pseudo-denormal: exponent 0, significand non-zero. */
export function isDenormal(se: u32, sig: u64): bool {
  return (se & 0x7fff) == 0 && sig != 0;
}
/** Unnormals, pseudo-NaNs and pseudo-infinities: invalid operands since the 387 (§8.2.2). */
export function isUnsupported(se: u32, sig: u64): bool {
  return (se & 0x7fff) != 0 && sig >> 63 == 0;
}

// Normalised operand: value = nSig * 2^(nExp - BIAS - 63), nSig has bit 63 set (non-zero).
let nExp: i32 = 0;
let nSig: u64 = 0;
function normalize(se: u32, sig: u64): void {
  const e = expOf(se);
  if (e == 0) {
    const s = <i32>clz<u64>(sig);
    nSig = sig << s;
    nExp = 1 - s;
  } else {
    nSig = sig;
    nExp = e;
  }
}

/**
 * NaN operands and unsupported encodings (SDM vol. 1 table 4-7): returns true when the result
 * has been decided. An SNaN or an unsupported operand raises IE; of two NaNs the larger
 * significand wins (the positive one on a tie), quietened.
 */
export function nanOperands(aSe: u32, aSig: u64, bSe: u32, bSig: u64): bool {
  if (isUnsupported(aSe, aSig) || isUnsupported(bSe, bSig)) {
    fexc |= IE;
    result(INDEF_SE, INDEF_SIG);
    return true;
  }
  const an = isNaN(aSe, aSig);
  const bn = isNaN(bSe, bSig);
  if (!an && !bn) return false;
  if (isSNaN(aSe, aSig) || isSNaN(bSe, bSig)) fexc |= IE;
  if (an && bn) {
    const aq = aSig | QUIET_BIT;
    const bq = bSig | QUIET_BIT;
    if (isSNaN(aSe, aSig) != isSNaN(bSe, bSig)) {
      if (isSNaN(aSe, aSig)) result(bSe, bq);
      else result(aSe, aq);
    } else if (aq > bq || (aq == bq && aSe <= bSe)) result(aSe, aq);
    else result(bSe, bq);
  } else if (an) result(aSe, aSig | QUIET_BIT);
  else result(bSe, bSig | QUIET_BIT);
  return true;
}

/** One operand: NaN quietened (IE for an SNaN), unsupported -> indefinite. */
export function nanOperand(se: u32, sig: u64): bool {
  if (isUnsupported(se, sig)) {
    fexc |= IE;
    result(INDEF_SE, INDEF_SIG);
    return true;
  }
  if (!isNaN(se, sig)) return false;
  if (isSNaN(se, sig)) fexc |= IE;
  result(se, sig | QUIET_BIT);
  return true;
}

function invalid(): void {
  fexc |= IE;
  result(INDEF_SE, INDEF_SIG);
}

// ---------------------------------------------------------------- rounding

// shiftRightJam128 output.
let jHi: u64 = 0;
let jLo: u64 = 0;
/** (hi:lo) >> n, with any bits shifted out OR-ed into the lowest bit (a sticky bit). */
function shiftRightJam128(hi: u64, lo: u64, n: i32): void {
  if (n <= 0) {
    jHi = hi;
    jLo = lo;
  } else if (n < 64) {
    jLo = (hi << (64 - n)) | (lo >> n) | (lo << (64 - n) != 0 ? 1 : 0);
    jHi = hi >> n;
  } else if (n == 64) {
    jLo = hi | (lo != 0 ? 1 : 0);
    jHi = 0;
  } else if (n < 128) {
    jLo = (hi >> (n - 64)) | (((hi << (128 - n)) | lo) != 0 ? 1 : 0);
    jHi = 0;
  } else {
    jLo = (hi | lo) != 0 ? 1 : 0;
    jHi = 0;
  }
}

// roundAt output.
let rdSig: u64 = 0;
let rdCarry: bool = false;
let rdInexact: bool = false;
let rdUp: bool = false;
/**
 * Round (sig:extra) to keep the top 64-drop bits of sig, per `rc` (SDM vol. 1 §4.8.4).
 * A carry out of bit 63 leaves rdSig = 0x8000... with rdCarry set.
 */
function roundAt(sign: u32, sig: u64, extra: u64, drop: u32): void {
  let above: bool, half: bool, lsb: u64, inexact: bool, kept: u64;
  if (drop == 0) {
    half = extra == INT_BIT;
    above = extra > INT_BIT;
    inexact = extra != 0;
    lsb = sig & 1;
    kept = sig;
  } else {
    const mask: u64 = ((<u64>1) << drop) - 1;
    const hb: u64 = (<u64>1) << (drop - 1);
    const rb = sig & mask;
    half = rb == hb && extra == 0;
    above = rb > hb || (rb == hb && extra != 0);
    inexact = rb != 0 || extra != 0;
    lsb = (sig >> drop) & 1;
    kept = sig & ~mask;
  }
  let inc: bool;
  switch (rc) {
    case 0:
      inc = above || (half && lsb != 0);
      break;
    case 1:
      inc = inexact && sign != 0;
      break;
    case 2:
      inc = inexact && sign == 0;
      break;
    default:
      inc = false;
  }
  rdInexact = inexact;
  rdUp = inc;
  rdCarry = false;
  if (inc) {
    const step: u64 = (<u64>1) << drop;
    const s = kept + step;
    if (s < kept) {
      rdCarry = true;
      rdSig = INT_BIT;
    } else rdSig = s;
  } else rdSig = kept;
}

/**
 * Round a result to the precision in `precBits` and pack it (SDM vol. 1 §4.8.4, §4.9.1.4-6).
 * `exp` is biased and may lie outside the format; `sig` has bit 63 set; `extra` holds the bits
 * below it. Tininess is detected after rounding, as the x87 does; masked underflow is flagged
 * only when the tiny result is also inexact.
 */
export function roundPack(sign: u32, exp: i32, sig: u64, extra: u64): void {
  const drop: u32 = 64 - precBits;
  roundAt(sign, sig, extra, drop);
  let e = exp + (rdCarry ? 1 : 0);
  let s = rdSig;
  const inexact = rdInexact;
  const up = rdUp;
  if (e > 0x7ffe) {
    if (toRegister && (masks & OE) == 0) {
      fexc |= OE | (inexact ? PE : 0);
      roundedUp = up;
      result((sign << 15) | (<u32>((e - WRAP) & 0x7fff)), s);
      return;
    }
    fexc |= OE | PE;
    const toInf = rc == 0 || (rc == 1 && sign != 0) || (rc == 2 && sign == 0);
    roundedUp = toInf;
    if (toInf) result((sign << 15) | 0x7fff, INT_BIT);
    else result((sign << 15) | 0x7ffe, ~(((<u64>1) << drop) - 1));
    return;
  }
  if (e < 1) {
    wasTiny = true;
    if (toRegister && (masks & UE) == 0) {
      fexc |= UE | (inexact ? PE : 0);
      roundedUp = up;
      result((sign << 15) | (<u32>((e + WRAP) & 0x7fff)), s);
      return;
    }
    // Denormalise, then round again at the same bit positions.
    shiftRightJam128(sig, extra, 1 - exp);
    roundAt(sign, jHi, jLo, drop);
    s = rdSig;
    if (rdInexact) fexc |= UE | PE;
    roundedUp = rdUp;
    result((sign << 15) | (s >> 63 != 0 ? 1 : 0), s);
    return;
  }
  if (inexact) fexc |= PE;
  roundedUp = up;
  result((sign << 15) | (<u32>e), s);
}

/** Round and pack an unnormalised (sig:extra) by shifting it left until bit 63 is set first. */
function normRoundPack(sign: u32, exp: i32, sig: u64, extra: u64): void {
  if (sig == 0 && extra == 0) {
    result(sign << 15, 0);
    return;
  }
  if (sig == 0) {
    sig = extra;
    extra = 0;
    exp -= 64;
  }
  const s = <i32>clz<u64>(sig);
  if (s > 0) {
    sig = (sig << s) | (extra >> (64 - s));
    extra <<= s;
    exp -= s;
  }
  roundPack(sign, exp, sig, extra);
}

/** An exact zero sum of opposite operands is +0, or -0 when rounding down (SDM vol. 1 §4.8.3.4). */
function exactZeroSign(): u32 {
  return rc == 1 ? 1 : 0;
}

// ---------------------------------------------------------------- add, subtract

/** a + b, or a - b when `negB` (SDM vol. 2 "FADD", "FSUB"). */
export function add(aSe: u32, aSig: u64, bSe: u32, bSig: u64, negB: bool): void {
  if (nanOperands(aSe, aSig, bSe, bSig)) return;
  if (negB) bSe ^= 0x8000;
  const aInf = isInf(aSe, aSig);
  const bInf = isInf(bSe, bSig);
  if (aInf || bInf) {
    if (aInf && bInf && signOf(aSe) != signOf(bSe)) return invalid();
    if (isDenormal(aSe, aSig) || isDenormal(bSe, bSig)) fexc |= DE;
    if (aInf) result(aSe, aSig);
    else result(bSe, bSig);
    return;
  }
  if (isDenormal(aSe, aSig) || isDenormal(bSe, bSig)) fexc |= DE;
  const aZ = isZero(aSe, aSig);
  const bZ = isZero(bSe, bSig);
  if (aZ && bZ) {
    const sa = signOf(aSe);
    result((sa == signOf(bSe) ? sa : exactZeroSign()) << 15, 0);
    return;
  }
  if (bZ) {
    normalize(aSe, aSig);
    roundPack(signOf(aSe), nExp, nSig, 0);
    return;
  }
  if (aZ) {
    normalize(bSe, bSig);
    roundPack(signOf(bSe), nExp, nSig, 0);
    return;
  }
  normalize(aSe, aSig);
  let ea = nExp;
  let sa = nSig;
  normalize(bSe, bSig);
  let eb = nExp;
  let sb = nSig;
  let signA = signOf(aSe);
  const signB = signOf(bSe);
  if (signA == signB) {
    if (ea < eb) {
      const te = ea;
      ea = eb;
      eb = te;
      const ts = sa;
      sa = sb;
      sb = ts;
    }
    shiftRightJam128(sb, 0, ea - eb);
    let sum = sa + jHi;
    let extra = jLo;
    let e = ea;
    if (sum < sa) {
      extra = (sum << 63) | (extra >> 1) | (extra & 1);
      sum = (sum >> 1) | INT_BIT;
      e++;
    }
    roundPack(signA, e, sum, extra);
    return;
  }
  // Magnitude subtraction: order so that |a| >= |b|.
  if (ea < eb || (ea == eb && sa < sb)) {
    const te = ea;
    ea = eb;
    eb = te;
    const ts = sa;
    sa = sb;
    sb = ts;
    signA = signB;
  }
  if (ea == eb && sa == sb) {
    result(exactZeroSign() << 15, 0);
    return;
  }
  shiftRightJam128(sb, 0, ea - eb);
  const lo: u64 = 0 - jLo;
  const hi: u64 = sa - jHi - (jLo != 0 ? 1 : 0);
  normRoundPack(signA, ea, hi, lo);
}

// ---------------------------------------------------------------- multiply

let mHi: u64 = 0;
let mLo: u64 = 0;
/** Full 128-bit product of two u64. */
export function mul128(a: u64, b: u64): void {
  const a0 = a & 0xffffffff,
    a1 = a >> 32,
    b0 = b & 0xffffffff,
    b1 = b >> 32;
  const p00 = a0 * b0,
    p01 = a0 * b1,
    p10 = a1 * b0,
    p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  mLo = (mid << 32) | (p00 & 0xffffffff);
  mHi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/** a * b (SDM vol. 2 "FMUL"). */
export function mul(aSe: u32, aSig: u64, bSe: u32, bSig: u64): void {
  if (nanOperands(aSe, aSig, bSe, bSig)) return;
  const sign = signOf(aSe) ^ signOf(bSe);
  const aInf = isInf(aSe, aSig),
    bInf = isInf(bSe, bSig);
  const aZ = isZero(aSe, aSig),
    bZ = isZero(bSe, bSig);
  if ((aInf && bZ) || (bInf && aZ)) return invalid();
  if (isDenormal(aSe, aSig) || isDenormal(bSe, bSig)) fexc |= DE;
  if (aInf || bInf) return result((sign << 15) | 0x7fff, INT_BIT);
  if (aZ || bZ) return result(sign << 15, 0);
  normalize(aSe, aSig);
  const ea = nExp,
    sa = nSig;
  normalize(bSe, bSig);
  mul128(sa, nSig);
  let e = ea + nExp - BIAS;
  let hi = mHi,
    lo = mLo;
  if (hi >> 63 != 0) e++;
  else {
    hi = (hi << 1) | (lo >> 63);
    lo <<= 1;
  }
  roundPack(sign, e, hi, lo);
}

// ---------------------------------------------------------------- divide

let dQ: u64 = 0;
let dQx: u64 = 0;
/**
 * Long division of the significands: the 65-bit dividend (carry:rem) over b in [2^63, 2^64),
 * with dividend < 2b. Gives 128 quotient bits (dQ:dQx) with a sticky lowest bit.
 */
function divSigs(rem: u64, carry: u64, b: u64): void {
  let q: u64 = 0,
    qx: u64 = 0;
  for (let i = 0; i < 128; i++) {
    const bit: u64 = carry != 0 || rem >= b ? 1 : 0;
    if (bit != 0) rem -= b;
    if (i < 64) q = (q << 1) | bit;
    else qx = (qx << 1) | bit;
    carry = rem >> 63;
    rem <<= 1;
  }
  dQ = q;
  dQx = qx | (rem != 0 || carry != 0 ? 1 : 0);
}

/** a / b (SDM vol. 2 "FDIV"). */
export function div(aSe: u32, aSig: u64, bSe: u32, bSig: u64): void {
  if (nanOperands(aSe, aSig, bSe, bSig)) return;
  const sign = signOf(aSe) ^ signOf(bSe);
  const aInf = isInf(aSe, aSig),
    bInf = isInf(bSe, bSig);
  const aZ = isZero(aSe, aSig),
    bZ = isZero(bSe, bSig);
  if ((aInf && bInf) || (aZ && bZ)) return invalid();
  if (isDenormal(aSe, aSig) || isDenormal(bSe, bSig)) fexc |= DE;
  if (aInf) return result((sign << 15) | 0x7fff, INT_BIT);
  if (bInf) return result(sign << 15, 0);
  if (bZ) {
    fexc |= ZE;
    return result((sign << 15) | 0x7fff, INT_BIT);
  }
  if (aZ) return result(sign << 15, 0);
  normalize(aSe, aSig);
  const ea = nExp,
    sa = nSig;
  normalize(bSe, bSig);
  let e = ea - nExp + BIAS;
  if (sa >= nSig) divSigs(sa, 0, nSig);
  else {
    // Quotient below 1: divide 2a instead.
    e--;
    divSigs(sa << 1, sa >> 63, nSig);
  }
  roundPack(sign, e, dQ, dQx);
}

// ---------------------------------------------------------------- square root

/** sqrt(a) (SDM vol. 2 "FSQRT"): the 64-bit root of a 128-bit radicand, digit by digit. */
export function sqrt(aSe: u32, aSig: u64): void {
  if (nanOperand(aSe, aSig)) return;
  if (isZero(aSe, aSig)) return result(aSe, aSig);
  if (signOf(aSe) != 0) return invalid();
  if (isInf(aSe, aSig)) return result(aSe, aSig);
  if (isDenormal(aSe, aSig)) fexc |= DE;
  normalize(aSe, aSig);
  const e = nExp - BIAS;
  // value = nSig * 2^(e - 63). Radicand N = nSig << 64 (e odd) or << 63 (e even).
  let nHi: u64, nLo: u64, re: i32;
  if ((e & 1) != 0) {
    nHi = nSig;
    nLo = 0;
    re = (e - 1) >> 1;
  } else {
    nHi = nSig >> 1;
    nLo = nSig << 63;
    re = e >> 1;
  }
  let remHi: u64 = 0,
    remLo: u64 = 0,
    root: u64 = 0;
  for (let i = 0; i < 64; i++) {
    // rem = rem << 2 | top two bits of N
    remHi = (remHi << 2) | (remLo >> 62);
    remLo = (remLo << 2) | (nHi >> 62);
    nHi = (nHi << 2) | (nLo >> 62);
    nLo <<= 2;
    // trial = root << 2 | 1 (as 128 bits)
    const tHi: u64 = root >> 62;
    const tLo: u64 = (root << 2) | 1;
    if (remHi > tHi || (remHi == tHi && remLo >= tLo)) {
      const borrow: u64 = remLo < tLo ? 1 : 0;
      remLo -= tLo;
      remHi = remHi - tHi - borrow;
      root = (root << 1) | 1;
    } else root <<= 1;
  }
  // Round bit: the exact root exceeds root + 1/2 iff rem > root; sticky: rem != 0.
  const above = remHi != 0 || remLo > root;
  const extra: u64 = (above ? INT_BIT : 0) | (remHi != 0 || remLo != 0 ? 1 : 0);
  roundPack(0, re + BIAS, root, extra);
}

// ---------------------------------------------------------------- compare

export const CMP_GT: u32 = 0;
export const CMP_LT: u32 = 1;
export const CMP_EQ: u32 = 2;
export const CMP_UN: u32 = 3;

/**
 * Compare a with b (SDM vol. 2 "FCOM", "FUCOM"): any NaN is unordered; IE for an SNaN, an
 * unsupported operand, or (unless `quiet`) any NaN. DE for a denormal operand.
 */
export function compare(aSe: u32, aSig: u64, bSe: u32, bSig: u64, quiet: bool): u32 {
  if (isUnsupported(aSe, aSig) || isUnsupported(bSe, bSig)) {
    fexc |= IE;
    return CMP_UN;
  }
  const an = isNaN(aSe, aSig),
    bn = isNaN(bSe, bSig);
  if (an || bn) {
    if (!quiet || isSNaN(aSe, aSig) || isSNaN(bSe, bSig)) fexc |= IE;
    return CMP_UN;
  }
  if (isDenormal(aSe, aSig) || isDenormal(bSe, bSig)) fexc |= DE;
  const aZ = isZero(aSe, aSig),
    bZ = isZero(bSe, bSig);
  if (aZ && bZ) return CMP_EQ;
  const sa = signOf(aSe),
    sb = signOf(bSe);
  if (sa != sb) return sa != 0 ? CMP_LT : CMP_GT;
  // Same sign: compare magnitudes (normalised, so pseudo-denormals compare by value).
  let ea: i32 = -100000,
    ma: u64 = 0,
    eb: i32 = -100000,
    mb: u64 = 0;
  if (!aZ) {
    normalize(aSe, aSig);
    ea = nExp;
    ma = nSig;
  }
  if (!bZ) {
    normalize(bSe, bSig);
    eb = nExp;
    mb = nSig;
  }
  if (ea == eb && ma == mb) return CMP_EQ;
  const aBigger = ea > eb || (ea == eb && ma > mb);
  return aBigger != (sa != 0) ? CMP_GT : CMP_LT;
}

// ---------------------------------------------------------------- integers

let iMag: u64 = 0;
let iInexact: bool = false;
/**
 * Round |x| to an integer per `rc` (sign used for directed modes). Returns false when the
 * magnitude does not fit in 64 bits. Result in iMag.
 */
function roundToInteger(sign: u32, se: u32, sig: u64): bool {
  iInexact = false;
  if (isZero(se, sig)) {
    iMag = 0;
    return true;
  }
  normalize(se, sig);
  const e = nExp - BIAS; // value = nSig * 2^(e - 63)
  if (e > 63) return false;
  if (e == 63) {
    iMag = nSig;
    return true;
  }
  shiftRightJam128(nSig, 0, 63 - e);
  const frac = jLo;
  const ip = jHi;
  iInexact = frac != 0;
  let inc: bool;
  switch (rc) {
    case 0:
      inc = frac > INT_BIT || (frac == INT_BIT && (ip & 1) != 0);
      break;
    case 1:
      inc = frac != 0 && sign != 0;
      break;
    case 2:
      inc = frac != 0 && sign == 0;
      break;
    default:
      inc = false;
  }
  roundedUp = inc;
  iMag = ip + (inc ? 1 : 0);
  return !(inc && iMag == 0);
}

/**
 * Convert to a signed integer of `bits` (16, 32, 64) per `rc` (SDM vol. 2 "FIST"). Out of range,
 * NaN, infinity or unsupported: IE and the integer indefinite (the most negative value).
 * Returns the two's-complement value in the low `bits` bits.
 */
export function toInt(se: u32, sig: u64, bits: u32): u64 {
  const indef: u64 = (<u64>1) << (bits - 1);
  if (isUnsupported(se, sig) || (se & 0x7fff) == 0x7fff) {
    fexc |= IE;
    return indef;
  }
  const sign = signOf(se);
  if (!roundToInteger(sign, se, sig)) {
    fexc |= IE;
    return indef;
  }
  const limit: u64 = sign != 0 ? indef : indef - 1;
  if (iMag > limit) {
    fexc |= IE;
    return indef;
  }
  if (iInexact) fexc |= PE;
  return sign != 0 ? 0 - iMag : iMag;
}

/** Load a signed 64-bit integer exactly (FILD). */
export function fromInt(v: i64): void {
  if (v == 0) return result(0, 0);
  const sign: u32 = v < 0 ? 1 : 0;
  const m: u64 = v < 0 ? <u64>(0 - v) : <u64>v;
  const s = <i32>clz<u64>(m);
  result((sign << 15) | (<u32>(BIAS + 63 - s)), m << s);
}

/** FRNDINT: round to an integral value per `rc`, keeping the sign of a zero result. */
export function roundInt(se: u32, sig: u64): void {
  if (nanOperand(se, sig)) return;
  if (isInf(se, sig) || isZero(se, sig)) return result(se, sig);
  if (isDenormal(se, sig)) fexc |= DE;
  const sign = signOf(se);
  normalize(se, sig);
  if (nExp - BIAS >= 63) return result(se, sig);
  roundToInteger(sign, se, sig);
  if (iInexact) fexc |= PE;
  if (iMag == 0) return result(sign << 15, 0);
  const s = <i32>clz<u64>(iMag);
  result((sign << 15) | (<u32>(BIAS + 63 - s)), iMag << s);
}

// ---------------------------------------------------------------- binary formats

/**
 * Load an IEEE single (ebits 8, mbits 23) or double (11, 52) held in the low bits of `v`
 * (SDM vol. 1 §4.2.2). Exact; a denormal raises DE, an SNaN raises IE and is quietened.
 */
export function fromBinary(v: u64, ebits: u32, mbits: u32): void {
  const sign = (<u32>(v >> (ebits + mbits))) & 1;
  const emax: u32 = (1 << ebits) - 1;
  const e = (<u32>(v >> mbits)) & emax;
  const frac = v & (((<u64>1) << mbits) - 1);
  const shift: u32 = 63 - mbits;
  const bias: i32 = (1 << (ebits - 1)) - 1;
  if (e == emax) {
    let sig = INT_BIT | (frac << shift);
    if (frac != 0 && (sig & QUIET_BIT) == 0) {
      fexc |= IE;
      sig |= QUIET_BIT;
    }
    return result((sign << 15) | 0x7fff, sig);
  }
  if (e == 0) {
    if (frac == 0) return result(sign << 15, 0);
    fexc |= DE;
    const s = <i32>clz<u64>(frac);
    // value = frac * 2^(1 - bias - mbits); normalised significand frac << s has bit 63 set.
    return result((sign << 15) | (<u32>(1 - bias - <i32>mbits + 63 - s + BIAS)), frac << s);
  }
  result((sign << 15) | (<u32>(<i32>e - bias + BIAS)), INT_BIT | (frac << shift));
}

/**
 * Store to an IEEE single or double (SDM vol. 2 "FST"): rounds per `rc`, handles overflow,
 * underflow (denormal results) and NaNs (SNaN -> IE, quietened). Returns the bit pattern.
 */
export function toBinary(se: u32, sig: u64, ebits: u32, mbits: u32): u64 {
  const sign = signOf(se);
  const signBit: u64 = (<u64>sign) << (ebits + mbits);
  const emax: i32 = (1 << ebits) - 1;
  const shift: u32 = 63 - mbits;
  if (isUnsupported(se, sig)) {
    fexc |= IE;
    return ((<u64>1) << (ebits + mbits)) | ((<u64>emax) << mbits) | ((<u64>1) << (mbits - 1));
  }
  if ((se & 0x7fff) == 0x7fff) {
    if (sig == INT_BIT) return signBit | ((<u64>emax) << mbits);
    if ((sig & QUIET_BIT) == 0) fexc |= IE;
    return signBit | ((<u64>emax) << mbits) | (((sig | QUIET_BIT) << 1) >> (shift + 1));
  }
  if (isZero(se, sig)) return signBit;
  normalize(se, sig);
  const bias: i32 = (1 << (ebits - 1)) - 1;
  const e = nExp - BIAS + bias;
  roundAt(sign, nSig, 0, shift);
  const e1 = e + (rdCarry ? 1 : 0);
  if (e1 >= emax) {
    fexc |= OE | PE;
    const toInf = rc == 0 || (rc == 1 && sign != 0) || (rc == 2 && sign == 0);
    roundedUp = toInf;
    if (toInf) return signBit | ((<u64>emax) << mbits);
    return signBit | ((<u64>(emax - 1)) << mbits) | (((<u64>1) << mbits) - 1);
  }
  if (e < 1) {
    wasTiny = e1 < 1;
    shiftRightJam128(nSig, 0, 1 - e);
    roundAt(sign, jHi, jLo, shift);
    if (rdInexact) fexc |= PE | (wasTiny ? UE : 0);
    else if (wasTiny && (masks & UE) == 0) fexc |= UE;
    roundedUp = rdUp;
    // A carry into bit 63 makes the smallest normal: exponent field 1, fraction from the rest.
    return signBit | (rdSig >> shift);
  }
  if (rdInexact) fexc |= PE;
  roundedUp = rdUp;
  return signBit | ((<u64>e1) << mbits) | ((rdSig << 1) >> (shift + 1));
}

// ---------------------------------------------------------------- scale, extract, remainder

/** FSCALE: a * 2^trunc(b), rounded at full precision (SDM vol. 2 "FSCALE"). */
export function scale(aSe: u32, aSig: u64, bSe: u32, bSig: u64): void {
  if (nanOperands(aSe, aSig, bSe, bSig)) return;
  const aInf = isInf(aSe, aSig),
    bInf = isInf(bSe, bSig);
  const aZ = isZero(aSe, aSig);
  if (bInf) {
    if (signOf(bSe) != 0) {
      if (aInf) return invalid();
      return result(aSe & 0x8000, 0);
    }
    if (aZ) return invalid();
    return result((aSe & 0x8000) | 0x7fff, INT_BIT);
  }
  if (isDenormal(aSe, aSig) || isDenormal(bSe, bSig)) fexc |= DE;
  if (aInf || aZ) return result(aSe, aSig);
  // trunc(b), saturated well beyond any exponent that can matter.
  let n: i32 = 0;
  if (!isZero(bSe, bSig)) {
    normalize(bSe, bSig);
    const e = nExp - BIAS;
    if (e > 30) n = 0x40000000;
    else if (e >= 0) n = <i32>(nSig >> (63 - e));
    if (signOf(bSe) != 0) n = -n;
  }
  normalize(aSe, aSig);
  roundPack(signOf(aSe), nExp + n, nSig, 0);
}

/** FXTRACT's exponent part (value of the unbiased exponent), with rSe/rSig the significand. */
export let xtractExp: i32 = 0;
/** Split into significand (exponent BIAS) and unbiased exponent (SDM vol. 2 "FXTRACT"). */
export function extract(se: u32, sig: u64): void {
  normalize(se, sig);
  xtractExp = nExp - BIAS;
  result((se & 0x8000) | (<u32>BIAS), nSig);
}

/** Quotient bits of the last remainder (C0 = q2, C3 = q1, C1 = q0) and whether it is partial. */
export let remQuot: u32 = 0;
export let remPartial: bool = false;

/**
 * FPREM (truncating quotient) and FPREM1 (round-to-nearest quotient), SDM vol. 2: the exact
 * remainder. With an exponent difference of 64 or more the reduction is partial: it removes
 * 32 + (diff mod 32) bits of quotient (the choice documented by AMD and observed on Intel) and
 * sets C2.
 */
export function remainder(aSe: u32, aSig: u64, bSe: u32, bSig: u64, nearest: bool): void {
  remQuot = 0;
  remPartial = false;
  if (nanOperands(aSe, aSig, bSe, bSig)) return;
  if (isInf(aSe, aSig) || isZero(bSe, bSig)) return invalid();
  if (isDenormal(aSe, aSig) || isDenormal(bSe, bSig)) fexc |= DE;
  if (isZero(aSe, aSig)) return result(aSe, aSig);
  normalize(aSe, aSig);
  if (isInf(bSe, bSig)) return roundPack(signOf(aSe), nExp, nSig, 0); // a itself, canonical
  const ea = nExp,
    sa = nSig;
  normalize(bSe, bSig);
  const eb = nExp,
    sb = nSig;
  let sign = signOf(aSe);
  let d = ea - eb;
  let eR = eb;
  if (d >= 64) {
    const n = 32 + (d % 32);
    eR = eb + (d - n);
    d = n;
    remPartial = true;
  }
  // a = (q * sb + r) * 2^(eR - BIAS - 63) after the long division of sa * 2^d by sb.
  let r: u64 = sa;
  let q: u64 = 0;
  let rExp = eR;
  if (d < 0) {
    rExp = ea;
    // FPREM1 with |a| > |b| / 2 (possible only when d = -1): quotient 1, remainder b - a.
    if (nearest && d == -1 && sa > sb) {
      q = 1;
      r = (sb << 1) - sa;
      sign ^= 1;
    }
  } else {
    let carry: u64 = 0;
    for (let i = 0; i <= d; i++) {
      q <<= 1;
      if (carry != 0 || r >= sb) {
        r -= sb;
        q |= 1;
      }
      if (i < d) {
        carry = r >> 63;
        r <<= 1;
      }
    }
    if (nearest && !remPartial) {
      const twoR_gt = r >> 63 != 0 || r << 1 > sb;
      const twoR_eq = r >> 63 == 0 && r << 1 == sb;
      if (twoR_gt || (twoR_eq && (q & 1) != 0)) {
        q += 1;
        r = sb - r;
        sign ^= 1;
      }
    }
  }
  remQuot = <u32>(q & 7);
  if (r == 0) return result(signOf(aSe) << 15, 0);
  normRoundPack(sign, rExp, r, 0);
}

// ---------------------------------------------------------------- f64 bridge

/** ST value to f64, round to nearest (used only by the transcendental instructions). */
export function toF64(se: u32, sig: u64): f64 {
  const savedRc = rc;
  const savedExc = fexc;
  rc = 0;
  const bits = toBinary(se, sig, 11, 52);
  rc = savedRc;
  fexc = savedExc;
  return reinterpret<f64>(bits);
}

/** Load an f64 result into rSe/rSig exactly. */
export function fromF64(v: f64): void {
  const savedExc = fexc;
  fromBinary(reinterpret<u64>(v), 11, 52);
  fexc = savedExc;
}
