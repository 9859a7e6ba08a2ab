// String instructions MOVS CMPS STOS LODS SCAS INS OUTS with REP/REPE/REPNE (SDM vol. 2 §4.2
// "REP/REPE/REPZ/REPNE/REPNZ"). A repeated instruction runs at most REP_CHUNK iterations per
// step and then restarts itself, so interrupts and the run budget are honoured mid-string.
import { reg32, setReg32, setReg16, ES, ECX, ESI, EDI, EDX, EAX } from "./state";
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
  while (count() != 0) {
    once(kind, sz, step);
    if (faulted()) return;
    setIdx(ECX, count() - 1);
    // CMPS/SCAS stop on the condition (REPE: ZF=0 ends; REPNE: ZF=1 ends).
    if (kind == KIND_CMPS || kind == KIND_SCAS) {
      const z = zf();
      if ((rep == 0xf3 && z == 0) || (rep == 0xf2 && z != 0)) return;
    }
    if (++n >= REP_CHUNK && count() != 0) {
      setNextEip(startEip);
      return;
    }
  }
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
