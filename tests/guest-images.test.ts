import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const HELLO = fileURLToPath(new URL("../guest-images/hello/", import.meta.url));
const GUESTS = fileURLToPath(new URL("../guest-images/", import.meta.url));

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

// The virtio guests (badvirtio also compiles the driver sources of virtioblk).
describe.each([["virtioblk"], ["badvirtio"]])("guest-images/%s", (guest) => {
  it("the committed image is exactly what build.sh makes from the sources", { timeout: 240_000 }, () => {
    const out = mkdtempSync(join(tmpdir(), `trapdoor-${guest}-`));
    const r = spawnSync("bash", [join(GUESTS, guest, "build.sh")], {
      env: { ...process.env, OUT_DIR: out },
      encoding: "utf8",
    });
    expect(r.stderr + r.stdout).toMatch(/checksum ok/);
    expect(r.status).toBe(0);
    const elf = `${guest}.elf`;
    expect(
      readFileSync(join(out, elf)).equals(readFileSync(join(GUESTS, guest, elf))),
      `${elf} differs from a fresh build`,
    ).toBe(true);
  });
});
