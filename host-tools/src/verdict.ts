// The verdict (DESIGN §8 "Verdicts are a pure function of all evidence"; SPEC §5.10): what
// the bank concludes about one device from everything it holds for it. No I/O, no clock,
// no ledger: reconcile.ts gathers the evidence, calls `judgeDevice`, and writes what
// changed, so any import order, split or repetition of files ends in the same ledger.
//
// Evidence of a device: the vouchers it signed (identity = signed part, SPEC §5.1), the
// sync acks the bank issued to it (applied, void, or issued and not yet confirmed), the
// limits it was personalized with, its revocation time, the load authorizations issued to
// it, the receipts in its log, and the device-to-device vouchers made out to it.
//
// Rules, per voucher (first match of each kind, a voucher may have several cases):
//  - fork: two different signed payloads with one counter (a clone, a rolled-back image);
//    all of them are fraud. Two signatures over one payload are one voucher (same id).
//  - chain-break: prev is not the chain hash of the voucher before it (or the first
//    voucher does not start the chain).
//  - revoked: signed at or after the device's revocation time.
//  - over-limit: above the per-payment maximum, or beyond the count / amount allowed
//    since the last sync ack THE DEVICE APPLIED before it, with the limits in force on the
//    device when it signed (the certificate's, or those of the last applied ack that
//    carried limits). An ack issued but not yet confirmed may or may not have been
//    applied: a voucher over the limit in one case and not the other is pending (the
//    device's next contact says which), never fraud.
//  - gap: counter c−1 not seen yet: pending, not fraud, until it arrives.
// Receipts: a LOAD receipt must name a load the bank issued (same seq, amount, currency),
// else `unissued-load`; it confirms that load. A RECEIVE receipt names the received
// voucher by its chain hash; it must match its amount (else `bad-receipt`) and claims it.
// A device-to-device voucher without a receipt is `awaiting` until the payee syncs after
// it, then `unclaimed`: its value is credited to the payee's bank account (SPEC §5.10).
import { RECEIPT_KIND_LOAD, RECEIPT_KIND_RECEIVE } from "../../protocol/portable/cbor-keys.ts";
import type { Limits } from "../../protocol/src/formats.ts";
import type { Claim, FraudCase, LoadRecord, ReceiptRecord, SyncAck, VoucherRecord, VoucherStatus } from "./ledger/ledger.ts";

export interface DeviceEvidence {
  deviceId: string;
  /** the limits the device was personalized with (its certificate's) */
  baseLimits: Limits;
  revokedAt: number | null;
  vouchers: readonly VoucherRecord[];
  acks: readonly SyncAck[];
  receipts: readonly ReceiptRecord[];
  loads: readonly LoadRecord[];
  /** device-to-device vouchers made out to this device (by any payer) */
  incoming: readonly VoucherRecord[];
}

export interface VoucherVerdict {
  status: VoucherStatus;
  reason: string | null;
}

export interface Verdict {
  status: Map<string, VoucherVerdict>;
  cases: FraudCase[];
  /** counter ranges [from, to] not seen below the highest counter (memory O(vouchers)) */
  gaps: [number, number][];
  /** seqs of issued loads that a receipt confirms, with the receipt */
  confirmedLoads: Map<number, ReceiptRecord>;
  /** claims of the incoming device-to-device vouchers, by voucher id */
  claims: Map<string, Claim>;
}

/** The verdict of most vouchers: one shared (read-only) object, not one per voucher. */
export const SETTLED: VoucherVerdict = Object.freeze({ status: "settled", reason: null });

const ZERO_HASH = "0".repeat(64);

export function judgeDevice(ev: DeviceEvidence): Verdict {
  const id = ev.deviceId;
  const status = new Map<string, VoucherVerdict>();
  const cases: FraudCase[] = [];
  const fraud = (v: VoucherRecord, kind: FraudCase["kind"], detail: string) => {
    if (status.get(v.hash)?.status !== "fraud") status.set(v.hash, { status: "fraud", reason: kind });
    cases.push({ kind, deviceId: id, counter: v.counter, voucherHash: v.hash, detail });
  };

  // one entry per distinct signed payload (a re-presented voucher is the same id)
  const byCounter = new Map<number, VoucherRecord[]>();
  const seen = new Set<string>();
  for (const v of ev.vouchers) {
    if (seen.has(v.hash)) continue;
    seen.add(v.hash);
    const g = byCounter.get(v.counter);
    if (g) g.push(v);
    else byCounter.set(v.counter, [v]);
  }
  const counters = [...byCounter.keys()].sort((a, b) => a - b);
  for (const g of byCounter.values()) g.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));

  const gaps: [number, number][] = [];
  let last = 0;
  for (const c of counters) {
    if (c > last + 1) gaps.push([last + 1, c - 1]);
    last = c;
  }

  // windows with and without the acks the device has not confirmed yet
  const unconfirmed = ev.acks.some((a) => a.state === "issued");
  const overAll = overLimits(counters, byCounter, ev.acks.filter((a) => a.state !== "void"), ev.baseLimits);
  const overApplied = unconfirmed ? overLimits(counters, byCounter, ev.acks.filter((a) => (a.state ?? "applied") === "applied"), ev.baseLimits) : overAll;

  for (const c of counters) {
    const group = byCounter.get(c)!;
    if (group.length > 1) {
      for (const v of group) fraud(v, "fork", `${group.length} different signed vouchers with counter ${c}: cloned device or rolled-back flash`);
      continue;
    }
    const v = group[0];
    if (ev.revokedAt !== null && v.time >= ev.revokedAt) fraud(v, "revoked", `signed at ${v.time}, device revoked at ${ev.revokedAt}`);
    const a = overAll.get(c);
    const b = overApplied.get(c);
    if (a && b) fraud(v, "over-limit", b);
    let undecided: string | null = null;
    if ((a === undefined) !== (b === undefined)) undecided = "over-limit unless the last sync ack was applied: the device's next contact tells";
    if (c === 1) {
      if (v.prev !== ZERO_HASH) fraud(v, "chain-break", "first voucher does not start the chain");
    } else if (byCounter.has(c - 1)) {
      if (!byCounter.get(c - 1)!.some((p) => p.chainHash === v.prev)) fraud(v, "chain-break", `prev does not match the voucher with counter ${c - 1}`);
    }
    if (!status.has(v.hash)) {
      const linked = c === 1 || byCounter.has(c - 1);
      status.set(v.hash, !linked ? { status: "pending", reason: `gap: counter ${c - 1} not seen yet` } : undecided ? { status: "pending", reason: undecided } : SETTLED);
    }
  }

  // receipts: loads the bank issued, transfers the device received
  const confirmedLoads = new Map<number, ReceiptRecord>();
  const claims = new Map<string, Claim>();
  const loadsBySeq = new Map(ev.loads.map((l) => [l.seq, l]));
  const incomingByChain = new Map(ev.incoming.map((v) => [v.chainHash, v]));
  const receiptCase = (r: ReceiptRecord, kind: FraudCase["kind"], detail: string) =>
    cases.push({ kind, deviceId: id, counter: r.counter, voucherHash: r.hash, detail });
  for (const r of ev.receipts) {
    if (r.kind === RECEIPT_KIND_LOAD) {
      const l = loadsBySeq.get(Number(r.ref));
      if (!l) receiptCase(r, "unissued-load", `receipt for load seq ${r.ref} (${r.amount}) that the bank never issued`);
      else if (l.amount !== r.amount || l.currency !== r.currency) receiptCase(r, "unissued-load", `receipt for load seq ${r.ref} says ${r.amount}/${r.currency}, the bank issued ${l.amount}/${l.currency}`);
      else confirmedLoads.set(l.seq, r);
    } else if (r.kind === RECEIPT_KIND_RECEIVE) {
      const v = incomingByChain.get(r.ref);
      if (!v) continue; // the payer's voucher has not reached the bank yet
      if (v.amount !== r.amount || v.currency !== r.currency) receiptCase(r, "bad-receipt", `receipt credits ${r.amount}, the voucher pays ${v.amount}`);
      else claims.set(v.hash, "received");
    }
  }
  // not received: unclaimed once the payee synced after it (its log then held any receipt)
  const lastSync = Math.max(0, ...ev.acks.filter((a) => a.state !== "void").map((a) => a.time));
  // (an ack in the same second as the voucher counts: the transfer flow and sync take their
  // times from the same clock, and the payee's log is read before its ack is issued)
  for (const v of ev.incoming) if (!claims.has(v.hash)) claims.set(v.hash, lastSync >= v.time ? "unclaimed" : "awaiting");

  return { status, cases, gaps, confirmedLoads, claims };
}

/**
 * Over-limit details by counter, for one set of acks taken as applied. The since-sync
 * window of voucher c runs from the largest up-to counter of the acks below c; the limits
 * are those of the last such ack (by time) that carried limits, else the base limits. A
 * fork counts once in the window, at its largest amount.
 */
function overLimits(counters: number[], byCounter: Map<number, VoucherRecord[]>, acksIn: readonly SyncAck[], base: Limits): Map<number, string> {
  const acks = [...acksIn].sort((a, b) => a.upToCounter - b.upToCounter || a.time - b.time);
  const out = new Map<number, string>();
  let k = 0;
  let from = 0;
  let limits = base;
  let limitsTime = -1;
  // window totals over counters in (from, c]
  let count = 0;
  let sum = 0;
  let start = 0; // index in counters of the window's first voucher
  const amountAt = (i: number) => {
    const g = byCounter.get(counters[i])!;
    return g.length === 1 ? g[0].amount : Math.max(...g.map((x) => x.amount));
  };
  for (let i = 0; i < counters.length; i++) {
    const c = counters[i];
    let moved = false;
    while (k < acks.length && acks[k].upToCounter < c) {
      const a = acks[k++];
      if (a.upToCounter > from) (from = a.upToCounter), (moved = true);
      if (a.limits && a.time > limitsTime) (limits = a.limits), (limitsTime = a.time);
    }
    if (moved) {
      while (start < i && counters[start] <= from) (count--, (sum -= amountAt(start)), start++);
    }
    count++;
    sum += amountAt(i);
    const g = byCounter.get(c)!;
    const amount = g.length === 1 ? g[0].amount : Math.max(...g.map((x) => x.amount));
    if (amount > limits.maxPayment) out.set(c, `amount ${amount} > per-payment maximum ${limits.maxPayment}`);
    else if (count > limits.maxCountSinceSync) out.set(c, `${count} payments since the last sync > ${limits.maxCountSinceSync}`);
    else if (sum > limits.maxAmountSinceSync) out.set(c, `${sum} paid since the last sync > ${limits.maxAmountSinceSync}`);
  }
  return out;
}
