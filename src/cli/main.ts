/**
 * The `trapdoor` command line: a thin layer over the library's Machine.
 *
 *   trapdoor run --kernel FILE [--initrd FILE] [--append CMDLINE] [--memory 64M] [--timeout SECONDS]
 *                [--stats FILE.json] [--stats-series FILE.jsonl [--stats-interval MS]]
 *                [--trace FILE.jsonl [--trace-size N]] [--host-time-sampling N]
 *                [--success-code N] [--post-codes]
 *                [--debugcon stdio|stderr|[file:]PATH [--debugcon-port N]]
 *   trapdoor run --bios FILE [same options but --append and --initrd]
 *   trapdoor bench io [--size MiB] [--configs a,b] [--workloads a,b] [--json FILE] (bench-io.ts)
 */
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { Machine, type RunOutcome } from "../machine.js";
import { BootImageError } from "../boot/boot-error.js";
import { checkBiosImage } from "../boot/bios.js";
import { hasBzImageMagic } from "../boot/linux.js";
import {
  EXIT_OK,
  EXIT_USAGE,
  EXIT_TIMEOUT,
  EXIT_TRIPLE_FAULT,
  EXIT_HALTED,
  EXIT_INTERNAL,
  EXIT_RESET,
  EXIT_INTERRUPTED,
} from "./exit-codes.js";
import { USAGE, UsageError, parseRunArgs, type DebugconTarget, type RunArgs } from "./args.js";
import { attachConsole } from "./console.js";
import { FileDisk } from "../disk/file-disk.js";
import { StatsSeries } from "../stats/series.js";
import { traceToJsonLines } from "../stats/trace.js";
import { modelExitCosts } from "../stats/cost-model.js";
import { OverlayDisk } from "../disk/overlay-disk.js";
import type { DiskBackend } from "../disk/backend.js";
import { benchIo } from "./bench-io.js";

/** Read a file named on the command line, or fail with a usage error naming what it was for. */
function readInput(what: string, path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(
      `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

/** Open the debug console's output; returns the writer and a function that closes it. */
function openDebugcon(target: DebugconTarget): { write: (bytes: Uint8Array) => void; close: () => void } {
  if (target.kind === "stdout") return { write: (b) => void process.stdout.write(b), close: () => {} };
  if (target.kind === "stderr") return { write: (b) => void process.stderr.write(b), close: () => {} };
  let fd: number;
  try {
    fd = openSync(target.path, "w");
  } catch (e) {
    throw new UsageError(
      `cannot open debugcon output ${target.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  return { write: (b) => void writeSync(fd, b), close: () => closeSync(fd) };
}

/** Map a run outcome to the process exit code and an optional message for stderr. */
export function exitStatus(outcome: RunOutcome, successCode?: number): { code: number; message?: string } {
  switch (outcome.kind) {
    case "debug-exit":
      return { code: outcome.exitCode === successCode ? EXIT_OK : outcome.exitCode & 0xff };
    case "timeout":
      return { code: EXIT_TIMEOUT, message: "timeout: the guest was still running" };
    case "triple-fault":
      return { code: EXIT_TRIPLE_FAULT, message: "triple fault: the guest CPU shut down" };
    case "halted":
      // HLT with interrupts disabled is how an OS powers off a PC without ACPI: Linux turns
      // poweroff into halt when nothing can cut the power, ending in cli; hlt.
      if (!outcome.interruptsEnabled) return { code: EXIT_OK };
      return {
        code: EXIT_HALTED,
        message: "the guest halted waiting for an interrupt, and no device can raise one",
      };
    case "internal-error":
      return { code: EXIT_INTERNAL, message: outcome.message };
    case "stopped":
      return { code: EXIT_INTERRUPTED, message: "interrupted" };
    case "reset":
      return {
        code: EXIT_RESET,
        message: "the guest requested a reset (port 0x92 fast reset); trapdoor does not reboot yet",
      };
    case "instruction-limit":
      return { code: EXIT_TIMEOUT, message: "instruction limit reached" };
  }
}

async function run(args: RunArgs): Promise<number> {
  const image = args.kernel !== undefined ? readInput("kernel", args.kernel) : undefined;
  const linux = image !== undefined && hasBzImageMagic(image);
  if (args.initrd !== undefined && !linux) {
    throw new UsageError(
      `--initrd needs a Linux bzImage kernel; ${args.kernel} is not one (no "HdrS" header)`,
    );
  }
  const initrd = args.initrd !== undefined ? readInput("initrd", args.initrd) : undefined;
  const bios = args.bios !== undefined ? readInput("firmware", args.bios) : undefined;
  if (bios !== undefined) {
    try {
      checkBiosImage(bios);
    } catch (e) {
      if (e instanceof BootImageError) throw new UsageError(`${args.bios}: ${e.message}`);
      throw e;
    }
  }
  const disks = openDrives(args);
  let debugcon: ReturnType<typeof openDebugcon> | undefined;
  try {
    debugcon = args.debugcon !== undefined ? openDebugcon(args.debugcon) : undefined;
    return await runMachine(args, image && { bytes: image, linux, initrd }, bios, debugcon?.write, disks);
  } finally {
    debugcon?.close();
    for (const d of disks) d.close();
  }
}

/**
 * Open each --drive image (read-only images with readonly=on; with snapshot=on, read-only under a
 * copy-on-write overlay in memory), or fail with a usage error.
 */
function openDrives(args: RunArgs): DiskBackend[] {
  const disks: DiskBackend[] = [];
  try {
    for (const d of args.drives) {
      try {
        const file = new FileDisk(d.file, { readOnly: d.readOnly || d.snapshot });
        disks.push(d.snapshot ? new OverlayDisk(file) : file);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new UsageError(`cannot open drive ${d.file}: ${code ?? (e as Error).message}`);
      }
    }
  } catch (e) {
    for (const d of disks) d.close();
    throw e;
  }
  return disks;
}

async function runMachine(
  args: RunArgs,
  kernel: { bytes: Uint8Array; linux: boolean; initrd: Uint8Array | undefined } | undefined,
  bios: Uint8Array | undefined,
  debugcon: ((bytes: Uint8Array) => void) | undefined,
  disks: DiskBackend[] = [],
): Promise<number> {
  let machine: Machine;
  try {
    machine = await Machine.create({
      memory: args.memory,
      // Interactive use follows the wall clock; scripts and tests get identical runs.
      clock: args.clock ?? (process.stdin.isTTY && args.script.length === 0 ? "realtime" : "deterministic"),
      rngSeed: args.rngSeed,
      onPostCode: args.postCodes
        ? (c) => process.stderr.write(`POST 0x${c.toString(16).padStart(2, "0")}\n`)
        : undefined,
      bios,
      debugcon: debugcon && { port: args.debugconPort, output: debugcon },
      hostTimeSampling: args.hostTimeSampling,
      traceSize: args.trace === undefined ? 0 : args.traceSize,
      drives: disks.map((backend, i) => ({
        backend,
        interface: args.drives[i]!.interface,
        transport: args.drives[i]!.transport,
        readOnly: args.drives[i]!.readOnly,
        onDiagnostic: (d) =>
          process.stderr.write(`trapdoor: ${d.device}: virtio ${d.section} [${d.check}]: ${d.message}\n`),
        faults: args.drives[i]!.faults,
        onFault: (f) => process.stderr.write(`trapdoor: ${f.device}: fault ${f.rule}: ${f.message}\n`),
      })),
      onIdeDiagnostic: (d) => process.stderr.write(`trapdoor: ${d.where}: ${d.message}\n`),
    });
  } catch (e) {
    // Machine.create refuses impossible configurations (e.g. RAM sizes) with a RangeError.
    if (e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
  machine.onSerialOutput((bytes) => process.stdout.write(bytes));
  if (kernel !== undefined) {
    try {
      // A bzImage has "HdrS" at 0x202; anything else goes to the Multiboot loader, whose
      // messages say what is wrong with a file that is neither.
      if (kernel.linux) machine.loadLinux(kernel.bytes, { cmdline: args.append, initrd: kernel.initrd });
      else machine.loadMultiboot(kernel.bytes, { cmdline: args.append });
    } catch (e) {
      if (e instanceof BootImageError) throw new UsageError(`${args.kernel}: ${e.message}`);
      throw e;
    }
  }
  const onSigint = () => machine.stop();
  process.on("SIGINT", onSigint);
  const session = attachConsole(machine, args.script);
  const series =
    args.statsSeries !== undefined ? openSeries(machine, args.statsSeries, args.statsIntervalMs) : undefined;
  const started = performance.now();
  let outcome: RunOutcome;
  try {
    outcome = await machine.run({ timeoutMs: args.timeoutMs });
  } finally {
    session.detach();
    process.off("SIGINT", onSigint);
    series?.close();
  }
  const hostMs = performance.now() - started;
  if (outcome.kind === "stopped" && session.userQuit) return EXIT_OK;
  if (outcome.kind === "timeout" && session.waitingFor !== undefined) {
    process.stderr.write(
      `trapdoor: timeout waiting for ${JSON.stringify(session.waitingFor)} on the console\n`,
    );
  }
  if (args.stats !== undefined) {
    const stats = machine.stats();
    const report = {
      outcome,
      hostMilliseconds: Math.round(hostMs * 1000) / 1000,
      ...stats,
      // Measured on this host (varies between runs), then modeled (docs/cost-model.md).
      hostTime: machine.hostStats(),
      modeledKvmCost: modelExitCosts(stats.exits),
    };
    writeFileSync(args.stats, JSON.stringify(report, null, 2) + "\n");
  }
  if (args.trace !== undefined) {
    const { events, recorded, dropped } = machine.trace();
    writeFileSync(args.trace, traceToJsonLines(events));
    if (dropped > 0)
      process.stderr.write(`trapdoor: trace: kept the last ${events.length} of ${recorded} exits\n`);
  }
  const { code, message } = exitStatus(outcome, args.successCode);
  if (message !== undefined) process.stderr.write(`trapdoor: ${message}\n`);
  return code;
}

/**
 * --stats-series: append one JSON line of counter deltas every `intervalMs` of host time while
 * the guest runs (the run loop yields between slices, so the timer fires between them), and a
 * last one at the end.
 */
function openSeries(machine: Machine, path: string, intervalMs: number): { close: () => void } {
  let fd: number;
  try {
    fd = openSync(path, "w");
  } catch (e) {
    throw new UsageError(
      `cannot open stats series ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const series = new StatsSeries(() => machine.stats());
  const write = () => void writeSync(fd, JSON.stringify(series.next()) + "\n");
  const timer = setInterval(write, intervalMs);
  return {
    close: () => {
      clearInterval(timer);
      write();
      closeSync(fd);
    },
  };
}

/** Entry point: returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === "-h" || command === "--help" || command === "help") {
      process.stdout.write(USAGE + "\n");
      return command === undefined ? EXIT_USAGE : EXIT_OK;
    }
    if (command === "bench" && rest[0] === "io") return await benchIo(rest.slice(1));
    if (command !== "run") throw new UsageError(`unknown command "${command}" (try: trapdoor run --help)`);
    const args = parseRunArgs(rest);
    if (args === "help") {
      process.stdout.write(USAGE + "\n");
      return EXIT_OK;
    }
    return await run(args);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`trapdoor: ${e.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`trapdoor: internal error: ${(e as Error).stack ?? e}\n`);
    return EXIT_INTERNAL;
  }
}
