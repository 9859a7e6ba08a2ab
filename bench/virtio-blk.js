// `npm run bench` (part 3): virtio-blk throughput seen by Linux. Boots the Linux guest with a
// virtio disk (a temporary image file), then runs `dd` on /dev/vda inside it: sequential reads
// and writes of SIZE_MB MiB with bs=1M and O_DIRECT (so the guest's page cache is not measured),
// several runs each, alternating. Reports the median host-time MB/s (10^6 bytes per host second,
// measured from sending the command to the next shell prompt), the same per second of this
// process's CPU time (user + system: less disturbed by other load on a shared machine) and, per
// MiB moved, the requests, kicks and interrupts the device counted. It also splits the CPU time per
// MiB: inside the device's request handling (validation, backend I/O, completion: the device's
// handleRequest, timed with process.cpuUsage) and the rest (guest code, other exits, Node), which
// with the guest's instruction count gives its MIPS. CPU time, not host time, because the shared
// machine's other load stretches host time several-fold. Say which machine when quoting
// (docs/performance.md).
//
//   node bench/virtio-blk.js     (BENCH_BLK_RUNS=5, BENCH_BLK_MB=64)
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { FileDisk } from "../dist/disk/file-disk.js";
import { Machine } from "../dist/index.js";

const RUNS = Number(process.env.BENCH_BLK_RUNS ?? 5);
const SIZE_MB = Number(process.env.BENCH_BLK_MB ?? 64);
const PROMPT = "/root # ";
const dir = execFileSync(
  "bash",
  [new URL("../guest-images/linux/build.sh", import.meta.url).pathname, "--print-path"],
  { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
).trim();
const kernel = readFileSync(join(dir, "bzImage"));
const initrd = readFileSync(join(dir, "initramfs.cpio.gz"));

// The disk: SIZE_MB MiB of pseudo-random bytes plus 1 MiB, written once (the host's page cache
// then serves the reads, as it would for any VMM).
const work = mkdtempSync(join(tmpdir(), "trapdoor-blk-bench-"));
const image = join(work, "disk.img");
{
  const fd = openSync(image, "w");
  const chunk = new Uint32Array(1 << 18);
  let x = 0x12345678;
  for (let mb = 0; mb <= SIZE_MB; mb++) {
    for (let i = 0; i < chunk.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      chunk[i] = x >>> 0;
    }
    writeSync(fd, new Uint8Array(chunk.buffer));
  }
  closeSync(fd);
}

const read = `dd if=/dev/vda of=/dev/null bs=1M count=${SIZE_MB} iflag=direct`;
const write = `dd if=/dev/zero of=/dev/vda bs=1M count=${SIZE_MB} oflag=direct`;
const commands = [];
for (let i = 0; i < RUNS; i++) commands.push({ kind: "read", cmd: read }, { kind: "write", cmd: write });

const backend = new FileDisk(image);
const m = await Machine.create({ memory: "64M", drives: [{ backend }] });
const dev = m.drives[0];
// The CPU time inside request handling: the device's (protected) handleRequest, wrapped here only.
let deviceCpuUs = 0;
const handleRequest = dev.handleRequest;
dev.handleRequest = function (...args) {
  const t0 = process.cpuUsage();
  try {
    return handleRequest.apply(this, args);
  } finally {
    const t = process.cpuUsage(t0);
    deviceCpuUs += t.user + t.system;
  }
};
const snapshot = () => ({
  t: performance.now(),
  cpu: process.cpuUsage(),
  deviceCpuUs,
  instructions: m.core.instructions,
  kicks: dev.counters.kicks,
  requests: dev.counters.requests,
  interrupts: dev.counters.interrupts,
  publishes: dev.counters.publishes,
  bytes: dev.blkCounters.bytesRead + dev.blkCounters.bytesWritten,
});
const results = [];
let text = "";
let prompts = 0;
let current;
m.onSerialOutput((b) => {
  text += Buffer.from(b).toString("latin1");
  const seen = text.split(PROMPT).length - 1;
  if (seen === prompts) return;
  prompts = seen;
  if (current !== undefined) {
    const end = snapshot();
    const answer = text.slice(text.lastIndexOf(current.cmd));
    results.push({ ...current, end, answer });
  }
  const next = commands[results.length];
  if (next === undefined) {
    current = undefined;
    m.sendSerialInput("poweroff -f\n");
    return;
  }
  current = { ...next, start: snapshot() };
  m.sendSerialInput(next.cmd + "\n");
});
m.loadLinux(kernel, { cmdline: "console=ttyS0 pci=conf1", initrd });
const outcome = await m.run({ timeoutMs: 600_000 });
backend.close();
rmSync(work, { recursive: true, force: true });
if (results.length !== commands.length)
  throw new Error(`bench stopped early: ${JSON.stringify(outcome)}\n${text.slice(-2000)}`);
for (const r of results) {
  if (!r.answer.includes(`${SIZE_MB}+0 records out`)) throw new Error(`dd failed:\n${r.answer}`);
  if (r.end.bytes - r.start.bytes !== SIZE_MB << 20)
    throw new Error(`${r.kind}: the device moved ${r.end.bytes - r.start.bytes} bytes, not ${SIZE_MB} MiB`);
}
if (dev.diagnosticCount !== 0) throw new Error(`driver checker: ${JSON.stringify(dev.diagnostics[0])}`);

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const row = (kind) => {
  const rs = results.filter((r) => r.kind === kind);
  const per = (k) => (rs[0].end[k] - rs[0].start[k]) / SIZE_MB;
  const mb = (SIZE_MB * 2 ** 20) / 1e6;
  const mbs = rs.map((r) => mb / ((r.end.t - r.start.t) / 1000));
  const cpuSeconds = (r) => {
    const d = { user: r.end.cpu.user - r.start.cpu.user, system: r.end.cpu.system - r.start.cpu.system };
    return (d.user + d.system) / 1e6;
  };
  const mbsCpu = rs.map((r) => mb / cpuSeconds(r));
  const deviceMs = median(rs.map((r) => (r.end.deviceCpuUs - r.start.deviceCpuUs) / 1e3 / SIZE_MB));
  const restMs = median(
    rs.map((r) => (cpuSeconds(r) * 1e6 - (r.end.deviceCpuUs - r.start.deviceCpuUs)) / 1e3 / SIZE_MB),
  );
  return {
    dd: kind === "read" ? read : write,
    "median MB/s": median(mbs).toFixed(0),
    "min-max MB/s": `${Math.min(...mbs).toFixed(0)}-${Math.max(...mbs).toFixed(0)}`,
    "median MB per CPU-s": median(mbsCpu).toFixed(0),
    "requests/MiB": per("requests").toFixed(2),
    "kicks/MiB": per("kicks").toFixed(2),
    "interrupts/MiB": per("interrupts").toFixed(2),
    "publishes/MiB": per("publishes").toFixed(2),
    "guest instructions/MiB": Math.round(per("instructions")),
    "device CPU ms/MiB": deviceMs.toFixed(2),
    "rest CPU ms/MiB": restMs.toFixed(2),
    "MIPS (rest)": (per("instructions") / 1e3 / restMs).toFixed(0),
  };
};
console.log(
  `\ntrapdoor bench: virtio-blk under Linux, ${SIZE_MB} MiB x ${RUNS} runs each, Node ${process.version}, ${cpus()[0]?.model ?? "?"} x${cpus().length}`,
);
console.table([row("read"), row("write")]);
