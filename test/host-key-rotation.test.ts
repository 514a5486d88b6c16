// Issuer key rotation that devices in service follow (host-tools/README "Key ceremony"; SPEC §3.3 SYNC, §5.8 SYNCACK_KEY_NEW_KID / NEW_KEY): rotate, sync, rotate, sync,
// retire, load, pay, reconcile over simulated devices running the real firmware.wasm.
// Measured before: after two rotations a device personalized before both could no longer
// sync or load (6A88), because no command told devices in service about a new key.
import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimChannel } from "../host-tools/src/channels/sim.ts";
import { Device } from "../wearable-sim/src/index.ts";
import { load, personalize, posCharge, sync, type PersonalizeRequest, type PosPayment } from "../host-tools/src/flows.ts";
import { Keystore } from "../host-tools/src/keystore.ts";
import { SqliteLedger } from "../host-tools/src/ledger/sqlite.ts";
import { parseInput, reconcile, POS_EXPORT_FORMAT } from "../host-tools/src/reconcile.ts";
import { CURRENCY_CNY, DEFAULT_LIMITS } from "../host-tools/src/synthetic.ts";
import { hex } from "../host-tools/src/docs.ts";
import { runCaptured } from "../host-tools/src/run-captured.ts";
import { dependentsOf, deviceIssuerSlots, ledgerKeys, posTrust, retireKey } from "../host-tools/src/trust.ts";

const dir = mkdtempSync(join(tmpdir(), "key-rotation-"));
const MERCHANT = Uint8Array.from(Buffer.from("00000000000000b7", "hex"));
let n = 0;
const req = (over: Partial<PersonalizeRequest> = {}): PersonalizeRequest => ({
  account: `6223${++n}`, suite: "p256", formFactor: "card", currency: CURRENCY_CNY, limits: DEFAULT_LIMITS, pin: "1234", ...over,
});
const newDevice = () => {
  const d = new Device({ profile: "card", seed: `rotation-${++n}`, autoConfirm: "accept" });
  d.powerOn();
  return d;
};

describe("issuer key rotation that devices follow", () => {
  it("rotate, sync, rotate, sync, retire, load, pay, reconcile: 0 failures, 0 fraud cases; a device that never synced is named by retire", async () => {
    const ks = Keystore.create(join(dir, "ks.json"), "rotation passphrase");
    const ledger = SqliteLedger.open(join(dir, "ledger.sqlite"));
    const k0 = ks.signingKey("p256").kid;
    const a = newDevice();
    const b = newDevice(); // personalized with A, never synced
    const pa = await personalize(new SimChannel(a), ks, ledger, req());
    const pb = await personalize(new SimChannel(b), ks, ledger, req());
    await load(new SimChannel(a), ks, ledger, 5_000);

    ks.rotate(["p256"]);
    const k1 = ks.signingKey("p256").kid;
    await sync(new SimChannel(a), ks, ledger);
    ks.rotate(["p256"]);
    const k2 = ks.signingKey("p256").kid;
    await sync(new SimChannel(a), ks, ledger);
    // the device learned both new keys; the oldest (k0) left its slots
    expect((await deviceIssuerSlots(ledger, (await ledger.device(pa.deviceId))!)).sort()).toEqual([hex(k1), hex(k2)].sort());
    expect(ks.keys().filter((k) => k.suite === "p256").map((k) => k.status)).toEqual(["trusted", "trusted", "active"]);

    // retiring k0: B still depends on it only, so retire refuses and names B
    const deps = await dependentsOf(ks.keys(), ledger, hex(k0));
    expect(deps.map((d) => d.deviceId)).toEqual([pb.deviceId]);
    expect(() => retireKey(ks, hex(k0), deps, {})).toThrow(new RegExp(`still depend.*${pb.deviceId}`));
    expect(ks.keys().find((k) => k.kid === hex(k0))!.status).toBe("trusted");
    retireKey(ks, hex(k0), deps, { force: true });
    expect(ks.keys().find((k) => k.kid === hex(k0))!.status).toBe("retired");
    await ledger.putIssuerKeys(ledgerKeys(ks.keys()));

    // A loads (signed by a key it holds), pays, syncs; the POS export reconciles clean
    const l = await load(new SimChannel(a), ks, ledger, 2_000);
    expect(l.outcome).toBe("loaded");
    const outbox: PosPayment[] = [];
    const cfg = { merchant: MERCHANT, currency: CURRENCY_CNY, ...posTrust(ks.keys(), []) };
    for (const amount of [300, 400]) await posCharge(new SimChannel(a), cfg, amount, { store: (p) => void outbox.push(p) });
    await sync(new SimChannel(a), ks, ledger);
    const file = join(dir, "pos.json");
    writeFileSync(file, JSON.stringify({ format: POS_EXPORT_FORMAT, version: 1, terminal: "t", merchant: hex(MERCHANT), exportedAt: "x", vouchers: outbox.map((p) => ({ cose: hex(p.voucher), receivedAt: "x" })) }));
    const r = await reconcile(ledger, [parseInput(file)]);
    expect(r.rejected).toBe(0);
    expect(r.newFraudCases).toEqual([]);
    expect((await ledger.fraudCases()).length).toBe(0);
    const sum = await ledger.summary();
    expect(sum.devices.find((x) => x.deviceId === pa.deviceId)).toMatchObject({ loaded: 7_000, spent: 700, fraud: 0 });
    expect(sum.settledToMerchants).toBe(700);
    await ledger.close();
  });

  it("CLI: issuer show lists states and devices per key; issuer retire names the device that never synced, --force retires", async () => {
    const home = mkdtempSync(join(tmpdir(), "key-rotation-cli-"));
    const env = { ...process.env, WALLET_PASSPHRASE: "rotation cli pass", WALLET_HOME: home };
    const img = (x: string) => join(home, `${x}.img`);
    const run = (...argv: string[]) => runCaptured(argv, env);
    const ok = async (...argv: string[]) => {
      const r = await run(...argv, "--json");
      expect(r.code, `${argv.join(" ")}: ${r.err}`).toBe(0);
      return JSON.parse(r.out);
    };
    await ok("issuer", "init");
    for (const x of ["syncs", "never"]) await ok("personalize", "--sim", img(x), "--create", "--account", `6223-${x}`, "--suite", "p256", "--form", "card", "--alias", x);
    const k0 = (await ok("issuer", "show")).keys.find((k: { suite: string }) => k.suite === "p256").kid;
    await ok("issuer", "rotate", "--suite", "p256");
    await ok("sync", "--sim", img("syncs"));
    await ok("issuer", "rotate", "--suite", "p256");
    await ok("sync", "--sim", img("syncs"));
    const shown = (await ok("issuer", "show")).keys.filter((k: { suite: string }) => k.suite === "p256");
    expect(shown.map((k: { status: string; devices: number; dependOnly: number }) => [k.status, k.devices, k.dependOnly])).toEqual([
      ["trusted", 1, 1], // k0: held by "never" only
      ["trusted", 1, 0],
      ["active", 1, 0],
    ]);
    const r = await run("issuer", "retire", k0);
    expect(r.code).toBe(7);
    expect(r.err).toMatch(/1 registered device\(s\) still depend on key .* only: never \(/);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    const forced = await ok("issuer", "retire", k0, "--force");
    expect(forced.forcedDevices.map((d: { alias: string }) => d.alias)).toEqual(["never"]);
    expect((await ok("issuer", "show")).keys.find((k: { kid: string }) => k.kid === k0).status).toBe("retired");
    // the device that synced goes on: load, and a POS configured from export-public accepts it
    await ok("load", "syncs", "20.00", "--sim", img("syncs"));
    await ok("issuer", "export-public", "--out", join(home, "trust.json"));
    await ok("pos", "init", "--merchant", "00000000000000c1", "--trust", join(home, "trust.json"));
    expect((await ok("pos", "charge", "3.00", "--sim", img("syncs"))).approved).toBe(true);
  });
});
