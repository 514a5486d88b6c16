// The verdict (host-tools/src/verdict.ts, DESIGN §4 and §8) against a small naive model of
// honest devices. fast-check generates histories of 2–5 devices: POS payments, loads with
// their receipts, device-to-device transfers with the payee's RECEIVE receipt, syncs (acks
// with increasing times, new limits delivered by ack), lost answers (an ack left "issued"
// that the device did or did not apply, settled at the next contact as flows.ts settleAcks
// does; a load recorded without its receipt) and power cuts. The model device enforces the
// limits as the firmware does (wallet.ts PAY: per-payment max, count and amount since the
// last APPLIED sync, balance; LOAD / RECEIVE: cap), so an honest history never exceeds them.
// The evidence is built at the record level (no signatures: hash = unique id) and handed
// over shuffled and with repeated entries. Checked:
//  - honest histories: 0 fraud cases; each voucher settled, or pending only when an ack is
//    still "issued" and a naive re-count says the voucher is over the limits in one of the
//    two readings (ack applied / not applied); loads with a receipt confirmed; D2D
//    vouchers with a receipt "received", the others awaiting / unclaimed as the payee's
//    syncs say;
//  - injected faults, each caught with its kind: clone and rollback → fork, a receipt for
//    a load the bank never issued → unissued-load, spending beyond the applied window →
//    over-limit (exactly where the naive re-count says so), a broken link → chain-break;
//    a malleated twin (the same signed payload twice) changes nothing;
//  - order independence: shuffled, repeated evidence gives the verdict of sorted evidence.
// Replays (a merchant presenting another's voucher) are judged per file in reconcile.ts,
// not here: test/reliability/fraud-detection.test.ts covers them.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createHash } from "node:crypto";
import { RECEIPT_KIND_LOAD, RECEIPT_KIND_RECEIVE, VOUCHER_KIND_D2D, VOUCHER_KIND_POS } from "../protocol/portable/cbor-keys.ts";
import { judgeDevice, type DeviceEvidence, type Verdict } from "../host-tools/src/verdict.ts";
import { limitsProblem } from "../host-tools/src/limits-rule.ts";
import type { FraudCase, Limits, LoadRecord, ReceiptRecord, SyncAck, VoucherRecord } from "../host-tools/src/ledger/ledger.ts";

const CUR = 156;
const ZERO = "0".repeat(64);
const T0 = 1_750_000_000;
const MERCHANTS = ["00000000000000a1", "00000000000000a2", "00000000000000a3"];
const EMPTY = new Uint8Array(0);
const h = (s: string) => createHash("sha256").update(s).digest("hex");

// ---------------------------------------------------------------- the naive model

interface Dev {
  id: string;
  base: Limits;
  // device state (what its flash holds)
  counter: number;
  prev: string;
  balance: number;
  sinceCount: number;
  sinceAmount: number;
  limits: Limits;
  lastAckTime: number;
  // what the device signed / logged
  vouchers: VoucherRecord[];
  receipts: ReceiptRecord[];
  // bank side
  acks: SyncAck[];
  loads: LoadRecord[];
  loadSeq: number;
  pendingLimits: Limits | null;
  /** time of the last log read (every sync attempt reads the log first) */
  lastLogRead: number;
  /** the acks the device really applied (the bank may not know yet) */
  applied: SyncAck[];
}

type Lost = "none" | "before" | "after"; // answer received / lost before the device applied / lost after
type Op =
  | { t: "pay"; d: number; m: number; amount: number }
  | { t: "load"; d: number; amount: number; lost: Lost }
  | { t: "d2d"; d: number; to: number; amount: number }
  | { t: "sync"; d: number; lost: Lost }
  | { t: "limits"; d: number; limits: Limits }
  | { t: "cut"; d: number };

interface World {
  devs: Dev[];
  time: number;
  nonce: number;
}

const snapshotOf = (d: Dev) => ({ counter: d.counter, prev: d.prev, balance: d.balance, sinceCount: d.sinceCount, sinceAmount: d.sinceAmount, limits: d.limits, lastAckTime: d.lastAckTime });
type Snapshot = ReturnType<typeof snapshotOf>;

function voucher(w: World, d: Dev, s: Snapshot, amount: number, payee: string, kind: number): VoucherRecord {
  s.counter++;
  s.balance -= amount;
  const hash = h(`v:${d.id}:${s.counter}:${w.nonce++}`);
  const v: VoucherRecord = {
    hash, deviceId: d.id, counter: s.counter, amount, currency: CUR, payee, kind, time: w.time, prev: s.prev, chainHash: h(`chain:${hash}`),
    balanceAfter: s.balance, cose: EMPTY, status: "settled", reason: null, claim: null,
  };
  s.prev = v.chainHash;
  return v;
}

/** PAY as the firmware checks it (wallet.ts): null when the device refuses. */
function pay(w: World, d: Dev, amount: number, payee: string, kind: number): VoucherRecord | null {
  const L = d.limits;
  if (amount > L.maxPayment || amount > d.balance || d.sinceCount >= L.maxCountSinceSync || d.sinceAmount + amount > L.maxAmountSinceSync) return null;
  const s = snapshotOf(d);
  const v = voucher(w, d, s, amount, payee, kind);
  Object.assign(d, s);
  d.sinceCount++;
  d.sinceAmount += amount;
  d.vouchers.push(v);
  return v;
}

function receipt(w: World, d: Dev, kind: number, ref: string, amount: number): ReceiptRecord {
  return { hash: h(`r:${d.id}:${w.nonce++}`), deviceId: d.id, kind, ref, amount, currency: CUR, counter: d.counter, time: w.time, balanceAfter: d.balance, cose: EMPTY, source: "log" };
}

/** flows.ts settleAcks: GET STATUS names the last ack the device applied. */
function settleAcks(d: Dev) {
  for (const a of d.acks) {
    if (a.state !== "issued") continue;
    if (a.time === d.lastAckTime) {
      a.state = "applied";
      if (a.limits) d.pendingLimits = null;
    } else if (a.time < d.lastAckTime) a.state = "void";
  }
}

/** Amounts are drawn in per-mille of a limit (up to 110%: some are refused). */
const scaled = (permille: number, limit: number) => Math.max(1, Math.round((limit * permille) / 1000));

function step(w: World, op: Op) {
  w.time += 1 + (op.d % 3);
  const d = w.devs[op.d % w.devs.length];
  switch (op.t) {
    case "pay":
      pay(w, d, scaled(op.amount, d.limits.maxPayment), MERCHANTS[op.m % MERCHANTS.length], VOUCHER_KIND_POS);
      return;
    case "d2d": {
      const to = w.devs[op.to % w.devs.length];
      if (to === d) return;
      const v = pay(w, d, scaled(op.amount, d.limits.maxPayment), to.id, VOUCHER_KIND_D2D);
      if (!v || to.balance + v.amount > to.limits.cap) return; // refused by the payee: unclaimed later
      to.balance += v.amount;
      to.receipts.push(receipt(w, to, RECEIPT_KIND_RECEIVE, v.chainHash, v.amount));
      return;
    }
    case "load": {
      const amount = scaled(op.amount, d.limits.cap);
      const seq = ++d.loadSeq;
      const applies = op.lost !== "before" && d.balance + amount <= d.limits.cap;
      const l: LoadRecord = { deviceId: d.id, seq, amount, currency: CUR, expiry: w.time + 600, auth: EMPTY, receipt: null };
      if (applies) {
        d.balance += amount;
        const r = receipt(w, d, RECEIPT_KIND_LOAD, String(seq), amount);
        d.receipts.push(r);
        if (op.lost === "none") l.receipt = new Uint8Array([1]);
      } else if (op.lost === "none") l.voided = true; // the device refused (cap)
      d.loads.push(l);
      return;
    }
    case "limits":
      d.pendingLimits = op.limits; // `wallet devices limits`: goes out with the next sync
      return;
    case "sync": {
      settleAcks(d);
      d.lastLogRead = w.time;
      const limits = d.pendingLimits;
      if (limits && limitsProblem(limits, d.balance)) return; // the issuer refuses to send what the device cannot honour
      const a: SyncAck = { deviceId: d.id, upToCounter: d.counter, time: w.time, revocationVersion: 0, ack: EMPTY, limits, state: "issued" };
      d.acks.push(a);
      if (op.lost !== "before") {
        // SYNC (log.ts cmdSync): window recounted after upTo (= counter: empty), new limits
        d.sinceCount = 0;
        d.sinceAmount = 0;
        d.lastAckTime = a.time;
        if (limits) d.limits = limits;
        d.applied.push(a);
      }
      if (op.lost === "none") {
        a.state = "applied";
        if (limits) d.pendingLimits = null;
      }
      return;
    }
    case "cut":
      return; // power cut between commands: nothing changes
  }
}

// ---------------------------------------------------------------- generators

const limitsArb = fc.record({
  cap: fc.integer({ min: 5_000, max: 60_000 }),
  maxPayment: fc.integer({ min: 200, max: 6_000 }),
  noCvm: fc.constant(1_000),
  maxCountSinceSync: fc.integer({ min: 1, max: 6 }),
  maxAmountSinceSync: fc.integer({ min: 500, max: 20_000 }),
  syncInterval: fc.constant(0),
});
const dev = fc.nat(4);
const lost = fc.constantFrom<Lost>("none", "none", "before", "after");
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ t: fc.constant("pay" as const), d: dev, m: fc.nat(2), amount: fc.integer({ min: 1, max: 1_100 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("load" as const), d: dev, amount: fc.integer({ min: 1, max: 1_100 }), lost }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("d2d" as const), d: dev, to: dev, amount: fc.integer({ min: 1, max: 1_100 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("sync" as const), d: dev, lost }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("limits" as const), d: dev, limits: limitsArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("cut" as const), d: dev }) },
);
const historyArb = fc.record({
  bases: fc.array(limitsArb, { minLength: 2, maxLength: 5 }),
  balances: fc.array(fc.integer({ min: 0, max: 1_000 }), { minLength: 5, maxLength: 5 }),
  ops: fc.array(opArb, { minLength: 10, maxLength: 90, size: "max" }),
  seed: fc.integer(),
});
type History = typeof historyArb extends fc.Arbitrary<infer T> ? T : never;

function run(hist: History): World {
  const w: World = { devs: [], time: T0, nonce: 0 };
  hist.bases.forEach((base, i) => {
    const id = (0x1000 + i).toString(16).padStart(16, "0");
    w.devs.push({
      id, base, counter: 0, prev: ZERO, balance: Math.round((base.cap * hist.balances[i]) / 1000), sinceCount: 0, sinceAmount: 0, limits: base, lastAckTime: 0,
      vouchers: [], receipts: [], acks: [], loads: [], loadSeq: 0, pendingLimits: null, lastLogRead: 0, applied: [],
    });
  });
  for (const op of hist.ops) step(w, op);
  return w;
}

// deterministic randomness from the run's seed (shuffles, repeats, which late receipts arrived)
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
type Rand = ReturnType<typeof rng>;
function mess<T extends object>(xs: readonly T[], r: Rand): T[] {
  const out = xs.map((x) => (r() < 0.15 ? [x, { ...x }] : [x])).flat(); // repeated entries (copies)
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

// ---------------------------------------------------------------- evidence and the naive re-count

interface Fleet {
  devs: Dev[];
  /** all vouchers the bank holds (honest + injected), by device */
  vouchers: Map<string, VoucherRecord[]>;
  /** receipts that reached the bank, by device */
  receipts: Map<string, ReceiptRecord[]>;
}

/** What reached the bank: every voucher; every receipt logged before the device's last log read, some later ones. */
function delivered(w: World, r: Rand): Fleet {
  const vouchers = new Map(w.devs.map((d) => [d.id, [...d.vouchers]]));
  const receipts = new Map(w.devs.map((d) => [d.id, d.receipts.filter((x) => x.time < d.lastLogRead || r() < 0.5)]));
  return { devs: w.devs, vouchers, receipts };
}

function evidence(f: Fleet, d: Dev, order: "sorted" | Rand): DeviceEvidence {
  const all = [...f.vouchers.values()].flat();
  const incoming = all.filter((v) => v.kind === VOUCHER_KIND_D2D && v.payee === d.id);
  const ev = { deviceId: d.id, baseLimits: d.base, revokedAt: null, vouchers: f.vouchers.get(d.id)!, acks: d.acks, receipts: f.receipts.get(d.id)!, loads: d.loads, incoming };
  if (order === "sorted") {
    const byCounter = (a: VoucherRecord, b: VoucherRecord) => a.counter - b.counter || (a.hash < b.hash ? -1 : 1);
    return { ...ev, vouchers: [...ev.vouchers].sort(byCounter), incoming: [...incoming].sort(byCounter), acks: [...ev.acks].sort((a, b) => a.time - b.time) };
  }
  return {
    ...ev, vouchers: mess(ev.vouchers, order), acks: mess(ev.acks, order), receipts: mess(ev.receipts, order), loads: mess(ev.loads, order), incoming: mess(incoming, order),
  };
}

/** Over the limits with `applied` taken as the acks the device applied: the definition, counted afresh per voucher. */
function naiveOver(vs: readonly VoucherRecord[], applied: readonly SyncAck[], base: Limits): Set<number> {
  const amount = new Map<number, number>();
  for (const v of vs) amount.set(v.counter, Math.max(amount.get(v.counter) ?? 0, v.amount));
  const out = new Set<number>();
  for (const [c, a] of amount) {
    const below = applied.filter((x) => x.upToCounter < c);
    const from = Math.max(0, ...below.map((x) => x.upToCounter));
    const withLimits = below.filter((x) => x.limits).sort((x, y) => y.time - x.time);
    const L = withLimits.length ? withLimits[0].limits! : base;
    const window = [...amount].filter(([k]) => k > from && k <= c);
    const sum = window.reduce((s, [, x]) => s + x, 0);
    if (a > L.maxPayment || window.length > L.maxCountSinceSync || sum > L.maxAmountSinceSync) out.add(c);
  }
  return out;
}
const readings = (d: Dev, vs: readonly VoucherRecord[]) => ({
  all: naiveOver(vs, d.acks.filter((a) => a.state !== "void"), d.base),
  applied: naiveOver(vs, d.acks.filter((a) => a.state === "applied"), d.base),
});

/** A verdict in a canonical form (cases as a set: the ledger opens each case once). */
function canon(v: Verdict) {
  return {
    status: [...v.status].sort(([a], [b]) => (a < b ? -1 : 1)),
    cases: [...new Set(v.cases.map((c) => JSON.stringify([c.kind, c.counter, c.voucherHash, c.detail])))].sort(),
    gaps: v.gaps,
    loads: [...v.confirmedLoads].map(([s, r]) => [s, r.hash]).sort(),
    claims: [...v.claims].sort(),
  };
}

function judgeAll(f: Fleet, order: "sorted" | Rand) {
  return new Map(f.devs.map((d) => [d.id, judgeDevice(evidence(f, d, order))]));
}

/** Judged sorted and shuffled (twice): the same verdict every time. */
function judgeChecked(f: Fleet, r: Rand) {
  const sorted = judgeAll(f, "sorted");
  for (let k = 0; k < 2; k++) {
    const shuffled = judgeAll(f, r);
    for (const d of f.devs) expect(canon(shuffled.get(d.id)!)).toEqual(canon(sorted.get(d.id)!));
  }
  return sorted;
}

const casesOf = (v: Verdict, kind?: FraudCase["kind"]) => v.cases.filter((c) => kind === undefined || c.kind === kind);

// ---------------------------------------------------------------- the properties

const RUNS = 600;

describe("verdict against a naive model (DESIGN §8)", () => {
  it("honest histories: 0 fraud, settled or (ack still issued) pending, loads confirmed, transfers received", () => {
    let pendingSeen = 0;
    let vouchers = 0;
    fc.assert(
      fc.property(historyArb, (hist) => {
        const w = run(hist);
        const r = rng(hist.seed);
        const f = delivered(w, r);
        const verdicts = judgeChecked(f, r);
        for (const d of w.devs) {
          const v = verdicts.get(d.id)!;
          expect(v.cases).toEqual([]);
          expect(v.gaps).toEqual([]);
          const { all, applied } = readings(d, d.vouchers);
          const truth = naiveOver(d.vouchers, d.applied, d.base);
          expect([...truth]).toEqual([]); // the model device kept to its limits
          const unconfirmed = d.acks.some((a) => a.state === "issued");
          for (const x of d.vouchers) {
            vouchers++;
            const s = v.status.get(x.hash)!;
            expect(all.has(x.counter) && applied.has(x.counter)).toBe(false);
            if (all.has(x.counter) || applied.has(x.counter)) {
              expect(unconfirmed).toBe(true);
              expect(s).toEqual({ status: "pending", reason: expect.stringMatching(/unless the last sync ack was applied/) });
              pendingSeen++;
            } else expect(s.status).toBe("settled");
          }
          // loads: confirmed exactly when their receipt reached the bank
          const got = f.receipts.get(d.id)!;
          const receiptSeqs = new Set(got.filter((x) => x.kind === RECEIPT_KIND_LOAD).map((x) => Number(x.ref)));
          expect(new Set(v.confirmedLoads.keys())).toEqual(receiptSeqs);
          // transfers to d: received with a receipt; else unclaimed once d synced after it
          const lastSync = Math.max(0, ...d.acks.filter((a) => a.state !== "void").map((a) => a.time));
          const receivedRefs = new Set(got.filter((x) => x.kind === RECEIPT_KIND_RECEIVE).map((x) => x.ref));
          for (const p of w.devs)
            for (const x of p.vouchers.filter((y) => y.kind === VOUCHER_KIND_D2D && y.payee === d.id))
              expect(v.claims.get(x.hash)).toBe(receivedRefs.has(x.chainHash) ? "received" : lastSync > x.time ? "unclaimed" : "awaiting");
        }
      }),
      { numRuns: RUNS },
    );
    expect(vouchers).toBeGreaterThan(RUNS * 5);
    expect(pendingSeen).toBeGreaterThan(0); // the undecided reading does occur
  });

  type Fault = "clone" | "rollback" | "twin" | "unissued-load" | "over-limit-payment" | "over-limit-window" | "chain-break";
  const faultArb = fc.constantFrom<Fault>("clone", "rollback", "twin", "unissued-load", "over-limit-payment", "over-limit-window", "chain-break");

  it("injected faults are caught with the right kind; a malleated twin changes nothing", () => {
    const caught = new Map<Fault, number>();
    fc.assert(
      fc.property(historyArb, faultArb, fc.nat(), (hist, fault, pick) => {
        const w = run(hist);
        const r = rng(hist.seed);
        const f = delivered(w, r);
        const honest = judgeAll(f, "sorted");
        const spenders = w.devs.filter((d) => (fault === "chain-break" ? d.vouchers.some((x) => x.kind === VOUCHER_KIND_POS) : d.vouchers.length > 0));
        const needsVouchers = fault !== "unissued-load" && fault !== "over-limit-payment" && fault !== "over-limit-window";
        if (needsVouchers && spenders.length === 0) return;
        const d = needsVouchers ? spenders[pick % spenders.length] : w.devs[pick % w.devs.length];
        const vs = f.vouchers.get(d.id)!;
        const injected: string[] = [];
        const snapAt = (k: number): Snapshot => ({ ...snapshotOf(d), counter: k, prev: k === 0 ? ZERO : d.vouchers[k - 1].chainHash });
        const merchant = MERCHANTS[pick % MERCHANTS.length];
        switch (fault) {
          case "clone": {
            // a copied flash image spends once at a counter the device also used
            const k = pick % d.counter;
            const v = voucher(w, d, snapAt(k), 1, merchant, VOUCHER_KIND_POS);
            vs.push(v);
            injected.push(v.hash);
            break;
          }
          case "rollback": {
            // the device itself, restored to an earlier image, pays again (1–3 times)
            const k = pick % d.counter;
            const s = snapAt(k);
            for (let j = 0; j < 1 + (pick % 3); j++) {
              const v = voucher(w, d, s, 1, merchant, VOUCHER_KIND_POS);
              vs.push(v);
              if (v.counter <= d.counter) injected.push(v.hash);
            }
            break;
          }
          case "twin": {
            // the same signed payload with other signature bytes: one voucher presented twice
            const v = vs[pick % vs.length];
            vs.push({ ...v, cose: new Uint8Array([9, 9]) });
            break;
          }
          case "unissued-load": {
            const forged = receipt(w, d, RECEIPT_KIND_LOAD, String(d.loadSeq + 1 + (pick % 3)), 1 + (pick % 5000));
            const l = d.loads.find((x) => x.seq === 1 + (pick % Math.max(1, d.loadSeq)));
            // a receipt naming a seq the bank never issued, or an issued seq with another amount
            const r2 = l && pick % 2 ? { ...forged, ref: String(l.seq), amount: l.amount + 1 } : forged;
            f.receipts.get(d.id)!.push(r2);
            injected.push(r2.hash);
            break;
          }
          case "over-limit-payment": {
            // one payment above every per-payment maximum the device ever had
            const max = Math.max(d.base.maxPayment, ...d.acks.map((a) => a.limits?.maxPayment ?? 0));
            const v = voucher(w, d, snapshotOf(d), max + 1 + (pick % 100), merchant, VOUCHER_KIND_POS);
            vs.push(v);
            injected.push(v.hash);
            break;
          }
          case "over-limit-window": {
            // small payments that run past the since-sync count of every reading of the acks
            const max = Math.max(d.base.maxCountSinceSync, ...d.acks.map((a) => a.limits?.maxCountSinceSync ?? 0));
            const s = snapshotOf(d);
            for (let j = 0; j <= max; j++) vs.push(voucher(w, d, s, 1, merchant, VOUCHER_KIND_POS));
            injected.push(vs[vs.length - 1].hash);
            break;
          }
          case "chain-break": {
            // a voucher whose prev is not its predecessor's chain hash (a new payload, so a new id)
            const pos = d.vouchers.filter((x) => x.kind === VOUCHER_KIND_POS); // a D2D one would change its payee's claims too
            const old = pos[pick % pos.length];
            const hash = h(`broken:${old.hash}`);
            vs.splice(vs.indexOf(old), 1, { ...old, hash, chainHash: h(`chain:${hash}`), prev: h(`elsewhere:${pick}`) });
            injected.push(hash);
            break;
          }
        }
        const verdicts = judgeChecked(f, r);
        for (const o of w.devs) if (o !== d) expect(canon(verdicts.get(o.id)!)).toEqual(canon(honest.get(o.id)!));
        const v = verdicts.get(d.id)!;
        const kind: FraudCase["kind"] | null =
          fault === "clone" || fault === "rollback" ? "fork" : fault === "twin" ? null : fault.startsWith("over-limit") ? "over-limit" : (fault as FraudCase["kind"]);
        if (kind === null) {
          expect(canon(v)).toEqual(canon(honest.get(d.id)!));
          expect(v.cases).toEqual([]);
        } else {
          for (const x of injected) {
            expect(casesOf(v, kind).map((c) => c.voucherHash)).toContain(x);
            if (fault !== "unissued-load") expect(v.status.get(x)).toEqual({ status: "fraud", reason: expect.any(String) });
          }
          if (kind === "fork") {
            // the honest voucher at each contested counter is fraud too
            for (const x of injected) {
              const c = vs.find((y) => y.hash === x)!.counter;
              expect(casesOf(v, "fork").map((y) => y.voucherHash)).toContain(d.vouchers[c - 1].hash);
            }
          }
          if (kind === "over-limit") {
            // exactly where the naive re-count says so in both readings; pending where in one
            const { all, applied } = readings(d, vs);
            for (const x of vs) {
              const s = v.status.get(x.hash)!;
              const both = all.has(x.counter) && applied.has(x.counter);
              expect(casesOf(v, "over-limit").some((c) => c.voucherHash === x.hash)).toBe(both);
              expect(s.status).toBe(both ? "fraud" : all.has(x.counter) || applied.has(x.counter) ? "pending" : "settled");
            }
            expect(v.cases.every((c) => c.kind === "over-limit")).toBe(true);
          }
        }
        caught.set(fault, (caught.get(fault) ?? 0) + 1);
      }),
      { numRuns: RUNS },
    );
    for (const k of ["clone", "rollback", "twin", "unissued-load", "over-limit-payment", "over-limit-window", "chain-break"] as Fault[]) expect(caught.get(k) ?? 0).toBeGreaterThan(20);
  });
});
