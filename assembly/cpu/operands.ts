// Sized operand access. Size index: 0 = 8-bit, 1 = 16-bit, 2 = 32-bit.
import { mod, rm, eaSeg, eaOff, o32 } from "./decode";
import { reg8, reg16, reg32, setReg8, setReg16, setReg32 } from "./state";
import { read8, read16, read32, write8, write16, write32 } from "./memory";

/** Size index of a non-byte operand: 1 or 2 by the operand-size attribute. */
export function osz(): u32 {
  return o32 ? 2 : 1;
}

export function getReg(sz: u32, r: u32): u32 {
  if (sz == 2) return reg32(r);
  if (sz == 1) return reg16(r);
  return reg8(r);
}

export function setReg(sz: u32, r: u32, v: u32): void {
  if (sz == 2) setReg32(r, v);
  else if (sz == 1) setReg16(r, v);
  else setReg8(r, v);
}

export function readMem(sz: u32, s: u32, off: u32): u32 {
  if (sz == 2) return read32(s, off);
  if (sz == 1) return read16(s, off);
  return read8(s, off);
}

export function writeMem(sz: u32, s: u32, off: u32, v: u32): void {
  if (sz == 2) write32(s, off, v);
  else if (sz == 1) write16(s, off, v);
  else write8(s, off, v);
}

/** The r/m operand of the current ModRM. */
export function rmRead(sz: u32): u32 {
  return mod == 3 ? getReg(sz, rm) : readMem(sz, eaSeg, eaOff);
}

export function rmWrite(sz: u32, v: u32): void {
  if (mod == 3) setReg(sz, rm, v);
  else writeMem(sz, eaSeg, eaOff, v);
}

export function maskOf(sz: u32): u32 {
  return sz == 2 ? 0xffffffff : sz == 1 ? 0xffff : 0xff;
}

export function signBit(sz: u32): u32 {
  return sz == 2 ? 0x80000000 : sz == 1 ? 0x8000 : 0x80;
}

/** Sign-extend the low 8 << sz bits of v to 32 bits. */
export function sext(sz: u32, v: u32): u32 {
  return sz == 2 ? v : sz == 1 ? <u32>(<i32>(<i16>v)) : <u32>(<i32>(<i8>v));
}
