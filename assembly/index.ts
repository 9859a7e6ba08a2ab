// The core's exports: the layout (as immutable globals), init, run and small helpers.
// See docs/core-abi.md for the contract with the host.
import {
  STATE_BASE,
  CTL_BASE,
  RAM_BASE,
  STATE_SIZE,
  S_EIP,
  S_HALTED,
  S_INT_SHADOW,
  S_INSTRET,
  S_CR0,
  S_IDTR_LIMIT,
  S_GDTR_LIMIT,
  S_LDTR,
  S_TR,
  C_RAM_SIZE,
  C_ROM_SIZE,
  C_STOP_REQUEST,
  C_IRQ_PENDING,
  C_IRQ_COUNT,
  C_IRQ_VECTORS,
  C_TRACE_SIZE,
  EXIT_INTERRUPT,
  EXIT_HOST_STOP,
  C_ERR_OPCODE,
  C_ERR_EIP,
  STOP_BUDGET,
  STOP_HLT,
  STOP_SHUTDOWN,
  STOP_HOST,
  STOP_INTERNAL_ERROR,
  STOP_HLT_DEAD,
  S_DR,
} from "./layout";
import { ackInterrupt } from "./host";
import { recordExit, recordEvent, clearCounters } from "./exits";
import { setA20 } from "./cpu/memory";
import { step, unimplemented, clearUnimplemented } from "./cpu/execute";
import { startEip, refillFetchWindow } from "./cpu/decode";
import { fpuReset } from "./cpu/fpu/state";
import { clearProfile } from "./cpu/profile";
import { faulted, clearFault, attention, raiseAttention, clearAttention } from "./cpu/fault";
import { deliverPendingException, interrupt, shutdown, clearShutdown } from "./cpu/interrupts";
import {
  sysFlags,
  setFlags,
  getFlags,
  restoreFlagState,
  flagsSaved,
  clearFlagsSaved,
  F_IF,
} from "./cpu/flags";
import {
  setEip,
  setSegCache,
  segBase,
  refreshDerived,
  fetchLo,
  fetchHi,
  CS,
  ATTR_P,
  ATTR_S,
  fetchFlush,
} from "./cpu/state";
import { execBlock, dcacheFlush, codeWrittenRange } from "./cpu/dcache";
import { debugRearm, debugCheck, debugBefore, debugAfter, debugActive } from "./cpu/debug";

// Every layout constant (regions, state offsets, control offsets, stop reasons) is exported as
// an immutable global, so the host reads the map from the module instead of copying it.
export * from "./layout";

/**
 * Reset the CPU to its power-on state (SDM vol. 3 §9.1.1: real mode, CS:IP = F000:FFF0 with
 * CS base 0xFFFF0000) and set the guest RAM and firmware ROM sizes, with the A20 gate on (as
 * QEMU). The host must have sized the memory to hold RAM_BASE + ramSize + romSize bytes, and
 * keeps the ROM image at RAM_BASE + ramSize. Every counter is cleared; tracing stays as set.
 */
export function reset(ramSize: u32, romSize: u32): void {
  const traceSize = load<u32>(CTL_BASE + C_TRACE_SIZE);
  memory.fill(STATE_BASE, 0, STATE_SIZE);
  memory.fill(CTL_BASE, 0, 0x1000);
  clearCounters();
  store<u32>(CTL_BASE + C_TRACE_SIZE, traceSize);
  store<u32>(CTL_BASE + C_RAM_SIZE, ramSize);
  store<u32>(CTL_BASE + C_ROM_SIZE, romSize);
  setA20(true);
  const data: u32 = ATTR_P | ATTR_S | 0x3;
  for (let s: u32 = 0; s < 6; s++) setSegCache(s, 0, 0, 0xffff, data);
  setSegCache(CS, 0xf000, 0xffff0000, 0xffff, ATTR_P | ATTR_S | 0xb);
  setEip(0xfff0);
  setFlags(0);
  store<u32>(STATE_BASE + S_CR0, 0x60000010);
  store<u32>(STATE_BASE + S_IDTR_LIMIT, 0x3ff);
  store<u32>(STATE_BASE + S_GDTR_LIMIT, 0xffff);
  store<u32>(STATE_BASE + S_LDTR + 8, 0xffff);
  store<u32>(STATE_BASE + S_TR + 8, 0xffff);
  store<u32>(STATE_BASE + S_TR + 12, 0x8b);
  store<u32>(STATE_BASE + S_DR + 24, 0xffff0ff0); // DR6, DR7 power-on values (SDM vol. 3 §9.1.1)
  store<u32>(STATE_BASE + S_DR + 28, 0x400);
  clearFault();
  clearShutdown();
  clearUnimplemented();
  fpuReset();
  clearProfile();
  refreshDerived();
}

/**
 * Execute up to `budget` instructions. Returns a STOP_* reason. Maskable interrupts are taken
 * between instructions when the host's C_IRQ_PENDING word is non-zero and IF is set.
 *
 * The checks between instructions (stop word, interrupt shadow, pending interrupt, HLT) run only
 * while `attention` is set: at entry, after any host call (the only place the host can change
 * the stop or IRQ word during a run), after a change of EFLAGS, the shadow or HLT, and for the
 * instruction after a shadow. That is the same sequence of checks as testing before every
 * instruction, at the cost of one flag test per instruction.
 */
export function run(budget: i32): i32 {
  const stopWord = CTL_BASE + C_STOP_REQUEST;
  // The host may have written registers, segments, control registers or RAM since the last run.
  refreshDerived();
  dcacheFlush();
  debugRearm(); // the host may have written DR0-DR7 too
  raiseAttention();
  while (budget > 0) {
    if (attention) {
      clearAttention();
      if (load<u32>(stopWord) != 0) {
        store<u32>(stopWord, 0);
        recordEvent(EXIT_HOST_STOP, 0);
        return STOP_HOST;
      }
      if (load<u32>(STATE_BASE + S_INT_SHADOW) != 0) {
        store<u32>(STATE_BASE + S_INT_SHADOW, 0);
        raiseAttention(); // the next instruction may take the interrupt held off here
      } else if (load<u32>(CTL_BASE + C_IRQ_PENDING) != 0 && (sysFlags() & F_IF) != 0) {
        takeInterrupt();
        if (shutdown) return STOP_SHUTDOWN;
      }
      if (load<u32>(STATE_BASE + S_HALTED) != 0) {
        raiseAttention();
        return (sysFlags() & F_IF) != 0 ? STOP_HLT : STOP_HLT_DEAD;
      }
      // Breakpoints armed or TF set: this instruction alone, through `step` (cpu/debug.ts).
      if (debugCheck()) {
        fetchFlush(); // raises attention: the next instruction comes back here
        if (debugBefore()) {
          deliverPendingException();
          if (shutdown) return STOP_SHUTDOWN;
          continue;
        }
      }
    }
    const eipNow = load<u32>(STATE_BASE + S_EIP);
    if (eipNow - fetchLo >= fetchHi - fetchLo) refillFetchWindow(eipNow);
    if (eipNow - fetchLo < fetchHi - fetchLo) {
      // Out of the decode cache (cpu/dcache.ts) until something needs this loop.
      budget -= execBlock(eipNow, budget);
      if (!faulted() && !unimplemented) continue;
    } else {
      clearFlagsSaved();
      step();
      if (debugActive && !faulted() && !unimplemented && debugAfter()) {
        deliverPendingException(); // a trap: EIP is already past the instruction
        if (shutdown) return STOP_SHUTDOWN;
      }
    }
    if (faulted() || unimplemented) {
      if (unimplemented) {
        setEip(startEip);
        return STOP_INTERNAL_ERROR;
      }
      setEip(startEip);
      if (flagsSaved) restoreFlagState();
      deliverPendingException();
      if (shutdown) return STOP_SHUTDOWN;
    }
    store<u64>(STATE_BASE + S_INSTRET, load<u64>(STATE_BASE + S_INSTRET) + 1);
    budget--;
  }
  return STOP_BUDGET;
}

/** Acknowledge the controller's interrupt and deliver it; wakes a halted CPU. */
function takeInterrupt(): void {
  const vector = ackInterrupt() & 0xff;
  raiseAttention();
  store<u32>(STATE_BASE + S_HALTED, 0);
  store<u32>(CTL_BASE + C_IRQ_COUNT, load<u32>(CTL_BASE + C_IRQ_COUNT) + 1);
  const perVector = CTL_BASE + C_IRQ_VECTORS + (vector << 2);
  store<u32>(perVector, load<u32>(perVector) + 1);
  recordExit(EXIT_INTERRUPT, vector, 0, vector);
  interrupt(vector, false, false, 0, load<u32>(STATE_BASE + S_EIP));
  if (faulted()) deliverPendingException();
}

// Virtqueues (docs/virtio.md): the device side of split rings, per slot at VQ_BASE.
export { vqReset, vqCheckRings, vqPending, vqPop, vqWalk, vqPushUsed, vqPublish } from "./virtio/queue";

// The A20 gate (the host's port 0x92 device): setA20(enabled).
export { setA20 };

/**
 * Drop every decoded instruction. The core does this at every run() entry, so a host that writes
 * guest RAM between runs needs nothing; one that writes it during a run (DMA from inside an I/O
 * callback) must call `invalidateCode` for the range it wrote (or this).
 */
export function flushDecodeCache(): void {
  dcacheFlush();
}

/**
 * Guest-physical RAM [addr, addr + len) was written during a run by something other than the CPU
 * (a device's DMA): decoded instructions from those pages are dropped, as the CPU would see the
 * new bytes (x86 keeps instruction fetch coherent with DMA). Cheap for pages without code.
 */
export function invalidateCode(addr: u32, len: u32): void {
  codeWrittenRange(addr, len);
}

/** Zero every trap counter (docs/exits.md); tracing stays on if it was. */
export { clearCounters };

/** Ask the core to stop after the current instruction (callable from inside a host import). */
export function requestStop(reason: u32): void {
  store<u32>(CTL_BASE + C_STOP_REQUEST, reason == 0 ? 1 : reason);
}

/** Linear address of CS:EIP, for diagnostics. */
export function currentLinearEip(): u32 {
  return segBase(CS) + load<u32>(STATE_BASE + S_EIP);
}

/** The opcode and linear EIP of the last STOP_INTERNAL_ERROR. */
export function errorOpcode(): u32 {
  return load<u32>(CTL_BASE + C_ERR_OPCODE);
}
export function errorEip(): u32 {
  return load<u32>(CTL_BASE + C_ERR_EIP);
}

/** EFLAGS with the lazy arithmetic flags computed. */
export function eflags(): u32 {
  return getFlags();
}

/** Replace EFLAGS (loaders, debuggers, tests). */
export function setEflags(v: u32): void {
  setFlags(v);
}
