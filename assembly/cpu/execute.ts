// The one-byte opcode map (SDM vol. 2 appendix A, table A-2). `step` executes one instruction:
// prefixes, then a single top-level switch on the opcode (compiled to a jump table).
import {
  reg32,
  setReg32,
  reg16,
  setReg16,
  reg8,
  setReg8,
  eip,
  setEip,
  segSel,
  segBase,
  protectedMode,
  cpl,
  EAX,
  ECX,
  EDX,
  EBX,
  ESP,
  EBP,
  ESI,
  EDI,
  ES,
  CS,
  SS,
  DS,
  FS,
  GS,
} from "./state";
import {
  beginInstruction,
  fetch8,
  fetch16,
  fetch32,
  fetchImm,
  fetchS8,
  decodeModRM,
  nextEip,
  setNextEip,
  startEip,
  o32,
  a32,
  setO32,
  setA32,
  setSegOverride,
  setRep,
  setLock,
  lockPrefix,
  mod,
  regField,
  rm,
  eaSeg,
  eaOff,
  dataSeg,
  rep,
} from "./decode";
import { osz, getReg, setReg, rmRead, rmWrite, readMem, writeMem, sext, maskOf } from "./operands";
import { alu, inc, dec, neg, shift, mul1, imul2, div1, logicFlags } from "./alu";
import {
  getFlags,
  setFlags,
  setFlagBits,
  sysFlags,
  condition,
  cf,
  af,
  setLazy,
  parity,
  F_CF,
  F_AF,
  F_IF,
  F_DF,
  F_IOPL,
  F_ZF,
  F_SF,
  F_PF,
  F_OF,
  F_VM,
  F_ARITH,
  LF_LOGIC,
} from "./flags";
import { push, pop, setSp, spOffset, ss32 } from "./stack";
import { loadSeg, loadSegReal, realOrV86, vm86 } from "./segments";
import { interrupt, iret, writeFlagsPrivileged, farReturnProtected } from "./interrupts";
import { farJump, farCall } from "./far";
import {
  stringOp,
  KIND_MOVS,
  KIND_CMPS,
  KIND_STOS,
  KIND_LODS,
  KIND_SCAS,
  KIND_INS,
  KIND_OUTS,
} from "./strings";
import { checkIoPermission } from "./io-permission";
import { portIn, portOut } from "../io";
import { read8, read16, read32 } from "./memory";
import { raise, raiseNoCode, faulted, raiseAttention, EXC_GP, EXC_UD, EXC_BR, EXC_NM } from "./fault";
import { step0f } from "./execute0f";
import { virtualCliSti, virtualPushf, virtualPopf, virtualIret, v86SoftInt } from "./vme";
import { countOpcode } from "./profile";
import { fpuEscape, fpuWait } from "./fpu/execute";
import { STATE_BASE, S_HALTED, S_INT_SHADOW, CTL_BASE, C_ERR_OPCODE, C_ERR_EIP } from "../layout";
import { C_SOFT_INT_VECTORS, EXIT_HLT } from "../layout";
import { recordExit } from "../exits";

/** Set when the current instruction is one the core does not implement (stop, report). */
export let unimplemented: bool = false;
export function clearUnimplemented(): void {
  unimplemented = false;
}

/** Stop the run: an opcode we have not implemented yet. Undefined opcodes raise #UD instead. */
export function notImplemented(opcode: u32): void {
  unimplemented = true;
  store<u32>(CTL_BASE + C_ERR_OPCODE, opcode);
  store<u32>(CTL_BASE + C_ERR_EIP, segBase(CS) + startEip);
}

function ipMask(v: u32): u32 {
  return o32 ? v : v & 0xffff;
}

/** Near jump to `target` (truncated to 16 bits with a 16-bit operand size). */
export function jumpNear(target: u32): void {
  setNextEip(ipMask(target));
}

/** IOPL-sensitive instructions (CLI, STI, PUSHF/POPF in V86, ...): CPL must be <= IOPL. */
function iopl_ok(): bool {
  if (!protectedMode()) return true;
  return cpl() <= (sysFlags() & F_IOPL) >> 12;
}

/** Execute one instruction at EIP. On a fault, the caller restores EIP from `startEip`. */
export function step(): void {
  beginInstruction(eip());
  let op = fetch8();
  // Prefixes (SDM vol. 2 §2.1.1); at most 15 bytes in all, checked by fetch.
  for (;;) {
    if (faulted()) return;
    switch (op) {
      case 0x26:
        setSegOverride(ES);
        break;
      case 0x2e:
        setSegOverride(CS);
        break;
      case 0x36:
        setSegOverride(SS);
        break;
      case 0x3e:
        setSegOverride(DS);
        break;
      case 0x64:
        setSegOverride(FS);
        break;
      case 0x65:
        setSegOverride(GS);
        break;
      case 0x66:
        setO32(!o32_default());
        break;
      case 0x67:
        setA32(!a32_default());
        break;
      case 0xf0:
        setLock();
        break;
      case 0xf2:
        setRep(0xf2);
        break;
      case 0xf3:
        setRep(0xf3);
        break;
      default: {
        if (lockPrefix && !lockValid(op)) return raiseNoCode(EXC_UD);
        execute(op);
        // In a 16-bit code segment IP wraps at 64 KiB (SDM vol. 2 §3.1.1.9: EIP AND 0FFFFH).
        if (!faulted()) setEip(o32_default() ? nextEip : nextEip & 0xffff);
        return;
      }
    }
    op = fetch8();
  }
}

function o32_default(): bool {
  return (load<u32>(STATE_BASE + 112 + (CS << 2)) & 0x4000) != 0;
}
function a32_default(): bool {
  return o32_default();
}

/**
 * LOCK is valid only on a read-modify-write instruction with a memory destination (SDM vol. 2
 * "LOCK"): ADD ADC AND BTC BTR BTS CMPXCHG CMPXCHG8B DEC INC NEG NOT OR SBB SUB XOR XADD XCHG.
 * Anything else raises #UD. The opcode's ModRM (and second opcode byte) are peeked, not consumed.
 */
function lockValid(op: u32): bool {
  const start = nextEip;
  if (op == 0x0f) op = 0x100 | fetch8();
  if (!lockableOpcode(op)) {
    setNextEip(start);
    return false;
  }
  const modrm = fetch8();
  setNextEip(start);
  const reg = (modrm >> 3) & 7;
  if (modrm >= 0xc0) return false;
  switch (op) {
    case 0x80:
    case 0x81:
    case 0x82:
    case 0x83:
      return reg != 7; // not CMP
    case 0xf6:
    case 0xf7:
      return reg == 2 || reg == 3; // NOT, NEG
    case 0xfe:
    case 0xff:
      return reg < 2; // INC, DEC
    case 0x1ba:
      return reg >= 5; // BTS, BTR, BTC imm8
    case 0x1c7:
      return reg == 1; // CMPXCHG8B
    default:
      return true;
  }
}

/** Opcodes (0F xx as 0x1xx) that may take LOCK, before their ModRM is checked. */
function lockableOpcode(op: u32): bool {
  if (op < 0x40) return (op & 7) < 2 && op >> 3 != 7; // ALU Eb,Gb / Ev,Gv except CMP
  switch (op) {
    case 0x80:
    case 0x81:
    case 0x82:
    case 0x83:
    case 0x86:
    case 0x87:
    case 0xf6:
    case 0xf7:
    case 0xfe:
    case 0xff:
    case 0x1ab:
    case 0x1b3:
    case 0x1bb:
    case 0x1ba:
    case 0x1b0:
    case 0x1b1:
    case 0x1c0:
    case 0x1c1:
    case 0x1c7:
      return true;
    default:
      return false;
  }
}

function execute(op: u32): void {
  if (op != 0x0f) countOpcode(op);
  // ALU block 00-3F: op >> 3 selects ADD OR ADC SBB AND SUB XOR CMP; low 3 bits the form.
  if (op < 0x40 && (op & 7) < 6) {
    aluForm(op >> 3, op & 7);
    return;
  }
  switch (op) {
    case 0x06:
    case 0x0e:
    case 0x16:
    case 0x1e: // PUSH ES/CS/SS/DS
      push(osz(), segSel(op >> 3));
      return;
    case 0x07:
    case 0x17:
    case 0x1f: {
      // POP ES/SS/DS
      const v = pop(osz());
      if (faulted()) return;
      const before = spOffset();
      if (!loadSeg(op >> 3, v)) {
        setSp(before - (o32 ? 4 : 2));
        return;
      }
      if (op == 0x17) {
        store<u32>(STATE_BASE + S_INT_SHADOW, 1);
        raiseAttention();
      }
      return;
    }
    case 0x0f:
      step0f(fetch8());
      return;
    case 0x27:
      daa();
      return;
    case 0x2f:
      das();
      return;
    case 0x37:
      aaa(true);
      return;
    case 0x3f:
      aaa(false);
      return;
    case 0x40:
    case 0x41:
    case 0x42:
    case 0x43:
    case 0x44:
    case 0x45:
    case 0x46:
    case 0x47:
      setReg(osz(), op & 7, inc(osz(), getReg(osz(), op & 7)));
      return;
    case 0x48:
    case 0x49:
    case 0x4a:
    case 0x4b:
    case 0x4c:
    case 0x4d:
    case 0x4e:
    case 0x4f:
      setReg(osz(), op & 7, dec(osz(), getReg(osz(), op & 7)));
      return;
    case 0x50:
    case 0x51:
    case 0x52:
    case 0x53:
    case 0x54:
    case 0x55:
    case 0x56:
    case 0x57:
      push(osz(), getReg(osz(), op & 7)); // PUSH ESP pushes the value before the push
      return;
    case 0x58:
    case 0x59:
    case 0x5a:
    case 0x5b:
    case 0x5c:
    case 0x5d:
    case 0x5e:
    case 0x5f: {
      const v = pop(osz());
      if (!faulted()) setReg(osz(), op & 7, v);
      return;
    }
    case 0x60:
      pusha();
      return;
    case 0x61:
      popa();
      return;
    case 0x62:
      bound();
      return;
    case 0x63:
      arpl();
      return;
    case 0x68:
      push(osz(), fetchImm());
      return;
    case 0x69:
    case 0x6b: {
      // IMUL r, r/m, imm
      decodeModRM();
      const sz = osz();
      const a = rmRead(sz);
      const b = op == 0x69 ? fetchImm() : fetchS8();
      if (faulted()) return;
      setReg(sz, regField, imul2(sz, a, b));
      return;
    }
    case 0x6a:
      push(osz(), fetchS8());
      return;
    case 0x6c:
    case 0x6d:
      stringOp(KIND_INS, op == 0x6c ? 0 : osz());
      return;
    case 0x6e:
    case 0x6f:
      stringOp(KIND_OUTS, op == 0x6e ? 0 : osz());
      return;
    case 0x70:
    case 0x71:
    case 0x72:
    case 0x73:
    case 0x74:
    case 0x75:
    case 0x76:
    case 0x77:
    case 0x78:
    case 0x79:
    case 0x7a:
    case 0x7b:
    case 0x7c:
    case 0x7d:
    case 0x7e:
    case 0x7f: {
      const d = fetchS8();
      if (condition(op & 15)) jumpNear(nextEip + d);
      return;
    }
    case 0x80:
    case 0x81:
    case 0x82:
    case 0x83: {
      // group 1: ALU r/m, imm
      decodeModRM();
      const sz: u32 = (op & 1) == 0 ? 0 : osz();
      const d = rmRead(sz);
      const s = op == 0x81 ? fetchImm() : op == 0x83 ? fetchS8() : fetch8();
      if (faulted()) return;
      const r = alu(regField, sz, d, s);
      if (regField != 7) rmWrite(sz, r);
      return;
    }
    case 0x84:
    case 0x85: {
      // TEST r/m, r
      decodeModRM();
      const sz: u32 = op == 0x84 ? 0 : osz();
      const v = rmRead(sz);
      if (!faulted()) logicFlags(sz, v & getReg(sz, regField));
      return;
    }
    case 0x86:
    case 0x87: {
      // XCHG r/m, r (implicitly locked)
      decodeModRM();
      const sz: u32 = op == 0x86 ? 0 : osz();
      const v = rmRead(sz);
      if (faulted()) return;
      rmWrite(sz, getReg(sz, regField));
      if (!faulted()) setReg(sz, regField, v);
      return;
    }
    case 0x88:
    case 0x89: {
      // MOV r/m, r
      decodeModRM();
      const sz: u32 = op == 0x88 ? 0 : osz();
      rmWrite(sz, getReg(sz, regField));
      return;
    }
    case 0x8a:
    case 0x8b: {
      // MOV r, r/m
      decodeModRM();
      const sz: u32 = op == 0x8a ? 0 : osz();
      const v = rmRead(sz);
      if (!faulted()) setReg(sz, regField, v);
      return;
    }
    case 0x8c: {
      // MOV r/m, Sreg (a register destination with o32 zero-extends on the i686)
      decodeModRM();
      if (regField > 5) return raiseNoCode(EXC_UD);
      if (mod == 3) setReg(osz(), rm, segSel(regField));
      else writeMem(1, eaSeg, eaOff, segSel(regField));
      return;
    }
    case 0x8d: // LEA
      decodeModRM();
      if (mod == 3) return raiseNoCode(EXC_UD);
      setReg(osz(), regField, eaOff);
      return;
    case 0x8e: {
      // MOV Sreg, r/m
      decodeModRM();
      if (regField == CS || regField > 5) return raiseNoCode(EXC_UD);
      const v = rmRead(1);
      if (faulted()) return;
      if (loadSeg(regField, v) && regField == SS) {
        store<u32>(STATE_BASE + S_INT_SHADOW, 1);
        raiseAttention();
      }
      return;
    }
    case 0x8f: {
      // POP r/m (ESP is incremented before the address is used)
      const sz = osz();
      const v = pop(sz);
      if (faulted()) return;
      decodeModRM();
      if (regField != 0) {
        setSp(spOffset() - (sz == 2 ? 4 : 2));
        return raiseNoCode(EXC_UD);
      }
      rmWrite(sz, v);
      if (faulted()) setSp(spOffset() - (sz == 2 ? 4 : 2));
      return;
    }
    case 0x90:
      return; // NOP (also PAUSE with F3)
    case 0x91:
    case 0x92:
    case 0x93:
    case 0x94:
    case 0x95:
    case 0x96:
    case 0x97: {
      const sz = osz();
      const t = getReg(sz, EAX);
      setReg(sz, EAX, getReg(sz, op & 7));
      setReg(sz, op & 7, t);
      return;
    }
    case 0x98: // CBW / CWDE
      if (o32) setReg32(EAX, sext(1, reg32(EAX)));
      else setReg16(EAX, sext(0, reg32(EAX)));
      return;
    case 0x99: // CWD / CDQ
      if (o32) setReg32(EDX, (reg32(EAX) & 0x80000000) != 0 ? 0xffffffff : 0);
      else setReg16(EDX, (reg32(EAX) & 0x8000) != 0 ? 0xffff : 0);
      return;
    case 0x9a: {
      // CALL ptr16:16/32
      const off = fetchImm();
      const sel = fetch16();
      if (faulted()) return;
      farCall(sel, off, osz());
      return;
    }
    case 0x9b: // FWAIT: #NM when MP and TS are both set, then pending x87 exceptions
      if ((load<u32>(STATE_BASE + 136) & 0xa) == 0xa) raiseNoCode(EXC_NM);
      else fpuWait();
      return;
    case 0x9c: // PUSHF
      if (vm86() && !iopl_ok()) return virtualPushf(osz());
      push(osz(), getFlags() & (o32 ? 0xfcffff : 0xffff)); // VM and RF read as 0
      return;
    case 0x9d: {
      // POPF
      if (vm86() && !iopl_ok()) return virtualPopf(osz());
      const v = pop(osz());
      if (!faulted()) writeFlagsPrivileged(v, osz(), true);
      return;
    }
    case 0x9e: // SAHF
      setFlags((getFlags() & ~0xd5) | (reg8(4) & 0xd5));
      return;
    case 0x9f: // LAHF
      setReg8(4, getFlags() & 0xff);
      return;
    case 0xa0:
    case 0xa1:
    case 0xa2:
    case 0xa3: {
      // MOV AL/eAX <-> moffs
      const off = a32 ? fetch32() : fetch16();
      if (faulted()) return;
      const sz: u32 = (op & 1) == 0 ? 0 : osz();
      if (op < 0xa2) {
        const v = readMem(sz, dataSeg(), off);
        if (!faulted()) setReg(sz, EAX, v);
      } else {
        writeMem(sz, dataSeg(), off, getReg(sz, EAX));
      }
      return;
    }
    case 0xa4:
    case 0xa5:
      stringOp(KIND_MOVS, op == 0xa4 ? 0 : osz());
      return;
    case 0xa6:
    case 0xa7:
      stringOp(KIND_CMPS, op == 0xa6 ? 0 : osz());
      return;
    case 0xa8:
      logicFlags(0, reg8(0) & fetch8());
      return;
    case 0xa9: {
      const v = fetchImm();
      logicFlags(osz(), getReg(osz(), EAX) & v);
      return;
    }
    case 0xaa:
    case 0xab:
      stringOp(KIND_STOS, op == 0xaa ? 0 : osz());
      return;
    case 0xac:
    case 0xad:
      stringOp(KIND_LODS, op == 0xac ? 0 : osz());
      return;
    case 0xae:
    case 0xaf:
      stringOp(KIND_SCAS, op == 0xae ? 0 : osz());
      return;
    case 0xb0:
    case 0xb1:
    case 0xb2:
    case 0xb3:
    case 0xb4:
    case 0xb5:
    case 0xb6:
    case 0xb7:
      setReg8(op & 7, fetch8());
      return;
    case 0xb8:
    case 0xb9:
    case 0xba:
    case 0xbb:
    case 0xbc:
    case 0xbd:
    case 0xbe:
    case 0xbf: {
      const v = fetchImm();
      if (!faulted()) setReg(osz(), op & 7, v);
      return;
    }
    case 0xc0:
    case 0xc1:
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
      // group 2 shifts
      decodeModRM();
      const sz: u32 = (op & 1) == 0 ? 0 : osz();
      const d = rmRead(sz);
      const n: u32 = op <= 0xc1 ? fetch8() : op <= 0xd1 ? 1 : reg8(1);
      if (faulted()) return;
      if ((n & 31) == 0) return;
      rmWrite(sz, shift(regField, sz, d, n));
      return;
    }
    case 0xc2:
    case 0xc3: {
      // RET near [imm16]
      const extra: u32 = op == 0xc2 ? fetch16() : 0;
      const t = pop(osz());
      if (faulted()) return;
      setSp(spOffset() + extra);
      jumpNear(t);
      return;
    }
    case 0xc4:
    case 0xc5: {
      // LES / LDS
      decodeModRM();
      if (mod == 3) return raiseNoCode(EXC_UD);
      loadFarPointer(op == 0xc4 ? ES : DS);
      return;
    }
    case 0xc6:
    case 0xc7: {
      // MOV r/m, imm: only /0 is defined (SDM vol. 2 table A-6)
      decodeModRM();
      if (regField != 0) return raiseNoCode(EXC_UD);
      const sz: u32 = op == 0xc6 ? 0 : osz();
      const v = sz == 0 ? fetch8() : fetchImm();
      if (!faulted()) rmWrite(sz, v);
      return;
    }
    case 0xc8:
      enter();
      return;
    case 0xc9: {
      // LEAVE
      const bp = ss32() ? reg32(EBP) : reg16(EBP);
      const v = readMem(osz(), SS, bp);
      if (faulted()) return;
      setSp(bp + (o32 ? 4 : 2));
      setReg(osz(), EBP, v);
      return;
    }
    case 0xca:
    case 0xcb: {
      // RETF [imm16]
      const extra: u32 = op == 0xca ? fetch16() : 0;
      retFar(extra);
      return;
    }
    case 0xcc:
      softInt(3, false);
      return;
    case 0xcd:
      softInt(fetch8(), true);
      return;
    case 0xce:
      if (condition(0)) softInt(4, false);
      return; // INTO
    case 0xcf: // IRET
      if (vm86() && !iopl_ok()) virtualIret(osz());
      else iret(osz());
      setNextEip(eip());
      return;
    case 0xd4: {
      // AAM imm8
      const base = fetch8();
      if (base == 0) return raiseNoCode(0);
      const al = reg8(0);
      setReg8(4, al / base);
      setReg8(0, al % base);
      logicFlags(0, reg8(0));
      return;
    }
    case 0xd5: {
      // AAD imm8
      const base = fetch8();
      const r = (reg8(0) + reg8(4) * base) & 0xff;
      setReg16(EAX, r);
      logicFlags(0, r);
      return;
    }
    case 0xd6: // SALC (undocumented on the i686, but present): AL = CF ? 0xFF : 0
      setReg8(0, cf() != 0 ? 0xff : 0);
      return;
    case 0xd7: // XLAT
      {
        const off = ((a32 ? reg32(EBX) : reg16(EBX)) + reg8(0)) & (a32 ? 0xffffffff : 0xffff);
        const v = read8(dataSeg(), off);
        if (!faulted()) setReg8(0, v);
      }
      return;
    case 0xd8:
    case 0xd9:
    case 0xda:
    case 0xdb:
    case 0xdc:
    case 0xdd:
    case 0xde:
    case 0xdf:
      x87Escape(op);
      return;
    case 0xe0:
    case 0xe1:
    case 0xe2:
    case 0xe3: {
      // LOOPNE LOOPE LOOP JECXZ
      const d = fetchS8();
      if (faulted()) return;
      let n = a32 ? reg32(ECX) : reg16(ECX);
      if (op != 0xe3) {
        n = (n - 1) & (a32 ? 0xffffffff : 0xffff);
        if (a32) setReg32(ECX, n);
        else setReg16(ECX, n);
      }
      let take: bool;
      if (op == 0xe3) take = n == 0;
      else if (op == 0xe2) take = n != 0;
      else if (op == 0xe1) take = n != 0 && condition(4);
      else take = n != 0 && !condition(4);
      if (take) jumpNear(nextEip + d);
      return;
    }
    case 0xe4:
    case 0xe5:
    case 0xe6:
    case 0xe7:
    case 0xec:
    case 0xed:
    case 0xee:
    case 0xef: {
      const port: u32 = op < 0xec ? fetch8() : reg16(EDX);
      const width: u32 = (op & 1) == 0 ? 1 : o32 ? 4 : 2;
      if (faulted() || !checkIoPermission(port, width)) return;
      if ((op & 2) == 0) setReg(width == 1 ? 0 : osz(), EAX, portIn(port, width));
      else portOut(port, width, getReg(width == 1 ? 0 : osz(), EAX));
      return;
    }
    case 0xe8: {
      // CALL rel
      const d = fetchImm();
      if (faulted()) return;
      push(osz(), nextEip);
      if (!faulted()) jumpNear(nextEip + d);
      return;
    }
    case 0xe9: {
      const d = fetchImm();
      if (!faulted()) jumpNear(nextEip + d);
      return;
    }
    case 0xea: {
      // JMP ptr16:16/32
      const off = fetchImm();
      const sel = fetch16();
      if (faulted()) return;
      farJump(sel, off, osz());
      return;
    }
    case 0xeb: {
      const d = fetchS8();
      if (!faulted()) jumpNear(nextEip + d);
      return;
    }
    case 0xf1: // INT1 (ICEBP): a debug trap
      softInt(1, false);
      return;
    case 0xf4: // HLT (privileged)
      if (protectedMode() && cpl() != 0) return raise(EXC_GP, 0);
      store<u32>(STATE_BASE + S_HALTED, 1);
      raiseAttention();
      recordExit(EXIT_HLT, 0, 0, 0);
      return;
    case 0xf5:
      setFlagBits(F_CF, cf() == 0);
      return; // CMC
    case 0xf6:
    case 0xf7:
      group3(op == 0xf6 ? 0 : osz());
      return;
    case 0xf8:
      setFlagBits(F_CF, false);
      return;
    case 0xf9:
      setFlagBits(F_CF, true);
      return;
    case 0xfa: // CLI
      if (!iopl_ok()) return virtualCliSti(false);
      setFlagBits(F_IF, false);
      return;
    case 0xfb: // STI: interrupts stay off for one more instruction
      if (!iopl_ok()) return virtualCliSti(true);
      if ((sysFlags() & F_IF) == 0) {
        store<u32>(STATE_BASE + S_INT_SHADOW, 1);
        raiseAttention();
      }
      setFlagBits(F_IF, true);
      return;
    case 0xfc:
      setFlagBits(F_DF, false);
      return;
    case 0xfd:
      setFlagBits(F_DF, true);
      return;
    case 0xfe: {
      // group 4: INC/DEC r/m8
      decodeModRM();
      if (regField > 1) return raiseNoCode(EXC_UD);
      const v = rmRead(0);
      if (faulted()) return;
      rmWrite(0, regField == 0 ? inc(0, v) : dec(0, v));
      return;
    }
    case 0xff:
      group5();
      return;
    default:
      // 0xD6 is handled above; 0x82 aliases 0x80. What remains here is undefined: #UD.
      raiseNoCode(EXC_UD);
  }
}

/** The six forms of an ALU opcode: Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev / AL,Ib / eAX,Iz. */
function aluForm(aop: u32, form: u32): void {
  if (form >= 4) {
    const sz: u32 = form == 4 ? 0 : osz();
    const s = sz == 0 ? fetch8() : fetchImm();
    if (faulted()) return;
    const r = alu(aop, sz, getReg(sz, EAX), s);
    if (aop != 7) setReg(sz, EAX, r);
    return;
  }
  decodeModRM();
  const sz: u32 = (form & 1) == 0 ? 0 : osz();
  if (form < 2) {
    const d = rmRead(sz);
    if (faulted()) return;
    const r = alu(aop, sz, d, getReg(sz, regField));
    if (aop != 7) rmWrite(sz, r);
  } else {
    const s = rmRead(sz);
    if (faulted()) return;
    const r = alu(aop, sz, getReg(sz, regField), s);
    if (aop != 7) setReg(sz, regField, r);
  }
}

/** Group 3: TEST NOT NEG MUL IMUL DIV IDIV on r/m. */
function group3(sz: u32): void {
  decodeModRM();
  const v = rmRead(sz);
  if (faulted()) return;
  switch (regField) {
    case 0:
    case 1: {
      const imm = sz == 0 ? fetch8() : fetchImm();
      if (!faulted()) logicFlags(sz, v & imm);
      return;
    }
    case 2:
      rmWrite(sz, ~v & maskOf(sz));
      return;
    case 3:
      rmWrite(sz, neg(sz, v));
      return;
    case 4:
      mul1(sz, v, false);
      return;
    case 5:
      mul1(sz, v, true);
      return;
    case 6:
      div1(sz, v, false);
      return;
    default:
      div1(sz, v, true);
      return;
  }
}

/** Group 5: INC DEC CALL CALLF JMP JMPF PUSH on r/m. */
function group5(): void {
  decodeModRM();
  const sz = osz();
  switch (regField) {
    case 0:
    case 1: {
      const v = rmRead(sz);
      if (faulted()) return;
      rmWrite(sz, regField == 0 ? inc(sz, v) : dec(sz, v));
      return;
    }
    case 2: {
      // CALL near r/m
      const t = rmRead(sz);
      if (faulted()) return;
      push(sz, nextEip);
      if (!faulted()) jumpNear(t);
      return;
    }
    case 4: {
      // JMP near r/m
      const t = rmRead(sz);
      if (!faulted()) jumpNear(t);
      return;
    }
    case 3:
    case 5: {
      // CALL/JMP far m16:16/32
      if (mod == 3) return raiseNoCode(EXC_UD);
      const off = readMem(sz, eaSeg, eaOff);
      const sel = readMem(1, eaSeg, eaOff + (sz == 2 ? 4 : 2));
      if (faulted()) return;
      if (regField == 3) farCall(sel, off, sz);
      else farJump(sel, off, sz);
      return;
    }
    case 6: {
      const v = rmRead(sz);
      if (!faulted()) push(sz, v);
      return;
    }
    default:
      raiseNoCode(EXC_UD);
  }
}

/** LDS/LES/LSS/LFS/LGS: load a far pointer from memory into seg:reg. */
export function loadFarPointer(seg: u32): void {
  const sz = osz();
  const off = readMem(sz, eaSeg, eaOff);
  const sel = readMem(1, eaSeg, eaOff + (sz == 2 ? 4 : 2));
  if (faulted()) return;
  if (!loadSeg(seg, sel)) return;
  setReg(sz, regField, off);
}

/** INT n (`intN`: opcode CD), INT3, INTO, INT1. */
function softInt(vector: u32, intN: bool): void {
  if (faulted()) return;
  // In V86 mode INT n is IOPL-sensitive and subject to CR4.VME redirection (SDM vol. 3 §20.3,
  // vme.ts); INT3 (CC), INTO and INT1 always go through the IDT.
  if (intN && vm86() && v86SoftInt(vector, nextEip)) {
    if (!faulted()) setNextEip(eip());
    return;
  }
  interrupt(vector, true, false, 0, nextEip);
  if (faulted()) return;
  setNextEip(eip());
  const perVector = CTL_BASE + C_SOFT_INT_VECTORS + (vector << 2);
  store<u32>(perVector, load<u32>(perVector) + 1);
}

function retFar(extra: u32): void {
  const sz = osz();
  const sp = spOffset();
  const n: u32 = sz == 2 ? 4 : 2;
  const off = readMem(sz, SS, sp);
  const sel = readMem(1, SS, (sp + n) & (ss32() ? 0xffffffff : 0xffff));
  if (faulted()) return;
  if (realOrV86()) {
    loadSegReal(CS, sel);
    setSp(sp + 2 * n + extra);
    setNextEip(sz == 2 ? off : off & 0xffff);
    return;
  }
  farReturnProtected(off, sel, sz, extra);
  if (!faulted()) setNextEip(eip());
}

/** PUSHA/PUSHAD; a fault on any of the eight pushes leaves ESP as it was. */
function pusha(): void {
  const sz = osz();
  const esp = reg32(ESP);
  const sp = getReg(sz, ESP);
  for (let r: u32 = 0; r < 8; r++) {
    push(sz, r == ESP ? sp : getReg(sz, r));
    if (faulted()) {
      setReg32(ESP, esp);
      return;
    }
  }
}

/** Registers read by POPA, committed only once all eight reads succeeded. */
const popaBuf = new StaticArray<u32>(8);

/** POPA/POPAD: the slot of ESP is skipped. */
function popa(): void {
  const sz = osz();
  const n: u32 = sz == 2 ? 4 : 2;
  const sp = spOffset();
  for (let r: i32 = 7; r >= 0; r--) {
    unchecked((popaBuf[r] = readMem(sz, SS, (sp + (7 - <u32>r) * n) & (ss32() ? 0xffffffff : 0xffff))));
  }
  if (faulted()) return;
  for (let r: u32 = 0; r < 8; r++) if (r != ESP) setReg(sz, r, unchecked(popaBuf[r]));
  setSp(sp + 8 * n);
}

function bound(): void {
  decodeModRM();
  if (mod == 3) return raiseNoCode(EXC_UD);
  const sz = osz();
  const idx = sext(sz, getReg(sz, regField));
  const lo = sext(sz, readMem(sz, eaSeg, eaOff));
  const hi = sext(sz, readMem(sz, eaSeg, eaOff + (sz == 2 ? 4 : 2)));
  if (faulted()) return;
  if (<i32>idx < <i32>lo || <i32>idx > <i32>hi) raiseNoCode(EXC_BR);
}

function arpl(): void {
  if (realOrV86()) return raiseNoCode(EXC_UD);
  decodeModRM();
  const d = rmRead(1);
  if (faulted()) return;
  const s = reg16(regField);
  if ((d & 3) < (s & 3)) {
    rmWrite(1, (d & ~3) | (s & 3));
    setFlagBits(F_ZF, true);
  } else {
    setFlagBits(F_ZF, false);
  }
}

/** ENTER imm16, imm8 (SDM vol. 2 "ENTER"), nesting level taken modulo 32. */
function enter(): void {
  const size = fetch16();
  const level = fetch8() & 31;
  if (faulted()) return;
  const sz = osz();
  const n: u32 = sz == 2 ? 4 : 2;
  const spMask: u32 = ss32() ? 0xffffffff : 0xffff;
  const esp = reg32(ESP);
  push(sz, getReg(sz, EBP));
  const frame = spOffset();
  let bp = ss32() ? reg32(EBP) : reg16(EBP);
  for (let i: u32 = 1; i < level && !faulted(); i++) {
    bp = (bp - n) & spMask;
    const v = readMem(sz, SS, bp);
    if (!faulted()) push(sz, v);
  }
  if (level > 0 && !faulted()) push(sz, frame);
  const newSp = (spOffset() - size) & spMask;
  // Probe the lowest byte of the new frame, as the CPU does, before committing.
  if (!faulted()) readMem(0, SS, newSp);
  if (faulted()) {
    setReg32(ESP, esp); // a fault leaves the stack pointer as it was
    return;
  }
  setReg(sz, EBP, frame);
  setSp(newSp);
}

/** DAA (SDM vol. 2 "DAA"): CF is also set by a carry out of AL + 6. */
function daa(): void {
  const al = reg8(0);
  const oldCf = cf();
  let r = al;
  let c: u32 = 0;
  let a: u32 = 0;
  if ((al & 0xf) > 9 || af() != 0) {
    r = al + 6;
    c = oldCf | (r >> 8);
    r &= 0xff;
    a = 1;
  }
  if (al > 0x99 || oldCf != 0) {
    r = (r + 0x60) & 0xff;
    c = 1;
  }
  setReg8(0, r);
  bcdFlags(r, c, a);
}

/** DAS (SDM vol. 2 "DAS"): CF is also set by a borrow out of AL - 6. */
function das(): void {
  const al = reg8(0);
  const oldCf = cf();
  let r = al;
  let c: u32 = 0;
  let a: u32 = 0;
  if ((al & 0xf) > 9 || af() != 0) {
    r = al - 6;
    c = oldCf | ((r >> 8) & 1);
    r &= 0xff;
    a = 1;
  }
  if (al > 0x99 || oldCf != 0) {
    r = (r - 0x60) & 0xff;
    c = 1;
  }
  setReg8(0, r);
  bcdFlags(r, c, a);
}

/**
 * AAA (add=true) / AAS (add=false), SDM vol. 2 "AAA", "AAS": AX + 106H, or AX - 6 then AH - 1,
 * so a carry or borrow out of AL reaches AH too. AL keeps its low nibble.
 */
function aaa(add: bool): void {
  let ax = reg16(EAX);
  let c: u32 = 0;
  if ((ax & 0xf) > 9 || af() != 0) {
    ax = add ? ax + 0x106 : ax - 6 - 0x100;
    c = 1;
  }
  setReg16(EAX, (ax & 0xff00) | (ax & 0x0f));
  bcdFlags(reg8(0), c, c);
}

function bcdFlags(r: u32, c: u32, a: u32): void {
  const f =
    (getFlags() & ~F_ARITH) |
    (c != 0 ? F_CF : 0) |
    (a != 0 ? F_AF : 0) |
    ((r & 0xff) == 0 ? F_ZF : 0) |
    ((r & 0x80) != 0 ? F_SF : 0) |
    (parity(r) != 0 ? F_PF : 0);
  setFlags(f);
}

/** x87 escape opcodes: #NM per CR0.EM/TS (SDM vol. 3 §2.5), then the FPU (cpu/fpu/). */
function x87Escape(op: u32): void {
  const c0 = load<u32>(STATE_BASE + 136);
  if ((c0 & 0xc) != 0) return raiseNoCode(EXC_NM);
  fpuEscape(op);
}
