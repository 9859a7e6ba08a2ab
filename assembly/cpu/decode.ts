// Instruction fetch, prefixes and ModRM/SIB effective addresses (SDM vol. 2 §2.1, tables 2-1
// and 2-2). Decoder state for the current instruction lives in module globals.
import { read8, read16, read32 } from "./memory";
import {
  reg32,
  reg16,
  CS,
  SS,
  DS,
  EBP,
  ESP,
  segAttr,
  segBase,
  ATTR_DB,
  segFastRead,
  tlbEpoch,
  tlbUserOff,
  fetchLo,
  fetchHi,
  fetchHost,
  setFetchWindow,
} from "./state";
import { SEG_FAST, TLB_KERNEL_READ, TLB_ADDEND } from "../layout";
import { setFetchGen } from "./dcache";
import { debugActive } from "./debug";
import { raise, EXC_GP } from "./fault";

/** EIP of the first byte of the current instruction (restart point for faults). */
export let startEip: u32 = 0;
/** Offset in CS of the next byte to fetch. */
export let nextEip: u32 = 0;
/** Operand size is 32 bits (after the 0x66 prefix). */
export let o32: bool = false;
/** Address size is 32 bits (after the 0x67 prefix). */
export let a32: bool = false;
/** Segment override prefix, or -1. */
export let segOverride: i32 = -1;
/** 0, 0xF2 (REPNE) or 0xF3 (REP/REPE). */
export let rep: u32 = 0;
export let lockPrefix: bool = false;

// ModRM fields of the current instruction, and its memory operand when mod != 3.
export let mod: u32 = 0;
export let regField: u32 = 0;
export let rm: u32 = 0;
export let eaSeg: u32 = DS;
export let eaOff: u32 = 0;

/** Reset per-instruction decoder state; the defaults come from CS's D bit (SDM vol. 3 §3.4.5). */
export function beginInstruction(eipNow: u32): void {
  startEip = eipNow;
  if (eipNow - fetchLo >= fetchHi - fetchLo) refillFetchWindow(eipNow);
  const left = fetchHi - eipNow;
  fetchAvail = eipNow - fetchLo < fetchHi - fetchLo ? (left < 15 ? left : 15) : 0;
  nextEip = eipNow;
  const d = (segAttr(CS) & ATTR_DB) != 0;
  o32 = d;
  a32 = d;
  segOverride = -1;
  rep = 0;
  lockPrefix = false;
}

export function setStartEip(v: u32): void {
  startEip = v;
}
export function setO32(v: bool): void {
  o32 = v;
}
export function setA32(v: bool): void {
  a32 = v;
}
export function setSegOverride(s: i32): void {
  segOverride = s;
}
export function setRep(p: u32): void {
  rep = p;
}
export function setLock(): void {
  lockPrefix = true;
}
export function setNextEip(v: u32): void {
  nextEip = v;
}

/** An instruction may not exceed 15 bytes (SDM vol. 2 §2.3.11): #GP(0). */
function checkLength(n: u32): void {
  if (nextEip + n - startEip > 15) raise(EXC_GP, 0);
}

// Instruction fetch. The fast path reads the fetch window (state.ts): CS offsets inside CS's
// limit and one linear page with a TLB read entry, so a byte is one load. `fetchAvail` is how
// many bytes of the current instruction the window holds (at most 15, the length limit);
// anything past it takes the full path: length check, segment check, translation.
let fetchAvail: u32 = 0;

/** Set the fetch window to the page of CS:eip when the TLB has it (never faults). */
export function refillFetchWindow(eip: u32): void {
  if (debugActive) return; // one instruction at a time while debugging (debug.ts)
  if ((segFastRead & (1 << CS)) == 0) return;
  const lim3 = load<u32>(SEG_FAST + (CS << 2));
  if (eip > lim3) return;
  const lin = segBase(CS) + eip;
  const e = (lin >>> 10) & 0x3ffc;
  if (load<u32>(TLB_KERNEL_READ + tlbUserOff + e) != ((lin & 0xfffff000) | tlbEpoch)) return;
  // [lo, hi): the page's offsets from eip back to the page start (or 0) and on to the page end
  // (or the limit + 1, which is lim3 + 4).
  const before = lin & 0xfff;
  const lo: u32 = before <= eip ? eip - before : 0;
  const toEnd: u32 = 0x1000 - before;
  const toLimit: u32 = lim3 + 4 - eip; // >= 4: eip <= lim3
  const hi: u32 = eip + (toEnd < toLimit || toLimit == 0 ? toEnd : toLimit);
  const host = load<u32>(TLB_ADDEND + e) + lin;
  setFetchWindow(lo, hi, host - eip);
  setFetchGen(host);
}

function fetch8Slow(): u32 {
  checkLength(1);
  const v = read8(CS, nextEip);
  nextEip += 1;
  return v;
}
function fetch16Slow(): u32 {
  checkLength(2);
  const v = read16(CS, nextEip);
  nextEip += 2;
  return v;
}
function fetch32Slow(): u32 {
  checkLength(4);
  const v = read32(CS, nextEip);
  nextEip += 4;
  return v;
}

// @ts-ignore: decorator
@inline
export function fetch8(): u32 {
  const e = nextEip;
  if (e - startEip < fetchAvail) {
    nextEip = e + 1;
    return load<u8>(fetchHost + e);
  }
  return fetch8Slow();
}
export function fetch16(): u32 {
  const e = nextEip;
  if (e - startEip + 2 <= fetchAvail) {
    nextEip = e + 2;
    return load<u16>(fetchHost + e);
  }
  return fetch16Slow();
}
export function fetch32(): u32 {
  const e = nextEip;
  if (e - startEip + 4 <= fetchAvail) {
    nextEip = e + 4;
    return load<u32>(fetchHost + e);
  }
  return fetch32Slow();
}
/** Immediate of the operand size (16 or 32 bits). */
export function fetchImm(): u32 {
  return o32 ? fetch32() : fetch16();
}
/** Sign-extended 8-bit immediate/displacement. */
export function fetchS8(): u32 {
  return <u32>(<i32>(<i8>fetch8()));
}

/** Read the ModRM byte and, for a memory operand, compute eaSeg:eaOff. */
export function decodeModRM(): void {
  const b = fetch8();
  mod = b >> 6;
  regField = (b >> 3) & 7;
  rm = b & 7;
  if (mod == 3) return;
  if (a32) decodeEA32();
  else decodeEA16();
  if (segOverride >= 0) eaSeg = <u32>segOverride;
}

function decodeEA16(): void {
  let off: u32;
  let seg = DS;
  switch (rm) {
    case 0:
      off = reg16(3) + reg16(6);
      break; // BX+SI
    case 1:
      off = reg16(3) + reg16(7);
      break; // BX+DI
    case 2:
      off = reg16(5) + reg16(6);
      seg = SS;
      break; // BP+SI
    case 3:
      off = reg16(5) + reg16(7);
      seg = SS;
      break; // BP+DI
    case 4:
      off = reg16(6);
      break; // SI
    case 5:
      off = reg16(7);
      break; // DI
    case 6:
      if (mod == 0) {
        off = fetch16();
      } else {
        off = reg16(5);
        seg = SS;
      } // disp16 / BP
      break;
    default:
      off = reg16(3);
      break; // BX
  }
  if (mod == 1) off += fetchS8();
  else if (mod == 2) off += fetch16();
  eaSeg = seg;
  eaOff = off & 0xffff;
}

function decodeEA32(): void {
  let off: u32;
  let seg = DS;
  if (rm == 4) {
    const sib = fetch8();
    const scale = sib >> 6;
    const index = (sib >> 3) & 7;
    const base = sib & 7;
    if (base == EBP && mod == 0) {
      off = fetch32();
    } else {
      off = reg32(base);
      if (base == ESP || base == EBP) seg = SS;
    }
    if (index != ESP) off += reg32(index) << scale;
  } else if (rm == 5 && mod == 0) {
    off = fetch32();
  } else {
    off = reg32(rm);
    if (rm == EBP) seg = SS;
  }
  if (mod == 1) off += fetchS8();
  else if (mod == 2) off += fetch32();
  eaSeg = seg;
  eaOff = off;
}

/** The segment for an instruction's implicit DS operand (string source, XLAT, MOV moffs). */
export function dataSeg(): u32 {
  return segOverride >= 0 ? <u32>segOverride : DS;
}
