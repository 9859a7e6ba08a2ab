/**
 * The Linux guest images from guest-images/linux/build.sh. `build.sh --print-path` prints the
 * cache directory; a cache hit takes about a second, a first build several minutes (its progress
 * lines go to our stderr). TRAPDOOR_SKIP_LINUX=1 lets a developer skip the Linux suites; in CI
 * a missing image is an error, never a skip.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const LINUX_BUILD_SH = fileURLToPath(new URL("../../guest-images/linux/build.sh", import.meta.url));
/** Long enough for a first build on a 2-core machine. */
export const LINUX_BUILD_TIMEOUT_MS = 30 * 60_000;
export const SKIP_LINUX = Boolean(process.env.TRAPDOOR_SKIP_LINUX);

/** The cache directory holding bzImage, initramfs.cpio.gz, vmlinux... (build.sh locks, so
 * concurrent callers wait for one build). */
export function linuxImageDir(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [LINUX_BUILD_SH, "--print-path"], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`build.sh --print-path exited with ${code}`)),
    );
  });
}
