import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { asm, miniKernel } from "./helpers/mini-kernel.js";
import { cliScratchDir, REPO_ROOT as ROOT, trapdoorCli } from "./helpers/cli.js";

const HELLO = join(ROOT, "guest-images/hello/hello.elf");
let dir: string;

const trapdoor = (...args: string[]) => trapdoorCli(args);

function kernelFile(name: string, code: number[]): string {
  const p = join(dir, name);
  writeFileSync(p, miniKernel(code));
  return p;
}

beforeAll(() => {
  dir = cliScratchDir("cli");
});

describe("trapdoor run", () => {
  it("streams the serial console and exits with the guest's debug-exit code", () => {
    const r = trapdoor("run", "--kernel", HELLO, "--append", "from the cli");
    expect(r.stdout.startsWith("Hello from trapdoor's hello guest!\n")).toBe(true);
    expect(r.stdout).toContain("cmdline: from the cli\n");
    expect(r.status).toBe(1); // (0 << 1) | 1
    expect(r.stderr).toBe("");
  });

  it("maps the success code to 0 with --success-code", () => {
    expect(trapdoor("run", "--kernel", HELLO, "--success-code", "1").status).toBe(0);
    expect(trapdoor("run", "--kernel", HELLO, "--success-code", "3").status).toBe(1);
  });

  it("writes trap counters that match the guest's own I/O with --stats", () => {
    const stats = join(dir, "s.json");
    const r = trapdoor("run", "--kernel", HELLO, "--stats", stats, "-m", "32M");
    const s = JSON.parse(readFileSync(stats, "utf8"));
    expect(s.outcome).toEqual({ kind: "debug-exit", exitCode: 1 });
    const port = (p: number) => s.pio.ports.find((x: { address: number }) => x.address === p);
    expect(port(0x3f8).writes).toBe(Buffer.byteLength(r.stdout, "latin1") + 1);
    expect(port(0x3fd).reads).toBe(Buffer.byteLength(r.stdout, "latin1"));
    expect(s.instructions).toBeGreaterThan(1000);
    expect(s.hostMilliseconds).toBeGreaterThan(0);
  });

  it("writes exits by cause, host time and the modeled KVM cost with --stats, a series and a trace", () => {
    const stats = join(dir, "e.json");
    const series = join(dir, "e.jsonl");
    const trace = join(dir, "t.jsonl");
    const r = trapdoor(
      "run",
      "--kernel",
      HELLO,
      "--stats",
      stats,
      "--stats-series",
      series,
      "--stats-interval",
      "50",
      "--trace",
      trace,
      "--trace-size",
      "3",
    );
    const printed = Buffer.byteLength(r.stdout, "latin1");
    const s = JSON.parse(readFileSync(stats, "utf8"));
    expect(s.exits.byCause["pio-out"]).toBe(s.pio.writes);
    expect(s.exits.byCause["pio-in"]).toBe(printed); // one LSR poll per byte
    expect(s.hostTime.sampleEvery).toBe(64);
    expect(s.modeledKvmCost.map((c: { profile: string }) => c.profile)).toEqual([
      "kvm-in-kernel",
      "kvm-userspace",
    ]);
    const points = readFileSync(series, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(points.reduce((n, p) => n + p.exits, 0)).toBe(s.exits.total);
    const events = readFileSync(trace, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.event)).toEqual(["pio-out", "pio-out", "host-stop"]);
    expect(events[1]).toMatchObject({ port: 0xf4, device: "debug-exit", width: 1, value: 0 });
    expect(r.stderr).toMatch(/kept the last 3 of \d+ exits/);
    const bad = trapdoor("run", "--kernel", HELLO, "--stats-interval", "10");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--stats-interval needs --stats-series/);
    expect(trapdoor("run", "--kernel", HELLO, "--trace", trace, "--trace-size", "70000").stderr).toMatch(
      /--trace-size wants an integer from 1 to 65536/,
    );
  });

  it("times out a guest that never stops (exit 4)", () => {
    const r = trapdoor("run", "--kernel", kernelFile("spin.bin", [...asm.jmpSelf]), "--timeout", "0.5");
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/timeout/);
  });

  it("reports a triple fault (exit 6), and treats HLT with interrupts off as power-off (exit 0)", () => {
    const tf = trapdoor("run", "--kernel", kernelFile("ud2.bin", [...asm.ud2]));
    expect(tf.status).toBe(6);
    expect(tf.stderr).toMatch(/triple fault/);
    const h = trapdoor("run", "--kernel", kernelFile("hlt.bin", [...asm.cliHlt]));
    expect(h.status).toBe(0);
    expect(h.stderr).toBe("");
  });

  it("reports a HLT that nothing can interrupt (exit 8)", () => {
    // STI; HLT with every PIC input masked... the PIC starts masked, and no timer is programmed.
    const h = trapdoor("run", "--kernel", kernelFile("sti-hlt.bin", [0xfb, 0xf4]));
    expect(h.status).toBe(8);
    expect(h.stderr).toMatch(/halted waiting for an interrupt/);
  });

  it("prints POST codes with --post-codes", () => {
    const k = kernelFile("post.bin", [
      ...asm.movAl(0x42),
      ...asm.outImmAl(0x80),
      ...asm.movAl(0),
      ...asm.outImmAl(0xf4),
    ]);
    const r = trapdoor("run", "--kernel", k, "--post-codes");
    expect(r.stderr).toBe("POST 0x42\n");
    expect(r.status).toBe(1);
  });

  it("refuses bad input with a clear message and exit 2", () => {
    const notMb = join(dir, "not-multiboot.bin");
    writeFileSync(notMb, new Uint8Array(16384));
    const cases: [string[], RegExp][] = [
      [["run"], /--kernel FILE is required/],
      [["run", "--kernel", join(dir, "missing")], /cannot read kernel .*ENOENT/],
      [["run", "--kernel", notMb], /not a Multiboot v1 kernel/],
      [["run", "--kernel", HELLO, "--bogus"], /Unknown option '--bogus'/],
      [["run", "--kernel", HELLO, "--memory", "lots"], /bad memory size "lots"/],
      [["run", "--kernel", HELLO, "--memory", "1M"], /at least 2 MiB/],
      [["run", "--kernel", HELLO, "--timeout", "soon"], /--timeout wants a positive number/],
      [["run", "--kernel", HELLO, "--timeout=-1"], /--timeout wants a positive number/],
      [
        ["run", "--kernel", HELLO, "--drive", "file=x.img,if=virtio,fault=read-error:9-3"],
        /--drive: fault read-error:9-3: first sector 9 is after last sector 3/,
      ],
      [["frobnicate"], /unknown command "frobnicate"/],
    ];
    for (const [args, message] of cases) {
      const r = trapdoor(...args);
      expect(r.stderr, args.join(" ")).toMatch(message);
      expect(r.status, args.join(" ")).toBe(2);
    }
  });

  it("prints usage with --help", () => {
    const r = trapdoor("run", "--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/usage: trapdoor run --kernel FILE/);
  });
});
