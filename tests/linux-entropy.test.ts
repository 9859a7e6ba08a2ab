// The Linux guest's random number generator and sleeping, in deterministic mode. The loader hands
// Linux a seed as setup_data SETUP_RNG_SEED; Linux 6.1 (arch/x86/kernel/setup.c parse_setup_data)
// mixes it in, credits it (CONFIG_RANDOM_TRUST_BOOTLOADER) and zeroes it; 32 bytes credit the 256
// bits (drivers/char/random.c POOL_READY_BITS) that make the CRNG ready before user space starts.
// busybox's sleep needs the 32-bit time_t syscalls (CONFIG_COMPAT_32BIT_TIME): see config.fragment.
import { beforeAll, describe, expect, it } from "vitest";
import { LINUX_SETUP_DATA_ADDR } from "../src/boot/linux.js";
import { Machine } from "../src/machine.js";
import { LINUX_BUILD_TIMEOUT_MS, SKIP_LINUX } from "./helpers/linux-images.js";
import {
  LINUX_APPEND as APPEND,
  readLinuxImages,
  runLinuxCommands,
  shellAnswer as answer,
  type LinuxImages,
} from "./helpers/linux-session.js";

const ENTROPY = "cat /proc/sys/kernel/random/entropy_avail";
const CRNG = "dmesg | grep 'random: crng'";
const URANDOM = "head -c 16 /dev/urandom | od -An -tx1";
const SLEEP_1 = "cat /proc/uptime; sleep 1; cat /proc/uptime";
const SLEEP_FRACTION = "cat /proc/uptime; sleep 0.25; cat /proc/uptime";
const COMMANDS = [ENTROPY, CRNG, URANDOM, SLEEP_1, SLEEP_FRACTION];

let images: LinuxImages;

interface Run {
  output: string;
  /** The setup_data node after the run: Linux zeroes len and the seed once it has read them. */
  node: Uint8Array;
}

async function boot(rngSeed: Uint8Array): Promise<Run> {
  const m = await Machine.create({ memory: "64M", rngSeed });
  const { outcome, output } = await runLinuxCommands(m, images, APPEND, COMMANDS);
  expect(outcome).toEqual({ kind: "halted", interruptsEnabled: false });
  return {
    output,
    node: m.core.ram.slice(LINUX_SETUP_DATA_ADDR, LINUX_SETUP_DATA_ADDR + 16 + rngSeed.length),
  };
}

/** Seconds of uptime between the two `cat /proc/uptime` lines (kernel messages may interleave). */
function uptimeDelta(output: string, command: string): number {
  const [before, after] = answer(output, command)
    .split("\r\n")
    .filter((l) => /^\d+\.\d+ \d+\.\d+$/.test(l))
    .map((l) => Number(l.split(" ")[0]));
  return Math.round((after! - before!) * 100) / 100; // /proc/uptime has 10 ms steps
}

const seedA = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
const seedB = Uint8Array.from(seedA, (b, i) => (i === 31 ? b ^ 1 : b));

describe.skipIf(SKIP_LINUX)("Linux's RNG and timers on trapdoor", () => {
  beforeAll(async () => {
    images = await readLinuxImages();
  }, LINUX_BUILD_TIMEOUT_MS);

  let first: Run;

  it(
    "credits the loader's seed: the CRNG is ready at boot and /dev/urandom answers",
    { timeout: 300_000 },
    async () => {
      first = await boot(seedA);
      expect(answer(first.output, ENTROPY)).toBe("256\r\n");
      // crng_reseed() runs from setup_arch(), before the first timer tick.
      expect(answer(first.output, CRNG)).toMatch(/^\[\s*0\.000000\] random: crng init done\r\n$/);
      expect(answer(first.output, URANDOM)).toMatch(/^( [0-9a-f]{2}){16}\r\n$/);
      // The kernel read the node and wiped it: type and next stay, len and the seed are zero.
      const view = new DataView(first.node.buffer);
      expect(view.getBigUint64(0, true)).toBe(0n);
      expect(view.getUint32(8, true)).toBe(9);
      expect(first.node.subarray(12).every((b) => b === 0)).toBe(true);
    },
  );

  it("sleeps for the time asked (busybox sleep, 32-bit time_t clock_nanosleep)", () => {
    // HZ=100 without high-resolution timers: a sleep ends on the tick after it expires.
    const one = uptimeDelta(first.output, SLEEP_1);
    expect(one).toBeGreaterThanOrEqual(1);
    expect(one).toBeLessThan(1.1);
    const quarter = uptimeDelta(first.output, SLEEP_FRACTION);
    expect(quarter).toBeGreaterThanOrEqual(0.25);
    expect(quarter).toBeLessThan(0.35);
  });

  it("gives the same bytes for the same seed and other bytes for another", { timeout: 600_000 }, async () => {
    const again = await boot(seedA);
    expect(again.output).toBe(first.output);
    const other = await boot(seedB);
    expect(answer(other.output, ENTROPY)).toBe("256\r\n");
    expect(answer(other.output, URANDOM)).not.toBe(answer(first.output, URANDOM));
  });
});
