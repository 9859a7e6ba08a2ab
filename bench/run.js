// `npm run bench`: guest MIPS (retired instructions per host second) for the current build, as a
// table of medians over several runs measured in one process, then the bench guest's instruction
// mix from the profile build. Say which machine when you quote figures (docs/performance.md).
//
//   node bench/run.js [--runs N] [--core path.wasm ...] [--no-mix] [--only name]
//                     [--host-time-sampling N]
//
// With several --core builds, runs are interleaved (A B A B ...) so that load from other processes
// hits every build alike; compare builds only within one invocation. "CPU ms" is the process's
// CPU time per run and "on vCPU" the CPU it ran on: on the shared development VM the two vCPUs
// differ by ~1.7x, so pin A/B comparisons with `taskset -c 0` (docs/performance.md).
import { readFileSync, existsSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { Machine } from "../dist/index.js";

const args = process.argv.slice(2);
const opt = (name) => {
  const out = [];
  for (let i = 0; i < args.length; i++) if (args[i] === name) out.push(args[++i]);
  return out;
};
const RUNS = Number(opt("--runs")[0] ?? process.env.BENCH_RUNS ?? 5);
const ONLY = opt("--only")[0];
const sampling = opt("--host-time-sampling")[0];
const HOST_TIME_SAMPLING = sampling === undefined ? undefined : Number(sampling);
const coreFiles = opt("--core");
if (coreFiles.length === 0) coreFiles.push(new URL("../build/trapdoor.wasm", import.meta.url).pathname);
const profileCore = new URL("../build/trapdoor.profile.wasm", import.meta.url).pathname;

const file = (p) => readFileSync(new URL(p, import.meta.url));
const benchElf = file("../guest-images/bench/bench.elf");
const benchExpected = file("../guest-images/bench/expected-qemu.txt").toString("latin1");
const hello = file("../guest-images/hello/hello.elf");

/** The CPU this process last ran on (Linux; the VM's two vCPUs differ in speed, see docs). */
function currentCpu() {
  try {
    const stat = readFileSync("/proc/self/stat", "latin1");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[36]);
  } catch {
    return -1;
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** A Multiboot a.out-kludge image around raw 32-bit code (see tests/helpers/mini-kernel.ts). */
function miniKernel(code) {
  const image = new Uint8Array(32 + code.length);
  const v = new DataView(image.buffer);
  const magic = 0x1badb002;
  const flags = 0x10000;
  [magic, flags, -(magic + flags) >>> 0, 0x100000, 0x100000, 0, 0, 0x100020].forEach((f, i) =>
    v.setUint32(i * 4, f, true),
  );
  image.set(code, 32);
  return image;
}

// An integer loop: add/xor/shift/memory load-store/loop, 8 instructions per iteration, then exit.
// mov ecx, N; L: add eax, ecx; xor ebx, eax; shl ebx, 1; mov [0x200000], ebx; mov edx, [0x200000];
//                sub edx, eax; dec ecx; jnz L; out 0xF4, al
const N = 2_000_000;
const loop = miniKernel([
  0xb9, N & 0xff, (N >> 8) & 0xff, (N >> 16) & 0xff, N >>> 24,
  0x01, 0xc8, 0x31, 0xc3, 0xd1, 0xe3, 0x89, 0x1d, 0x00, 0x00, 0x20, 0x00,
  0x8b, 0x15, 0x00, 0x00, 0x20, 0x00, 0x29, 0xc2, 0x49, 0x75, 0xe9, 0xe6, 0xf4,
]); // prettier-ignore

// Exit-heavy: 200k OUTs to the POST port (a claimed device that does almost nothing), to measure
// the cost of an exit and of its accounting. mov ecx, N; L: out 0x80, al; loop L; out 0xF4, al
const OUTS = 200_000;
const portLoop = miniKernel([
  0xb9, OUTS & 0xff, (OUTS >> 8) & 0xff, (OUTS >> 16) & 0xff, OUTS >>> 24,
  0xe6, 0x80, 0xe2, 0xfc, 0xe6, 0xf4,
]); // prettier-ignore

const workloads = [
  { name: "bench guest (guest-images/bench)", image: benchElf, expect: benchExpected },
  { name: "integer loop (8 insns x 2M)", image: loop },
  { name: "hello guest (boot to exit)", image: hello },
  { name: "port I/O loop (200k OUT to 0x80)", image: portLoop },
].filter((w) => ONLY === undefined || w.name.startsWith(ONLY));

async function measure(module, w) {
  const m = await Machine.create({ memory: "64M", coreModule: module, hostTimeSampling: HOST_TIME_SAMPLING });
  const out = [];
  m.onSerialOutput((b) => out.push(Buffer.from(b)));
  m.loadMultiboot(w.image, { cmdline: "bench" });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const outcome = await m.run({ timeoutMs: 300_000, sliceInstructions: 10_000_000 });
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const cpuMs = (c.user + c.system) / 1000;
  const cpu = currentCpu();
  if (outcome.kind !== "debug-exit") throw new Error(`${w.name} ended with ${JSON.stringify(outcome)}`);
  const text = Buffer.concat(out).toString("latin1");
  if (w.expect !== undefined && text !== w.expect)
    throw new Error(`${w.name}: output differs from QEMU's:\n${text}`);
  return { ms, cpuMs, cpu, m };
}

const modules = await Promise.all(coreFiles.map(async (f) => WebAssembly.compile(readFileSync(f))));
console.log(
  `trapdoor bench: ${RUNS} runs each (interleaved across builds), Node ${process.version}, ` +
    `${cpus()[0]?.model ?? "?"} x${cpus().length}, load average ${loadavg()[0].toFixed(2)}`,
);
const rows = [];
for (const w of workloads) {
  const times = modules.map(() => []);
  const cpuTimes = modules.map(() => []);
  const cpusSeen = modules.map(() => new Set());
  let insns = 0;
  let exits = 0;
  // One unmeasured run per build first: V8 compiles wasm with its baseline tier and optimises
  // hot functions later; a warm-up keeps that out of the figures.
  for (const module of modules) await measure(module, w);
  for (let i = 0; i < RUNS; i++) {
    for (let k = 0; k < modules.length; k++) {
      const { ms, cpuMs, cpu, m } = await measure(modules[k], w);
      cpusSeen[k].add(cpu);
      times[k].push(ms);
      cpuTimes[k].push(cpuMs);
      const n = m.core.instructions;
      if (insns !== 0 && n !== insns)
        throw new Error(`${w.name}: instruction counts differ: ${insns} vs ${n}`);
      insns = n;
      const s = m.stats();
      exits = s.pio.reads + s.pio.writes;
    }
  }
  modules.forEach((_, k) => {
    const ms = median(times[k]);
    rows.push({
      workload: w.name,
      ...(modules.length > 1 ? { core: coreFiles[k].split("/").pop() } : {}),
      "median ms": ms.toFixed(1),
      "min ms": Math.min(...times[k]).toFixed(1),
      "CPU ms": median(cpuTimes[k]).toFixed(1),
      "on vCPU": [...cpusSeen[k]].sort().join(","),
      "guest instructions": insns,
      "MIPS (median)": (insns / ms / 1000).toFixed(1),
      "PIO exits": exits,
    });
  });
}
console.table(rows);
console.log(`load average at the end ${loadavg()[0].toFixed(2)}`);

// ---------------------------------------------------------------- instruction mix

// One-byte opcode map mnemonics (SDM vol. 2 table A-2); 0F xx as 0x100 | xx.
const ALU = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"];
const FORMS = ["Eb,Gb", "Ev,Gv", "Gb,Eb", "Gv,Ev", "AL,Ib", "eAX,Iz"];
const CC = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];
function mnemonic(op) {
  if (op === 0x1ff) return "(of which through step)";
  if (op >= 0x100) {
    const x = op & 0xff;
    if (x >= 0x80 && x < 0x90) return `j${CC[x & 15]} rel32`;
    if (x >= 0x90 && x < 0xa0) return `set${CC[x & 15]}`;
    if (x >= 0x40 && x < 0x50) return `cmov${CC[x & 15]}`;
    const n = { 0xaf: "imul Gv,Ev", 0xb6: "movzx Gv,Eb", 0xb7: "movzx Gv,Ew", 0xbe: "movsx Gv,Eb",
      0xbf: "movsx Gv,Ew", 0xa2: "cpuid", 0x31: "rdtsc", 0xa3: "bt", 0xab: "bts", 0xb3: "btr",
      0xba: "bt* Ev,Ib", 0xa4: "shld Ib", 0xa5: "shld cl", 0xac: "shrd Ib", 0xad: "shrd cl",
      0xbc: "bsf", 0xbd: "bsr", 0xb1: "cmpxchg", 0xc1: "xadd", 0x20: "mov r,crN", 0x22: "mov crN,r" }; // prettier-ignore
    return n[x] ?? `0f ${x.toString(16).padStart(2, "0")}`;
  }
  if (op < 0x40 && (op & 7) < 6) return `${ALU[op >> 3]} ${FORMS[op & 7]}`;
  if (op >= 0x40 && op < 0x48) return "inc r";
  if (op >= 0x48 && op < 0x50) return "dec r";
  if (op >= 0x50 && op < 0x58) return "push r";
  if (op >= 0x58 && op < 0x60) return "pop r";
  if (op >= 0x70 && op < 0x80) return `j${CC[op & 15]} rel8`;
  if (op >= 0xb0 && op < 0xb8) return "mov r8,imm8";
  if (op >= 0xb8 && op < 0xc0) return "mov r,imm";
  if (op >= 0xd8 && op <= 0xdf) return `x87 esc ${op.toString(16)}`;
  const n = { 0x68: "push imm", 0x6a: "push imm8", 0x69: "imul Gv,Ev,Iz", 0x6b: "imul Gv,Ev,Ib",
    0x80: "grp1 Eb,Ib", 0x81: "grp1 Ev,Iz", 0x83: "grp1 Ev,Ib", 0x84: "test Eb,Gb", 0x85: "test Ev,Gv",
    0x86: "xchg Eb,Gb", 0x87: "xchg Ev,Gv", 0x88: "mov Eb,Gb", 0x89: "mov Ev,Gv", 0x8a: "mov Gb,Eb",
    0x8b: "mov Gv,Ev", 0x8d: "lea", 0x90: "nop", 0x99: "cdq", 0xa4: "movsb", 0xa5: "movs", 0xa6: "cmpsb",
    0xaa: "stosb", 0xab: "stos", 0xa8: "test al,imm8", 0xa9: "test eAX,imm", 0xc0: "shift Eb,Ib",
    0xc1: "shift Ev,Ib", 0xc3: "ret", 0xc2: "ret imm16", 0xc6: "mov Eb,Ib", 0xc7: "mov Ev,Iz",
    0xc9: "leave", 0xd0: "shift Eb,1", 0xd1: "shift Ev,1", 0xd2: "shift Eb,cl", 0xd3: "shift Ev,cl",
    0xe2: "loop", 0xe4: "in al,imm8", 0xe6: "out imm8,al", 0xe8: "call rel", 0xe9: "jmp rel32",
    0xeb: "jmp rel8", 0xec: "in al,dx", 0xee: "out dx,al", 0xf6: "grp3 Eb", 0xf7: "grp3 Ev",
    0xfe: "grp4 Eb", 0xff: "grp5 Ev", 0xfc: "cld", 0xfa: "cli", 0xfb: "sti", 0xf4: "hlt" }; // prettier-ignore
  return n[op] ?? op.toString(16).padStart(2, "0");
}

if (
  !args.includes("--no-mix") &&
  existsSync(profileCore) &&
  (ONLY === undefined || ONLY.startsWith("bench"))
) {
  const module = await WebAssembly.compile(readFileSync(profileCore));
  const { m } = await measure(module, workloads[0]);
  const base = m.core.at("PROFILE_COUNTERS");
  const slots = m.core.at("PROFILE_SLOTS");
  const counts = new BigUint64Array(m.core.memory.buffer, base, slots);
  // Sum by mnemonic (e.g. the eight "inc r" opcodes are one row).
  let total = 0;
  const byName = new Map();
  for (let i = 0; i < slots; i++) {
    const n = Number(counts[i]);
    if (n === 0) continue;
    if (i !== 0x1ff) total += n;
    const name = mnemonic(i);
    const row = byName.get(name) ?? { opcodes: [], count: 0 };
    row.opcodes.push(
      i >= 0x100 ? `0f ${(i & 0xff).toString(16).padStart(2, "0")}` : i.toString(16).padStart(2, "0"),
    );
    row.count += n;
    byName.set(name, row);
  }
  const list = [...byName.entries()].sort((a, b) => b[1].count - a[1].count);
  console.log(
    `instruction mix of the bench guest (profile build, ${total} executed instructions; a REP string ` +
      `instruction counts once per chunk of up to 4096 iterations):`,
  );
  console.table(
    [
      ...list.filter(([name]) => !name.startsWith("(of which")).slice(0, 20),
      ...list.filter(([name]) => name.startsWith("(of which")),
    ].map(([name, r]) => ({
      instruction: name,
      opcodes:
        r.opcodes.length > 3 ? `${r.opcodes[0]}..${r.opcodes[r.opcodes.length - 1]}` : r.opcodes.join(" "),
      count: r.count,
      "%": ((r.count * 100) / total).toFixed(2),
    })),
  );
}
