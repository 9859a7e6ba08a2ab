// Accessors for the CPU state block (see layout.ts). Everything is a load/store at a constant
// address, so these inline to single instructions.
import {
  STATE_BASE,
  S_REGS,
  S_EIP,
  S_SEG_SEL,
  S_SEG_BASE,
  S_SEG_LIMIT,
  S_SEG_ATTR,
  S_CR0,
  S_CPL,
  CTL_BASE,
  C_RAM_SIZE,
} from "../layout";

// Register numbers in encoding order.
export const EAX: u32 = 0;
export const ECX: u32 = 1;
export const EDX: u32 = 2;
export const EBX: u32 = 3;
export const ESP: u32 = 4;
export const EBP: u32 = 5;
export const ESI: u32 = 6;
export const EDI: u32 = 7;

// Segment register numbers in encoding order.
export const ES: u32 = 0;
export const CS: u32 = 1;
export const SS: u32 = 2;
export const DS: u32 = 3;
export const FS: u32 = 4;
export const GS: u32 = 5;

export const CR0_PE: u32 = 1;
export const CR0_MP: u32 = 2;
export const CR0_EM: u32 = 4;
export const CR0_TS: u32 = 8;
export const CR0_ET: u32 = 0x10;
export const CR0_NE: u32 = 0x20;
export const CR0_WP: u32 = 0x10000;
export const CR0_PG: u32 = 0x80000000;

// Segment attribute bits (descriptor high dword bits 8..23, shifted down by 8).
export const ATTR_ACCESSED: u32 = 0x01;
export const ATTR_S: u32 = 0x10;
export const ATTR_P: u32 = 0x80;
export const ATTR_DB: u32 = 0x4000;
export const ATTR_G: u32 = 0x8000;

export function reg32(r: u32): u32 {
  return load<u32>(STATE_BASE + S_REGS + (r << 2));
}
export function setReg32(r: u32, v: u32): void {
  store<u32>(STATE_BASE + S_REGS + (r << 2), v);
}
export function reg16(r: u32): u32 {
  return load<u16>(STATE_BASE + S_REGS + (r << 2));
}
export function setReg16(r: u32, v: u32): void {
  store<u16>(STATE_BASE + S_REGS + (r << 2), <u16>v);
}
/** 8-bit registers AL CL DL BL AH CH DH BH: low or second byte of EAX..EBX. */
export function reg8(r: u32): u32 {
  return load<u8>(STATE_BASE + S_REGS + ((r & 3) << 2) + (r >> 2));
}
export function setReg8(r: u32, v: u32): void {
  store<u8>(STATE_BASE + S_REGS + ((r & 3) << 2) + (r >> 2), <u8>v);
}

export function eip(): u32 {
  return load<u32>(STATE_BASE + S_EIP);
}
export function setEip(v: u32): void {
  store<u32>(STATE_BASE + S_EIP, v);
}

export function segSel(s: u32): u32 {
  return load<u32>(STATE_BASE + S_SEG_SEL + (s << 2));
}
export function segBase(s: u32): u32 {
  return load<u32>(STATE_BASE + S_SEG_BASE + (s << 2));
}
export function segLimit(s: u32): u32 {
  return load<u32>(STATE_BASE + S_SEG_LIMIT + (s << 2));
}
export function segAttr(s: u32): u32 {
  return load<u32>(STATE_BASE + S_SEG_ATTR + (s << 2));
}
export function setSegCache(s: u32, sel: u32, base: u32, limit: u32, attr: u32): void {
  store<u32>(STATE_BASE + S_SEG_SEL + (s << 2), sel);
  store<u32>(STATE_BASE + S_SEG_BASE + (s << 2), base);
  store<u32>(STATE_BASE + S_SEG_LIMIT + (s << 2), limit);
  store<u32>(STATE_BASE + S_SEG_ATTR + (s << 2), attr);
}

export function cr0(): u32 {
  return load<u32>(STATE_BASE + S_CR0);
}
export function cpl(): u32 {
  return load<u32>(STATE_BASE + S_CPL);
}
export function setCpl(v: u32): void {
  store<u32>(STATE_BASE + S_CPL, v);
}
export function protectedMode(): bool {
  return (cr0() & CR0_PE) != 0;
}
export function ramSize(): u32 {
  return load<u32>(CTL_BASE + C_RAM_SIZE);
}
