/**
 * End-to-end test of the web front end (web/): boot the hello guest in headless Chromium, once
 * from Vite's dev server and once from a production build served by `vite preview`, and check
 * the terminal output, cross-origin isolation and the exit status.
 *
 * Needs /usr/bin/chromium (Debian: apt-get install chromium). Without it the tests are skipped,
 * except in CI (process.env.CI set), where they must run.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { build, createServer, preview, type PreviewServer, type ViteDevServer } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CHROMIUM = "/usr/bin/chromium";
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const configFile = join(repoRoot, "vite.config.ts");
const coreWasm = join(repoRoot, "build/trapdoor.wasm");
const resultsDir = join(repoRoot, "test-results");

const HELLO_LINE = "Hello from trapdoor's hello guest!";
const PASSED_LINE = "hello: all checks passed";
const BOOT_TIMEOUT_MS = 60_000;

const haveChromium = existsSync(CHROMIUM);
const skip = !haveChromium && !process.env.CI;
const title = skip
  ? `web app (skipped: ${CHROMIUM} not found; apt-get install chromium, or set CI=1 to make this fail)`
  : "web app in headless Chromium";

/** Load the page, wait for the guest to finish, check what it shows and take a screenshot. */
async function bootHello(browser: Browser, url: string, screenshot: string): Promise<void> {
  const page: Page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
  });
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()} for ${res.url()}`);
  });
  try {
    const response = await page.goto(url);
    expect(response?.status()).toBe(200);
    const headers = response!.headers();
    expect(headers["cross-origin-opener-policy"]).toBe("same-origin");
    expect(headers["cross-origin-embedder-policy"]).toBe("require-corp");
    expect(await page.title()).toBe("trapdoor");
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);

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
      const text = await page.evaluate(() => window.__trapdoorText?.() ?? "(no terminal)").catch(() => "?");
      const status = await page
        .locator("#status")
        .textContent()
        .catch(() => "?");
      throw new Error(
        `the hello guest did not finish in ${BOOT_TIMEOUT_MS / 1000} s (${String(err)})\n` +
          `status: ${status}\nproblems: ${problems.join("; ") || "none"}\nterminal:\n${text.trimEnd()}`,
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
    expect(status).toMatch(/^exited with code 1 — [\d,]+ instructions retired$/);
    expect(await page.locator("#status").getAttribute("data-exit-code")).toBe("1");
    const traps = await page.locator("#traps").textContent();
    expect(traps).toMatch(/PIO: [\d,]+ reads, [\d,]+ writes/);
    expect(traps).toContain("uart0");
    expect(await page.locator("#notice").isHidden()).toBe(true);
    expect(problems).toEqual([]);

    mkdirSync(resultsDir, { recursive: true });
    await page.screenshot({ path: join(resultsDir, screenshot) });
  } finally {
    await page.close();
  }
}

describe.skipIf(skip)(title, () => {
  let browser: Browser | undefined;

  beforeAll(async () => {
    expect(existsSync(coreWasm), `${coreWasm} is missing: run npm run asbuild (npm test builds it)`).toBe(
      true,
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  it("boots the hello guest from the dev server", { timeout: 120_000 }, async () => {
    let server: ViteDevServer | undefined;
    try {
      server = await createServer({
        configFile,
        logLevel: "warn",
        clearScreen: false,
        server: { port: 0, host: "127.0.0.1", hmr: false, watch: null },
      });
      await server.listen();
      const url = server.resolvedUrls?.local[0];
      expect(url, "the dev server did not report its URL").toBeTruthy();
      await bootHello(browser!, url!, "web-hello.png");
    } finally {
      await server?.close();
    }
  });

  it(
    "boots the hello guest from a production build (vite build + vite preview)",
    { timeout: 120_000 },
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

        server = await preview({
          configFile,
          logLevel: "warn",
          build: { outDir },
          preview: { port: 0, host: "127.0.0.1" },
        });
        const url = server.resolvedUrls?.local[0];
        expect(url, "vite preview did not report its URL").toBeTruthy();
        await bootHello(browser!, url!, "web-hello-build.png");
      } finally {
        await server?.close();
        rmSync(outDir, { recursive: true, force: true });
      }
    },
  );
});
