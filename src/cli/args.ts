/**
 * Command-line parsing for `trapdoor run`: flags, their validation and the usage text.
 */
import { parseArgs } from "node:util";
import { LINUX_RNG_SEED_MAX } from "../boot/linux.js";
import { parseMemorySize } from "../memory-size.js";
import { decodeEscapes, type ExpectStep } from "./expect-script.js";
import { parseFaultRule, type BlkFaultRule } from "../virtio/blk/faults.js";
import {
  EXIT_USAGE,
  EXIT_TIMEOUT,
  EXIT_TRIPLE_FAULT,
  EXIT_HALTED,
  EXIT_INTERNAL,
  EXIT_RESET,
  EXIT_INTERRUPTED,
} from "./exit-codes.js";

export const USAGE = `usage: trapdoor run --kernel FILE [options]
       trapdoor run --bios FILE [options]
       trapdoor bench io [options]    (compare disk configurations: bench io --help)

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
  --drive SPEC          a disk: file=IMG,if=virtio|ide[,readonly=on|off]
                        [,snapshot=on][,transport=modern|transitional][,fault=RULE]...
                        (transport and fault: virtio only; snapshot=on: writes go
                        to memory, never to IMG); repeatable. virtio: the first is
                        Linux's /dev/vda; ide: PIIX3 IDE, the first is the primary
                        master, /dev/sda (up to 4)                           (QEMU: -drive)
                        fault rules (repeatable, deterministic): read-error:A-B,
                        write-error:A-B (sectors A..B fail with IOERR), delay:N[us|ms]
                        (completions N µs of guest time late), drop-irq:N (no
                        interrupt for request N)
  --timeout SECONDS     stop the guest after this much host time
  --stats FILE.json     write the trap counters to FILE.json at the end: exits by
                        cause (exact), host time per exit class (measured) and what
                        the exits would cost on KVM (modeled) (docs/exits.md)
  --stats-series FILE.jsonl
                        write a time series of the counters, one JSON line of
                        deltas every --stats-interval MS (default 1000) of host time
  --trace FILE.jsonl    write the last --trace-size N exits (default 4096, at most
                        65536) as JSON lines at the end, like QEMU's trace events
  --host-time-sampling N
                        time one exit in N on the host (default 64; 1 all, 0 none)
  --success-code N      exit 0 when the guest's debug-exit code is N
  --post-codes          print each POST code (port 0x80) to stderr
  --clock MODE          deterministic (guest time follows retired instructions;
                        identical runs) or realtime (guest time follows the host).
                        Default: realtime on an interactive terminal, else deterministic
  --rng-seed HEX|random the seed a Linux guest gets from its bootloader (setup_data
                        SETUP_RNG_SEED): hex bytes (64 digits = the 256 bits that make
                        Linux's CRNG ready; at most ${LINUX_RNG_SEED_MAX} bytes) or random. Default:
                        a fixed seed with --clock deterministic, random with realtime
  --expect TEXT         wait for TEXT on the console, then send the next --send TEXT;
  --send TEXT           repeatable pairs, like expect(1). Escapes: \\n \\r \\t \\e \\xHH.
                        A --send before any --expect is typed at once.

console: on a terminal, keystrokes go to the guest's COM1; Ctrl-A X quits,
Ctrl-A H helps. Piped stdin is typed into COM1 too.
  -h, --help            show this help

exit status: the guest's debug-exit code ((v << 1) | 1, always odd); 0 on success
(see --success-code); ${EXIT_USAGE} bad usage or image; ${EXIT_TIMEOUT} timeout; ${EXIT_TRIPLE_FAULT} triple fault;
0 also on power-off (HLT with interrupts disabled); ${EXIT_HALTED} guest halted
waiting for an interrupt that cannot come; ${EXIT_INTERNAL} emulator limitation/error; ${EXIT_RESET} guest requested a reset;
${EXIT_INTERRUPTED} interrupted.`;

/** A problem with the command line or its input files: reported as-is, exit 2. */
export class UsageError extends Error {}

/** Where the debug console goes: stdout, stderr, or a file. */
export type DebugconTarget = { kind: "stdout" } | { kind: "stderr" } | { kind: "file"; path: string };

/** One --drive: a disk image on a virtio-blk device or the IDE controller. */
export interface DriveArgs {
  file: string;
  /** if=: "virtio" or "ide". */
  interface: "virtio" | "ide";
  readOnly: boolean;
  transport: "modern" | "transitional";
  /** fault=RULE keys, in order. */
  faults: BlkFaultRule[];
  /** QEMU's snapshot=on: a copy-on-write overlay in memory; the image is opened read-only. */
  snapshot: boolean;
}

export interface RunArgs {
  kernel: string | undefined;
  initrd: string | undefined;
  bios: string | undefined;
  append: string;
  debugcon: DebugconTarget | undefined;
  debugconPort: number | undefined;
  memory: number;
  timeoutMs: number | undefined;
  stats: string | undefined;
  statsSeries: string | undefined;
  statsIntervalMs: number;
  trace: string | undefined;
  traceSize: number;
  hostTimeSampling: number | undefined;
  successCode: number | undefined;
  postCodes: boolean;
  clock: "deterministic" | "realtime" | undefined;
  /** --rng-seed: seed bytes, "random", or undefined for the machine's default. */
  rngSeed: Uint8Array | "random" | undefined;
  script: ExpectStep[];
  drives: DriveArgs[];
}

export function parseRunArgs(argv: string[]): RunArgs | "help" {
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
        "stats-series": { type: "string" },
        "stats-interval": { type: "string" },
        trace: { type: "string" },
        "trace-size": { type: "string" },
        "host-time-sampling": { type: "string" },
        "success-code": { type: "string" },
        "post-codes": { type: "boolean" },
        clock: { type: "string" },
        "rng-seed": { type: "string" },
        drive: { type: "string", multiple: true },
        expect: { type: "string", multiple: true },
        send: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      tokens: true,
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
  if (v["stats-interval"] !== undefined && v["stats-series"] === undefined)
    throw new UsageError("--stats-interval needs --stats-series FILE.jsonl");
  const statsIntervalMs = numberFlag("--stats-interval", v["stats-interval"], 1000, 1, Infinity, false);
  if (v["trace-size"] !== undefined && v.trace === undefined)
    throw new UsageError("--trace-size needs --trace FILE.jsonl");
  const traceSize = numberFlag("--trace-size", v["trace-size"], 4096, 1, 65536, true);
  const hostTimeSampling =
    v["host-time-sampling"] === undefined
      ? undefined
      : numberFlag("--host-time-sampling", v["host-time-sampling"], 0, 0, 2 ** 31, true);
  const clock = v.clock;
  if (clock !== undefined && clock !== "deterministic" && clock !== "realtime")
    throw new UsageError(`--clock wants deterministic or realtime, got "${clock}"`);
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
    statsSeries: v["stats-series"],
    statsIntervalMs,
    trace: v.trace,
    traceSize,
    hostTimeSampling,
    successCode,
    postCodes: v["post-codes"] ?? false,
    clock,
    rngSeed: v["rng-seed"] === undefined ? undefined : parseRngSeed(v["rng-seed"], v.kernel !== undefined),
    script: expectSteps(parsed.tokens ?? []),
    drives: (v.drive ?? []).map(parseDrive),
  };
}

/** --rng-seed: "random" or 1 to LINUX_RNG_SEED_MAX bytes in hex (an optional 0x prefix). */
function parseRngSeed(text: string, haveKernel: boolean): Uint8Array | "random" {
  if (!haveKernel) throw new UsageError("--rng-seed needs --kernel (a Linux bzImage)");
  if (text === "random") return "random";
  const hex = text.replace(/^0x/i, "");
  if (!/^([0-9a-f]{2})+$/i.test(hex) || hex.length / 2 > LINUX_RNG_SEED_MAX) {
    throw new UsageError(
      `--rng-seed wants random or an even number of hex digits (1 to ${LINUX_RNG_SEED_MAX} bytes), got "${text}"`,
    );
  }
  return Uint8Array.from(hex.match(/../g)!, (b) => parseInt(b, 16));
}

/** A numeric flag's value (`fallback` when absent) within [min, max], an integer if `integer`. */
function numberFlag(
  flag: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
  integer: boolean,
): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    const range = max === Infinity ? `at least ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`${flag} wants ${integer ? "an integer" : "a number"} ${range}, got "${text}"`);
  }
  return n;
}

/** --expect/--send in command-line order: each --send belongs to the --expect before it. */
function expectSteps(tokens: readonly { kind: string; name?: string; value?: string }[]): ExpectStep[] {
  const steps: ExpectStep[] = [];
  for (const t of tokens) {
    if (t.kind !== "option" || t.value === undefined) continue;
    let text: string;
    try {
      text = decodeEscapes(t.value);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (t.name === "expect") steps.push({ expect: text });
    else if (t.name === "send") {
      const last = steps.at(-1);
      if (last === undefined || last.send !== undefined) steps.push({ expect: "", send: text });
      else last.send = text;
    }
  }
  return steps;
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

/**
 * QEMU's -drive syntax, the subset we support: `file=IMG,if=virtio|ide[,readonly=on|off]
 * [,transport=modern|transitional][,snapshot=on|off]` (transport with if=virtio only; a comma
 * inside a value is written twice, as in QEMU), plus our `fault=RULE` (virtio only, repeatable;
 * rules in src/virtio/blk/faults.ts).
 */
export function parseDrive(spec: string): DriveArgs {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < spec.length; i++) {
    if (spec[i] === ",") {
      if (spec[i + 1] === ",") {
        cur += ",";
        i++;
        continue;
      }
      parts.push(cur);
      cur = "";
    } else cur += spec[i];
  }
  parts.push(cur);
  let file: string | undefined;
  let readOnly = false;
  let snapshot = false;
  let transport: "modern" | "transitional" = "modern";
  let iface: "virtio" | "ide" = "virtio";
  const faults: BlkFaultRule[] = [];
  const seen = new Set<string>();
  for (const part of parts) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new UsageError(`--drive: "${part}" is not KEY=VALUE (in "${spec}")`);
    const key = part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (seen.has(key) && key !== "fault") throw new UsageError(`--drive: ${key}= given twice (in "${spec}")`);
    seen.add(key);
    switch (key) {
      case "file":
        if (value === "") throw new UsageError(`--drive: file= is empty`);
        file = value;
        break;
      case "if":
        if (value !== "virtio" && value !== "ide")
          throw new UsageError(`--drive: if=${value} is not supported (if=virtio or if=ide)`);
        iface = value;
        break;
      case "readonly":
        if (value !== "on" && value !== "off")
          throw new UsageError(`--drive: readonly wants on or off, got "${value}"`);
        readOnly = value === "on";
        break;
      case "snapshot":
        if (value !== "on" && value !== "off")
          throw new UsageError(`--drive: snapshot wants on or off, got "${value}"`);
        snapshot = value === "on";
        break;
      case "transport":
        if (value !== "modern" && value !== "transitional")
          throw new UsageError(`--drive: transport wants modern or transitional, got "${value}"`);
        transport = value;
        break;
      case "fault":
        try {
          faults.push(parseFaultRule(value));
        } catch (e) {
          throw new UsageError(`--drive: ${(e as Error).message}`);
        }
        if (faults.filter((f) => f.kind === "delay").length > 1)
          throw new UsageError(`--drive: at most one delay fault per drive (in "${spec}")`);
        break;
      default:
        throw new UsageError(
          `--drive: unknown key "${key}" (known: file, if, readonly, snapshot, transport, fault)`,
        );
    }
  }
  if (file === undefined) throw new UsageError(`--drive: file=IMG is required (in "${spec}")`);
  if (!seen.has("if")) throw new UsageError(`--drive: if=virtio or if=ide is required (in "${spec}")`);
  if (iface === "ide" && seen.has("transport"))
    throw new UsageError(`--drive: transport= applies to if=virtio only (in "${spec}")`);
  if (iface === "ide" && faults.length > 0)
    throw new UsageError(`--drive: fault= applies to if=virtio only (in "${spec}")`);
  return { file, interface: iface, readOnly, transport, faults, snapshot };
}
