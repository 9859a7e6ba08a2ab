/**
 * The built CLI as a child process: `node bin/trapdoor.js ARGS...` from the repository root, and a
 * scratch directory for its files. bin/trapdoor.js runs dist/, so `npm run build` must come first.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(REPO_ROOT, "bin/trapdoor.js");

/** Run the CLI (one minute at most); stdout and stderr decoded with `encoding`. */
export function trapdoorCli(args: string[], encoding: BufferEncoding = "utf8") {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, encoding, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Throw unless dist/ is built; then a new scratch directory named after `name`. */
export function cliScratchDir(name: string): string {
  if (!existsSync(join(REPO_ROOT, "dist/cli/main.js")))
    throw new Error("dist/ is missing: run `npm run build` first");
  return mkdtempSync(join(tmpdir(), `trapdoor-${name}-`));
}
