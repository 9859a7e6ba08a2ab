// The Linux boot protocol loader (src/boot/linux.ts): synthetic bzImages for every refusal and for
// the placement and boot_params fields, the `trapdoor run --kernel bzImage --initrd` path of the
// CLI, and the real guest-images/linux kernel run for a bounded number of instructions.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { LINUX_BUILD_TIMEOUT_MS, SKIP_LINUX, linuxImageDir } from "./helpers/linux-images.js";
import { BootImageError } from "../src/boot/boot-error.js";
import { parseElf32, PT_LOAD } from "../src/boot/elf.js";
import {
  LINUX_BOOT_PARAMS_ADDR,
  LINUX_CMDLINE_ADDR,
  LINUX_GDT_ADDR,
  LINUX_KERNEL_ADDR,
  LINUX_RNG_SEED_MAX,
  LINUX_SETUP_DATA_ADDR,
  LINUX_SETUP_DATA_END,
  LINUX_STACK_TOP,
  hasBzImageMagic,
  loadLinux,
} from "../src/boot/linux.js";
import type { LinuxOptions } from "../src/boot/linux.js";
import { main } from "../src/cli/main.js";
import { DETERMINISTIC_RNG_SEED, Machine, type RunOutcome } from "../src/machine.js";
import { miniKernel } from "./helpers/mini-kernel.js";

const KIB = 1024;
const MIB = 1024 * KIB;

// ------------------------------------------------------------------------------------------------
// A synthetic bzImage: boot sector + setup sectors with the setup header, then the payload
// ------------------------------------------------------------------------------------------------

interface BzSpec {
  protocol?: number;
  /** setup_sects (0 means 4, as in the protocol). */
  setupSects?: number;
  loadflags?: number;
  xloadflags?: number;
  bootFlag?: number;
  relocatable?: boolean;
  kernelAlignment?: number;
  prefAddress?: number;
  initSize?: number;
  initrdAddrMax?: number;
  cmdlineSize?: number;
  /** The protected-mode kernel (padded to a multiple of 16 bytes, syssize). */
  payload?: Uint8Array;
  /** Cut the file to this many bytes. */
  truncateTo?: number;
}

const DEFAULT_PAYLOAD = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7 + 3) & 0xff);

/** Header values like trapdoor's real Linux guest (protocol 2.15, non-relocatable, 16 MiB). */
function bzImage(spec: BzSpec = {}): Uint8Array {
  const setupSects = spec.setupSects ?? 4;
  const setupSize = ((setupSects === 0 ? 4 : setupSects) + 1) * 512;
  const payload = spec.payload ?? DEFAULT_PAYLOAD;
  const syssize = Math.ceil(payload.length / 16);
  const image = new Uint8Array(setupSize + syssize * 16);
  const v = new DataView(image.buffer);
  image[0x1f1] = setupSects;
  v.setUint32(0x1f4, syssize, true);
  v.setUint16(0x1fe, spec.bootFlag ?? 0xaa55, true);
  image[0x200] = 0xeb; // jmp short: the header ends at 0x202 + this byte
  image[0x201] = 0x6a;
  v.setUint32(0x202, 0x53726448, true); // "HdrS"
  v.setUint16(0x206, spec.protocol ?? 0x20f, true);
  image[0x211] = spec.loadflags ?? 0x01;
  v.setUint32(0x214, LINUX_KERNEL_ADDR, true);
  v.setUint32(0x22c, spec.initrdAddrMax ?? 0x7fffffff, true);
  v.setUint32(0x230, spec.kernelAlignment ?? 0x200000, true);
  image[0x234] = spec.relocatable ? 1 : 0;
  image[0x235] = 13;
  v.setUint16(0x236, spec.xloadflags ?? 0, true);
  v.setUint32(0x238, spec.cmdlineSize ?? 2047, true);
  v.setUint32(0x248, 0x79, true); // payload_offset
  v.setUint32(0x24c, payload.length - 0x79, true);
  v.setUint32(0x258, spec.prefAddress ?? 0x1000000, true);
  v.setUint32(0x260, spec.initSize ?? 0x41c000, true);
  image[0x1ef] = 0xff; // in the boot sector: must not reach boot_params' sentinel
  image.set(payload, setupSize);
  return spec.truncateTo === undefined ? image : image.subarray(0, spec.truncateTo);
}

function load(image: Uint8Array, ramSize = 64 * MIB, options: LinuxOptions = {}) {
  const ram = new Uint8Array(ramSize);
  return { ram, state: loadLinux(image, ram, options), view: new DataView(ram.buffer) };
}

/** The message of the BootImageError that loading throws; also checks RAM was left untouched. */
function refusal(image: Uint8Array, ramSize = 24 * MIB, options: LinuxOptions = {}): string {
  const ram = new Uint8Array(ramSize);
  try {
    loadLinux(image, ram, options);
  } catch (e) {
    expect(e).toBeInstanceOf(BootImageError);
    expect(Buffer.from(ram.buffer).equals(Buffer.alloc(ram.length))).toBe(true); // a fast all-zero check
    return (e as Error).message;
  }
  throw new Error("the image was accepted");
}

function cString(ram: Uint8Array, addr: number): string {
  const end = ram.indexOf(0, addr);
  return new TextDecoder().decode(ram.subarray(addr, end));
}

// ------------------------------------------------------------------------------------------------

describe("loadLinux refuses", () => {
  it("a file that is not a bzImage, naming what it is", () => {
    expect(refusal(new Uint8Array(8192))).toBe(
      'not a Linux bzImage: no "HdrS" setup header signature at offset 0x202',
    );
    expect(refusal(new Uint8Array(100))).toMatch(/^not a Linux bzImage: the file is 100 bytes, too short/);
    const elf = new Uint8Array(8192);
    elf.set([0x7f, 0x45, 0x4c, 0x46]);
    expect(refusal(elf)).toMatch(/^not a Linux bzImage: this is an ELF file \(a vmlinux\?\)/);
    expect(refusal(bzImage({ bootFlag: 0x1234 }))).toBe(
      "Linux setup header is corrupt: boot_flag at 0x1fe is 0x1234, must be 0xaa55",
    );
  });

  it("boot protocols older than 2.06, zImages and 64-bit kernels", () => {
    expect(refusal(bzImage({ protocol: 0x204 }))).toBe(
      "Linux boot protocol 2.04 is too old: trapdoor needs 2.06 or later (Linux 2.6.22 and later), the first with cmdline_size",
    );
    expect(refusal(bzImage({ loadflags: 0 }))).toMatch(
      /^Linux kernel is a zImage \(loadflags LOADED_HIGH clear/,
    );
    expect(refusal(bzImage({ xloadflags: 1 }))).toMatch(
      /^Linux kernel is 64-bit \(xloadflags XLF_KERNEL_64\)/,
    );
    // Before 2.12 the xloadflags bytes are padding and are not looked at.
    expect(() => load(bzImage({ protocol: 0x20b, xloadflags: 1 }))).not.toThrow();
  });

  it("a file cut short in the setup or in the payload", () => {
    expect(refusal(bzImage({ setupSects: 4, truncateTo: 2000 }))).toBe(
      "Linux kernel image is truncated: setup_sects says the real-mode setup is 2560 bytes (4 + 1 sectors), " +
        "but the file is only 2000 bytes",
    );
    // setup_sects 0 means 4.
    expect(refusal(bzImage({ setupSects: 0, truncateTo: 2000 }))).toMatch(/2560 bytes \(4 \+ 1 sectors\)/);
    expect(refusal(bzImage({ truncateTo: 2560 + 4000 }))).toBe(
      "Linux kernel image is truncated: the header says 2560 bytes of setup and 4096 bytes of protected-mode " +
        "kernel (syssize 256 x 16), 6656 in all, but the file is 6560 bytes",
    );
    expect(refusal(bzImage({ payload: new Uint8Array(0) }))).toMatch(/syssize .* is 0/);
  });

  it("a kernel that does not fit in RAM", () => {
    // init_size from pref_address (16 MiB) must fit: 16 MiB + 0x41c000 needs 21 MiB.
    expect(refusal(bzImage(), 20 * MIB)).toBe(
      "the kernel needs 4.1 MiB (init_size) of RAM from its runtime address 0x01000000 to decompress and start, " +
        "up to 0x0141c000, but guest RAM is 20 MiB: give it at least 21 MiB",
    );
    expect(() => load(bzImage(), 21 * MIB)).not.toThrow();
    // The protected-mode kernel itself must fit at 1 MiB.
    const big = bzImage({ payload: new Uint8Array(1536 * KIB), protocol: 0x209 });
    expect(refusal(big, 2 * MIB)).toBe(
      "the protected-mode kernel is 1.5 MiB and goes at 0x00100000, so it needs more than the 2 MiB of guest RAM " +
        "(it would end at 0x00280000)",
    );
  });

  it("an initrd that does not fit above the kernel and below initrd_addr_max", () => {
    // 32 MiB of RAM, the kernel needs up to 0x141c000: 11.9 MiB is left.
    expect(refusal(bzImage(), 32 * MIB, { initrd: new Uint8Array(12 * MIB) })).toBe(
      "the initrd is 12 MiB (12582912 bytes) and does not fit: it must lie above the kernel's memory " +
        "(up to 0x0141c000) and below the top of guest RAM (32 MiB), which leaves 11.9 MiB",
    );
    expect(
      refusal(bzImage({ initrdAddrMax: 0x17fffff }), 64 * MIB, { initrd: new Uint8Array(4 * MIB) }),
    ).toBe(
      "the initrd is 4 MiB (4194304 bytes) and does not fit: it must lie above the kernel's memory " +
        "(up to 0x0141c000) and below initrd_addr_max 0x017fffff (from the kernel's setup header), which leaves 3.9 MiB",
    );
    expect(refusal(bzImage(), undefined, { initrd: new Uint8Array(0) })).toBe(
      "the initrd is empty (0 bytes)",
    );
  });

  it("a command line longer than cmdline_size, or with a NUL", () => {
    expect(refusal(bzImage({ cmdlineSize: 255 }), undefined, { cmdline: "x".repeat(256) })).toBe(
      "kernel command line is 256 bytes, but this kernel accepts at most 255 (cmdline_size in its setup header)",
    );
    expect(() => load(bzImage({ cmdlineSize: 255 }), 64 * MIB, { cmdline: "x".repeat(255) })).not.toThrow();
    expect(refusal(bzImage(), undefined, { cmdline: "a\0b" })).toBe(
      "kernel command line contains a NUL character",
    );
  });
});

describe("loadLinux places", () => {
  it("the kernel at 0x100000, boot_params, the command line, the initrd and the GDT", () => {
    const initrd = Uint8Array.from({ length: 10_000 }, (_, i) => i & 0xff);
    const image = bzImage();
    const { ram, state, view } = load(image, 64 * MIB, { cmdline: "console=ttyS0 quiet", initrd });
    const bp = LINUX_BOOT_PARAMS_ADDR;
    const initrdAddr = 64 * MIB - 3 * 4096; // 10,000 bytes: three pages below the top, page-aligned

    expect(state).toMatchObject({
      eip: LINUX_KERNEL_ADDR,
      esi: bp,
      gdtBase: LINUX_GDT_ADDR,
      gdtLimit: 31,
      protocol: 0x20f,
      loadStart: 0x100000,
      loadEnd: 0x101000,
      runtimeStart: 0x1000000,
      runtimeEnd: 0x141c000,
      initrd: { addr: initrdAddr, size: 10_000 },
      cmdlineAddr: LINUX_CMDLINE_ADDR,
    });
    expect(ram.subarray(0x100000, 0x101000)).toEqual(DEFAULT_PAYLOAD);
    expect(ram.subarray(initrdAddr, initrdAddr + initrd.length)).toEqual(initrd);

    // The setup header is copied from the image (0x1F1 up to 0x202 + 0x6a), the sentinel is 0.
    expect(ram[bp + 0x1ef]).toBe(0);
    expect(ram.subarray(bp + 0x1f1, bp + 0x210)).toEqual(image.subarray(0x1f1, 0x210));
    expect(view.getUint16(bp + 0x206, true)).toBe(0x20f);
    expect(view.getUint32(bp + 0x260, true)).toBe(0x41c000);
    // What the loader fills in.
    expect(ram[bp + 0x210]).toBe(0xff); // type_of_loader
    expect(ram[bp + 0x211]).toBe(0x81); // loadflags: LOADED_HIGH | CAN_USE_HEAP
    expect(view.getUint16(bp + 0x224, true)).toBe(0x9600); // heap_end_ptr
    expect(view.getUint32(bp + 0x214, true)).toBe(0x100000); // code32_start
    expect(view.getUint32(bp + 0x218, true)).toBe(initrdAddr); // ramdisk_image
    expect(view.getUint32(bp + 0x21c, true)).toBe(10_000); // ramdisk_size
    expect(view.getUint32(bp + 0x228, true)).toBe(LINUX_CMDLINE_ADDR); // cmd_line_ptr
    expect(cString(ram, view.getUint32(bp + 0x228, true))).toBe("console=ttyS0 quiet");
    expect(view.getUint32(bp + 0x23c, true)).toBe(0); // hardware_subarch: X86_SUBARCH_PC
    expect(view.getBigUint64(bp + 0x250, true)).toBe(0n); // setup_data
    expect(view.getUint32(bp + 0x1e0, true)).toBe(63 * 1024); // alt_mem_k
    // screen_info is all zero: no VGA text console.
    expect(ram.subarray(bp, bp + 0x40).every((b) => b === 0)).toBe(true);

    // The e820 map.
    expect(ram[bp + 0x1e8]).toBe(4);
    const e820 = [0, 1, 2, 3].map((i) => {
      const at = bp + 0x2d0 + 20 * i;
      return [
        Number(view.getBigUint64(at, true)),
        Number(view.getBigUint64(at + 8, true)),
        view.getUint32(at + 16, true),
      ];
    });
    expect(e820).toEqual([
      [0, 0x9fc00, 1],
      [0x9fc00, 0x400, 2],
      [0xf0000, 0x10000, 2],
      [0x100000, 63 * MIB, 1],
    ]);
    expect(state.memoryMap).toHaveLength(4);

    // The GDT: flat code at 0x10, flat data at 0x18.
    expect(view.getBigUint64(LINUX_GDT_ADDR + 0x10, true)).toBe(0x00cf9b000000ffffn);
    expect(view.getBigUint64(LINUX_GDT_ADDR + 0x18, true)).toBe(0x00cf93000000ffffn);
  });

  it("no initrd and an empty command line as zeros and an empty string", () => {
    const { ram, state, view } = load(bzImage());
    expect(state.initrd).toBeUndefined();
    expect(view.getUint32(LINUX_BOOT_PARAMS_ADDR + 0x218, true)).toBe(0);
    expect(view.getUint32(LINUX_BOOT_PARAMS_ADDR + 0x21c, true)).toBe(0);
    expect(cString(ram, LINUX_CMDLINE_ADDR)).toBe("");
  });

  it("the initrd below initrd_addr_max when RAM goes higher", () => {
    const { state } = load(bzImage({ initrdAddrMax: 0x37ffffff }), 1024 * MIB, {
      initrd: new Uint8Array(5000),
    });
    expect(state.initrd).toEqual({ addr: 0x38000000 - 2 * 4096, size: 5000 });
  });

  it("a relocatable kernel at pref_address when its init_size fits there", () => {
    const { view, state } = load(bzImage({ relocatable: true }));
    expect(state).toMatchObject({ eip: 0x1000000, loadStart: 0x1000000, runtimeStart: 0x1000000 });
    expect(view.getUint32(LINUX_BOOT_PARAMS_ADDR + 0x214, true)).toBe(0x1000000);
    // pref_address at or below 1 MiB: loaded at 1 MiB, runs at 1 MiB rounded up to kernel_alignment.
    const low = load(bzImage({ relocatable: true, prefAddress: 0x100000 })).state;
    expect(low).toMatchObject({ eip: 0x100000, runtimeStart: 0x200000, runtimeEnd: 0x200000 + 0x41c000 });
  });

  it("is recognised by its HdrS signature", () => {
    expect(hasBzImageMagic(bzImage())).toBe(true);
    expect(hasBzImageMagic(miniKernel([0xf4]))).toBe(false);
    expect(hasBzImageMagic(new Uint8Array(0x205))).toBe(false);
  });
});

/** The setup_data node at `addr` (struct setup_data, bootparam.h): next, type, len, data. */
function setupDataNode(ram: Uint8Array, addr: number) {
  const view = new DataView(ram.buffer, ram.byteOffset);
  const len = view.getUint32(addr + 12, true);
  return {
    next: view.getBigUint64(addr, true),
    type: view.getUint32(addr + 8, true),
    data: ram.slice(addr + 16, addr + 16 + len),
  };
}

describe("loadLinux passes an RNG seed", () => {
  const seed = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 ^ i);

  it("as the only setup_data node, of type SETUP_RNG_SEED (9), below the stack", () => {
    const { ram, state, view } = load(bzImage(), 64 * MIB, { rngSeed: seed });
    expect(state.rngSeed).toEqual({ addr: LINUX_SETUP_DATA_ADDR, size: 32 });
    expect(view.getBigUint64(LINUX_BOOT_PARAMS_ADDR + 0x250, true)).toBe(BigInt(LINUX_SETUP_DATA_ADDR));
    expect(setupDataNode(ram, LINUX_SETUP_DATA_ADDR)).toEqual({ next: 0n, type: 9, data: seed });
    // The area ends below the loader's stack page and clear of the GDT's four descriptors.
    expect(LINUX_SETUP_DATA_END).toBeLessThanOrEqual(LINUX_STACK_TOP - 4096);
    expect(LINUX_SETUP_DATA_ADDR).toBeGreaterThanOrEqual(LINUX_GDT_ADDR + 32);
    // The largest seed fills the area exactly.
    const big = load(bzImage(), 64 * MIB, { rngSeed: new Uint8Array(LINUX_RNG_SEED_MAX).fill(7) });
    expect(setupDataNode(big.ram, LINUX_SETUP_DATA_ADDR).data).toHaveLength(LINUX_RNG_SEED_MAX);
    expect(LINUX_SETUP_DATA_ADDR + 16 + LINUX_RNG_SEED_MAX).toBe(LINUX_SETUP_DATA_END);
  });

  it("refuses an empty seed or one larger than its area, writing nothing", () => {
    expect(refusal(bzImage(), undefined, { rngSeed: new Uint8Array(0) })).toBe(
      `the RNG seed is 0 bytes; trapdoor passes 1 to ${LINUX_RNG_SEED_MAX} (32 make Linux's CRNG ready)`,
    );
    expect(refusal(bzImage(), undefined, { rngSeed: new Uint8Array(LINUX_RNG_SEED_MAX + 1) })).toMatch(
      /^the RNG seed is 2033 bytes/,
    );
  });

  it("not at all to a kernel older than protocol 2.09, which has no setup_data field", () => {
    const { ram, state, view } = load(bzImage({ protocol: 0x208 }), 64 * MIB, { rngSeed: seed });
    expect(state.rngSeed).toBeUndefined();
    expect(view.getBigUint64(LINUX_BOOT_PARAMS_ADDR + 0x250, true)).toBe(0n);
    expect(ram.subarray(LINUX_SETUP_DATA_ADDR, LINUX_SETUP_DATA_END).every((b) => b === 0)).toBe(true);
  });
});

describe("Machine's RNG seed", () => {
  async function seedOf(options: Parameters<typeof Machine.create>[0], override?: Uint8Array) {
    const m = await Machine.create({ memory: "32M", ...options });
    m.loadLinux(bzImage(), override === undefined ? {} : { rngSeed: override });
    return setupDataNode(m.core.ram, LINUX_SETUP_DATA_ADDR).data;
  }

  it("is a fixed 32 bytes in deterministic mode, fresh in realtime mode or when asked", async () => {
    expect(DETERMINISTIC_RNG_SEED).toHaveLength(32);
    expect(await seedOf({})).toEqual(DETERMINISTIC_RNG_SEED);
    const a = await seedOf({ clock: "realtime" });
    const b = await seedOf({ rngSeed: "random" });
    expect(a).toHaveLength(32);
    expect(b).toHaveLength(32);
    expect(a).not.toEqual(b);
    expect(a).not.toEqual(DETERMINISTIC_RNG_SEED);
  });

  it("is MachineOptions.rngSeed, unless loadLinux's options give another", async () => {
    expect(await seedOf({ rngSeed: Uint8Array.of(1, 2, 3) })).toEqual(Uint8Array.of(1, 2, 3));
    expect(await seedOf({ rngSeed: Uint8Array.of(1, 2, 3) }, Uint8Array.of(9))).toEqual(Uint8Array.of(9));
  });
});

// ------------------------------------------------------------------------------------------------
// The CPU at entry, with a payload that checks it
// ------------------------------------------------------------------------------------------------

/**
 * Reloads DS and CS from the loader's GDT, reads the first byte of the command line through
 * boot_params (ESI + 0x228, cmd_line_ptr) and writes it to the debug-exit port.
 */
const ENTRY_PROBE = Uint8Array.from([
  ...[0x66, 0xb8, 0x18, 0x00], // mov ax, 0x18
  ...[0x8e, 0xd8], // mov ds, ax
  ...[0xea, 0x0d, 0x00, 0x10, 0x00, 0x10, 0x00], // jmp far 0x10:0x10000d
  ...[0x8b, 0x86, 0x28, 0x02, 0x00, 0x00], // mov eax, [esi + 0x228]
  ...[0x8a, 0x00], // mov al, [eax]
  ...[0xe6, 0xf4], // out 0xf4, al
  0xf4, // hlt
]);

/** Reads the first byte of the first setup_data node's data ([ESI + 0x250] + 16) to debug-exit. */
const SEED_PROBE = Uint8Array.from([
  ...[0x8b, 0x86, 0x50, 0x02, 0x00, 0x00], // mov eax, [esi + 0x250]
  ...[0x8a, 0x40, 0x10], // mov al, [eax + 16]
  ...[0xe6, 0xf4], // out 0xf4, al
  0xf4, // hlt
]);

describe("Machine.loadLinux", () => {
  it("enters the kernel in the 32-bit boot protocol state", async () => {
    const m = await Machine.create({ memory: "32M" });
    m.loadLinux(bzImage({ payload: ENTRY_PROBE }), { cmdline: "Z" });
    const core = m.core;
    expect(core.eip).toBe(0x100000);
    expect(core.cr0 & 0x80000001).toBe(1); // PE, no PG
    expect(core.eflags & 0x200).toBe(0); // IF clear
    expect(core.getSegment("cs")).toMatchObject({ selector: 0x10, base: 0, limit: 0xffffffff });
    for (const seg of ["ds", "es", "ss"] as const) {
      expect(core.getSegment(seg)).toMatchObject({ selector: 0x18, base: 0, limit: 0xffffffff });
    }
    expect(core.gdtr).toEqual({ base: LINUX_GDT_ADDR, limit: 31 });
    expect(core.getReg("esi")).toBe(LINUX_BOOT_PARAMS_ADDR);
    for (const r of ["ebx", "ebp", "edi"] as const) expect(core.getReg(r)).toBe(0);
    const outcome = await m.run({ instructionLimit: 1000 });
    expect(outcome).toEqual({ kind: "debug-exit", exitCode: (0x5a << 1) | 1 });
  });
});

// ------------------------------------------------------------------------------------------------
// The CLI
// ------------------------------------------------------------------------------------------------

describe("trapdoor run --kernel bzImage", () => {
  let dir = "";
  let stderr = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "trapdoor-linux-cli-"));
  });
  afterEach(() => vi.restoreAllMocks());

  async function cli(...args: string[]): Promise<number> {
    stderr = "";
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation((s) => ((stderr += String(s)), true));
    try {
      return await main(["run", ...args]);
    } finally {
      vi.restoreAllMocks();
    }
  }
  function file(name: string, bytes: Uint8Array): string {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  }

  it("boots a bzImage with --initrd and --append", async () => {
    const kernel = file("probe.bzImage", bzImage({ payload: ENTRY_PROBE }));
    const initrd = file("initrd.img", new Uint8Array(5000));
    expect(await cli("--kernel", kernel, "--initrd", initrd, "--append", "A", "-m", "32M")).toBe(
      (0x41 << 1) | 1,
    );
    expect(stderr).toBe("");
  });

  it("passes --rng-seed HEX to the kernel, and refuses bad seeds with exit 2", async () => {
    const kernel = file("seed.bzImage", bzImage({ payload: SEED_PROBE }));
    expect(await cli("--kernel", kernel, "-m", "32M", "--rng-seed", "5a" + "00".repeat(31))).toBe(
      (0x5a << 1) | 1,
    );
    expect(await cli("--kernel", kernel, "-m", "32M", "--rng-seed", "0x3C")).toBe((0x3c << 1) | 1);
    // Without --rng-seed, deterministic mode passes DETERMINISTIC_RNG_SEED ("trapdoor: ...").
    expect(await cli("--kernel", kernel, "-m", "32M")).toBe((0x74 << 1) | 1);
    for (const bad of ["", "abc", "xy", "00".repeat(LINUX_RNG_SEED_MAX + 1)]) {
      expect(await cli("--kernel", kernel, "--rng-seed", bad)).toBe(2);
      expect(stderr).toMatch(/--rng-seed wants random or an even number of hex digits \(1 to 2032 bytes\)/);
    }
    expect(await cli("--bios", file("rom2.bin", new Uint8Array(4096)), "--rng-seed", "random")).toBe(2);
    expect(stderr).toBe("trapdoor: --rng-seed needs --kernel (a Linux bzImage)\n");
  });

  it("refuses --initrd with a Multiboot kernel, and bad bzImages with exit 2", async () => {
    const multiboot = file("mb.bin", miniKernel([0xf4]));
    const initrd = file("initrd2.img", new Uint8Array(100));
    expect(await cli("--kernel", multiboot, "--initrd", initrd)).toBe(2);
    expect(stderr).toBe(
      `trapdoor: --initrd needs a Linux bzImage kernel; ${multiboot} is not one (no "HdrS" header)\n`,
    );
    expect(await cli("--bios", file("rom.bin", new Uint8Array(4096)), "--initrd", initrd)).toBe(2);
    expect(stderr).toBe("trapdoor: --initrd needs --kernel\n");
    const old = file("old.bzImage", bzImage({ protocol: 0x205 }));
    expect(await cli("--kernel", old)).toBe(2);
    expect(stderr).toMatch(/^trapdoor: .*old\.bzImage: Linux boot protocol 2\.05 is too old/);
    const kernel = file("ok.bzImage", bzImage({ payload: ENTRY_PROBE }));
    expect(await cli("--kernel", kernel, "-m", "16M")).toBe(2);
    expect(stderr).toMatch(/give it at least 21 MiB\n$/);
  });
});

// ------------------------------------------------------------------------------------------------
// The real kernel from guest-images/linux/build.sh
// ------------------------------------------------------------------------------------------------

const APPEND = "console=ttyS0 earlyprintk=serial,ttyS0,115200 pci=conf1";
/** The images' cache directory, or why there is none. */
let linuxDir: { path: string } | { reason: string } = { reason: "not looked up" };

describe.skipIf(SKIP_LINUX)("the Linux guest (guest-images/linux)", () => {
  beforeAll(async () => {
    try {
      linuxDir = { path: await linuxImageDir() };
    } catch (e) {
      if (process.env.CI) throw e;
      linuxDir = { reason: `the Linux guest images are not available: ${(e as Error).message}` };
    }
  }, LINUX_BUILD_TIMEOUT_MS);

  function images(skip: (note: string) => never): {
    kernel: Uint8Array;
    initrd: Uint8Array;
    vmlinux: Uint8Array;
  } {
    if ("reason" in linuxDir) skip(linuxDir.reason);
    const dir = (linuxDir as { path: string }).path;
    const read = (name: string) => new Uint8Array(readFileSync(join(dir, name)));
    return { kernel: read("bzImage"), initrd: read("initramfs.cpio.gz"), vmlinux: read("vmlinux") };
  }

  it("loads the bzImage: protocol 2.15, kernel at 1 MiB, runs at 16 MiB, initrd at the top of RAM", ({
    skip,
  }) => {
    const { kernel, initrd } = images(skip);
    const { state, view } = load(kernel, 64 * MIB, { cmdline: APPEND, initrd });
    expect(state.protocol).toBe(0x20f);
    expect(state).toMatchObject({ eip: 0x100000, loadStart: 0x100000, runtimeStart: 0x1000000 });
    expect(state.loadEnd).toBe(0x100000 + kernel.length - (kernel[0x1f1]! + 1) * 512);
    expect(state.initrd!.addr % 4096).toBe(0);
    expect(state.initrd!.addr + initrd.length).toBeLessThanOrEqual(64 * MIB);
    expect(state.initrd!.addr + initrd.length).toBeGreaterThan(64 * MIB - 4096);
    expect(view.getUint32(LINUX_BOOT_PARAMS_ADDR + 0x202, true)).toBe(0x53726448);
  });

  it("runs Linux in trapdoor: the decompressor places the kernel and it prints its banner", async ({
    skip,
  }) => {
    const { kernel, initrd, vmlinux } = images(skip);
    const m = await Machine.create({ memory: "64M" });
    let serial = "";
    m.onSerialOutput((bytes) => {
      serial += Buffer.from(bytes).toString("latin1");
      // Stop at a panic (after its last line) or at the shell; otherwise run to the limit.
      if (/end Kernel panic|trapdoor linux guest ready/.test(serial)) m.stop();
    });
    m.loadLinux(kernel, { cmdline: APPEND, initrd });
    const outcome: RunOutcome = await m.run({ instructionLimit: 200_000_000, timeoutMs: 120_000 });

    const stats = m.stats();
    const lines = serial.split("\n");
    console.log(
      `Linux in trapdoor: ${JSON.stringify(outcome)} after ${m.core.instructions} instructions, ` +
        `EIP ${m.core.linearEip.toString(16)}, ${stats.exceptions} exceptions, ${stats.interrupts} interrupts, ` +
        `${lines.length} serial lines; the last ones:\n` +
        lines.slice(-12).join("\n"),
    );

    // The decompressor ran: vmlinux's first PT_LOAD segment (head_32.S at LOAD_PHYSICAL_ADDR,
    // 16 MiB) is in RAM where the ELF file says.
    const text = parseElf32(vmlinux).segments.find((s) => s.type === PT_LOAD)!;
    expect(text.paddr).toBe(0x1000000);
    expect(m.core.ram.subarray(text.paddr, text.paddr + 64)).toEqual(
      vmlinux.subarray(text.offset, text.offset + 64),
    );
    // The kernel printed its first line, and what the loader handed over came through.
    expect(serial).toMatch(/^\[ +0\.000000\] Linux version 6\.1\./);
    expect(serial).toContain("BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable");
    expect(serial).toContain("BIOS-e820: [mem 0x0000000000100000-0x0000000003ffffff] usable");
    expect(serial).toContain(`Kernel command line: ${APPEND}`);
    const rd = `RAMDISK: [mem 0x${(64 * MIB - Math.ceil(initrd.length / 4096) * 4096).toString(16).padStart(8, "0")}-0x03ffffff]`;
    expect(serial).toContain(rd);
  }, 180_000);
});
