// CPUID (SDM vol. 2 "CPUID"): a family-6 CPU advertising only what the core implements.
import { reg32, setReg32, EAX, EBX, ECX, EDX } from "./state";

// Leaf 1 EDX: VME(1) DE(2) PGE(13) follow as each is built. What is real now: FPU(0)
// PSE(3) TSC(4) MSR(5) CX8(8) SEP(11, SYSENTER/SYSEXIT) CMOV(15) FXSR(24, FXSAVE/FXRSTOR of the
// x87 state; no SSE).
const FEATURES_EDX: u32 = 1 | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 8) | (1 << 11) | (1 << 15) | (1 << 24);

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
