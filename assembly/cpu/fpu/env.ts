// x87 environment and state images in memory: FSTENV/FLDENV, FSAVE/FRSTOR (SDM vol. 1 §8.1.10,
// figures 8-9 to 8-12) and FXSAVE/FXRSTOR (SDM vol. 2 "FXSAVE", table 3-53). Everything is read
// before any state changes, so a fault part-way leaves the FPU as it was.
import { read8, read16, read32, write8, write16, write32 } from "../memory";
import { faulted } from "../fault";
import { realOrV86 } from "../segments";
import {
  fcw,
  setFcw,
  fsw,
  setFsw,
  tags,
  setTags,
  top,
  fip,
  fcs,
  fop,
  fdp,
  fds,
  setPointers,
  physSe,
  physSig,
  setPhys,
  fullTag,
  loadFullTag,
  setFerr,
  fpuInit,
  SW_ES,
  SW_B,
} from "./state";

/** An 80-bit value read by read80. */
export let mSe: u32 = 0;
export let mSig: u64 = 0;

export function read80(seg: u32, off: u32): void {
  const lo = read32(seg, off);
  const hi = read32(seg, off + 4);
  const se = read16(seg, off + 8);
  mSig = ((<u64>hi) << 32) | lo;
  mSe = se;
}

export function write80(seg: u32, off: u32, se: u32, sig: u64): void {
  write32(seg, off, <u32>sig);
  write32(seg, off + 4, <u32>(sig >> 32));
  write16(seg, off + 8, se);
}

/** The status word as stored: TOP is kept inside it; B mirrors ES. */
function storedSw(): u32 {
  const sw = fsw();
  return (sw & SW_ES) != 0 ? sw | SW_B : sw & ~SW_B;
}

/**
 * FNSTENV: 28 bytes (32-bit operand size) or 14 (16-bit), protected or real-mode layout. In the
 * 32-bit layouts the reserved upper halves read as FFFFH, as Intel processors store them.
 * Returns the size.
 */
export function storeEnv(seg: u32, off: u32, o32: bool): u32 {
  const real = realOrV86();
  const cw = fcw() & 0xffff;
  const sw = storedSw();
  const tw = fullTag();
  if (o32) {
    write32(seg, off, 0xffff0000 | cw);
    write32(seg, off + 4, 0xffff0000 | sw);
    write32(seg, off + 8, 0xffff0000 | tw);
    if (real) {
      const ip = (fcs() << 4) + fip();
      const dp = (fds() << 4) + fdp();
      write32(seg, off + 12, 0xffff0000 | (ip & 0xffff));
      write32(seg, off + 16, ((ip >> 16) << 12) | fop());
      write32(seg, off + 20, 0xffff0000 | (dp & 0xffff));
      write32(seg, off + 24, (dp >> 16) << 12);
    } else {
      write32(seg, off + 12, fip());
      write32(seg, off + 16, fcs() | (fop() << 16));
      write32(seg, off + 20, fdp());
      write32(seg, off + 24, 0xffff0000 | fds());
    }
    return 28;
  }
  write16(seg, off, cw);
  write16(seg, off + 2, sw);
  write16(seg, off + 4, tw);
  if (real) {
    const ip = (fcs() << 4) + fip();
    const dp = (fds() << 4) + fdp();
    write16(seg, off + 6, ip);
    write16(seg, off + 8, (((ip >> 16) & 0xf) << 12) | fop());
    write16(seg, off + 10, dp);
    write16(seg, off + 12, ((dp >> 16) & 0xf) << 12);
  } else {
    write16(seg, off + 6, fip());
    write16(seg, off + 8, fcs());
    write16(seg, off + 10, fdp());
    write16(seg, off + 12, fds());
  }
  return 14;
}

// Environment fields read by readEnv, committed by commitEnv.
let eCw: u32 = 0,
  eSw: u32 = 0,
  eTw: u32 = 0,
  eIp: u32 = 0,
  eCs: u32 = 0,
  eOp: u32 = 0,
  eDp: u32 = 0,
  eDs: u32 = 0;

function readEnv(seg: u32, off: u32, o32: bool): u32 {
  const real = realOrV86();
  if (o32) {
    eCw = read16(seg, off);
    eSw = read16(seg, off + 4);
    eTw = read16(seg, off + 8);
    if (real) {
      const w16 = read32(seg, off + 16);
      eIp = read16(seg, off + 12) | ((w16 >> 12) << 16);
      eOp = w16 & 0x7ff;
      eDp = read16(seg, off + 20) | ((read32(seg, off + 24) >> 12) << 16);
      eCs = 0;
      eDs = 0;
    } else {
      eIp = read32(seg, off + 12);
      const w = read32(seg, off + 16);
      eCs = w & 0xffff;
      eOp = (w >> 16) & 0x7ff;
      eDp = read32(seg, off + 20);
      eDs = read16(seg, off + 24);
    }
    return 28;
  }
  eCw = read16(seg, off);
  eSw = read16(seg, off + 2);
  eTw = read16(seg, off + 4);
  if (real) {
    const w8 = read16(seg, off + 8);
    eIp = read16(seg, off + 6) | ((w8 >> 12) << 16);
    eOp = w8 & 0x7ff;
    eDp = read16(seg, off + 10) | ((read16(seg, off + 12) >> 12) << 16);
    eCs = 0;
    eDs = 0;
  } else {
    eIp = read16(seg, off + 6);
    eCs = read16(seg, off + 8);
    eOp = 0;
    eDp = read16(seg, off + 10);
    eDs = read16(seg, off + 12);
  }
  return 14;
}

/** Control word as loaded: reserved bits 6 (reads 1), 7 and 13-15 (read 0), as on Intel parts. */
export function fixCw(v: u32): u32 {
  return (v & 0x1f3f) | 0x40;
}

function commitEnv(): void {
  setFcw(fixCw(eCw));
  const sw = (eSw & SW_ES) != 0 ? eSw | SW_B : eSw & ~SW_B;
  setFsw(sw);
  loadFullTag(eTw);
  setPointers(eIp, eCs, eOp, eDp, eDs);
  if ((sw & SW_ES) == 0) setFerr(0);
}

/** FLDENV. */
export function loadEnv(seg: u32, off: u32, o32: bool): void {
  readEnv(seg, off, o32);
  if (!faulted()) commitEnv();
}

/** FNSAVE: the environment, then ST(0)..ST(7) as 80-bit values; then FNINIT. */
export function fsave(seg: u32, off: u32, o32: bool): void {
  const n = storeEnv(seg, off, o32);
  const t = top();
  for (let i: u32 = 0; i < 8 && !faulted(); i++) {
    const p = (t + i) & 7;
    write80(seg, off + n + i * 10, physSe(p), physSig(p));
  }
  if (!faulted()) fpuInit();
}

const rstSe = new StaticArray<u32>(8);
const rstSig = new StaticArray<u64>(8);

/** FRSTOR. */
export function frstor(seg: u32, off: u32, o32: bool): void {
  const n = readEnv(seg, off, o32);
  for (let i: u32 = 0; i < 8; i++) {
    read80(seg, off + n + i * 10);
    unchecked((rstSe[i] = mSe));
    unchecked((rstSig[i] = mSig));
  }
  if (faulted()) return;
  commitEnv();
  const t = (eSw >> 11) & 7;
  for (let i: u32 = 0; i < 8; i++) setPhys((t + i) & 7, unchecked(rstSe[i]), unchecked(rstSig[i]));
}

/**
 * FXSAVE (512-byte image, 16-byte aligned, checked by the caller). Without SSE the MXCSR and
 * XMM areas and the six reserved bytes after each register are left as they were.
 */
export function fxsave(seg: u32, off: u32): void {
  write16(seg, off, fcw());
  write16(seg, off + 2, storedSw());
  write8(seg, off + 4, tags());
  write8(seg, off + 5, 0);
  write16(seg, off + 6, fop());
  write32(seg, off + 8, fip());
  write32(seg, off + 12, fcs());
  write32(seg, off + 16, fdp());
  write32(seg, off + 20, fds());
  const t = top();
  for (let i: u32 = 0; i < 8 && !faulted(); i++) {
    const p = (t + i) & 7;
    write80(seg, off + 32 + i * 16, physSe(p), physSig(p));
  }
}

/** FXRSTOR: the abridged tag is loaded as is. */
export function fxrstor(seg: u32, off: u32): void {
  const cw = read16(seg, off);
  const sw = read16(seg, off + 2);
  const tw = read8(seg, off + 4);
  const op = read16(seg, off + 6);
  const ip = read32(seg, off + 8);
  const cs = read16(seg, off + 12);
  const dp = read32(seg, off + 16);
  const ds = read16(seg, off + 20);
  for (let i: u32 = 0; i < 8; i++) {
    read80(seg, off + 32 + i * 16);
    unchecked((rstSe[i] = mSe));
    unchecked((rstSig[i] = mSig));
  }
  if (faulted()) return;
  eCw = cw;
  eSw = sw;
  commitEnv();
  setTags(tw);
  setPointers(ip, cs, op, dp, ds);
  const t = (sw >> 11) & 7;
  for (let i: u32 = 0; i < 8; i++) setPhys((t + i) & 7, unchecked(rstSe[i]), unchecked(rstSig[i]));
}
