import { describe, expect, it } from "vitest";
import { Machine, type MachineOptions } from "../src/machine.js";
import { MemoryDisk } from "../src/disk/memory-disk.js";
import { StatsSeries } from "../src/stats/series.js";
import { modelExitCosts, COST_PROFILES } from "../src/stats/cost-model.js";
import { asm, imm32, miniKernel, MINI_ENTRY } from "./helpers/mini-kernel.js";

// Encodings (Intel SDM vol. 2) used below, beyond tests/helpers/mini-kernel.ts.
const movMemImm32 = (addr: number, v: number) => [0xc7, 0x05, ...imm32(addr), ...imm32(v)];
const movMemImm16 = (addr: number, v: number) => [0x66, 0xc7, 0x05, ...imm32(addr), v & 0xff, v >>> 8];
const movEaxMem = (addr: number) => [0xa1, ...imm32(addr)];
const movMemEax = (addr: number) => [0xa3, ...imm32(addr)];
const movAxMem = (addr: number) => [0x66, 0xa1, ...imm32(addr)];
const movAlMem = (addr: number) => [0xa0, ...imm32(addr)];
const outImm = (port: number, value: number) => [...asm.movAl(value), ...asm.outImmAl(port)];
const inEaxDx = [0xed];
const outDxAx = [0x66, 0xef];

const N = 100;
const PROBE_PORT = 0x99; // nothing claims it
const PROBE_MMIO = 0xfeb0_0000; // nothing claims it: above RAM, below the PCI BARs' window
const IDT = 0x20_0000;
const IDTR = 0x20_0800;
const GDT = 0x20_0900; // null, flat code at 0x08, flat data at 0x10 (Multiboot leaves GDTR to the OS)
const GDTR = 0x20_0a00;
const SOFT_VECTOR = 0x30;
const TIMER_VECTOR = 0x20; // IRQ 0 once the master PIC's ICW2 is 0x20
const PIT_COUNT = 1193; // ~1 ms at 1.193182 MHz

/** An IDT gate word pair for a 32-bit interrupt gate (SDM vol. 3 §6.11) to CS 0x08:`handler`. */
function gate(handler: number): [number, number] {
  return [(0x08 << 16) | (handler & 0xffff), ((handler & 0xffff0000) | 0x8e00) >>> 0];
}

/**
 * A guest whose exits are known exactly: N OUTs to an unclaimed port, N 32-bit INs from it,
 * MMIO reads of 4, 2 and 1 bytes and one 4-byte write to an unclaimed address, INT 0x30, then the
 * PIC and PIT programmed for one timer interrupt, STI; HLT until it comes (its handler sends one
 * EOI), and the debug-exit port.
 */
function knownGuest(): Uint8Array {
  const body = (softHandler: number, timerHandler: number) => [
    ...[0xbc, ...imm32(0x30_0000)], // mov esp, 0x300000 (Multiboot leaves ESP undefined)
    ...movMemImm32(GDT + 8, 0x0000ffff),
    ...movMemImm32(GDT + 12, 0x00cf9a00),
    ...movMemImm32(GDT + 16, 0x0000ffff),
    ...movMemImm32(GDT + 20, 0x00cf9200),
    ...movMemImm16(GDTR, 23),
    ...movMemImm32(GDTR + 2, GDT),
    ...[0x0f, 0x01, 0x15, ...imm32(GDTR)], // lgdt [GDTR]
    ...movMemImm32(IDT + SOFT_VECTOR * 8, gate(softHandler)[0]),
    ...movMemImm32(IDT + SOFT_VECTOR * 8 + 4, gate(softHandler)[1]),
    ...movMemImm32(IDT + TIMER_VECTOR * 8, gate(timerHandler)[0]),
    ...movMemImm32(IDT + TIMER_VECTOR * 8 + 4, gate(timerHandler)[1]),
    ...movMemImm16(IDTR, 0x7ff),
    ...movMemImm32(IDTR + 2, IDT),
    ...[0x0f, 0x01, 0x1d, ...imm32(IDTR)], // lidt [IDTR]
    ...asm.movDx(PROBE_PORT),
    ...asm.movEcx(N),
    ...asm.outDxAl,
    ...asm.loop(1),
    ...asm.movEcx(N),
    ...inEaxDx,
    ...asm.loop(1),
    ...movEaxMem(PROBE_MMIO),
    ...movAxMem(PROBE_MMIO + 4),
    ...movAlMem(PROBE_MMIO + 8),
    ...movMemEax(PROBE_MMIO + 16),
    ...[0xcd, SOFT_VECTOR], // int 0x30
    // 8259A master: ICW1 (edge, cascade, ICW4), ICW2 vector base 0x20, ICW3, ICW4 (8086), mask all but IRQ 0.
    ...outImm(0x20, 0x11),
    ...outImm(0x21, 0x20),
    ...outImm(0x21, 0x04),
    ...outImm(0x21, 0x01),
    ...outImm(0x21, 0xfe),
    // 8254 channel 0, mode 2, lobyte/hibyte.
    ...outImm(0x43, 0x34),
    ...outImm(0x40, PIT_COUNT & 0xff),
    ...outImm(0x40, PIT_COUNT >>> 8),
    0xfb, // sti
    0xf4, // hlt: the timer interrupt wakes it
    0xfa, // cli
    ...outImm(0xf4, 0), // debug-exit
  ];
  const length = body(0, 0).length;
  const softHandler = MINI_ENTRY + length;
  const timerHandler = softHandler + 1;
  return miniKernel([
    ...body(softHandler, timerHandler),
    0xcf, // soft handler: iret
    ...outImm(0x20, 0x20), // timer handler: non-specific EOI
    0xcf, // iret
  ]);
}

async function run(image: Uint8Array, options: MachineOptions = {}) {
  const m = await Machine.create({ memory: "16M", ...options });
  m.loadMultiboot(image);
  const outcome = await m.run({ timeoutMs: 20_000 });
  return { m, outcome };
}

/** OUTs of the guest besides its N probes: 5 PIC, 3 PIT, 1 EOI, 1 debug-exit. */
const OTHER_OUTS = 10;

describe("exit accounting", () => {
  it("counts every exit of a known guest by cause, width, vector and IRQ line", async () => {
    const { m, outcome } = await run(knownGuest());
    expect(outcome).toEqual({ kind: "debug-exit", exitCode: 1 }); // (0 << 1) | 1
    const e = m.stats().exits;
    expect(e.byCause).toEqual({
      "pio-in": N,
      "pio-out": N + OTHER_OUTS,
      "mmio-read": 3,
      "mmio-write": 1,
      notify: 0,
      interrupt: 1,
      hlt: 1,
    });
    expect(e.total).toBe(2 * N + OTHER_OUTS + 4 + 2);
    expect(e.widths).toEqual({
      pio: { in: { 1: 0, 2: 0, 4: N }, out: { 1: N + OTHER_OUTS, 2: 0, 4: 0 } },
      mmio: { read: { 1: 1, 2: 1, 4: 1 }, write: { 1: 0, 2: 0, 4: 1 } },
    });
    expect(e.interruptVectors).toEqual([{ vector: TIMER_VECTOR, count: 1 }]);
    expect(e.irqLines).toEqual([{ irq: 0, count: 1 }]);
    expect(e.softwareInterrupts).toEqual([{ vector: SOFT_VECTOR, count: 1 }]);
    expect(e.exceptionVectors).toEqual([]);
    expect(e.hostStops).toBe(1); // the debug-exit's stop request
    // The guest slept from its HLT (a few ns after programming the PIT) to the counter's first
    // wrap: PIT_COUNT periods of the 1.193182 MHz input plus the load cycle, ~1.0007 ms.
    expect(e.idleNs).toBeGreaterThan(999_000);
    expect(e.idleNs).toBeLessThan(1_001_000);
    // OUT/LOOP and IN/LOOP: 2 instructions between consecutive probes, in the [2, 3] bucket.
    const two = e.instructionsBetween.find((b) => b.min === 2)!;
    expect(two.max).toBe(3);
    expect(two.count).toBeGreaterThanOrEqual(2 * (N - 1));
    expect(e.instructionsBetween.reduce((n, b) => n + b.count, 0)).toBe(e.total);
    const s = m.stats();
    const probe = s.pio.ports.find((p) => p.address === PROBE_PORT);
    expect(probe).toEqual({ address: PROBE_PORT, device: "unclaimed", reads: N, writes: N });
    expect(s.mmio.addresses.map((a) => [a.address, a.device, a.reads, a.writes])).toEqual([
      [PROBE_MMIO, "unclaimed", 1, 0],
      [PROBE_MMIO + 4, "unclaimed", 1, 0],
      [PROBE_MMIO + 8, "unclaimed", 1, 0],
      [PROBE_MMIO + 16, "unclaimed", 0, 1],
    ]);
  });

  it("gives identical counters and traces on every run (host time is kept apart)", async () => {
    const a = await run(knownGuest(), { traceSize: 64 });
    const b = await run(knownGuest(), { traceSize: 64 });
    expect(b.m.stats()).toEqual(a.m.stats());
    expect(b.m.trace()).toEqual(a.m.trace());
    expect(a.m.stats()).not.toHaveProperty("hostTime");
    expect(a.m.hostStats().runMs).toBeGreaterThan(0);
  });

  it("traces individual exits with port, width, value, vector and guest time", async () => {
    const { m } = await run(knownGuest(), { traceSize: 6 });
    const t = m.trace();
    expect(t.recorded).toBe(m.stats().exits.total + 1); // + the host stop
    expect(t.dropped).toBe(t.recorded - 6);
    expect(t.events.map(({ guestNs, instructions, ...rest }) => rest)).toEqual([
      { event: "pio-out", port: 0x40, device: "pit", width: 1, value: PIT_COUNT >>> 8 },
      { event: "hlt" },
      { event: "interrupt", vector: TIMER_VECTOR, irq: 0 },
      { event: "pio-out", port: 0x20, device: "pic-master", width: 1, value: 0x20 },
      { event: "pio-out", port: 0xf4, device: "debug-exit", width: 1, value: 0 },
      { event: "host-stop" },
    ]);
    // Guest time moves forward; from the HLT to the interrupt it jumped by the idle time, plus the
    // 1 ns of the HLT instruction itself retiring.
    const times = t.events.map((e) => e.guestNs);
    expect([...times].sort((x, y) => x - y)).toEqual(times);
    expect(times[2]! - times[1]!).toBe(m.stats().exits.idleNs + 1);
  });

  it("resetStats zeroes the counters and the trace; counting goes on from there", async () => {
    const { m } = await run(knownGuest(), { traceSize: 8 });
    m.resetStats();
    const s = m.stats();
    expect(s.exits.total).toBe(0);
    expect(s.pio.ports).toEqual([]);
    expect(s.mmio.addresses).toEqual([]);
    expect(s.exits.irqLines).toEqual([]);
    expect(m.trace().events).toEqual([]);
    expect(m.hostStats().exits["pio-out"].sampled).toBe(0);
  });

  it("times one exit in N on the host, every exit with sampling 1, none with 0", async () => {
    const all = await run(knownGuest(), { hostTimeSampling: 1 });
    const h = all.m.hostStats();
    expect(h.sampleEvery).toBe(1);
    expect(h.exits["pio-in"].sampled).toBe(N);
    expect(h.exits["pio-out"].sampled).toBe(N + OTHER_OUTS);
    expect(h.exits["mmio-read"].sampled).toBe(3);
    expect(h.exits.interrupt.sampled).toBe(1);
    expect(h.exits["pio-in"].ns).toBeGreaterThan(0);
    const none = await run(knownGuest(), { hostTimeSampling: 0 });
    expect(Object.values(none.m.hostStats().exits).every((c) => c.sampled === 0)).toBe(true);
    const some = await run(knownGuest(), { hostTimeSampling: 16 });
    const timed = Object.values(some.m.hostStats().exits).reduce((n, c) => n + c.sampled, 0);
    // About 1 in 16 of the 216 dispatches; both probe classes get their share (no aliasing).
    expect(timed).toBeGreaterThan(3);
    expect(timed).toBeLessThan(40);
    expect(some.m.hostStats().exits["pio-in"].sampled).toBeGreaterThan(0);
    expect(some.m.hostStats().exits["pio-out"].sampled).toBeGreaterThan(0);
  });

  it("counts a virtqueue notify through the legacy port and the modern BAR as cause notify", async () => {
    const diagnostics: string[] = [];
    const m = await Machine.create({
      memory: "16M",
      hostTimeSampling: 1,
      traceSize: 4,
      drives: [
        {
          backend: new MemoryDisk(64 * 1024),
          transport: "transitional",
          onDiagnostic: (d) => diagnostics.push(d.check),
        },
      ],
    });
    const dev = m.drives[0]!;
    const legacy = dev.barAddress(0)!;
    const modern = dev.barAddress(4)!;
    // Legacy QUEUE_NOTIFY (offset 16, 16 bits) and the modern notify of queue 0 (BAR4 + 0x3000).
    m.loadMultiboot(
      miniKernel([
        ...asm.movDx(legacy + 16),
        0x66,
        0x31,
        0xc0, // xor ax, ax
        ...outDxAx,
        ...movMemImm16(modern + 0x3000, 0),
        ...outImm(0xf4, 0),
      ]),
    );
    await m.run({ timeoutMs: 20_000 });
    const e = m.stats().exits;
    expect(e.byCause.notify).toBe(2);
    expect(e.byCause["pio-out"]).toBe(1); // the debug-exit only
    expect(e.byCause["mmio-write"]).toBe(0);
    expect(e.widths.pio.out[2]).toBe(1);
    expect(e.widths.mmio.write[2]).toBe(1);
    expect(e.notifies).toEqual([{ device: "virtio-blk0", queue: 0, count: 2 }]);
    // The driver never set the device up: both kicks come before DRIVER_OK, diagnosed and counted.
    expect(diagnostics).toEqual(["T20", "T20"]);
    expect(m.hostStats().exits.notify.sampled).toBe(2);
    const notifies = m.trace().events.filter((ev) => ev.event === "notify");
    expect(notifies.map(({ guestNs, instructions, ...rest }) => rest)).toEqual([
      { event: "notify", port: legacy + 16, device: "virtio-blk0-legacy", width: 2, value: 0, queue: 0 },
      { event: "notify", address: modern + 0x3000, device: "virtio-blk0", width: 2, value: 0, queue: 0 },
    ]);
  });

  it("reports a time series of deltas", async () => {
    const m = await Machine.create({ memory: "16M" });
    m.loadMultiboot(knownGuest());
    let host = 0;
    const series = new StatsSeries(
      () => m.stats(),
      () => (host += 10),
    );
    await m.run({ instructionLimit: 20 });
    const first = series.next();
    await m.run({ timeoutMs: 20_000 });
    const second = series.next();
    expect(first.hostDeltaMs).toBe(10);
    expect(first.instructions + second.instructions).toBe(m.stats().instructions);
    expect(first.exits + second.exits).toBe(m.stats().exits.total);
    expect(first.byCause["pio-in"] + second.byCause["pio-in"]).toBe(N);
    expect(second.irqLines).toEqual([{ irq: 0, count: 1 }]);
    const probe = (p: typeof first) => p.devices.find((d) => d.device === "unclaimed");
    expect((probe(first)?.writes ?? 0) + probe(second)!.writes).toBe(N + 1); // + the MMIO write
  });

  it("models the KVM cost of the exits from the per-exit cycle counts", async () => {
    const { m } = await run(knownGuest());
    const e = m.stats().exits;
    const [inKernel, userspace] = modelExitCosts(e);
    const k = COST_PROFILES[0]!;
    expect(inKernel!.profile).toBe("kvm-in-kernel");
    expect(inKernel!.totalUs).toBeCloseTo((e.total * 2000) / k.ghz / 1000, 2);
    expect(userspace!.byCauseUs["pio-in"]).toBeCloseTo((N * (2000 + 1152)) / k.ghz / 1000, 2);
    expect(userspace!.totalUs).toBeGreaterThan(inKernel!.totalUs);
  });
});
