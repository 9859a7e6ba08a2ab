/** A boot image the loader refuses, with a message naming the problem (shown to users as-is). */
export class BootImageError extends Error {
  override name = "BootImageError";
}

/** Format an unsigned 32-bit value for a {@link BootImageError} message: `0x` and 8 lowercase hex digits. */
export function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}
