// The console's reader actions against the rig's real pcscd + vpcd (wearable-sim/README.md "Console"): Insert puts
// the card into reader slot 0 (pcsclite sees it present, the panel says "in field"), a
// host reads its status through PC/SC and the console decodes the GET STATUS that goes
// by, Remove takes it out of the field (pcsclite sees it absent). Chromium as in
// test/sim-console.test.ts.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Page } from "playwright-core";
import { Fleet } from "../../wearable-sim/src/fleet.ts";
import { startControl, type ControlServer } from "../../wearable-sim/src/control.ts";
import { consoleRoutes } from "../../wearable-sim/src/console.ts";
import { ensureConsoleBuilt } from "../../wearable-sim/src/console-build.ts";
import { PcscSession } from "../support/pcsc.ts";
import { GET_STATUS, SELECT_WALLET } from "../../wearable-sim/test-fixtures/wallet-apdus.ts";
import { launch, SKIP_BROWSER } from "../support/browser.ts";

describe.skipIf(SKIP_BROWSER)("console reader actions through real pcscd", () => {
  const rig = inject("rig");
  let pcsc: PcscSession;
  let reader0: string;
  let fleet: Fleet;
  let control: ControlServer;
  let browser: Awaited<ReturnType<typeof launch>>;
  let page: Page;
  let serial: string;

  beforeAll(async () => {
    await ensureConsoleBuilt();
    pcsc = new PcscSession();
    reader0 = await pcsc.waitReader("Virtual PCD 00 00");
    fleet = new Fleet({ vpcdBasePort: rig.vpcdPort, seed: "console-pcsc" });
    const [card] = await fleet.start({ profile: "card" });
    serial = card.serial;
    control = await startControl(fleet, 0, { extra: consoleRoutes(fleet) });
    browser = await launch();
    page = await browser.ctx.newPage();
    await page.goto(`${control.url}/console/`);
    await page.locator("#conn.live").waitFor();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await control?.close();
    await fleet?.stop();
    pcsc?.close();
  });

  const panel = () => page.locator(`section.device[data-serial="${serial}"]`);
  const field = (f: string) => panel().locator(`[data-f="${f}"]`).innerText();
  const settle = () => page.evaluate(() => (window as unknown as { consoleRefresh: () => Promise<void> }).consoleRefresh());

  it("Insert, a PC/SC host reads the status, Remove", async () => {
    await panel().locator('[data-i="slot"]').selectOption("0");
    await panel().locator('[data-a="tap"]').click();
    await pcsc.waitPresent(reader0);
    await pcsc.connect(reader0);
    await pcsc.transmit(reader0, SELECT_WALLET);
    await pcsc.transmit(reader0, GET_STATUS);
    await settle();
    await expect.poll(() => field("link")).toMatch(/vpcd slot 0 .*in field/);
    await expect.poll(() => field("lifecycle")).toBe("manufactured"); // decoded from the GET STATUS that went by
    await expect.poll(() => page.locator("#trace li.field").count()).toBeGreaterThan(0);
    await pcsc.disconnect(reader0);

    await panel().locator('[data-a="remove"]').click();
    await pcsc.waitAbsent(reader0);
    await settle();
    expect(await field("state")).toBe("off");
    expect(await field("link")).not.toMatch(/in field/);
    expect(await panel().locator('[data-f="error"]').innerText()).toBe("");
  });
});
