// Stack operations through SS (SDM vol. 1 §6.2). The stack pointer width follows SS's B bit.
// A push writes before ESP changes and a pop reads before, so a fault leaves ESP intact.
import { reg32, setReg32, setReg16, segAttr, ESP, SS, ATTR_DB } from "./state";
import { readMem, writeMem } from "./operands";
import { faulted } from "./fault";

export function ss32(): bool {
  return (segAttr(SS) & ATTR_DB) != 0;
}

/** ESP as an offset in SS (16-bit stacks use SP). */
export function spOffset(): u32 {
  return ss32() ? reg32(ESP) : reg32(ESP) & 0xffff;
}

/** Set the stack pointer, keeping the upper half of ESP on 16-bit stacks. */
export function setSp(v: u32): void {
  if (ss32()) setReg32(ESP, v);
  else setReg16(ESP, v);
}

/** Push a value of size index sz (1: 16-bit, 2: 32-bit). */
export function push(sz: u32, v: u32): void {
  const n: u32 = sz == 2 ? 4 : 2;
  const sp = (spOffset() - n) & (ss32() ? 0xffffffff : 0xffff);
  writeMem(sz, SS, sp, v);
  if (!faulted()) setSp(sp);
}

/** Pop a value of size index sz. Check `faulted()` before using the result. */
export function pop(sz: u32): u32 {
  const sp = spOffset();
  const v = readMem(sz, SS, sp);
  if (!faulted()) setSp(sp + (sz == 2 ? 4 : 2));
  return v;
}

/** Read the stack at `depth` bytes above the stack pointer without popping. */
export function peek(sz: u32, depth: u32): u32 {
  return readMem(sz, SS, (spOffset() + depth) & (ss32() ? 0xffffffff : 0xffff));
}
