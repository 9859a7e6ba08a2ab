/**
 * Build tiny Multiboot kernels from raw 32-bit machine code, for tests whose guest I/O must be
 * known exactly. The image uses the a.out kludge (Multiboot 0.6.96 §3.1.3): a 32-byte header at
 * file offset 0, loaded at 1 MiB, entry right after the header.
 */
export const MINI_LOAD_ADDR = 0x100000;
export const MINI_ENTRY = MINI_LOAD_ADDR + 32;

export function miniKernel(code: number[]): Uint8Array {
  const image = new Uint8Array(32 + code.length);
  const v = new DataView(image.buffer);
  const magic = 0x1badb002;
  const flags = 0x00010000;
  const fields = [magic, flags, -(magic + flags) >>> 0, MINI_LOAD_ADDR, MINI_LOAD_ADDR, 0, 0, MINI_ENTRY];
  fields.forEach((f, i) => v.setUint32(i * 4, f, true));
  image.set(code, 32);
  return image;
}

/** Little-endian bytes of a 32-bit immediate. */
export function imm32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

// A few encodings used by the tests (Intel SDM vol. 2).
export const asm = {
  movEcx: (n: number) => [0xb9, ...imm32(n)],
  movDx: (n: number) => [0x66, 0xba, n & 0xff, (n >>> 8) & 0xff],
  movAl: (n: number) => [0xb0, n & 0xff],
  outDxAl: [0xee],
  inAlDx: [0xec],
  inAlImm: (port: number) => [0xe4, port],
  outImmAl: (port: number) => [0xe6, port],
  /** LOOP back to the instruction `back` bytes before the end of this LOOP. */
  loop: (back: number) => [0xe2, -(back + 2) & 0xff],
  jmpSelf: [0xeb, 0xfe],
  cliHlt: [0xfa, 0xf4],
  ud2: [0x0f, 0x0b],
} as const;
