import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const HELLO = fileURLToPath(new URL("../guest-images/hello/", import.meta.url));

describe("guest-images/hello", () => {
  it("the committed images are exactly what build.sh makes from the sources", { timeout: 240_000 }, () => {
    const out = mkdtempSync(join(tmpdir(), "trapdoor-hello-"));
    const r = spawnSync("bash", [join(HELLO, "build.sh")], {
      env: { ...process.env, OUT_DIR: out },
      encoding: "utf8",
    });
    expect(r.stderr + r.stdout).toMatch(/checksum ok/);
    expect(r.status).toBe(0);
    for (const f of ["hello.elf", "hello.bin"]) {
      expect(
        readFileSync(join(out, f)).equals(readFileSync(join(HELLO, f))),
        `${f} differs from a fresh build`,
      ).toBe(true);
    }
  });
});
