// The x87 escape opcodes D8-DF (SDM vol. 2 appendix A.4, tables ), FWAIT's pending
// exception check, and FXSAVE/FXRSTOR (0F AE /0 /1). Operands are fetched and every fault
// checked before the FPU state changes, so faults restart cleanly. Exception responses follow
// SDM vol. 1 §8.5: a masked exception delivers the default result; an unmasked IE, DE or ZE
// leaves the destination and the stack untouched; unmasked OE/UE deliver a wrapped result to a
// register and leave memory untouched. ES is set either way and #MF is taken at the next
// waiting x87 instruction (or FWAIT) when CR0.NE = 1; with CR0.NE = 0 the FERR# word is raised
// for the host (a PC's IRQ13) and the instruction goes on, as if IGNNE# were asserted.
import { decodeModRM, mod, regField, rm, eaSeg, eaOff, o32, startEip } from "../decode";
import { read8, read16, read32, write8, write16, write32 } from "../memory";
import { raise, raiseNoCode, faulted, EXC_MF, EXC_UD, EXC_GP, EXC_NM } from "../fault";
import { cr0, CR0_NE, CR0_EM, CR0_TS, segSel, segBase, setReg16, CS, EAX } from "../state";
import { getFlags, setFlags, condition, F_ZF, F_PF, F_CF, F_OF, F_SF, F_AF } from "../flags";
import {
  setControl,
  usePC,
  clearExc,
  fexc,
  masks,
  rSe,
  rSig,
  roundedUp,
  setToRegister,
  raiseExc,
  add,
  mul,
  div,
  sqrt,
  compare,
  toInt,
  fromInt,
  roundInt,
  fromBinary,
  toBinary,
  scale,
  extract,
  xtractExp,
  remainder,
  remQuot,
  remPartial,
  isNaN,
  isInf,
  isZero,
  isDenormal,
  isUnsupported,
  nanOperand,
  signOf,
  INDEF_SE,
  INDEF_SIG,
  INT_BIT,
  IE,
  DE,
  ZE,
  OE,
  UE,
  CMP_GT,
  CMP_LT,
  CMP_EQ,
} from "./arith";
import {
  fcw,
  setFcw,
  fsw,
  setFsw,
  top,
  setTop,
  stSe,
  stSig,
  setSt,
  isEmpty,
  freeSt,
  push,
  pop,
  setCC,
  signalExc,
  updateSummary,
  setFerr,
  stackFault,
  pushIndefinite,
  setPointers,
  fpuInit,
  fdp,
  fds,
  SW_ES,
  SW_C0,
  SW_C1,
  SW_C2,
  SW_C3,
  SW_CC,
} from "./state";
import { read80, write80, mSe, mSig, storeEnv, loadEnv, fsave, frstor, fxsave, fxrstor, fixCw } from "./env";
import { f2xm1, fyl2x, fyl2xp1, fpatan, fsin, fcos, ftan, outOfRange } from "./transcend";

/**
 * Deliver a pending unmasked exception before a waiting x87 instruction (SDM vol. 1 §8.6):
 * #MF with CR0.NE = 1; otherwise assert FERR# and continue. True when #MF was raised.
 */
function pendingFault(): bool {
  if ((fsw() & SW_ES) == 0) return false;
  if ((cr0() & CR0_NE) != 0) {
    raiseNoCode(EXC_MF);
    return true;
  }
  setFerr(1);
  return false;
}

/** FWAIT (9B) after its CR0.MP/TS check. */
export function fpuWait(): void {
  pendingFault();
}

/** Non-waiting control instructions: FNINIT FNCLEX FNSTSW FNSTCW FNSTENV FNSAVE, FENI FDISI FSETPM. */
function noWait(op: u32): bool {
  if (mod == 3) return (op == 0xdb && regField == 4) || (op == 0xdf && regField == 4);
  return (op == 0xd9 && regField >= 6) || (op == 0xdd && (regField == 6 || regField == 7));
}

/** Control instructions leave the last-instruction and data pointers alone (SDM vol. 1 §8.1.8). */
function isControl(op: u32): bool {
  if (noWait(op)) return true;
  return mod != 3 && ((op == 0xd9 && (regField == 4 || regField == 5)) || (op == 0xdd && regField == 4));
}

/** Entry from the one-byte map after the CR0.EM/TS checks. */
export function fpuEscape(op: u32): void {
  decodeModRM();
  if (faulted()) return;
  if (!noWait(op) && pendingFault()) return;
  setControl(fcw());
  clearExc();
  setToRegister(true);
  if (mod == 3) registerForm(op);
  else memoryForm(op);
  if (faulted() || isControl(op)) return;
  const modrm = (mod << 6) | (regField << 3) | rm;
  const opcode = ((op & 7) << 8) | modrm;
  if (mod == 3) setPointers(startEip, segSel(CS), opcode, fdp(), fds());
  else setPointers(startEip, segSel(CS), opcode, eaOff, segSel(eaSeg));
}

// ---------------------------------------------------------------- result commit

/** Unmasked exceptions among `kinds` in this instruction's flags. */
function unmasked(kinds: u32): bool {
  return (fexc & ~masks & kinds) != 0;
}

/** Write rSe/rSig to ST(i) unless an unmasked IE/DE/ZE stops it; C1 = rounded up. */
function commit(i: u32, popAfter: bool): void {
  if (unmasked(IE | DE | ZE)) {
    signalExc(fexc);
    return;
  }
  setSt(i, rSe, rSig);
  setCC(SW_C1, roundedUp ? SW_C1 : 0);
  signalExc(fexc);
  if (popAfter) pop();
}

/** Stack underflow: with IE masked, ST(i) gets the QNaN indefinite (then the pops happen). */
function underflow(i: u32, pops: u32): void {
  if (!stackFault(false)) return;
  setSt(i, INDEF_SE, INDEF_SIG);
  for (let n: u32 = 0; n < pops; n++) pop();
}

/** FADD FMUL FSUB FSUBR FDIV FDIVR (kind = ModRM reg of the D8 forms) into ST(dst). */
function arith(kind: u32, aSe: u32, aSig: u64, bSe: u32, bSig: u64): void {
  usePC();
  switch (kind) {
    case 0:
      add(aSe, aSig, bSe, bSig, false);
      break;
    case 1:
      mul(aSe, aSig, bSe, bSig);
      break;
    case 4:
      add(aSe, aSig, bSe, bSig, true);
      break;
    case 5:
      add(bSe, bSig, aSe, aSig, true);
      break;
    case 6:
      div(aSe, aSig, bSe, bSig);
      break;
    default:
      div(bSe, bSig, aSe, aSig);
      break;
  }
}

function ccOf(r: u32): u32 {
  return r == CMP_GT ? 0 : r == CMP_LT ? SW_C0 : r == CMP_EQ ? SW_C3 : SW_C3 | SW_C2 | SW_C0;
}

/** FCOM/FUCOM family: compare ST(0) with b, set C3 C2 C0 (C1 = 0), pop `pops` times. */
function fcom(bEmpty: bool, bSe: u32, bSig: u64, quiet: bool, pops: u32): void {
  if (isEmpty(0) || bEmpty) {
    if (!stackFault(false)) return;
    setCC(SW_CC, SW_C3 | SW_C2 | SW_C0);
    for (let n: u32 = 0; n < pops; n++) pop();
    return;
  }
  const r = compare(stSe(0), stSig(0), bSe, bSig, quiet);
  if (unmasked(IE | DE)) {
    signalExc(fexc);
    return;
  }
  setCC(SW_CC, ccOf(r));
  signalExc(fexc);
  for (let n: u32 = 0; n < pops; n++) pop();
}

/** FCOMI/FUCOMI(P): ZF PF CF from the comparison, OF SF AF cleared (SDM vol. 2 "FCOMI"). */
function fcomi(i: u32, quiet: bool, popAfter: bool): void {
  let zpc: u32;
  if (isEmpty(0) || isEmpty(i)) {
    if (!stackFault(false)) return;
    zpc = F_ZF | F_PF | F_CF;
  } else {
    const r = compare(stSe(0), stSig(0), stSe(i), stSig(i), quiet);
    if (unmasked(IE | DE)) {
      signalExc(fexc);
      return;
    }
    zpc = r == CMP_GT ? 0 : r == CMP_LT ? F_CF : r == CMP_EQ ? F_ZF : F_ZF | F_PF | F_CF;
    setCC(SW_C1, 0);
    signalExc(fexc);
  }
  setFlags((getFlags() & ~(F_ZF | F_PF | F_CF | F_OF | F_SF | F_AF)) | zpc);
  if (popAfter) pop();
}

/** Push a loaded value (FLD, FILD, FBLD, constants): stack overflow if ST(7) is in use. */
function fld(se: u32, sig: u64): void {
  if (!isEmpty(7)) {
    if (stackFault(true)) pushIndefinite();
    return;
  }
  if (unmasked(IE | DE)) {
    signalExc(fexc);
    return;
  }
  push(se, sig);
  setCC(SW_C1, 0);
  signalExc(fexc);
}

/** FST/FSTP ST(i): a raw copy. */
function fstReg(i: u32, popAfter: bool): void {
  if (isEmpty(0)) return underflow(i, popAfter ? 1 : 0);
  setSt(i, stSe(0), stSig(0));
  setCC(SW_C1, 0);
  if (popAfter) pop();
}

function fxch(i: u32): void {
  if (isEmpty(0) || isEmpty(i)) {
    if (!stackFault(false)) return;
    if (isEmpty(0)) setSt(0, INDEF_SE, INDEF_SIG);
    if (isEmpty(i)) setSt(i, INDEF_SE, INDEF_SIG);
  } else setCC(SW_C1, 0);
  const se = stSe(0),
    sig = stSig(0);
  setSt(0, stSe(i), stSig(i));
  setSt(i, se, sig);
}

/** FXAM (SDM vol. 2 "FXAM"): class in C3 C2 C0, sign in C1. */
function fxam(): void {
  const se = stSe(0),
    sig = stSig(0);
  let cc: u32 = signOf(se) != 0 ? SW_C1 : 0;
  if (isEmpty(0)) cc |= SW_C3 | SW_C0;
  else if (isUnsupported(se, sig)) cc |= 0;
  else if (isNaN(se, sig)) cc |= SW_C0;
  else if (isInf(se, sig)) cc |= SW_C2 | SW_C0;
  else if (isZero(se, sig)) cc |= SW_C3;
  else if (isDenormal(se, sig)) cc |= SW_C3 | SW_C2;
  else cc |= SW_C2;
  setCC(SW_CC, cc);
}

// ---------------------------------------------------------------- register forms

function registerForm(op: u32): void {
  const i = rm;
  switch (op) {
    case 0xd8: // ST(0) op ST(i); D0/D8: FCOM/FCOMP ST(i)
      if (regField == 2 || regField == 3) return fcom(isEmpty(i), stSe(i), stSig(i), false, regField - 2);
      if (isEmpty(0) || isEmpty(i)) return underflow(0, 0);
      arith(regField, stSe(0), stSig(0), stSe(i), stSig(i));
      return commit(0, false);
    case 0xdc:
    case 0xde: {
      // ST(i) op ST(0) [and pop]; the SUB/DIV pairs swap in this map
      const popAfter = op == 0xde;
      // DC D0: FCOM2, DE D0: FCOMP5 (undocumented aliases of FCOM/FCOMP ST(i))
      if (regField == 2) return fcom(isEmpty(i), stSe(i), stSig(i), false, popAfter ? 1 : 0);
      if (regField == 3) {
        if (!popAfter) return fcom(isEmpty(i), stSe(i), stSig(i), false, 1); // FCOMP3 (undocumented alias)
        if (i != 1) return raiseNoCode(EXC_UD);
        return fcom(isEmpty(1), stSe(1), stSig(1), false, 2); // FCOMPP
      }
      if (isEmpty(0) || isEmpty(i)) return underflow(i, popAfter ? 1 : 0);
      const kind = regField >= 4 ? regField ^ 1 : regField;
      arith(kind, stSe(i), stSig(i), stSe(0), stSig(0));
      return commit(i, popAfter);
    }
    case 0xd9:
      return d9Register(i);
    case 0xda:
      if (regField < 4) return fcmov(regField, false);
      if (regField == 5 && i == 1) return fcom(isEmpty(1), stSe(1), stSig(1), true, 2); // FUCOMPP
      return raiseNoCode(EXC_UD);
    case 0xdb:
      if (regField < 4) return fcmov(regField, true);
      if (regField == 5) return fcomi(i, true, false);
      if (regField == 6) return fcomi(i, false, false);
      if (regField == 4) {
        if (i == 2) {
          // FNCLEX
          setFsw(fsw() & 0x7f00);
          setFerr(0);
          return;
        }
        if (i == 3) return fpuInit();
        if (i == 0 || i == 1 || i == 4) return; // FENI, FDISI, FSETPM: no-ops since the 387
      }
      return raiseNoCode(EXC_UD);
    case 0xdd:
      switch (regField) {
        case 0:
          freeSt(i);
          return; // FFREE
        case 1:
          return fxch(i); // FXCH4 (undocumented alias)
        case 2:
          return fstReg(i, false);
        case 3:
          return fstReg(i, true);
        case 4:
          return fcom(isEmpty(i), stSe(i), stSig(i), true, 0); // FUCOM
        case 5:
          return fcom(isEmpty(i), stSe(i), stSig(i), true, 1); // FUCOMP
        default:
          return raiseNoCode(EXC_UD);
      }
    default: // 0xdf
      switch (regField) {
        case 0: // FFREEP (undocumented): free ST(i), pop
          freeSt(i);
          setTop(top() + 1);
          return;
        case 1:
          return fxch(i); // FXCH7 (undocumented alias)
        case 2:
        case 3:
          return fstReg(i, true); // FSTP8, FSTP9 (undocumented aliases)
        case 4:
          if (i != 0) return raiseNoCode(EXC_UD);
          setReg16(EAX, fsw()); // FNSTSW AX
          return;
        case 5:
          return fcomi(i, true, true);
        case 6:
          return fcomi(i, false, true);
        default:
          return raiseNoCode(EXC_UD);
      }
  }
}

/** FCMOVcc (DA/DB C0-DF): B E BE U and their negations, from EFLAGS. */
function fcmov(cc: u32, negate: bool): void {
  const codes: u32 = cc == 0 ? 2 : cc == 1 ? 4 : cc == 2 ? 6 : 10;
  if (isEmpty(0) || isEmpty(rm)) return underflow(0, 0);
  setCC(SW_C1, 0);
  if (condition(codes | (negate ? 1 : 0))) setSt(0, stSe(rm), stSig(rm));
}

// Extended constants (SDM vol. 1 §8.3.9): the 66-bit internal values rounded per RC; these are
// the round-to-nearest patterns with the low bit for the direction that differs.
function constant(k: u32): void {
  const rcMode = (fcw() >> 10) & 3;
  const down = rcMode == 1 || rcMode == 3;
  switch (k) {
    case 0:
      return fld(0x3fff, INT_BIT); // FLD1
    case 1:
      return fld(0x4000, rcMode == 2 ? 0xd49a784bcd1b8aff : 0xd49a784bcd1b8afe); // FLDL2T
    case 2:
      return fld(0x3fff, down ? 0xb8aa3b295c17f0bb : 0xb8aa3b295c17f0bc); // FLDL2E
    case 3:
      return fld(0x4000, down ? 0xc90fdaa22168c234 : 0xc90fdaa22168c235); // FLDPI
    case 4:
      return fld(0x3ffd, down ? 0x9a209a84fbcff798 : 0x9a209a84fbcff799); // FLDLG2
    case 5:
      return fld(0x3ffe, down ? 0xb17217f7d1cf79ab : 0xb17217f7d1cf79ac); // FLDLN2
    case 6:
      return fld(0, 0); // FLDZ
    default:
      return raiseNoCode(EXC_UD);
  }
}

function d9Register(i: u32): void {
  switch (regField) {
    case 0: // FLD ST(i)
      if (!isEmpty(7)) {
        if (stackFault(true)) pushIndefinite();
        return;
      }
      if (isEmpty(i)) {
        if (stackFault(false)) pushIndefinite();
        return;
      }
      return fld(stSe(i), stSig(i));
    case 1:
      return fxch(i);
    case 2:
      if (i != 0) return raiseNoCode(EXC_UD);
      return; // FNOP
    case 3:
      return fstReg(i, true); // FSTP1 (undocumented alias)
    case 5:
      return constant(i);
    case 4:
      switch (i) {
        case 0:
        case 1: // FCHS, FABS
          if (isEmpty(0)) return underflow(0, 0);
          setSt(0, i == 0 ? stSe(0) ^ 0x8000 : stSe(0) & 0x7fff, stSig(0));
          setCC(SW_C1, 0);
          return;
        case 4:
          return fcom(false, 0, 0, false, 0); // FTST
        case 5:
          return fxam();
        default:
          return raiseNoCode(EXC_UD);
      }
    case 6:
      return d9Misc(i);
    default:
      return d9Misc(i + 8);
  }
}

/** D9 F0-FF: F2XM1 FYL2X FPTAN FPATAN FXTRACT FPREM1 FDECSTP FINCSTP FPREM FYL2XP1 FSQRT FSINCOS FRNDINT FSCALE FSIN FCOS. */
function d9Misc(k: u32): void {
  switch (k) {
    case 6:
      setTop(top() - 1);
      setCC(SW_C1, 0);
      return; // FDECSTP
    case 7:
      setTop(top() + 1);
      setCC(SW_C1, 0);
      return; // FINCSTP
    default:
  }
  // Everything else reads ST(0), and the two-operand ones ST(1).
  const two = k == 1 || k == 3 || k == 5 || k == 8 || k == 9 || k == 13;
  if (isEmpty(0) || (two && isEmpty(1))) {
    // FYL2X, FPATAN, FYL2XP1 write ST(1) and pop.
    if (k == 1 || k == 3 || k == 9) return underflow(1, 1);
    if (k == 2 || k == 4 || k == 11) {
      // FPTAN, FXTRACT, FSINCOS: two indefinites
      if (!stackFault(false)) return;
      setSt(0, INDEF_SE, INDEF_SIG);
      if (isEmpty(7)) pushIndefinite();
      return;
    }
    return underflow(0, 0);
  }
  const se = stSe(0),
    sig = stSig(0);
  switch (k) {
    case 0:
      f2xm1(se, sig);
      return commit(0, false);
    case 1:
      fyl2x(se, sig, stSe(1), stSig(1));
      return commit(1, true);
    case 3:
      fpatan(se, sig, stSe(1), stSig(1));
      return commit(1, true);
    case 9:
      fyl2xp1(se, sig, stSe(1), stSig(1));
      return commit(1, true);
    case 10:
      usePC();
      sqrt(se, sig);
      return commit(0, false);
    case 12:
      roundInt(se, sig);
      return commit(0, false);
    case 13:
      scale(se, sig, stSe(1), stSig(1));
      return commit(0, false);
    case 5:
    case 8: {
      // FPREM1, FPREM
      remainder(se, sig, stSe(1), stSig(1), k == 5);
      if (unmasked(IE | DE)) return signalExc(fexc);
      setSt(0, rSe, rSig);
      const q = remQuot;
      setCC(
        SW_CC,
        remPartial
          ? SW_C2
          : ((q & 4) != 0 ? SW_C0 : 0) | ((q & 2) != 0 ? SW_C3 : 0) | ((q & 1) != 0 ? SW_C1 : 0),
      );
      signalExc(fexc);
      return;
    }
    case 4:
      return fxtract(se, sig);
    case 14:
    case 15: // FSIN, FCOS
      if (outOfRange(se)) return setCC(SW_C2, SW_C2);
      if (k == 14) fsin(se, sig);
      else fcos(se, sig);
      commit(0, false);
      if (!unmasked(IE | DE)) setCC(SW_C2, 0);
      return;
    default: // 2 FPTAN, 11 FSINCOS: ST(0) = tan/sin, then push 1.0/cos
      return tanOrSinCos(k == 2, se, sig);
  }
}

function fxtract(se: u32, sig: u64): void {
  if (!isEmpty(7)) {
    if (!stackFault(true)) return;
    setSt(0, INDEF_SE, INDEF_SIG);
    pushIndefinite();
    return;
  }
  let expSe: u32, expSig: u64, sigSe: u32, sigSig: u64;
  if (nanOperand(se, sig)) {
    expSe = sigSe = rSe;
    expSig = sigSig = rSig;
  } else if (isZero(se, sig)) {
    raiseExc(ZE);
    expSe = 0xffff;
    expSig = INT_BIT;
    sigSe = se;
    sigSig = sig;
  } else if (isInf(se, sig)) {
    expSe = 0x7fff;
    expSig = INT_BIT;
    sigSe = se;
    sigSig = sig;
  } else {
    if (isDenormal(se, sig)) raiseExc(DE);
    extract(se, sig);
    sigSe = rSe;
    sigSig = rSig;
    fromInt(<i64>xtractExp);
    expSe = rSe;
    expSig = rSig;
  }
  if (unmasked(IE | DE | ZE)) return signalExc(fexc);
  setSt(0, expSe, expSig);
  push(sigSe, sigSig);
  setCC(SW_C1, 0);
  signalExc(fexc);
}

function tanOrSinCos(tan: bool, se: u32, sig: u64): void {
  if (outOfRange(se)) return setCC(SW_C2, SW_C2);
  if (!isEmpty(7)) {
    if (!stackFault(true)) return;
    setSt(0, INDEF_SE, INDEF_SIG);
    pushIndefinite();
    return;
  }
  let pushSe: u32, pushSig: u64;
  if (tan) {
    ftan(se, sig);
    pushSe = 0x3fff;
    pushSig = INT_BIT;
  } else {
    fcos(se, sig);
    pushSe = rSe;
    pushSig = rSig;
    fsin(se, sig);
  }
  if (isNaN(rSe, rSig)) {
    // a NaN operand or an invalid one gives two NaNs
    pushSe = rSe;
    pushSig = rSig;
  }
  if (unmasked(IE | DE)) return signalExc(fexc);
  setSt(0, rSe, rSig);
  push(pushSe, pushSig);
  setCC(SW_C1 | SW_C2, roundedUp ? SW_C1 : 0);
  signalExc(fexc);
}

// ---------------------------------------------------------------- memory forms

/** Read a memory operand by format: 0 m32fp, 1 m32int, 2 m64fp, 3 m16int. Into mSe/mSig-like locals. */
let opSe: u32 = 0;
let opSig: u64 = 0;
function readOperand(fmt: u32): void {
  const seg = eaSeg,
    off = eaOff;
  switch (fmt) {
    case 0: {
      const v = read32(seg, off);
      if (faulted()) return;
      fromBinary(<u64>v, 8, 23);
      break;
    }
    case 1: {
      const v = read32(seg, off);
      if (faulted()) return;
      fromInt(<i64>(<i32>v));
      break;
    }
    case 2: {
      const lo = read32(seg, off);
      const hi = read32(seg, off + 4);
      if (faulted()) return;
      fromBinary(((<u64>hi) << 32) | lo, 11, 52);
      break;
    }
    default: {
      const v = read16(seg, off);
      if (faulted()) return;
      fromInt(<i64>(<i16>v));
    }
  }
  opSe = rSe;
  opSig = rSig;
}

function memoryForm(op: u32): void {
  const seg = eaSeg,
    off = eaOff;
  switch (op) {
    case 0xd8:
    case 0xda:
    case 0xdc:
    case 0xde: {
      // ST(0) op m32fp / m32int / m64fp / m16int
      readOperand((op - 0xd8) >> 1);
      if (faulted()) return;
      if (regField == 2 || regField == 3) return fcom(false, opSe, opSig, false, regField - 2);
      if (isEmpty(0)) return underflow(0, 0);
      arith(regField, stSe(0), stSig(0), opSe, opSig);
      return commit(0, false);
    }
    case 0xd9:
      switch (regField) {
        case 0:
          readOperand(0);
          if (!faulted()) fld(opSe, opSig);
          return;
        case 2:
        case 3:
          return storeFloat(0, regField == 3);
        case 4:
          return loadEnv(seg, off, o32);
        case 5: {
          // FLDCW
          const v = read16(seg, off);
          if (faulted()) return;
          setFcw(fixCw(v));
          updateSummary();
          return;
        }
        case 6: // FNSTENV, then all exceptions masked
          storeEnv(seg, off, o32);
          if (!faulted()) setFcw(fcw() | 0x3f);
          updateSummary();
          return;
        case 7:
          write16(seg, off, fcw());
          return; // FNSTCW
        default:
          return raiseNoCode(EXC_UD);
      }
    case 0xdb:
      switch (regField) {
        case 0:
          readOperand(1);
          if (!faulted()) fld(opSe, opSig);
          return;
        case 2:
        case 3:
          return storeInt(32, regField == 3);
        case 5:
          read80(seg, off);
          if (!faulted()) fld(mSe, mSig);
          return; // FLD m80: no conversion
        case 7:
          return storeFloat(2, true);
        default:
          return raiseNoCode(EXC_UD); // /1 FISTTP is SSE3
      }
    case 0xdd:
      switch (regField) {
        case 0:
          readOperand(2);
          if (!faulted()) fld(opSe, opSig);
          return;
        case 2:
        case 3:
          return storeFloat(1, regField == 3);
        case 4:
          return frstor(seg, off, o32);
        case 6:
          return fsave(seg, off, o32);
        case 7:
          write16(seg, off, fsw());
          return; // FNSTSW m16
        default:
          return raiseNoCode(EXC_UD);
      }
    default: // 0xdf
      switch (regField) {
        case 0:
          readOperand(3);
          if (!faulted()) fld(opSe, opSig);
          return;
        case 2:
        case 3:
          return storeInt(16, regField == 3);
        case 4:
          return fbld(seg, off);
        case 5: {
          const lo = read32(seg, off);
          const hi = read32(seg, off + 4);
          if (faulted()) return;
          fromInt(<i64>(((<u64>hi) << 32) | lo));
          return fld(rSe, rSig);
        }
        case 6:
          return fbstp(seg, off);
        case 7:
          return storeInt(64, true);
        default:
          return raiseNoCode(EXC_UD);
      }
  }
}

/** Memory destinations take no wrapped result: unmasked IE/OE/UE leave memory alone. */
function storeBlocked(): bool {
  return unmasked(IE | OE | UE);
}

/** FST/FSTP m32fp (0), m64fp (1), FSTP m80fp (2). */
function storeFloat(fmt: u32, popAfter: bool): void {
  const seg = eaSeg,
    off = eaOff;
  setToRegister(false);
  let se: u32 = INDEF_SE,
    sig: u64 = INDEF_SIG;
  const empty = isEmpty(0);
  if (!empty) {
    se = stSe(0);
    sig = stSig(0);
  }
  let bits: u64 = 0;
  if (fmt == 0) bits = toBinary(se, sig, 8, 23);
  else if (fmt == 1) bits = toBinary(se, sig, 11, 52);
  if (empty) {
    if ((fcw() & IE) == 0) {
      stackFault(false);
      return;
    }
  } else if (storeBlocked()) return signalExc(fexc);
  if (fmt == 0) write32(seg, off, <u32>bits);
  else if (fmt == 1) {
    write32(seg, off, <u32>bits);
    write32(seg, off + 4, <u32>(bits >> 32));
  } else write80(seg, off, se, sig);
  if (faulted()) return;
  if (empty) stackFault(false);
  else {
    setCC(SW_C1, roundedUp ? SW_C1 : 0);
    signalExc(fexc);
  }
  if (popAfter) pop();
}

/** FIST/FISTP m16int/m32int/m64int. */
function storeInt(bits: u32, popAfter: bool): void {
  const seg = eaSeg,
    off = eaOff;
  const empty = isEmpty(0);
  const v: u64 = empty ? (<u64>1) << (bits - 1) : toInt(stSe(0), stSig(0), bits);
  if (empty) {
    if ((fcw() & IE) == 0) {
      stackFault(false);
      return;
    }
  } else if (unmasked(IE)) return signalExc(fexc);
  if (bits == 16) write16(seg, off, <u32>v);
  else {
    write32(seg, off, <u32>v);
    if (bits == 64) write32(seg, off + 4, <u32>(v >> 32));
  }
  if (faulted()) return;
  if (empty) stackFault(false);
  else {
    setCC(SW_C1, roundedUp && (fexc & IE) == 0 ? SW_C1 : 0);
    signalExc(fexc);
  }
  if (popAfter) pop();
}

/** FBLD: 18 packed BCD digits and a sign byte (SDM vol. 2 "FBLD"); loaded exactly. */
function fbld(seg: u32, off: u32): void {
  let v: i64 = 0;
  for (let k: i32 = 8; k >= 0; k--) {
    const b = read8(seg, off + <u32>k);
    v = v * 100 + <i64>((b >> 4) * 10 + (b & 15));
  }
  const s = read8(seg, off + 9);
  if (faulted()) return;
  fromInt(v);
  fld(rSe | ((s & 0x80) << 8), rSig);
}

/** FBSTP: round per RC; beyond 18 digits (or NaN, infinity) -> IE and the BCD indefinite. */
function fbstp(seg: u32, off: u32): void {
  const empty = isEmpty(0);
  const se = empty ? INDEF_SE : stSe(0);
  let v = empty ? 0 : toInt(se, stSig(0), 64);
  let indef = empty || (fexc & IE) != 0;
  const mag: u64 = signOf(se) != 0 ? 0 - v : v;
  if (!indef && mag > 999999999999999999) {
    raiseExc(IE);
    indef = true;
  }
  if (empty) {
    if ((fcw() & IE) == 0) {
      stackFault(false);
      return;
    }
  } else if (unmasked(IE)) return signalExc(fexc & ~0x20);
  if (indef) {
    for (let k: u32 = 0; k < 7; k++) write8(seg, off + k, 0);
    write8(seg, off + 7, 0xc0);
    write8(seg, off + 8, 0xff);
    write8(seg, off + 9, 0xff);
  } else {
    let m = mag;
    for (let k: u32 = 0; k < 9; k++) {
      const d = <u32>(m % 100);
      m /= 100;
      write8(seg, off + k, ((d / 10) << 4) | (d % 10));
    }
    write8(seg, off + 9, signOf(se) != 0 ? 0x80 : 0);
  }
  if (faulted()) return;
  if (empty) stackFault(false);
  else {
    setCC(SW_C1, roundedUp && !indef ? SW_C1 : 0);
    signalExc(indef ? (fexc & ~0x20) | IE : fexc);
  }
  pop();
}

// ---------------------------------------------------------------- FXSAVE / FXRSTOR

/** 0F AE group 15: /0 FXSAVE, /1 FXRSTOR (memory only); the SSE members are #UD here. */
export function group15(): void {
  decodeModRM();
  if (faulted()) return;
  if (mod == 3 || regField > 1) return raiseNoCode(EXC_UD);
  if ((cr0() & (CR0_EM | CR0_TS)) != 0) return raiseNoCode(EXC_NM);
  if (((segBase(eaSeg) + eaOff) & 15) != 0) return raise(EXC_GP, 0);
  if (regField == 0) fxsave(eaSeg, eaOff);
  else fxrstor(eaSeg, eaOff);
}
