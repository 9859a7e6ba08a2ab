import { describe, expect, it } from "vitest";
import { Core, type CoreHost } from "../src/core/core.js";
import { Machine } from "../src/machine.js";
import { asm, miniKernel } from "./helpers/mini-kernel.js";

const MiB = 1024 * 1024;

/** A host that records every trap. */
function recordingHost(): CoreHost & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    pioRead: (p, w) => (log.push(`in ${p.toString(16)}/${w}`), 0x5a),
    pioWrite: (p, w, v) => void log.push(`out ${p.toString(16)}/${w}=${v.toString(16)}`),
    mmioRead: (a, w) => (log.push(`rd ${a.toString(16)}/${w}`), 0xa5),
    mmioWrite: (a, w, v) => void log.push(`wr ${a.toString(16)}/${w}=${v.toString(16)}`),
    ackInterrupt: () => 0x20,
  };
}

async function bootMini(code: number[]) {
  const m = await Machine.create({ memory: "16M" });
  m.loadMultiboot(miniKernel(code));
  return m;
}

describe("core contract", () => {
  it("loads in Node and exports its memory map as globals", async () => {
    const core = await Core.create(recordingHost(), 4 * MiB);
    for (const name of ["STATE_BASE", "CTL_BASE", "RAM_BASE", "S_EIP", "S_REGS", "C_PIO_IN", "STOP_HLT"]) {
      expect(core.layout[name], name).toBeTypeOf("number");
    }
    expect(core.ram.length).toBe(4 * MiB);
    expect(core.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it("resets to real mode at F000:FFF0 with CS base 0xFFFF0000 (SDM vol. 3 §9.1.4)", async () => {
    const core = await Core.create(recordingHost(), 4 * MiB);
    expect(core.eip).toBe(0xfff0);
    expect(core.getSegment("cs")).toMatchObject({ selector: 0xf000, base: 0xffff0000, limit: 0xffff });
    expect(core.eflags).toBe(0x2);
    expect(core.cr0 & 1).toBe(0);
    expect(core.instructions).toBe(0);
  });

  it("traps port I/O and non-RAM physical accesses to the host with width and value", async () => {
    const host = recordingHost();
    const core = await Core.create(host, 4 * MiB);
    // Real mode at 0000:1000: in al,0x60; out 0x61,al; mov ax,[0x8000] with DS=0xF000 so that
    // the linear address 0xF8000 is RAM... use a 32-bit address prefix to reach past RAM instead.
    const code = [
      0xe4,
      0x60, // in al, 0x60
      0xe6,
      0x61, // out 0x61, al
      0x66,
      0x67,
      0x8b,
      0x05,
      0x00,
      0x00,
      0x50,
      0x00, // mov eax, [0x500000] (beyond 4 MiB RAM)
      0x67,
      0x88,
      0x05,
      0x04,
      0x00,
      0x50,
      0x00, // mov [0x500004], al
      0xf4, // hlt
    ];
    core.ram.set(code, 0x1000);
    core.setSegment("cs", { selector: 0, base: 0, limit: 0xffff, attributes: 0x9b });
    core.setSegment("ds", { selector: 0, base: 0, limit: 0xffffffff, attributes: 0x8093 });
    core.eip = 0x1000;
    expect(core.run(100)).toBe("hlt-dead");
    expect(host.log).toEqual(["in 60/1", "out 61/1=5a", "rd 500000/4", "wr 500004/1=a5"]);
    expect(core.getReg("eax")).toBe(0xa5);
    expect(core.portCounts(0x60)).toEqual([1, 0]);
    expect(core.portCounts(0x61)).toEqual([0, 1]);
    expect(core.mmioCounts().get(0x500000)).toEqual([1, 0]);
    expect(core.mmioCounts().get(0x500004)).toEqual([0, 1]);
    expect(core.instructions).toBe(5); // HLT retires too
  });

  it("stops when the budget is spent and resumes where it left off", async () => {
    const m = await bootMini([...asm.jmpSelf]);
    expect(m.core.run(1000)).toBe("budget");
    expect(m.core.instructions).toBe(1000);
    expect(m.core.run(10)).toBe("budget");
    expect(m.core.instructions).toBe(1010);
  });

  it("counts exactly the I/O a guest performs and retires a known number of instructions", async () => {
    const n = 1000;
    const m = await bootMini([
      ...asm.movEcx(n),
      ...asm.movDx(0x80),
      ...asm.outDxAl,
      ...asm.loop(1),
      ...asm.movAl(0x10),
      ...asm.outImmAl(0xf4),
    ]);
    const outcome = await m.run({ timeoutMs: 10_000 });
    expect(outcome).toEqual({ kind: "debug-exit", exitCode: 0x21 });
    const s = m.stats();
    expect(s.pio.ports).toEqual([
      { address: 0x80, device: "post", reads: 0, writes: n },
      { address: 0xf4, device: "debug-exit", reads: 0, writes: 1 },
    ]);
    expect(s.pio.writes).toBe(n + 1);
    expect(s.pio.reads).toBe(0);
    expect(s.instructions).toBe(2 + 2 * n + 2);
  });

  it("reads an unclaimed port as all ones (the guest reports the value it read)", async () => {
    const m = await bootMini([...asm.inAlImm(0x99), ...asm.outImmAl(0xf4)]);
    expect(await m.run({ timeoutMs: 10_000 })).toEqual({ kind: "debug-exit", exitCode: (0xff << 1) | 1 });
    expect(m.pio.unclaimed.reads.get(0x99)).toBe(1);
    expect(m.stats().pio.ports[0]).toEqual({ address: 0x99, device: "unclaimed", reads: 1, writes: 0 });
  });

  it("reports HLT with interrupts disabled as a halt nothing can wake", async () => {
    const m = await bootMini([...asm.cliHlt]);
    expect(await m.run({ timeoutMs: 10_000 })).toEqual({ kind: "halted", interruptsEnabled: false });
  });

  it("turns an exception with no usable IDT into a triple fault", async () => {
    // Multiboot leaves IDTR at its reset value (base 0, limit 0x3FF) over zeroed memory: #UD
    // finds a non-present gate (#NP), whose delivery fails again (#DF), and then shutdown.
    const m = await bootMini([...asm.ud2]);
    expect(await m.run({ timeoutMs: 10_000 })).toEqual({ kind: "triple-fault" });
  });

  it("gives identical instruction counts and output on every run", async () => {
    const results = [];
    for (let i = 0; i < 2; i++) {
      const m = await bootMini([
        ...asm.movEcx(50),
        ...asm.movDx(0x80),
        ...asm.outDxAl,
        ...asm.loop(1),
        ...asm.cliHlt,
      ]);
      await m.run();
      results.push([m.core.instructions, JSON.stringify(m.stats())]);
    }
    expect(results[0]).toEqual(results[1]);
  });
});
