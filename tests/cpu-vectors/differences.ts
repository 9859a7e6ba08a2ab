/**
 * Differences between the 80286 the vectors were recorded on and the i686 trapdoor models, that
 * the harness accounts for by rule (README of ../shared/cpu-tests): the vector is checked
 * against the i686 behaviour instead of the 286's. Differences without a rule are counted per
 * opcode in known-differences.json.
 */
import { PREFIXES, type Vector } from "./vectors.js";

/**
 * A LOCK prefix on anything but a read-modify-write instruction with a memory destination:
 * the 286 ignores it, an i686 raises #UD (SDM vol. 2 "LOCK"). Only one-byte opcodes occur here.
 */
export function invalidLock(v: Vector): boolean {
  const b = v.bytes;
  let i = 0;
  let lock = false;
  for (; PREFIXES.has(b[i]!); i++) lock ||= b[i] === 0xf0;
  if (!lock) return false;
  const op = b[i]!;
  const modrm = b[i + 1] ?? 0;
  const reg = (modrm >> 3) & 7;
  if (op === 0x0f || modrm >= 0xc0) return true;
  if (op < 0x40) return !((op & 7) < 2 && op >> 3 !== 7); // ALU Eb,Gb / Ev,Gv except CMP
  if (op >= 0x80 && op <= 0x83) return reg === 7; // CMP
  if (op === 0x86 || op === 0x87) return false; // XCHG
  if (op === 0xf6 || op === 0xf7) return reg !== 2 && reg !== 3; // NOT, NEG
  if (op === 0xfe || op === 0xff) return reg > 1; // INC, DEC
  return true;
}

/**
 * POPF (9D) and IRET (CF) in real mode: the 286 keeps FLAGS bits 12-14 (IOPL, NT) clear, an
 * i686 loads them from the popped image (SDM vol. 2 "POPF", "IRET"). Returns the popped bits
 * 12-14 to expect, or 0 for other instructions.
 */
export function poppedIoplNt(opcode: string, v: Vector): number {
  if ((opcode !== "9D" && opcode !== "CF") || v.exception !== undefined) return 0;
  const r = v.initial.regs;
  const at = r.ss * 16 + ((r.sp + (opcode === "CF" ? 4 : 0) + 1) & 0xffff);
  const hi = v.initial.ram.find(([a]) => a === at)?.[1] ?? 0;
  return (hi << 8) & 0x7000;
}
