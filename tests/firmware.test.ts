import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Machine, type MachineOptions } from "../src/machine.js";
import { BootImageError } from "../src/boot/boot-error.js";
import { SystemControlA } from "../src/devices/system-control-a.js";
import { DebugCon } from "../src/devices/debugcon.js";
import type { IoDevice } from "../src/bus/device.js";
import { asm, imm32, miniKernel } from "./helpers/mini-kernel.js";
import { cliScratchDir, REPO_ROOT as ROOT, trapdoorCli } from "./helpers/cli.js";

const ROM_DIR = join(ROOT, "guest-images/rom-hello");
const ROM_HELLO = join(ROM_DIR, "rom-hello.bin");
const EXPECTED = readFileSync(join(ROM_DIR, "expected-debugcon.txt"), "latin1");
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB4 = 2 ** 32;

// 32-bit encodings (Intel SDM vol. 2) for code run in the flat protected mode a Multiboot loader
// leaves, and 16-bit ones for code run from the reset vector.
const x32 = {
  movAlMem: (a: number) => [0xa0, ...imm32(a)],
  movMemImm8: (a: number, v: number) => [0xc6, 0x05, ...imm32(a), v],
  movEaxMem: (a: number) => [0xa1, ...imm32(a)],
  movMemEax: (a: number) => [0xa3, ...imm32(a)],
  movEaxImm: (v: number) => [0xb8, ...imm32(v)],
  outAl: (port: number) => [0xe6, port],
  inAl: (port: number) => [0xe4, port],
  /** Four `out 0xE9, al; shr eax, 8`: EAX's bytes, low first. */
  outEaxBytes: [
    0xe6, 0xe9, 0xc1, 0xe8, 0x08, 0xe6, 0xe9, 0xc1, 0xe8, 0x08, 0xe6, 0xe9, 0xc1, 0xe8, 0x08, 0xe6, 0xe9,
  ],
  exit0: [0xb0, 0x00, 0xe6, 0xf4],
};

/**
 * A ROM image of `size` bytes: `code` (16-bit) at IP 0xF000 of the reset segment (the image's
 * last 4 KiB) and a near jump to it at the reset vector, IP 0xFFF0 (physical 0xFFFFFFF0).
 * Every other byte is romByte(offset), so a test can tell where a read landed.
 */
function romImage(size: number, code: number[] = [0xfa, 0xf4]): Uint8Array {
  const img = new Uint8Array(size);
  for (let o = 0; o < size; o++) img[o] = romByte(o);
  img.set(code, size - 0x1000);
  const rel = (0xf000 - 0xfff3) & 0xffff;
  img.set([0xe9, rel & 0xff, rel >> 8], size - 16);
  return img;
}
function romByte(offset: number): number {
  return ((offset >>> 12) * 7 + offset) & 0x7f; // never 0x77 or 0xFF
}

/** A machine whose debug console output is collected in `out`. */
async function machine(options: MachineOptions = {}) {
  const out: number[] = [];
  const batches: number[] = [];
  const m = await Machine.create({
    memory: "16M",
    debugcon: { output: (b) => (out.push(...b), batches.push(b.length)) },
    ...options,
  });
  return { m, out, batches };
}

/** Run 32-bit `code` placed below 1 MiB (so closing A20 cannot move it), entered flat. */
async function run32(m: Machine, code: number[]) {
  m.loadMultiboot(miniKernel([...asm.jmpSelf]));
  m.core.ram.set(code, 0x8000);
  m.core.eip = 0x8000;
  return m.run({ instructionLimit: 100_000 });
}

const trapdoor = (...args: string[]) => trapdoorCli(args, "latin1");

let dir: string;
beforeAll(() => {
  dir = cliScratchDir("firmware");
});

describe("firmware ROM", () => {
  it("starts at the reset vector, physical 0xFFFFFFF0 = the image's last 16 bytes", async () => {
    const code = [0xb0, 0x42, 0xe6, 0x80, 0xe4, 0x92, 0xe6, 0xe9, 0xe4, 0xe9, 0xe6, 0xe9, ...x32.exit0];
    const { m, out } = await machine({ bios: romImage(4 * KiB, code) });
    expect(m.core.linearEip).toBe(0xfffffff0);
    expect(await m.run({ instructionLimit: 1000 })).toEqual({ kind: "debug-exit", exitCode: 1 });
    // Port 0x92 reads 0x02 (A20 on at reset), port 0xE9 reads back 0xE9.
    expect(out).toEqual([0x02, 0xe9]);
    expect(m.stats().postCode).toEqual({ last: 0x42, count: 1 });
    expect(m.stats().mmio.reads).toBe(0); // instruction fetches from the ROM never trap
  });

  // Per ROM size: addresses that must be ROM (read-only, showing the image), RAM, or MMIO.
  const layouts: [number, number[], number[]][] = [
    [4 * KiB, [0xfffff000, 0xffffffff, 0xff000, 0xfffff], [0xfefff, 0xf0000, 0x100000]],
    [64 * KiB, [0xffff0000, 0xfffffff0, 0xf0000, 0xfffff], [0xeffff, 0xe0000, 0x100000]],
    [256 * KiB, [0xfffc0000, 0xfffdffff, 0xfffe0000, 0xe0000, 0xfffff], [0xdffff, 0x100000]],
    [16 * MiB, [0xff000000, 0xffffffff, 0xe0000, 0xfffff], [0xdffff, 0x100000]],
  ];
  for (const [size, romAddrs, ramAddrs] of layouts) {
    it(`maps a ${size / KiB} KiB image at the top of 4 GiB and its last ≤128 KiB below 1 MiB, read-only`, async () => {
      const img = romImage(size);
      const shadow = Math.min(size, 128 * KiB);
      const mmio = GiB4 - size - 1;
      const code: number[] = [];
      for (const a of [...romAddrs, ...ramAddrs, mmio]) {
        code.push(...x32.movMemImm8(a, 0x77), ...x32.movAlMem(a), ...x32.outAl(0xe9));
      }
      const { m, out } = await machine({ bios: img });
      expect(await run32(m, [...code, ...x32.exit0])).toEqual({ kind: "debug-exit", exitCode: 1 });
      const romOffset = (a: number) => (a >= 0x100000 ? a - (GiB4 - size) : size - (0x100000 - a));
      expect(out).toEqual([...romAddrs.map((a) => img[romOffset(a)]), ...ramAddrs.map(() => 0x77), 0xff]);
      for (const a of romAddrs.filter((a) => a < 0x100000)) {
        expect(a).toBeGreaterThanOrEqual(0x100000 - shadow);
        expect(m.core.ram[a], "RAM under the ROM window is untouched").toBe(0);
      }
      expect(
        Buffer.from(m.core.rom.buffer, m.core.rom.byteOffset, size).equals(img),
        "ROM bytes unchanged",
      ).toBe(true);
      const s = m.stats();
      expect(s.romWrites).toBe(romAddrs.length);
      expect([s.mmio.reads, s.mmio.writes]).toEqual([1, 1]);
      expect(s.mmio.addresses).toEqual([{ address: mmio, device: "unclaimed", reads: 1, writes: 1 }]);
    });
  }

  it("splits accesses that straddle RAM and the ROM window", async () => {
    const img = romImage(64 * KiB);
    const { m, out } = await machine({ bios: img });
    m.core.ram.set([0xa1, 0xa2], 0xefffe);
    const code = [
      ...x32.movEaxMem(0xefffe),
      ...x32.outEaxBytes,
      ...x32.movEaxImm(0x44332211),
      ...x32.movMemEax(0xefffe),
      ...x32.exit0,
    ];
    await run32(m, code);
    expect(out).toEqual([0xa1, 0xa2, img[0], img[1]]);
    expect([...m.core.ram.subarray(0xefffe, 0xf0002)]).toEqual([0x11, 0x22, 0, 0]);
    expect(m.stats().romWrites).toBe(1);
  });

  it("leaves 0xE0000-0xFFFFF plain RAM without a ROM", async () => {
    const { m, out } = await machine();
    expect(m.core.rom.length).toBe(0);
    const code = [
      ...x32.movMemImm8(0xf0000, 0x77),
      ...x32.movAlMem(0xf0000),
      ...x32.outAl(0xe9),
      ...x32.exit0,
    ];
    await run32(m, code);
    expect(out).toEqual([0x77]);
    expect(m.core.ram[0xf0000]).toBe(0x77);
  });

  it("refuses images that are not a multiple of 4 KiB from 4 KiB to 16 MiB", async () => {
    for (const n of [0, 100, 4 * KiB + 1, 6 * KiB, 16 * MiB + 4 * KiB]) {
      await expect(Machine.create({ memory: "16M", bios: new Uint8Array(n) }), `${n} bytes`).rejects.toThrow(
        BootImageError,
      );
    }
    await expect(Machine.create({ memory: "16M", bios: new Uint8Array(100) })).rejects.toThrow(
      /100 bytes: it must be a multiple of 4 KiB, from 4 KiB to 16 MiB/,
    );
  });
});

describe("A20 gate (port 0x92 bit 1)", () => {
  it("wraps physical addresses at 1 MiB while closed, exactly per byte", async () => {
    const { m, out } = await machine();
    expect(m.core.a20).toBe(true);
    m.core.ram[0x200500] = 0x44;
    m.core.ram.set([0xe1, 0xe2], 0x2ffffe);
    m.core.ram.set([0xe3, 0xe4], 0x300000);
    m.core.ram.set([0xc1, 0xc2], 0x200000);
    const code = [
      ...x32.movMemImm8(0x500, 0x11),
      ...x32.movMemImm8(0x100500, 0x22),
      ...x32.movAlMem(0x500),
      ...x32.outAl(0xe9), // 11: distinct bytes with the gate open
      0xb0,
      0x00,
      ...x32.outAl(0x92), // close A20
      ...x32.movAlMem(0x100500),
      ...x32.outAl(0xe9), // 11: 0x100500 aliases 0x000500
      ...x32.movMemImm8(0x100500, 0x33),
      ...x32.movAlMem(0x500),
      ...x32.outAl(0xe9), // 33
      ...x32.movAlMem(0x300500),
      ...x32.outAl(0xe9), // 44: bit 20 cleared at any address
      ...x32.movEaxMem(0x2ffffe),
      ...x32.outEaxBytes, // e1 e2 c1 c2: the wrap falls inside the dword
      ...x32.movEaxImm(0xd4c3b2a1),
      ...x32.movMemEax(0x4ffffe),
      ...x32.inAl(0x92),
      ...x32.outAl(0xe9), // 00
      0xb0,
      0x02,
      ...x32.outAl(0x92), // open A20
      ...x32.movAlMem(0x100500),
      ...x32.outAl(0xe9), // 22: the byte written before is back
      ...x32.movEaxMem(0x2ffffe),
      ...x32.outEaxBytes, // e1 e2 e3 e4
      ...x32.exit0,
    ];
    expect(await run32(m, code)).toEqual({ kind: "debug-exit", exitCode: 1 });
    expect(out).toEqual([0x11, 0x11, 0x33, 0x44, 0xe1, 0xe2, 0xc1, 0xc2, 0x00, 0x22, 0xe1, 0xe2, 0xe3, 0xe4]);
    expect([...m.core.ram.subarray(0x4ffffe, 0x500002)]).toEqual([0xa1, 0xb2, 0, 0]);
    expect([...m.core.ram.subarray(0x400000, 0x400002)]).toEqual([0xc3, 0xd4]);
    expect(m.core.a20).toBe(true);
  });

  it("stays closed across runs until reopened, and the port reads back what was written", async () => {
    const { m } = await machine();
    await run32(m, [0xb0, 0x00, ...x32.outAl(0x92), ...x32.exit0]);
    expect(m.core.a20).toBe(false);
    expect(m.systemControlA.value).toBe(0);
    expect(m.pio.read(0x92, 1)).toBe(0);
    m.systemControlA.loadState({ value: 0x02 });
    expect(m.core.a20).toBe(true);
  });

  it("fast reset: a 0 → 1 edge of bit 0 ends the run with outcome reset", async () => {
    const { m } = await machine();
    const outcome = await run32(m, [0xb0, 0x03, ...x32.outAl(0x92), ...asm.jmpSelf]);
    expect(outcome).toEqual({ kind: "reset" });
    expect(m.core.a20).toBe(true);

    let resets = 0;
    const dev = new SystemControlA({ setA20: () => {}, onReset: () => resets++ });
    for (const v of [0x01, 0x03, 0x02, 0x03]) dev.write(0, 1, v);
    expect(resets).toBe(2); // edges only, as QEMU's port92_write
    expect(dev.read(0, 1)).toBe(0x03);
    expect(dev.read(0, 2)).toBe(0xff03);
  });
});

describe("debug console (port 0xE9)", () => {
  it("batches the guest's bytes per slice and reads back 0xE9 on any port", async () => {
    const { m, out, batches } = await machine({
      debugcon: { port: 0x402, output: (b) => (out.push(...b), batches.push(b.length)) },
    });
    const code = [...asm.movDx(0x402), ...asm.inAlDx, ...asm.outDxAl, ...asm.movAl(0x21), ...asm.outDxAl];
    await run32(m, [...code, ...x32.inAl(0xe9), ...asm.outDxAl, ...x32.exit0]);
    expect(out).toEqual([0xe9, 0x21, 0xff]); // 0xE9 itself is unclaimed here
    expect(batches).toEqual([3]);
    expect(m.debugcon?.count).toBe(3);
    const dev = new DebugCon({ output: () => {} });
    expect([dev.read(0, 1), dev.read(0, 2), dev.read(0, 4)]).toEqual([0xe9, 0xffe9, 0xffffffe9]);
  });

  it("is absent without the option, and refuses a bad or taken port", async () => {
    const m = await Machine.create({ memory: "16M" });
    expect(m.debugcon).toBeUndefined();
    expect(m.pio.find(0xe9)).toBeUndefined();
    const output = () => {};
    await expect(Machine.create({ memory: "16M", debugcon: { port: 0x3f8, output } })).rejects.toThrow(
      /debugcon port 0x3f8 is taken by uart0/,
    );
    await expect(Machine.create({ memory: "16M", debugcon: { port: 0x10000, output } })).rejects.toThrow(
      RangeError,
    );
  });
});

describe("guest-images/rom-hello", () => {
  it("prints exactly what it prints under QEMU (expected-debugcon.txt)", async () => {
    const codes: number[] = [];
    const { m, out } = await machine({ bios: readFileSync(ROM_HELLO), onPostCode: (c) => codes.push(c) });
    expect(await m.run({ instructionLimit: 1_000_000 })).toEqual({ kind: "debug-exit", exitCode: 1 });
    expect(Buffer.from(out).toString("latin1")).toBe(EXPECTED);
    expect(codes).toEqual([1, 2, 3, 4]);
    expect(m.stats().romWrites).toBe(0);
    expect(m.stats().mmio.reads + m.stats().mmio.writes).toBe(0);
  });

  it("reports a broken A20 gate", async () => {
    const { m, out } = await machine({ bios: readFileSync(ROM_HELLO) });
    // Port 0x92 replaced by one that ignores writes: the gate never closes.
    const stuck: IoDevice = { name: "stuck-92", read: () => 0x02, write: () => {} };
    m.pio.unmap(m.systemControlA);
    m.pio.map(0x92, 1, stuck);
    expect(await m.run({ instructionLimit: 1_000_000 })).toEqual({ kind: "debug-exit", exitCode: 3 });
    expect(Buffer.from(out).toString("latin1")).toBe(EXPECTED.replace("a20: ok", "a20: FAILED"));
  });
});

describe("trapdoor run --bios / --debugcon", () => {
  it("boots rom-hello with --debugcon file:PATH and reports POST codes in --stats", () => {
    const con = join(dir, "con.txt");
    const stats = join(dir, "s.json");
    const r = trapdoor(
      "run",
      "--bios",
      ROM_HELLO,
      "--debugcon",
      `file:${con}`,
      "--stats",
      stats,
      "--post-codes",
    );
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("POST 0x01\nPOST 0x02\nPOST 0x03\nPOST 0x04\n");
    expect(readFileSync(con, "latin1")).toBe(EXPECTED);
    const s = JSON.parse(readFileSync(stats, "utf8"));
    expect(s.outcome).toEqual({ kind: "debug-exit", exitCode: 1 });
    expect(s.postCode).toEqual({ last: 4, count: 4 });
    expect(s.romWrites).toBe(0);
  });

  it("writes the debug console to stdout (stdio), stderr, or a bare path, on any port", () => {
    expect(trapdoor("run", "--bios", ROM_HELLO, "--debugcon", "stdio", "--success-code", "1")).toMatchObject({
      status: 0,
      stdout: EXPECTED,
    });
    expect(trapdoor("run", "--bios", ROM_HELLO, "--debugcon", "stderr")).toMatchObject({
      status: 1,
      stderr: EXPECTED,
    });
    const con = join(dir, "bare.txt");
    expect(trapdoor("run", "--bios", ROM_HELLO, "--debugcon", con).status).toBe(1);
    expect(readFileSync(con, "latin1")).toBe(EXPECTED);
    // On another port the ROM's writes to 0xE9 go nowhere.
    const r = trapdoor("run", "--bios", ROM_HELLO, "--debugcon", "stdio", "--debugcon-port", "0x402");
    expect([r.status, r.stdout]).toEqual([1, ""]);
  });

  it("exits 12 when the guest asks for a reset through port 0x92", () => {
    const rom = join(dir, "reset.bin");
    writeFileSync(rom, romImage(4 * KiB, [0xb0, 0x01, 0xe6, 0x92, 0xeb, 0xfe]));
    const r = trapdoor("run", "--bios", rom);
    expect(r.status).toBe(12);
    expect(r.stderr).toMatch(/the guest requested a reset \(port 0x92 fast reset\)/);
  });

  it("refuses bad input with a clear message and exit 2", () => {
    const odd = join(dir, "odd.bin");
    writeFileSync(odd, new Uint8Array(5000));
    const cases: [string[], RegExp][] = [
      [["run", "--bios", join(dir, "missing.bin")], /cannot read firmware .*missing\.bin: ENOENT/],
      [["run", "--bios", odd], /odd\.bin: firmware image is 5000 bytes: it must be a multiple of 4 KiB/],
      [["run", "--bios", ROM_HELLO, "--kernel", ROM_HELLO], /use either --bios or --kernel/],
      [["run", "--bios", ROM_HELLO, "--append", "x"], /--append needs --kernel/],
      [
        ["run", "--bios", ROM_HELLO, "--debugcon", "stdio", "--debugcon-port", "0x10000"],
        /--debugcon-port wants/,
      ],
      [["run", "--bios", ROM_HELLO, "--debugcon", "stdio", "--debugcon-port", "e9"], /--debugcon-port wants/],
      [["run", "--bios", ROM_HELLO, "--debugcon-port", "0xe9"], /--debugcon-port needs --debugcon/],
      [["run", "--bios", ROM_HELLO, "--debugcon", "stdio", "--debugcon-port", "1016"], /taken by uart0/],
      [["run", "--bios", ROM_HELLO, "--debugcon", "file:"], /--debugcon wants stdio, stderr/],
      [
        ["run", "--bios", ROM_HELLO, "--debugcon", join(dir, "no/such/dir")],
        /cannot open debugcon output .*ENOENT/,
      ],
      [["run"], /--kernel FILE is required \(or boot firmware with --bios FILE\)/],
    ];
    for (const [args, message] of cases) {
      const r = trapdoor(...args);
      expect(r.stderr, args.join(" ")).toMatch(message);
      expect(r.status, args.join(" ")).toBe(2);
    }
  });
});
