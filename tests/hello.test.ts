import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Machine } from "../src/machine.js";
import { runMultibootGuest } from "./helpers/multiboot-guest.js";

const HELLO = new URL("../guest-images/hello/", import.meta.url);

async function boot(file: string, cmdline: string, memory = "64M") {
  const m = await Machine.create({ memory });
  const run = await runMultibootGuest(m, readFileSync(new URL(file, HELLO)), cmdline, { timeoutMs: 20_000 });
  return { m, ...run };
}

describe("the hello guest", () => {
  for (const file of ["hello.elf", "hello.bin"]) {
    it(`${file}: prints its greeting and facts, passes its checks and exits through port 0xF4`, async () => {
      const { outcome, text } = await boot(file, "hello world");
      expect(outcome).toEqual({ kind: "debug-exit", exitCode: 1 });
      const lines = text.split("\n");
      expect(lines[0]).toBe("Hello from trapdoor's hello guest!");
      expect(lines).toContain("magic: 0x2BADB002");
      expect(lines).toContain("_start: 0x00100040");
      expect(lines).toContain("cmdline: hello world");
      expect(lines).toContain("boot loader: trapdoor");
      expect(lines).toContain("mem_lower: 639 KiB");
      expect(lines).toContain("mem_upper: 64512 KiB");
      // The memory map the loader built for 64 MiB, as the guest read it back.
      expect(lines.filter((l) => l.startsWith("mmap:"))).toEqual([
        "mmap: base=0x00000000 length=0x0009FC00 type=1",
        "mmap: base=0x0009FC00 length=0x00000400 type=2",
        "mmap: base=0x000F0000 length=0x00010000 type=2",
        "mmap: base=0x00100000 length=0x03F00000 type=1",
      ]);
      expect(lines).toContain("bss zeroed: yes");
      expect(lines.at(-2)).toBe("hello: all checks passed");
    });
  }

  it("sees the RAM size it was given", async () => {
    const { text } = await boot("hello.elf", "", "128M");
    expect(text).toContain("mem_upper: 130048 KiB");
    expect(text).toContain("mmap: base=0x00100000 length=0x07F00000 type=1");
  });

  it("makes exactly one OUT to 0x3F8 per byte printed and one LSR poll per byte", async () => {
    const { m, bytes } = await boot("hello.elf", "count me");
    const ports = new Map(m.stats().pio.ports.map((p) => [p.address, p]));
    // One extra OUT to 0x3F8: the divisor-latch low byte written with LCR.DLAB=1 at init.
    expect(ports.get(0x3f8)).toMatchObject({ device: "uart0", writes: bytes.length + 1, reads: 0 });
    // The transmitter is always ready, so each byte costs exactly one LSR read.
    expect(ports.get(0x3fd)).toMatchObject({ device: "uart0", reads: bytes.length, writes: 0 });
    expect(ports.get(0xf4)).toMatchObject({ device: "debug-exit", writes: 1 });
    const s = m.stats();
    expect(s.pio.writes).toBe([...ports.values()].reduce((n, p) => n + p.writes, 0));
    expect(s.pio.reads).toBe([...ports.values()].reduce((n, p) => n + p.reads, 0));
    // The init sequence of hello.c: IER=0, LCR=0x80, DLL, DLM, LCR=3, FCR, MCR.
    expect(ports.get(0x3f9)).toMatchObject({ writes: 2, reads: 0 }); // IER, DLM
    expect(ports.get(0x3fb)).toMatchObject({ writes: 2, reads: 0 }); // LCR twice
    expect(ports.get(0x3fa)).toMatchObject({ writes: 1, reads: 0 }); // FCR
    expect(ports.get(0x3fc)).toMatchObject({ writes: 1, reads: 0 }); // MCR
    expect(s.devices.find((d) => d.device === "uart0")).toEqual({
      device: "uart0",
      reads: bytes.length,
      writes: bytes.length + 1 + 6,
    });
  });

  it("is deterministic: identical output, instruction count and counters on every run", async () => {
    const a = await boot("hello.elf", "same");
    const b = await boot("hello.elf", "same");
    expect(b.text).toBe(a.text);
    expect(b.m.core.instructions).toBe(a.m.core.instructions);
    expect(b.m.stats()).toEqual(a.m.stats());
  });
});
