// Far JMP and CALL (SDM vol. 2 "JMP", "CALL"): real/V86 mode, direct code segments, and call
// gates in protected mode. Task gates and TSS targets need task switching (not yet built).
import { segSel, cpl, setCpl, reg32, setReg32, CS, SS, ESP } from "./state";
import { setNextEip, nextEip } from "./decode";
import { push, spOffset, setSp, ss32 } from "./stack";
import { readMem } from "./operands";
import {
  loadSegReal,
  loadCodeSegment,
  loadSegProtected,
  realOrV86,
  readDescriptor,
  descLo,
  descHi,
  descAttr,
} from "./segments";
import { sysRead32 } from "./memory";
import { raise, faulted, EXC_GP, EXC_NP, EXC_TS } from "./fault";
import { STATE_BASE, S_TR } from "../layout";
import { farTaskTransfer } from "./task";

export function farJump(sel: u32, off: u32, sz: u32): void {
  if (realOrV86()) {
    loadSegReal(CS, sel);
    setNextEip(sz == 2 ? off : off & 0xffff);
    return;
  }
  if (!codeTarget(sel)) {
    gateTransfer(sel, false, sz);
    return;
  }
  if (!checkDirectTarget(sel)) return;
  if (!loadCodeSegment(sel, cpl(), sz == 2 ? off : off & 0xffff)) return;
  setNextEip(sz == 2 ? off : off & 0xffff);
}

export function farCall(sel: u32, off: u32, sz: u32): void {
  const retCs = segSel(CS);
  const retEip = nextEip;
  if (realOrV86()) {
    const sp = reg32(ESP);
    push(sz, retCs);
    push(sz, retEip);
    if (faulted()) {
      setReg32(ESP, sp); // a fault leaves the stack pointer as it was
      return;
    }
    loadSegReal(CS, sel);
    setNextEip(sz == 2 ? off : off & 0xffff);
    return;
  }
  if (!codeTarget(sel)) {
    gateTransfer(sel, true, sz);
    return;
  }
  if (!checkDirectTarget(sel)) return;
  const sp = spOffset();
  push(sz, retCs);
  push(sz, retEip);
  if (faulted()) return;
  if (!loadCodeSegment(sel, cpl(), sz == 2 ? off : off & 0xffff)) {
    setSp(sp);
    return;
  }
  setNextEip(sz == 2 ? off : off & 0xffff);
}

/** True when `sel` names a code segment descriptor (as opposed to a gate or a TSS). */
function codeTarget(sel: u32): bool {
  if ((sel & 0xfffc) == 0) return true; // loadCodeSegment raises #GP(0)
  if (!readDescriptor(sel)) return true;
  return (descAttr(descHi) & 0x10) != 0;
}

/** Privilege rules for a direct far transfer (SDM vol. 3 §5.8.1). */
function checkDirectTarget(sel: u32): bool {
  if (faulted()) return false;
  const attr = descAttr(descHi);
  const dpl = (attr >> 5) & 3;
  const conforming = (attr & 4) != 0;
  if (conforming ? dpl > cpl() : (sel & 3) > cpl() || dpl != cpl()) {
    raise(EXC_GP, sel & 0xfffc);
    return false;
  }
  return true;
}

/** Call-gate parameters in transit between stacks (at most 31). */
const paramBuf = new StaticArray<u32>(32);

/** Transfer through a call gate (SDM vol. 3 §5.8.3-5.8.5). */
function gateTransfer(sel: u32, isCall: bool, sz: u32): void {
  if (faulted()) return;
  const attr = descAttr(descHi);
  const type = attr & 0xf;
  const gateDpl = (attr >> 5) & 3;
  if (type == 0x1 || type == 0x9 || type == 0x5) {
    farTaskTransfer(sel, isCall); // available TSS or task gate: a task switch (task.ts)
    return;
  }
  if (type != 0x4 && type != 0xc) {
    raise(EXC_GP, sel & 0xfffc);
    return;
  }
  if (gateDpl < cpl() || gateDpl < (sel & 3)) {
    raise(EXC_GP, sel & 0xfffc);
    return;
  }
  if ((attr & 0x80) == 0) {
    raise(EXC_NP, sel & 0xfffc);
    return;
  }
  const gate32 = type == 0xc;
  const target = descLo >>> 16;
  const offset = gate32 ? (descLo & 0xffff) | (descHi & 0xffff0000) : descLo & 0xffff;
  const paramCount = descHi & 0x1f;
  if (!readDescriptor(target)) return;
  const cattr = descAttr(descHi);
  const dpl = (cattr >> 5) & 3;
  if ((cattr & 0x18) != 0x18 || dpl > cpl()) {
    raise(EXC_GP, target & 0xfffc);
    return;
  }
  const conforming = (cattr & 4) != 0;
  const gsz: u32 = gate32 ? 2 : 1;
  if (isCall && !conforming && dpl < cpl()) {
    // More privilege: new stack from the TSS, copy parameters (SDM §5.8.5).
    const oldSs = segSel(SS);
    const oldEsp = reg32(ESP);
    const oldSp = spOffset();
    const oldCs = segSel(CS);
    const trBase = load<u32>(STATE_BASE + S_TR + 4);
    const newEsp = sysRead32(trBase + 4 + dpl * 8);
    const newSs = sysRead32(trBase + 8 + dpl * 8) & 0xffff;
    if (faulted()) return;
    // Read the parameters from the old stack before it is replaced.
    const n: u32 = gsz == 2 ? 4 : 2;
    const spMask: u32 = ss32() ? 0xffffffff : 0xffff;
    for (let i: u32 = 0; i < paramCount; i++) {
      unchecked((paramBuf[i] = readMem(gsz, SS, (oldSp + i * n) & spMask)));
    }
    if (faulted()) return;
    const oldCpl = cpl();
    setCpl(dpl);
    if (!loadSegProtected(SS, newSs)) {
      setCpl(oldCpl);
      raise(EXC_TS, newSs & 0xfffc);
      return;
    }
    setReg32(ESP, newEsp);
    push(gsz, oldSs);
    push(gsz, oldEsp);
    for (let i: i32 = <i32>paramCount - 1; i >= 0; i--) push(gsz, unchecked(paramBuf[i]));
    push(gsz, oldCs);
    push(gsz, nextEip);
    if (faulted()) return;
    if (!loadCodeSegment(target, dpl, offset)) return;
    setNextEip(offset);
    return;
  }
  if (isCall) {
    push(gsz, segSel(CS));
    push(gsz, nextEip);
    if (faulted()) return;
  }
  if (!loadCodeSegment(target, conforming ? cpl() : dpl, gate32 ? offset : offset & 0xffff)) return;
  setNextEip(gate32 ? offset : offset & 0xffff);
}
