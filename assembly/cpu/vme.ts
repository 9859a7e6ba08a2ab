// Virtual-8086 mode extensions and protected-mode virtual interrupts (SDM vol. 3 §20.3 "Interrupt
// and exception handling in virtual-8086 mode", §20.4 "Protected-mode virtual interrupts"; vol. 2
// "CLI", "STI", "PUSHF", "POPF", "IRET", "INT n"). With CR4.VME in virtual-8086 mode at IOPL < 3,
// the IOPL-sensitive instructions act on the virtual interrupt flag EFLAGS.VIF instead of
// trapping to the monitor, and INT n may be redirected to the 8086 program's own interrupt vector
// table; with CR4.PVI, CLI and STI at CPL 3 in protected mode do the same. Exceptions and
// hardware interrupts are unaffected: they always go through the protected-mode IDT.
import { STATE_BASE, S_CR4, S_TR } from "../layout";
import { segSel, setEip, cpl, CS } from "./state";
import { getFlags, setFlags, sysFlags, F_IF, F_TF, F_RF, F_VM, F_IOPL, F_VIF, F_VIP } from "./flags";
import { linRead32, sysRead8, sysRead32 } from "./memory";
import { push, peek, setSp, spOffset } from "./stack";
import { loadSegReal } from "./segments";
import { raise, faulted, EXC_GP } from "./fault";

const CR4_VME: u32 = 1;
const CR4_PVI: u32 = 2;
/** FLAGS bits a virtual POPF/IRET loads: CF PF AF ZF SF TF DF OF NT (not IF, not IOPL). */
const VIRTUAL_POP_MASK: u32 = 0x4dd5;

function cr4(): u32 {
  return load<u32>(STATE_BASE + S_CR4);
}

/** V86 mode with CR4.VME (the caller has found IOPL < 3). */
function vmeOn(): bool {
  return (cr4() & CR4_VME) != 0;
}

/**
 * CLI (`set` false) or STI when CPL > IOPL: with CR4.VME in V86 mode, or CR4.PVI at CPL 3 in
 * protected mode, clear or set VIF; STI while VIP is set raises #GP(0) so the monitor can deliver
 * the pending virtual interrupt. Otherwise #GP(0).
 */
export function virtualCliSti(set: bool): void {
  const f = sysFlags();
  const virt = (f & F_VM) != 0 ? vmeOn() : cpl() == 3 && (cr4() & CR4_PVI) != 0;
  if (!virt || (set && (f & F_VIP) != 0)) return raise(EXC_GP, 0);
  const v = getFlags();
  setFlags(set ? v | F_VIF : v & ~F_VIF);
}

/** The FLAGS image a virtual PUSHF or a redirected INT n pushes: IF from VIF, IOPL 3. */
function virtualFlagsImage(): u32 {
  const f = getFlags();
  return (f & 0xffff & ~F_IF) | ((f & F_VIF) != 0 ? F_IF : 0) | F_IOPL;
}

/** PUSHF in V86 mode at IOPL < 3: only the 16-bit form with CR4.VME works; else #GP(0). */
export function virtualPushf(sz: u32): void {
  if (sz != 1 || !vmeOn()) return raise(EXC_GP, 0);
  push(1, virtualFlagsImage());
}

/**
 * Load a FLAGS image popped by a virtual POPF or IRET: #GP(0) when it sets IF while VIP is set, or
 * sets TF; otherwise the image's IF goes to VIF, and IF and IOPL stay. Returns false on #GP.
 */
function virtualFlagsAllowed(image: u32): bool {
  if (((image & F_IF) != 0 && (sysFlags() & F_VIP) != 0) || (image & F_TF) != 0) {
    raise(EXC_GP, 0);
    return false;
  }
  return true;
}

function loadVirtualFlags(image: u32): void {
  const f = getFlags() & ~(VIRTUAL_POP_MASK | F_VIF);
  setFlags(f | (image & VIRTUAL_POP_MASK) | ((image & F_IF) != 0 ? F_VIF : 0));
}

/** POPF in V86 mode at IOPL < 3 (16-bit with CR4.VME; else #GP(0)). */
export function virtualPopf(sz: u32): void {
  if (sz != 1 || !vmeOn()) return raise(EXC_GP, 0);
  const image = peek(1, 0);
  if (faulted() || !virtualFlagsAllowed(image)) return;
  setSp(spOffset() + 2);
  loadVirtualFlags(image);
}

/** IRET in V86 mode at IOPL < 3 (16-bit with CR4.VME; else #GP(0)), ESP untouched on a fault. */
export function virtualIret(sz: u32): void {
  if (sz != 1 || !vmeOn()) return raise(EXC_GP, 0);
  const ip = peek(1, 0);
  const cs = peek(1, 2);
  const image = peek(1, 4);
  if (faulted() || !virtualFlagsAllowed(image)) return;
  setSp(spOffset() + 6);
  loadSegReal(CS, cs);
  setEip(ip);
  loadVirtualFlags(image);
}

/**
 * INT n (opcode CD) in V86 mode (SDM vol. 3 §20.3.3, table 20-2). Returns true when it was handled
 * here: redirected to the 8086 program's handler (methods 5 and 6) or refused with #GP(0)
 * (methods 2 and 3); false when it goes through the IDT (methods 1 and 4). `retIp` is the return
 * offset.
 */
export function v86SoftInt(vector: u32, retIp: u32): bool {
  const ioplLow = (sysFlags() & F_IOPL) != F_IOPL;
  if (vmeOn()) {
    const redirect = !redirectionBit(vector);
    if (faulted()) return true;
    if (redirect) {
      redirectToIvt(vector, retIp, ioplLow);
      return true;
    }
  }
  if (ioplLow) {
    raise(EXC_GP, 0);
    return true;
  }
  return false;
}

/**
 * Bit `vector` of the software interrupt redirection bitmap: the 32 bytes just below the I/O
 * permission bitmap of the 32-bit TSS (SDM vol. 3 §20.3.3). Outside the TSS limit: #GP(0).
 */
function redirectionBit(vector: u32): bool {
  const trBase = load<u32>(STATE_BASE + S_TR + 4);
  const trLimit = load<u32>(STATE_BASE + S_TR + 8);
  if ((load<u32>(STATE_BASE + S_TR + 12) & 0x8) == 0 || trLimit < 0x67) {
    raise(EXC_GP, 0);
    return true;
  }
  const mapBase = sysRead32(trBase + 0x64) >>> 16;
  if (faulted()) return true;
  const off = mapBase - 32 + (vector >> 3);
  if (mapBase < 32 || off > trLimit) {
    raise(EXC_GP, 0);
    return true;
  }
  return ((sysRead8(trBase + off) >> (vector & 7)) & 1) != 0;
}

/**
 * Methods 5 and 6: an 8086-style interrupt through the IVT at linear address 0 of the V86 task,
 * without leaving V86 mode. Pushes FLAGS (at IOPL < 3 with IF from VIF and IOPL 3), CS and IP,
 * then clears TF and RF, and IF (IOPL 3) or VIF (IOPL < 3).
 */
function redirectToIvt(vector: u32, retIp: u32, ioplLow: bool): void {
  const target = linRead32(vector << 2);
  if (faulted()) return;
  const flags = getFlags();
  const sp = spOffset();
  push(1, ioplLow ? virtualFlagsImage() : flags & 0xffff);
  push(1, segSel(CS));
  push(1, retIp & 0xffff);
  if (faulted()) {
    setSp(sp); // a fault leaves the stack pointer as it was
    return;
  }
  loadSegReal(CS, target >>> 16);
  setEip(target & 0xffff);
  setFlags(flags & ~(F_TF | F_RF | (ioplLow ? F_VIF : F_IF)));
}
