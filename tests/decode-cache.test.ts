/**
 * The core's decode cache and fast paths (docs/performance.md): self-modifying code, host writes
 * between runs, and faults inside cached instructions, with mini kernels whose result is the
 * debug-exit code.
 */
import { describe, expect, it } from "vitest";
import { Machine } from "../src/machine.js";
import { MINI_ENTRY, miniKernel } from "./helpers/mini-kernel.js";

/** A tiny assembler: bytes, labels, and absolute/relative fixups resolved at the end. */
class Code {
  readonly bytes: number[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: { at: number; label: string; kind: "abs32" | "rel8" | "rel32"; add: number }[] =
    [];
  get here(): number {
    return MINI_ENTRY + this.bytes.length;
  }
  label(name: string): this {
    this.labels.set(name, this.here);
    return this;
  }
  emit(...b: number[]): this {
    this.bytes.push(...b.map((x) => x & 0xff));
    return this;
  }
  imm32(n: number): this {
    return this.emit(n, n >>> 8, n >>> 16, n >>> 24);
  }
  abs32(label: string, add = 0): this {
    this.fixups.push({ at: this.bytes.length, label, kind: "abs32", add });
    return this.imm32(0);
  }
  rel8(label: string): this {
    this.fixups.push({ at: this.bytes.length, label, kind: "rel8", add: 0 });
    return this.emit(0);
  }
  rel32(label: string): this {
    this.fixups.push({ at: this.bytes.length, label, kind: "rel32", add: 0 });
    return this.imm32(0);
  }
  /** out 0xF4, al with al = v: the machine stops with exit code (v << 1) | 1. */
  exit(v: number): this {
    return this.emit(0xb0, v, 0xe6, 0xf4);
  }
  build(): number[] {
    for (const f of this.fixups) {
      const target = this.labels.get(f.label);
      if (target === undefined) throw new Error(`no label ${f.label}`);
      const end = MINI_ENTRY + f.at + (f.kind === "rel8" ? 1 : 4);
      const v = f.kind === "abs32" ? target + f.add : target - end;
      if (f.kind === "rel8") {
        if (v < -128 || v > 127) throw new Error(`rel8 to ${f.label} out of range`);
        this.bytes[f.at] = v & 0xff;
      } else {
        for (let i = 0; i < 4; i++) this.bytes[f.at + i] = (v >>> (8 * i)) & 0xff;
      }
    }
    return this.bytes;
  }
}

async function run(code: number[], instructionLimit = 1_000_000) {
  const m = await Machine.create({ memory: "16M" });
  m.loadMultiboot(miniKernel(code));
  return { m, outcome: await m.run({ timeoutMs: 10_000, instructionLimit }) };
}

describe("decode cache", () => {
  it("runs the new bytes when an instruction rewrites the very next one (same page, cached)", async () => {
    // ebx = sum over ecx = 3, 2, 1 of the immediate the loop patches into `mov eax, imm32`
    // just before executing it: 3 + 2 + 1 = 6. A stale decoded copy would give 3 + 3 + 3.
    const c = new Code()
      .emit(0x31, 0xdb) // xor ebx, ebx
      .emit(0xb9)
      .imm32(3) // mov ecx, 3
      .label("loop")
      .emit(0x88, 0x0d)
      .abs32("patch", 1) // mov [patch + 1], cl
      .label("patch")
      .emit(0xb8)
      .imm32(0) // mov eax, 0 (patched)
      .emit(0x01, 0xc3) // add ebx, eax
      .emit(0x49) // dec ecx
      .emit(0x75)
      .rel8("loop") // jnz loop
      .emit(0x88, 0xd8, 0xe6, 0xf4); // mov al, bl; out 0xF4, al
    const { outcome } = await run(c.build());
    expect(outcome).toEqual({ kind: "debug-exit", exitCode: (6 << 1) | 1 });
  });

  it("runs rewritten code in another page that was called before (mov eax, imm32; ret)", async () => {
    const buf = 0x200000;
    const c = new Code()
      .emit(0xbc)
      .imm32(0x180000) // mov esp, 0x180000
      .emit(0x31, 0xdb) // xor ebx, ebx
      .emit(0xb9)
      .imm32(5) // mov ecx, 5
      .label("loop")
      .emit(0xc6, 0x05)
      .imm32(buf)
      .emit(0xb8) // mov byte [buf], 0xB8
      .emit(0x89, 0x0d)
      .imm32(buf + 1) // mov [buf + 1], ecx
      .emit(0xc6, 0x05)
      .imm32(buf + 5)
      .emit(0xc3) // mov byte [buf + 5], 0xC3
      .emit(0xb8)
      .imm32(buf) // mov eax, buf
      .emit(0xff, 0xd0) // call eax
      .emit(0x6b, 0xdb, 0x0a) // imul ebx, ebx, 10
      .emit(0x01, 0xc3) // add ebx, eax
      .emit(0x49) // dec ecx
      .emit(0x75)
      .rel8("loop")
      // ebx = 54321: report ebx mod 251 (= 107) as the exit value.
      .emit(0x89, 0xd8) // mov eax, ebx
      .emit(0x31, 0xd2) // xor edx, edx
      .emit(0xb9)
      .imm32(251) // mov ecx, 251
      .emit(0xf7, 0xf1) // div ecx
      .emit(0x88, 0xd0, 0xe6, 0xf4); // mov al, dl; out 0xF4, al
    const { outcome } = await run(c.build());
    expect(outcome).toEqual({ kind: "debug-exit", exitCode: ((54321 % 251) << 1) | 1 });
  });

  it("sees code the host rewrote between two runs", async () => {
    // An endless loop `L: mov eax, imm32; jmp L`; the host patches the immediate and then the
    // jump (to fall through to the exit) between runs.
    const c = new Code()
      .label("loop")
      .emit(0xb8)
      .imm32(1) // mov eax, 1
      .label("jmp")
      .emit(0xeb)
      .rel8("loop") // jmp loop
      .emit(0xe6, 0xf4); // out 0xF4, al
    const code = c.build();
    const m = await Machine.create({ memory: "16M" });
    m.loadMultiboot(miniKernel(code));
    expect(await m.run({ instructionLimit: 1000 })).toEqual({ kind: "instruction-limit" });
    expect(m.core.getReg("eax")).toBe(1);
    const at = MINI_ENTRY; // the mov's opcode byte
    m.core.ram[at + 1] = 0x2a; // mov eax, 0x2A
    m.core.ram[at + 6] = 0; // jmp +0: fall through to the out
    expect(await m.run({ timeoutMs: 10_000 })).toEqual({ kind: "debug-exit", exitCode: (0x2a << 1) | 1 });
  });

  it("sees code a device rewrote during a run once it calls invalidateCode (DMA)", async () => {
    // L: mov eax, 1; out 0x99, al; cmp eax, 0x2A; jne L; out 0xF4, al. On the second OUT the
    // device patches the (decoded, cached) mov's immediate to 0x2A in guest RAM, as a DMA would.
    const c = new Code()
      .label("loop")
      .emit(0xb8)
      .imm32(1) // mov eax, 1
      .emit(0xe6, 0x99) // out 0x99, al
      .emit(0x83, 0xf8, 0x2a) // cmp eax, 0x2A
      .emit(0x75)
      .rel8("loop") // jne loop
      .emit(0xe6, 0xf4); // out 0xF4, al
    const m = await Machine.create({ memory: "16M" });
    let outs = 0;
    m.pio.map(0x99, 1, {
      name: "dma-test",
      read: () => 0xff,
      write: () => {
        if (++outs !== 2) return;
        m.core.ram[MINI_ENTRY + 1] = 0x2a;
        m.core.invalidateCode(MINI_ENTRY + 1, 1);
      },
    });
    m.loadMultiboot(miniKernel(c.build()));
    expect(await m.run({ timeoutMs: 10_000, instructionLimit: 100_000 })).toEqual({
      kind: "debug-exit",
      exitCode: (0x2a << 1) | 1,
    });
    expect(outs).toBe(3);
  });

  it("restarts a cached instruction that faults, with its flags untouched (#GP through a null DS)", async () => {
    // Load a GDT and an IDT whose #GP handler checks the pushed EIP (the faulting ADD) and that
    // the pushed EFLAGS still hold the CMP's ZF=1, CF=0 (the ADD would have cleared ZF).
    const c = new Code()
      .emit(0x0f, 0x01, 0x15)
      .abs32("gdtr") // lgdt [gdtr]
      .emit(0xea)
      .abs32("reload")
      .emit(0x08, 0x00) // jmp 0x08:reload
      .label("reload")
      .emit(0x66, 0xb8, 0x10, 0x00) // mov ax, 0x10
      .emit(0x8e, 0xd0) // mov ss, ax
      .emit(0x0f, 0x01, 0x1d)
      .abs32("idtr") // lidt [idtr]
      // IDT entry 13: a 32-bit interrupt gate to `handler` in selector 0x08.
      .emit(0xb8)
      .abs32("handler") // mov eax, handler
      .emit(0x66, 0xa3)
      .abs32("idt", 13 * 8) // mov [idt + 104], ax
      .emit(0xc1, 0xe8, 0x10) // shr eax, 16
      .emit(0x66, 0xa3)
      .abs32("idt", 13 * 8 + 6) // mov [idt + 110], ax
      .emit(0xbc)
      .imm32(0x180000) // mov esp, 0x180000
      // Run the faulting sequence twice so the second time it comes from the decode cache.
      .emit(0xbe)
      .imm32(2) // mov esi, 2
      .label("again")
      .emit(0x31, 0xc9) // xor ecx, ecx
      .emit(0x83, 0xfe, 0x01) // cmp esi, 1
      .emit(0x75)
      .rel8("nullds") // jne nullds (first pass: keep DS)
      .emit(0x66, 0xb9, 0x10, 0x00) // mov cx, 0x10 (second pass: a valid DS, no fault)
      .label("nullds")
      .emit(0x8e, 0xd9) // mov ds, cx
      .emit(0xb8)
      .imm32(5) // mov eax, 5
      .emit(0x83, 0xf8, 0x05) // cmp eax, 5 (ZF=1, CF=0)
      .label("fault")
      .emit(0x83, 0x05)
      .imm32(0x2000)
      .emit(0x01) // add dword [0x2000], 1
      .label("resume")
      .emit(0x4e) // dec esi
      .emit(0x75)
      .rel8("again") // jnz again
      .exit(0x2a)
      .label("handler")
      .emit(0x83, 0xc4, 0x04) // add esp, 4 (error code)
      .emit(0x8b, 0x04, 0x24) // mov eax, [esp]
      .emit(0x3d)
      .abs32("fault") // cmp eax, fault
      .emit(0x75)
      .rel8("fail")
      .emit(0x8b, 0x44, 0x24, 0x08) // mov eax, [esp + 8]
      .emit(0x25)
      .imm32(0x41) // and eax, ZF | CF
      .emit(0x3d)
      .imm32(0x40) // cmp eax, ZF
      .emit(0x75)
      .rel8("fail")
      .emit(0x66, 0xb9, 0x10, 0x00) // mov cx, 0x10
      .emit(0x8e, 0xd9) // mov ds, cx
      .emit(0xc7, 0x04, 0x24)
      .abs32("resume") // mov dword [esp], resume (skip the ADD)
      .emit(0xcf) // iretd
      .label("fail")
      .exit(1)
      .emit(0x90, 0x90)
      .label("gdt")
      .imm32(0)
      .imm32(0)
      .imm32(0x0000ffff)
      .imm32(0x00cf9a00) // 0x08: flat code
      .imm32(0x0000ffff)
      .imm32(0x00cf9200) // 0x10: flat data
      .label("gdtr")
      .emit(23, 0)
      .abs32("gdt")
      .label("idtr")
      .emit(14 * 8 - 1, 0)
      .abs32("idt")
      .emit(0, 0)
      .label("idt");
    for (let v = 0; v < 14; v++) c.imm32(0x00080000).imm32(0x00008e00); // gate, offset filled above
    const { m, outcome } = await run(c.build());
    expect(outcome).toEqual({ kind: "debug-exit", exitCode: (0x2a << 1) | 1 });
    // The first pass faulted (the ADD never happened); the second added 1.
    expect(m.core.ram[0x2000]).toBe(1);
  });
});
