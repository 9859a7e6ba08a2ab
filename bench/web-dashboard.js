// Guest speed in the web page with the live dashboard on and off (not part of `npm run bench`: it
// needs Chromium and the Linux images). Boots the default page in headless Chromium, starts a busy
// shell loop in the guest (`while :; do :; done &`, so the vCPU never idles), then alternates
// dashboard off / on for ROUNDS rounds of WINDOW_MS each and reports guest MIPS from the status
// line's instruction count over the page's clock. Run: npm run asbuild && node bench/web-dashboard.js
import { chromium } from "playwright-core";
import { createServer } from "vite";

const ROUNDS = Number(process.env.BENCH_DASHBOARD_ROUNDS ?? 4);
const WINDOW_MS = Number(process.env.BENCH_DASHBOARD_WINDOW_MS ?? 6000);
/** After a toggle, wait this long before measuring (samples in flight, layout). */
const SETTLE_MS = 1000;
const configFile = new URL("../vite.config.ts", import.meta.url).pathname;

const server = await createServer({
  configFile,
  logLevel: "warn",
  server: { port: 0, host: "127.0.0.1", hmr: false, watch: null },
});
await server.listen();
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  await page.goto(server.resolvedUrls.local[0]);
  await page.waitForFunction(() => /\/root #\s*$/.test(window.__trapdoorText?.() ?? ""), undefined, {
    timeout: 180_000,
    polling: 200,
  });
  await page.evaluate(() => window.__trapdoorTerm.paste("while :; do :; done &\n"));

  /** Guest MIPS over `ms` of the page's clock, from the status line's instruction count. */
  const mips = async (ms) => {
    const read = () =>
      page.evaluate(() => ({
        t: performance.now(),
        n: Number(
          /([\d,]+) instructions/.exec(document.querySelector("#status").textContent)[1].replace(/,/g, ""),
        ),
      }));
    const a = await read();
    await page.waitForTimeout(ms);
    const b = await read();
    return (b.n - a.n) / (b.t - a.t) / 1000;
  };
  const setDashboard = async (on) => {
    const shown = await page.locator("#dashboard").isVisible();
    if (shown !== on) await page.locator("#dashboard-toggle").click();
    await page.waitForTimeout(SETTLE_MS);
  };

  const results = { off: [], on: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of ["off", "on"]) {
      await setDashboard(mode === "on");
      results[mode].push(await mips(WINDOW_MS));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`guest MIPS, busy shell loop, ${ROUNDS} rounds of ${WINDOW_MS / 1000} s, alternating off/on:`);
  for (const mode of ["off", "on"]) {
    const xs = results[mode];
    console.log(
      `  dashboard ${mode.padEnd(3)}  median ${median(xs).toFixed(2)}  (runs: ${xs.map((x) => x.toFixed(2)).join(", ")})`,
    );
  }
  console.log(`  on/off: ${(median(results.on) / median(results.off)).toFixed(3)}`);
} finally {
  await browser.close();
  await server.close();
}
