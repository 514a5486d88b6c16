// Reconciliation (DESIGN.md §6; host-tools/README.md "Reconciliation rules"): synthetic signed vouchers from host-side
// paper devices through real POS-export / device-log files into a ledger, the same suite
// on SQLite and on PostgreSQL.
// Honest traffic → 0 fraud; clone (fork), replay, over-limit, revoked, tampered, gap =
// pending, out-of-order files, re-import changes nothing, corrupted export.
import { beforeEach, describe, expect, it } from "vitest";
import type { Ledger } from "../host-tools/src/ledger/ledger.ts";
import { parseInput, reconcile, POS_EXPORT_FORMAT } from "../host-tools/src/reconcile.ts";
import { PaperDevice } from "../host-tools/src/synthetic.ts";
import { hex } from "../host-tools/src/docs.ts";
import { decodeSign1, encodeSign1 } from "../protocol/src/cose.ts";
import { WalletError, EXIT_DATA } from "../host-tools/src/errors.ts";
import { BACKENDS, type Backend } from "./support/ledger-backends.ts";
import { issuer, ledgerWith as ledgerOn, logFile, posFile, threeDevices } from "./support/paper-files.ts";

const M1 = Buffer.from("0000000000000001", "hex");
const M2 = Buffer.from("0000000000000002", "hex");
const T = 1_750_000_000;

const P256 = issuer("p256");
const SM2 = issuer("sm2");

let backend: Backend;
const ledgerWith = (...devs: PaperDevice[]) => ledgerOn(backend, [P256, SM2], devs);

const snapshot = async (l: Ledger) => ({
  vouchers: (await Promise.all((await l.devices()).map((d) => l.vouchersOf(d.deviceId)))).flat().map((v) => [v.hash, v.status, v.reason]).sort(),
  cases: (await l.fraudCases()).map((c) => [c.kind, c.deviceId, c.counter, c.voucherHash]).sort(),
  summary: await l.summary(),
});

describe.each(BACKENDS)("reconcile ($label)", (be) => {
  const it = be.it;
  let a: PaperDevice, b: PaperDevice, s: PaperDevice;
  beforeEach(() => {
    backend = be;
    ({ a, b, s } = threeDevices(P256, SM2));
  });

  it("honest traffic over two POS settles everything with 0 fraud cases", async () => {
    const l = await ledgerWith(a, b, s);
    const p1 = [a.pay(100, M1, T), b.pay(250, M1, T + 1), s.pay(300, M1, T + 2)];
    const p2 = [a.pay(200, M2, T + 3), a.pay(300, M2, T + 4), s.pay(50, M2, T + 5)];
    const r = await reconcile(l, [posFile(M1, p1), posFile(M2, p2)]);
    expect(r.newVouchers).toBe(6);
    expect(r.newFraudCases).toEqual([]);
    expect(r.rejected).toBe(0);
    const sum = await l.summary();
    expect(sum.fraudCases).toBe(0);
    expect(sum.merchants).toEqual([
      { payee: hex(M1), vouchers: 3, settled: 650, pending: 0, held: 0 },
      { payee: hex(M2), vouchers: 3, settled: 550, pending: 0, held: 0 },
    ]);
    expect((await l.verifyAudit()).ok).toBe(true);
  });

  it("re-importing the same files changes nothing", async () => {
    const l = await ledgerWith(a);
    const f = posFile(M1, [a.pay(100, M1, T), a.pay(100, M1, T + 1)]);
    await reconcile(l, [f]);
    const before = await snapshot(l);
    const audits = (await l.auditEntries()).length;
    const r = await reconcile(l, [f, f]);
    expect(r.files.every((x) => x.alreadyImported)).toBe(true);
    expect(r.newVouchers).toBe(0);
    expect(await snapshot(l)).toEqual(before);
    expect((await l.auditEntries()).length).toBe(audits);
    // the same vouchers inside a different file (another terminal's export): still nothing new
    const r2 = await reconcile(l, [posFile(M1, [...f.coses], "t2")]);
    expect(r2.newVouchers).toBe(0);
    expect(r2.duplicates).toBe(2);
    expect((await snapshot(l)).vouchers).toEqual(before.vouchers);
  });

  it("a cloned device spending twice is a fork: both vouchers are fraud, neither settles", async () => {
    const l = await ledgerWith(a);
    const first = a.pay(100, M1, T);
    const clone = a.clone();
    const honest = a.pay(500, M1, T + 10);
    const forged = clone.pay(700, M2, T + 11);
    const r = await reconcile(l, [posFile(M1, [first, honest]), posFile(M2, [forged])]);
    const forks = r.newFraudCases.filter((c) => c.kind === "fork");
    expect(forks).toHaveLength(2);
    expect(forks.every((c) => c.deviceId === a.id && c.counter === 2)).toBe(true);
    const vs = await l.vouchersOf(a.id);
    expect(vs.map((v) => [v.counter, v.status])).toEqual(expect.arrayContaining([[1, "settled"], [2, "fraud"], [2, "fraud"]]));
    const sum = await l.summary();
    expect(sum.merchants.find((m) => m.payee === hex(M2))).toMatchObject({ settled: 0, held: 700 });
    expect(sum.merchants.find((m) => m.payee === hex(M1))).toMatchObject({ settled: 100, held: 500 });
    expect([sum.paidToMerchants, sum.settledToMerchants, sum.heldForFraud]).toEqual([1300, 100, 1200]);
  });

  it("a voucher presented by a merchant it was not made out to is a replay and settles once, to its payee", async () => {
    const l = await ledgerWith(a);
    const v = a.pay(100, M1, T);
    await reconcile(l, [posFile(M1, [v])]);
    const r = await reconcile(l, [posFile(M2, [v])]);
    expect(r.newFraudCases.map((c) => c.kind)).toEqual(["replay"]);
    const sum = await l.summary();
    expect(sum.merchants).toEqual([{ payee: hex(M1), vouchers: 1, settled: 100, pending: 0, held: 0 }]);
  });

  it("over-limit vouchers (per payment and since sync) are fraud", async () => {
    const small = { ...a.limits, maxPayment: 1000, maxCountSinceSync: 3 };
    const d = PaperDevice.create(P256, { limits: small });
    const l = await ledgerWith(d);
    const vs = [d.pay(5000, M1, T), d.pay(10, M1, T + 1), d.pay(10, M1, T + 2), d.pay(10, M1, T + 3)];
    const r = await reconcile(l, [posFile(M1, vs)]);
    const kinds = r.newFraudCases.map((c) => [c.kind, c.counter]);
    expect(kinds).toEqual(expect.arrayContaining([["over-limit", 1], ["over-limit", 4]]));
    expect(kinds).toHaveLength(2);
  });

  it("a sync acknowledgement starts a new since-sync window", async () => {
    const d = PaperDevice.create(P256, { limits: { ...a.limits, maxCountSinceSync: 2 } });
    const l = await ledgerWith(d);
    for (const upToCounter of [2, 4]) await l.addSyncAck({ deviceId: d.id, upToCounter, time: T + upToCounter, revocationVersion: 0, ack: new Uint8Array(1) });
    const vs = Array.from({ length: 7 }, (_, i) => d.pay(10, M1, T + i));
    const r = await reconcile(l, [posFile(M1, vs)]);
    // windows: 1-2, 3-4, then 5-7 (the third payment since the ack at 4 is one too many)
    expect(r.newFraudCases.map((c) => [c.kind, c.counter])).toEqual([["over-limit", 7]]);
  });

  it("vouchers signed after revocation are fraud; earlier ones settle", async () => {
    const l = await ledgerWith(a);
    await l.setRevoked(a.id, true, T + 100);
    const r = await reconcile(l, [posFile(M1, [a.pay(100, M1, T), a.pay(100, M1, T + 200)])]);
    expect(r.newFraudCases.map((c) => [c.kind, c.counter])).toEqual([["revoked", 2]]);
    expect((await l.vouchersOf(a.id)).map((v) => v.status)).toEqual(["settled", "fraud"]);
  });

  it("tampered vouchers are rejected with a fraud case; unknown devices only rejected", async () => {
    const l = await ledgerWith(a);
    const good = a.pay(100, M1, T);
    const bad = Uint8Array.from(good);
    bad[bad.length - 5] ^= 0x40; // inside the signature
    const stranger = PaperDevice.create(P256).pay(100, M1, T);
    const notCbor = Uint8Array.from([0xd2, 0x84, 0x40]);
    const r = await reconcile(l, [posFile(M1, [bad, stranger, notCbor])]);
    expect(r.rejected).toBe(3);
    expect(r.newFraudCases.map((c) => c.kind)).toEqual(["tampered"]);
    expect((await l.rejected()).map((x) => x.reason)).toEqual(
      expect.arrayContaining([expect.stringMatching(/signature does not verify/), expect.stringMatching(/^unknown device/), expect.stringMatching(/^bad voucher/)]),
    );
  });

  it("an import reads only the devices its documents name: 1 voucher against 300 registered devices reads that one device in one read, with or without workers", async () => {
    const others = Array.from({ length: 300 }, () => PaperDevice.create(P256));
    for (const workers of [0, 2]) {
      const l = await ledgerWith(a, ...others);
      const read: string[] = [];
      let whole = 0;
      const among = l.devicesAmong?.bind(l);
      l.devicesAmong = async (ids) => (read.push(...ids), among(ids));
      const all = l.devices.bind(l);
      l.devices = async () => (whole++, all());
      // a POS export with one voucher of `a`, made big enough for the workers by repeating it
      const v = a.pay(100, M1, T);
      const r = await reconcile(l, [posFile(M1, Array.from({ length: workers ? 2_500 : 1 }, () => v))], { workers });
      expect([r.newVouchers, r.rejected, r.newFraudCaseCount]).toEqual([1, 0, 0]);
      // the registry as a whole is never read (it was, once per import, with every certificate
      // checked): one read, of the one device named
      expect(whole).toBe(0);
      expect(read).toEqual([a.id]);
      await l.close();
    }
  });

  it("3,000 documents from 3,000 devices not ours cost a registry read per batch or page of rejects, not one per document", async () => {
    const l = await ledgerWith(a);
    let calls = 0;
    const among = l.devicesAmong.bind(l);
    l.devicesAmong = async (ids) => (calls++, among(ids));
    const strangers = Array.from({ length: 3_000 }, (_, i) => PaperDevice.create(P256).pay(100, M1, T + i));
    const r = await reconcile(l, [posFile(M1, [a.pay(100, M1, T), ...strangers])], { workers: 2 });
    expect([r.newVouchers, r.rejected, r.newFraudCaseCount]).toEqual([1, 3_000, 0]);
    expect(new Set((await l.rejected()).map((x) => x.reason.replace(/ [0-9a-f]{16}$/, "")))).toEqual(new Set(["unknown device"]));
    // one batch of 3,001 documents and three pages of 1,000 rejects
    expect(calls).toBeLessThanOrEqual(4);
  });

  it("a document whose kid names another device of ours than its payload is rejected, naming neither, the same with or without workers", async () => {
    const v = decodeSign1(a.pay(100, M1, T));
    const swapped = encodeSign1({ ...v, kid: Buffer.from(b.id, "hex") });
    const seen: unknown[] = [];
    for (const workers of [0, 2]) {
      const l = await ledgerWith(a, b);
      const r = await reconcile(l, [posFile(M1, Array.from({ length: workers ? 2_500 : 1 }, () => swapped))], { workers });
      expect(r.rejected).toBe(1);
      seen.push(await snapshot(l), (await l.rejected()).map((x) => [x.deviceId, x.reason]));
      await l.close();
    }
    expect(seen[2]).toEqual(seen[0]);
    expect(seen[3]).toEqual(seen[1]);
    // neither device is credited with it: the kid the triage looked up is not the signer's
    expect(seen[1]).toEqual([[null, expect.stringMatching(/kid does not match/)]]);
    expect((seen[0] as Awaited<ReturnType<typeof snapshot>>).cases).toEqual([]);
  });

  it("a voucher under an untrusted issuer's certificate is rejected", async () => {
    const rogue = issuer("p256");
    const d = PaperDevice.create(rogue);
    const l = await ledgerWith(d);
    const r = await reconcile(l, [posFile(M1, [d.pay(100, M1, T)])]);
    expect(r.rejected).toBe(1);
    expect((await l.rejected())[0].reason).toMatch(/not trusted/);
  });

  it("a gap is pending, not fraud, and settles when the missing voucher arrives", async () => {
    const l = await ledgerWith(a);
    const v1 = a.pay(100, M1, T);
    const v2 = a.pay(100, M2, T + 1);
    const v3 = a.pay(100, M1, T + 2);
    const r = await reconcile(l, [posFile(M1, [v1, v3])]);
    expect(r.newFraudCases).toEqual([]);
    expect(r.pendingGaps).toEqual([{ deviceId: a.id, ranges: [[2, 2]] }]);
    expect((await l.vouchersOf(a.id)).map((v) => v.status)).toEqual(["settled", "pending"]);
    await reconcile(l, [posFile(M2, [v2])]);
    expect((await l.vouchersOf(a.id)).map((v) => v.status)).toEqual(["settled", "settled", "settled"]);
  });

  it("out-of-order files end in the same state", async () => {
    const c = a.clone();
    const files = [
      posFile(M1, [a.pay(100, M1, T), a.pay(200, M1, T + 1)]),
      posFile(M2, [a.pay(300, M2, T + 2), c.pay(1, M2, T + 3)]),
      logFile(b, [b.pay(10, M1, T), b.pay(20, M2, T + 1)]),
      posFile(M1, [a.pay(400, M1, T + 4), s.pay(5, M1, T + 5)]),
    ];
    const l1 = await ledgerWith(a, b, s);
    for (const f of files) await reconcile(l1, [f]);
    const l2 = await ledgerWith(a, b, s);
    for (const f of [...files].reverse()) await reconcile(l2, [f]);
    const l3 = await ledgerWith(a, b, s);
    await reconcile(l3, [files[2], files[0], files[3], files[1]]);
    const s1 = await snapshot(l1);
    expect(await snapshot(l2)).toEqual(s1);
    expect(await snapshot(l3)).toEqual(s1);
    expect(s1.cases.map((x) => x[0])).toEqual(["fork", "fork"]);
  });

  it("a corrupted export is one data error and the ledger is unchanged", () => {
    const good = JSON.stringify({ format: POS_EXPORT_FORMAT, version: 1, terminal: "t", merchant: hex(M1), exportedAt: "x", vouchers: [] });
    for (const [text, msg] of [
      [good.slice(0, 30), /not valid JSON/],
      [JSON.stringify({ format: "other" }), /not a offline-wallet-pos-export/],
      [good.replace('"vouchers":[]', '"vouchers":[{"cose":"zz"}]'), /vouchers\[0\] is not hex/],
    ] as const) {
      let err: unknown;
      try {
        parseInput("bad.json", text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(WalletError);
      expect((err as WalletError).exitCode).toBe(EXIT_DATA);
      expect((err as WalletError).message).toMatch(msg);
    }
  });

  it("worker threads give the same verdicts as the main thread", async () => {
    const l = await ledgerWith(a, b);
    const vs = [...Array.from({ length: 30 }, (_, i) => a.pay(10, M1, T + i)), ...Array.from({ length: 30 }, (_, i) => b.pay(10, M1, T + i))];
    vs[7] = Uint8Array.from(vs[7]);
    vs[7][vs[7].length - 3] ^= 1;
    const r = await reconcile(l, [posFile(M1, vs)], { workers: 2 });
    expect(r.rejected).toBe(1);
    expect(r.newVouchers).toBe(59);
    const l2 = await ledgerWith(a, b);
    await reconcile(l2, [posFile(M1, vs)], { workers: 0 });
    expect(await snapshot(l2)).toEqual(await snapshot(l));
  });

  it("with worker threads, every voucher of a device whose certificate fails is rejected (the workers start before the certificate checks)", async () => {
    const rogue = PaperDevice.create(issuer("p256")); // its certificate names an untrusted issuer key
    const vs = [...Array.from({ length: 20 }, (_, i) => a.pay(10, M1, T + i)), ...Array.from({ length: 20 }, (_, i) => rogue.pay(10, M1, T + i))];
    const l = await ledgerWith(a, rogue);
    const r = await reconcile(l, [posFile(M1, vs)], { workers: 2 });
    expect(r.rejected).toBe(20);
    expect(r.newVouchers).toBe(20);
    expect(new Set((await l.rejected()).map((x) => x.reason))).toEqual(new Set([expect.stringMatching(/not trusted/)]));
    const l2 = await ledgerWith(a, rogue);
    await reconcile(l2, [posFile(M1, vs)], { workers: 0 });
    expect(await snapshot(l2)).toEqual(await snapshot(l));
  });
  it("a voucher with altered signature bytes and the voucher itself end in the same ledger in either order, in one import or two: no tampered case once the voucher is in", async () => {
    for (const dev of [s, a]) {
      const v = dev.pay(100, M1, T);
      const garbled = v.slice();
      garbled[garbled.length - 1] ^= 0x5a; // s altered (not the low/high-S twin)
      const orders = [[[garbled], [v]], [[v], [garbled]], [[garbled, v]], [[v, garbled]]];
      const ends = [];
      for (const order of orders) {
        const l = await ledgerWith(dev);
        for (const [k, docs] of order.entries()) await reconcile(l, [posFile(M1, docs, `pos-${k}.json`)]);
        const rej = await l.rejected();
        expect(rej).toHaveLength(1);
        expect(rej[0].reason).toMatch(/altered signature bytes/);
        expect(await l.fraudCases({ deviceId: dev.id })).toEqual([]);
        ends.push(await snapshot(l));
        await l.close();
      }
      for (const e of ends.slice(1)) expect(e).toEqual(ends[0]);
    }
  });
});
