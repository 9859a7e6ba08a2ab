// Pending exception raised during an instruction (Intel SDM vol. 3 §6.15). Memory and segment
// helpers report a fault here and return a dummy value; the instruction loop checks `pending`
// before committing results and delivers the exception with EIP back at the faulting instruction.

export const EXC_DE: i32 = 0;
export const EXC_DB: i32 = 1;
export const EXC_NMI: i32 = 2;
export const EXC_BP: i32 = 3;
export const EXC_OF: i32 = 4;
export const EXC_BR: i32 = 5;
export const EXC_UD: i32 = 6;
export const EXC_NM: i32 = 7;
export const EXC_DF: i32 = 8;
export const EXC_TS: i32 = 10;
export const EXC_NP: i32 = 11;
export const EXC_SS: i32 = 12;
export const EXC_GP: i32 = 13;
export const EXC_PF: i32 = 14;
export const EXC_MF: i32 = 16;

/** Vector of the pending exception, or -1. */
export let faultVector: i32 = -1;
export let faultCode: u32 = 0;
export let faultHasCode: bool = false;

/** Raise an exception with an error code (#DF, #TS, #NP, #SS, #GP, #PF). */
export function raise(vector: i32, code: u32): void {
  if (faultVector < 0) {
    faultVector = vector;
    faultCode = code;
    faultHasCode = true;
  }
}

/** Raise an exception that pushes no error code (#DE, #UD, #NM, ...). */
export function raiseNoCode(vector: i32): void {
  if (faultVector < 0) {
    faultVector = vector;
    faultCode = 0;
    faultHasCode = false;
  }
}

// @ts-ignore: decorator
@inline
export function faulted(): bool {
  return faultVector >= 0;
}

export function clearFault(): void {
  faultVector = -1;
  faultHasCode = false;
}

/**
 * Set when something the run loop checks between instructions may have changed: the host's stop
 * word or IRQ pending word (any host call, run entry), EFLAGS.IF (setFlags), the interrupt shadow
 * or HLT. The run loop tests this one flag per instruction and does the full checks only when it
 * is set (index.ts).
 */
export let attention: bool = true;
// @ts-ignore: decorator
@inline
export function raiseAttention(): void {
  attention = true;
}
export function clearAttention(): void {
  attention = false;
}
