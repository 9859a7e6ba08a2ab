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

/** The disk image every configuration gets a copy of: xorshift32 bytes (not all zeros). */
export function benchImage(sizeMiB: number): Uint8Array {
  const img = new Uint8Array(imageBytes(sizeMiB));
  const words = new Uint32Array(img.buffer);
  let x = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return img;
}

/** Small random reads for a bench of `sizeMiB`: 8 per MiB, at least 16, at most 256. */
export function randomReadCount(sizeMiB: number): number {
  return Math.max(16, Math.min(256, sizeMiB * 8));
}

/**
 * A shell function `r SEED COUNT` reading COUNT 4 KiB blocks with O_DIRECT at offsets from the
 * ANSI C rand() LCG (x = x * 1103515245 + 12345 mod 2^31, bits 8 and up; busybox ash computes in 64
 * bits), so
 * the offsets are the same in every run and every configuration. Computed in the guest because
 * busybox's line editor keeps at most 1024 characters of a command line.
 */
function readFunction(device: string, blocks: number): string {
  return (
    `r() { k=$1; i=0; while [ $i -lt $2 ]; do k=$(( (k * 1103515245 + 12345) % 2147483648 )); ` +
    `dd if=${device} of=/dev/null bs=4k count=1 skip=$(( (k >> 8) % ${blocks} )) iflag=direct 2>/dev/null || echo FAIL; ` +
    `i=$(( i + 1 )); done; }`
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
    case "randread":
    case "parread": {
      const count = randomReadCount(sizeMiB);
      const fn = readFunction(device, (sizeMiB * MIB) / SMALL);
      // parread: the same number of reads from PARALLEL_READERS background processes, then `wait`.
      const per = count / PARALLEL_READERS;
      const calls =
        name === "randread"
          ? `r 1 ${count}`
          : Array.from({ length: PARALLEL_READERS }, (_, i) => `r ${i + 1} ${per} &`).join(" ") + " wait";
      return { name, command: `${fn}; ${calls}`, bytes: count * SMALL, operations: count };
    }
  }
}
