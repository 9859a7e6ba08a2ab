/**
 * The guest workloads of `trapdoor bench io`, as busybox shell commands on the raw block device.
 * The image is split in two halves: reads use the first, writes the second. Reads use O_DIRECT
 * (busybox dd iflag=direct), so every byte comes from the device, not the page cache; the write
 * goes through the page cache and ends with fsync (conv=fsync), as a file copy would. parread runs
 * the random reads from several processes at once, so requests can overlap (load).
 */

export type WorkloadName = "seqread" | "seqwrite" | "randread" | "parread";
export const WORKLOAD_NAMES: readonly WorkloadName[] = ["seqread", "seqwrite", "randread", "parread"];
/** Concurrent readers of the parread workload (queue depth up to this many requests). */
export const PARALLEL_READERS = 4;

export interface Workload {
  name: WorkloadName;
  /** One shell command line. */
  command: string;
  /** Bytes moved to or from the disk. */
  bytes: number;
  /** Operations the program issued (dd blocks), for IOPS. */
  operations: number;
}

const MIB = 1024 * 1024;
const SMALL = 4096;

/** Disk image size for a bench of `sizeMiB`: a read half and a write half. */
export function imageBytes(sizeMiB: number): number {
  return 2 * sizeMiB * MIB;
}

/** Small random reads for a bench of `sizeMiB`: 8 per MiB, at least 16, at most 256. */
export function randomReadCount(sizeMiB: number): number {
  return Math.max(16, Math.min(256, sizeMiB * 8));
}

/**
 * `count` 4 KiB block numbers in [0, blocks), from a fixed xorshift32 sequence (Marsaglia 2003,
 * shifts 13/17/5): the same offsets in every run and every configuration.
 */
export function randomBlocks(count: number, blocks: number): number[] {
  let x = 0x2545f491;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.push((x >>> 0) % blocks);
  }
  return out;
}

/** A shell loop reading one 4 KiB block at each of `blocks` with O_DIRECT. */
function readLoop(device: string, blocks: readonly number[]): string {
  return (
    `for k in ${blocks.join(" ")}; do ` +
    `dd if=${device} of=/dev/null bs=4k count=1 skip=$k iflag=direct 2>/dev/null || echo FAIL; done`
  );
}

export function makeWorkload(name: WorkloadName, device: string, sizeMiB: number): Workload {
  switch (name) {
    case "seqread":
      return {
        name,
        command: `dd if=${device} of=/dev/null bs=1M count=${sizeMiB} iflag=direct`,
        bytes: sizeMiB * MIB,
        operations: sizeMiB,
      };
    case "seqwrite":
      return {
        name,
        command: `dd if=/dev/zero of=${device} bs=1M count=${sizeMiB} seek=${sizeMiB} conv=fsync`,
        bytes: sizeMiB * MIB,
        operations: sizeMiB,
      };
    case "randread": {
      const blocks = randomBlocks(randomReadCount(sizeMiB), (sizeMiB * MIB) / SMALL);
      return {
        name,
        command: readLoop(device, blocks),
        bytes: blocks.length * SMALL,
        operations: blocks.length,
      };
    }
    case "parread": {
      // The same reads as randread, dealt to PARALLEL_READERS background loops, then `wait`.
      const blocks = randomBlocks(randomReadCount(sizeMiB), (sizeMiB * MIB) / SMALL);
      const loops = Array.from({ length: PARALLEL_READERS }, (_, i) =>
        readLoop(
          device,
          blocks.filter((_, k) => k % PARALLEL_READERS === i),
        ),
      );
      return {
        name,
        command: loops.map((l) => `(${l}) &`).join(" ") + " wait",
        bytes: blocks.length * SMALL,
        operations: blocks.length,
      };
    }
  }
}
