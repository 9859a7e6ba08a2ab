// Interrupt and exception delivery (SDM vol. 3 §6.12 protected mode, §20.1.4 real mode) and IRET
// (SDM vol. 2 "IRET"). Exceptions during delivery escalate to #DF and then to a triple fault.
import {
  STATE_BASE,
  S_IDTR_BASE,
  S_IDTR_LIMIT,
  S_TR,
  CTL_BASE,
  C_LAST_EXC,
  C_LAST_EXC_CODE,
  C_EXC_COUNT,
  C_EXC_VECTORS,
  EXIT_EXCEPTION,
} from "../layout";
import { recordEvent } from "../exits";
import {
  reg32,
  setReg32,
  eip,
  setEip,
  segSel,
  protectedMode,
  cpl,
  setCpl,
  setSegCache,
  segAttr,
  CS,
  SS,
  ESP,
  ATTR_DB,
  ATTR_P,
} from "./state";
import {
  getFlags,
  setFlags,
  sysFlags,
  F_IF,
  F_TF,
  F_NT,
  F_RF,
  F_VM,
  F_AC,
  F_IOPL,
  F_VIF,
  F_VIP,
} from "./flags";
import { read16, read32, sysRead32 } from "./memory";
import { push, peek, setSp, spOffset, ss32 } from "./stack";
import { readMem } from "./operands";
import {
  readDescriptor,
  descLo,
  descHi,
  descAttr,
  descBase,
  descLimit,
  loadSegReal,
  loadCodeSegment,
  setAccessed,
  vm86,
  loadSegProtected,
} from "./segments";
import {
  raise,
  faulted,
  clearFault,
  faultVector,
  faultCode,
  faultHasCode,
  EXC_GP,
  EXC_NP,
  EXC_DF,
  EXC_TS,
  EXC_SS,
  EXC_DB,
} from "./fault";
import { ES, DS, FS, GS } from "./state";
import { readTssDescriptor, taskSwitch, iretTask, TASK_INT } from "./task";

/** Set when a triple fault happened: the run loop stops with STOP_SHUTDOWN. */
export let shutdown: bool = false;
export function clearShutdown(): void {
  shutdown = false;
}

/**
 * Deliver the pending exception (fault.ts) with EIP already at the restart point. A fault while
 * delivering becomes #DF; a fault while delivering #DF is a triple fault (SDM vol. 3 §6.15, int 8).
 */
export function deliverPendingException(): void {
  let vector = faultVector;
  let code = faultCode;
  let hasCode = faultHasCode;
  // Every fault pushes RF=1, so the handler's IRET restarts the instruction past its instruction
  // breakpoint; #DB (traps, and the instruction-breakpoint fault) pushes RF as it is (SDM vol. 3
  // §18.3.1.1). Real mode pushes 16-bit FLAGS and drops it.
  if (vector != EXC_DB) setFlags(getFlags() | F_RF);
  for (let attempt = 0; attempt < 3; attempt++) {
    clearFault();
    store<u32>(CTL_BASE + C_LAST_EXC, <u32>vector);
    store<u32>(CTL_BASE + C_LAST_EXC_CODE, code);
    store<u32>(CTL_BASE + C_EXC_COUNT, load<u32>(CTL_BASE + C_EXC_COUNT) + 1);
    const perVector = CTL_BASE + C_EXC_VECTORS + ((<u32>vector) << 2);
    store<u32>(perVector, load<u32>(perVector) + 1);
    recordEvent(EXIT_EXCEPTION, <u32>vector);
    interrupt(<u32>vector, false, hasCode, code, eip());
    if (!faulted()) return;
    if (vector == EXC_DF) break;
    vector = EXC_DF;
    code = 0;
    hasCode = true;
  }
  clearFault();
  shutdown = true;
}

/**
 * Transfer control through IDT entry `vector`. `soft` marks INT n/INT3/INTO (gate DPL is
 * checked, SDM §6.12.1.1). `retEip` is the EIP pushed as the return address.
 */
export function interrupt(vector: u32, soft: bool, hasCode: bool, code: u32, retEip: u32): void {
  if (!protectedMode()) {
    realModeInterrupt(vector, retEip);
    return;
  }
  const idtLimit = load<u32>(STATE_BASE + S_IDTR_LIMIT);
  const ext: u32 = soft ? 0 : 1;
  if (vector * 8 + 7 > idtLimit) {
    raise(EXC_GP, vector * 8 + 2 + ext);
    return;
  }
  const gateAddr = load<u32>(STATE_BASE + S_IDTR_BASE) + vector * 8;
  const lo = sysRead32(gateAddr);
  const hi = sysRead32(gateAddr + 4);
  if (faulted()) return;
  const type = (hi >> 8) & 0x1f;
  const gateDpl = (hi >> 13) & 3;
  if (soft && gateDpl < cpl()) {
    raise(EXC_GP, vector * 8 + 2);
    return;
  }
  if ((hi & 0x8000) == 0) {
    raise(EXC_NP, vector * 8 + 2 + ext);
    return;
  }
  // 0x05: task gate (SDM §6.12.2): switch to the task, which gets the error code on its stack.
  if (type == 0x05) {
    const tssSel = lo >>> 16;
    if (!readTssDescriptor(tssSel, false, EXC_GP, ext)) return;
    taskSwitch(tssSel, TASK_INT, retEip, hasCode, code, ext);
    return;
  }
  // 0x0E/0x0F: 32-bit interrupt/trap gate; 0x06/0x07: 16-bit.
  if (type != 0x0e && type != 0x0f && type != 0x06 && type != 0x07) {
    raise(EXC_GP, vector * 8 + 2 + ext);
    return;
  }
  const gate32 = (type & 8) != 0;
  const trapGate = (type & 1) != 0;
  const sel = lo >>> 16;
  const offset = gate32 ? (lo & 0xffff) | (hi & 0xffff0000) : lo & 0xffff;
  if ((sel & 0xfffc) == 0) {
    raise(EXC_GP, ext);
    return;
  }
  if (!readDescriptor(sel)) return;
  const attr = descAttr(descHi);
  const dpl = (attr >> 5) & 3;
  if ((attr & 0x18) != 0x18 || dpl > cpl()) {
    raise(EXC_GP, (sel & 0xfffc) + ext);
    return;
  }
  if ((attr & ATTR_P) == 0) {
    raise(EXC_NP, (sel & 0xfffc) + ext);
    return;
  }
  const conforming = (attr & 4) != 0;
  const oldFlags = getFlags();
  const oldCs = segSel(CS);
  const fromV86 = (oldFlags & F_VM) != 0;
  const sz: u32 = gate32 ? 2 : 1;
  if (!conforming && dpl < cpl()) {
    // Inner privilege: switch to the stack for `dpl` from the TSS (SDM §6.12.1, §7.2.1).
    const oldSs = segSel(SS);
    const oldEsp = reg32(ESP);
    const trBase = load<u32>(STATE_BASE + S_TR + 4);
    const tss32 = (load<u32>(STATE_BASE + S_TR + 12) & 0x8) != 0;
    let newEsp: u32;
    let newSs: u32;
    if (tss32) {
      newEsp = sysRead32(trBase + 4 + dpl * 8);
      newSs = sysRead32(trBase + 8 + dpl * 8) & 0xffff;
    } else {
      newEsp = sysRead32(trBase + 2 + dpl * 4) & 0xffff;
      newSs = sysRead32(trBase + 4 + dpl * 4) & 0xffff;
    }
    if (faulted()) return;
    if ((newSs & 0xfffc) == 0) {
      raise(EXC_TS, ext);
      return;
    }
    setCpl(dpl);
    if (!loadSegProtected(SS, newSs)) {
      setCpl(oldCs & 3);
      if (faultVector == EXC_GP || faultVector == EXC_SS) {
        clearFault();
        raise(EXC_TS, (newSs & 0xfffc) + ext);
      }
      return;
    }
    setSp(newEsp);
    if (fromV86) {
      push(sz, segSel(GS));
      push(sz, segSel(FS));
      push(sz, segSel(DS));
      push(sz, segSel(ES));
    }
    push(sz, oldSs);
    push(sz, oldEsp);
    if (fromV86) {
      for (let s: u32 = 0; s < 6; s++) if (s != CS && s != SS) setSegCache(s, 0, 0, 0, 0);
    }
  } else if (fromV86) {
    raise(EXC_GP, (sel & 0xfffc) + ext);
    return;
  }
  push(sz, oldFlags);
  push(sz, oldCs);
  push(sz, retEip);
  if (hasCode) push(sz, code);
  if (faulted()) return;
  const newCpl = conforming ? cpl() : dpl;
  setSegCache(CS, (sel & 0xfffc) | newCpl, descBase(descLo, descHi), descLimit(descLo, descHi), attr | 1);
  setAccessed();
  setCpl(newCpl);
  setEip(offset);
  let f = oldFlags & ~(F_TF | F_NT | F_RF | F_VM);
  if (!trapGate) f &= ~F_IF;
  setFlags(f);
}

/** Real-mode interrupt through the IVT at IDTR.base (SDM vol. 3 §20.1.4). */
function realModeInterrupt(vector: u32, retEip: u32): void {
  const base = load<u32>(STATE_BASE + S_IDTR_BASE);
  if (vector * 4 + 3 > load<u32>(STATE_BASE + S_IDTR_LIMIT)) {
    raise(EXC_GP, 0);
    return;
  }
  const flags = getFlags();
  const sp = reg32(ESP);
  push(1, flags);
  push(1, segSel(CS));
  push(1, retEip);
  const off = sysRead32(base + vector * 4);
  if (faulted()) {
    setReg32(ESP, sp); // a fault leaves the stack pointer as it was
    return;
  }
  loadSegReal(CS, off >>> 16);
  setEip(off & 0xffff);
  setFlags(flags & ~(F_IF | F_TF | F_AC | F_RF));
}

/** Apply a flags image popped by POPF/IRET with the privilege rules of SDM vol. 2 "POPF". */
export function writeFlagsPrivileged(v: u32, sz: u32, keepVm: bool): void {
  const old = getFlags();
  let mask: u32 = 0x3f7fd5 & ~(F_VM | F_VIF | F_VIP | F_RF);
  if (protectedMode() || vm86()) {
    const iopl = (old & F_IOPL) >> 12;
    if (cpl() > 0) mask &= ~F_IOPL;
    if (cpl() > iopl) mask &= ~F_IF;
  }
  if (sz == 1) mask &= 0xffff;
  let f = (old & ~mask) | (v & mask);
  if (!keepVm) f = (f & ~F_RF) | (v & F_RF);
  setFlags(f);
}

/** IRET / IRETD (SDM vol. 2 "IRET"): real mode, same-level and outer-level protected returns. */
export function iret(sz: u32): void {
  if (!protectedMode()) {
    // Read all three before popping any, so a fault leaves SP as it was.
    const sp = spOffset();
    const n: u32 = sz == 2 ? 4 : 2;
    const spMask: u32 = ss32() ? 0xffffffff : 0xffff;
    const ip = readMem(sz, SS, sp);
    const cs = readMem(sz, SS, (sp + n) & spMask);
    const fl = readMem(sz, SS, (sp + 2 * n) & spMask);
    if (faulted()) return;
    setSp(sp + 3 * n);
    loadSegReal(CS, cs);
    setEip(sz == 2 ? ip : ip & 0xffff);
    writeFlagsPrivileged(fl, sz, true);
    return;
  }
  if (vm86()) {
    // IOPL 3 (IOPL < 3 is vme.ts virtualIret, SDM §20.2.7). IOPL and VM stay, and VIF and VIP
    // too for IRETD; IRET loads FLAGS only. All three are read before any is popped.
    const sp = spOffset();
    const n: u32 = sz == 2 ? 4 : 2;
    const ip = peek(sz, 0);
    const cs = peek(sz, n);
    const fl = peek(sz, 2 * n);
    if (faulted()) return;
    setSp(sp + 3 * n);
    loadSegReal(CS, cs);
    setEip(ip & 0xffff);
    const keep: u32 = sz == 2 ? F_IOPL | F_VM | F_VIF | F_VIP : 0xffff0000 | F_IOPL;
    setFlags((getFlags() & keep) | (fl & ~keep));
    return;
  }
  if ((sysFlags() & F_NT) != 0) {
    iretTask(); // return from a nested task through the back-link (task.ts)
    return;
  }
  const sp = spOffset();
  const n: u32 = sz == 2 ? 4 : 2;
  const newEip = sz == 2 ? read32(SS, sp) : read16(SS, sp);
  const newCs = read16(SS, sp + n);
  const newFlags = sz == 2 ? read32(SS, sp + 2 * n) : read16(SS, sp + 2 * n);
  if (faulted()) return;
  if (sz == 2 && (newFlags & F_VM) != 0 && cpl() == 0) {
    returnToV86(sp, newEip, newCs, newFlags);
    return;
  }
  const rpl = newCs & 3;
  if (rpl < cpl()) {
    raise(EXC_GP, newCs & 0xfffc);
    return;
  }
  const oldCpl = cpl();
  if (rpl > oldCpl) {
    // Outer level: pop ESP and SS too, then invalidate data segments the new CPL may not use.
    const newEsp = sz == 2 ? read32(SS, sp + 3 * n) : read16(SS, sp + 3 * n);
    const newSs = read16(SS, sp + 4 * n);
    if (faulted()) return;
    if (!loadCodeSegment(newCs, rpl, sz == 2 ? newEip : newEip & 0xffff)) return;
    if (!loadSegProtected(SS, newSs)) {
      setCpl(oldCpl);
      return;
    }
    if (sz == 2) setReg32(ESP, newEsp);
    else setSp(newEsp);
    invalidateDataSegments(rpl);
  } else {
    if (!loadCodeSegment(newCs, rpl, sz == 2 ? newEip : newEip & 0xffff)) return;
    setSp(sp + 3 * n);
  }
  setEip(sz == 2 ? newEip : newEip & 0xffff);
  // IF/IOPL rules use the CPL before the return (SDM "IRET" pseudo-code); VIF and VIP are
  // loaded by IRETD at CPL 0 only.
  const cur = getFlags();
  let mask: u32 = 0x3f7fd5 & ~F_VM;
  const iopl = (cur & F_IOPL) >> 12;
  if (oldCpl > 0) mask &= ~(F_IOPL | F_VIF | F_VIP);
  if (oldCpl > iopl) mask &= ~F_IF;
  if (sz == 1) mask &= 0xffff;
  setFlags((cur & ~mask) | (newFlags & mask));
}

/** IRETD from CPL 0 with VM=1 in the popped flags: enter virtual-8086 mode (SDM vol. 2 "IRET"). */
function returnToV86(sp: u32, newEip: u32, newCs: u32, newFlags: u32): void {
  const newEsp = read32(SS, sp + 12);
  const newSs = read32(SS, sp + 16);
  const es = read32(SS, sp + 20);
  const ds = read32(SS, sp + 24);
  const fs = read32(SS, sp + 28);
  const gs = read32(SS, sp + 32);
  if (faulted()) return;
  setFlags(newFlags);
  setCpl(3);
  loadSegReal(CS, newCs);
  loadSegReal(SS, newSs);
  loadSegReal(ES, es);
  loadSegReal(DS, ds);
  loadSegReal(FS, fs);
  loadSegReal(GS, gs);
  setReg32(ESP, newEsp);
  setEip(newEip & 0xffff);
}

/**
 * After IRET or RETF to an outer level: a data or non-conforming code segment the new CPL may
 * not use is loaded with a null selector (SDM vol. 2 "IRET", "RET" pseudo-code).
 */
function invalidateDataSegments(newCpl: u32): void {
  for (let s: u32 = 0; s < 6; s++) {
    if (s == CS || s == SS) continue;
    const a = segAttr(s);
    const dpl = (a >> 5) & 3;
    const codeConforming = (a & 0xc) == 0xc && (a & 0x8) != 0;
    if ((a & 0x10) != 0 && !codeConforming && dpl < newCpl) setSegCache(s, 0, 0, 0, 0);
  }
}

/** Far return / far jump helpers used by RETF and JMP/CALL far in protected mode. */
export function farReturnProtected(newEip: u32, newCs: u32, sz: u32, extra: u32): void {
  const rpl = newCs & 3;
  if (rpl < cpl()) {
    raise(EXC_GP, newCs & 0xfffc);
    return;
  }
  const n: u32 = sz == 2 ? 4 : 2;
  const sp = spOffset();
  if (rpl > cpl()) {
    const newEsp = sz == 2 ? read32(SS, sp + 2 * n + extra) : read16(SS, sp + 2 * n + extra);
    const newSs = read16(SS, sp + 3 * n + extra);
    if (faulted()) return;
    const oldCpl = cpl();
    if (!loadCodeSegment(newCs, rpl, sz == 2 ? newEip : newEip & 0xffff)) return;
    if (!loadSegProtected(SS, newSs)) {
      setCpl(oldCpl);
      return;
    }
    setSp(newEsp + extra);
    invalidateDataSegments(rpl);
  } else {
    if (!loadCodeSegment(newCs, rpl, sz == 2 ? newEip : newEip & 0xffff)) return;
    setSp(sp + 2 * n + extra);
  }
  setEip(sz == 2 ? newEip : newEip & 0xffff);
}
