// The x87 register stack, control/status/tag words and pointers in the CPU state block
// (layout.ts S_FPU_*; SDM vol. 1 §8.1). Registers are kept by physical number; ST(i) is
// physical (TOP + i) & 7. The tag is abridged (1 = in use); the full tag word is computed from
// the register contents when the environment is stored (§8.1.7).
import {
  STATE_BASE,
  S_FPU_CW,
  S_FPU_SW,
  S_FPU_TAG,
  S_FPU_IP,
  S_FPU_CS,
  S_FPU_OP,
  S_FPU_DP,
  S_FPU_DS,
  S_FPU_REGS,
  CTL_BASE,
  C_FERR,
} from "../../layout";
import { INDEF_SE, INDEF_SIG, IE, SF } from "./arith";

// Status-word bits above the exception flags (SDM vol. 1 figure 8-4).
export const SW_ES: u32 = 0x80;
export const SW_C0: u32 = 0x100;
export const SW_C1: u32 = 0x200;
export const SW_C2: u32 = 0x400;
export const SW_C3: u32 = 0x4000;
export const SW_B: u32 = 0x8000;
export const SW_CC: u32 = SW_C0 | SW_C1 | SW_C2 | SW_C3;

export function fcw(): u32 {
  return load<u32>(STATE_BASE + S_FPU_CW);
}
export function setFcw(v: u32): void {
  store<u32>(STATE_BASE + S_FPU_CW, v);
}
export function fsw(): u32 {
  return load<u32>(STATE_BASE + S_FPU_SW);
}
export function setFsw(v: u32): void {
  store<u32>(STATE_BASE + S_FPU_SW, v & 0xffff);
}
export function tags(): u32 {
  return load<u32>(STATE_BASE + S_FPU_TAG);
}
export function setTags(v: u32): void {
  store<u32>(STATE_BASE + S_FPU_TAG, v & 0xff);
}
export function top(): u32 {
  return (fsw() >> 11) & 7;
}
export function setTop(t: u32): void {
  setFsw((fsw() & ~0x3800) | ((t & 7) << 11));
}

export function fip(): u32 {
  return load<u32>(STATE_BASE + S_FPU_IP);
}
export function fcs(): u32 {
  return load<u32>(STATE_BASE + S_FPU_CS);
}
export function fop(): u32 {
  return load<u32>(STATE_BASE + S_FPU_OP);
}
export function fdp(): u32 {
  return load<u32>(STATE_BASE + S_FPU_DP);
}
export function fds(): u32 {
  return load<u32>(STATE_BASE + S_FPU_DS);
}
export function setPointers(ip: u32, cs: u32, op: u32, dp: u32, ds: u32): void {
  store<u32>(STATE_BASE + S_FPU_IP, ip);
  store<u32>(STATE_BASE + S_FPU_CS, cs & 0xffff);
  store<u32>(STATE_BASE + S_FPU_OP, op & 0x7ff);
  store<u32>(STATE_BASE + S_FPU_DP, dp);
  store<u32>(STATE_BASE + S_FPU_DS, ds & 0xffff);
}

export function phys(i: u32): u32 {
  return (top() + i) & 7;
}
function regAddr(p: u32): u32 {
  return STATE_BASE + S_FPU_REGS + (p << 4);
}
export function physSig(p: u32): u64 {
  return load<u64>(regAddr(p));
}
export function physSe(p: u32): u32 {
  return load<u16>(regAddr(p) + 8);
}
export function setPhys(p: u32, se: u32, sig: u64): void {
  store<u64>(regAddr(p), sig);
  store<u16>(regAddr(p) + 8, <u16>se);
}

export function stSig(i: u32): u64 {
  return physSig(phys(i));
}
export function stSe(i: u32): u32 {
  return physSe(phys(i));
}
export function isEmpty(i: u32): bool {
  return (tags() & (1 << phys(i))) == 0;
}

/** Write ST(i) and mark it in use. */
export function setSt(i: u32, se: u32, sig: u64): void {
  const p = phys(i);
  setPhys(p, se, sig);
  setTags(tags() | (1 << p));
}

export function freeSt(i: u32): void {
  setTags(tags() & ~(1 << phys(i)));
}

/** Decrement TOP and write the new ST(0). */
export function push(se: u32, sig: u64): void {
  setTop(top() - 1);
  setSt(0, se, sig);
}

/** Mark ST(0) empty and increment TOP. */
export function pop(): void {
  freeSt(0);
  setTop(top() + 1);
}

/** Set the condition codes C3 C2 C1 C0 given as status-word bits. */
export function setCC(mask: u32, bits: u32): void {
  setFsw((fsw() & ~mask) | (bits & mask));
}

/** Record exception flags (SDM vol. 1 §8.4): any unmasked one sets ES and B. */
export function signalExc(flags: u32): void {
  if (flags == 0) return;
  let sw = fsw() | (flags & 0x7f);
  if ((sw & ~fcw() & 0x3f) != 0) sw |= SW_ES | SW_B;
  setFsw(sw);
}

/** Recompute ES/B from the flags and masks (after FLDCW; SDM vol. 2 "FLDCW"). */
export function updateSummary(): void {
  let sw = fsw() & ~(SW_ES | SW_B);
  if ((sw & ~fcw() & 0x3f) != 0) sw |= SW_ES | SW_B;
  setFsw(sw);
  if ((sw & SW_ES) == 0) store<u32>(CTL_BASE + C_FERR, 0);
}

/** FERR# for the host (IRQ13 on a PC when CR0.NE = 0). */
export function setFerr(v: u32): void {
  store<u32>(CTL_BASE + C_FERR, v);
}

/**
 * Stack fault (SDM vol. 1 §8.5.1.1): IE and SF, C1 = 1 for overflow, 0 for underflow. Returns
 * true when IE is masked and the instruction goes on with the QNaN indefinite.
 */
export function stackFault(overflow: bool): bool {
  setCC(SW_C1, overflow ? SW_C1 : 0);
  signalExc(IE | SF);
  return (fcw() & IE) != 0;
}

/** ST(0) onto a full register: the push that a masked stack overflow performs. */
export function pushIndefinite(): void {
  push(INDEF_SE, INDEF_SIG);
}

/** The full tag word (two bits per physical register: 0 valid, 1 zero, 2 special, 3 empty). */
export function fullTag(): u32 {
  let t: u32 = 0;
  const used = tags();
  for (let p: i32 = 7; p >= 0; p--) {
    t <<= 2;
    if ((used & (1 << p)) == 0) {
      t |= 3;
      continue;
    }
    const e = physSe(p) & 0x7fff;
    const s = physSig(p);
    if (e == 0 && s == 0) t |= 1;
    else if (e == 0 || e == 0x7fff || s >> 63 == 0) t |= 2;
  }
  return t;
}

/** Load a full tag word: 11 means empty, anything else in use (§8.1.7). */
export function loadFullTag(t: u32): void {
  let used: u32 = 0;
  for (let p: u32 = 0; p < 8; p++) if (((t >> (p * 2)) & 3) != 3) used |= 1 << p;
  setTags(used);
}

/** FNINIT (SDM vol. 2 "FINIT"): control 037FH, status 0, all empty, pointers cleared. */
export function fpuInit(): void {
  setFcw(0x37f);
  setFsw(0);
  setTags(0);
  setPointers(0, 0, 0, 0, 0);
  setFerr(0);
}

/** Power-on state (SDM vol. 3 table 9-1): control 0040H, tag 5555H (all +0.0). */
export function fpuReset(): void {
  setFcw(0x40);
  setFsw(0);
  setTags(0xff);
  setPointers(0, 0, 0, 0, 0);
  for (let p: u32 = 0; p < 8; p++) setPhys(p, 0, 0);
  setFerr(0);
}
