/**
 * End-to-end test of the web front end (web/) in headless Chromium, from Vite's dev server and
 * from a production build served by `vite preview`:
 *  - the default page boots the Linux guest; the test types commands into the xterm.js console
 *    (and pastes one) and reads the shell's answers;
 *  - ?guest=hello boots the hello guest; the test checks its output, cross-origin isolation and
 *    the exit status.
 *
 * Needs /usr/bin/chromium (Debian: apt-get install chromium). Without it the tests are skipped,
 * except in CI (process.env.CI set), where they must run. The Linux tests need the images of
 * guest-images/linux/build.sh (built on first use, about 10 minutes); TRAPDOOR_SKIP_LINUX=1 skips
 * them (never implied, also not in CI).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { build, preview, type PreviewServer, type ViteDevServer } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  configFile,
  coreWasm,
  launchChromium,
  LINUX_BOOT_TIMEOUT_MS,
  openPage,
  describePage,
  repoRoot,
  screenshot as saveScreenshot,
  skipBrowser,
  skipReason,
  startDevServer,
  waitForTerminal,
} from "./page-helpers.js";

const HELLO_LINE = "Hello from trapdoor's hello guest!";
const PASSED_LINE = "hello: all checks passed";
const BOOT_TIMEOUT_MS = 60_000;
const skipLinux = !!process.env.TRAPDOOR_SKIP_LINUX;
/** The Linux images: URL under guest/linux/ → file in build.sh's cache (see web/vite-linux-images.ts). */
const LINUX_FILES = { bzImage: "bzImage", "initramfs.img": "initramfs.cpio.gz" };

const skip = skipBrowser;
const title = skip ? `web app (skipped: ${skipReason})` : "web app in headless Chromium";

/**
 * Boot the default page (Linux), wait for the shell prompt, type two commands and paste a third,
 * check the answers, resize the window, and take a screenshot.
 */
async function bootLinux(browser: Browser, url: string, screenshot: string): Promise<void> {
  const { page, problems } = await openPage(browser, url);
  try {
    expect(await page.locator("#guest").inputValue()).toBe("linux");
    expect(await page.locator("#console-title").textContent()).toContain('"console=ttyS0 pci=conf1"');
    // The prompt at the end of the buffer: the shell is waiting for a command.
    await waitForTerminal(page, problems, /\/root #$/, LINUX_BOOT_TIMEOUT_MS, "the Linux shell prompt");
    expect(await page.evaluate(() => window.__trapdoorText!())).toContain("trapdoor linux guest ready");
    expect(await page.locator("#status").getAttribute("data-state")).toBe("running");

    // Type like a user: focus the terminal by clicking it, then key presses.
    await page.locator("#terminal").click();
    await page.keyboard.type("uname -a");
    await page.keyboard.press("Enter");
    await waitForTerminal(
      page,
      problems,
      /^Linux trapdoor 6\.1\.\d+ .* i686 GNU\/Linux$/m,
      30_000,
      "uname -a",
    );
    await page.keyboard.type("echo $((6*7))");
    await page.keyboard.press("Enter");
    // The answer is a line of its own. (Kernel messages may come in between: the console shows them.)
    await waitForTerminal(page, problems, /^42$/m, 30_000, "echo $((6*7))");

    // Paste goes through xterm.js's onData too (Terminal.paste is what a clipboard paste does).
    await page.evaluate(() => window.__trapdoorTerm!.paste("echo pasted-$((40+2))\n"));
    await waitForTerminal(page, problems, /^pasted-42$/m, 30_000, "a pasted command");

    // Resizing the window refits the terminal.
    const before = await page.evaluate(() => [window.__trapdoorTerm!.cols, window.__trapdoorTerm!.rows]);
    await page.setViewportSize({ width: 800, height: 560 });
    await page.waitForFunction((cols) => window.__trapdoorTerm!.cols < cols, before[0]!, { timeout: 5_000 });
    const after = await page.evaluate(() => [window.__trapdoorTerm!.cols, window.__trapdoorTerm!.rows]);
    expect(after[1]!).toBeLessThan(before[1]!);
    await page.setViewportSize({ width: 1100, height: 760 });
    await page.waitForFunction((cols) => window.__trapdoorTerm!.cols === cols, before[0]!, {
      timeout: 5_000,
    });

    // The status line and the trap counters update while the guest runs.
    expect(await page.locator("#status").textContent()).toMatch(
      /^running — [\d,]+ instructions retired — guest time ([\d.]+ (µs|ms|s)|\d+ min \d+ s)$/,
    );
    await page.waitForFunction(
      () => document.querySelector<HTMLElement>("#traps")?.hidden === false,
      undefined,
      {
        timeout: 5_000,
      },
    );
    expect(await page.locator("#traps").textContent()).toContain("uart0");
    expect(await page.locator("#notice").isHidden()).toBe(true);
    expect(problems).toEqual([]);

    await saveScreenshot(page, screenshot);
  } finally {
    await page.close();
  }
}

/** Load ?guest=hello, wait for the guest to finish, check what it shows and take a screenshot. */
async function bootHello(browser: Browser, url: string, screenshot: string): Promise<void> {
  const { page, problems } = await openPage(browser, new URL("?guest=hello", url).href);
  try {
    expect(await page.locator("#guest").inputValue()).toBe("hello");

    try {
      await page.waitForFunction(
        ([hello, passed]) => {
          const text = window.__trapdoorText?.() ?? "";
          const status = document.querySelector<HTMLElement>("#status");
          const traps = document.querySelector<HTMLElement>("#traps");
          return (
            text.includes(hello!) &&
            text.includes(passed!) &&
            status?.dataset.state === "exited" &&
            traps?.hidden === false
          );
        },
        [HELLO_LINE, PASSED_LINE],
        { timeout: BOOT_TIMEOUT_MS, polling: 100 },
      );
    } catch (err) {
      throw new Error(
        `the hello guest did not finish in ${BOOT_TIMEOUT_MS / 1000} s (${String(err)})\n` +
          (await describePage(page, problems)),
      );
    }

    const terminal = await page.evaluate(() => window.__trapdoorText!());
    const lines = terminal.split("\n").map((l) => l.trimEnd());
    // convertEol: each guest line starts at column 0.
    expect(lines).toContain(HELLO_LINE);
    expect(lines).toContain(PASSED_LINE);
    expect(lines).toContain("cmdline: console=web");
    expect(lines).toContain("_start: 0x00100040");
    // The DOM renderer shows the same text.
    expect(await page.locator(".xterm-rows").textContent()).toContain(HELLO_LINE);

    const status = await page.locator("#status").textContent();
    expect(status).toMatch(
      /^exited with code 1 — [\d,]+ instructions retired — guest time [\d.]+ (µs|ms|s)$/,
    );
    expect(await page.locator("#status").getAttribute("data-exit-code")).toBe("1");
    const traps = await page.locator("#traps").textContent();
    expect(traps).toMatch(/PIO: [\d,]+ reads, [\d,]+ writes/);
    expect(traps).toContain("uart0");
    expect(await page.locator("#notice").isHidden()).toBe(true);
    expect(problems).toEqual([]);

    await saveScreenshot(page, screenshot);
  } finally {
    await page.close();
  }
}

/** The Linux images' cache directory (guest-images/linux/build.sh builds them if needed). */
function linuxImageDir(): string {
  const out = execFileSync("bash", [join(repoRoot, "guest-images/linux/build.sh"), "--print-path"], {
    cwd: repoRoot,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 30 * 60_000,
  });
  return out.trim().split("\n").pop()!;
}

describe.skipIf(skip)(title, () => {
  let browser: Browser | undefined;
  let devServer: ViteDevServer | undefined;
  let devUrl = "";
  /** Where build.sh keeps the Linux images (undefined with TRAPDOOR_SKIP_LINUX). */
  let linuxDir: string | undefined;

  beforeAll(async () => {
    expect(existsSync(coreWasm), `${coreWasm} is missing: run npm run asbuild (npm test builds it)`).toBe(
      true,
    );
    if (!skipLinux) {
      // Instant when the images are cached; the first build takes about 10 minutes. A failure here
      // fails the Linux tests (set TRAPDOOR_SKIP_LINUX=1 to skip them instead).
      linuxDir = linuxImageDir();
      for (const f of Object.values(LINUX_FILES)) expect(existsSync(join(linuxDir, f))).toBe(true);
    }
    browser = await launchChromium();
    ({ server: devServer, url: devUrl } = await startDevServer());
  }, 35 * 60_000);

  afterAll(async () => {
    await devServer?.close();
    await browser?.close();
  });

  it("boots the hello guest from the dev server (?guest=hello)", { timeout: 120_000 }, async () => {
    await bootHello(browser!, devUrl, "web-hello.png");
  });

  it.skipIf(skipLinux)(
    "boots Linux by default from the dev server; typed and pasted commands get answers",
    { timeout: 240_000 },
    async () => {
      // The dev server serves the images from build.sh's cache, byte for byte.
      for (const [url, f] of Object.entries(LINUX_FILES)) {
        const res = await fetch(new URL(`guest/linux/${url}`, devUrl));
        expect(res.status).toBe(200);
        expect(res.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
        expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(linuxDir!, f)))).toBe(true);
      }
      await bootLinux(browser!, devUrl, "web-linux.png");
    },
  );

  it(
    skipLinux
      ? "boots hello from a production build (vite build + vite preview; Linux skipped: TRAPDOOR_SKIP_LINUX)"
      : "boots hello and Linux from a production build (vite build + vite preview)",
    { timeout: 240_000 },
    async () => {
      // Build into a temporary directory so that the test neither needs nor clobbers web-dist/.
      const outDir = mkdtempSync(join(tmpdir(), "trapdoor-web-"));
      let server: PreviewServer | undefined;
      try {
        await build({ configFile, logLevel: "warn", build: { outDir, emptyOutDir: true } });
        const assets = readdirSync(join(outDir, "assets"));
        // The core and the guest are separate files, never inlined.
        expect(assets.some((f) => /^trapdoor-[\w-]+\.wasm$/.test(f))).toBe(true);
        expect(assets.some((f) => /^hello-[\w-]+\.elf$/.test(f))).toBe(true);
        expect(assets.some((f) => /^vm-worker-[\w-]+\.js$/.test(f))).toBe(true);
        // The Linux images are emitted under fixed names, the URLs the page fetches.
        for (const [url, f] of Object.entries(LINUX_FILES)) {
          const emitted = join(outDir, "guest/linux", url);
          expect(existsSync(emitted)).toBe(!skipLinux);
          if (!skipLinux) expect(readFileSync(emitted).equals(readFileSync(join(linuxDir!, f)))).toBe(true);
        }

        server = await preview({
          configFile,
          logLevel: "warn",
          build: { outDir },
          preview: { port: 0, host: "127.0.0.1" },
        });
        const url = server.resolvedUrls?.local[0];
        expect(url, "vite preview did not report its URL").toBeTruthy();
        await bootHello(browser!, url!, "web-hello-build.png");
        if (!skipLinux) await bootLinux(browser!, url!, "web-linux-build.png");
      } finally {
        await server?.close();
        rmSync(outDir, { recursive: true, force: true });
      }
    },
  );
});
