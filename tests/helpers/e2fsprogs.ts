/** Where e2fsprogs' tools are (Debian keeps them in /sbin or /usr/sbin). */
import { existsSync } from "node:fs";

/** The path of an e2fsprogs tool, or undefined when it is not installed. */
export function e2fsTool(name: string): string | undefined {
  for (const d of ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]) {
    if (existsSync(`${d}/${name}`)) return `${d}/${name}`;
  }
  return undefined;
}

export const MKE2FS: string | undefined = e2fsTool("mke2fs");

/** mke2fs and debugfs are both installed. */
export const HAVE_E2FS = MKE2FS !== undefined && e2fsTool("debugfs") !== undefined;
