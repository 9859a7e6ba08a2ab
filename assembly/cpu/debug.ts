// Debug registers and single-step (SDM vol. 3 ch. 18): instruction breakpoints (DR7 R/W = 00) as
// faults before the instruction, data breakpoints (R/W = 01 writes, 11 reads or writes) as traps
// after it, single-step (EFLAGS.TF) as a trap, DR6 B0-B3 and BS, and RF suppressing instruction
// breakpoints for one instruction. I/O breakpoints (R/W = 10 with CR4.DE), general detect (DR7.GD)
// and the task-switch trap (T bit) are not implemented (docs/cpu-known-differences.md).
//
// Cost: nothing while DR7 enables no breakpoint and TF and RF are clear. Otherwise the run loop goes one
// instruction at a time through `step` (decode.ts refuses the fetch window, so the decode cache is
// out of the way), and pages that hold a data breakpoint get no TLB entries, so every access to
// them takes memory.ts's slow path, which calls `dataAccess`.
import { STATE_BASE, S_DR } from "../layout";
import { eip, segBase, tlbFlush, CS } from "./state";
import { getFlags, setFlags, sysFlags, F_TF, F_RF } from "./flags";
import { raiseNoCode, raiseAttention, EXC_DB } from "./fault";

const DR6_BS: u32 = 0x4000;

/** DR7 enables an instruction or data breakpoint (recomputed by `debugRegistersChanged`). */
let breakpointsArmed = false;
/** DR7 enables a data breakpoint: memory.ts checks every slow-path access and skips TLB fills. */
export let dataBreakpoints = false;
/** Breakpoints are armed or TF is set: the run loop takes the one-instruction path. */
export let debugActive = false;

/** B0-B3 of the data breakpoints the current instruction hit, and its TF and RF at the start. */
let dataHits: u32 = 0;
let tfAtStart = false;
let rfAtStart = false;

function dr(n: u32): u32 {
  return load<u32>(STATE_BASE + S_DR + (n << 2));
}

function enabled(dr7: u32, i: u32): bool {
  return ((dr7 >> (i << 1)) & 3) != 0;
}
function rw(dr7: u32, i: u32): u32 {
  return (dr7 >> (16 + (i << 2))) & 3;
}
/** Breakpoint length from LEN: 1, 2, 8 (undefined on the P6; as later CPUs), 4 bytes. */
function len(dr7: u32, i: u32): u32 {
  const l = (dr7 >> (18 + (i << 2))) & 3;
  return l == 3 ? 4 : l == 2 ? 8 : l + 1;
}

/** MOV to DR0-DR3 or DR7: re-arm, and drop the TLB entries of pages that now hold a breakpoint. */
export function debugRegistersChanged(): void {
  debugRearm();
  tlbFlush();
}

/** Recompute what DR7 arms (run entry, where the TLB is flushed anyway: the host may write DRs). */
export function debugRearm(): void {
  const dr7 = dr(7);
  let armed = false;
  let data = false;
  for (let i: u32 = 0; i < 4; i++) {
    if (!enabled(dr7, i)) continue;
    const t = rw(dr7, i);
    if (t == 0) armed = true;
    else if (t != 2) data = true;
  }
  breakpointsArmed = armed || data;
  dataBreakpoints = data;
  raiseAttention();
}

/**
 * Run-loop attention: whether the next instruction takes the one-instruction path: breakpoints
 * armed, TF set, or RF set (which must clear when the instruction completes; IRET from a fault
 * handler sets it, and setFlags raises attention).
 */
export function debugCheck(): bool {
  debugActive = breakpointsArmed || (sysFlags() & (F_TF | F_RF)) != 0;
  return debugActive;
}

/** No TLB entry for a page that holds an enabled data breakpoint. */
export function watchedPage(lin: u32): bool {
  const dr7 = dr(7);
  for (let i: u32 = 0; i < 4; i++) {
    const t = rw(dr7, i);
    if (enabled(dr7, i) && (t & 1) != 0 && ((dr(i) ^ lin) & 0xfffff000) == 0) return true;
  }
  return false;
}

/** An access of `n` bytes at linear `lin` (slow path): note the data breakpoints it hits. */
export function dataAccess(lin: u32, n: u32, write: bool): void {
  const dr7 = dr(7);
  for (let i: u32 = 0; i < 4; i++) {
    const t = rw(dr7, i);
    if (!enabled(dr7, i) || (t & 1) == 0 || (t == 1 && !write)) continue;
    const l = len(dr7, i);
    const a = dr(i) & ~(l - 1);
    if (lin - a < l || a - lin < n) dataHits |= 1 << i;
  }
}

/**
 * Before an instruction on the one-instruction path: an instruction breakpoint at CS:EIP (unless
 * RF is set) raises #DB as a fault, with its B bits in DR6 (SDM §18.3.1.1). Returns true when
 * it raised #DB; the caller delivers it.
 */
export function debugBefore(): bool {
  const f = sysFlags();
  tfAtStart = (f & F_TF) != 0;
  rfAtStart = (f & F_RF) != 0;
  dataHits = 0;
  if (rfAtStart) return false;
  const dr7 = dr(7);
  const lin = segBase(CS) + eip();
  let hits: u32 = 0;
  for (let i: u32 = 0; i < 4; i++) if (enabled(dr7, i) && rw(dr7, i) == 0 && dr(i) == lin) hits |= 1 << i;
  if (hits == 0) return false;
  store<u32>(STATE_BASE + S_DR + 24, (dr(6) & ~0xf) | hits);
  raiseNoCode(EXC_DB);
  return true;
}

/**
 * After an instruction completed on the one-instruction path: RF clears, and data breakpoints
 * hit (B0-B3) or a single-step (BS, TF set when the instruction began) raise #DB as a trap
 * (SDM §18.3.1.2, §18.3.1.4). Returns true when it raised #DB; the caller delivers it.
 */
export function debugAfter(): bool {
  if (rfAtStart && (sysFlags() & F_RF) != 0) setFlags(getFlags() & ~F_RF);
  if (dataHits == 0 && !tfAtStart) return false;
  let v = dr(6);
  if (dataHits != 0) v = (v & ~0xf) | dataHits;
  if (tfAtStart) v |= DR6_BS;
  store<u32>(STATE_BASE + S_DR + 24, v);
  dataHits = 0;
  raiseNoCode(EXC_DB);
  return true;
}
