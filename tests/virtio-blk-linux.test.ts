// Linux 6.1's virtio_blk and virtio_pci drivers as the client of our virtio-blk: mount an ext2
// image made by e2fsprogs (mke2fs -d), check file checksums against the host's, write a file,
// sync, unmount, power off, and read the file back with debugfs (e2fsprogs, not our code).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Machine, type RunOutcome } from "../src/machine.js";
import { ExpectScript, type ExpectStep } from "../src/cli/expect-script.js";
import { FileDisk } from "../src/disk/file-disk.js";
import type { VirtioDiagnostic } from "../src/virtio/pci.js";
import { LINUX_BUILD_TIMEOUT_MS, SKIP_LINUX, linuxImageDir } from "./helpers/linux-images.js";

const PROMPT = "/root # ";
const APPEND = "console=ttyS0 pci=conf1";

function which(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd} || test -x /usr/sbin/${cmd} || test -x /sbin/${cmd}`]);
    return true;
  } catch {
    return false;
  }
}
const E2FS = which("mke2fs") && which("debugfs");
const tool = (name: string): string => {
  for (const d of ["/usr/sbin", "/sbin"]) {
    try {
      execFileSync("test", ["-x", `${d}/${name}`]);
      return `${d}/${name}`;
    } catch {
      /* next */
    }
  }
  return name;
};

let images: { kernel: Uint8Array; initrd: Uint8Array };
let work: string;
const files: Record<string, Buffer> = {};

function makeImage(name: string): string {
  const img = join(work, name);
  execFileSync(tool("mke2fs"), ["-q", "-F", "-t", "ext2", "-d", join(work, "files"), img, "8M"]);
  return img;
}

interface Session {
  outcome: RunOutcome;
  output: string;
  diagnostics: VirtioDiagnostic[];
  stats: { kicks: number; requests: number; interrupts: number };
  legacy: boolean;
}

async function session(
  img: string,
  transport: "modern" | "transitional",
  commands: string[],
  append = APPEND,
): Promise<Session> {
  const backend = new FileDisk(img);
  const diagnostics: VirtioDiagnostic[] = [];
  const m = await Machine.create({
    memory: "64M",
    drives: [{ backend, transport, onDiagnostic: (d) => diagnostics.push(d) }],
  });
  let output = "";
  m.onSerialOutput((b) => (output += Buffer.from(b).toString("latin1")));
  const steps: ExpectStep[] = [...commands, "poweroff -f"].map((c) => ({ expect: PROMPT, send: c + "\n" }));
  const script = new ExpectScript(steps, (t) => m.sendSerialInput(t));
  m.onSerialOutput((b) => script.feed(b));
  m.loadLinux(images.kernel, { cmdline: append, initrd: images.initrd });
  script.start();
  try {
    const outcome = await m.run({ timeoutMs: 240_000 });
    const c = m.drives[0]!.counters;
    if (process.env.TRAPDOOR_DUMP) writeFileSync(img + ".log", output);
    return {
      outcome,
      output,
      diagnostics,
      legacy: m.drives[0]!.counters.legacyAccesses > 0,
      stats: { kicks: c.kicks, requests: c.requests, interrupts: c.interrupts },
    };
  } finally {
    backend.close();
  }
}

function answer(output: string, command: string): string {
  const at = output.indexOf(command + "\r\n");
  expect(at, `no echo of ${JSON.stringify(command)}`).toBeGreaterThanOrEqual(0);
  const start = at + command.length + 2;
  return output.slice(start, output.indexOf(PROMPT, start));
}

const MD5 = "md5sum /mnt/hello.txt /mnt/random.bin /mnt/sub/zeros.bin";
const commands = [
  "mkdir -p /mnt",
  "mount -t ext2 /dev/vda /mnt",
  MD5,
  "echo written-by-linux > /mnt/newfile",
  "sync",
  "umount /mnt",
];

function check(s: Session, img: string): void {
  const out = s.output;
  expect(s.diagnostics).toEqual([]);
  expect(out).toMatch(/virtio_blk virtio0: \[vda\] 16384 512-byte logical blocks/);
  const sums = answer(out, MD5)
    .trim()
    .split("\r\n")
    .map((l) => l.split(/\s+/));
  expect(sums).toEqual([
    [md5(files["hello.txt"]!), "/mnt/hello.txt"],
    [md5(files["random.bin"]!), "/mnt/random.bin"],
    [md5(files["zeros.bin"]!), "/mnt/sub/zeros.bin"],
  ]);
  expect(s.outcome).toEqual({ kind: "halted", interruptsEnabled: false });
  const cat = execFileSync(tool("debugfs"), ["-R", "cat /newfile", img], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  expect(cat.toString()).toBe("written-by-linux\n");
  // Batching: never more interrupts than kicks... per request at most one.
  expect(s.stats.interrupts).toBeLessThanOrEqual(s.stats.requests);
}

function md5(b: Buffer): string {
  return createHash("md5").update(b).digest("hex");
}

describe.skipIf(SKIP_LINUX || !E2FS)("Linux mounts an ext2 image on virtio-blk", () => {
  beforeAll(async () => {
    const dir = await linuxImageDir();
    images = {
      kernel: new Uint8Array(readFileSync(join(dir, "bzImage"))),
      initrd: new Uint8Array(readFileSync(join(dir, "initramfs.cpio.gz"))),
    };
    work = mkdtempSync(join(tmpdir(), "trapdoor-vblk-"));
    mkdirSync(join(work, "files", "sub"), { recursive: true });
    files["hello.txt"] = Buffer.from("hello from the host\n");
    // Deterministic pseudo-random bytes (xorshift), 300 KiB: many requests, indirect chains.
    const rnd = Buffer.alloc(300 * 1024);
    let x = 0x12345678;
    for (let i = 0; i < rnd.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      rnd[i] = x & 0xff;
    }
    files["random.bin"] = rnd;
    files["zeros.bin"] = Buffer.alloc(4096 * 3 + 100);
    writeFileSync(join(work, "files", "hello.txt"), files["hello.txt"]);
    writeFileSync(join(work, "files", "random.bin"), files["random.bin"]);
    writeFileSync(join(work, "files", "sub", "zeros.bin"), files["zeros.bin"]);
  }, LINUX_BUILD_TIMEOUT_MS);

  afterAll(() => {
    if (work && !process.env.TRAPDOOR_DUMP) rmSync(work, { recursive: true, force: true });
  });

  it(
    "modern transport: reads match the host, a written file reaches the image",
    { timeout: 300_000 },
    async () => {
      const img = makeImage("modern.img");
      const s = await session(img, "modern", commands);
      check(s, img);
    },
  );

  it("transitional device, modern driver path", { timeout: 300_000 }, async () => {
    const img = makeImage("transitional.img");
    const s = await session(img, "transitional", commands);
    check(s, img);
    expect(s.legacy).toBe(false);
  });

  it("transitional device, legacy driver (virtio_pci.force_legacy=1)", { timeout: 300_000 }, async () => {
    const img = makeImage("legacy.img");
    const s = await session(img, "transitional", commands, APPEND + " virtio_pci.force_legacy=1");
    check(s, img);
    expect(s.legacy).toBe(true);
  });
});
