// Accessors for the CPU state block (see layout.ts). Everything is a load/store at a constant
// address, so these inline to single instructions.
import {
  STATE_BASE,
  S_REGS,
  S_EIP,
  S_SEG_SEL,
  S_SEG_BASE,
  S_SEG_LIMIT,
  S_SEG_ATTR,
  S_CR0,
  S_CPL,
  CTL_BASE,
  C_RAM_SIZE,
  SEG_FAST,
  SEG_FAST_READ,
  SEG_FAST_WRITE,
  TLB_BASE,
  TLB_ADDEND,
  TLB_USER_OFF,
  TLB_KERNEL_READ,
  TLB_KERNEL_WRITE,
  TLB_USER_READ,
  TLB_USER_WRITE,
  TLB_GLOBAL,
  TLB_GLOBAL_LIST,
} from "../layout";
import { raiseAttention } from "./fault";

// Register numbers in encoding order.
export const EAX: u32 = 0;
export const ECX: u32 = 1;
export const EDX: u32 = 2;
export const EBX: u32 = 3;
export const ESP: u32 = 4;
export const EBP: u32 = 5;
export const ESI: u32 = 6;
export const EDI: u32 = 7;

// Segment register numbers in encoding order.
export const ES: u32 = 0;
export const CS: u32 = 1;
export const SS: u32 = 2;
export const DS: u32 = 3;
export const FS: u32 = 4;
export const GS: u32 = 5;

export const CR0_PE: u32 = 1;
export const CR0_MP: u32 = 2;
export const CR0_EM: u32 = 4;
export const CR0_TS: u32 = 8;
export const CR0_ET: u32 = 0x10;
export const CR0_NE: u32 = 0x20;
export const CR0_WP: u32 = 0x10000;
export const CR0_PG: u32 = 0x80000000;

// Segment attribute bits (descriptor high dword bits 8..23, shifted down by 8).
export const ATTR_ACCESSED: u32 = 0x01;
export const ATTR_S: u32 = 0x10;
export const ATTR_P: u32 = 0x80;
export const ATTR_DB: u32 = 0x4000;
export const ATTR_G: u32 = 0x8000;

// @ts-ignore: decorator
@inline
export function reg32(r: u32): u32 {
  return load<u32>(STATE_BASE + S_REGS + (r << 2));
}
// @ts-ignore: decorator
@inline
export function setReg32(r: u32, v: u32): void {
  store<u32>(STATE_BASE + S_REGS + (r << 2), v);
}
// @ts-ignore: decorator
@inline
export function reg16(r: u32): u32 {
  return load<u16>(STATE_BASE + S_REGS + (r << 2));
}
// @ts-ignore: decorator
@inline
export function setReg16(r: u32, v: u32): void {
  store<u16>(STATE_BASE + S_REGS + (r << 2), <u16>v);
}
/** 8-bit registers AL CL DL BL AH CH DH BH: low or second byte of EAX..EBX. */
// @ts-ignore: decorator
@inline
export function reg8(r: u32): u32 {
  return load<u8>(STATE_BASE + S_REGS + ((r & 3) << 2) + (r >> 2));
}
// @ts-ignore: decorator
@inline
export function setReg8(r: u32, v: u32): void {
  store<u8>(STATE_BASE + S_REGS + ((r & 3) << 2) + (r >> 2), <u8>v);
}

// @ts-ignore: decorator
@inline
export function eip(): u32 {
  return load<u32>(STATE_BASE + S_EIP);
}
// @ts-ignore: decorator
@inline
export function setEip(v: u32): void {
  store<u32>(STATE_BASE + S_EIP, v);
}

// @ts-ignore: decorator
@inline
export function segSel(s: u32): u32 {
  return load<u32>(STATE_BASE + S_SEG_SEL + (s << 2));
}
// @ts-ignore: decorator
@inline
export function segBase(s: u32): u32 {
  return load<u32>(STATE_BASE + S_SEG_BASE + (s << 2));
}
// @ts-ignore: decorator
@inline
export function segLimit(s: u32): u32 {
  return load<u32>(STATE_BASE + S_SEG_LIMIT + (s << 2));
}
// @ts-ignore: decorator
@inline
export function segAttr(s: u32): u32 {
  return load<u32>(STATE_BASE + S_SEG_ATTR + (s << 2));
}
export function setSegCache(s: u32, sel: u32, base: u32, limit: u32, attr: u32): void {
  store<u32>(STATE_BASE + S_SEG_SEL + (s << 2), sel);
  store<u32>(STATE_BASE + S_SEG_BASE + (s << 2), base);
  store<u32>(STATE_BASE + S_SEG_LIMIT + (s << 2), limit);
  store<u32>(STATE_BASE + S_SEG_ATTR + (s << 2), attr);
  segFastUpdate(s);
  if (s == CS) fetchFlush();
}

// ---------------------------------------------------------------- derived caches
// Values derived from the state block so the hot paths test one thing. They are recomputed
// whenever the core changes what they derive from, and all of them at run() entry (the host may
// have written the state block between runs). docs/performance.md describes each.

/**
 * Bit s set: segment s takes the fast limit check `off <= SEG_FAST[s]` (= limit - 3) for reads
 * (segFastRead) or writes (segFastWrite). Only present, expand-up segments qualify, and for
 * writes only writable data segments; everything else (null, expand-down, read-only, limits
 * below 3) takes the full check in memory.ts, which gives the same result in every mode.
 * SEG_FAST_READ/SEG_FAST_WRITE hold the same test as one compare for the memory fast paths:
 * `off < bound`, with bound = limit - 2 for a fast segment and 0 otherwise.
 */
export let segFastRead: u32 = 0;
export let segFastWrite: u32 = 0;

export function segFastUpdate(s: u32): void {
  const lim = segLimit(s);
  const attr = segAttr(s);
  const bit: u32 = 1 << s;
  segFastRead &= ~bit;
  segFastWrite &= ~bit;
  store<u32>(SEG_FAST_READ + (s << 2), 0);
  store<u32>(SEG_FAST_WRITE + (s << 2), 0);
  if ((attr & ATTR_P) == 0 || (attr & 0x1c) == 0x14 || lim < 3) return;
  store<u32>(SEG_FAST + (s << 2), lim - 3);
  segFastRead |= bit;
  store<u32>(SEG_FAST_READ + (s << 2), lim - 2);
  if ((attr & 0x1a) == 0x12) {
    segFastWrite |= bit;
    store<u32>(SEG_FAST_WRITE + (s << 2), lim - 2);
  }
}

/**
 * Software TLB state (memory.ts): `tlbEpoch` is the low 12 bits of every valid tag, so bumping
 * it invalidates every entry at once; `tlbUserOff` selects the user tag set at CPL 3.
 */
export let tlbEpoch: u32 = 1;
/** The epoch of write tags: bumped alone when a page starts holding decoded code (dcache.ts). */
export let tlbEpochW: u32 = 1;
export let tlbUserOff: u32 = 0;

/** Drop every TLB entry, global ones included (CR0/CR4 writes, INVLPG, A20, run entry). */
export function tlbFlush(): void {
  tlbGlobalDrop();
  tlbEpoch++;
  tlbEpochW++;
  if (tlbEpoch > 0xfff || tlbEpochW > 0xfff) tlbClear();
  fetchFlush();
}

/** Drop every write entry, so the next write to each page takes the slow path. */
export function tlbFlushWrites(): void {
  tlbEpochW++;
  if (tlbEpochW > 0xfff) tlbClear();
}

function tlbClear(): void {
  memory.fill(TLB_BASE, 0, TLB_ADDEND - TLB_BASE);
  tlbGlobalDrop();
  tlbEpoch = 1;
  tlbEpochW = 1;
  fetchFlush();
}

// Global pages (SDM vol. 3 §4.10.2.4, §4.10.4.1): with CR4.PGE, a translation from a PTE (or a
// 4 MiB PDE) with G=1 survives a CR3 load; INVLPG, a CR4.PGE or CR0.PG change and the other full
// flushes drop it. TLB_GLOBAL marks each entry: 0 not listed, 1 listed and global, 2 listed but
// refilled from a non-global translation since. TLB_GLOBAL_LIST holds the listed entry indices.
const G_NONE: u8 = 0;
const G_GLOBAL: u8 = 1;
const G_STALE: u8 = 2;
let tlbGlobalCount: u32 = 0;

function tlbGlobalDrop(): void {
  for (let i: u32 = 0; i < tlbGlobalCount; i++)
    store<u8>(TLB_GLOBAL + load<u16>(TLB_GLOBAL_LIST + (i << 1)), G_NONE);
  tlbGlobalCount = 0;
}

/** True when TLB entry `e` (a tag offset, 4 bytes per entry) holds a global translation. */
export function tlbIsGlobal(e: u32): bool {
  return load<u8>(TLB_GLOBAL + (e >> 2)) == G_GLOBAL;
}

/** TLB entry `e` was (re)filled from a global or a non-global translation. */
export function tlbMarkGlobal(e: u32, global: bool): void {
  const at = TLB_GLOBAL + (e >> 2);
  const g = load<u8>(at);
  if (!global) {
    if (g == G_GLOBAL) store<u8>(at, G_STALE);
    return;
  }
  if (g == G_NONE) {
    store<u16>(TLB_GLOBAL_LIST + (tlbGlobalCount << 1), <u16>(e >> 2));
    tlbGlobalCount++;
  }
  store<u8>(at, G_GLOBAL);
}

/** Retag tag `at` from epoch `from` to epoch `to` when it is current. */
// @ts-ignore: decorator
@inline
function retag(at: u32, from: u32, to: u32): void {
  const t = load<u32>(at);
  if ((t & 0xfff) == from) store<u32>(at, (t & 0xfffff000) | to);
}

/**
 * A CR3 load (MOV to CR3, task switch): drop every non-global TLB entry. The epochs move on as
 * in tlbFlush, and the current tags of global entries are carried over to the new epochs.
 */
export function tlbFlushNonGlobal(): void {
  const oldR = tlbEpoch;
  const oldW = tlbEpochW;
  tlbEpoch++;
  tlbEpochW++;
  if (tlbEpoch > 0xfff || tlbEpochW > 0xfff) tlbClear();
  else {
    let kept: u32 = 0;
    for (let i: u32 = 0; i < tlbGlobalCount; i++) {
      const idx = <u32>load<u16>(TLB_GLOBAL_LIST + (i << 1));
      if (load<u8>(TLB_GLOBAL + idx) != G_GLOBAL) {
        store<u8>(TLB_GLOBAL + idx, G_NONE);
        continue;
      }
      const e = idx << 2;
      retag(TLB_KERNEL_READ + e, oldR, tlbEpoch);
      retag(TLB_USER_READ + e, oldR, tlbEpoch);
      retag(TLB_KERNEL_WRITE + e, oldW, tlbEpochW);
      retag(TLB_USER_WRITE + e, oldW, tlbEpochW);
      store<u16>(TLB_GLOBAL_LIST + (kept << 1), <u16>idx);
      kept++;
    }
    tlbGlobalCount = kept;
  }
  fetchFlush();
}

/**
 * The instruction-fetch window (decode.ts): CS offsets [fetchLo, fetchHi) lie inside CS's limit
 * and in one linear page with a TLB read entry; the byte at offset e is at host fetchHost + e.
 */
export let fetchLo: u32 = 1;
export let fetchHi: u32 = 1;
export let fetchHost: u32 = 0;

export function fetchFlush(): void {
  fetchLo = 1;
  fetchHi = 1;
  raiseAttention(); // dcache.ts execBlock keeps the window in locals until attention
}

export function setFetchWindow(lo: u32, hi: u32, host: u32): void {
  fetchLo = lo;
  fetchHi = hi;
  fetchHost = host;
}

/** Recompute every derived value from the state block (run entry). */
export function refreshDerived(): void {
  for (let s: u32 = 0; s < 6; s++) segFastUpdate(s);
  tlbUserOff = cpl() == 3 ? TLB_USER_OFF : 0;
  tlbFlush();
}

// @ts-ignore: decorator
@inline
export function cr0(): u32 {
  return load<u32>(STATE_BASE + S_CR0);
}
// @ts-ignore: decorator
@inline
export function cpl(): u32 {
  return load<u32>(STATE_BASE + S_CPL);
}
export function setCpl(v: u32): void {
  store<u32>(STATE_BASE + S_CPL, v);
  tlbUserOff = v == 3 ? TLB_USER_OFF : 0;
  fetchFlush();
}
export function protectedMode(): bool {
  return (cr0() & CR0_PE) != 0;
}
export function ramSize(): u32 {
  return load<u32>(CTL_BASE + C_RAM_SIZE);
}
