/**
 * Runs one 80286 real-mode vector on a trapdoor Core: real-mode segments (base = selector * 16,
 * limit 0xFFFF), registers and RAM from `initial`, then single steps until the HLT after the
 * instruction (or at the exception handler / jump target) has executed, and compares.
 */
import { Core, type CoreHost, type GprName, type SegName } from "../../src/core/core.js";
import type { Regs, Vector } from "./vectors.js";

export const RAM_SIZE = 16 * 1024 * 1024;
/** Instructions a test may execute before it counts as a runaway. */
const MAX_STEPS = 64;

const GPRS: [keyof Regs, GprName][] = [
  ["ax", "eax"],
  ["bx", "ebx"],
  ["cx", "ecx"],
  ["dx", "edx"],
  ["sp", "esp"],
  ["bp", "ebp"],
  ["si", "esi"],
  ["di", "edi"],
];
const SEGS: [keyof Regs, SegName][] = [
  ["cs", "cs"],
  ["ss", "ss"],
  ["ds", "ds"],
  ["es", "es"],
];
const REG_ORDER: (keyof Regs)[] = [...GPRS.map((g) => g[0]), ...SEGS.map((s) => s[0]), "ip", "flags"];

/** Every port reads as all ones; MMIO (there is none below 16 MiB) likewise. */
const HOST: CoreHost = {
  pioRead: (_port, width) => (width === 4 ? 0xffffffff : (1 << (8 * width)) - 1),
  pioWrite: () => {},
  mmioRead: (_addr, width) => (width === 4 ? 0xffffffff : (1 << (8 * width)) - 1),
  mmioWrite: () => {},
  ackInterrupt: () => {
    throw new Error("cpu-vectors: no interrupt controller");
  },
};

export function createCore(): Promise<Core> {
  return Core.create(HOST, RAM_SIZE);
}

function loadState(core: Core, v: Vector): void {
  const r = v.initial.regs;
  core.reset();
  for (const [name, seg] of SEGS) {
    core.setSegment(seg, {
      selector: r[name],
      base: r[name] * 16,
      limit: 0xffff,
      attributes: seg === "cs" ? 0x9b : 0x93,
    });
  }
  for (const [name, gpr] of GPRS) core.setReg(gpr, r[name]);
  core.eip = r.ip;
  // The recorder set FLAGS bits 12-15 through LOADALL; real mode cannot (README).
  core.eflags = (r.flags & 0x0fff) | 2;
  for (const [addr, b] of v.initial.ram) core.ram[addr] = b;
}

/** Zero every byte a test set or checked, so the next test starts from zeroed RAM. */
export function clearRam(core: Core, v: Vector): void {
  for (const [addr] of v.initial.ram) core.ram[addr] = 0;
  for (const [addr] of v.final.ram) core.ram[addr] = 0;
}

/** Single-step until the core reports the HLT; returns the number of instructions or an error. */
function execute(core: Core): string | null {
  for (let i = 0; i < MAX_STEPS; i++) {
    const stop = core.run(1);
    if (stop === "hlt" || stop === "hlt-dead") return null;
    if (stop !== "budget") {
      const e = core.lastError;
      return `stopped with ${stop} (opcode ${e.opcode.toString(16)} at ${e.eip.toString(16)})`;
    }
  }
  return `no HLT within ${MAX_STEPS} instructions`;
}

function actualRegs(core: Core): Regs {
  const out = {} as Regs;
  for (const [name, gpr] of GPRS) out[name] = core.getReg(gpr);
  for (const [name, seg] of SEGS) out[name] = core.getSegment(seg).selector;
  out.ip = core.eip;
  out.flags = core.eflags;
  return out;
}

const hex = (n: number, w = 4) => n.toString(16).padStart(w, "0");

/**
 * Run `v` and return the differences (empty when the test passes). `mask` selects the FLAGS
 * bits compared, in the flags register and in the FLAGS image an exception pushes; `ioplNt`
 * are the FLAGS bits 12-14 to expect (the 286 result has them clear).
 */
export function runVector(core: Core, v: Vector, mask: number, ioplNt = 0): string[] {
  loadState(core, v);
  const err = execute(core);
  const diffs: string[] = err === null ? [] : [err];
  const want: Regs = { ...v.initial.regs, ...v.final.regs };
  want.flags = (want.flags & 0x0fff) | ioplNt; // FLAGS is the raw initial value if unchanged
  const got = actualRegs(core);
  for (const name of REG_ORDER) {
    const m = name === "flags" ? mask : 0xffffffff;
    // Upper halves of the 32-bit registers must stay zero too: compare the whole value.
    if (((got[name] ^ want[name]) & m) >>> 0 !== 0) {
      diffs.push(`${name}: got ${hex(got[name])} want ${hex(want[name])}`);
    }
  }
  // An exception pushes FLAGS, CS, IP; the handler is a bare HLT, so FLAGS lies at SS:SP+4.
  // (`exception.flag_address` is rounded down to an even address when SP is odd.)
  const flagAddr = v.exception === undefined ? undefined : want.ss * 16 + ((want.sp + 4) & 0xffff);
  const flagAddrHi = v.exception === undefined ? undefined : want.ss * 16 + ((want.sp + 5) & 0xffff);
  for (const [addr, b] of v.final.ram) {
    let m = 0xff;
    if (addr === flagAddr) m = mask & 0xff;
    else if (addr === flagAddrHi) m = mask >> 8;
    if (((core.ram[addr]! ^ b) & m) !== 0) {
      diffs.push(`ram[${hex(addr, 6)}]: got ${hex(core.ram[addr]!, 2)} want ${hex(b, 2)}`);
    }
  }
  if (diffs.length > 0) {
    // Faults the core delivered (software INT n is not counted), to tell #SS from #GP and such.
    const n = core.ctl("C_EXC_COUNT");
    const last = n === 0 ? "none" : `#${core.ctl("C_LAST_EXC")} (${n} delivered)`;
    diffs.push(
      `exception: got ${last} want ${v.exception === undefined ? "none" : `#${v.exception.number}`}`,
    );
  }
  return diffs;
}

/**
 * Run `v`, whose instruction an i686 rejects with #UD: one step must deliver #6 through the IVT
 * with the instruction's own IP pushed as the return address.
 */
export function runExpectingUd(core: Core, v: Vector): string[] {
  loadState(core, v);
  const r = v.initial.regs;
  core.run(1);
  const diffs: string[] = [];
  const n = core.ctl("C_EXC_COUNT");
  if (n !== 1 || core.ctl("C_LAST_EXC") !== 6)
    diffs.push(`expected #UD, got ${n} exceptions, last #${core.ctl("C_LAST_EXC")}`);
  const ipAt = r.ss * 16 + ((r.sp - 6) & 0xffff);
  const pushedIp = core.ram[ipAt]! | (core.ram[r.ss * 16 + ((r.sp - 5) & 0xffff)]! << 8);
  if (pushedIp !== r.ip) diffs.push(`#UD pushed IP ${hex(pushedIp)}, want ${hex(r.ip)}`);
  return diffs;
}

/** Zero the three words an exception pushes below the initial SP (not listed in final.ram). */
export function clearExceptionFrame(core: Core, v: Vector): void {
  const r = v.initial.regs;
  for (let d = 1; d <= 6; d++) core.ram[r.ss * 16 + ((r.sp - d) & 0xffff)] = 0;
}
