// String instructions MOVS CMPS STOS LODS SCAS INS OUTS with REP/REPE/REPNE (SDM vol. 2 §4.2
// "REP/REPE/REPZ/REPNE/REPNZ"). A repeated instruction runs at most REP_CHUNK iterations per
// step and then restarts itself, so interrupts and the run budget are honoured mid-string.
import { reg32, setReg32, setReg16, ES, ECX, ESI, EDI, EDX, EAX } from "./state";
import { hostRun, runElems } from "./memory";
import { a32, rep, dataSeg, setNextEip, startEip } from "./decode";
import { readMem, writeMem, getReg, setReg } from "./operands";
import { sysFlags, F_DF } from "./flags";
import { alu } from "./alu";
import { zf } from "./flags";
import { faulted } from "./fault";
import { portIn, portOut } from "../io";
import { checkIoPermission } from "./io-permission";

const REP_CHUNK: u32 = 4096;

function addrMask(): u32 {
  return a32 ? 0xffffffff : 0xffff;
}

function idx(r: u32): u32 {
  return reg32(r) & addrMask();
}

function setIdx(r: u32, v: u32): void {
  if (a32) setReg32(r, v);
  else setReg16(r, v);
}

function count(): u32 {
  return a32 ? reg32(ECX) : reg32(ECX) & 0xffff;
}

/** Run one string operation `kind` of size index sz, once or repeated. */
export function stringOp(kind: u32, sz: u32): void {
  const step: u32 = (sysFlags() & F_DF) != 0 ? -(1 << sz) : 1 << sz;
  if (kind == KIND_INS || kind == KIND_OUTS) {
    if (!checkIoPermission(reg32(EDX) & 0xffff, 1 << sz)) return;
  }
  if (rep == 0) {
    once(kind, sz, step);
    return;
  }
  let n: u32 = 0;
  const fast = a32 && (sysFlags() & F_DF) == 0 && kind <= KIND_STOS;
  while (count() != 0) {
    // Forward REP MOVS/CMPS/STOS with 32-bit addresses: a whole run inside a page at once.
    const k = fast ? bulk(kind, sz, REP_CHUNK - n) : 0;
    if (k != 0) {
      n += k;
    } else {
      once(kind, sz, step);
      if (faulted()) return;
      setIdx(ECX, count() - 1);
      n++;
    }
    // CMPS/SCAS stop on the condition (REPE: ZF=0 ends; REPNE: ZF=1 ends).
    if (kind == KIND_CMPS || kind == KIND_SCAS) {
      const z = zf();
      if ((rep == 0xf3 && z == 0) || (rep == 0xf2 && z != 0)) return;
    }
    if (n >= REP_CHUNK && count() != 0) {
      setNextEip(startEip);
      return;
    }
  }
}

/**
 * The bulk path of `stringOp` for forward MOVS, CMPS and STOS with 32-bit addresses: one run of
 * at most `max` elements that the TLB maps inside one page (per operand) and the segment limits
 * allow, through memory.copy/fill or a host-memory compare loop. Returns the iterations done, 0
 * when the per-element path must take the next one (page or limit end, no TLB entry, MMIO, code
 * pages, faults). The result is that of the per-element loop: registers, memory and flags (CMPS:
 * of its last comparison, and it stops after the one that ends a REPE/REPNE).
 */
function bulk(kind: u32, sz: u32, max: u32): u32 {
  const esz: u32 = 1 << sz;
  const left = count();
  if (left < max) max = left;
  const di = reg32(EDI);
  const hd = hostRun(ES, di, esz, max, kind != KIND_CMPS);
  let k = runElems;
  if (hd == 0 || k == 0) return 0;
  if (kind == KIND_STOS) {
    const v = reg32(EAX);
    if (sz == 0) memory.fill(hd, <u8>v, k);
    else if (sz == 1) for (let i: u32 = 0; i < k; i++) store<u16>(hd + (i << 1), <u16>v);
    else for (let i: u32 = 0; i < k; i++) store<u32>(hd + (i << 2), v);
    setReg32(EDI, di + (k << sz));
    setReg32(ECX, left - k);
    return k;
  }
  const si = reg32(ESI);
  const hs = hostRun(dataSeg(), si, esz, k, false);
  if (hs == 0 || runElems == 0) return 0;
  k = runElems;
  const bytes = k << sz;
  if (kind == KIND_MOVS) {
    if (hd - hs < bytes && hd != hs) {
      // The destination overlaps ahead of the source: element by element, as the CPU does
      // (memory.copy would be a memmove).
      for (let o: u32 = 0; o < bytes; o += esz) {
        if (sz == 0) store<u8>(hd + o, load<u8>(hs + o));
        else if (sz == 1) store<u16>(hd + o, load<u16>(hs + o));
        else store<u32>(hd + o, load<u32>(hs + o));
      }
    } else {
      memory.copy(hd, hs, bytes);
    }
  } else {
    // CMPS: compare until the REPE/REPNE condition ends the run; flags of the last comparison.
    const wantEqual = rep == 0xf3;
    let i: u32 = 0;
    let a: u32 = 0;
    let b: u32 = 0;
    while (i < k) {
      const o = i << sz;
      a = sz == 0 ? <u32>load<u8>(hs + o) : sz == 1 ? <u32>load<u16>(hs + o) : load<u32>(hs + o);
      b = sz == 0 ? <u32>load<u8>(hd + o) : sz == 1 ? <u32>load<u16>(hd + o) : load<u32>(hd + o);
      i++;
      if ((a == b) != wantEqual) break;
    }
    alu(7, sz, a, b);
    k = i;
  }
  setReg32(ESI, si + (k << sz));
  setReg32(EDI, di + (k << sz));
  setReg32(ECX, left - k);
  return k;
}

export const KIND_MOVS: u32 = 0;
export const KIND_CMPS: u32 = 1;
export const KIND_STOS: u32 = 2;
export const KIND_LODS: u32 = 3;
export const KIND_SCAS: u32 = 4;
export const KIND_INS: u32 = 5;
export const KIND_OUTS: u32 = 6;

function once(kind: u32, sz: u32, step: u32): void {
  const m = addrMask();
  switch (kind) {
    case KIND_MOVS: {
      const v = readMem(sz, dataSeg(), idx(ESI));
      if (faulted()) return;
      writeMem(sz, ES, idx(EDI), v);
      if (faulted()) return;
      setIdx(ESI, (idx(ESI) + step) & m);
      setIdx(EDI, (idx(EDI) + step) & m);
      break;
    }
    case KIND_CMPS: {
      const a = readMem(sz, dataSeg(), idx(ESI));
      const b = readMem(sz, ES, idx(EDI));
      if (faulted()) return;
      alu(7, sz, a, b);
      setIdx(ESI, (idx(ESI) + step) & m);
      setIdx(EDI, (idx(EDI) + step) & m);
      break;
    }
    case KIND_STOS:
      writeMem(sz, ES, idx(EDI), getReg(sz, EAX));
      if (faulted()) return;
      setIdx(EDI, (idx(EDI) + step) & m);
      break;
    case KIND_LODS: {
      const v = readMem(sz, dataSeg(), idx(ESI));
      if (faulted()) return;
      setReg(sz, EAX, v);
      setIdx(ESI, (idx(ESI) + step) & m);
      break;
    }
    case KIND_SCAS: {
      const v = readMem(sz, ES, idx(EDI));
      if (faulted()) return;
      alu(7, sz, getReg(sz, EAX), v);
      setIdx(EDI, (idx(EDI) + step) & m);
      break;
    }
    case KIND_INS: {
      // The destination is probed first so a fault does not lose the port read.
      readMem(sz, ES, idx(EDI));
      if (faulted()) return;
      const v = portIn(reg32(EDX), 1 << sz);
      writeMem(sz, ES, idx(EDI), v);
      setIdx(EDI, (idx(EDI) + step) & m);
      break;
    }
    default: {
      const v = readMem(sz, dataSeg(), idx(ESI));
      if (faulted()) return;
      portOut(reg32(EDX), 1 << sz, v);
      setIdx(ESI, (idx(ESI) + step) & m);
      break;
    }
  }
}
