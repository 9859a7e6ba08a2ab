/**
 * Parse a memory size the way QEMU's `-m` does: a number with an optional suffix K, M, G
 * (powers of 1024); a bare number means MiB.
 */
export function parseMemorySize(text: string): number {
  const m = /^(\d+)([KMG]i?B?)?$/i.exec(text.trim());
  if (!m) throw new RangeError(`bad memory size "${text}": use e.g. 64M, 512M or 1G`);
  const n = Number(m[1]);
  const unit = (m[2] ?? "M")[0]!.toUpperCase();
  const scale = unit === "K" ? 1024 : unit === "G" ? 1024 ** 3 : 1024 ** 2;
  return n * scale;
}
