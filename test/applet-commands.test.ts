// Wallet applet commands (SPEC §3.3) on the real build/firmware.wasm: every command's happy
// path and the status words it can return, for both suites where the suite matters.
// Device-signed documents are checked with independent code: cbor-x, the protocol's strict
// decoders (protocol/src) and node:crypto (P-256) / sm-crypto (SM2).
import { describe, expect, it } from "vitest";
import { decode as cborxDecode } from "cbor-x";
import * as A from "../protocol/portable/apdu.ts";
import * as L from "../protocol/portable/limits.ts";
import { LC_ACTIVE, LC_LOCKED, LC_MANUFACTURED, LC_TERMINATED } from "../protocol/portable/lifecycle.ts";
import { FORM_BAND, RECEIPT_KIND_LOAD, RECEIPT_KIND_RECEIVE, VOUCHER_KIND_D2D, VOUCHER_KIND_POS } from "../protocol/portable/cbor-keys.ts";
import { SUITE_P256_SHA256_AES128, SUITE_SM2_SM3_SM4 } from "../protocol/portable/suite.ts";
import { AppletHarness, cat, pinBlock, u16be, u32be } from "./support/applet-device.ts";
import { DEFAULT_LIMITS, TestIssuer, suiteHash, verifyCose, type SuiteId } from "./support/applet-issuer.ts";
import { T0, openChannel } from "./support/applet-perso.ts";
import {
  POS_ID, activeWallet, challengeOf, decodeReceipt, decodeVoucher, load, loadDoc, pay, readLog, receiveData, syncAck,
} from "./support/applet-wallet.ts";

const OK = 0x9000;
const SUITES: [string, SuiteId][] = [["P-256", SUITE_P256_SHA256_AES128], ["SM2", SUITE_SM2_SM3_SM4]];
const P256 = SUITE_P256_SHA256_AES128;
const sw = (n: number) => n.toString(16);

describe("SELECT / GET STATUS / transport", () => {
  it("SELECT answers the layout; wrong AID 6A82, wrong P1/P2 6A86", () => {
    const h = new AppletHarness();
    const r = h.select();
    expect(sw(r.sw)).toBe("9000");
    expect(r.data.length).toBe(A.SELECT_RESP_LEN);
    expect(new DataView(r.data.buffer, r.data.byteOffset).getUint32(A.SELECT_OFF_REVISION)).toBe(1);
    expect(r.data[A.SELECT_OFF_LIFECYCLE]).toBe(LC_MANUFACTURED);
    expect(h.send(0, A.INS_SELECT, 4, 0, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)).sw).toBe(0x6a82);
    expect(h.send(0, A.INS_SELECT, 0, 0, cat(u32be(A.AID_HI), u32be(A.AID_LO))).sw).toBe(0x6a86);
    // the device id stays across power cycles (drawn once, kept in flash)
    h.powerCycle();
    expect(h.select().data).toEqual(r.data);
  });

  it("CLA/INS/length errors: 6E00, 6D00, 6881, 6882, 6700, 6A86", () => {
    const h = new AppletHarness();
    expect(h.send(0x00, A.INS_GET_STATUS).sw).toBe(0x6e00); // proprietary command with CLA 00
    expect(h.send(0x80, A.INS_VERIFY, 0, 0x81).sw).toBe(0x6e00); // ISO command with CLA 80
    expect(h.send(0x40, A.INS_GET_STATUS).sw).toBe(0x6e00);
    expect(h.send(0x80, 0xee).sw).toBe(0x6d00);
    expect(h.send(0x81, A.INS_GET_STATUS).sw).toBe(0x6881);
    expect(h.send(0x88, A.INS_GET_STATUS).sw).toBe(0x6882);
    expect(h.raw(Uint8Array.of(0x80, A.INS_GET_STATUS, 0, 0, 5, 1, 2)).sw).toBe(0x6700); // Lc says 5, 2 follow
    expect(h.raw(Uint8Array.of(0x80, A.INS_GET_STATUS)).sw).toBe(0x6700);
    expect(h.send(0x80, A.INS_GET_STATUS, 1, 0).sw).toBe(0x6a86);
    expect(h.send(0x84, A.INS_GET_STATUS).sw).toBe(0x6982); // SM without a channel
    expect(h.send(0, A.INS_GET_RESPONSE).sw).toBe(0x6985); // nothing pending
  });

  it("GET STATUS is answered in every state and reports the refusal reason", async () => {
    const w = await activeWallet(P256);
    const s = w.h.status();
    expect(s.lifecycle).toBe(LC_ACTIVE);
    expect(s.deviceId).toEqual(w.p.deviceId);
    expect(s.cap).toBe(DEFAULT_LIMITS.cap);
    expect(s.remainingPayments).toBe(DEFAULT_LIMITS.maxCountSinceSync);
    expect(s.remainingAmount).toBe(DEFAULT_LIMITS.maxAmountSinceSync);
    expect(s.syncDeadline).toBe(T0 + DEFAULT_LIMITS.syncInterval);
    expect(s.latestTime).toBe(T0);
    expect(s.pinTries).toBe(A.PIN_TRIES);
    expect(s.pukTries).toBe(A.PUK_TRIES);
    expect(s.currency).toBe(978);
    expect(s.flags & A.STATUS_FLAG_HAS_CERT).toBeTruthy();
    expect(pay(w, 10).sw).toBe(0x6985);
    expect(w.h.status().lastReason).toBe(L.REASON_BALANCE);
  });

  it("long responses come in 61xx pieces via GET RESPONSE; extended Le gets them at once", async () => {
    const w = await activeWallet(P256);
    const whole = w.h.cmd(A.INS_GET_CERTIFICATE);
    expect(whole.sw).toBe(OK);
    expect(whole.data).toEqual(w.p.cert);
    const first = w.h.raw(Uint8Array.of(0x80, A.INS_GET_CERTIFICATE, 0, 0, 0x40));
    expect(first.sw >> 8).toBe(0x61);
    expect(first.data.length).toBe(0x40);
    const parts = [first.data];
    let r = first;
    while (r.sw >> 8 === 0x61) {
      r = w.h.raw(Uint8Array.of(0, A.INS_GET_RESPONSE, 0, 0, 0x40));
      parts.push(r.data);
    }
    expect(r.sw).toBe(OK);
    expect(cat(...parts)).toEqual(w.p.cert);
    const ext = w.h.raw(Uint8Array.of(0x80, A.INS_GET_CERTIFICATE, 0, 0, 0, 0, 0));
    expect(ext.sw).toBe(OK);
    expect(ext.data).toEqual(w.p.cert);
  });

  it("command chaining: blocks gather, a different command in between is 6883", async () => {
    const w = await activeWallet(P256);
    const data = cat(u32be(T0), loadDoc(w, 500, { seq: 1 }));
    const a = data.subarray(0, 100), b = data.subarray(100);
    expect(w.h.send(0x90, A.INS_LOAD, 0, 0, a).sw).toBe(OK);
    expect(w.h.send(0x80, A.INS_LOAD, 0, 0, b).sw).toBe(OK);
    expect(w.h.status().balance).toBe(500);
    expect(w.h.send(0x90, A.INS_LOAD, 0, 0, a).sw).toBe(OK);
    expect(w.h.send(0x80, A.INS_PAY, 0, 0, b).sw).toBe(0x6883);
    expect(w.h.send(0x10, A.INS_SELECT, 4, 0, a).sw).toBe(0x6884);
  });
});

describe.each(SUITES)("value commands, %s", (_name, suite) => {
  it("LOAD adds value and answers a receipt that verifies independently", async () => {
    const w = await activeWallet(suite);
    const r = load(w, 30_000);
    expect(sw(r.sw)).toBe("9000");
    expect(verifyCose(suite, w.p.pub, r.data)).toBe(true);
    const { doc } = decodeReceipt(r.data);
    expect(doc).toMatchObject({ kind: RECEIPT_KIND_LOAD, ref: 1, amount: 30_000, balanceAfter: 30_000, counter: 0, currency: 978 });
    expect(doc.deviceId).toEqual(w.p.deviceId);
    const s = w.h.status();
    expect(s.balance).toBe(30_000);
    expect(s.loadSeq).toBe(1);
    expect(s.logCount).toBe(1);
  });

  it("PAY answers a chained, independently verifiable voucher; cbor-x decodes it", async () => {
    const w = await activeWallet(suite);
    load(w, 50_000);
    const v1 = pay(w, 1_200);
    expect(sw(v1.sw)).toBe("9000");
    const v2 = pay(w, 800, { time: T0 + 120 });
    expect(v2.sw).toBe(OK);
    for (const v of [v1, v2]) expect(verifyCose(suite, w.p.pub, v.data)).toBe(true);
    const d1 = decodeVoucher(v1.data).doc, d2 = decodeVoucher(v2.data).doc;
    expect(d1).toMatchObject({ counter: 1, amount: 1_200, balanceAfter: 48_800, kind: VOUCHER_KIND_POS, time: T0 + 60 });
    expect(d1.prev).toEqual(new Uint8Array(32));
    expect(d2.prev).toEqual(suiteHash(suite, v1.data));
    expect(d1.certRef).toEqual(suiteHash(suite, w.p.cert).subarray(0, 8));
    expect(d1.payeeId).toEqual(POS_ID);
    expect(d1.challenge).toEqual(challengeOf(1_200));
    // independent CBOR decoder: tag 18, 4 elements, payload map with integer keys
    const tagged = cborxDecode(v2.data.slice()) as { tag: number; value: unknown[] };
    expect(tagged.tag).toBe(18);
    const payload = cborxDecode((tagged.value[2] as Uint8Array).slice()) as Record<number, unknown> | Map<number, unknown>;
    const get = (k: number) => (payload instanceof Map ? payload.get(k) : payload[k]);
    expect(get(2)).toBe(2);
    expect(get(3)).toBe(800);
    const s = w.h.status();
    expect(s).toMatchObject({ balance: 48_000, counter: 2, logCount: 3, latestTime: T0 + 120 });
    expect(s.remainingPayments).toBe(DEFAULT_LIMITS.maxCountSinceSync - 2);
    expect(s.remainingAmount).toBe(DEFAULT_LIMITS.maxAmountSinceSync - 2_000);
    const log = readLog(w);
    expect(log.length).toBe(3);
    expect(log[1]).toEqual(v1.data);
    expect(log[2]).toEqual(v2.data);
    expect(w.h.cmd(A.INS_READ_LOG, 0, 3).sw).toBe(0x6a83);
  });

  it("device-to-device: GET CHALLENGE, PAY to the payee, RECEIVE credits once", async () => {
    const issuer = new TestIssuer(suite);
    const payer = await activeWallet(suite, { issuer });
    const payee = await activeWallet(suite, { issuer });
    load(payer, 10_000);
    const ch = payee.h.iso(A.INS_GET_CHALLENGE, 0, 0, undefined, 16);
    expect(ch.sw).toBe(OK);
    expect(ch.data.length).toBe(16);
    const v = pay(payer, 2_500, { p1: A.P1_PAY_DEVICE, payee: payee.p.deviceId, challenge: ch.data });
    expect(v.sw).toBe(OK);
    expect(decodeVoucher(v.data).doc.kind).toBe(VOUCHER_KIND_D2D);
    const rx = payee.h.cmd(A.INS_RECEIVE, 0, 0, receiveData(v.data, payer.p.cert, T0 + 90));
    expect(sw(rx.sw)).toBe("9000");
    expect(verifyCose(suite, payee.p.pub, rx.data)).toBe(true);
    const rd = decodeReceipt(rx.data).doc;
    expect(rd).toMatchObject({ kind: RECEIPT_KIND_RECEIVE, amount: 2_500, balanceAfter: 2_500 });
    expect(rd.ref).toEqual(suiteHash(suite, v.data));
    expect(payee.h.status().balance).toBe(2_500);
    expect(payer.h.status().balance).toBe(7_500);
    // the same voucher again: the challenge was single use
    expect(payee.h.cmd(A.INS_RECEIVE, 0, 0, receiveData(v.data, payer.p.cert, T0 + 91)).sw).toBe(0x6985);
    expect(payee.h.status().lastReason).toBe(L.REASON_REPLAY);
    // even with a fresh challenge pending, the old voucher names the old one
    payee.h.iso(A.INS_GET_CHALLENGE, 0, 0, undefined, 16);
    expect(payee.h.cmd(A.INS_RECEIVE, 0, 0, receiveData(v.data, payer.p.cert, T0 + 92)).sw).toBe(0x6985);
    expect(payee.h.status().balance).toBe(2_500);
  });
});

describe("LOAD refusals", () => {
  it("replay, expiry, foreign device, currency, cap, issuer key, signature, format", async () => {
    const w = await activeWallet(P256);
    expect(load(w, 1_000).sw).toBe(OK);
    const before = w.h.status();
    const cases: [string, Uint8Array, number, number][] = [
      ["replayed seq", loadDoc(w, 1_000, { seq: 1 }), 0x6985, L.REASON_REPLAY],
      ["expired", loadDoc(w, 1_000, { seq: 5, expiry: T0 - 1 }), 0x6985, L.REASON_EXPIRED],
      ["foreign", loadDoc(w, 1_000, { seq: 5, deviceId: new Uint8Array(8).fill(9) }), 0x6a80, L.REASON_FOREIGN],
      ["currency", loadDoc(w, 1_000, { seq: 5, currency: 840 }), 0x6a80, L.REASON_CURRENCY],
      ["over cap", loadDoc(w, DEFAULT_LIMITS.cap, { seq: 5 }), 0x6985, L.REASON_CAP],
      ["unknown issuer key", new TestIssuer(P256).load({ deviceId: w.p.deviceId, seq: 5, amount: 1, currency: 978, expiry: T0 + 999 }), 0x6a88, L.REASON_ISSUER_KEY],
    ];
    const other = new TestIssuer(P256, w.issuer.kid); // same kid, wrong key
    cases.push(["bad signature", other.load({ deviceId: w.p.deviceId, seq: 5, amount: 1, currency: 978, expiry: T0 + 999 }), 0x6984, L.REASON_SIGNATURE]);
    const good = loadDoc(w, 1_000, { seq: 5 });
    const flipped = good.slice();
    flipped[flipped.length - 70] ^= 1; // inside the payload: signature no longer matches
    cases.push(["tampered", flipped, 0x6984, L.REASON_SIGNATURE]);
    cases.push(["garbage", Uint8Array.of(1, 2, 3), 0x6a80, L.REASON_FORMAT]);
    const trailing = cat(good, Uint8Array.of(0));
    cases.push(["trailing byte", trailing, 0x6a80, L.REASON_FORMAT]);
    for (const [name, doc, want, reason] of cases) {
      const r = w.h.cmd(A.INS_LOAD, 0, 0, cat(u32be(T0 + 30), doc));
      expect(sw(r.sw), name).toBe(sw(want));
      expect(w.h.status().lastReason, name).toBe(reason);
    }
    expect(w.h.status()).toMatchObject({ balance: before.balance, loadSeq: before.loadSeq, logCount: before.logCount });
    expect(w.h.cmd(A.INS_LOAD, 0, 0, Uint8Array.of(1, 2)).sw).toBe(0x6700);
  });
});

describe("PAY refusals and holder verification", () => {
  it("amount, currency, per-payment max, balance, P1, length", async () => {
    const w = await activeWallet(P256);
    load(w, 30_000);
    const cases: [string, ReturnType<typeof pay>, number, number][] = [
      ["zero", pay(w, 0), 0x6a80, L.REASON_FORMAT],
      ["currency", pay(w, 10, { currency: 840 }), 0x6a80, L.REASON_CURRENCY],
      ["max payment", pay(w, DEFAULT_LIMITS.maxPayment + 1), 0x6985, L.REASON_MAX_PAYMENT],
    ];
    for (const [name, r, want, reason] of cases) {
      expect(sw(r.sw), name).toBe(sw(want));
    }
    expect(w.h.status().lastReason).toBe(L.REASON_MAX_PAYMENT);
    expect(w.h.cmd(A.INS_PAY, 2, 0, new Uint8Array(A.PAY_DATA_LEN)).sw).toBe(0x6a86);
    expect(w.h.cmd(A.INS_PAY, 0, 0, new Uint8Array(10)).sw).toBe(0x6700);
    expect(w.h.status()).toMatchObject({ balance: 30_000, counter: 0 });
  });

  it("above the no-CVM limit a card needs VERIFY in the session, used up by one payment", async () => {
    const w = await activeWallet(P256);
    load(w, 30_000);
    const big = DEFAULT_LIMITS.noCvm + 1;
    expect(pay(w, big).sw).toBe(0x6982);
    expect(w.h.status().lastReason).toBe(L.REASON_HOLDER);
    expect(w.h.iso(A.INS_VERIFY, 0, A.P2_PIN, pinBlock("1234")).sw).toBe(OK);
    expect(pay(w, big).sw).toBe(OK);
    expect(pay(w, big).sw).toBe(0x6982);
    expect(pay(w, DEFAULT_LIMITS.noCvm).sw).toBe(OK); // at the limit: no verification
  });

  it("a wearable asks its button; a refusal is 6982", async () => {
    const w = await activeWallet(P256, { formFactor: FORM_BAND, device: { profile: "band" } });
    w.h.dev.freezeClock(T0 + 100); // the band's own clock counts as time seen
    load(w, 30_000);
    const big = DEFAULT_LIMITS.noCvm + 100;
    expect(pay(w, big).sw).toBe(0x6982);
    w.h.dev.press();
    expect(pay(w, big).sw).toBe(OK);
  });

  it("count and amount since sync, and the sync deadline, refuse until SYNC", async () => {
    const limits = { ...DEFAULT_LIMITS, maxCountSinceSync: 3, maxAmountSinceSync: 1_000, syncInterval: 1000 };
    const w = await activeWallet(P256, { limits });
    load(w, 5_000);
    expect(pay(w, 600).sw).toBe(OK);
    expect(pay(w, 500).sw).toBe(0x6985);
    expect(w.h.status().lastReason).toBe(L.REASON_AMOUNT_SINCE_SYNC);
    expect(pay(w, 100).sw).toBe(OK);
    expect(pay(w, 100).sw).toBe(OK);
    expect(pay(w, 1).sw).toBe(0x6985);
    expect(w.h.status().lastReason).toBe(L.REASON_COUNT_SINCE_SYNC);
    expect(w.h.cmd(A.INS_SYNC, 0, 0, syncAck(w, 3, T0 + 500)).sw).toBe(OK);
    expect(w.h.status()).toMatchObject({ remainingPayments: 3, remainingAmount: 1_000, logCount: 0, syncDeadline: T0 + 1500 });
    expect(pay(w, 1, { time: T0 + 1400 }).sw).toBe(OK);
    // time never goes backwards: a POS with an older clock gets the latest time seen
    const late = pay(w, 1, { time: T0 + 600 });
    expect(late.sw).toBe(OK);
    expect(decodeVoucher(late.data).doc.time).toBe(T0 + 1400);
    expect(pay(w, 1, { time: T0 + 1501 }).sw).toBe(0x6985);
    expect(w.h.status().lastReason).toBe(L.REASON_SYNC_OVERDUE);
  });

  it("a full log refuses PAY (6A84) until a SYNC acknowledges it", async () => {
    const limits = { ...DEFAULT_LIMITS, maxCountSinceSync: 1000, maxAmountSinceSync: 1_000_000 };
    const w = await activeWallet(P256, { limits });
    load(w, 20_000);
    let count = 1;
    while (count < 64) {
      expect(pay(w, 10).sw).toBe(OK);
      count++;
    }
    const s = w.h.status();
    expect(s.logCount).toBe(64);
    expect(s.flags & A.STATUS_FLAG_LOG_FULL).toBeTruthy();
    expect(pay(w, 10).sw).toBe(0x6a84);
    expect(w.h.status().lastReason).toBe(L.REASON_LOG_FULL);
    expect(load(w, 10).sw).toBe(0x6a84);
    // nothing was dropped: every entry is still readable, oldest first
    const log = readLog(w);
    expect(log.length).toBe(64);
    expect(decodeReceipt(log[0]).doc.kind).toBe(RECEIPT_KIND_LOAD);
    expect(decodeVoucher(log[63]).doc.counter).toBe(63);
    expect(w.h.cmd(A.INS_SYNC, 0, 0, syncAck(w, 40, T0 + 100)).sw).toBe(OK);
    expect(w.h.status().logCount).toBe(23);
    expect(decodeVoucher(readLog(w)[0]).doc.counter).toBe(41);
    expect(pay(w, 10).sw).toBe(OK);
  });
});

describe("RECEIVE refusals", () => {
  it("no challenge, wrong payee, blocked payer, bad signature, POS voucher, cap", async () => {
    const issuer = new TestIssuer(P256);
    const payer = await activeWallet(P256, { issuer });
    const payee = await activeWallet(P256, { issuer, limits: { ...DEFAULT_LIMITS, cap: 3_000, maxPayment: 3_000 } });
    load(payer, 20_000);
    const rx = (v: Uint8Array, cert = payer.p.cert) => payee.h.cmd(A.INS_RECEIVE, 0, 0, receiveData(v, cert, T0 + 90));
    const challenge = () => payee.h.iso(A.INS_GET_CHALLENGE, 0, 0, undefined, 16).data;
    // no GET CHALLENGE before
    let v = pay(payer, 100, { p1: A.P1_PAY_DEVICE, payee: payee.p.deviceId, challenge: challengeOf(1) }).data;
    expect(rx(v).sw).toBe(0x6985);
    // names another payee
    v = pay(payer, 100, { p1: A.P1_PAY_DEVICE, payee: POS_ID, challenge: challenge() }).data;
    expect(rx(v).sw).toBe(0x6a80);
    expect(payee.h.status().lastReason).toBe(L.REASON_FOREIGN);
    // a POS voucher is not a device-to-device payment
    v = pay(payer, 100, { p1: A.P1_PAY_POS, payee: payee.p.deviceId, challenge: challenge() }).data;
    expect(rx(v).sw).toBe(0x6a80);
    // tampered signature
    v = pay(payer, 100, { p1: A.P1_PAY_DEVICE, payee: payee.p.deviceId, challenge: challenge() }).data.slice();
    v[v.length - 1] ^= 0x55;
    expect(rx(v).sw).toBe(0x6984);
    // a certificate from an unknown issuer
    const stranger = new TestIssuer(P256);
    const fakeCert = stranger.cert({
      deviceId: payer.p.deviceId, token: new Uint8Array(16).fill(7), suite: P256, publicKey: payer.p.pub, formFactor: 1,
      currency: 978, limits: DEFAULT_LIMITS, notBefore: T0 - 3600, notAfter: T0 + 86400,
    });
    v = pay(payer, 100, { p1: A.P1_PAY_DEVICE, payee: payee.p.deviceId, challenge: challenge() }).data;
    expect(rx(v, fakeCert).sw).toBe(0x6a88);
    // over the payee's cap
    v = pay(payer, 3_001, { p1: A.P1_PAY_DEVICE, payee: payee.p.deviceId, challenge: challenge() }).data;
    expect(rx(v).sw).toBe(0x6985);
    expect(payee.h.status().lastReason).toBe(L.REASON_CAP);
    // block list from a sync: the payer is refused
    expect(payee.h.cmd(A.INS_SYNC, 0, 0, syncAck(payee, 0, T0 + 10, { blockList: [payer.p.deviceId] })).sw).toBe(OK);
    v = pay(payer, 100, { p1: A.P1_PAY_DEVICE, payee: payee.p.deviceId, challenge: challenge() }).data;
    expect(rx(v).sw).toBe(0x6985);
    expect(payee.h.status().lastReason).toBe(L.REASON_BLOCKED);
    expect(payee.h.status().balance).toBe(0);
    expect(payee.h.cmd(A.INS_RECEIVE, 0, 0, Uint8Array.of(0, 0, 0, 0, 0, 9, 1)).sw).toBe(0x6700);
  });
});

describe("SYNC", () => {
  it("prunes acknowledged entries, takes new limits and versions, refuses replays", async () => {
    const w = await activeWallet(P256);
    load(w, 10_000);
    pay(w, 100);
    pay(w, 200);
    const newLimits = { ...DEFAULT_LIMITS, cap: 50_000, maxPayment: 9_000 };
    const ack = syncAck(w, 1, T0 + 1000, { rl: 7, limits: newLimits });
    expect(w.h.cmd(A.INS_SYNC, 0, 0, ack).sw).toBe(OK);
    const s = w.h.status();
    expect(s).toMatchObject({ logCount: 1, cap: 50_000, revocationVersion: 7, remainingPayments: DEFAULT_LIMITS.maxCountSinceSync - 1 });
    expect(decodeVoucher(readLog(w)[0]).doc.counter).toBe(2);
    expect(w.h.cmd(A.INS_SYNC, 0, 0, ack).sw).toBe(0x6985); // replay
    expect(w.h.status().lastReason).toBe(L.REASON_REPLAY);
    expect(w.h.cmd(A.INS_SYNC, 0, 0, syncAck(w, 5, T0 + 2000)).sw).toBe(0x6a80); // beyond the counter
    expect(w.h.cmd(A.INS_SYNC, 0, 0, syncAck(w, 2, T0 + 2000, { deviceId: new Uint8Array(8) })).sw).toBe(0x6a80);
    expect(w.h.cmd(A.INS_SYNC, 0, 0, syncAck(w, 2, T0 + 2000)).sw).toBe(OK);
    expect(w.h.status().logCount).toBe(0);
  });

  it("a device on its own block list locks itself", async () => {
    const w = await activeWallet(P256);
    expect(w.h.cmd(A.INS_SYNC, 0, 0, syncAck(w, 0, T0 + 5, { blockList: [w.p.deviceId] })).sw).toBe(OK);
    expect(w.h.status().lifecycle).toBe(LC_LOCKED);
    expect(pay(w, 1).sw).toBe(0x6985);
  });
});

describe("PIN and PUK", () => {
  it("VERIFY: tries, 63Cx, 6983 when blocked, PUK unblocks, CHANGE REFERENCE DATA", async () => {
    const w = await activeWallet(P256);
    const v = (pin?: string) => w.h.iso(A.INS_VERIFY, 0, A.P2_PIN, pin === undefined ? undefined : pinBlock(pin));
    expect(sw(v().sw)).toBe("63c3");
    expect(sw(v("9999").sw)).toBe("63c2");
    expect(sw(v("1234").sw)).toBe("9000");
    expect(sw(v().sw)).toBe("9000");
    expect(w.h.status().pinTries).toBe(3);
    expect(sw(v("0000").sw)).toBe("63c2");
    expect(sw(v("0000").sw)).toBe("63c1");
    expect(sw(v("0000").sw)).toBe("63c0");
    expect(sw(v("1234").sw)).toBe("6983");
    expect(w.h.status().flags & A.STATUS_FLAG_PIN_BLOCKED).toBeTruthy();
    expect(sw(w.h.iso(A.INS_VERIFY, 0, A.P2_PUK).sw)).toBe("63c5");
    expect(v("12a4").sw).toBe(0x6a80);
    expect(v("123").sw).toBe(0x6a80);
    expect(w.h.iso(A.INS_VERIFY, 0, 0x80).sw).toBe(0x6a86);
    expect(w.h.iso(A.INS_VERIFY, 0, A.P2_PIN, new Uint8Array(3)).sw).toBe(0x6700);
    const rrc = (p1: number, data: Uint8Array) => w.h.iso(A.INS_RESET_RETRY_COUNTER, p1, A.P2_PIN, data);
    expect(sw(rrc(0, cat(pinBlock("00000000"), pinBlock("4321"))).sw)).toBe("63c4");
    expect(rrc(0, cat(pinBlock("12345678"), pinBlock("4321"))).sw).toBe(OK);
    expect(w.h.status()).toMatchObject({ pinTries: 3, pukTries: 5 });
    expect(v("4321").sw).toBe(OK);
    expect(rrc(1, pinBlock("12345678")).sw).toBe(OK);
    expect(rrc(2, pinBlock("12345678")).sw).toBe(0x6a86);
    const crd = (data: Uint8Array) => w.h.iso(A.INS_CHANGE_REFERENCE_DATA, 0, A.P2_PIN, data);
    expect(sw(crd(cat(pinBlock("1111"), pinBlock("5555"))).sw)).toBe("63c2");
    expect(crd(cat(pinBlock("4321"), pinBlock("5555"))).sw).toBe(OK);
    expect(v("5555").sw).toBe(OK);
    expect(crd(pinBlock("4321")).sw).toBe(0x6700);
  });

  it("the PUK blocks after 5 wrong tries", async () => {
    const w = await activeWallet(P256);
    const rrc = () => w.h.iso(A.INS_RESET_RETRY_COUNTER, 1, A.P2_PIN, pinBlock("00000000"));
    for (let i = 4; i >= 0; i--) expect(sw(rrc().sw)).toBe(`63c${i}`);
    expect(rrc().sw).toBe(0x6983);
    expect(w.h.iso(A.INS_RESET_RETRY_COUNTER, 1, A.P2_PIN, pinBlock("12345678")).sw).toBe(0x6983);
    expect(w.h.status().flags & A.STATUS_FLAG_PUK_BLOCKED).toBeTruthy();
  });
});

describe("secure channel and administration", () => {
  it("LOCK / UNLOCK / TERMINATE only in the channel with the diversified keys", async () => {
    const w = await activeWallet(P256);
    load(w, 1_000);
    pay(w, 100);
    expect(w.h.cmd(A.INS_LOCK).sw).toBe(0x6982); // plain CLA 80
    await expect(openChannel(w.h, { enc: new Uint8Array(16).fill(0x40), mac: new Uint8Array(16).fill(0x40), dek: new Uint8Array(16).fill(0x40) }, P256)).rejects.toThrow();
    await openChannel(w.h, w.p.keys, P256);
    expect(w.h.status().flags & A.STATUS_FLAG_CHANNEL_OPEN).toBeTruthy();
    expect(w.h.cmd(A.INS_LOCK).sw).toBe(OK);
    expect(w.h.status().lifecycle).toBe(LC_LOCKED);
    expect(w.h.cmd(A.INS_LOCK).sw).toBe(0x6985);
    w.h.secure = null;
    expect(pay(w, 10).sw).toBe(0x6985);
    expect(readLog(w).length).toBe(2); // the log stays readable when locked
    await openChannel(w.h, w.p.keys, P256);
    expect(w.h.cmd(A.INS_UNLOCK).sw).toBe(OK);
    w.h.secure = null;
    expect(pay(w, 10).sw).toBe(OK);
    await openChannel(w.h, w.p.keys, P256);
    expect(w.h.cmd(A.INS_TERMINATE).sw).toBe(OK);
    w.h.secure = null;
    expect(w.h.status().lifecycle).toBe(LC_TERMINATED);
    expect(pay(w, 10).sw).toBe(0x6985);
    expect(w.h.cmd(A.INS_GET_PUBLIC_KEY).sw).toBe(0x6985);
    expect(readLog(w).length).toBe(3);
    await expect(openChannel(w.h, w.p.keys, P256)).rejects.toThrow(); // INITIALIZE UPDATE refused
  });

  it("a MAC failure closes the channel", async () => {
    const w = await activeWallet(P256);
    const s = await openChannel(w.h, w.p.keys, P256);
    const apdu = s.wrap(Uint8Array.of(0x80, A.INS_GET_STATUS, 0, 0, 0));
    apdu[apdu.length - 2] ^= 1; // inside the C-MAC
    expect(w.h.raw(apdu).sw).toBe(0x6982);
    expect(w.h.status().flags & A.STATUS_FLAG_CHANNEL_OPEN).toBe(0);
    expect(w.h.send(0x80, A.INS_LOCK, 0, 0, undefined, 256, false).sw).toBe(0x6982);
  });

  it("personalization commands outside the channel are 6982; out of order 6985", async () => {
    const h = new AppletHarness();
    const issuer = new TestIssuer(P256);
    h.select();
    expect(h.cmd(A.INS_SET_PIN, 0, 0, pinBlock("1234")).sw).toBe(0x6985); // MANUFACTURED: not yet
    expect(h.cmd(A.INS_PUT_KEY, 0, A.P2_PUT_KEY_MULTIPLE, new Uint8Array(70)).sw).toBe(0x6982);
    const { persoSteps } = await import("./support/applet-perso.ts");
    const { steps } = persoSteps(h, issuer);
    for (const [name, run] of steps.slice(0, 3)) await run(), void name;
    expect(h.status().lifecycle).toBe(2);
    expect(h.cmd(A.INS_FINALIZE, 0, 0, u32be(T0)).sw).toBe(0x6985); // steps missing
    expect(h.cmd(A.INS_GENERATE_KEY).sw).toBe(0x6985); // suite not set
    expect(h.cmd(A.INS_SET_IDENTITY, 0, 0, cat(Uint8Array.of(9, 1), u16be(978), new Uint8Array(16))).sw).toBe(0x6a80);
    expect(h.cmd(A.INS_SET_IDENTITY, 0, 0, new Uint8Array(3)).sw).toBe(0x6700);
    expect(h.cmd(A.INS_SET_LIMITS, 0, 0, cat(...[100, 200, 0, 1, 1, 0].map(u32be))).sw).toBe(0x6a80); // max payment > cap
    expect(h.cmd(A.INS_SET_PIN, 0, 0, pinBlock("12")).sw).toBe(0x6a80);
    expect(h.cmd(A.INS_SET_PUK, 0, 0, pinBlock("1234")).sw).toBe(0x6a80); // a PUK has 8 digits
    expect(h.cmd(A.INS_PUT_ISSUER_KEY, 2, 0, new Uint8Array(70)).sw).toBe(0x6a86);
    expect(h.cmd(A.INS_GET_PUBLIC_KEY).sw).toBe(0x6a88);
    expect(h.cmd(A.INS_GET_CERTIFICATE).sw).toBe(0x6a88);
    for (const [, run] of steps.slice(3, 6)) await run();
    const bad = issuer.key.pub.slice();
    bad[40] ^= 1; // not on the curve
    expect(h.cmd(A.INS_PUT_ISSUER_KEY, 0, 0, cat(Uint8Array.of(4), issuer.kid, bad)).sw).toBe(0x6a80);
    // a certificate for another key is refused
    await steps[6][1]();
    const foreign = issuer.cert({
      deviceId: h.status().deviceId, token: new Uint8Array(16).fill(7), suite: P256, publicKey: issuer.key.pub, formFactor: 1,
      currency: 978, limits: DEFAULT_LIMITS, notBefore: 0, notAfter: T0 * 2,
    });
    expect(h.cmd(A.INS_PUT_CERTIFICATE, 0, 0, foreign).sw).toBe(0x6a80);
    expect(h.cmd(A.INS_PUT_KEY, 0, A.P2_PUT_KEY_MULTIPLE, new Uint8Array(70)).sw).toBe(0x6a80); // bad key blocks
  });
});

describe("corrupt stored state", () => {
  it("a device whose flash fails its integrity check refuses value commands and says why", async () => {
    const w = await activeWallet(P256);
    load(w, 5_000);
    pay(w, 100);
    const flash = w.h.dev.flash;
    // flip one bit in every programmed word of the first page's entries area: the store's
    // CRCs must notice, and the applet must not guess
    let flipped = 0;
    for (let off = 64; off < flash.pageSize && flipped < 8; off += 97) {
      if (flash.bytes[off] !== 0xff && flash.bytes[off] !== 0) {
        flash.bytes[off] &= flash.bytes[off] - 1; // clear the lowest set bit (NOR-possible)
        flipped++;
      }
    }
    expect(flipped).toBeGreaterThan(0);
    w.h.powerCycle();
    expect(w.h.select().sw).toBe(OK);
    const s = w.h.status();
    expect(s.storeState).not.toBe(0);
    expect(s.flags & A.STATUS_FLAG_CORRUPT).toBeTruthy();
    expect(pay(w, 10).sw).toBe(0x6581);
    expect(w.h.status().lastReason).toBe(L.REASON_CORRUPT);
    expect(load(w, 10).sw).toBe(0x6581);
    expect(w.h.dev.aborts).toBe(0);
  });
});

describe("secure channel details", () => {
  it("an SM2 device's later sessions run SCP03 over SM4 with its diversified keys", async () => {
    const w = await activeWallet(SUITE_SM2_SM3_SM4);
    await expect(openChannel(w.h, w.p.keys, P256)).rejects.toThrow(); // AES no longer
    await openChannel(w.h, w.p.keys, SUITE_SM2_SM3_SM4);
    expect(w.h.cmd(A.INS_GET_STATUS).sw).toBe(OK); // protected response (R-MAC, R-ENC) checks out
    expect(w.h.cmd(A.INS_LOCK).sw).toBe(OK);
    w.h.select();
    expect(w.h.status().lifecycle).toBe(LC_LOCKED);
  });

  it("the default keys stop working after PUT KEY; wrong key version is 6A88", async () => {
    const w = await activeWallet(P256);
    const { GP_DEFAULT_KEYS } = await import("../protocol/src/scp03.ts");
    await expect(openChannel(w.h, GP_DEFAULT_KEYS, P256)).rejects.toThrow();
    expect(w.h.raw(Uint8Array.of(0x80, A.INS_INITIALIZE_UPDATE, 0x33, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0)).sw).toBe(0x6a88);
    await openChannel(w.h, w.p.keys, P256);
    expect(w.h.cmd(A.INS_PUT_KEY, 0x33, A.P2_PUT_KEY_MULTIPLE, new Uint8Array(70)).sw).toBe(0x6a88);
    expect(w.h.cmd(A.INS_PUT_KEY, 0, 0x01, new Uint8Array(70)).sw).toBe(0x6a86);
    expect(w.h.cmd(A.INS_PUT_KEY, 0, A.P2_PUT_KEY_MULTIPLE, new Uint8Array(10)).sw).toBe(0x6700);
  });

  it("SYNC under an unknown issuer key is 6A88, with a bad signature 6984", async () => {
    const w = await activeWallet(P256);
    const stranger = new TestIssuer(P256);
    const ack = (iss: TestIssuer) => iss.syncAck({ deviceId: w.p.deviceId, upToCounter: 0, time: T0 + 5, revocationVersion: 1, blockList: [] });
    expect(w.h.cmd(A.INS_SYNC, 0, 0, ack(stranger)).sw).toBe(0x6a88);
    expect(w.h.cmd(A.INS_SYNC, 0, 0, ack(new TestIssuer(P256, w.issuer.kid))).sw).toBe(0x6984);
    expect(w.h.cmd(A.INS_SYNC, 0, 0, ack(w.issuer)).sw).toBe(OK);
  });

  it("a second trusted issuer key (rotation) is accepted once written to slot 1", async () => {
    const w = await activeWallet(P256);
    const next = new TestIssuer(P256);
    const doc = next.load({ deviceId: w.p.deviceId, seq: 1, amount: 100, currency: 978, expiry: T0 + 999 });
    expect(w.h.cmd(A.INS_LOAD, 0, 0, cat(u32be(T0), doc)).sw).toBe(0x6a88);
    await openChannel(w.h, w.p.keys, P256);
    expect(w.h.cmd(A.INS_PUT_ISSUER_KEY, 1, 0, cat(Uint8Array.of(next.kid.length), next.kid, next.key.pub)).sw).toBe(OK);
    w.h.select();
    expect(w.h.cmd(A.INS_LOAD, 0, 0, cat(u32be(T0), doc)).sw).toBe(OK);
    expect(load(w, 100, { seq: 2 }).sw).toBe(OK); // the first key still works
  });
});
