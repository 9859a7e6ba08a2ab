// CPUID (SDM vol. 2 "CPUID"): a family-6 CPU advertising only what the core implements.
import { reg32, setReg32, EAX, EBX, ECX, EDX } from "./state";

// Leaf 1 EDX: FPU(0), VME(1: CR4.VME/PVI, vme.ts), DE(2: CR4.DE, DR4/DR5 #UD; the debug
// registers are storage only, docs/cpu-known-differences.md), PSE(3), TSC(4, and CR4.TSD), MSR(5),
// CX8(8), SEP(11, SYSENTER/SYSEXIT), PGE(13: global pages in the TLB), CMOV(15), FXSR(24,
// FXSAVE/FXRSTOR of the x87 state; no SSE).
const FEATURES_EDX: u32 =
  1 |
  (1 << 1) |
  (1 << 2) |
  (1 << 3) |
  (1 << 4) |
  (1 << 5) |
  (1 << 8) |
  (1 << 11) |
  (1 << 13) |
  (1 << 15) |
  (1 << 24);

export function cpuid(): void {
  const leaf = reg32(EAX);
  if (leaf == 0) {
    setReg32(EAX, 1);
    // "TrapdoorCPU!" in EBX, EDX, ECX order.
    setReg32(EBX, 0x70617254); // "Trap"
    setReg32(EDX, 0x726f6f64); // "door"
    setReg32(ECX, 0x21555043); // "CPU!"
    return;
  }
  if (leaf == 1) {
    setReg32(EAX, 0x00000633); // family 6, model 3, stepping 3 (a Pentium II)
    setReg32(EBX, 0);
    setReg32(ECX, 0);
    setReg32(EDX, FEATURES_EDX);
    return;
  }
  setReg32(EAX, 0);
  setReg32(EBX, 0);
  setReg32(ECX, 0);
  setReg32(EDX, 0);
}
