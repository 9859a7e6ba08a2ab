// `npm run bench`: figures for the current build, printed as a table. Medians of several runs
// measured in one process; say which machine when you quote them (docs/performance.md).
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { Machine } from "../dist/index.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const hello = readFileSync(new URL("../guest-images/hello/hello.elf", import.meta.url));

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
  0xb9,
  N & 0xff,
  (N >> 8) & 0xff,
  (N >> 16) & 0xff,
  N >>> 24,
  0x01,
  0xc8,
  0x31,
  0xc3,
  0xd1,
  0xe3,
  0x89,
  0x1d,
  0x00,
  0x00,
  0x20,
  0x00,
  0x8b,
  0x15,
  0x00,
  0x00,
  0x20,
  0x00,
  0x29,
  0xc2,
  0x49,
  0x75,
  0xe9,
  0xe6,
  0xf4,
]);

async function measure(image, cmdline) {
  const m = await Machine.create({ memory: "64M" });
  m.loadMultiboot(image, { cmdline });
  const t0 = performance.now();
  const outcome = await m.run({ timeoutMs: 120_000, sliceInstructions: 10_000_000 });
  const ms = performance.now() - t0;
  if (outcome.kind !== "debug-exit") throw new Error(`bench guest ended with ${JSON.stringify(outcome)}`);
  return { ms, instructions: m.core.instructions, stats: m.stats() };
}

const rows = [];
for (const [name, image] of [
  ["hello guest (boot to exit)", hello],
  ["integer loop (8 insns x 2M)", loop],
]) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await measure(image, "bench"));
  const ms = median(runs.map((r) => r.ms));
  const insns = runs[0].instructions;
  rows.push({
    workload: name,
    "median ms": ms.toFixed(2),
    "guest instructions": insns,
    "MIPS (median)": (insns / ms / 1000).toFixed(1),
    "PIO exits": runs[0].stats.pio.reads + runs[0].stats.pio.writes,
  });
}
console.log(
  `trapdoor bench: ${RUNS} runs each, Node ${process.version}, ${cpus()[0]?.model ?? "?"} x${cpus().length}`,
);
console.table(rows);
