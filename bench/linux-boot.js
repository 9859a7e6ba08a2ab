// `npm run bench` (part 2): boot the Linux guest to its shell prompt in deterministic mode and
// report host seconds to the prompt (median), guest instructions to the prompt (exact: identical
// in every run) and the exits each device took during boot. Say which machine when quoting.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { Machine, modelExitCosts } from "../dist/index.js";

const RUNS = Number(process.env.BENCH_LINUX_RUNS ?? 5);
const PROMPT = "/root # ";
const dir = execFileSync(
  "bash",
  [new URL("../guest-images/linux/build.sh", import.meta.url).pathname, "--print-path"],
  {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  },
).trim();
const kernel = readFileSync(join(dir, "bzImage"));
const initrd = readFileSync(join(dir, "initramfs.cpio.gz"));

async function bootToPrompt() {
  const m = await Machine.create({ memory: "64M" });
  let text = "";
  let atPrompt;
  m.onSerialOutput((b) => {
    text += Buffer.from(b).toString("latin1");
    if (atPrompt === undefined && text.includes(PROMPT)) {
      atPrompt = { ms: performance.now() - t0, instructions: m.core.instructions, stats: m.stats() };
      m.stop();
    }
  });
  m.loadLinux(kernel, { cmdline: "console=ttyS0 pci=conf1", initrd });
  const t0 = performance.now();
  const outcome = await m.run({ timeoutMs: 120_000, sliceInstructions: 1_000_000 });
  if (atPrompt === undefined)
    throw new Error(`no shell prompt: ${JSON.stringify(outcome)}\n${text.slice(-2000)}`);
  return atPrompt;
}

const runs = [];
for (let i = 0; i < RUNS; i++) runs.push(await bootToPrompt());
const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
const first = runs[0];
console.log(
  `\ntrapdoor bench: Linux boot to the shell prompt, ${RUNS} runs, Node ${process.version}, ${cpus()[0]?.model ?? "?"} x${cpus().length}`,
);
console.table([
  {
    "median s": (ms[ms.length >> 1] / 1000).toFixed(2),
    "min s": (ms[0] / 1000).toFixed(2),
    "guest instructions": first.instructions,
    "same in every run": runs.every((r) => r.instructions === first.instructions),
    "MIPS (median run)": (first.instructions / ms[ms.length >> 1] / 1000).toFixed(1),
    "PIO exits": first.stats.pio.reads + first.stats.pio.writes,
    "MMIO exits": first.stats.mmio.reads + first.stats.mmio.writes,
    interrupts: first.stats.interrupts,
  },
]);
console.log(
  "exits by cause during boot (exact), and what they would cost on KVM (modeled, docs/cost-model.md):",
);
console.table([
  {
    ...first.stats.exits.byCause,
    ...Object.fromEntries(modelExitCosts(first.stats.exits).map((c) => [`${c.profile} µs`, c.totalUs])),
  },
]);
console.log("exits by device during boot:");
console.table(first.stats.devices.map((d) => ({ device: d.device, reads: d.reads, writes: d.writes })));
