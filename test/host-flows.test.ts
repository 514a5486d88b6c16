// Host flows against the real firmware.wasm in simulated devices (DESIGN.md §6, §8):
// personalization over SCP03 (both suites, resumable after a power cut), load (cap
// refused by the tool), POS charge (offline verification, PIN above no-CVM, revoked
// device declined, outbox before approval), transfer, sync, and a cloned card caught.
import { beforeAll, describe, expect, it } from "vitest";
import { refusal } from "./support/wallet-errors.ts";
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Device } from "../wearable-sim/src/index.ts";
import { SimChannel } from "../host-tools/src/channels/sim.ts";
import { load, personalize, posCharge, sync, transfer, type PersonalizeRequest, type PosPayment } from "../host-tools/src/flows.ts";
import { Keystore } from "../host-tools/src/keystore.ts";
import { SqliteLedger } from "../host-tools/src/ledger/sqlite.ts";
import { parseInput, reconcile, POS_EXPORT_FORMAT } from "../host-tools/src/reconcile.ts";
import { CURRENCY_CNY, DEFAULT_LIMITS } from "../host-tools/src/synthetic.ts";
import { WalletError, EXIT_REFUSED } from "../host-tools/src/errors.ts";
import { hex } from "../host-tools/src/docs.ts";
import { runCaptured } from "../host-tools/src/run-captured.ts";

const dir = mkdtempSync(join(tmpdir(), "host-flows-"));
const ks = Keystore.create(join(dir, "ks.json"), "flows passphrase");
const trusted = ks.keys().map(({ kid, suite, pub }) => ({ kid, suite, pub }));
const MERCHANT = Uint8Array.from(Buffer.from("00000000000000a1", "hex"));
let n = 0;
const req = (over: Partial<PersonalizeRequest> = {}): PersonalizeRequest => ({
  account: `6222${++n}`, suite: "p256", formFactor: "card", currency: CURRENCY_CNY, limits: DEFAULT_LIMITS, pin: "1234", ...over,
});
const newDevice = (profile: "card" | "band" | "watch" = "card") => {
  const d = new Device({ profile, seed: `flows-${++n}`, autoConfirm: "accept" });
  d.powerOn();
  return d;
};
const ledgerFile = () => SqliteLedger.open(join(dir, `l${++n}.sqlite`));
const pos = (revoked: string[] = []) => ({ merchant: MERCHANT, currency: CURRENCY_CNY, trusted, revoked: new Set(revoked) });


describe("host flows on the real firmware", () => {
  let ledger: SqliteLedger;
  beforeAll(() => {
    ledger = ledgerFile();
  });

  it("personalizes a P-256 card and an SM2 band; the ledger holds their verified certificates", async () => {
    for (const [profile, suite] of [["card", "p256"], ["band", "sm2"]] as const) {
      const d = newDevice(profile);
      const q = req({ suite, formFactor: profile, pin: undefined });
      const r = await personalize(new SimChannel(d), ks, ledger, q);
      expect(r.steps.at(-1)).toBe("finalize");
      expect(r.pin).toMatch(/^\d{6}$/);
      const rec = (await ledger.device(r.deviceId))!;
      expect(rec).toMatchObject({ suite, formFactor: profile, state: "active" });
      expect(await ledger.accountFor(rec.token)).toMatch(/^6222/);
      // again on the same device for the same account: nothing to do
      const again = await personalize(new SimChannel(d), ks, ledger, q);
      expect(again.alreadyDone).toBe(true);
      // for another account: refused, never counted as done
      expect(await refusal(personalize(new SimChannel(d), ks, ledger, req({ suite, formFactor: profile })))).toMatch(/already personalized for another account/);
    }
    expect((await ledger.verifyAudit()).ok).toBe(true);
  });

  it("a power cut during personalization leaves a device the next run finishes", async () => {
    const d = newDevice();
    d.cutPowerAfter(6, "random");
    await expect(personalize(new SimChannel(d), ks, ledger, req())).rejects.toThrow();
    d.disarmPowerCut();
    d.powerOff();
    d.powerOn();
    const r = await personalize(new SimChannel(d), ks, ledger, req());
    expect(r.resumed).toBe(true);
    expect((await ledger.device(r.deviceId))?.state).toBe("active");
  });

  it("a lost FINALIZE answer (card pulled) is confirmed by the next run; the PIN was saved before", async () => {
    const d = newDevice();
    const inner = new SimChannel(d);
    const lossy = {
      name: inner.name,
      close: () => inner.close(),
      async transmit(apdu: Uint8Array) {
        const r = await inner.transmit(apdu);
        if (apdu[1] === 0x1c) throw new WalletError("pcsc: card removed", 3); // FINALIZE processed, answer lost
        return r;
      },
    };
    const saved: string[] = [];
    const q = req({ pin: undefined });
    await expect(personalize(lossy, ks, ledger, q, { beforeFinalize: (x) => void saved.push(x.pin) })).rejects.toThrow(/card removed/);
    expect(saved).toHaveLength(1);
    const again = await personalize(new SimChannel(d), ks, ledger, q);
    expect(again).toMatchObject({ alreadyDone: true, resumed: true });
    expect((await ledger.device(again.deviceId))?.state).toBe("active");
  });

  it("load: issuer-signed, receipt verified and recorded; above the cap refused by the tool", async () => {
    const d = newDevice();
    const ch = new SimChannel(d);
    const p = await personalize(ch, ks, ledger, req());
    const r = await load(ch, ks, ledger, 60_000);
    expect(r).toMatchObject({ seq: 1, balance: 60_000 });
    expect(await refusal(load(ch, ks, ledger, 50_000))).toMatch(/would exceed the cap 1000.00/);
    expect((await ledger.loads(p.deviceId)).map((l) => l.amount)).toEqual([60_000]);
  });

  it("POS charge: verified offline and stored before approval; PIN above no-CVM; revoked declined", async () => {
    const d = newDevice();
    const ch = new SimChannel(d);
    const p = await personalize(ch, ks, ledger, req({ pin: "4321" }));
    await load(ch, ks, ledger, 30_000);
    const stored: PosPayment[] = [];
    const ok = await posCharge(ch, pos(), 1_000, { store: (x) => void stored.push(x) });
    expect(stored).toEqual([{ ...ok, recovered: undefined }].map(({ recovered, ...x }) => x));
    expect(ok).toMatchObject({ deviceId: p.deviceId, counter: 1, amount: 1_000, balanceAfter: 29_000 });
    // above the no-CVM limit a card needs the PIN in this session
    await expect(posCharge(ch, pos(), DEFAULT_LIMITS.noCvm + 1, { store: () => undefined })).rejects.toThrow(/^declined by the device: PAY: 6982 .*REASON_HOLDER/);
    const withPin = await posCharge(ch, pos(), DEFAULT_LIMITS.noCvm + 1, { pin: "4321", store: (x) => void stored.push(x) });
    expect(withPin.counter).toBe(2);
    expect(await refusal(posCharge(ch, pos([p.deviceId]), 100, { store: () => undefined }))).toMatch(/revocation list/);
    // a store that fails means no approval
    await expect(posCharge(ch, pos(), 100, { store: () => { throw new Error("disk full"); } })).rejects.toThrow("disk full");
  });

  it("transfer, sync and a cloned card spending twice: the fork is caught at reconciliation", async () => {
    const l = ledgerFile();
    const a = newDevice();
    const w = newDevice("watch");
    const ca = new SimChannel(a);
    const cw = new SimChannel(w);
    const pa = await personalize(ca, ks, l, req());
    await personalize(cw, ks, l, req({ formFactor: "watch" }));
    await load(ca, ks, l, 40_000);
    await load(cw, ks, l, 20_000);
    const t = await transfer(cw, ca, 3_000, l);
    expect(t.receipt.balanceAfter).toBe(43_000);
    const outbox: PosPayment[] = [];
    const store = (x: PosPayment) => void outbox.push(x);
    await posCharge(ca, pos(), 500, { store });
    const cloneDev = new Device({ profile: "card", seed: "flows-clone", flash: a.flash.clone() });
    cloneDev.powerOn();
    await posCharge(ca, pos(), 700, { store });
    await posCharge(new SimChannel(cloneDev), pos(), 900, { store });
    const s = await sync(ca, ks, l);
    expect(s.entries).toBeGreaterThanOrEqual(4);
    expect((await ca.device.transmit(Uint8Array.of(0x80, 0x3a, 0, 0, 0))).slice(-2)).toEqual(Uint8Array.of(0x6a, 0x83)); // log pruned
    await sync(cw, ks, l);
    const file = join(dir, "pos.json");
    writeFileSync(file, JSON.stringify({ format: POS_EXPORT_FORMAT, version: 1, terminal: "t", merchant: hex(MERCHANT), exportedAt: "x", vouchers: outbox.map((p) => ({ cose: hex(p.voucher), receivedAt: "x" })) }));
    const r = await reconcile(l, [parseInput(file)]);
    expect(r.newFraudCases.map((c) => [c.kind, c.deviceId, c.counter])).toEqual([["fork", pa.deviceId, 2], ["fork", pa.deviceId, 2]]);
    const sum = await l.summary();
    expect(sum.merchants).toEqual([{ payee: hex(MERCHANT), vouchers: 3, settled: 500, pending: 0, held: 1_600 }]);
    expect(sum.devices.find((x) => x.deviceId === pa.deviceId)).toMatchObject({ received: 3_000, fraud: 2 });
  });
});

describe("new limits through sync", () => {
  it("limits set in the ledger reach the device in the signed acknowledgement", async () => {
    const l = ledgerFile();
    const d = newDevice();
    const ch = new SimChannel(d);
    const p = await personalize(ch, ks, l, req());
    await load(ch, ks, l, 5_000);
    const rec = (await l.device(p.deviceId))!;
    await l.putDevice({ ...rec, pendingLimits: { ...rec.limits, cap: 8_000, maxPayment: 700 } });
    const s = await sync(ch, ks, l);
    expect(s.newLimits).toMatchObject({ cap: 8_000, maxPayment: 700 });
    const { WalletCard } = await import("../host-tools/src/card.ts");
    expect((await new WalletCard(ch).status()).cap).toBe(8_000);
    expect(await l.device(p.deviceId)).toMatchObject({ limits: { cap: 8_000 }, pendingLimits: null });
    // the certificate still says the old maximum: the device itself refuses (6985)
    await expect(posCharge(ch, pos(), 800, { store: () => undefined })).rejects.toThrow(/^declined by the device: PAY: 6985 .*REASON_MAX_PAYMENT/);
  });
});

describe("personalize batch (CLI, --sim DIR)", () => {
  it("reports a failing device and goes on; a re-run skips finished rows; PIN mailer is 0600", async () => {
    const home = mkdtempSync(join(tmpdir(), "host-batch-"));
    const env = { ...process.env, WALLET_PASSPHRASE: "batch passphrase", WALLET_HOME: home };
    const quiet = (...argv: string[]) => runCaptured(argv, env);
    expect((await quiet("issuer", "init")).code).toBe(0);
    const csv = join(home, "batch.csv");
    writeFileSync(csv, "account,suite,form,pin\n1001,p256,card,1111\n1002,sm2,band,\n1003,p256,watch,3333\n");
    // row 2's "device" is a card already personalized by another issuer: it must fail alone
    mkdirSync(join(home, "sims"));
    const foreign = new Device({ profile: "band", imagePath: join(home, "sims", "device-2.img"), autoConfirm: "accept" });
    foreign.powerOn();
    const otherKs = Keystore.create(join(home, "other.json"), "other passphrase");
    await personalize(new SimChannel(foreign), otherKs, ledgerFile(), req({ suite: "sm2", formFactor: "band" }));
    foreign.flash.flush();
    const first = await quiet("personalize", csv, "--sim", join(home, "sims"), "--create", "--json");
    expect(first.code, "a batch with a failed row exits with that row's code").toBe(EXIT_REFUSED);
    const rep = JSON.parse(first.out);
    expect(rep).toMatchObject({ ok: false, exitCode: EXIT_REFUSED, personalized: 2, resumed: 0, skipped: 0, failed: 1 });
    expect(rep.devices.map((d: { status: string }) => d.status)).toEqual(["personalized", "failed", "personalized"]);
    expect(rep.devices[1].error).toMatch(/not blank/);
    expect(statSync(rep.pinMailer).mode & 0o777).toBe(0o600);
    expect(readFileSync(rep.pinMailer, "utf8")).toMatch(/,1111,\d{8}\n/);
    const second = await quiet("personalize", csv, "--sim", join(home, "sims"), "--create", "--json");
    expect(JSON.parse(second.out).devices.map((d: { status: string }) => d.status)).toEqual(["skipped", "failed", "skipped"]);
  });
});
