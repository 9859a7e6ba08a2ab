import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const GUESTS = fileURLToPath(new URL("../guest-images/", import.meta.url));

// Every committed guest image is exactly what its build.sh makes from the sources (builds are
// reproducible: guest-images/common/README.md), and build.sh's own checks of the image passed:
// the Multiboot header (common/build-lib.sh check_header), or rom-hello's reset vector.
// virtioblk and badvirtio also compile virtioblk's driver sources (virtioblk/build-driver.sh).
describe.each([
  ["hello", ["hello.elf", "hello.bin"], /checksum ok/],
  [
    "cputest",
    [
      "paging.elf",
      "privilege.elf",
      "exceptions.elf",
      "tasks.elf",
      "v86.elf",
      "segments.elf",
      "features.elf",
      "vme.elf",
    ],
    /checksum ok/,
  ],
  ["irqtest", ["irqtest.elf"], /checksum ok/],
  ["x87test", ["x87test.elf"], /checksum ok/],
  ["bench", ["bench.elf"], /checksum ok/],
  ["virtioblk", ["virtioblk.elf"], /checksum ok/],
  ["badvirtio", ["badvirtio.elf"], /checksum ok/],
  ["rom-hello", ["rom-hello.bin"], /reset vector ok/],
])("guest-images/%s", (guest, images, buildCheck) => {
  it("the committed images are exactly what build.sh makes from the sources", { timeout: 240_000 }, () => {
    const out = mkdtempSync(join(tmpdir(), `trapdoor-${guest}-`));
    const r = spawnSync("bash", [join(GUESTS, guest, "build.sh")], {
      env: { ...process.env, OUT_DIR: out },
      encoding: "utf8",
    });
    expect(r.stderr + r.stdout).toMatch(buildCheck);
    expect(r.status, r.stderr).toBe(0);
    for (const f of images) {
      expect(
        readFileSync(join(out, f)).equals(readFileSync(join(GUESTS, guest, f))),
        `${f} differs from a fresh build`,
      ).toBe(true);
    }
  });
});
