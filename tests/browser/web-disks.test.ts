/**
 * The web front end's disks in headless Chromium (web/disk-panel.ts, web/vm-worker.ts): Linux 6.1's
 * virtio_blk driver reads and writes them as /dev/vda.
 *  - a local image file picked with the file input: a BlobDisk (FileReaderSync in the worker)
 *    under a copy-on-write OverlayDisk. The image is an ext2 file system made by e2fsprogs
 *    (mke2fs -d); Linux mounts it, and what it reads must match the host's files byte for byte.
 *  - persistent OPFS disks, in an on-disk browser profile: one created empty from the page (Linux
 *    writes a line to the raw device), one imported from the ext2 image (Linux writes a file);
 *    after a page reload the disk in the URL is reattached and the file is there, and the raw
 *    disk, reattached from the list, still has its line; deleting a disk from the panel.
 *
 * Needs /usr/bin/chromium and e2fsprogs' mke2fs; like web.test.ts, skipped without Chromium
 * unless CI is set, and TRAPDOOR_SKIP_LINUX=1 skips it.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import type { ViteDevServer } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LINUX_BUILD_TIMEOUT_MS, linuxImageDir, SKIP_LINUX } from "../helpers/linux-images.js";
import { MKE2FS } from "../helpers/e2fsprogs.js";
import {
  coreWasm,
  launchChromiumProfile,
  LINUX_BOOT_TIMEOUT_MS,
  openPage,
  screenshot,
  shell,
  skipBrowser,
  skipReason,
  startDevServer,
  waitForTerminal,
} from "./page-helpers.js";

const PROMPT = /\/root #$/;
const HELLO = `hello from the host, ${randomBytes(6).toString("hex")}\n`;

const skip = skipBrowser || SKIP_LINUX;
const title = skipBrowser
  ? `web app disks (skipped: ${skipReason})`
  : SKIP_LINUX
    ? "web app disks (skipped: TRAPDOOR_SKIP_LINUX)"
    : "web app disks in headless Chromium";

/** Wait until the worker reports the disk `name` of `kind` open, then for the shell prompt. */
async function waitForDiskAndPrompt(
  page: Page,
  problems: string[],
  kind: string,
  name: string,
): Promise<void> {
  await page.waitForFunction(
    ([k, n]) => {
      const s = document.querySelector<HTMLElement>("#disk-status");
      return s?.dataset.kind === k && s.dataset.name === n;
    },
    [kind, name],
    { timeout: 30_000 },
  );
  await waitForTerminal(page, problems, PROMPT, LINUX_BOOT_TIMEOUT_MS, "the Linux shell prompt");
  const text = await page.evaluate(() => window.__trapdoorText!());
  expect(text).toMatch(/virtio_blk virtio0: \[vda\] \d+ 512-byte logical blocks/);
}

describe.skipIf(skip)(title, () => {
  /** One on-disk profile for both tests (see launchChromiumProfile). */
  let browser: BrowserContext | undefined;
  let devServer: ViteDevServer | undefined;
  let devUrl = "";
  let work = "";
  /** The ext2 image made by mke2fs -d, and the md5 of its random file. */
  let image = "";
  let randomMd5 = "";
  /** md5sum's line for the random file: the guest read every byte as the host wrote it. */
  const randomMd5Line = () => new RegExp(`^${randomMd5}  /mnt/random\\.bin$`, "m");

  beforeAll(async () => {
    expect(MKE2FS, "mke2fs (e2fsprogs) is needed to make the test image").toBeDefined();
    expect(readFileSync(coreWasm).length).toBeGreaterThan(0);
    await linuxImageDir();
    work = mkdtempSync(join(tmpdir(), "trapdoor-web-disks-"));
    const files = join(work, "files");
    mkdirSync(files);
    writeFileSync(join(files, "hello.txt"), HELLO);
    // Larger than a 64 KiB overlay chunk and than many virtio-blk requests.
    const random = randomBytes(700 * 1024 + 123);
    writeFileSync(join(files, "random.bin"), random);
    randomMd5 = createHash("md5").update(random).digest("hex");
    image = join(work, "ext2.img");
    execFileSync(MKE2FS!, ["-q", "-F", "-t", "ext2", "-d", files, image, "8M"]);
    browser = await launchChromiumProfile(join(work, "profile"));
    ({ server: devServer, url: devUrl } = await startDevServer());
  }, LINUX_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await devServer?.close();
    await browser?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it(
    "attaches a local image file copy-on-write: Linux mounts it, reads it, writes to the overlay",
    {
      timeout: 300_000,
    },
    async () => {
      const before = readFileSync(image);
      const { page, problems } = await openPage(browser!, devUrl);
      const sh = (command: string, answer: RegExp) => shell(page, problems, command, answer);
      try {
        await page.locator("#disk-panel summary").click();
        await page.setInputFiles("#disk-file", image);
        await waitForDiskAndPrompt(page, problems, "file", "ext2.img");
        // The URL does not name a local file (a reload could not reopen it).
        expect(new URL(page.url()).searchParams.get("disk")).toBeNull();

        await sh("mount -t ext2 /dev/vda /mnt && cat /mnt/hello.txt", /^hello from the host, [0-9a-f]{12}$/m);
        expect(await page.evaluate(() => window.__trapdoorText!())).toContain(HELLO.trimEnd());
        await sh("md5sum /mnt/random.bin", randomMd5Line());
        await sh(
          "echo overlay-$((6*7)) > /mnt/new.txt && sync && umount /mnt && mount -t ext2 /dev/vda /mnt && cat /mnt/new.txt",
          /^overlay-42$/m,
        );
        // The overlay holds what Linux wrote; the panel shows it (refreshed every second).
        await page.waitForFunction(
          () =>
            /copy-on-write in memory: [1-9]\d* chunks?/.test(
              document.querySelector("#disk-status")?.textContent ?? "",
            ),
          undefined,
          { timeout: 10_000 },
        );
        expect(await page.locator("#disk-status").textContent()).toMatch(
          /^ext2\.img — 8 MiB, modern virtio-pci, local file, copy-on-write in memory: \d+ chunks? \([\d.]+ KiB\) written$/,
        );
        await screenshot(page, "web-disk-file.png");
        expect(problems).toEqual([]);
      } finally {
        await page.close();
      }
      // The picked file is never written.
      expect(readFileSync(image).equals(before)).toBe(true);
    },
  );

  it(
    "keeps OPFS disks across a page reload (a raw one created empty, an imported ext2 image); deletes one",
    { timeout: 400_000 },
    async () => {
      const { page, problems } = await openPage(browser!, devUrl);
      const sh = (command: string, answer: RegExp) => shell(page, problems, command, answer);
      const listed = async () =>
        (await page.locator("#opfs-disks option").allTextContents()).map((o) => o.split(" ")[0]);
      try {
        await page.locator("#disk-panel summary").click();
        // A new, empty 8 MiB disk; Linux writes a line to the raw device.
        await page.locator("#opfs-name").fill("raw1");
        await page.locator("#opfs-size").fill("8");
        await page.getByRole("button", { name: "create empty" }).click();
        await waitForDiskAndPrompt(page, problems, "opfs", "raw1");
        expect(new URL(page.url()).searchParams.get("disk")).toBe("opfs:raw1");
        expect(await page.locator("#disk-status").textContent()).toBe(
          "raw1 — 8 MiB, modern virtio-pci, persistent (OPFS)",
        );
        await sh("echo raw-$((1000+337)) > /dev/vda && sync && echo synced-$?", /^synced-0$/m);

        // Import the ext2 image as a second disk (attached at once); Linux reads it and writes a file.
        await page.locator("#opfs-name").fill("imported");
        await page.setInputFiles("#opfs-import", image);
        await waitForDiskAndPrompt(page, problems, "opfs", "imported");
        expect(await listed()).toEqual(["imported", "raw1"]);
        await sh("mount -t ext2 /dev/vda /mnt && md5sum /mnt/random.bin", randomMd5Line());
        await sh(
          "echo persisted-$((1000+337)) > /mnt/note && sync && umount /mnt && echo written-$?",
          /^written-0$/m,
        );

        // Reload: the URL names the disk, the page reattaches it, the file is there.
        await page.reload();
        await waitForDiskAndPrompt(page, problems, "opfs", "imported");
        await sh("mount -t ext2 /dev/vda /mnt && cat /mnt/note", /^persisted-1337$/m);
        await screenshot(page, "web-disk-opfs.png");

        // Reattach the raw disk from the list: its line is still there.
        await page.locator("#disk-panel summary").click();
        await page.locator("#opfs-disks").selectOption("raw1");
        await page.locator("#opfs-attach").click();
        await waitForDiskAndPrompt(page, problems, "opfs", "raw1");
        await sh("head -n 1 /dev/vda", /^raw-1337$/m);

        // Delete the disk that is not attached: gone from the list, the attached one stays.
        await page.locator("#opfs-disks").selectOption("imported");
        await page.locator("#opfs-delete").click();
        await page.waitForFunction(
          () => document.querySelector("#disk-message")?.textContent === 'deleted "imported"',
          undefined,
          { timeout: 10_000 },
        );
        expect(await listed()).toEqual(["raw1"]);
        expect(await page.locator("#disk-status").getAttribute("data-name")).toBe("raw1");
        await screenshot(page, "web-disk-opfs-panel.png");
        expect(problems).toEqual([]);
      } finally {
        await page.close();
      }
    },
  );

  it("refuses an image whose size is not a multiple of 512, and says why", { timeout: 120_000 }, async () => {
    const odd = join(work, "odd.img");
    writeFileSync(odd, new Uint8Array(1000));
    const { page, problems } = await openPage(browser!, devUrl);
    try {
      await page.locator("#disk-panel summary").click();
      await page.setInputFiles("#disk-file", odd);
      await page.waitForFunction(
        () => document.querySelector<HTMLElement>("#status")?.dataset.state === "error",
        undefined,
        {
          timeout: 30_000,
        },
      );
      expect(await page.locator("#status").textContent()).toBe(
        "error: RangeError: odd.img: size 1000 is not a positive multiple of 512 bytes",
      );
      // Importing it into OPFS is refused by the page before anything is written.
      await page.locator("#opfs-name").fill("odd");
      await page.setInputFiles("#opfs-import", odd);
      await page.waitForFunction(
        () => document.querySelector<HTMLElement>("#disk-message")?.dataset.error !== undefined,
      );
      expect(await page.locator("#disk-message").textContent()).toBe(
        "a disk's size must be a positive multiple of 512 bytes, not 1000",
      );
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
