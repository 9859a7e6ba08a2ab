/**
 * The page's bench io panel (web/bench-panel.ts, web/bench-worker.ts) in headless Chromium: a tiny
 * comparison (1 MiB seqread, ide-dma and virtio-modern) run from the page shows progress, then
 * io-report's table and the bar chart, where virtio-blk costs fewer exits per MiB than the IDE
 * controller; the console VM, in its own worker, still reaches its shell prompt. Screenshot:
 * test-results/web-bench-io.png.
 *
 * Like web.test.ts, skipped without Chromium unless CI is set; TRAPDOOR_SKIP_LINUX=1 skips it.
 */
import type { Browser, Page } from "playwright-core";
import type { ViteDevServer } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LINUX_BUILD_TIMEOUT_MS, linuxImageDir, SKIP_LINUX } from "../helpers/linux-images.js";
import {
  coreWasm,
  launchChromium,
  LINUX_BOOT_TIMEOUT_MS,
  openPage,
  screenshot,
  skipBrowser,
  skipReason,
  startDevServer,
  waitForTerminal,
} from "./page-helpers.js";

/** Two Linux boots and a 1 MiB read each, beside the console VM, on a loaded machine. */
const BENCH_TIMEOUT_MS = 240_000;

const skip = skipBrowser || SKIP_LINUX;
const title = skipBrowser
  ? `web bench io (skipped: ${skipReason})`
  : SKIP_LINUX
    ? "web bench io (skipped: TRAPDOOR_SKIP_LINUX)"
    : "web bench io panel in headless Chromium";

/** A column of io-report's text table, by row (config name) — the header's cells are split on 2+ spaces. */
function tableColumn(report: string, column: string): Map<string, number> {
  const lines = report.split("\n");
  const at = lines.findIndex((l) => l.startsWith("config  "));
  expect(at, "no table header in the report").toBeGreaterThanOrEqual(0);
  const header = lines[at]!.split(/\s{2,}/);
  const col = header.indexOf(column);
  expect(col, `no "${column}" column in ${lines[at]}`).toBeGreaterThan(0);
  const out = new Map<string, number>();
  for (const line of lines.slice(at + 2)) {
    if (line.trim() === "") break;
    const cells = line.split(/\s{2,}/);
    out.set(cells[0]!, Number(cells[col]));
  }
  return out;
}

const bar = async (page: Page, config: string): Promise<number> =>
  Number(await page.locator(`#bench-chart .bench-bar[data-config="${config}"]`).getAttribute("data-value"));

describe.skipIf(skip)(title, () => {
  let browser: Browser | undefined;
  let devServer: ViteDevServer | undefined;
  let devUrl = "";

  beforeAll(async () => {
    expect(coreWasm).toBeTruthy();
    await linuxImageDir();
    browser = await launchChromium();
    ({ server: devServer, url: devUrl } = await startDevServer());
  }, LINUX_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await devServer?.close();
    await browser?.close();
  });

  it(
    "runs 1 MiB seqread on ide-dma and virtio-modern and shows the table and chart",
    { timeout: 400_000 },
    async () => {
      const { page, problems } = await openPage(browser!, devUrl);
      try {
        await page.locator("#bench-panel summary").click();
        await page.locator("#bench-size").fill("1");
        await page.locator('#bench-form input[value="virtio-legacy"]').uncheck();
        expect(await page.locator('#bench-form input[name="config"]:checked').count()).toBe(2);
        await page.locator("#bench-workload").selectOption("seqread");
        await page.locator("#bench-run").click();

        // Progress while it runs: the run button is off and the status names the configuration.
        await page.waitForFunction(
          () => /^ide-dma \(1 of 2\)/.test(document.querySelector("#bench-status")?.textContent ?? ""),
          undefined,
          { timeout: 60_000 },
        );
        expect(await page.locator("#bench-run").isDisabled()).toBe(true);

        await page.waitForFunction(
          () => document.querySelector<HTMLElement>("#bench-status")?.dataset.state !== "running",
          undefined,
          { timeout: BENCH_TIMEOUT_MS },
        );
        const status = await page.locator("#bench-status").textContent();
        const report = (await page.locator("#bench-report").textContent()) ?? "";
        expect(await page.locator("#bench-status").getAttribute("data-state"), `${status}\n${report}`).toBe(
          "done",
        );
        expect(await page.locator("#bench-run").isEnabled()).toBe(true);

        // io-report's text: both rows; virtio-blk takes far fewer exits per MiB than IDE with DMA.
        expect(report).toContain("trapdoor bench io: 1 MiB per sequential workload");
        const allExits = tableColumn(report, "all exits/MiB");
        expect([...allExits.keys()]).toEqual(["ide-dma", "virtio-modern"]);
        expect(allExits.get("virtio-modern")!).toBeGreaterThan(0);
        expect(allExits.get("virtio-modern")!).toBeLessThan(allExits.get("ide-dma")!);
        expect(report).toContain("disk exits per MiB, seqread");

        // The chart: one bar per configuration, disk exits per MiB.
        expect(await page.locator("#bench-chart .bench-bar").count()).toBe(2);
        const ide = await bar(page, "ide-dma");
        const virtio = await bar(page, "virtio-modern");
        expect(virtio).toBeGreaterThan(0);
        expect(virtio).toBeLessThan(ide);

        // The console VM ran on in its own worker.
        // (the kernel may log a line after the prompt, so not necessarily the last line)
        await waitForTerminal(page, problems, /^\/root #/m, LINUX_BOOT_TIMEOUT_MS, "the Linux shell prompt");
        await page.locator("#bench-panel").scrollIntoViewIfNeeded();
        await screenshot(page, "web-bench-io.png");
        expect(problems).toEqual([]);
      } finally {
        await page.close();
      }
    },
  );
});
