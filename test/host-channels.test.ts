// Host channels (host-tools/README.md "Choosing a device"): the same wallet flows over the simulator's
// HID-over-UDP endpoint (64-byte CTAPHID-style reports on loopback) as over the
// in-process channel; --trace prints every APDU; a device that does not answer is a
// device error with a timeout, not a hang; the in-process channel leaves a mute device mute.
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSocket } from "node:dgram";
import { createDevice, Fleet } from "../wearable-sim/src/index.ts";
import { ECHO_FIRMWARE, ECHO_GEOMETRY, echoApdu } from "../wearable-sim/test-fixtures/echo-client.ts";
import { SimChannel } from "../host-tools/src/channels/sim.ts";
import { HidChannel } from "../host-tools/src/channels/hid.ts";
import { TracingChannel } from "../host-tools/src/channels/channel.ts";
import { WalletCard } from "../host-tools/src/card.ts";
import { Keystore } from "../host-tools/src/keystore.ts";
import { SqliteLedger } from "../host-tools/src/ledger/sqlite.ts";
import { load, personalize, posCharge } from "../host-tools/src/flows.ts";
import { CURRENCY_CNY, DEFAULT_LIMITS } from "../host-tools/src/synthetic.ts";
import { WalletError, EXIT_DEVICE } from "../host-tools/src/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "host-ch-"));
const fleet = new Fleet({ seed: "host-channels", autoConfirm: "accept" });
afterAll(() => fleet.stop());

describe("HID over UDP", () => {
  it("personalize, load and a POS payment on a simulated band through 64-byte reports", async () => {
    const [band] = await fleet.start({ profile: "band", transport: "hid-udp", name: "band" });
    const endpoint = fleet.get("band").transport!.endpoint;
    const ks = Keystore.create(join(dir, "ks.json"), "hid passphrase");
    const ledger = SqliteLedger.open(join(dir, "l.sqlite"));
    const lines: string[] = [];
    const ch = new TracingChannel(await HidChannel.udp(`udp:${endpoint}`), (l) => lines.push(l));
    try {
      const p = await personalize(ch, ks, ledger, { account: "1", suite: "sm2", formFactor: "band", currency: CURRENCY_CNY, limits: DEFAULT_LIMITS });
      expect(p.deviceId).toHaveLength(16);
      await load(ch, ks, ledger, 10_000);
      const trusted = ks.keys().map(({ kid, suite, pub }) => ({ kid, suite, pub }));
      const pay = await posCharge(ch, { merchant: Buffer.from("00000000000000a1", "hex"), currency: CURRENCY_CNY, trusted, revoked: new Set() }, 2_500, { store: () => undefined });
      expect(pay.balanceAfter).toBe(7_500);
      // long responses (certificates, vouchers) cross several continuation reports
      expect((await new WalletCard(ch).getCertificate()).length).toBeGreaterThan(59);
    } finally {
      await ch.close();
      await ledger.close();
    }
    expect(band.aborts).toBe(0);
    expect(lines.some((l) => l.startsWith("> hid-udp:") && l.includes("80360000"))).toBe(true); // PAY traced
    expect(lines.filter((l) => l.startsWith("< ")).every((l) => /[0-9a-f]{4} SW_\w+ [\d.]+ ms$/.test(l))).toBe(true);
  });

  it("an endpoint nobody answers is a device error after the timeout", async () => {
    const s = createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    const port = s.address().port;
    const err = await HidChannel.udp(`127.0.0.1:${port}`, { timeoutMs: 300 }).catch((e) => e);
    s.close();
    expect(err).toBeInstanceOf(WalletError);
    expect((err as WalletError).exitCode).toBe(EXIT_DEVICE);
    expect((err as Error).message).toMatch(/hid-udp:127.0.0.1:\d+: no answer within/);
  });
});

describe("in-process (SimChannel over wearable-sim's InProcessTransport)", () => {
  it("a mute device stays mute, as on every real link; an off device is powered up by the first APDU", async () => {
    const d = createDevice({ firmware: ECHO_FIRMWARE, ...ECHO_GEOMETRY });
    const ch = new SimChannel(d);
    expect(d.state).toBe("off");
    expect((await ch.transmit(echoApdu(0x07))).length).toBeGreaterThanOrEqual(2);
    expect(d.state).toBe("on");
    // the echo firmware aborts on INS 08: the device goes mute
    const err = await ch.transmit(echoApdu(0x08)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WalletError);
    expect((err as WalletError).exitCode).toBe(EXIT_DEVICE);
    expect((err as Error).message).toMatch(/did not answer \(mute\)/);
    expect(await ch.transmit(echoApdu(0x07)).catch((e: unknown) => e)).toBeInstanceOf(WalletError);
    expect({ state: d.state, aborts: d.aborts }).toEqual({ state: "mute", aborts: 1 });
    await ch.close();
  });
});
