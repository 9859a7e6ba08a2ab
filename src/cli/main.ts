/**
 * The `trapdoor` command line: a thin layer over the library's Machine.
 *
 *   trapdoor run --kernel FILE [--initrd FILE] [--append CMDLINE] [--memory 64M] [--timeout SECONDS]
 *                [--stats FILE.json] [--success-code N] [--post-codes]
 *                [--debugcon stdio|stderr|[file:]PATH [--debugcon-port N]]
 *   trapdoor run --bios FILE [same options but --append and --initrd]
 */
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { parseArgs } from "node:util";
import { Machine, type RunOutcome } from "../machine.js";
import { BootImageError } from "../boot/boot-error.js";
import { checkBiosImage } from "../boot/bios.js";
import { hasBzImageMagic } from "../boot/linux.js";
import { parseMemorySize } from "../memory-size.js";
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

const USAGE = `usage: trapdoor run --kernel FILE [options]
       trapdoor run --bios FILE [options]

Boot a Multiboot kernel, a Linux bzImage, or firmware from its reset vector, and
stream the serial console (COM1) to stdout.

options:
  --kernel FILE         Multiboot v1 kernel (ELF32 or a.out kludge), or a Linux
                        bzImage (boot protocol 2.06+, 32-bit entry, no BIOS) (QEMU: -kernel)
  --initrd FILE         initial ramdisk for a Linux bzImage                  (QEMU: -initrd)
  --append CMDLINE      kernel command line                                  (QEMU: -append)
  --bios FILE           firmware ROM image, a multiple of 4 KiB up to 16 MiB,
                        mapped below 4 GiB and its last 128 KiB below 1 MiB; the
                        CPU starts at its reset vector (instead of --kernel) (QEMU: -bios)
  --debugcon OUT        debug console port output: stdio, stderr, a file PATH
                        or file:PATH                                         (QEMU: -debugcon)
  --debugcon-port N     the debug console's I/O port (default 0xe9)
  -m, --memory SIZE     guest RAM, e.g. 64M, 512M, 1G (default 64M)          (QEMU: -m)
  --timeout SECONDS     stop the guest after this much host time
  --stats FILE.json     write the trap counters to FILE.json at the end
  --success-code N      exit 0 when the guest's debug-exit code is N
  --post-codes          print each POST code (port 0x80) to stderr
  -h, --help            show this help

exit status: the guest's debug-exit code ((v << 1) | 1, always odd); 0 on success
(see --success-code); ${EXIT_USAGE} bad usage or image; ${EXIT_TIMEOUT} timeout; ${EXIT_TRIPLE_FAULT} triple fault;
0 also on power-off (HLT with interrupts disabled); ${EXIT_HALTED} guest halted
waiting for an interrupt that cannot come; ${EXIT_INTERNAL} emulator limitation/error; ${EXIT_RESET} guest requested a reset;
${EXIT_INTERRUPTED} interrupted.`;

class UsageError extends Error {}

/** Where the debug console goes: stdout, stderr, or a file. */
type DebugconTarget = { kind: "stdout" } | { kind: "stderr" } | { kind: "file"; path: string };

interface RunArgs {
  kernel: string | undefined;
  initrd: string | undefined;
  bios: string | undefined;
  append: string;
  debugcon: DebugconTarget | undefined;
  debugconPort: number | undefined;
  memory: number;
  timeoutMs: number | undefined;
  stats: string | undefined;
  successCode: number | undefined;
  postCodes: boolean;
}

function parseRunArgs(argv: string[]): RunArgs | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        kernel: { type: "string" },
        append: { type: "string" },
        initrd: { type: "string" },
        bios: { type: "string" },
        debugcon: { type: "string" },
        "debugcon-port": { type: "string" },
        memory: { type: "string", short: "m" },
        timeout: { type: "string" },
        stats: { type: "string" },
        "success-code": { type: "string" },
        "post-codes": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return "help";
  if (v.kernel !== undefined && v.bios !== undefined) throw new UsageError("use either --bios or --kernel");
  if (v.kernel === undefined && v.bios === undefined)
    throw new UsageError("--kernel FILE is required (or boot firmware with --bios FILE)");
  if (v.append !== undefined && v.kernel === undefined) throw new UsageError("--append needs --kernel");
  if (v.initrd !== undefined && v.kernel === undefined) throw new UsageError("--initrd needs --kernel");
  const debugcon = v.debugcon === undefined ? undefined : parseDebugconTarget(v.debugcon);
  let debugconPort: number | undefined;
  if (v["debugcon-port"] !== undefined) {
    if (debugcon === undefined) throw new UsageError("--debugcon-port needs --debugcon");
    debugconPort = parsePort(v["debugcon-port"]);
    if (debugconPort === undefined) {
      throw new UsageError(
        `--debugcon-port wants an I/O port from 0 to 0xffff (e.g. 0xe9 or 0x402), got "${v["debugcon-port"]}"`,
      );
    }
  }
  let memory: number;
  try {
    memory = parseMemorySize(v.memory ?? "64M");
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  let timeoutMs: number | undefined;
  if (v.timeout !== undefined) {
    const s = Number(v.timeout);
    if (!Number.isFinite(s) || s <= 0)
      throw new UsageError(`--timeout wants a positive number of seconds, got "${v.timeout}"`);
    timeoutMs = s * 1000;
  }
  let successCode: number | undefined;
  if (v["success-code"] !== undefined) {
    successCode = Number(v["success-code"]);
    if (!Number.isInteger(successCode) || successCode < 0) {
      throw new UsageError(`--success-code wants a non-negative integer, got "${v["success-code"]}"`);
    }
  }
  return {
    kernel: v.kernel,
    initrd: v.initrd,
    bios: v.bios,
    append: v.append ?? "",
    debugcon,
    debugconPort,
    memory,
    timeoutMs,
    stats: v.stats,
    successCode,
    postCodes: v["post-codes"] ?? false,
  };
}

/** QEMU's -debugcon chardev spellings we take: `stdio`, `stderr`, `file:PATH`, or a bare PATH. */
function parseDebugconTarget(text: string): DebugconTarget {
  if (text === "stdio") return { kind: "stdout" };
  if (text === "stderr") return { kind: "stderr" };
  const path = text.startsWith("file:") ? text.slice(5) : text;
  if (path === "") throw new UsageError(`--debugcon wants stdio, stderr, PATH or file:PATH, got "${text}"`);
  return { kind: "file", path };
}

/** A port number in decimal or 0x-hex, 0 to 0xFFFF; undefined when it is not one. */
function parsePort(text: string): number | undefined {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text)) return undefined;
  const n = Number(text);
  return n <= 0xffff ? n : undefined;
}

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
  const debugcon = args.debugcon !== undefined ? openDebugcon(args.debugcon) : undefined;
  try {
    return await runMachine(args, image && { bytes: image, linux, initrd }, bios, debugcon?.write);
  } finally {
    debugcon?.close();
  }
}

async function runMachine(
  args: RunArgs,
  kernel: { bytes: Uint8Array; linux: boolean; initrd: Uint8Array | undefined } | undefined,
  bios: Uint8Array | undefined,
  debugcon: ((bytes: Uint8Array) => void) | undefined,
): Promise<number> {
  let machine: Machine;
  try {
    machine = await Machine.create({
      memory: args.memory,
      onPostCode: args.postCodes
        ? (c) => process.stderr.write(`POST 0x${c.toString(16).padStart(2, "0")}\n`)
        : undefined,
      bios,
      debugcon: debugcon && { port: args.debugconPort, output: debugcon },
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
  const started = performance.now();
  const outcome = await machine.run({ timeoutMs: args.timeoutMs });
  const hostMs = performance.now() - started;
  process.off("SIGINT", onSigint);
  if (args.stats !== undefined) {
    const report = { outcome, hostMilliseconds: Math.round(hostMs * 1000) / 1000, ...machine.stats() };
    writeFileSync(args.stats, JSON.stringify(report, null, 2) + "\n");
  }
  const { code, message } = exitStatus(outcome, args.successCode);
  if (message !== undefined) process.stderr.write(`trapdoor: ${message}\n`);
  return code;
}

/** Entry point: returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === "-h" || command === "--help" || command === "help") {
      process.stdout.write(USAGE + "\n");
      return command === undefined ? EXIT_USAGE : EXIT_OK;
    }
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
