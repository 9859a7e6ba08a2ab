// The decode cache: instructions decoded once and kept by host address (= guest-physical page and
// offset), so the run loop executes the common instructions without fetching and decoding them
// again. docs/performance.md describes the design; in short:
//
// - Only instructions the fetch window (state.ts) covers are cached: inside CS's limit, in one
//   4 KiB page of RAM with a TLB read entry. The window's `fetchGen` = dcache epoch, CS's D bit
//   and the page's generation; an entry is valid while its tag is the host address and its
//   generation equals fetchGen. Everything else goes to `step` (decode.ts/execute.ts) as before.
// - The common forms of the hottest opcodes in 32-bit code without prefixes get a handler here
//   (MOV, the ALU group, LEA, Jcc/JMP/CALL/RET, INC/DEC, PUSH/POP, TEST, shifts, MOVZX/MOVSX);
//   any other instruction is cached as K_STEP and runs through `step`.
// - Self-modifying code: a page with decoded instructions is flagged in CODE_PAGES and gets no
//   TLB write entry, so every write to it takes the slow path, where physWrite* calls codeWrite:
//   the page's generation moves on (its entries die), the flag clears and the fetch window is
//   dropped, so the next instruction is fetched and decoded from the new bytes. When a page
//   starts holding code again, all TLB write entries are dropped (tlbFlushWrites).
// - The host may write RAM between runs (loaders, tests, debuggers): run() entry bumps the
//   epoch, which drops every entry at once. A host that writes guest RAM during a run (DMA from
//   an I/O callback) must call the `flushDecodeCache` export afterwards.
import {
  CTL_BASE,
  C_RAM_SIZE,
  STATE_BASE,
  S_EIP,
  S_EFLAGS,
  S_INSTRET,
  RAM_BASE,
  CODE_PAGES,
  PAGE_GEN,
  DCACHE,
  DCACHE_ENTRIES,
  ZERO_WORD,
  PROFILE_ENTRY_OPS,
  S_LF_OP,
  S_LF_DST,
  S_LF_SRC,
  S_LF_RES,
} from "../layout";
import {
  reg32,
  setReg32,
  segAttr,
  fetchFlush,
  fetchHost,
  fetchHi,
  fetchLo,
  tlbFlushWrites,
  ATTR_DB,
  CS,
  SS,
  DS,
  EAX,
  ECX,
  ESP,
  EBP,
} from "./state";
import { getReg, setReg, readMem, writeMem, sext } from "./operands";
import { alu, inc, dec, shift, logicFlags } from "./alu";
import {
  clearFlagsSaved,
  condition,
  cf,
  LF_ADD,
  LF_SUB,
  LF_LOGIC,
  LF_INC,
  LF_DEC,
  LF_SHL,
  LF_SHR,
  LF_SAR,
} from "./flags";
import { read8, read32, write32 } from "./memory";
import { push, pop } from "./stack";
import { faulted, attention } from "./fault";
import { setStartEip } from "./decode";
import { step, unimplemented } from "./execute";
import { countOpcode, PROFILING } from "./profile";

/** Bumped to drop every decoded instruction at once (15 bits; the cache is cleared on wrap). */
let dcacheEpoch: u32 = 1;
/** The generation entries in the current fetch window must carry (set by refill). */
export let fetchGen: u32 = 0;

/** Drop every decoded instruction (run entry, reset; the `flushDecodeCache` export). */
export function dcacheFlush(): void {
  dcacheEpoch++;
  if (dcacheEpoch > 0x7fff) {
    memory.fill(DCACHE, 0, DCACHE_ENTRIES << 5);
    dcacheEpoch = 1;
  }
  fetchFlush();
}

/** The fetch window moved to the page at host address `host`: compute its generation. */
export function setFetchGen(host: u32): void {
  const page = (host - RAM_BASE) >>> 12;
  const d: u32 = (segAttr(CS) & ATTR_DB) != 0 ? 1 : 0;
  fetchGen = (dcacheEpoch << 17) | (d << 16) | (<u32>load<u16>(PAGE_GEN + (page << 1)));
}

/** A write reached guest-physical `p` in a page flagged as holding decoded code. */
export function codeWrite(p: u32): void {
  const page = p >>> 12;
  store<u8>(CODE_PAGES + page, 0);
  const g = (<u32>load<u16>(PAGE_GEN + (page << 1)) + 1) & 0xffff;
  store<u16>(PAGE_GEN + (page << 1), <u16>g);
  if (g == 0) dcacheFlush(); // a wrapped generation could revive old entries
  fetchFlush();
}

/**
 * Guest RAM [p, p + len) was written behind the CPU's back (DMA by a device model, in the core
 * or on the host, during a run): invalidate decoded instructions from the pages it touched.
 */
export function codeWrittenRange(p: u32, len: u32): void {
  if (len == 0) return;
  const ram = <u64>load<u32>(CTL_BASE + C_RAM_SIZE);
  let end = <u64>p + <u64>len;
  if (end > ram) end = ram;
  for (let a = <u64>(p & 0xfffff000); a < end; a += 0x1000) {
    if (load<u8>(CODE_PAGES + <u32>(a >> 12)) != 0) codeWrite(<u32>a);
  }
}

// Entry layout (32 bytes): tag u32 (host address), generation u32, kind u8, length u8, size u8
// (0: 8-bit, 2: 32-bit), reg u8 (ModRM reg, register number or condition), rm u8 (register
// operand), seg u8 (memory operand's segment, or NO_MEM), scale u8, aop u8 (ALU operation or
// shift kind), base u32 and index u32 (addresses of the registers, ZERO_WORD for none), disp u32,
// imm u32.
const E_TAG: u32 = 0;
const E_GEN: u32 = 4;
const E_KIND: u32 = 8;
const E_LEN: u32 = 9;
const E_SZ: u32 = 10;
const E_REG: u32 = 11;
const E_RM: u32 = 12;
const E_SEG: u32 = 13;
const E_SCALE: u32 = 14;
const E_AOP: u32 = 15;
const E_BASE: u32 = 16;
const E_INDEX: u32 = 20;
const E_DISP: u32 = 24;
const E_IMM: u32 = 28;
const NO_MEM: u32 = 0xff;

const K_STEP: u32 = 0;
const K_ALU_EG: u32 = 1; // ALU r/m, reg (forms 0/1)
const K_ALU_GE: u32 = 2; // ALU reg, r/m (forms 2/3)
const K_ALU_AI: u32 = 3; // ALU AL/EAX, imm
const K_ALU_EI: u32 = 4; // group 1: ALU r/m, imm
const K_MOV_EG: u32 = 5;
const K_MOV_GE: u32 = 6;
const K_MOV_EI: u32 = 7;
const K_MOV_RI: u32 = 8;
const K_LEA: u32 = 9;
const K_JCC: u32 = 10;
const K_JMP: u32 = 11;
const K_CALL: u32 = 12;
const K_RET: u32 = 13;
const K_INC: u32 = 14;
const K_DEC: u32 = 15;
const K_PUSH_R: u32 = 16;
const K_POP_R: u32 = 17;
const K_PUSH_I: u32 = 18;
const K_TEST_EG: u32 = 19;
const K_TEST_AI: u32 = 20;
const K_SHIFT: u32 = 21; // group 2 with an immediate count (C0/C1, D0/D1 as count 1)
const K_SHIFT_CL: u32 = 22;
const K_MOVX: u32 = 23; // MOVZX/MOVSX: sz = source size, aop = 1 for sign extension
const K_NOP: u32 = 24;
// Specialised at decode time (32-bit operands, no ADC/SBB), so the handlers have no size or
// register-versus-memory branches. R = register, M = memory, I = immediate; dest first.
const K_MOV_RR: u32 = 25; // rm := reg (E_RM dest, E_REG source)
const K_MOV_MR: u32 = 26; // [m] := reg
const K_MOV_RM: u32 = 27; // reg := [m]
const K_ALU_RR: u32 = 28; // rm op= reg (E_RM dest, E_REG source)
const K_ALU_MR: u32 = 29; // [m] op= reg
const K_ALU_RM: u32 = 30; // reg op= [m]
const K_ALU_RI: u32 = 31; // rm op= imm (E_RM dest)
const K_ALU_MI: u32 = 32; // [m] op= imm
const K_MOVZX8_RM: u32 = 33; // reg := zero-extended byte [m]
// K_MOV_MR/K_MOV_RM whose address has no index register: [base + disp] (base may be ZERO_WORD).
const K_MOV_MR_BD: u32 = 34;
const K_MOV_RM_BD: u32 = 35;
// The same for the ALU memory forms, LEA and MOVZX r32, byte [m].
const K_ALU_MR_BD: u32 = 36;
const K_ALU_MI_BD: u32 = 37;
const K_ALU_RM_BD: u32 = 38;
const K_LEA_BD: u32 = 39;
const K_MOVZX8_RM_BD: u32 = 40;

/** Address of a register's u32 in the state block. */
function regAddr(r: u32): u32 {
  return STATE_BASE + (r << 2);
}

/**
 * Decode the ModRM (and SIB, displacement) at host address `h` into the entry; returns the
 * number of bytes used, or 0 when the form is not cached (the caller makes it K_STEP).
 */
function decodeModRM32(ent: u32, h: u32): u32 {
  const b = <u32>load<u8>(h);
  const mod = b >> 6;
  const rm = b & 7;
  store<u8>(ent + E_REG, <u8>((b >> 3) & 7));
  store<u8>(ent + E_RM, <u8>rm);
  if (mod == 3) {
    store<u8>(ent + E_SEG, <u8>NO_MEM);
    return 1;
  }
  let n: u32 = 1;
  let base: u32 = ZERO_WORD;
  let index: u32 = ZERO_WORD;
  let scale: u32 = 0;
  let disp: u32 = 0;
  let seg = DS;
  if (rm == 4) {
    const sib = <u32>load<u8>(h + 1);
    n = 2;
    scale = sib >> 6;
    const ix = (sib >> 3) & 7;
    const bs = sib & 7;
    if (bs == EBP && mod == 0) {
      disp = load<u32>(h + n);
      n += 4;
    } else {
      base = regAddr(bs);
      if (bs == ESP || bs == EBP) seg = SS;
    }
    if (ix != ESP) index = regAddr(ix);
  } else if (rm == 5 && mod == 0) {
    disp = load<u32>(h + 1);
    n = 5;
  } else {
    base = regAddr(rm);
    if (rm == EBP) seg = SS;
  }
  if (mod == 1) {
    disp += <u32>(<i32>load<i8>(h + n));
    n += 1;
  } else if (mod == 2) {
    disp += load<u32>(h + n);
    n += 4;
  }
  store<u8>(ent + E_SEG, <u8>seg);
  store<u8>(ent + E_SCALE, <u8>scale);
  store<u32>(ent + E_BASE, base);
  store<u32>(ent + E_INDEX, index);
  store<u32>(ent + E_DISP, disp);
  return n;
}

/**
 * Decode the instruction at host address `h` (CS offset `eip`) into the entry at `ent`. Only
 * 32-bit code without prefixes is cached with a handler; the bytes read stay inside the fetch
 * window (`avail` bytes from h), so nothing here can fault.
 */
function decodeInto(ent: u32, h: u32, eip: u32): void {
  const page = (h - RAM_BASE) >>> 12;
  if (load<u8>(CODE_PAGES + page) == 0) {
    store<u8>(CODE_PAGES + page, 1);
    tlbFlushWrites(); // writes to this page must now reach codeWrite
  }
  store<u32>(ent + E_TAG, h);
  store<u32>(ent + E_GEN, fetchGen);
  store<u8>(ent + E_KIND, <u8>K_STEP);
  let avail = fetchHi - eip;
  if (avail > 15) avail = 15;
  // The longest form handled is 2 (opcode) + 6 (ModRM, SIB, disp32) + 4 (imm32) = 12 bytes.
  if (avail < 12 || (segAttr(CS) & ATTR_DB) == 0) return;
  const op = <u32>load<u8>(h);
  let kind = K_STEP;
  let len: u32 = 0;
  let sz: u32 = (op & 1) == 0 ? 0 : 2;
  if (op < 0x40 && (op & 7) < 6) {
    const form = op & 7;
    store<u8>(ent + E_AOP, <u8>(op >> 3));
    if (form >= 4) {
      kind = K_ALU_AI;
      sz = form == 4 ? 0 : 2;
      store<u32>(ent + E_IMM, sz == 0 ? <u32>load<u8>(h + 1) : load<u32>(h + 1));
      len = sz == 0 ? 2 : 5;
    } else {
      kind = form < 2 ? K_ALU_EG : K_ALU_GE;
      len = 1 + decodeModRM32(ent, h + 1);
    }
  } else if (op >= 0x40 && op < 0x60) {
    kind = op < 0x48 ? K_INC : op < 0x50 ? K_DEC : op < 0x58 ? K_PUSH_R : K_POP_R;
    store<u8>(ent + E_REG, <u8>(op & 7));
    sz = 2;
    len = 1;
  } else if (op >= 0x70 && op < 0x80) {
    kind = K_JCC;
    store<u8>(ent + E_REG, <u8>(op & 15));
    store<u32>(ent + E_IMM, <u32>(<i32>load<i8>(h + 1)));
    len = 2;
  } else if (op >= 0xb0 && op < 0xc0) {
    kind = K_MOV_RI;
    store<u8>(ent + E_REG, <u8>(op & 7));
    sz = op < 0xb8 ? 0 : 2;
    store<u32>(ent + E_IMM, sz == 0 ? <u32>load<u8>(h + 1) : load<u32>(h + 1));
    len = sz == 0 ? 2 : 5;
  } else {
    switch (op) {
      case 0x0f: {
        const op2 = <u32>load<u8>(h + 1);
        if (op2 >= 0x80 && op2 < 0x90) {
          kind = K_JCC;
          store<u8>(ent + E_REG, <u8>(op2 & 15));
          store<u32>(ent + E_IMM, load<u32>(h + 2));
          len = 6;
        } else if (op2 == 0xb6 || op2 == 0xb7 || op2 == 0xbe || op2 == 0xbf) {
          kind = K_MOVX;
          sz = op2 & 1; // source: 0 byte, 1 word
          store<u8>(ent + E_AOP, <u8>(op2 >= 0xbe ? 1 : 0));
          len = 2 + decodeModRM32(ent, h + 2);
        }
        break;
      }
      case 0x68:
        kind = K_PUSH_I;
        store<u32>(ent + E_IMM, load<u32>(h + 1));
        len = 5;
        break;
      case 0x6a:
        kind = K_PUSH_I;
        store<u32>(ent + E_IMM, <u32>(<i32>load<i8>(h + 1)));
        len = 2;
        break;
      case 0x80:
      case 0x81:
      case 0x83: {
        kind = K_ALU_EI;
        sz = op == 0x80 ? 0 : 2;
        len = 1 + decodeModRM32(ent, h + 1);
        store<u8>(ent + E_AOP, load<u8>(ent + E_REG));
        const imm: u32 =
          op == 0x81
            ? load<u32>(h + len)
            : op == 0x83
              ? <u32>(<i32>load<i8>(h + len))
              : <u32>load<u8>(h + len);
        store<u32>(ent + E_IMM, imm);
        len += op == 0x81 ? 4 : 1;
        break;
      }
      case 0x84:
      case 0x85:
        kind = K_TEST_EG;
        len = 1 + decodeModRM32(ent, h + 1);
        break;
      case 0x88:
      case 0x89:
        kind = K_MOV_EG;
        len = 1 + decodeModRM32(ent, h + 1);
        break;
      case 0x8a:
      case 0x8b:
        kind = K_MOV_GE;
        len = 1 + decodeModRM32(ent, h + 1);
        break;
      case 0x8d:
        len = 1 + decodeModRM32(ent, h + 1);
        kind = load<u8>(ent + E_SEG) == NO_MEM ? K_STEP : K_LEA; // LEA with a register: #UD
        break;
      case 0x90:
        kind = K_NOP;
        len = 1;
        break;
      case 0xa8:
      case 0xa9:
        kind = K_TEST_AI;
        store<u32>(ent + E_IMM, sz == 0 ? <u32>load<u8>(h + 1) : load<u32>(h + 1));
        len = sz == 0 ? 2 : 5;
        break;
      case 0xc0:
      case 0xc1:
      case 0xd0:
      case 0xd1:
        kind = K_SHIFT;
        len = 1 + decodeModRM32(ent, h + 1);
        store<u8>(ent + E_AOP, load<u8>(ent + E_REG));
        if (op <= 0xc1) {
          store<u32>(ent + E_IMM, <u32>load<u8>(h + len));
          len += 1;
        } else {
          store<u32>(ent + E_IMM, 1);
        }
        break;
      case 0xd2:
      case 0xd3:
        kind = K_SHIFT_CL;
        len = 1 + decodeModRM32(ent, h + 1);
        store<u8>(ent + E_AOP, load<u8>(ent + E_REG));
        break;
      case 0xc3:
        kind = K_RET;
        len = 1;
        break;
      case 0xc6:
      case 0xc7:
        len = 1 + decodeModRM32(ent, h + 1);
        if (load<u8>(ent + E_REG) != 0) break; // only /0 is defined: #UD through step
        kind = K_MOV_EI;
        store<u32>(ent + E_IMM, sz == 0 ? <u32>load<u8>(h + len) : load<u32>(h + len));
        len += sz == 0 ? 1 : 4;
        break;
      case 0xe8:
        kind = K_CALL;
        store<u32>(ent + E_IMM, load<u32>(h + 1));
        len = 5;
        break;
      case 0xe9:
        kind = K_JMP;
        store<u32>(ent + E_IMM, load<u32>(h + 1));
        len = 5;
        break;
      case 0xeb:
        kind = K_JMP;
        store<u32>(ent + E_IMM, <u32>(<i32>load<i8>(h + 1)));
        len = 2;
        break;
      default:
        break;
    }
  }
  if (kind == K_STEP) return;
  kind = specialise(ent, kind, sz);
  if (PROFILING) {
    const opcode = op == 0x0f ? 0x100 | (<u32>load<u8>(h + 1)) : op;
    store<u16>(PROFILE_ENTRY_OPS + (((ent - DCACHE) >> 5) << 1), <u16>opcode);
  }
  store<u8>(ent + E_KIND, <u8>kind);
  store<u8>(ent + E_LEN, <u8>len);
  store<u8>(ent + E_SZ, <u8>sz);
}

function swapRegs(ent: u32): void {
  const r = load<u8>(ent + E_REG);
  store<u8>(ent + E_REG, load<u8>(ent + E_RM));
  store<u8>(ent + E_RM, r);
}

/** Pick a specialised kind for the common 32-bit forms (see K_MOV_RR..). */
function specialise(ent: u32, kind: u32, sz: u32): u32 {
  const mem = load<u8>(ent + E_SEG) != NO_MEM;
  const aop = <u32>load<u8>(ent + E_AOP);
  if (kind == K_MOVX) {
    if (!mem || sz != 0 || load<u8>(ent + E_AOP) != 0) return kind;
    return noIndex(ent) ? K_MOVZX8_RM_BD : K_MOVZX8_RM;
  }
  if (kind == K_LEA) return noIndex(ent) ? K_LEA_BD : kind;
  if (sz != 2) return kind;
  switch (kind) {
    case K_MOV_EG:
      if (mem) return noIndex(ent) ? K_MOV_MR_BD : K_MOV_MR;
      return K_MOV_RR;
    case K_MOV_GE:
      if (mem) return noIndex(ent) ? K_MOV_RM_BD : K_MOV_RM;
      swapRegs(ent); // the destination goes to E_RM
      return K_MOV_RR;
    case K_ALU_EG:
      if (aop == 2 || aop == 3) return kind;
      if (mem) return noIndex(ent) ? K_ALU_MR_BD : K_ALU_MR;
      return K_ALU_RR;
    case K_ALU_GE:
      if (aop == 2 || aop == 3) return kind;
      if (mem) return noIndex(ent) ? K_ALU_RM_BD : K_ALU_RM;
      swapRegs(ent);
      return K_ALU_RR;
    case K_ALU_EI:
      if (aop == 2 || aop == 3) return kind;
      if (mem) return noIndex(ent) ? K_ALU_MI_BD : K_ALU_MI;
      return K_ALU_RI;
    case K_ALU_AI:
      if (aop == 2 || aop == 3) return kind;
      store<u8>(ent + E_RM, <u8>EAX);
      return K_ALU_RI;
    default:
      return kind;
  }
}

/** The entry's memory operand has no index register. */
function noIndex(ent: u32): bool {
  return load<u32>(ent + E_INDEX) == ZERO_WORD;
}

/** Effective address of a memory operand without an index: disp + [base]. */
// @ts-ignore: decorator
@inline
function eaBD(ent: u32): u32 {
  return load<u32>(ent + E_DISP) + load<u32>(load<u32>(ent + E_BASE));
}

/** Effective address of the entry's memory operand. */
// @ts-ignore: decorator
@inline
function ea(ent: u32): u32 {
  return (
    load<u32>(ent + E_DISP) +
    load<u32>(load<u32>(ent + E_BASE)) +
    (load<u32>(load<u32>(ent + E_INDEX)) << load<u8>(ent + E_SCALE))
  );
}

// Sized register and memory access: the 32-bit case first and inlined (the common one).
// @ts-ignore: decorator
@inline
function regGet(sz: u32, r: u32): u32 {
  return sz == 2 ? reg32(r) : getReg(sz, r);
}
// @ts-ignore: decorator
@inline
function regSet(sz: u32, r: u32, v: u32): void {
  if (sz == 2) setReg32(r, v);
  else setReg(sz, r, v);
}
// @ts-ignore: decorator
@inline
function memGet(sz: u32, seg: u32, off: u32): u32 {
  return sz == 2 ? read32(seg, off) : readMem(sz, seg, off);
}
// @ts-ignore: decorator
@inline
function memSet(sz: u32, seg: u32, off: u32, v: u32): void {
  if (sz == 2) write32(seg, off, v);
  else writeMem(sz, seg, off, v);
}

/** The r/m operand (register or memory); check faulted() after a memory read. */
// @ts-ignore: decorator
@inline
function rmGet(ent: u32, sz: u32, seg: u32, off: u32): u32 {
  return seg == NO_MEM ? regGet(sz, load<u8>(ent + E_RM)) : memGet(sz, seg, off);
}

// @ts-ignore: decorator
@inline
function rmSet(ent: u32, sz: u32, seg: u32, off: u32, v: u32): void {
  if (seg == NO_MEM) regSet(sz, load<u8>(ent + E_RM), v);
  else memSet(sz, seg, off, v);
}

/**
 * ADD OR AND SUB XOR CMP (not ADC/SBB, which read CF): the result, with the lazy-flags record
 * written by `aluFlags` once nothing can fault any more, so no copy of the old flags is needed.
 */
// @ts-ignore: decorator
@inline
function aluResult(aop: u32, d: u32, s: u32): u32 {
  switch (aop) {
    case 0:
      return d + s;
    case 1:
      return d | s;
    case 4:
      return d & s;
    case 6:
      return d ^ s;
    default:
      return d - s; // SUB, CMP
  }
}
// @ts-ignore: decorator
@inline
function aluFlags(aop: u32, sz: u32, d: u32, s: u32, r: u32): void {
  const kind = aop == 0 ? LF_ADD : aop == 5 || aop == 7 ? LF_SUB : LF_LOGIC;
  store<u32>(STATE_BASE + S_LF_OP, (kind << 2) | sz);
  store<u32>(STATE_BASE + S_LF_DST, d);
  store<u32>(STATE_BASE + S_LF_SRC, s);
  store<u32>(STATE_BASE + S_LF_RES, r);
}

/** 32-bit reg op= [seg:off] (K_ALU_RM*, no ADC/SBB); false after a fault. */
// @ts-ignore: decorator
@inline
function aluRegMem(ent: u32, off: u32): bool {
  const v = read32(<u32>load<u8>(ent + E_SEG), off);
  if (faulted()) return false;
  const aop = <u32>load<u8>(ent + E_AOP);
  const dr = <u32>load<u8>(ent + E_REG);
  const d = reg32(dr);
  const r = aluResult(aop, d, v);
  if (aop != 7) setReg32(dr, r);
  aluFlags(aop, 2, d, v, r);
  return true;
}

/** 32-bit [seg:off] op= v (K_ALU_MR*, K_ALU_MI*; no ADC/SBB); false after a fault. */
// @ts-ignore: decorator
@inline
function aluMem(ent: u32, off: u32, v: u32): bool {
  const seg = <u32>load<u8>(ent + E_SEG);
  const d = read32(seg, off);
  if (faulted()) return false;
  const aop = <u32>load<u8>(ent + E_AOP);
  const r = aluResult(aop, d, v);
  if (aop != 7) {
    write32(seg, off, r);
    if (faulted()) return false;
  }
  aluFlags(aop, 2, d, v, r);
  return true;
}

/** Record 32-bit lazy flags directly (no copy of the old flags: the caller cannot fault now). */
// @ts-ignore: decorator
@inline
function setLazyRaw(kind: u32, d: u32, s: u32, r: u32): void {
  store<u32>(STATE_BASE + S_LF_OP, (kind << 2) | 2);
  store<u32>(STATE_BASE + S_LF_DST, d);
  store<u32>(STATE_BASE + S_LF_SRC, s);
  store<u32>(STATE_BASE + S_LF_RES, r);
}

/** ALU op on r/m (written back unless CMP) with `s`; 32-bit forms without ADC/SBB inline. */
// @ts-ignore: decorator
@inline
function aluRm(ent: u32, aop: u32, sz: u32, seg: u32, s: u32): void {
  const off = seg == NO_MEM ? 0 : ea(ent);
  if (sz == 2 && aop != 2 && aop != 3) {
    const d = rmGet(ent, 2, seg, off);
    if (faulted()) return;
    const r = aluResult(aop, d, s);
    if (aop != 7) {
      rmSet(ent, 2, seg, off, r);
      if (faulted()) return;
    }
    aluFlags(aop, 2, d, s, r);
    return;
  }
  const d = rmGet(ent, sz, seg, off);
  if (faulted()) return;
  const r = alu(aop, sz, d, s);
  if (aop != 7) rmSet(ent, sz, seg, off, r);
}

/** ALU op on a register (written back unless CMP) with `s`. */
// @ts-ignore: decorator
@inline
function aluReg(aop: u32, sz: u32, reg: u32, s: u32): void {
  if (sz == 2 && aop != 2 && aop != 3) {
    const d = reg32(reg);
    const r = aluResult(aop, d, s);
    if (aop != 7) setReg32(reg, r);
    aluFlags(aop, 2, d, s, r);
    return;
  }
  const r = alu(aop, sz, getReg(sz, reg), s);
  if (aop != 7) setReg(sz, reg, r);
}

/**
 * Condition `cc` (Jcc): straight from the operands when the flags come from a 32-bit SUB/CMP or
 * a logic operation (the common compare-and-branch), else through flags.ts.
 */
// @ts-ignore: decorator
@inline
function cond(cc: u32): bool {
  const o = load<u32>(STATE_BASE + S_LF_OP);
  let r: bool;
  if (o == ((LF_SUB << 2) | 2)) {
    const d = load<u32>(STATE_BASE + S_LF_DST);
    const s = load<u32>(STATE_BASE + S_LF_SRC);
    switch (cc >> 1) {
      case 1:
        r = d < s;
        break;
      case 2:
        r = d == s;
        break;
      case 3:
        r = d <= s;
        break;
      case 4:
        r = <i32>(d - s) < 0;
        break;
      case 6:
        r = <i32>d < <i32>s;
        break;
      case 7:
        r = <i32>d <= <i32>s;
        break;
      default:
        return condition(cc);
    }
  } else if (o == ((LF_LOGIC << 2) | 2) || o == ((LF_DEC << 2) | 2) || o == ((LF_INC << 2) | 2)) {
    const res = load<u32>(STATE_BASE + S_LF_RES);
    switch (cc >> 1) {
      case 2:
        r = res == 0;
        break;
      case 4:
        r = <i32>res < 0;
        break;
      default:
        return condition(cc);
    }
  } else {
    return condition(cc);
  }
  return r != ((cc & 1) != 0);
}

/**
 * Execute instructions from CS:eip, which the fetch window covers, out of the decode cache
 * (decoding each on a miss; K_STEP ones through `step`), until `budget` instructions are done,
 * `attention` is raised, EIP leaves the fetch window, or an instruction faults or is not
 * implemented. Returns the number of instructions completed (each already counted in
 * S_INSTRET); EIP is stored on return, except after a fault, where the run loop restarts at
 * `startEip` and counts the faulting instruction as it does for `step`.
 */
export function execBlock(eip: u32, budget: i32): i32 {
  let done: i32 = 0;
  // The fetch window in locals: it only changes with `attention` raised (state.ts fetchFlush)
  // or inside `step`, after which it is read again.
  let lo = fetchLo;
  let hi = fetchHi;
  let host = fetchHost;
  // Tag and generation compared as one u64 (E_TAG low word, E_GEN high word).
  let gen = (<u64>fetchGen) << 32;
  // flagsSaved (flags.ts) stays false between instructions here: only the generic `alu`/`shift`
  // paths and `step` can set it, and they clear it once their instruction has completed.
  clearFlagsSaved();
  for (;;) {
    const h = host + eip;
    const ent = DCACHE + ((h & (DCACHE_ENTRIES - 1)) << 5);
    if (load<u64>(ent + E_TAG) != (gen | (<u64>h))) decodeInto(ent, h, eip);
    const kind = <u32>load<u8>(ent + E_KIND);
    if (PROFILING) {
      // K_STEP counts as "through step" (0F FF is never a real instruction here).
      if (kind == K_STEP) countOpcode(0x1ff);
      else countOpcode(load<u16>(PROFILE_ENTRY_OPS + (((ent - DCACHE) >> 5) << 1)));
    }
    let next = eip + <u32>load<u8>(ent + E_LEN);
    switch (kind) {
      case K_STEP:
        store<u32>(STATE_BASE + S_EIP, eip);
        step();
        if (faulted() || unimplemented) return done;
        clearFlagsSaved();
        next = load<u32>(STATE_BASE + S_EIP);
        lo = fetchLo;
        hi = fetchHi;
        host = fetchHost;
        gen = (<u64>fetchGen) << 32;
        break;
      case K_MOV_RR:
        setReg32(load<u8>(ent + E_RM), reg32(load<u8>(ent + E_REG)));
        break;
      case K_MOV_MR:
        write32(<u32>load<u8>(ent + E_SEG), ea(ent), reg32(load<u8>(ent + E_REG)));
        if (faulted()) return faultAt(eip, done);
        break;
      case K_MOV_RM: {
        const v = read32(<u32>load<u8>(ent + E_SEG), ea(ent));
        if (faulted()) return faultAt(eip, done);
        setReg32(load<u8>(ent + E_REG), v);
        break;
      }
      case K_MOV_MR_BD:
        write32(<u32>load<u8>(ent + E_SEG), eaBD(ent), reg32(load<u8>(ent + E_REG)));
        if (faulted()) return faultAt(eip, done);
        break;
      case K_MOV_RM_BD: {
        const v = read32(<u32>load<u8>(ent + E_SEG), eaBD(ent));
        if (faulted()) return faultAt(eip, done);
        setReg32(load<u8>(ent + E_REG), v);
        break;
      }
      case K_MOVZX8_RM: {
        const v = read8(<u32>load<u8>(ent + E_SEG), ea(ent));
        if (faulted()) return faultAt(eip, done);
        setReg32(load<u8>(ent + E_REG), v);
        break;
      }
      case K_MOVZX8_RM_BD: {
        const v = read8(<u32>load<u8>(ent + E_SEG), eaBD(ent));
        if (faulted()) return faultAt(eip, done);
        setReg32(load<u8>(ent + E_REG), v);
        break;
      }
      case K_ALU_RR: {
        const aop = <u32>load<u8>(ent + E_AOP);
        const dr = <u32>load<u8>(ent + E_RM);
        const d = reg32(dr);
        const v = reg32(load<u8>(ent + E_REG));
        const r = aluResult(aop, d, v);
        if (aop != 7) setReg32(dr, r);
        aluFlags(aop, 2, d, v, r);
        break;
      }
      case K_ALU_RI: {
        const aop = <u32>load<u8>(ent + E_AOP);
        const dr = <u32>load<u8>(ent + E_RM);
        const d = reg32(dr);
        const v = load<u32>(ent + E_IMM);
        const r = aluResult(aop, d, v);
        if (aop != 7) setReg32(dr, r);
        aluFlags(aop, 2, d, v, r);
        break;
      }
      case K_ALU_RM:
        if (!aluRegMem(ent, ea(ent))) return faultAt(eip, done);
        break;
      case K_ALU_RM_BD:
        if (!aluRegMem(ent, eaBD(ent))) return faultAt(eip, done);
        break;
      case K_ALU_MR:
        if (!aluMem(ent, ea(ent), reg32(load<u8>(ent + E_REG)))) return faultAt(eip, done);
        break;
      case K_ALU_MR_BD:
        if (!aluMem(ent, eaBD(ent), reg32(load<u8>(ent + E_REG)))) return faultAt(eip, done);
        break;
      case K_ALU_MI:
        if (!aluMem(ent, ea(ent), load<u32>(ent + E_IMM))) return faultAt(eip, done);
        break;
      case K_ALU_MI_BD:
        if (!aluMem(ent, eaBD(ent), load<u32>(ent + E_IMM))) return faultAt(eip, done);
        break;
      case K_ALU_EG:
        aluRm(
          ent,
          load<u8>(ent + E_AOP),
          <u32>load<u8>(ent + E_SZ),
          <u32>load<u8>(ent + E_SEG),
          regGet(<u32>load<u8>(ent + E_SZ), load<u8>(ent + E_REG)),
        );
        if (faulted()) return faultAt(eip, done);
        clearFlagsSaved();
        break;
      case K_ALU_GE: {
        const s = rmGet(
          ent,
          <u32>load<u8>(ent + E_SZ),
          <u32>load<u8>(ent + E_SEG),
          <u32>load<u8>(ent + E_SEG) == NO_MEM ? 0 : ea(ent),
        );
        if (faulted()) return faultAt(eip, done);
        aluReg(load<u8>(ent + E_AOP), <u32>load<u8>(ent + E_SZ), load<u8>(ent + E_REG), s);
        clearFlagsSaved();
        break;
      }
      case K_ALU_AI:
        aluReg(load<u8>(ent + E_AOP), <u32>load<u8>(ent + E_SZ), EAX, load<u32>(ent + E_IMM));
        clearFlagsSaved();
        break;
      case K_ALU_EI:
        aluRm(
          ent,
          load<u8>(ent + E_AOP),
          <u32>load<u8>(ent + E_SZ),
          <u32>load<u8>(ent + E_SEG),
          load<u32>(ent + E_IMM),
        );
        if (faulted()) return faultAt(eip, done);
        clearFlagsSaved();
        break;
      case K_MOV_EG:
        rmSet(
          ent,
          <u32>load<u8>(ent + E_SZ),
          <u32>load<u8>(ent + E_SEG),
          <u32>load<u8>(ent + E_SEG) == NO_MEM ? 0 : ea(ent),
          regGet(<u32>load<u8>(ent + E_SZ), load<u8>(ent + E_REG)),
        );
        if (faulted()) return faultAt(eip, done);
        break;
      case K_MOV_GE: {
        const v = rmGet(
          ent,
          <u32>load<u8>(ent + E_SZ),
          <u32>load<u8>(ent + E_SEG),
          <u32>load<u8>(ent + E_SEG) == NO_MEM ? 0 : ea(ent),
        );
        if (faulted()) return faultAt(eip, done);
        regSet(<u32>load<u8>(ent + E_SZ), load<u8>(ent + E_REG), v);
        break;
      }
      case K_MOV_EI:
        rmSet(
          ent,
          <u32>load<u8>(ent + E_SZ),
          <u32>load<u8>(ent + E_SEG),
          <u32>load<u8>(ent + E_SEG) == NO_MEM ? 0 : ea(ent),
          load<u32>(ent + E_IMM),
        );
        if (faulted()) return faultAt(eip, done);
        break;
      case K_MOV_RI:
        regSet(<u32>load<u8>(ent + E_SZ), load<u8>(ent + E_REG), load<u32>(ent + E_IMM));
        break;
      case K_LEA:
        setReg32(load<u8>(ent + E_REG), ea(ent));
        break;
      case K_LEA_BD:
        setReg32(load<u8>(ent + E_REG), eaBD(ent));
        break;
      case K_JCC:
        if (cond(load<u8>(ent + E_REG))) next += load<u32>(ent + E_IMM);
        break;
      case K_JMP:
        next += load<u32>(ent + E_IMM);
        break;
      case K_CALL:
        if (!push32(next)) return faultAt(eip, done);
        next += load<u32>(ent + E_IMM);
        break;
      case K_RET: {
        const t = pop32();
        if (faulted()) return faultAt(eip, done);
        next = t;
        break;
      }
      case K_INC:
      case K_DEC: {
        // flags.ts setLazyIncDec without the copy of the old flags: nothing here can fault.
        const r = <u32>load<u8>(ent + E_REG);
        const d = reg32(r);
        // CF survives INC/DEC: after another INC/DEC it is in EFLAGS already; else compute it.
        const lk = load<u32>(STATE_BASE + S_LF_OP) >> 2;
        if (lk != LF_INC && lk != LF_DEC) {
          const c =
            lk == LF_SUB && (load<u32>(STATE_BASE + S_LF_OP) & 3) == 2
              ? u32(load<u32>(STATE_BASE + S_LF_DST) < load<u32>(STATE_BASE + S_LF_SRC))
              : cf();
          store<u32>(STATE_BASE + S_EFLAGS, (load<u32>(STATE_BASE + S_EFLAGS) & ~1) | c);
        }
        const v = kind == K_INC ? d + 1 : d - 1;
        setReg32(r, v);
        setLazyRaw(kind == K_INC ? LF_INC : LF_DEC, d, 1, v);
        break;
      }
      case K_PUSH_R:
        if (!push32(reg32(load<u8>(ent + E_REG)))) return faultAt(eip, done);
        break;
      case K_POP_R: {
        const v = pop32();
        if (faulted()) return faultAt(eip, done);
        setReg32(load<u8>(ent + E_REG), v);
        break;
      }
      case K_PUSH_I:
        if (!push32(load<u32>(ent + E_IMM))) return faultAt(eip, done);
        break;
      case K_TEST_EG: {
        const v = rmGet(
          ent,
          <u32>load<u8>(ent + E_SZ),
          <u32>load<u8>(ent + E_SEG),
          <u32>load<u8>(ent + E_SEG) == NO_MEM ? 0 : ea(ent),
        );
        if (faulted()) return faultAt(eip, done);
        const r = v & regGet(<u32>load<u8>(ent + E_SZ), load<u8>(ent + E_REG));
        store<u32>(STATE_BASE + S_LF_OP, (LF_LOGIC << 2) | (<u32>load<u8>(ent + E_SZ)));
        store<u32>(STATE_BASE + S_LF_RES, r);
        break;
      }
      case K_TEST_AI: {
        const r = regGet(<u32>load<u8>(ent + E_SZ), EAX) & load<u32>(ent + E_IMM);
        store<u32>(STATE_BASE + S_LF_OP, (LF_LOGIC << 2) | (<u32>load<u8>(ent + E_SZ)));
        store<u32>(STATE_BASE + S_LF_RES, r);
        break;
      }
      case K_SHIFT:
      case K_SHIFT_CL: {
        const off = <u32>load<u8>(ent + E_SEG) == NO_MEM ? 0 : ea(ent);
        const d = rmGet(ent, <u32>load<u8>(ent + E_SZ), <u32>load<u8>(ent + E_SEG), off);
        const n: u32 = (kind == K_SHIFT ? load<u32>(ent + E_IMM) : getReg(0, ECX)) & 31;
        if (faulted()) return faultAt(eip, done);
        if (n == 0) break;
        const sop = <u32>load<u8>(ent + E_AOP);
        if (<u32>load<u8>(ent + E_SZ) == 2 && sop >= 4) {
          // SHL/SAL, SHR, SAR: flags as a lazy record (flags.ts LF_SHL..), set after the write.
          const r = sop == 5 ? d >>> n : sop == 7 ? <u32>((<i32>d) >> n) : d << n;
          rmSet(ent, 2, <u32>load<u8>(ent + E_SEG), off, r);
          if (faulted()) return faultAt(eip, done);
          setLazyRaw(sop == 5 ? LF_SHR : sop == 7 ? LF_SAR : LF_SHL, d, n, r);
          break;
        }
        rmSet(
          ent,
          <u32>load<u8>(ent + E_SZ),
          <u32>load<u8>(ent + E_SEG),
          off,
          shift(sop, <u32>load<u8>(ent + E_SZ), d, n),
        );
        if (faulted()) return faultAt(eip, done);
        clearFlagsSaved();
        break;
      }
      case K_MOVX: {
        const v = rmGet(
          ent,
          <u32>load<u8>(ent + E_SZ),
          <u32>load<u8>(ent + E_SEG),
          <u32>load<u8>(ent + E_SEG) == NO_MEM ? 0 : ea(ent),
        );
        if (faulted()) return faultAt(eip, done);
        setReg32(load<u8>(ent + E_REG), load<u8>(ent + E_AOP) != 0 ? sext(<u32>load<u8>(ent + E_SZ), v) : v);
        break;
      }
      default: // K_NOP
        break;
    }
    // Every handler above that can fault has returned through faultAt already.
    eip = next;
    done++;
    store<u64>(STATE_BASE + S_INSTRET, load<u64>(STATE_BASE + S_INSTRET) + 1);
    if (attention || done >= budget || eip - lo >= hi - lo) break;
  }
  store<u32>(STATE_BASE + S_EIP, eip);
  return done;
}

/** A fast handler faulted: the run loop restarts the instruction at `eip`. */
// @ts-ignore: decorator
@inline
function faultAt(eip: u32, done: i32): i32 {
  setStartEip(eip);
  return done;
}

/** 32-bit PUSH (stack.ts `push` with the 32-bit stack inline); false after a fault. */
// @ts-ignore: decorator
@inline
function push32(v: u32): bool {
  if ((segAttr(SS) & ATTR_DB) == 0) {
    push(2, v);
    return !faulted();
  }
  const sp = reg32(ESP) - 4;
  write32(SS, sp, v);
  if (faulted()) return false;
  setReg32(ESP, sp);
  return true;
}

/** 32-bit POP; check faulted() before using the value. */
// @ts-ignore: decorator
@inline
function pop32(): u32 {
  if ((segAttr(SS) & ATTR_DB) == 0) return pop(2);
  const sp = reg32(ESP);
  const v = read32(SS, sp);
  if (!faulted()) setReg32(ESP, sp + 4);
  return v;
}
