/** Where e2fsprogs' mke2fs is (Debian: /usr/sbin, older systems: /sbin), or undefined. */
import { existsSync } from "node:fs";

export const MKE2FS: string | undefined = ["/usr/sbin/mke2fs", "/sbin/mke2fs"].find((p) => existsSync(p));
