/**
 * What the Playwright tests of the web front end share: the Chromium they drive, the Vite dev
 * server they load the page from, and waiting on and describing the page's terminal.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { createServer, type ViteDevServer } from "vite";
import { expect } from "vitest";

export const CHROMIUM = "/usr/bin/chromium";
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
export const configFile = join(repoRoot, "vite.config.ts");
export const coreWasm = join(repoRoot, "build/trapdoor.wasm");
/** Screenshots go here. */
export const resultsDir = join(repoRoot, "test-results");
export const LINUX_BOOT_TIMEOUT_MS = 120_000;

/** Without Chromium the browser tests are skipped, except in CI (process.env.CI set), where they fail. */
export const skipBrowser = !existsSync(CHROMIUM) && !process.env.CI;
export const skipReason = `${CHROMIUM} not found; apt-get install chromium, or set CI=1 to make this fail`;

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const VIEWPORT = { width: 1100, height: 760 };

/** Headless Chromium (/usr/bin/chromium) through playwright-core; each page gets a fresh profile. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/**
 * Headless Chromium with an on-disk profile in `userDataDir`, as a user's browser has. Storage
 * such as OPFS then lives in files: in the in-memory profile of launchChromium's pages every OPFS
 * access is a round trip to the browser process (milliseconds, not microseconds).
 */
export function launchChromiumProfile(userDataDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    viewport: VIEWPORT,
  });
}

/** Vite's dev server for web/ on a free port of 127.0.0.1, and its URL. */
export async function startDevServer(): Promise<{ server: ViteDevServer; url: string }> {
  const server = await createServer({
    configFile,
    logLevel: "warn",
    clearScreen: false,
    server: { port: 0, host: "127.0.0.1", hmr: false, watch: null },
  });
  await server.listen();
  const url = server.resolvedUrls?.local[0] ?? "";
  expect(url, "the dev server did not report its URL").toBeTruthy();
  return { server, url };
}

/** A new page that collects page errors, console errors and failed responses into `problems`. */
export async function openPage(
  browser: Browser | BrowserContext,
  url: string,
): Promise<{ page: Page; problems: string[] }> {
  const page: Page =
    "newContext" in browser ? await browser.newPage({ viewport: VIEWPORT }) : await browser.newPage();
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
  });
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()} for ${res.url()}`);
  });
  const response = await page.goto(url);
  expect(response?.status()).toBe(200);
  const headers = response!.headers();
  expect(headers["cross-origin-opener-policy"]).toBe("same-origin");
  expect(headers["cross-origin-embedder-policy"]).toBe("require-corp");
  expect(await page.title()).toBe("trapdoor");
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  return { page, problems };
}

/** Save a screenshot of `page` as `resultsDir`/`name`. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  await page.screenshot({ path: join(resultsDir, name) });
}

/** The page's state for an error message: status line, problems, the terminal's text. */
export async function describePage(page: Page, problems: string[]): Promise<string> {
  const text = await page.evaluate(() => window.__trapdoorText?.() ?? "(no terminal)").catch(() => "?");
  const status = await page
    .locator("#status")
    .textContent()
    .catch(() => "?");
  return `status: ${status}\nproblems: ${problems.join("; ") || "none"}\nterminal:\n${text.trimEnd()}`;
}

/**
 * Wait until `pattern` matches the terminal's text: the whole buffer, each row trimmed on the right
 * (so the prompt "/root # " reads "/root #"), with the empty rows below the cursor cut off.
 */
export async function waitForTerminal(
  page: Page,
  problems: string[],
  pattern: RegExp,
  timeoutMs: number,
  what: string,
): Promise<void> {
  try {
    await page.waitForFunction(
      ([source, flags]) => new RegExp(source!, flags).test((window.__trapdoorText?.() ?? "").trimEnd()),
      [pattern.source, pattern.flags],
      { timeout: timeoutMs, polling: 100 },
    );
  } catch (err) {
    throw new Error(
      `${what}: ${pattern} did not appear in ${timeoutMs / 1000} s (${String(err)})\n${await describePage(page, problems)}`,
    );
  }
}

/** Type `command` into the guest's shell (as a paste) and wait for `answer` in the terminal. */
export async function shell(
  page: Page,
  problems: string[],
  command: string,
  answer: RegExp,
  timeoutMs = 60_000,
): Promise<void> {
  await page.evaluate((c) => window.__trapdoorTerm!.paste(c + "\n"), command);
  await waitForTerminal(page, problems, answer, timeoutMs, command);
}
