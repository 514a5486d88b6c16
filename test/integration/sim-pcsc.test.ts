// wearable-sim over real pcscd + vsmartcard-vpcd (DESIGN.md §7): pcsclite lists the
// reader, sees insertion and removal of a simulated device, SELECTs the applet and runs
// GET STATUS on the real firmware; power-off/power-on through PC/SC keeps flash state;
// two devices in two reader slots at once; a power cut in the middle of an APDU pulls the
// device from the reader, and after a re-tap its state is the old one. Uses the rig's
// pcscd (test/rig/global-setup.ts) through test/support/pcsc.ts.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Fleet } from "../../wearable-sim/src/fleet.ts";
import { runScenario } from "../../wearable-sim/src/scenario.ts";
import { PROFILES } from "../../wearable-sim/src/profiles.ts";
import { PcscSession } from "../support/pcsc.ts";
import { GET_STATUS, SELECT_WALLET, parseSelect, parseStatus } from "../../wearable-sim/test-fixtures/wallet-apdus.ts";
import { ECHO_FIRMWARE, ECHO_GEOMETRY, echoApdu, be32, readU32 } from "../../wearable-sim/test-fixtures/echo-client.ts";
import { SW_NO_ERROR } from "../../protocol/portable/sw.ts";
import { readFileSync } from "node:fs";

describe("wearable-sim through real pcscd + vpcd", () => {
  const rig = inject("rig");
  let pcsc: PcscSession;
  let reader0: string;
  let reader1: string;
  const fleets: Fleet[] = [];

  beforeAll(async () => {
    pcsc = new PcscSession();
    reader0 = await pcsc.waitReader("Virtual PCD 00 00");
    reader1 = await pcsc.waitReader("Virtual PCD 00 01");
  });
  afterAll(async () => {
    for (const f of fleets) await f.stop();
    pcsc?.close();
  });

  const newFleet = (opts: ConstructorParameters<typeof Fleet>[0] = {}) => {
    const f = new Fleet({ vpcdBasePort: rig.vpcdPort, ...opts });
    fleets.push(f);
    return f;
  };

  it("insertion, SELECT + GET STATUS, power cycle keeps flash, removal", async () => {
    const fleet = newFleet({ seed: "pcsc-1" });
    const [card] = await fleet.start({ profile: "card", name: "card" });
    expect(pcsc.readers()).toContain(reader0);
    await fleet.tap("card", reader0);
    const atr = await pcsc.waitPresent(reader0);
    expect(Buffer.from(atr).equals(Buffer.from(PROFILES.card.atr))).toBe(true);

    await pcsc.connect(reader0);
    const sel = parseSelect(await pcsc.transmit(reader0, SELECT_WALLET));
    expect(sel.sw).toBe(SW_NO_ERROR);
    const st = parseStatus(await pcsc.transmit(reader0, GET_STATUS));
    expect([st.sw, st.deviceId]).toEqual([SW_NO_ERROR, sel.deviceId]);

    // unpower through PC/SC: vpcd power off, then power on at the next connect
    const powers: string[] = [];
    card.on("power", (e: { cause: string }) => powers.push(e.cause));
    await pcsc.disconnect(reader0, pcsc.reader(reader0).SCARD_UNPOWER_CARD);
    await pcsc.connect(reader0);
    const again = parseSelect(await pcsc.transmit(reader0, SELECT_WALLET));
    expect(again.deviceId).toBe(sel.deviceId);
    expect(powers).toContain("off");
    expect(powers).toContain("on");

    await fleet.remove("card");
    await pcsc.waitAbsent(reader0);
    expect(card.state).toBe("off");
    expect(card.aborts).toBe(0);
  });

  it("two devices in two reader slots at once", async () => {
    const fleet = newFleet({ seed: "pcsc-2" });
    await fleet.start({ profile: "card", name: "a" });
    await fleet.start({ profile: "watch", name: "b" });
    await fleet.tap("a", reader0);
    await fleet.tap("b", 1);
    expect(Buffer.from(await pcsc.waitPresent(reader0)).equals(Buffer.from(PROFILES.card.atr))).toBe(true);
    expect(Buffer.from(await pcsc.waitPresent(reader1)).equals(Buffer.from(PROFILES.watch.atr))).toBe(true);
    await pcsc.connect(reader0);
    await pcsc.connect(reader1);
    const [ra, rb] = await Promise.all([pcsc.transmit(reader0, SELECT_WALLET), pcsc.transmit(reader1, SELECT_WALLET)]);
    const [a, b] = [parseSelect(ra), parseSelect(rb)];
    expect([a.sw, b.sw]).toEqual([SW_NO_ERROR, SW_NO_ERROR]);
    expect(a.deviceId).not.toBe(b.deviceId);
    expect(parseStatus(await pcsc.transmit(reader1, GET_STATUS)).deviceId).toBe(b.deviceId);
    await fleet.remove("a");
    await fleet.remove("b");
    await pcsc.waitAbsent(reader0);
    await pcsc.waitAbsent(reader1);
  });

  it("a power cut mid-APDU pulls the device from the reader; after a re-tap the old state is there", async () => {
    const fleet = newFleet({ firmware: ECHO_FIRMWARE, ...ECHO_GEOMETRY });
    const [d] = await fleet.start({ name: "e" });
    await fleet.tap("e", reader0);
    await pcsc.waitPresent(reader0);
    await pcsc.connect(reader0);
    expect(Buffer.from(await pcsc.transmit(reader0, echoApdu(0x06, 0, be32(11)))).toString("hex")).toBe("9000");
    fleet.powerCut("e", 2, "random");
    // the card leaves the reader mid-APDU: pcscd reports an error or an empty response, never an answer
    const torn = await pcsc.transmit(reader0, echoApdu(0x06, 0, be32(22))).catch(() => undefined);
    expect(torn === undefined || torn.length < 2).toBe(true);
    await pcsc.waitAbsent(reader0);
    expect(d.state).toBe("off");
    await fleet.tap("e", reader0);
    await pcsc.waitPresent(reader0);
    await pcsc.connect(reader0);
    expect(readU32(await pcsc.transmit(reader0, echoApdu(0x07)))).toBe(11);
    await fleet.remove("e");
    await pcsc.waitAbsent(reader0);
  });

  it("scenario tap-at-pos.json: two devices tapped on the reader in turn; pcsclite sees each", async () => {
    const sc = JSON.parse(readFileSync(new URL("../../wearable-sim/scenarios/tap-at-pos.json", import.meta.url), "utf8"));
    const fleet = newFleet({ seed: "pcsc-scenario" });
    const seen: string[] = [];
    const watcher = (async () => {
      for (const profile of ["card", "watch"] as const) {
        const atr = await pcsc.waitPresent(reader0, 10_000);
        seen.push(Buffer.from(atr).equals(Buffer.from(PROFILES[profile].atr)) ? profile : "?");
        await pcsc.connect(reader0);
        expect(parseSelect(await pcsc.transmit(reader0, SELECT_WALLET)).sw).toBe(SW_NO_ERROR);
        await pcsc.waitAbsent(reader0, 10_000);
      }
    })();
    const r = await runScenario(fleet, sc);
    await watcher;
    expect(r.failures).toEqual([]);
    expect(seen).toEqual(["card", "watch"]);
  });
});
