// Adversarial review of the wallet applet (SPEC §3, §5, §9) on the real
// build/firmware.wasm: what an attacker holding a card with a malicious reader, or a
// clone/replay attacker with the flash image, would try. Each refused attack asserts the
// exact SW and that balance, counter and log are unchanged.
import { describe, expect, it } from "vitest";
import * as A from "../protocol/portable/apdu.ts";
import * as L from "../protocol/portable/limits.ts";
import { DOC_TYPE_CERT, DOC_TYPE_SYNCACK, FORM_CARD } from "../protocol/portable/cbor-keys.ts";
import { SUITE_P256_SHA256_AES128 } from "../protocol/portable/suite.ts";
import { AppletHarness, cat, pinBlock, u32be, type Status } from "./support/applet-device.ts";
import { DEFAULT_LIMITS, TestIssuer } from "./support/applet-issuer.ts";
import { T0, persoSteps } from "./support/applet-perso.ts";
import { activeWallet, load, pay, readLog, receiveData, syncAck, type Wallet } from "./support/applet-wallet.ts";

const OK = 0x9000;
const P256 = SUITE_P256_SHA256_AES128;

/** The value state an attack must not move. */
const valueOf = (s: Status) => ({ balance: s.balance, counter: s.counter, logCount: s.logCount, loadSeq: s.loadSeq });

/** Minimal CBOR writer for hand-made (malformed) issuer documents: head + raw items. */
function head(major: number, v: number): Uint8Array {
  const m = major << 5;
  if (v < 24) return Uint8Array.of(m | v);
  if (v < 0x100) return Uint8Array.of(m | 24, v);
  if (v < 0x10000) return Uint8Array.of(m | 25, v >> 8, v & 0xff);
  return cat(Uint8Array.of(m | 26), u32be(v));
}
const uint = (v: number) => head(0, v);
const bstr = (b: Uint8Array) => cat(head(2, b.length), b);

function restart(w: Wallet): void {
  w.h.powerCycle();
  w.h.select();
}

describe("clone / replay: flash rollback", () => {
  it("restoring the flash image after a delivered voucher is detected (no double spending)", async () => {
    const w = await activeWallet(P256);
    expect(load(w, 10_000).sw).toBe(OK);
    const image = w.h.dev.flash.bytes.slice();
    expect(pay(w, 3_000).sw).toBe(OK); // the voucher left the device
    w.h.dev.powerOff();
    w.h.dev.flash.bytes.set(image); // the attacker writes the old image back
    w.h.dev.powerOn();
    w.h.select();
    const s = w.h.status();
    expect(s.flags & A.STATUS_FLAG_CORRUPT).not.toBe(0);
    expect(pay(w, 3_000).sw).toBe(0x6581); // the same 3 000 cannot be spent again
    expect(w.h.status().lastReason).toBe(L.REASON_CORRUPT);
  });

  it("a power cut between PAY's commit and the counter increment is not taken for a rollback", async () => {
    const w = await activeWallet(P256);
    expect(load(w, 10_000).sw).toBe(OK);
    const ops0 = w.h.dev.flash.opCount;
    expect(pay(w, 100).sw).toBe(OK);
    const n = w.h.dev.flash.opCount - ops0;
    // the last flash op of the next PAY completes (its COMMIT entry), then power is lost
    w.h.dev.cutPowerAfter(n, "full");
    expect(() => pay(w, 200)).toThrow();
    w.h.dev.powerOn();
    w.h.select();
    const s = w.h.status();
    expect(s.flags & A.STATUS_FLAG_CORRUPT).toBe(0);
    expect(valueOf(s)).toMatchObject({ balance: 9_700, counter: 2 });
    expect(w.h.dev.monotonicCounter).toBe(2); // caught up at reset
    const image = w.h.dev.flash.bytes.slice();
    expect(pay(w, 300).sw).toBe(OK);
    // and a rollback of the next voucher is still seen
    w.h.dev.powerOff();
    w.h.dev.flash.bytes.set(image);
    w.h.dev.powerOn();
    w.h.select();
    expect(pay(w, 300).sw).toBe(0x6581);
  });
});

describe("malformed issuer-signed documents", () => {
  it("SYNC: a block-list entry that is not 8 bytes is refused, not half-applied", async () => {
    const w = await activeWallet(P256);
    load(w, 5_000);
    expect(pay(w, 100).sw).toBe(OK);
    const victim = new Uint8Array(8).fill(0x42);
    expect(w.h.cmd(A.INS_SYNC, 0, 0, syncAck(w, 0, T0 + 100, { blockList: [victim] })).sw).toBe(OK);
    const before = w.h.status();
    // keys 0..5, 7 (no limits); the block list holds one 7-byte id
    const payload = cat(
      head(5, 7), uint(0), uint(DOC_TYPE_SYNCACK), uint(1), bstr(w.p.deviceId), uint(2), uint(1), uint(3), uint(T0 + 200),
      uint(4), uint(2), uint(5), head(4, 1), bstr(new Uint8Array(7).fill(1)), uint(7), bstr(w.issuer.kid),
    );
    const r = w.h.cmd(A.INS_SYNC, 0, 0, w.issuer.signPayload(payload));
    expect(r.sw).toBe(0x6a80);
    const after = w.h.status();
    expect(after.lastReason).toBe(L.REASON_FORMAT);
    expect(valueOf(after)).toEqual(valueOf(before));
    expect(after.revocationVersion).toBe(before.revocationVersion);
    expect(readLog(w).length).toBe(1); // nothing pruned
  });

  it("PUT CERTIFICATE: a map whose count exceeds its bytes (2^31 pairs) is refused", async () => {
    const issuer = new TestIssuer(P256);
    const h = new AppletHarness({ seed: `adv-cert-${Math.random()}` });
    const { steps, result } = persoSteps(h, issuer);
    for (const [name, run] of steps) {
      if (name === "certificate") break;
      await run();
    }
    const fields = (limits: Uint8Array) => cat(
      head(5, 11), uint(0), uint(DOC_TYPE_CERT), uint(1), bstr(result.deviceId!), uint(2), bstr(new Uint8Array(16).fill(7)),
      uint(3), uint(P256), uint(4), bstr(result.pub!), uint(5), uint(FORM_CARD), uint(6), uint(978), uint(7), limits,
      uint(8), uint(T0 - 3600), uint(9), uint(T0 + 86400), uint(10), bstr(issuer.kid),
    );
    const bogus = cat(Uint8Array.of(0xba), u32be(0x80000000)); // map(2^31) with no items
    expect(h.cmd(A.INS_PUT_CERTIFICATE, 0, 0, issuer.signPayload(fields(bogus))).sw).toBe(0x6a80);
    expect(h.status().flags & A.STATUS_FLAG_HAS_CERT).toBe(0);
    // the same certificate with a real limits map is accepted (the test's control)
    const l = DEFAULT_LIMITS;
    const good = cat(head(5, 6), uint(0), uint(l.cap), uint(1), uint(l.maxPayment), uint(2), uint(l.noCvm),
      uint(3), uint(l.maxCountSinceSync), uint(4), uint(l.maxAmountSinceSync), uint(5), uint(l.syncInterval));
    expect(h.cmd(A.INS_PUT_CERTIFICATE, 0, 0, issuer.signPayload(fields(good))).sw).toBe(OK);
  });
});

describe("attacks that are refused", () => {
  it("LOAD: u32 wraparound of balance + amount is refused as over cap", async () => {
    const w = await activeWallet(P256);
    expect(load(w, 1_000).sw).toBe(OK);
    const before = w.h.status();
    expect(load(w, 0xffffffff - 500).sw).toBe(0x6985); // 1000 + that wraps to 499 in u32
    expect(w.h.status().lastReason).toBe(L.REASON_CAP);
    expect(valueOf(w.h.status())).toEqual(valueOf(before));
  });

  it("PIN verification does not survive SELECT or power-off; a verified PIN pays once", async () => {
    const w = await activeWallet(P256);
    load(w, 50_000);
    const big = DEFAULT_LIMITS.noCvm + 1;
    const verify = () => w.h.iso(A.INS_VERIFY, 0, A.P2_PIN, pinBlock(w.p.pin)).sw;
    expect(verify()).toBe(OK);
    w.h.select();
    const before = w.h.status();
    expect(pay(w, big).sw).toBe(0x6982);
    expect(verify()).toBe(OK);
    restart(w);
    expect(pay(w, big).sw).toBe(0x6982);
    expect(valueOf(w.h.status())).toEqual(valueOf(before));
    expect(verify()).toBe(OK);
    expect(pay(w, big).sw).toBe(OK);
    expect(pay(w, big).sw).toBe(0x6982); // consumed by the payment
    expect(w.h.status().balance).toBe(50_000 - big);
  });

  it("time never goes backwards: an old POS time is signed as the latest time seen", async () => {
    const w = await activeWallet(P256);
    load(w, 5_000);
    expect(pay(w, 10, { time: T0 + 5_000 }).sw).toBe(OK);
    expect(pay(w, 11, { time: T0 + 10 }).sw).toBe(OK);
    expect(w.h.status().latestTime).toBe(T0 + 5_000);
  });

  it("SYNC: a replayed acknowledgement does not reset the since-sync limits", async () => {
    const w = await activeWallet(P256, { limits: { ...DEFAULT_LIMITS, maxCountSinceSync: 2 } });
    load(w, 5_000);
    expect(pay(w, 10).sw).toBe(OK);
    const ack = syncAck(w, 1, T0 + 100);
    expect(w.h.cmd(A.INS_SYNC, 0, 0, ack).sw).toBe(OK);
    expect(pay(w, 11).sw).toBe(OK);
    expect(pay(w, 12).sw).toBe(OK);
    const before = w.h.status();
    expect(w.h.cmd(A.INS_SYNC, 0, 0, ack).sw).toBe(0x6985);
    expect(w.h.status().lastReason).toBe(L.REASON_REPLAY);
    expect(pay(w, 13).sw).toBe(0x6985);
    expect(w.h.status().lastReason).toBe(L.REASON_COUNT_SINCE_SYNC);
    expect(valueOf(w.h.status())).toEqual(valueOf(before));
  });

  it("secure channel: a plain or badly MACed administration command is refused; a bad MAC closes the channel", async () => {
    const w = await activeWallet(P256);
    load(w, 2_000);
    const { openChannel } = await import("./support/applet-perso.ts");
    await openChannel(w.h, w.p.keys, P256);
    const limits = cat(...[1, 1, 1, 1, 1, 1].map(u32be));
    // plain CLA 80 while the channel is open
    expect(w.h.send(A.CLA_PROPRIETARY, A.INS_SET_LIMITS, 0, 0, limits).sw).toBe(0x6982);
    // CLA 84 with a forged MAC
    const forged = cat(Uint8Array.of(0x84, A.INS_LOCK, 0, 0, 8), new Uint8Array(8));
    expect(w.h.raw(forged).sw).toBe(0x6982);
    expect(w.h.status().flags & A.STATUS_FLAG_CHANNEL_OPEN).toBe(0);
    expect(w.h.status().cap).toBe(DEFAULT_LIMITS.cap);
    w.h.secure = null;
  });

  it("transport: chained data beyond APDU_MAX_DATA is refused; GET RESPONSE never serves an older answer", async () => {
    const w = await activeWallet(P256);
    load(w, 2_000);
    const before = w.h.status();
    const block = new Uint8Array(255).fill(0xaa);
    const chain = (cla: number) => w.h.raw(cat(Uint8Array.of(cla, A.INS_LOAD, 0, 0, block.length), block)).sw;
    let sw = 0;
    let i = 0;
    for (; i < 10; i++) {
      sw = chain(A.CLA_PROPRIETARY | A.CLA_CHAINING);
      if (sw !== OK) break;
    }
    expect(sw).toBe(0x6700);
    expect(i).toBe(Math.floor(A.APDU_MAX_DATA / 255));
    expect(chain(A.CLA_PROPRIETARY)).toBe(0x6a80); // a fresh command: the overflowed chain is gone
    // a long answer left pending, then another command: GET RESPONSE has nothing
    const r = w.h.raw(Uint8Array.of(0x80, A.INS_READ_LOG, 0, 0, 0x10));
    expect(r.sw >> 8).toBe(0x61);
    expect(w.h.raw(Uint8Array.of(0x80, A.INS_GET_STATUS, 0, 0, 0)).sw).toBe(OK);
    expect(w.h.raw(Uint8Array.of(0, A.INS_GET_RESPONSE, 0, 0, 0)).sw).toBe(0x6985);
    expect(valueOf(w.h.status())).toEqual(valueOf(before));
  });
});

describe("time pushed forward by a malicious reader or peer (SPEC §3.3 LOAD, RECEIVE)", () => {
  // A host time past the sync deadline would make every later PAY "sync overdue", and SYNC
  // cannot bring the latest time seen back: LOAD and RECEIVE refuse it as PAY does.
  const FAR = T0 + 365 * 86400; // past the 30-day sync deadline, inside the payer certificate

  /** The refusal leaves value state, latest time and deadline alone; a normal PAY still works. */
  function expectRefusedThenPays(w: Wallet, sw: number, before: Status): void {
    expect(sw).toBe(0x6985);
    const after = w.h.status();
    expect(after.lastReason).toBe(L.REASON_SYNC_OVERDUE);
    expect(valueOf(after)).toEqual(valueOf(before));
    expect(after.latestTime).toBe(before.latestTime);
    expect(after.syncDeadline).toBe(before.syncDeadline);
    expect(pay(w, 100).sw).toBe(OK);
    expect(w.h.status().balance).toBe(before.balance - 100);
  }

  it("RECEIVE with a time past the sync deadline is refused and changes nothing", async () => {
    const issuer = new TestIssuer(P256);
    const payer = await activeWallet(P256, { issuer });
    const payee = await activeWallet(P256, { issuer });
    expect(load(payer, 10_000).sw).toBe(OK);
    expect(load(payee, 1_000).sw).toBe(OK);
    const ch = payee.h.iso(A.INS_GET_CHALLENGE, 0, 0, undefined, 16);
    const v = pay(payer, 2_500, { p1: A.P1_PAY_DEVICE, payee: payee.p.deviceId, challenge: ch.data });
    expect(v.sw).toBe(OK);
    const before = payee.h.status();
    expect(FAR).toBeGreaterThan(before.syncDeadline);
    const sw = payee.h.cmd(A.INS_RECEIVE, 0, 0, receiveData(v.data, payer.p.cert, FAR)).sw;
    expectRefusedThenPays(payee, sw, before);
  });

  it("LOAD with a time past the sync deadline is refused and changes nothing", async () => {
    const w = await activeWallet(P256);
    expect(load(w, 1_000).sw).toBe(OK);
    const before = w.h.status();
    expect(FAR).toBeGreaterThan(before.syncDeadline);
    const sw = load(w, 500, { time: FAR, expiry: FAR + 86400 }).sw;
    expectRefusedThenPays(w, sw, before);
    expect(load(w, 500).sw).toBe(OK); // the same load sequence number was not used up
  });
});

describe("SYNC: new limits the device cannot honour (SPEC §3.3 SYNC, SET LIMITS)", () => {
  // A signed ack must not set what SET LIMITS refuses: a cap below the balance (never met)
  // or a max payment above the cap. Both commands share one rule (state.ts limitsHonourable).
  const sync = (w: Wallet, time: number, limits?: typeof DEFAULT_LIMITS) => w.h.cmd(A.INS_SYNC, 0, 0, syncAck(w, w.h.status().counter, time, { limits }));
  const snapshot = (s: Status) => ({
    ...valueOf(s), cap: s.cap, remainingPayments: s.remainingPayments, remainingAmount: s.remainingAmount,
    syncDeadline: s.syncDeadline, latestTime: s.latestTime, revocationVersion: s.revocationVersion, lifecycle: s.lifecycle,
  });

  it("cap < balance and max payment > cap are refused with 6A80 by SYNC and SET LIMITS; nothing changes", async () => {
    const w = await activeWallet(P256);
    expect(load(w, 30_000).sw).toBe(OK);
    expect(pay(w, 100).sw).toBe(OK); // balance 29 900; log: the load receipt and the voucher
    const before = w.h.status();
    const capBelow = { ...DEFAULT_LIMITS, cap: 29_899, maxPayment: 10_000 };
    const payAboveCap = { ...DEFAULT_LIMITS, maxPayment: DEFAULT_LIMITS.cap + 1 };
    const t = T0 + 200;
    for (const bad of [capBelow, payAboveCap]) {
      const r = sync(w, t, bad);
      expect(r.sw.toString(16)).toBe("6a80");
      const after = w.h.status();
      expect(after.lastReason).toBe(L.REASON_FORMAT);
      expect(snapshot(after)).toEqual(snapshot(before));
      expect(readLog(w).length).toBe(before.logCount); // nothing pruned (the load receipt and the voucher)
    }
    // SET LIMITS refuses the same values (the one rule)
    const { openChannel } = await import("./support/applet-perso.ts");
    const { setLimitsCmd } = await import("../host-tools/src/perso.ts");
    await openChannel(w.h, w.p.keys, P256);
    for (const bad of [capBelow, payAboveCap]) expect(w.h.exec(setLimitsCmd(bad)).sw.toString(16)).toBe("6a80");
    w.h.select();
    expect(snapshot(w.h.status())).toEqual(snapshot(before));
    // the old max payment still holds (the refused ack did not raise it)
    expect(pay(w, DEFAULT_LIMITS.maxPayment + 1).sw).toBe(0x6985);
    expect(w.h.status().lastReason).toBe(L.REASON_MAX_PAYMENT);
    // control: the boundary (cap = balance, max payment = cap) is honourable, and the refused
    // acks left the last ack time alone, so an ack of the same time is accepted
    const edge = { ...DEFAULT_LIMITS, cap: before.balance, maxPayment: before.balance };
    expect(sync(w, t, edge).sw).toBe(OK);
    const s = w.h.status();
    expect(s.cap).toBe(before.balance);
    expect(s.logCount).toBe(0);
  });
});
