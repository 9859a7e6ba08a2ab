// Hardware task switching (SDM vol. 3 ch. 7, §7.3 "Task switching", table 7-1 for the checks):
// JMP/CALL to a TSS descriptor or a task gate, INT n / exceptions through a task gate in the
// IDT, and IRET with EFLAGS.NT back to the previous task. 32-bit and 16-bit TSSs.
//
// Faults found before the switch commits (descriptor, busy bit and TSS limit checks, reading the
// new TSS) leave the old task untouched. Once the old state is saved and TR points to the new
// task, segment-loading faults are raised in the context of the new task: the restart point
// becomes the new task's EIP (see commitNewContext).
import { STATE_BASE, S_TR, S_LDTR, S_GDTR_BASE, S_GDTR_LIMIT, S_CR0, S_CR3 } from "../layout";
import {
  reg32,
  setReg32,
  segSel,
  setSegCache,
  setCpl,
  setEip,
  cr0,
  CR0_PG,
  CR0_TS,
  ES,
  CS,
  SS,
  DS,
  FS,
  GS,
  tlbFlushNonGlobal,
} from "./state";
import { getFlags, setFlags, saveFlagState, F_NT, F_VM } from "./flags";
import { sysRead32, linWrite8, linWrite16, linWrite32, linRead8 } from "./memory";
import {
  readDescriptor,
  descLo,
  descHi,
  descAttr,
  descBase,
  descLimit,
  loadSegProtected,
  loadSegReal,
  loadCodeSegment,
} from "./segments";
import { raise, faulted, clearFault, faultVector, EXC_GP, EXC_NP, EXC_TS } from "./fault";
import { beginInstruction } from "./decode";
import { push } from "./stack";
import { cpl } from "./state";
import { nextEip } from "./decode";

/** What started the task switch: it decides busy bits, NT and the back-link (SDM §7.3 table 7-2). */
export const TASK_JMP: u32 = 0;
export const TASK_CALL: u32 = 1;
export const TASK_IRET: u32 = 2;
/** INT n, an exception or an external interrupt through a task gate (behaves like CALL). */
export const TASK_INT: u32 = 3;

// New task state read from its TSS before anything is changed.
const newRegs = new StaticArray<u32>(8);
const newSegs = new StaticArray<u32>(6);

/** The GDT descriptor address of a selector (TSS descriptors always live in the GDT). */
function gdtEntry(sel: u32): u32 {
  return load<u32>(STATE_BASE + S_GDTR_BASE) + (sel & 0xfff8);
}

/** Set or clear the busy bit (type bit 1) of the TSS descriptor for `sel`. */
function setBusy(sel: u32, busy: bool): void {
  const a = gdtEntry(sel) + 5;
  const v = linRead8(a);
  linWrite8(a, busy ? v | 2 : v & ~2);
}

/**
 * Read the TSS descriptor `sel` for a task switch. `wantBusy` selects the type required: an
 * available TSS for JMP/CALL/INT, a busy one for IRET. Raises `errVector`(sel) (#GP, or #TS for
 * IRET) when the selector or type is wrong and #NP(sel) when not present. Leaves the descriptor in
 * descLo/descHi.
 */
export function readTssDescriptor(sel: u32, wantBusy: bool, errVector: i32, ext: u32): bool {
  if ((sel & 4) != 0 || (sel & 0xfffc) == 0 || (sel | 7) > load<u32>(STATE_BASE + S_GDTR_LIMIT)) {
    raise(errVector, (sel & 0xfffc) | ext);
    return false;
  }
  if (!readDescriptor(sel)) return false;
  const attr = descAttr(descHi);
  const type = attr & 0x1f; // S bit included: must be a system descriptor
  const ok = wantBusy ? type == 0x03 || type == 0x0b : type == 0x01 || type == 0x09;
  if (!ok) {
    raise(errVector, (sel & 0xfffc) | ext);
    return false;
  }
  if ((attr & 0x80) == 0) {
    raise(EXC_NP, (sel & 0xfffc) | ext);
    return false;
  }
  return true;
}

/** A #GP raised by a descriptor check during the switch becomes #TS with the same selector. */
function gpToTs(sel: u32, ext: u32): void {
  if (faultVector == EXC_GP) {
    clearFault();
    raise(EXC_TS, (sel & 0xfffc) | ext);
  }
}

/**
 * Switch to the task whose (already checked, present) TSS descriptor is in descLo/descHi with
 * selector `sel`. `retEip` is the EIP saved in the old TSS. For TASK_INT with `hasCode`, the error
 * code is pushed on the new task's stack. `ext` is the EXT bit for error codes.
 */
export function taskSwitch(sel: u32, source: u32, retEip: u32, hasCode: bool, code: u32, ext: u32): void {
  const newHi = descHi;
  const newLo = descLo;
  const newAttr = descAttr(newHi);
  const new32 = (newAttr & 8) != 0;
  const newBase = descBase(newLo, newHi);
  const newLimit = descLimit(newLo, newHi);
  const minLimit: u32 = new32 ? 0x67 : 0x2b;
  if (newLimit < minLimit) {
    raise(EXC_TS, (sel & 0xfffc) | ext);
    return;
  }
  const oldSel = load<u32>(STATE_BASE + S_TR) & 0xffff;
  const oldBase = load<u32>(STATE_BASE + S_TR + 4);
  const old32 = (load<u32>(STATE_BASE + S_TR + 12) & 8) != 0;

  // TSS accesses are supervisor accesses whatever the CPL (SDM §7.2.1).
  const oldCpl = cpl();
  setCpl(0);

  // 1. Read the new task's state.
  let newEip: u32,
    newFlags: u32,
    newLdt: u32,
    newCr3: u32 = 0;
  if (new32) {
    newCr3 = sysRead32(newBase + 0x1c);
    newEip = sysRead32(newBase + 0x20);
    newFlags = sysRead32(newBase + 0x24);
    for (let i: i32 = 0; i < 8; i++) unchecked((newRegs[i] = sysRead32(newBase + 0x28 + <u32>i * 4)));
    for (let i: i32 = 0; i < 6; i++)
      unchecked((newSegs[i] = sysRead32(newBase + 0x48 + <u32>i * 4) & 0xffff));
    newLdt = sysRead32(newBase + 0x60) & 0xffff;
  } else {
    newEip = sysRead32(newBase + 0x0e) & 0xffff;
    newFlags = sysRead32(newBase + 0x10) & 0xffff;
    // A 16-bit TSS holds the low halves; the upper halves read as ones (as Bochs and QEMU do).
    for (let i: i32 = 0; i < 8; i++)
      unchecked((newRegs[i] = (sysRead32(newBase + 0x12 + <u32>i * 2) & 0xffff) | 0xffff0000));
    for (let i: i32 = 0; i < 4; i++)
      unchecked((newSegs[i] = sysRead32(newBase + 0x22 + <u32>i * 2) & 0xffff));
    unchecked((newSegs[FS] = 0));
    unchecked((newSegs[GS] = 0));
    newLdt = sysRead32(newBase + 0x2a) & 0xffff;
  }
  if (faulted()) {
    setCpl(oldCpl);
    return;
  }

  // 2. Save the old task's state (general registers, segment selectors, EFLAGS, EIP).
  let oldFlags = getFlags();
  if (source == TASK_IRET) oldFlags &= ~F_NT;
  if (old32) {
    linWrite32(oldBase + 0x20, retEip);
    linWrite32(oldBase + 0x24, oldFlags);
    for (let i: u32 = 0; i < 8; i++) linWrite32(oldBase + 0x28 + i * 4, reg32(i));
    for (let i: u32 = 0; i < 6; i++) linWrite32(oldBase + 0x48 + i * 4, segSel(i));
  } else {
    linWrite16(oldBase + 0x0e, retEip);
    linWrite16(oldBase + 0x10, oldFlags);
    for (let i: u32 = 0; i < 8; i++) linWrite16(oldBase + 0x12 + i * 2, reg32(i));
    for (let i: u32 = 0; i < 4; i++) linWrite16(oldBase + 0x22 + i * 2, segSel(i));
  }
  if (faulted()) {
    setCpl(oldCpl);
    return;
  }

  // 3. Busy bits, NT and the back-link.
  if (source == TASK_JMP || source == TASK_IRET) setBusy(oldSel, false);
  if (source == TASK_CALL || source == TASK_INT) {
    linWrite16(newBase, oldSel);
    newFlags |= F_NT;
  }
  if (source != TASK_IRET) setBusy(sel, true);
  if (faulted()) {
    setCpl(oldCpl);
    return;
  }

  // 4. Commit: TR, CR0.TS, CR3, registers, EFLAGS, EIP.
  store<u32>(STATE_BASE + S_TR, sel & 0xffff);
  store<u32>(STATE_BASE + S_TR + 4, newBase);
  store<u32>(STATE_BASE + S_TR + 8, newLimit);
  store<u32>(STATE_BASE + S_TR + 12, newAttr | 2);
  store<u32>(STATE_BASE + S_CR0, cr0() | CR0_TS);
  if (new32 && (cr0() & CR0_PG) != 0) store<u32>(STATE_BASE + S_CR3, newCr3);
  tlbFlushNonGlobal(); // a CR3 load: global pages stay (SDM vol. 3 §4.10.4.1)
  for (let i: i32 = 0; i < 8; i++) setReg32(<u32>i, unchecked(newRegs[i]));
  setFlags(newFlags);
  commitNewContext(new32 ? newEip : newEip & 0xffff);
  // Selectors first with unusable caches, so a fault below sees the new task's selectors.
  for (let i: i32 = 0; i < 6; i++) setSegCache(<u32>i, unchecked(newSegs[i]), 0, 0, 0);

  // 5. LDTR (from the GDT only).
  const ldtp = STATE_BASE + S_LDTR;
  store<u32>(ldtp, newLdt);
  store<u32>(ldtp + 4, 0);
  store<u32>(ldtp + 8, 0);
  store<u32>(ldtp + 12, 0);
  if ((newLdt & 0xfffc) != 0) {
    if ((newLdt & 4) != 0) return raise(EXC_TS, (newLdt & 0xfffc) | ext);
    if (!readDescriptor(newLdt)) return gpToTs(newLdt, ext);
    const la = descAttr(descHi);
    if ((la & 0x1f) != 0x02 || (la & 0x80) == 0) return raise(EXC_TS, (newLdt & 0xfffc) | ext);
    store<u32>(ldtp + 4, descBase(descLo, descHi));
    store<u32>(ldtp + 8, descLimit(descLo, descHi));
    store<u32>(ldtp + 12, la);
  }

  // 6. Segment registers, with the checks of table 7-1.
  if ((newFlags & F_VM) != 0) {
    setCpl(3);
    for (let i: i32 = 0; i < 6; i++) loadSegReal(<u32>i, unchecked(newSegs[i]));
  } else {
    const cs = unchecked(newSegs[CS]);
    const rpl = cs & 3;
    if ((cs & 0xfffc) == 0) return raise(EXC_TS, ext);
    if (!readDescriptor(cs)) return gpToTs(cs, ext);
    const ca = descAttr(descHi);
    const cdpl = (ca >> 5) & 3;
    const conforming = (ca & 4) != 0;
    if ((ca & 0x18) != 0x18 || (conforming ? cdpl > rpl : cdpl != rpl))
      return raise(EXC_TS, (cs & 0xfffc) | ext);
    setCpl(rpl);
    if (!loadCodeSegment(cs, rpl, new32 ? newEip : newEip & 0xffff)) return;
    const ss = unchecked(newSegs[SS]);
    if (!loadSegProtected(SS, ss)) return gpToTs(ss, ext);
    for (let k: u32 = 0; k < 4; k++) {
      const s: u32 = k == 0 ? DS : k == 1 ? ES : k == 2 ? FS : GS;
      const v = unchecked(newSegs[s]);
      if (!loadSegProtected(s, v)) return gpToTs(v, ext);
    }
  }

  // 7. An exception delivered through a task gate pushes its error code on the new stack.
  if (source == TASK_INT && hasCode) push(new32 ? 2 : 1, code);
}

/**
 * The new task's EIP becomes both the current EIP and the instruction's restart point, and the
 * new EFLAGS the state restored on a fault: faults from here on belong to the new task.
 */
function commitNewContext(newEip: u32): void {
  setEip(newEip);
  beginInstruction(newEip);
  saveFlagState();
}

/** IRET with EFLAGS.NT: return to the task named by the current TSS's back-link (SDM "IRET"). */
export function iretTask(): void {
  const link = sysRead32(load<u32>(STATE_BASE + S_TR + 4)) & 0xffff;
  if (faulted()) return;
  if (!readTssDescriptor(link, true, EXC_TS, 0)) return;
  taskSwitch(link, TASK_IRET, nextEip, false, 0, 0);
}

/**
 * Far JMP or CALL whose selector names an available TSS or a task gate (descriptor in
 * descLo/descHi). Privilege: DPL >= CPL and DPL >= RPL of the selector (for a gate, the gate's
 * DPL; the TSS's own DPL is not checked then). SDM vol. 2 "JMP", "CALL".
 */
export function farTaskTransfer(sel: u32, isCall: bool): void {
  const attr = descAttr(descHi);
  const type = attr & 0xf;
  const dpl = (attr >> 5) & 3;
  if (dpl < cpl() || dpl < (sel & 3)) {
    raise(EXC_GP, sel & 0xfffc);
    return;
  }
  if ((attr & 0x80) == 0) {
    raise(EXC_NP, sel & 0xfffc);
    return;
  }
  let tss = sel;
  if (type == 0x5) {
    tss = descLo >>> 16;
    if (!readTssDescriptor(tss, false, EXC_GP, 0)) return;
  }
  taskSwitch(tss, isCall ? TASK_CALL : TASK_JMP, nextEip, false, 0, 0);
}
