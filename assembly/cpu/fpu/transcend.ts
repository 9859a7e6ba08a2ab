// x87 transcendental instructions (SDM vol. 2 "F2XM1", "FYL2X", "FYL2XP1", "FPATAN", "FPTAN",
// "FSIN", "FCOS", "FSINCOS"). Special operands (NaNs, zeros, infinities, domain errors) follow
// the SDM's tables exactly; finite results are computed in f64 (NativeMath) and widened, so
// they carry about 53 correct bits, not 64 (docs/x87.md). Results land in rSe/rSig.
import {
  raiseExc,
  result,
  isInf,
  isZero,
  isDenormal,
  nanOperand,
  nanOperands as nanPair,
  signOf,
  expOf,
  compare,
  toF64,
  fromF64,
  mul,
  INT_BIT,
  INDEF_SE,
  INDEF_SIG,
  IE,
  ZE,
  DE,
  PE,
  CMP_LT,
  CMP_EQ,
} from "./arith";

const LN2: f64 = 0.6931471805599453;

function invalid(): void {
  raiseExc(IE);
  result(INDEF_SE, INDEF_SIG);
}

/** A finite f64 result: inexact by nature. */
function finite(v: f64): void {
  fromF64(v);
  raiseExc(PE);
}

/** F2XM1: 2^x - 1 for -1 <= x <= 1 (outside that range: invalid, as on hardware the result is undefined). */
export function f2xm1(se: u32, sig: u64): void {
  if (nanOperand(se, sig)) return;
  if (isZero(se, sig)) return result(se, sig);
  if (isInf(se, sig) || expOf(se) > 0x3fff || (expOf(se) == 0x3fff && sig != INT_BIT)) return invalid();
  if (isDenormal(se, sig)) raiseExc(DE);
  if (expOf(se) == 0x3fff) return result(signOf(se) != 0 ? 0xbffe : 0x3fff, INT_BIT); // exactly +-1
  finite(Math.expm1(toF64(se, sig) * LN2));
}

/** FYL2X: y * log2(x), with x in ST(0) and y in ST(1). */
export function fyl2x(xSe: u32, xSig: u64, ySe: u32, ySig: u64): void {
  if (nanPair(xSe, xSig, ySe, ySig)) return;
  const xZero = isZero(xSe, xSig);
  if (signOf(xSe) != 0 && !xZero) return invalid();
  if (isDenormal(xSe, xSig) || isDenormal(ySe, ySig)) raiseExc(DE);
  const one = compare(xSe, xSig, 0x3fff, INT_BIT, true);
  if (isInf(ySe, ySig)) {
    if (one == CMP_EQ) return invalid();
    return result(one == CMP_LT ? ySe ^ 0x8000 : ySe, ySig); // +-inf, sign flipped for x < 1
  }
  if (isInf(xSe, xSig)) {
    if (isZero(ySe, ySig)) return invalid();
    return result((signOf(ySe) << 15) | 0x7fff, INT_BIT);
  }
  if (xZero) {
    if (isZero(ySe, ySig)) return invalid();
    raiseExc(ZE);
    return result(((signOf(ySe) ^ 1) << 15) | 0x7fff, INT_BIT);
  }
  if (isZero(ySe, ySig)) return result(one == CMP_LT ? ySe ^ 0x8000 : ySe, 0);
  if (one == CMP_EQ) return result(signOf(ySe) << 15, 0);
  finite(toF64(ySe, ySig) * Math.log2(toF64(xSe, xSig)));
}

/** FYL2XP1: y * log2(x + 1) for |x| < 1 - sqrt(2)/2. */
export function fyl2xp1(xSe: u32, xSig: u64, ySe: u32, ySig: u64): void {
  if (nanPair(xSe, xSig, ySe, ySig)) return;
  if (isInf(xSe, xSig) || expOf(xSe) >= 0x3fff) return invalid();
  if (isDenormal(xSe, xSig) || isDenormal(ySe, ySig)) raiseExc(DE);
  if (isZero(xSe, xSig) || isZero(ySe, ySig) || isInf(ySe, ySig)) {
    if (isInf(ySe, ySig) && isZero(xSe, xSig)) return invalid();
    return mul(xSe, xSig, ySe, ySig);
  }
  finite(toF64(ySe, ySig) * (Math.log1p(toF64(xSe, xSig)) / LN2));
}

/** FPATAN: arctan(y / x) with y in ST(1), x in ST(0), in the quadrant of (x, y). */
export function fpatan(xSe: u32, xSig: u64, ySe: u32, ySig: u64): void {
  if (nanPair(xSe, xSig, ySe, ySig)) return;
  if (isDenormal(xSe, xSig) || isDenormal(ySe, ySig)) raiseExc(DE);
  // Zeros of y with x >= +0 pass y through exactly; everything else goes through atan2, which
  // has the SDM's table for zeros and infinities (+-pi, +-pi/2, +-pi/4, +-3pi/4).
  if (isZero(ySe, ySig) && signOf(xSe) == 0) return result(ySe, ySig);
  finite(Math.atan2(toF64(ySe, ySig), toF64(xSe, xSig)));
}

/** Out of range for FSIN/FCOS/FSINCOS/FPTAN: |x| >= 2^63 leaves ST(0) alone and sets C2. */
export function outOfRange(se: u32): bool {
  return expOf(se) >= 0x3fff + 63 && expOf(se) != 0x7fff;
}

/** Operand checks shared by the trigonometric instructions; true when rSe/rSig is decided. */
function trigSpecial(se: u32, sig: u64): bool {
  if (nanOperand(se, sig)) return true;
  if (isInf(se, sig)) {
    invalid();
    return true;
  }
  if (isDenormal(se, sig)) raiseExc(DE);
  return false;
}

export function fsin(se: u32, sig: u64): void {
  if (trigSpecial(se, sig)) return;
  if (isZero(se, sig)) return result(se, sig);
  finite(Math.sin(toF64(se, sig)));
}

export function fcos(se: u32, sig: u64): void {
  if (trigSpecial(se, sig)) return;
  if (isZero(se, sig)) return result(0x3fff, INT_BIT);
  finite(Math.cos(toF64(se, sig)));
}

export function ftan(se: u32, sig: u64): void {
  if (trigSpecial(se, sig)) return;
  if (isZero(se, sig)) return result(se, sig);
  finite(Math.tan(toF64(se, sig)));
}
