/**
 * Loading the SingleStepTests 80286 real-mode vectors from ../shared/cpu-tests/80286-real/
 * (see ../shared/README.md): one gzipped JSON-lines file per opcode form, metadata.json with the
 * undefined-flags masks, and a revocation list of bad tests.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { gunzipSync } from "node:zlib";

export const VECTOR_DIR = new URL("../../../shared/cpu-tests/80286-real/", import.meta.url);

export interface Regs {
  ax: number;
  bx: number;
  cx: number;
  dx: number;
  cs: number;
  ss: number;
  ds: number;
  es: number;
  sp: number;
  bp: number;
  si: number;
  di: number;
  ip: number;
  flags: number;
}

export interface Vector {
  name: string;
  bytes: number[];
  initial: { regs: Regs; ram: [number, number][] };
  final: { regs: Partial<Regs>; ram: [number, number][] };
  exception?: { number: number; flag_address: number };
  hash: string;
}

interface OpcodeMeta {
  status?: string;
  "flags-mask"?: number;
  reg?: Record<string, OpcodeMeta>;
}

export interface Metadata {
  opcodes: Record<string, OpcodeMeta>;
}

export function vectorsAvailable(): boolean {
  return existsSync(new URL("metadata.json", VECTOR_DIR));
}

export function loadMetadata(): Metadata {
  return JSON.parse(readFileSync(new URL("metadata.json", VECTOR_DIR), "utf8")) as Metadata;
}

/** Hashes of revoked tests (lines that are not comments). */
export function loadRevoked(): Set<string> {
  const text = readFileSync(new URL("revocation_list.txt", VECTOR_DIR), "utf8");
  return new Set(
    text
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#")),
  );
}

/** Opcode forms with a vector file ("00", "80.4", ...), in file order. */
export function listOpcodes(): string[] {
  return readdirSync(VECTOR_DIR)
    .filter((f) => f.endsWith(".jsonl.gz"))
    .map((f) => f.slice(0, -".jsonl.gz".length))
    .sort();
}

export function loadVectors(opcode: string): Vector[] {
  const text = gunzipSync(readFileSync(new URL(`${opcode}.jsonl.gz`, VECTOR_DIR))).toString("utf8");
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Vector);
}

/** The 286 prefix bytes (segment overrides, LOCK, REP). */
export const PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0xf0, 0xf2, 0xf3]);

/**
 * The FLAGS bits a test compares: metadata's flags-mask for the opcode, or for group opcodes
 * that of the ModRM reg field (taken from the file name, or from the instruction bytes).
 */
export function flagsMask(meta: Metadata, opcode: string, v: Vector): number {
  const [op, regName] = opcode.split(".");
  const m = meta.opcodes[op!];
  if (m === undefined) return 0xffff;
  if (m.reg === undefined) return m["flags-mask"] ?? 0xffff;
  let reg = regName;
  if (reg === undefined) {
    let i = 0;
    while (PREFIXES.has(v.bytes[i]!)) i++;
    reg = String((v.bytes[i + 1]! >> 3) & 7);
  }
  return m.reg[reg]?.["flags-mask"] ?? 0xffff;
}
