// What is trusted when (SPEC §5.12;
// host-tools/src/trust.ts), on simulated devices running the real firmware.wasm: the POS
// refuses a device whose certificate has expired (or is not yet valid) at the terminal's
// time, and one certified under a key revoked as compromised; load refuses an expired
// device; reconciliation judges each voucher against its certificate's validity at the
// voucher's time, and trusts a certificate under a compromised key only when the bank
// registered it before the revocation. Measured before: the POS and reconcile accepted
// expired certificates.
import { describe, expect, it } from "vitest";
import { refusal } from "./support/wallet-errors.ts";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CERT_SCHEMA, decodeSigned, type DeviceCert } from "../protocol/src/formats.ts";
import { WalletCard } from "../host-tools/src/card.ts";
import { SimChannel } from "../host-tools/src/channels/sim.ts";
import { Device } from "../wearable-sim/src/index.ts";
import { load, personalize, posCharge, type PersonalizeRequest } from "../host-tools/src/flows.ts";
import { Keystore } from "../host-tools/src/keystore.ts";
import { SqliteLedger } from "../host-tools/src/ledger/sqlite.ts";
import { parseInput, reconcile, POS_EXPORT_FORMAT } from "../host-tools/src/reconcile.ts";
import { CURRENCY_CNY, DEFAULT_LIMITS } from "../host-tools/src/synthetic.ts";
import { hex, issueLoad } from "../host-tools/src/docs.ts";
import { runCaptured } from "../host-tools/src/run-captured.ts";
import { WalletError, EXIT_REFUSED } from "../host-tools/src/errors.ts";
import { ledgerKeys, posTrust } from "../host-tools/src/trust.ts";

const dir = mkdtempSync(join(tmpdir(), "host-trust-"));
const MERCHANT = Uint8Array.from(Buffer.from("00000000000000d4", "hex"));
let n = 0;
const req = (over: Partial<PersonalizeRequest> = {}): PersonalizeRequest => ({
  account: `6224${++n}`, suite: "p256", formFactor: "card", currency: CURRENCY_CNY, limits: DEFAULT_LIMITS, pin: "1234", ...over,
});
const newDevice = () => {
  const d = new Device({ profile: "card", seed: `trust-${++n}`, autoConfirm: "accept" });
  d.powerOn();
  return d;
};
const certOf = (c: Uint8Array) => decodeSigned<DeviceCert>(c, CERT_SCHEMA).doc;
const nowS = () => Math.floor(Date.now() / 1000);


/** A voucher as a terminal without these checks would take it: PAY at `time`, straight to the card. */
async function rawPay(d: Device, amount: number, time: number): Promise<Uint8Array> {
  const card = new WalletCard(new SimChannel(d));
  await card.select();
  return card.pay({ amount, currency: CURRENCY_CNY, payee: MERCHANT, challenge: new Uint8Array(randomBytes(16)), time });
}

function posFile(name: string, vouchers: Uint8Array[]): string {
  const f = join(dir, name);
  writeFileSync(f, JSON.stringify({ format: POS_EXPORT_FORMAT, version: 1, terminal: "t", merchant: hex(MERCHANT), exportedAt: "x", vouchers: vouchers.map((v) => ({ cose: hex(v), receivedAt: "x" })) }));
  return f;
}

describe("certificate validity and key states (SPEC §5.12)", () => {
  const ks = Keystore.create(join(dir, "ks.json"), "trust passphrase");
  const cfg = () => ({ merchant: MERCHANT, currency: CURRENCY_CNY, ...posTrust(ks.keys(), []) });

  it("POS: a certificate expired or not yet valid at the terminal's time is declined; valid, approved", async () => {
    const ledger = SqliteLedger.open(join(dir, "pos.sqlite"));
    const d = newDevice();
    const p = await personalize(new SimChannel(d), ks, ledger, req({ certValidity: 3600 }));
    await load(new SimChannel(d), ks, ledger, 5_000);
    const c = certOf((await ledger.device(p.deviceId))!.cert!);
    expect(c.notAfter - nowS()).toBeLessThanOrEqual(3600);
    expect((await posCharge(new SimChannel(d), cfg(), 100, { store: () => undefined, time: c.notAfter })).approved).toBe(true);
    expect(await refusal(posCharge(new SimChannel(d), cfg(), 100, { store: () => undefined, time: c.notAfter + 1 }))).toMatch(/^declined: certificate expired at .* \(time /);
    expect(await refusal(posCharge(new SimChannel(d), cfg(), 100, { store: () => undefined, time: c.notBefore - 1 }))).toMatch(/^declined: certificate not valid before /);
    await ledger.close();
  });

  it("reconcile: a voucher made after its certificate expired is rejected (not settled, no fraud case); the ones before settle", async () => {
    const ledger = SqliteLedger.open(join(dir, "rec.sqlite"));
    const d = newDevice();
    const p = await personalize(new SimChannel(d), ks, ledger, req({ certValidity: 3600 }));
    await load(new SimChannel(d), ks, ledger, 5_000);
    const c = certOf((await ledger.device(p.deviceId))!.cert!);
    const before = await rawPay(d, 300, c.notAfter - 10);
    const after = await rawPay(d, 400, c.notAfter + 60);
    const r = await reconcile(ledger, [parseInput(posFile("rec.json", [before, after]))]);
    expect(r.newVouchers).toBe(1);
    expect(r.rejected).toBe(1);
    expect(r.newFraudCases).toEqual([]);
    const rej = await ledger.rejected();
    expect(rej).toHaveLength(1);
    expect(rej[0].reason).toMatch(/^voucher #2: certificate expired at .* \(time /);
    const sum = await ledger.summary();
    expect(sum.settledToMerchants).toBe(300);
    expect(sum.fraudCases).toBe(0);
    await ledger.close();
  });

  it("reconcile: that voucher with altered signature bytes beside it opens no case in any order of arrival, one import or two; the record is the genuine voucher's", async () => {
    const d = newDevice();
    const setup = SqliteLedger.open(join(dir, "policy-twin-setup.sqlite"));
    const p = await personalize(new SimChannel(d), ks, setup, req({ certValidity: 3600 }));
    await load(new SimChannel(d), ks, setup, 5_000);
    const c = certOf((await setup.device(p.deviceId))!.cert!);
    const v = await rawPay(d, 400, c.notAfter + 60); // genuine, refused by the trust rules
    const g = Uint8Array.from(v);
    g[g.length - 5] ^= 0x40; // the same signed part, a signature that does not verify
    await setup.close();
    const orders: Record<string, Uint8Array[][]> = { "v,g": [[v, g]], "g,v": [[g, v]], "v | g": [[v], [g]], "g | v": [[g], [v]] };
    for (const [name, imports] of Object.entries(orders)) {
      const file = join(dir, `policy-twin-${name.replace(/\W+/g, "_")}.sqlite`);
      copyFileSync(join(dir, "policy-twin-setup.sqlite"), file);
      const ledger = SqliteLedger.open(file);
      for (const [k, docs] of imports.entries()) await reconcile(ledger, [parseInput(posFile(`${name}-${k}.json`, docs))]);
      const open = await ledger.fraudCases();
      const rej = await ledger.rejected();
      expect([name, open.map((x) => x.kind), rej.length]).toEqual([name, [], 1]);
      expect([name, rej[0].reason]).toEqual([name, expect.stringMatching(/^voucher #1: certificate expired at .*\(refused by the trust rules\)$/)]);
      expect([name, Buffer.from(rej[0].cose).equals(Buffer.from(v))]).toEqual([name, true]);
      await ledger.close();
    }
  });

  it("load refuses a device whose certificate has expired", async () => {
    const ledger = SqliteLedger.open(join(dir, "load.sqlite"));
    const d = newDevice();
    await personalize(new SimChannel(d), ks, ledger, req({ certValidity: -86400 + 1 })); // valid until one second after not-before: long gone
    expect(await refusal(load(new SimChannel(d), ks, ledger, 1_000))).toMatch(/^load: device .*: certificate expired at /);
    await ledger.close();
  });

  it("a key revoked as compromised: the POS declines its certificates; reconcile trusts only those registered before the revocation", async () => {
    const ks2 = Keystore.create(join(dir, "ks2.json"), "trust passphrase");
    const ledger = SqliteLedger.open(join(dir, "comp.sqlite"));
    const early = newDevice();
    const late = newDevice();
    const pe = await personalize(new SimChannel(early), ks2, ledger, req());
    const pl = await personalize(new SimChannel(late), ks2, ledger, req());
    for (const d of [early, late]) await load(new SimChannel(d), ks2, ledger, 5_000);
    const ve = await rawPay(early, 200, nowS());
    const vl = await rawPay(late, 250, nowS());
    // the bank registered `early` long ago; the key is found compromised since an hour ago
    await ledger.putDevice({ ...(await ledger.device(pe.deviceId))!, personalizedAt: "2020-01-01T00:00:00.000Z" });
    const kid = ks2.signingKey("p256").kid;
    ks2.revokeKey(hex(kid), new Date((nowS() - 3600) * 1000));
    await ledger.putIssuerKeys(ledgerKeys(ks2.keys()));
    const pos = { merchant: MERCHANT, currency: CURRENCY_CNY, ...posTrust(ks2.keys(), []) };
    expect(await refusal(posCharge(new SimChannel(early), pos, 100, { store: () => undefined }))).toMatch(new RegExp(`^declined: certificate: issuer key ${hex(kid)} was revoked as compromised at .*: the device must be recalled`));
    const r = await reconcile(ledger, [parseInput(posFile("comp.json", [ve, vl]))]);
    expect(r.newVouchers).toBe(1);
    expect(r.rejected).toBe(1);
    expect(r.newFraudCases).toEqual([]);
    const rej = await ledger.rejected();
    expect(rej[0].deviceId).toBe(pl.deviceId);
    expect(rej[0].reason).toMatch(/revoked as compromised at .*, before this certificate was registered/);
    expect((await ledger.summary()).settledToMerchants).toBe(200);
    await ledger.close();
  });
});

describe("wallet issuer revoke-key (a compromised key)", () => {
  it("the device's slot holding it is replaced over the secure channel at sync: a load forged with the stolen key is refused after; POS declines, load refuses, the device is listed for recall", async () => {
    const home = mkdtempSync(join(tmpdir(), "revoke-key-"));
    const env = { ...process.env, WALLET_PASSPHRASE: "revoke key pass", WALLET_HOME: home };
    const img = (x: string) => join(home, `${x}.img`);
    const ok = async (...argv: string[]) => {
      const r = await runCaptured([...argv, "--json"], env);
      expect(r.code, `${argv.join(" ")}: ${r.err}`).toBe(0);
      return JSON.parse(r.out);
    };
    await ok("issuer", "init");
    const dev = await ok("personalize", "--sim", img("a"), "--create", "--account", "6224-a", "--suite", "p256", "--form", "card", "--alias", "a");
    await ok("load", "a", "50.00", "--sim", img("a"));
    const k0 = (await ok("issuer", "show")).keys.find((k: { suite: string; status: string }) => k.suite === "p256" && k.status === "active").kid;
    const stolen = Keystore.open(join(home, "keystore.json"), "revoke key pass").signingKey("p256");
    const r = await ok("issuer", "revoke-key", k0);
    expect(r.revoked).toMatchObject({ kid: k0, status: "compromised" });
    expect(r.added.kid).not.toBe(k0);
    expect(r.recall.map((d: { alias: string }) => d.alias)).toEqual(["a"]);
    expect(r.holders).toBe(1);
    const shown = (await ok("issuer", "show")).keys.filter((k: { suite: string }) => k.suite === "p256");
    expect(shown.map((k: { status: string }) => k.status)).toEqual(["compromised", "active"]);

    // a thief with the stolen key forges a load for the device: before the sync, it would take it
    const forge = async (seq: number) => {
      const ch = SimChannel.open({ imagePath: img("a"), profile: "card", autoConfirm: "accept" });
      try {
        const card = new WalletCard(ch);
        await card.select();
        const st = await card.status();
        const auth = issueLoad({ suite: "p256", kid: stolen.kid, key: stolen.key }, { deviceId: Buffer.from(dev.devices[0].deviceId, "hex"), seq, amount: 100, currency: CURRENCY_CNY, expiry: st.latestTime + 3600 });
        await card.load(st.latestTime, auth);
        return "taken";
      } catch (e) {
        return (e as Error).message;
      } finally {
        await ch.close();
      }
    };
    expect(await forge(2)).toBe("taken");
    const s = await ok("sync", "--sim", img("a"));
    expect(s.entries).toBeGreaterThan(0);
    expect(await forge(3)).toMatch(/LOAD: 6A88/);
    // the ledger knows the slot was rewritten: no device holds the compromised key any more
    const after = (await ok("issuer", "show")).keys.filter((k: { suite: string }) => k.suite === "p256");
    expect(after.map((k: { status: string; devices: number }) => [k.status, k.devices])).toEqual([["compromised", 0], ["active", 1]]);
    // its certificate is under the compromised key: POS declines, load refuses; sync still runs
    await ok("issuer", "export-public", "--out", join(home, "trust.json"));
    await ok("pos", "init", "--merchant", "00000000000000e5", "--trust", join(home, "trust.json"));
    const pos = await runCaptured(["pos", "charge", "1.00", "--sim", img("a")], env);
    expect(pos.code).toBe(7);
    expect(pos.err).toMatch(/revoked as compromised .*must be recalled/);
    const l = await runCaptured(["load", "a", "1.00", "--sim", img("a")], env);
    expect(l.code).toBe(7);
    expect(l.err).toMatch(/revoked as compromised/);
    await ok("sync", "--sim", img("a"));
    // one repair over the secure channel, not one per sync
    const l2 = SqliteLedger.open(join(home, "ledger.sqlite"));
    expect((await l2.auditEntries()).filter((e) => e.action === "issuer-key-replaced")).toHaveLength(1);
    // the load forged before the repair is caught at that sync: its receipt names no issued load
    expect((await l2.fraudCases()).map((c) => c.kind)).toEqual(["unissued-load"]);
    await l2.close();
  });
});
