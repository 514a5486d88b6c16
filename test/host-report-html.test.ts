// `wallet report --html FILE` (README "The `wallet` CLI") on the demo's ledger, opened from the file in
// Debian's headless Chromium: the page makes no request at all (Chart.js and the data are
// inlined), both charts drew something, the cloned card's fork case is listed with the two
// vouchers of its counter, amounts are right-aligned with their currency, and the device
// search narrows the table. The per-merchant panel is a golden screenshot (its numbers and
// labels are fixed by the demo); UPDATE_GOLDEN=1 rewrites it and the README picture.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { runCaptured } from "../host-tools/src/run-captured.ts";
import { amountText } from "../host-tools/src/report-html.ts";
import { buildDemoLedger, type DemoLedger } from "./support/demo-ledger.ts";
import { compareGolden, launch, SKIP_BROWSER, UPDATE_GOLDEN } from "./support/browser.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

describe("wallet report --html", () => {
  let home: string;
  let demo: DemoLedger;
  let file: string;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "report-html-"));
    demo = await buildDemoLedger(home);
    file = join(home, "report.html");
  }, 120_000);
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it("amounts read the same on every machine", () => {
    expect(amountText(123456789, 156)).toBe("CNY 1,234,567.89");
    expect(amountText(5, 978)).toBe("EUR 0.05");
    expect(amountText(-1000, 156)).toBe("CNY −10.00");
    expect(amountText(100)).toBe("1.00");
  });

  it("writes one self-contained page and still prints the text report", async () => {
    const r = await runCaptured(["report", "--home", home, "--html", file]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/report: page written to .*report\.html/);
    expect(r.out).toMatch(/Settlements per merchant/);
    const html = readFileSync(file, "utf8");
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|@import|url\(\s*["']?https?:/i);
    expect(html).toMatch(/Content-Security-Policy" content="default-src 'none'/);
  });

  it("a directory that does not exist is exit 6 with one line, and nothing else is written", async () => {
    const r = await runCaptured(["report", "--home", home, "--html", join(home, "no-such-dir", "r.html")]);
    expect(r.code).toBe(6);
    expect(r.err).toMatch(/directory does not exist/);
    expect(existsSync(join(home, "no-such-dir"))).toBe(false);
  });

  describe.skipIf(SKIP_BROWSER)("in Chromium", () => {
    let browser: Awaited<ReturnType<typeof launch>>;
    let page: Page;
    const requests: string[] = [];

    beforeAll(async () => {
      if (!existsSync(file)) expect((await runCaptured(["report", "--home", home, "--html", file])).code).toBe(0);
      browser = await launch({ width: 1400, height: 1100 });
      page = await browser.ctx.newPage();
      page.on("request", (q) => requests.push(q.url()));
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`file://${file}`);
      await page.locator("#devices-body tr").first().waitFor();
      expect(errors).toEqual([]);
    }, 120_000);
    afterAll(async () => browser?.close());

    it("makes no request but for its own file", () => {
      expect(requests).toEqual([`file://${file}`]);
    });

    it("draws both charts from the ledger's numbers", async () => {
      const charts = await page.evaluate(() => {
        const c = (window as unknown as { reportCharts: Record<string, { data: { labels: unknown[]; datasets: { data: (number | null)[] }[] } }> }).reportCharts;
        const painted = (id: string) => {
          const cv = document.getElementById(id) as HTMLCanvasElement;
          const px = cv.getContext("2d")!.getImageData(0, 0, cv.width, cv.height).data;
          let n = 0;
          for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
          return n;
        };
        return {
          merchants: c.bar.data.labels,
          settled: c.bar.data.datasets[0].data,
          held: c.bar.data.datasets[2].data,
          circulation: c.line.data.datasets[0].data,
          barPixels: painted("merchants-chart"),
          linePixels: painted("circulation-chart"),
        };
      });
      expect(charts.merchants).toEqual(["00000000000000a1", "00000000000000b2"]);
      expect((charts.settled as number[]).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      expect((charts.held as number[]).reduce((a, b) => a + b, 0)).toBeGreaterThan(0); // the clone's vouchers are held
      expect(charts.circulation.length).toBeGreaterThanOrEqual(3 + 7 + 3); // 3 loads, 7 merchant spends, 3 syncs
      expect(charts.circulation[2]).toBe(100_000); // after the three loads: 500 + 300 + 200
      expect(charts.barPixels).toBeGreaterThan(5_000);
      expect(charts.linePixels).toBeGreaterThan(5_000);
    });

    it("lists the clone's fork case with both vouchers of the forked counter", async () => {
      const rows = page.locator(`#fraud-body tr[data-kind="fork"]`);
      expect(await rows.count()).toBeGreaterThanOrEqual(2);
      const text = await page.locator("#fraud-body").innerText();
      expect(text).toContain(demo.ids.card);
      expect(text).toMatch(/named/);
      expect(text).toMatch(/same counter/);
      expect(text).toContain("CNY 90.00"); // the clone's spend at POS B
      expect(text).toContain("CNY 20.00"); // the card's own spend at POS A, same counter
    });

    it("right-aligns amounts with their currency, and the device search narrows the table", async () => {
      const cells = await page.locator("#devices-body td.num").evaluateAll((tds) => tds.map((td) => [getComputedStyle(td).textAlign, td.textContent]));
      expect(cells.every(([a]) => a === "right")).toBe(true);
      expect(cells.some(([, t]) => /^CNY \d/.test(t ?? ""))).toBe(true);
      await page.locator("#device-search").fill("carol");
      expect(await page.locator("#devices-body tr:not([hidden])").count()).toBe(1);
      expect(await page.locator("#device-count").innerText()).toBe("1 of 3 devices");
      await page.locator("#device-search").fill("");
      expect(await page.locator("#devices-body tr:not([hidden])").count()).toBe(3);
    });

    it("the per-merchant panel matches its golden screenshot", async () => {
      compareGolden("report-merchants", await page.locator("#merchants").screenshot({ animations: "disabled" }));
      if (UPDATE_GOLDEN) {
        mkdirSync(join(ROOT, "host-tools", "docs"), { recursive: true });
        writeFileSync(join(ROOT, "host-tools", "docs", "report.png"), await page.screenshot({ fullPage: true, animations: "disabled" }));
      }
    });
  });
});
