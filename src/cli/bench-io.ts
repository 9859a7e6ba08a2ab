/**
 * `trapdoor bench io`: boot the Linux guest once per disk configuration and run the same I/O
 * workloads on each, printing one comparison table (see docs/io-comparison.md).
 *
 *   trapdoor bench io [--kernel FILE --initrd FILE] [--size MiB] [--configs a,b] [--workloads a,b]
 *                     [--json FILE]
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { IO_CONFIGS, selectConfigs } from "../bench/io-configs.js";
import {
  BenchRunError,
  runConfig,
  type ConfigRun,
  type LinuxGuest,
  type WorkloadResult,
} from "../bench/io-run.js";
import { benchImage, makeWorkload, WORKLOAD_NAMES, type WorkloadName } from "../bench/io-workloads.js";
import { benchJson, formatReport } from "../bench/io-report.js";
import { UsageError } from "./args.js";
import { EXIT_INTERNAL, EXIT_OK } from "./exit-codes.js";

export const BENCH_IO_USAGE = `usage: trapdoor bench io [options]
  --kernel FILE      Linux bzImage (default: the guest-images/linux/build.sh cache)
  --initrd FILE      its initramfs (default: the same cache)
  --size MiB         MiB per sequential workload (default 16); random reads: 8 per MiB (16..256)
  --configs a,b      configurations (default: all): ${IO_CONFIGS.map((c) => c.name).join(", ")}
  --workloads a,b    workloads (default: all): ${WORKLOAD_NAMES.join(", ")}
  --json FILE        also write the results as JSON`;

export interface BenchIoArgs {
  kernel?: string;
  initrd?: string;
  sizeMiB: number;
  configs: string[];
  workloads: WorkloadName[];
  json?: string;
}

export function parseBenchIoArgs(argv: readonly string[]): BenchIoArgs | "help" {
  const a: BenchIoArgs = {
    sizeMiB: 16,
    configs: IO_CONFIGS.map((c) => c.name),
    workloads: [...WORKLOAD_NAMES],
  };
  for (let i = 0; i < argv.length; i++) {
    const opt = argv[i]!;
    if (opt === "-h" || opt === "--help") return "help";
    const value = argv[++i];
    if (value === undefined) throw new UsageError(`${opt} needs a value (try: trapdoor bench io --help)`);
    switch (opt) {
      case "--kernel":
        a.kernel = value;
        break;
      case "--initrd":
        a.initrd = value;
        break;
      case "--size":
        if (!/^[1-9][0-9]*$/.test(value) || Number(value) > 1024) {
          throw new UsageError(`--size takes a whole number of MiB from 1 to 1024, not "${value}"`);
        }
        a.sizeMiB = Number(value);
        break;
      case "--configs":
        a.configs = value.split(",");
        try {
          selectConfigs(a.configs);
        } catch (e) {
          throw new UsageError(`--configs: ${(e as Error).message}`);
        }
        break;
      case "--workloads":
        for (const w of value.split(",")) {
          if (!(WORKLOAD_NAMES as readonly string[]).includes(w)) {
            throw new UsageError(
              `--workloads: unknown workload "${w}" (known: ${WORKLOAD_NAMES.join(", ")})`,
            );
          }
        }
        a.workloads = value.split(",") as WorkloadName[];
        break;
      case "--json":
        a.json = value;
        break;
      default:
        throw new UsageError(`unknown option ${opt} (try: trapdoor bench io --help)`);
    }
  }
  if ((a.kernel === undefined) !== (a.initrd === undefined)) {
    throw new UsageError("give both --kernel and --initrd, or neither (to use the build.sh cache)");
  }
  return a;
}

/** The guest: the files named, or the cached build of guest-images/linux/build.sh (built if needed). */
function loadGuest(a: BenchIoArgs): LinuxGuest {
  let kernel = a.kernel;
  let initrd = a.initrd;
  if (kernel === undefined || initrd === undefined) {
    const buildSh = fileURLToPath(new URL("../../guest-images/linux/build.sh", import.meta.url));
    if (!existsSync(buildSh))
      throw new UsageError("give --kernel and --initrd (no guest-images/linux/build.sh here)");
    const dir = execFileSync("bash", [buildSh, "--print-path"], { stdio: ["ignore", "pipe", "inherit"] })
      .toString()
      .trim();
    kernel = join(dir, "bzImage");
    initrd = join(dir, "initramfs.cpio.gz");
  }
  const read = (what: string, path: string): Uint8Array => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new UsageError(
        `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  };
  return { kernel: read("kernel", kernel), initrd: read("initrd", initrd) };
}

export async function benchIo(argv: readonly string[]): Promise<number> {
  const a = parseBenchIoArgs(argv);
  if (a === "help") {
    process.stdout.write(BENCH_IO_USAGE + "\n");
    return EXIT_OK;
  }
  const guest = loadGuest(a);
  const image = benchImage(a.sizeMiB);
  const runs: ConfigRun[] = [];
  for (const config of selectConfigs(a.configs)) {
    process.stderr.write(`bench io: ${config.name}...\n`);
    const workloads = a.workloads.map((w) => makeWorkload(w, config.device, a.sizeMiB));
    try {
      const progress = (r: WorkloadResult) =>
        process.stderr.write(
          `bench io:   ${r.workload.name}: ${(r.delta.hostNs / 1e9).toFixed(1)} s host, ${r.delta.allExits} exits\n`,
        );
      runs.push(await runConfig(guest, config, image, workloads, undefined, progress));
    } catch (e) {
      if (!(e instanceof BenchRunError)) throw e;
      process.stderr.write(
        `trapdoor: bench io: ${e.message}\n--- guest console (end) ---\n${e.output.slice(-4000)}\n`,
      );
      return EXIT_INTERNAL;
    }
  }
  const host = `${cpus()[0]?.model ?? "unknown CPU"} x${cpus().length}, Node ${process.version}`;
  process.stdout.write(formatReport(runs, { sizeMiB: a.sizeMiB, host }, a.workloads) + "\n");
  if (a.json !== undefined) {
    writeFileSync(a.json, JSON.stringify(benchJson(runs, { sizeMiB: a.sizeMiB, host }), null, 2) + "\n");
  }
  return EXIT_OK;
}
