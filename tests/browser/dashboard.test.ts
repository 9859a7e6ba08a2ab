/**
 * The live trap dashboard (web/dashboard.ts) in headless Chromium: the default page boots Linux with
 * the dashboard beside the console; with a raw image attached as /dev/vda, a `dd` of the whole disk
 * and a shell loop writing to the serial port make the counters the page shows move: virtio-blk
 * kicks, requests and interrupts, notify and pio-out exits, the uart0 port and the virtio MMIO
 * regions, both charts, the measured host time and the modeled KVM cost. Toggling the dashboard off
 * stops the worker's samples; on again resumes them. Screenshot: test-results/web-dashboard.png.
 *
 * Like web.test.ts, skipped without Chromium unless CI is set; TRAPDOOR_SKIP_LINUX=1 skips it.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
  shell,
  skipBrowser,
  skipReason,
  startDevServer,
  waitForTerminal,
} from "./page-helpers.js";

const DISK_BYTES = 4 * 1024 * 1024;
/** The worker sends 4 samples per second; allow for a loaded machine. */
const SAMPLE_TIMEOUT_MS = 15_000;

const skip = skipBrowser || SKIP_LINUX;
const title = skipBrowser
  ? `web dashboard (skipped: ${skipReason})`
  : SKIP_LINUX
    ? "web dashboard (skipped: TRAPDOOR_SKIP_LINUX)"
    : "web dashboard in headless Chromium";

/** The raw figure (data-value) of a dashboard cell. */
async function cell(page: Page, selector: string): Promise<number> {
  const v = await page.locator(selector).first().getAttribute("data-value", { timeout: SAMPLE_TIMEOUT_MS });
  expect(v, selector).not.toBeNull();
  return Number(v);
}

const samples = async (page: Page): Promise<number> =>
  Number(await page.locator("#dashboard").getAttribute("data-samples"));

/** Wait until the cell's value exceeds `above`. */
async function waitAbove(page: Page, selector: string, above: number): Promise<number> {
  try {
    await page.waitForFunction(
      ([sel, min]) => Number(document.querySelector(sel!)?.getAttribute("data-value") ?? NaN) > Number(min),
      [selector, String(above)],
      { timeout: SAMPLE_TIMEOUT_MS },
    );
  } catch (err) {
    const now = await page.locator(selector).first().getAttribute("data-value");
    const dash = await page.locator("#dashboard").innerText();
    throw new Error(`${selector} stayed at ${now}, not above ${above} (${String(err)})\ndashboard:\n${dash}`);
  }
  return cell(page, selector);
}

const virtio = (counter: string): string =>
  `#dash-virtio table[data-device="virtio-blk0"]:not(.queues) tr[data-key="${counter}"] td[data-col="total"]`;
const cause = (c: string): string => `#dash-causes tr[data-key="${c}"] td[data-col="total"]`;

describe.skipIf(skip)(title, () => {
  let browser: Browser | undefined;
  let devServer: ViteDevServer | undefined;
  let devUrl = "";
  let work = "";
  let image = "";

  beforeAll(async () => {
    expect(coreWasm).toBeTruthy();
    await linuxImageDir();
    work = mkdtempSync(join(tmpdir(), "trapdoor-web-dashboard-"));
    image = join(work, "raw.img");
    writeFileSync(image, randomBytes(DISK_BYTES));
    browser = await launchChromium();
    ({ server: devServer, url: devUrl } = await startDevServer());
  }, LINUX_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await devServer?.close();
    await browser?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it(
    "shows the counters of a dd on /dev/vda and a serial loop moving, and toggles",
    { timeout: 300_000 },
    async () => {
      const { page, problems } = await openPage(browser!, devUrl);
      const sh = (command: string, answer: RegExp) => shell(page, problems, command, answer);
      try {
        // Shown by default, beside the console.
        expect(await page.locator("#dashboard").isVisible()).toBe(true);
        expect(await page.locator("#dashboard-toggle").getAttribute("aria-pressed")).toBe("true");
        const consoleBox = (await page.locator(".console").boundingBox())!;
        const dashBox = (await page.locator("#dashboard").boundingBox())!;
        expect(dashBox.x).toBeGreaterThanOrEqual(consoleBox.x + consoleBox.width);

        await page.locator("#disk-panel summary").click();
        await page.setInputFiles("#disk-file", image);
        await page.waitForFunction(
          () => document.querySelector<HTMLElement>("#disk-status")?.dataset.kind === "file",
          undefined,
          {
            timeout: 30_000,
          },
        );
        await page.locator("#disk-panel summary").click();
        await waitForTerminal(page, problems, /\/root #$/, LINUX_BOOT_TIMEOUT_MS, "the Linux shell prompt");
        await page.waitForFunction(
          () => Number(document.querySelector("#dashboard")?.getAttribute("data-samples")) > 0,
          undefined,
          {
            timeout: SAMPLE_TIMEOUT_MS,
          },
        );

        // Linux probed the disk at boot: the driver kicked queue 0 and got interrupts already.
        const kicks = await cell(page, virtio("kicks"));
        const requests = await cell(page, virtio("requests"));
        const interrupts = await cell(page, virtio("interrupts"));
        const notifies = await cell(page, cause("notify"));
        expect(kicks).toBeGreaterThan(0);
        expect(
          await page
            .locator(`#dash-virtio .queues[data-device="virtio-blk0"] tr[data-key="0"] td[data-col="size"]`)
            .textContent(),
        ).toMatch(/^\d+$/);

        await sh("dd if=/dev/vda of=/dev/null bs=64k && echo dd-done", /^dd-done$/m);
        // One request carries at most 1280 KiB (Linux 6.1's default max_sectors_kb, BLK_DEF_MAX_SECTORS),
        // so reading 4 MiB takes at least 4.
        const kicksAfter = await waitAbove(page, virtio("kicks"), kicks);
        expect(await waitAbove(page, virtio("requests"), requests + 3)).toBeGreaterThanOrEqual(requests + 4);
        expect(await waitAbove(page, virtio("interrupts"), interrupts)).toBeGreaterThan(interrupts);
        // Each kick is a notify exit (docs/exits.md).
        expect(await waitAbove(page, cause("notify"), notifies)).toBeGreaterThanOrEqual(
          notifies + (kicksAfter - kicks),
        );
        expect(await cell(page, virtio("suppressedInterrupts"))).toBeGreaterThanOrEqual(0);
        // The modern transport's MMIO regions are attributed to the device.
        expect(await page.locator("#dash-mmio td", { hasText: "virtio-blk0" }).count()).toBeGreaterThan(0);

        const pioOut = await cell(page, cause("pio-out"));
        await sh(
          "i=0; while [ $i -lt 300 ]; do echo serial-$i; i=$((i+1)); done; echo loop-done",
          /^loop-done$/m,
        );
        // At least one OUT per byte of output.
        expect(await waitAbove(page, cause("pio-out"), pioOut + 3000)).toBeGreaterThan(pioOut + 3000);
        const com1 = page.locator(`#dash-ports tr[data-key="0x03f8"]`);
        await com1.waitFor({ timeout: SAMPLE_TIMEOUT_MS });
        expect(await com1.locator("td").nth(1).textContent()).toBe("uart0");
        expect(await cell(page, `#dash-ports tr[data-key="0x03f8"] td[data-col="writes"]`)).toBeGreaterThan(
          3000,
        );

        // Both charts have data, and their legends name the devices.
        expect(Number(await page.locator("#chart-exits").getAttribute("data-samples"))).toBeGreaterThan(4);
        expect(Number(await page.locator("#chart-exits").getAttribute("data-max"))).toBeGreaterThan(1);
        expect(await page.locator("#legend-exits").textContent()).toContain("uart0");
        expect(Number(await page.locator("#chart-irqs").getAttribute("data-samples"))).toBeGreaterThan(4);
        expect(await page.locator("#legend-irqs").textContent()).toContain("virtio-blk0");

        // Measured host time and the modeled KVM cost, in separate tables.
        expect(
          await cell(page, `#dash-measured tr[data-key="pio-out"] td[data-col="sampled"]`),
        ).toBeGreaterThan(0);
        const userspace = await cell(
          page,
          `#dash-modeled tr[data-key="kvm-userspace"] td[data-col="totalUs"]`,
        );
        const inKernel = await cell(
          page,
          `#dash-modeled tr[data-key="kvm-in-kernel"] td[data-col="totalUs"]`,
        );
        expect(inKernel).toBeGreaterThan(0);
        expect(userspace).toBeGreaterThan(inKernel);

        // Guest speed in the status bar.
        expect(Number(await page.locator("#speed").getAttribute("data-mips"))).toBeGreaterThan(0);

        await screenshot(page, "web-dashboard.png");
        // The tables below the charts, scrolled into view.
        await page.locator("#dashboard").evaluate((el) => (el.scrollTop = el.scrollHeight));
        await screenshot(page, "web-dashboard-tables.png");

        // Off: hidden, in the URL, and the worker stops sending samples.
        await page.locator("#dashboard-toggle").click();
        expect(await page.locator("#dashboard").isHidden()).toBe(true);
        expect(new URL(page.url()).searchParams.get("dashboard")).toBe("off");
        await page.waitForTimeout(300); // a sample already in flight may still land
        const frozen = await samples(page);
        await page.waitForTimeout(1500);
        expect(await samples(page)).toBe(frozen);
        // On again: samples resume.
        await page.locator("#dashboard-toggle").click();
        expect(await page.locator("#dashboard").isVisible()).toBe(true);
        await page.waitForFunction(
          (n) => Number(document.querySelector("#dashboard")?.getAttribute("data-samples")) > n,
          frozen,
          {
            timeout: SAMPLE_TIMEOUT_MS,
          },
        );
        expect(problems).toEqual([]);
      } finally {
        await page.close();
      }
    },
  );
});
