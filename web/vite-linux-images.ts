/**
 * A Vite plugin that puts the Linux guest's images on the page's origin:
 *
 *   guest/linux/bzImage        the kernel (build.sh's bzImage)
 *   guest/linux/initramfs.img  the initramfs (build.sh's initramfs.cpio.gz, under a name without
 *                              ".gz": static servers such as vite preview's send a .gz file with
 *                              Content-Encoding: gzip, and the browser would hand over the
 *                              inflated cpio instead of the file)
 *
 * The images are not in the repository: guest-images/linux/build.sh builds them (about ten
 * minutes, once) into a cache directory and `build.sh --print-path` prints that directory.
 *
 * - `vite` (dev): build.sh runs once when the server starts, in the background (its "[linux] …"
 *   progress goes to the terminal); a middleware serves the two files from the cache directory,
 *   waiting for build.sh if a request comes early, with the COOP/COEP headers.
 * - `vite build`: build.sh runs at the start of the build, and the two files are emitted into the
 *   output under the same names (web-dist/guest/linux/…), so `vite preview` or any static server
 *   serves them at the same relative URLs.
 *
 * TRAPDOOR_LINUX_IMAGES=DIR uses the images in DIR instead of running build.sh.
 * TRAPDOOR_SKIP_LINUX=1: the dev server only runs build.sh when the page asks for an image, and a
 * build emits no Linux images (the page can then only boot ?guest=hello).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Plugin } from "vite";

/** The files: the name the page fetches (under guest/linux/) → the name in build.sh's cache. */
export const LINUX_IMAGE_FILES: Readonly<Record<string, string>> = {
  bzImage: "bzImage",
  "initramfs.img": "initramfs.cpio.gz",
};
/** Where the page finds them, relative to index.html. */
export const LINUX_IMAGE_DIR = "guest/linux";

export interface LinuxImagesOptions {
  /** The repository root (where guest-images/linux/build.sh is). */
  repoRoot: string;
  /** Response headers for the images in dev (the COOP/COEP pair). */
  headers: Record<string, string>;
}

/** Run `build.sh --print-path`; resolve with the cache directory. Progress goes to stderr. */
function resolveImageDir(repoRoot: string, log: (line: string) => void): Promise<string> {
  const override = process.env.TRAPDOOR_LINUX_IMAGES;
  if (override) return checkDir(override);
  const script = join(repoRoot, "guest-images/linux/build.sh");
  return new Promise<string>((resolve, reject) => {
    const started = Date.now();
    // If build.sh is still going after a moment it is building (not just checking the cache).
    const slow = setTimeout(
      () =>
        log(
          "[trapdoor] building the Linux guest images with guest-images/linux/build.sh " +
            "(the first build takes about 10 minutes; the page waits for it)…",
        ),
      3000,
    );
    const child = spawn("bash", [script, "--print-path"], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
      // Pass build.sh's progress lines through while it builds.
      if (Date.now() - started > 3000) process.stderr.write(s);
    });
    child.on("error", (err) => {
      clearTimeout(slow);
      reject(new Error(`could not run ${script}: ${err.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(slow);
      const dir = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0 || dir === "") {
        const tail = stderr.trim().split("\n").slice(-15).join("\n");
        reject(new Error(`guest-images/linux/build.sh --print-path failed (exit ${code}):\n${tail}`));
        return;
      }
      checkDir(dir).then(resolve, reject);
    });
  });
}

async function checkDir(dir: string): Promise<string> {
  for (const f of Object.values(LINUX_IMAGE_FILES)) {
    if (!existsSync(join(dir, f))) throw new Error(`the Linux guest image ${join(dir, f)} is missing`);
  }
  return dir;
}

function stderrLine(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function linuxImages(options: LinuxImagesOptions): Plugin {
  const skip = !!process.env.TRAPDOOR_SKIP_LINUX;
  let dirPromise: Promise<string> | undefined;
  let isBuild = false;

  function imageDir(log: (line: string) => void): Promise<string> {
    dirPromise ??= resolveImageDir(options.repoRoot, log);
    return dirPromise;
  }

  return {
    name: "trapdoor-linux-images",

    configResolved(config) {
      isBuild = config.command === "build";
    },

    configureServer(server) {
      const log = (line: string) => server.config.logger.info(line);
      if (!skip) {
        imageDir(log).then(
          (dir) => server.config.logger.info(`[trapdoor] Linux guest images: ${dir}`),
          (err: Error) => server.config.logger.error(`[trapdoor] ${err.message}`),
        );
      }
      const prefix = `/${LINUX_IMAGE_DIR}/`;
      server.middlewares.use((req, res, next) => {
        const path = (req.url ?? "").split("?")[0]!;
        if (!path.startsWith(prefix)) return next();
        const name = LINUX_IMAGE_FILES[path.slice(prefix.length)];
        if (name === undefined) return next();
        for (const [k, v] of Object.entries(options.headers)) res.setHeader(k, v);
        imageDir(log)
          .then(async (dir) => {
            const file = join(dir, name);
            const [info, body] = await Promise.all([stat(file), readFile(file)]);
            res.statusCode = 200;
            res.setHeader("Content-Type", "application/octet-stream");
            res.setHeader("Content-Length", String(info.size));
            res.setHeader("Cache-Control", "no-cache");
            res.end(req.method === "HEAD" ? undefined : body);
          })
          .catch((err: unknown) => {
            res.statusCode = 503;
            res.setHeader("Content-Type", "text/plain; charset=utf-8");
            res.end(`the Linux guest images are not available: ${err instanceof Error ? err.message : err}`);
          });
      });
    },

    buildStart() {
      // Start build.sh early; generateBundle waits for it.
      if (isBuild && !skip) imageDir(stderrLine).catch(() => {});
    },

    async generateBundle() {
      if (!isBuild) return;
      if (skip) {
        this.warn(
          "TRAPDOOR_SKIP_LINUX is set: the build has no Linux guest images (only ?guest=hello works)",
        );
        return;
      }
      const dir = await imageDir(stderrLine);
      for (const [url, name] of Object.entries(LINUX_IMAGE_FILES)) {
        this.emitFile({
          type: "asset",
          fileName: `${LINUX_IMAGE_DIR}/${url}`,
          source: await readFile(join(dir, name)),
        });
      }
    },
  };
}
