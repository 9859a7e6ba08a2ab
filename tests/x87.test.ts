import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Machine } from "../src/index.js";
import { runMultibootGuest } from "./helpers/multiboot-guest.js";

// guest-images/x87test runs x87 operations over interesting operands and prints one line per
// check; expected-qemu.txt is the same kernel's output under QEMU 7.2 (TCG, softfloat 80-bit).
// With "hw" on the command line it adds lines QEMU does not model; those are compared with
// the values the SDM gives (see docs/x87.md). tests/guest-images.test.ts rebuilds the image.
const DIR = new URL("../guest-images/x87test/", import.meta.url);

async function boot(cmdline: string) {
  const m = await Machine.create({ memory: "16M" });
  const { outcome, lines } = await runMultibootGuest(m, readFileSync(new URL("x87test.elf", DIR)), cmdline, {
    timeoutMs: 120_000,
  });
  return { outcome, lines: lines.filter((l) => l !== "") };
}

/** The differing lines, "line N: got ... / want ...", at most `max` of them. */
function differences(got: string[], want: string[], max = 40): string[] {
  const out: string[] = [];
  for (let i = 0; i < Math.max(got.length, want.length) && out.length < max; i++) {
    if (got[i] !== want[i]) out.push(`line ${i + 1}:\n  got  ${got[i]}\n  want ${want[i]}`);
  }
  return out;
}

// SDM expectations for the hw lines (TOP is 6 after two loads, 7 after one).
const HW = [
  // CR0.NE = 0 (SDM vol. 3 §2.5, vol. 1 §8.7): FWAIT does not fault; FERR# would request IRQ13.
  // The unmasked 0/0 does not complete: no pop (TOP 6), IE, ES and B set.
  "hw ne=0 fwait: vector=255 sw=b081",
  // Vol. 1 §8.5.1.1: FLD1 onto a full stack is a stack overflow: IE, SF, C1 = 1; masked, TOP is
  // decremented and ST(0) becomes the QNaN indefinite (tag special), overwriting the old ST(7).
  "hw stack overflow: sw=3a41 tw=8000 st0=ffff:c000000000000000 st1=3fff:8000000000000000 st2=4000:8000000000000000 st3=4000:c000000000000000 st4=4002:a000000000000000 st5=4000:c90fdaa22168c235 st6=3ffe:8000000000000000 st7=4001:e000000000000000",
  // FADD with ST(1) empty: stack underflow, IE, SF, C1 = 0; ST(0) = indefinite.
  "hw stack underflow: sw=3841 tw=bfff st0=ffff:c000000000000000",
  // Vol. 1 §8.1.3.3: 1 + 1/3 rounded up sets PE and C1.
  "hw c1 round up: sw=3220 tw=0fff st0=3fff:aaaaaaaaaaaaaaab st1=3ffd:aaaaaaaaaaaaaaab",
  // Vol. 2 "FPREM1": 2 rem 3 = -1 with quotient 1, so C1 (q0) = 1, C0 = C3 = 0.
  "hw fprem1 quotient: sw=3200 tw=0fff st0=bfff:8000000000000000 st1=4000:c000000000000000",
  // Vol. 2 "FSIN": an infinite operand is an invalid operation (indefinite), C2 = 0.
  "hw fsin inf: sw=3801 tw=bfff st0=ffff:c000000000000000",
  // Vol. 1 §8.5.2: a denormal operand sets DE (here with PE: 1 + denormal is inexact).
  "hw denormal operand: sw=3022",
  // Vol. 2 "FLDCW": unmasking a pending IE sets ES and B; "FSTENV" then masks all exceptions.
  "hw fldcw unmask: sw=b881 cw after fnstenv=037f",
  // Vol. 1 §8.6: #MF is taken before the next waiting FP instruction (FLD1), not only at FWAIT.
  "hw mf at next fp: vector=16",
];

describe("the x87 test guest", () => {
  it("prints the same lines as under QEMU", async () => {
    const { outcome, lines } = await boot("");
    const want = readFileSync(new URL("expected-qemu.txt", DIR), "latin1")
      .split("\n")
      .filter((l) => l !== "");
    const diff = differences(lines, want);
    expect(diff, `${diff.length} differing lines (first 40):\n${diff.join("\n")}`).toEqual([]);
    expect(outcome).toEqual({ kind: "debug-exit", exitCode: 1 });
  }, 180_000);

  it("follows the SDM where QEMU does not model the hardware", async () => {
    const { lines } = await boot("hw");
    const hw = lines.filter((l) => l.startsWith("hw ") && !l.startsWith("hw fstenv"));
    expect(hw).toEqual(HW);
    const fstenv = lines.find((l) => l.startsWith("hw fstenv"))!.split(" ");
    // 32-bit protected-mode FSTENV: FCW/FSW/FTW/FDS upper halves FFFFH, FOP (D8 05: FADD m32)
    // in bits 16-26 of the FCS dword; FLDCW 0 reads back with bit 6 set (SDM vol. 1 §8.1.5).
    expect(fstenv.slice(2, 5).every((w) => w.startsWith("ffff"))).toBe(true);
    expect(fstenv[6]).toMatch(/^0005....$/);
    expect(fstenv[8]).toMatch(/^ffff....$/);
    expect(fstenv.at(-1)).toBe("0040");
  }, 180_000);
});
