// The money path between a device and the ledger (DESIGN §8; SPEC §5.10), on the real
// firmware.wasm in simulated devices: every lost answer, refusal and crash ends in one
// truth. Each test is the regression test of one measured defect: it failed on the code
// before the fix (the defect's effect is named in the test's title).
import { beforeAll, describe, expect, it } from "vitest";
import { walletFailure } from "./support/wallet-errors.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as A from "../protocol/portable/apdu.ts";
import { LC_LOCKED } from "../protocol/portable/lifecycle.ts";
import { Device } from "../wearable-sim/src/index.ts";
import { SimChannel } from "../host-tools/src/channels/sim.ts";
import { WalletCard } from "../host-tools/src/card.ts";
import { issueLoad, hex } from "../host-tools/src/docs.ts";
import { EXIT_DATA, EXIT_DEVICE, EXIT_REFUSED, WalletError } from "../host-tools/src/errors.ts";
import { load, personalize, posCharge, posRecover, signerFor, sync, transfer, type PersonalizeRequest } from "../host-tools/src/flows.ts";
import { Keystore } from "../host-tools/src/keystore.ts";
import type { Ledger } from "../host-tools/src/ledger/ledger.ts";
import { PosOutbox } from "../host-tools/src/pos-outbox.ts";
import { POS_EXPORT_FORMAT, parseInput, reconcile } from "../host-tools/src/reconcile.ts";
import { CURRENCY_CNY, DEFAULT_LIMITS, PaperDevice } from "../host-tools/src/synthetic.ts";
import { LossyChannel } from "./support/lossy-channel.ts";
import { BACKENDS, type Backend } from "./support/ledger-backends.ts";

const dir = mkdtempSync(join(tmpdir(), "money-path-"));
const ks = Keystore.create(join(dir, "ks.json"), "money path passphrase");
const trusted = ks.keys().map(({ kid, suite, pub }) => ({ kid, suite, pub }));
const MERCHANT = Uint8Array.from(Buffer.from("00000000000000b1", "hex"));
const N_P256 = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
let n = 0;
const req = (over: Partial<PersonalizeRequest> = {}): PersonalizeRequest => ({
  account: `6222-mp-${++n}`, suite: "p256", formFactor: "card", currency: CURRENCY_CNY, limits: DEFAULT_LIMITS, pin: "1234", ...over,
});
let backend: Backend;
const ledgerFile = () => backend.fresh();
const pos = () => ({ merchant: MERCHANT, currency: CURRENCY_CNY, trusted, revoked: new Set<string>() });

async function walletDevice(l: Ledger, over: Partial<PersonalizeRequest> = {}, profile: "card" | "band" | "watch" = "card") {
  const d = new Device({ profile, seed: `money-${++n}`, autoConfirm: "accept" });
  d.powerOn();
  const ch = new SimChannel(d);
  const p = await personalize(ch, ks, l, req({ formFactor: profile, ...over }));
  return { d, ch, id: p.deviceId, lossy: new LossyChannel(ch) };
}

const status = async (ch: SimChannel) => {
  const c = new WalletCard(ch);
  await c.select();
  return c.status();
};

const posExport = (coses: Uint8Array[], merchant = MERCHANT) =>
  parseInput(`pos-${++n}.json`, JSON.stringify({ format: POS_EXPORT_FORMAT, version: 1, terminal: "t", merchant: hex(merchant), exportedAt: "x", vouchers: coses.map((c) => ({ cose: hex(c), receivedAt: "x" })) }));

const failure = walletFailure;

/** The signature twin (r, n − s) of a P-256 COSE_Sign1: the last 32 bytes are s. */
function twin(cose: Uint8Array): Uint8Array {
  const t = cose.slice();
  const s = BigInt("0x" + hex(t.subarray(t.length - 32)));
  t.set(Buffer.from((N_P256 - s).toString(16).padStart(64, "0"), "hex"), t.length - 32);
  return t;
}

// the same suite on both ledgers
describe.each(BACKENDS)("the money path: lost answers, refusals and third parties ($label)", (be) => {
  const it = be.it;
  let l: Ledger;
  beforeAll(async () => {
    backend = be;
    if (!be.skip) l = await ledgerFile();
  });

  it("a malleated twin (r, n−s) of a firmware voucher is no fork: the merchant is paid in full, nobody is flagged", async () => {
    const a = await walletDevice(l);
    await load(a.ch, ks, l, 50_000);
    const vs: Uint8Array[] = [];
    for (const amt of [1_200, 350]) vs.push((await posCharge(a.ch, pos(), amt, { store: () => {} })).voucher);
    await reconcile(l, [posExport(vs)]);
    // a third party presents the twin of every voucher, in another file
    const r = await reconcile(l, [posExport(vs.map(twin))]);
    expect(r.newFraudCases).toEqual([]);
    expect(r.rejected).toBe(2);
    expect((await l.rejected()).every((x) => /altered signature bytes/.test(x.reason))).toBe(true);
    expect((await l.vouchersOf(a.id)).map((v) => v.status)).toEqual(["settled", "settled"]);
    const m = (await l.summary()).merchants.find((x) => x.payee === hex(MERCHANT))!;
    expect(m.settled).toBe(1_550);
    expect((await l.fraudCases()).filter((c) => c.deviceId === a.id)).toEqual([]);
  });

  it("a lost SYNC answer does not make later honest payments fraud; the next sync confirms the ack", async () => {
    const a = await walletDevice(l, { limits: { ...DEFAULT_LIMITS, maxCountSinceSync: 3 } });
    await load(a.ch, ks, l, 50_000);
    const pay = async () => (await posCharge(a.ch, pos(), 100, { store: () => {} })).voucher;
    const before = [await pay(), await pay(), await pay()]; // the window is full
    a.lossy.arm({ ins: A.INS_SYNC, when: "after" });
    const e = await failure(sync(a.lossy, ks, l));
    expect(e.exitCode).toBe(EXIT_DEVICE);
    expect(e.message).toMatch(/answer to SYNC was lost.*run `wallet sync` again/);
    expect((await l.syncAcks(a.id)).map((x) => x.state)).toEqual(["issued"]);
    const after = [await pay(), await pay(), await pay()]; // the device applied the ack: a new window
    const r1 = await reconcile(l, [posExport([...before, ...after])]);
    expect(r1.newFraudCases).toEqual([]);
    const s = await sync(a.ch, ks, l);
    expect(s.earlierAcks).toEqual([{ time: expect.any(Number), state: "applied" }]);
    expect(s.reconcile.newFraudCases).toEqual([]);
    expect((await l.vouchersOf(a.id)).map((v) => v.status)).toEqual(Array(6).fill("settled"));
    expect((await l.fraudCases()).filter((c) => c.deviceId === a.id)).toEqual([]);
  });

  it("a SYNC lost before the device: the ack is void at the next contact and the window is the old one", async () => {
    const a = await walletDevice(l);
    await load(a.ch, ks, l, 10_000);
    a.lossy.arm({ ins: A.INS_SYNC, when: "before" });
    await failure(sync(a.lossy, ks, l));
    const s = await sync(a.ch, ks, l);
    expect(s.earlierAcks).toEqual([{ time: expect.any(Number), state: "void" }]);
    expect((await l.syncAcks(a.id)).map((x) => x.state)).toEqual(["void", "applied"]);
  });

  it("a lost LOAD answer: the retry asks the device, does not load twice, and says the earlier load was applied", async () => {
    const a = await walletDevice(l);
    a.lossy.arm({ ins: A.INS_LOAD, when: "after" });
    const e = await failure(load(a.lossy, ks, l, 5_000));
    expect(e.message).toMatch(/answer to LOAD was lost.*never loads twice/);
    expect((await l.loads(a.id)).map((x) => [x.seq, !!x.receipt])).toEqual([[1, false]]);
    expect((await l.summary()).pendingLoads).toBeGreaterThanOrEqual(5_000);
    const r = await load(a.ch, ks, l, 5_000);
    expect(r.outcome).toBe("earlier-applied");
    expect(r.settled).toEqual([{ seq: 1, amount: 5_000, state: "confirmed" }]);
    expect((await status(a.ch)).balance).toBe(5_000);
    expect((await l.loads(a.id)).map((x) => [x.seq, !!x.receipt])).toEqual([[1, true]]);
    // a second, new load is a new intent
    expect((await load(a.ch, ks, l, 1_000)).outcome).toBe("loaded");
    expect((await status(a.ch)).balance).toBe(6_000);
  });

  it("a LOAD lost before the device: the retry delivers the SAME authorization (one seq), and a different amount is refused", async () => {
    const a = await walletDevice(l);
    a.lossy.arm({ ins: A.INS_LOAD, when: "before" });
    await failure(load(a.lossy, ks, l, 7_000));
    const other = await failure(load(a.ch, ks, l, 9_000));
    expect(other.exitCode).toBe(EXIT_REFUSED);
    expect(other.message).toMatch(/earlier load of 70\.00 \(seq 1\).*unconfirmed/);
    const r = await load(a.ch, ks, l, 7_000);
    expect([r.outcome, r.seq, r.balance]).toEqual(["redelivered", 1, 7_000]);
    expect((await l.loads(a.id)).length).toBe(1);
  });

  it("a receipt for a load the bank never issued is a fraud case; receipts of issued loads confirm them", async () => {
    const a = await walletDevice(l);
    await load(a.ch, ks, l, 2_000);
    // an authorization signed with the issuer key but never recorded (a leaked signing path)
    const card = new WalletCard(a.ch);
    await card.select();
    const st = await card.status();
    const dev = (await l.device(a.id))!;
    await card.load(st.latestTime, issueLoad(signerFor(ks, dev), { deviceId: Buffer.from(a.id, "hex"), seq: st.loadSeq + 1, amount: 3_000, currency: CURRENCY_CNY, expiry: st.latestTime + 3600 }));
    const s = await sync(a.ch, ks, l);
    expect(s.reconcile.newFraudCases.map((c) => c.kind)).toEqual(["unissued-load"]);
  });

  it("changing a device's limits does not re-judge vouchers signed under the old ones", async () => {
    const a = await walletDevice(l, { limits: { ...DEFAULT_LIMITS, maxPayment: 20_000 } });
    await load(a.ch, ks, l, 50_000);
    const v = (await posCharge(a.ch, pos(), 15_000, { pin: "1234", store: () => {} })).voucher;
    await reconcile(l, [posExport([v])]);
    await l.putDevice({ ...(await l.device(a.id))!, pendingLimits: { ...DEFAULT_LIMITS, maxPayment: 10_000 } });
    const s = await sync(a.ch, ks, l);
    expect(s.newLimits?.maxPayment).toBe(10_000);
    expect(s.reconcile.newFraudCases).toEqual([]);
    expect((await l.vouchersOf(a.id)).map((x) => x.status)).toEqual(["settled"]);
    // and a later 150.00 (now above the device's limit) is refused by the device itself
    expect((await failure(posCharge(a.ch, pos(), 15_000, { pin: "1234", store: () => {} }))).exitCode).toBe(EXIT_REFUSED);
  });

  it("sync refuses to send limits the device cannot honour (cap below the balance, max payment above the cap)", async () => {
    const a = await walletDevice(l);
    await load(a.ch, ks, l, 50_000);
    for (const bad of [{ ...DEFAULT_LIMITS, cap: 40_000 }, { ...DEFAULT_LIMITS, maxPayment: DEFAULT_LIMITS.cap + 1 }]) {
      await l.putDevice({ ...(await l.device(a.id))!, pendingLimits: bad });
      const e = await failure(sync(a.ch, ks, l));
      expect(e.exitCode).toBe(EXIT_REFUSED);
      expect(e.message).toMatch(/cannot be delivered/);
    }
    expect((await l.syncAcks(a.id)).length).toBe(0);
  });

  it("a transfer to a payee without room under its cap is refused BEFORE the payer pays", async () => {
    const a = await walletDevice(l);
    const b = await walletDevice(l, {}, "watch");
    await load(a.ch, ks, l, 20_000);
    await load(b.ch, ks, l, DEFAULT_LIMITS.cap - 1_000);
    const e = await failure(transfer(a.ch, b.ch, 5_000, l));
    expect(e.message).toMatch(/exceed its cap.*nothing was paid/);
    expect((await status(a.ch)).balance).toBe(20_000);
    expect((await status(a.ch)).counter).toBe(0);
  });

  it("a transfer whose RECEIVE never arrives keeps the voucher; after the payee's sync it is unclaimed and credited to the payee's account", async () => {
    const a = await walletDevice(l);
    const b = await walletDevice(l, {}, "band");
    await load(a.ch, ks, l, 20_000);
    const lb = new LossyChannel(b.ch, [{ ins: A.INS_RECEIVE, when: "before" }]);
    const e = await failure(transfer(a.ch, lb, 4_000, l));
    expect(e.message).toMatch(/left the payer.*kept in the ledger.*Do not retry/);
    const [v] = await l.transfersTo(b.id);
    expect([v.amount, v.claim]).toEqual([4_000, "awaiting"]);
    await sync(b.ch, ks, l);
    expect((await l.voucher(v.hash))!.claim).toBe("unclaimed");
    const sum = await l.summary();
    expect(sum.unclaimedTransfers).toBeGreaterThanOrEqual(4_000);
    // and a received transfer is claimed by the payee's receipt
    const ok = await transfer(a.ch, b.ch, 1_000, l);
    expect(ok.receipt.amount).toBe(1_000);
    expect((await l.transfersTo(b.id)).map((x) => x.claim).sort()).toEqual(["received", "unclaimed"]);
  });

  it("a revoked device that syncs locks itself (its own id is in the block list)", async () => {
    const a = await walletDevice(l);
    await load(a.ch, ks, l, 5_000);
    await l.setRevoked(a.id, true, Math.floor(Date.now() / 1000));
    const s = await sync(a.ch, ks, l);
    expect(s.locked).toBe(true);
    expect(s.blockList[0]).toBe(a.id);
    expect((await status(a.ch)).lifecycle).toBe(LC_LOCKED);
    expect((await failure(posCharge(a.ch, pos(), 100, { store: () => {} }))).exitCode).toBe(EXIT_REFUSED);
  });

  it("a log read cut short (an error on one READ LOG) stops the sync: no ack drops entries the bank never read", async () => {
    const a = await walletDevice(l);
    await load(a.ch, ks, l, 10_000);
    for (const amt of [100, 200, 300]) await posCharge(a.ch, pos(), amt, { store: () => {} });
    let reads = 0;
    const flaky = {
      name: "flaky",
      close: async () => {},
      transmit: async (apdu: Uint8Array) => {
        const r = await a.ch.transmit(apdu);
        return apdu[1] === A.INS_READ_LOG && ++reads === 3 ? Uint8Array.of(0x6f, 0x00) : r;
      },
    };
    await expect(sync(flaky, ks, l)).rejects.toThrow(/READ LOG \(entry 2\): 6F00/i);
    expect((await l.syncAcks(a.id)).length).toBe(0);
    expect((await status(a.ch)).logCount).toBe(4); // the load receipt and three vouchers, all still there
    const s = await sync(a.ch, ks, l);
    expect(s.entries).toBe(4);
  });

  it("a voucher with counter 2^32−1 is a pending gap of one range, not a crash", async () => {
    const lg = await ledgerFile();
    const signer = { ...signerFor(ks, { cert: null, suite: "p256" } as never) };
    await lg.putIssuerKeys(ks.keys().map(({ kid, suite, pub, status: st }) => ({ kid, suite, pub, status: st })));
    const p = PaperDevice.create(signer);
    await lg.putDevice(p.record());
    p.counter = 0xffffffff - 1;
    const r = await reconcile(lg, [posExport([p.pay(100, MERCHANT, 1_800_000_000)])]);
    expect(r.pendingGaps).toEqual([{ deviceId: p.id, ranges: [[1, 0xffffffff - 1]] }]);
    expect(r.newFraudCases).toEqual([]);
  });

  it("pos charge: an outbox that cannot store after PAY says PAID, NOT STORED (never 'declined'); pos recover stores the voucher", async () => {
    const a = await walletDevice(l);
    await load(a.ch, ks, l, 10_000);
    const box = PosOutbox.open(join(dir, `pos-${++n}.sqlite`));
    box.configure({ merchant: hex(MERCHANT), terminal: "t1", currency: CURRENCY_CNY, trusted, revoked: [], revocationVersion: 0 });
    const broken = Object.assign(Object.create(box), { store: () => { throw new Error("SQLITE_FULL: database or disk is full"); } });
    const e = await failure(posCharge(a.ch, box.config(), 2_500, { journal: broken }));
    expect(e.exitCode).toBe(EXIT_DATA);
    expect(e.message).toMatch(/^PAID, NOT STORED: 25\.00 left the card in voucher #1.*Do not charge again.*wallet pos recover/);
    expect(e.message).not.toMatch(/declined/);
    expect(box.count().vouchers).toBe(0);
    const r = await posRecover(a.ch, box.config(), box);
    expect(r.recovered.map((x) => [x.counter, x.amount])).toEqual([[1, 2_500]]);
    expect(box.count().vouchers).toBe(1);
    expect((await posRecover(a.ch, box.config(), box)).recovered).toEqual([]);
  });

  it("pos charge: an outbox that cannot write the intent declines before the card pays; a lost PAY answer is recovered at the next tap", async () => {
    const a = await walletDevice(l);
    await load(a.ch, ks, l, 10_000);
    const box = PosOutbox.open(join(dir, `pos-${++n}.sqlite`));
    box.configure({ merchant: hex(MERCHANT), terminal: "t2", currency: CURRENCY_CNY, trusted, revoked: [], revocationVersion: 0 });
    const readOnly = Object.assign(Object.create(box), { begin: () => { throw new Error("attempt to write a readonly database"); } });
    const e = await failure(posCharge(a.ch, box.config(), 1_000, { journal: readOnly }));
    expect(e.message).toMatch(/^declined: .*nothing was charged/);
    expect((await status(a.ch)).balance).toBe(10_000);
    a.lossy.arm({ ins: A.INS_PAY, when: "after" });
    const lost = await failure(posCharge(a.lossy, box.config(), 1_000, { journal: box }));
    expect(lost.message).toMatch(/answer to PAY was lost.*Do not charge again/);
    const next = await posCharge(a.ch, box.config(), 300, { journal: box });
    expect(next.recovered.map((x) => [x.counter, x.amount])).toEqual([[1, 1_000]]);
    expect(box.count()).toMatchObject({ vouchers: 2, amount: 1_300 });
  });
});
