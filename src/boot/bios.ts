import { BootImageError } from "./boot-error.js";

/** Smallest and largest firmware image `--bios` accepts, and the granule of its size. */
export const BIOS_MIN_SIZE = 4 * 1024;
export const BIOS_MAX_SIZE = 16 * 1024 * 1024;

/**
 * Check a firmware ROM image (QEMU: `-bios`): a multiple of 4 KiB, from 4 KiB to 16 MiB. The
 * machine maps it read-only at [4 GiB - size, 4 GiB), so its last 16 bytes hold the reset vector
 * (physical 0xFFFFFFF0, SDM vol. 3 §9.1.4), and its last min(size, 128 KiB) bytes below 1 MiB.
 * 16 MiB keeps it clear of the local APIC and I/O APIC at 0xFEC00000-0xFEEFFFFF. (QEMU itself
 * wants a multiple of 64 KiB for -bios; a 4 KiB granule also admits tiny test ROMs.)
 * Throws BootImageError naming the problem.
 */
export function checkBiosImage(image: Uint8Array): void {
  const n = image.length;
  if (n < BIOS_MIN_SIZE || n > BIOS_MAX_SIZE || n % BIOS_MIN_SIZE !== 0) {
    throw new BootImageError(
      `firmware image is ${n} bytes: it must be a multiple of 4 KiB, from 4 KiB to 16 MiB`,
    );
  }
}
