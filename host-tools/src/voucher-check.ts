// Stateless per-voucher checks for reconciliation and the POS (DESIGN.md §6;
// host-tools/README.md "Reconciliation rules"): strict decoding (canonical CBOR, exact key table: protocol/src/formats.ts),
// the payer's certificate (already chain-checked by the caller, passed as DeviceKey),
// the cert ref, the suite's algorithm and the device signature. No ledger access here,
// so worker threads can run it (reconcile-worker.mjs).
import { createHash, hash as nodeHash } from "node:crypto";
import { VOUCHER_SCHEMA, decodeSigned, type Signed, type Voucher } from "../../protocol/src/formats.ts";
import { certRefOf, hex, suiteOfAlg, type TrustedKey } from "./docs.ts";
import { registeredCert } from "./trust.ts";
import type { VoucherRecord } from "./ledger/ledger.ts";
import { suiteHash, verifyRaw, type SuiteName } from "./sig.ts";
import { wasmVerifier } from "./wasm-verifier.ts";

/** What a voucher check needs to know about its payer, from the device's checked certificate. */
export interface DeviceKey {
  suite: SuiteName;
  pub: string; // hex
  certRef: string; // hex
  certError?: string; // set when the certificate failed its chain check
  /** the certificate error is a trust rule (a compromised issuer key), not a forgery: no fraud case */
  certPolicy?: boolean;
  /** the certificate's validity (Unix s): a voucher is judged at its own time (trust.ts, SPEC §5.12) */
  validFrom?: number;
  validUntil?: number;
}

export interface CheckedVoucher {
  ok: true;
  hash: string; // signedPartId: identity in the ledger
  chainHash: string; // suite hash of the COSE bytes: what the next voucher's prev must be
  deviceId: string;
  v: Voucher;
}

export interface RejectedCheck {
  ok: false;
  hash: string;
  deviceId: string | null;
  reason: string;
}

/**
 * What reconciliation keeps of a checked voucher: its ledger record but for the COSE bytes,
 * status and reason, as one flat object of plain values (cheap to post between threads;
 * the main thread completes it into the VoucherRecord in place).
 */
export type VoucherFacts = Omit<VoucherRecord, "cose" | "status" | "reason">;

export type Checked = ({ ok: true } & VoucherFacts) | RejectedCheck;

export function toFacts(r: CheckedVoucher | RejectedCheck): Checked {
  if (!r.ok) return r;
  const v = r.v;
  return {
    ok: true, hash: r.hash, deviceId: r.deviceId, counter: v.counter, amount: v.amount, currency: v.currency, payee: hex(v.payeeId), kind: v.kind,
    time: v.time, prev: hex(v.prev), chainHash: r.chainHash, balanceAfter: v.balanceAfter,
  };
}

/**
 * A slice's checks as a worker posts them: the accepted vouchers' strings concatenated into
 * one string and their numbers in one Float64Array (transferred), rejects as objects. The
 * structured clone of 500 flat objects costs the main thread ≈ 1 µs a voucher to rebuild
 * them (and the worker as much to write them); one string and one buffer are copied
 * whole, and the main thread cuts the records out of them (`unpackChecks`).
 */
export interface PackedChecks {
  n: number;
  text: string;
  nums: Float64Array;
  rejects: { i: number; r: RejectedCheck }[];
}

/** Numbers per accepted voucher in PackedChecks.nums: six fields, then five string lengths. */
const PACK_WIDTH = 11;

export function packChecks(rs: (CheckedVoucher | RejectedCheck)[]): PackedChecks {
  const nums = new Float64Array(rs.length * PACK_WIDTH);
  const parts: string[] = [];
  const rejects: PackedChecks["rejects"] = [];
  let k = 0;
  for (let i = 0; i < rs.length; i++) {
    const r = rs[i];
    if (!r.ok) {
      rejects.push({ i, r });
      continue;
    }
    const v = r.v;
    const payee = hex(v.payeeId);
    const prev = hex(v.prev);
    parts.push(r.hash, r.deviceId, payee, prev, r.chainHash);
    nums[k++] = v.counter;
    nums[k++] = v.amount;
    nums[k++] = v.currency;
    nums[k++] = v.kind;
    nums[k++] = v.time;
    nums[k++] = v.balanceAfter;
    nums[k++] = r.hash.length;
    nums[k++] = r.deviceId.length;
    nums[k++] = payee.length;
    nums[k++] = prev.length;
    nums[k++] = r.chainHash.length;
  }
  return { n: rs.length, text: parts.join(""), nums, rejects };
}

/** The checks of `packChecks` again, as `toFacts` makes them (same fields, same order). */
export function unpackChecks(p: PackedChecks): Checked[] {
  const out: Checked[] = new Array(p.n);
  for (const { i, r } of p.rejects) out[i] = r;
  const { text, nums } = p;
  let o = 0;
  let k = 0;
  for (let i = 0; i < p.n; i++) {
    if (out[i]) continue;
    const hash = text.slice(o, (o += nums[k + 6]));
    const deviceId = text.slice(o, (o += nums[k + 7]));
    const payee = text.slice(o, (o += nums[k + 8]));
    const prev = text.slice(o, (o += nums[k + 9]));
    const chainHash = text.slice(o, (o += nums[k + 10]));
    out[i] = {
      ok: true, hash, deviceId, counter: nums[k], amount: nums[k + 1], currency: nums[k + 2], payee, kind: nums[k + 3],
      time: nums[k + 4], prev, chainHash, balanceAfter: nums[k + 5],
    };
    k += PACK_WIDTH;
  }
  return out;
}

/** A registered device as its certificate check needs it. */
export interface DeviceCertInput {
  deviceId: string;
  suite: SuiteName;
  pub: string; // hex, as registered
  cert: Uint8Array;
  /** when the bank registered the certificate (Unix s; null: unknown) */
  registeredAt?: number | null;
}

/** The device's key for voucher checks: its certificate checked as reconciliation trusts it (trust.ts registeredCert). */
export function deviceKeyOf(d: DeviceCertInput, trusted: readonly TrustedKey[]): DeviceKey {
  const c = registeredCert(d.cert, trusted, d.registeredAt ?? null);
  const certError = typeof c === "string" ? c : hex(c.publicKey) !== d.pub ? "certificate: public key differs from the registered one" : undefined;
  const k: DeviceKey = { suite: d.suite, pub: d.pub, certRef: hex(certRefOf(d.suite, d.cert)), certError };
  if (typeof c !== "string") (k.validFrom = c.notBefore), (k.validUntil = c.notAfter);
  else if (/revoked as compromised/.test(c)) k.certPolicy = true;
  return k;
}

// crypto.hash (Node ≥ 20.12): one call, no Hash object per voucher (≈ 2x faster for a voucher's 200 bytes)
const sha256Hex: (b: Uint8Array) => string =
  typeof nodeHash === "function" ? (b) => nodeHash("sha256", b, "hex") : (b) => createHash("sha256").update(b).digest("hex");

/** Bytes of a COSE_Sign1's signature field at its end: `58 40` ‖ r ‖ s (SPEC §5.1). */
const SIG_FIELD_LEN = 66;

/**
 * A signed document's identity (vouchers, receipts; SPEC §5.1): SHA-256 of its COSE bytes
 * without the signature field, i.e. of the headers and payload the signature covers. The
 * signature bytes never take part: (r, s) and its twin (r, n−s) name the same document, so
 * a third party cannot make "another" voucher out of one. Strict decoding fixes where the
 * signature is; bytes that do not end in a 64-byte signature field are hashed whole.
 */
export function signedPartId(cose: Uint8Array): string {
  const n = cose.length;
  const hasSig = n > SIG_FIELD_LEN && cose[n - SIG_FIELD_LEN] === 0x58 && cose[n - SIG_FIELD_LEN + 1] === 0x40;
  return sha256Hex(hasSig ? cose.subarray(0, n - SIG_FIELD_LEN) : cose);
}

export const voucherId = signedPartId;

/** One voucher's check: `checkVouchers` of a slice of one. */
export function checkVoucher(cose: Uint8Array, lookup: (deviceId: string) => DeviceKey | undefined): CheckedVoucher | RejectedCheck {
  return checkVouchers([cose], lookup)[0];
}

/** How a slice's SM2 signatures are verified: one batch call per slice (build/verifier.wasm
 * verify_batch), or one call per voucher (the bench's comparison). Same results either way. */
export type VerifyMode = "batch" | "single";

/**
 * The checks of a slice of vouchers, in order: strict decoding (protocol/src/formats.ts
 * decodeSigned in view mode: nothing copied, the Sig_structure spliced, not re-encoded),
 * then the payer's certificate, cert ref, suite and signature; every reject names its
 * reason. SM2 signatures go to the host verifier in ONE call (`verifyMany`), ordered by
 * public key so that consecutive vouchers of one device share its decoded point and Z_A
 * (SPEC §2, the host verifier's batch entry); P-256 goes to OpenSSL voucher by voucher
 * (faster there).
 */
export function checkVouchers(coses: readonly Uint8Array[], lookup: (deviceId: string) => DeviceKey | undefined, mode: VerifyMode = "batch"): (CheckedVoucher | RejectedCheck)[] {
  const out: (CheckedVoucher | RejectedCheck)[] = new Array(coses.length);
  const w = mode === "batch" ? wasmVerifier() : null;
  const batch = w?.batched ? w : null;
  const owed: { i: number; hash: string; deviceId: string; dev: DeviceKey; signed: Signed<Voucher> }[] = [];
  for (let i = 0; i < coses.length; i++) {
    const cose = coses[i];
    const hash = voucherId(cose);
    let signed: Signed<Voucher>;
    try {
      signed = decodeSigned<Voucher>(cose, VOUCHER_SCHEMA, true);
    } catch (e) {
      out[i] = { ok: false, hash, deviceId: null, reason: (e as Error).message };
      continue;
    }
    const deviceId = hex(signed.doc.deviceId);
    const dev = lookup(deviceId);
    const refused = !dev ? `unknown device ${deviceId}` : dev.certError ?? (hex(signed.doc.certRef) !== dev.certRef ? "bad voucher: cert ref does not name the device's certificate" : null);
    if (refused) out[i] = { ok: false, hash, deviceId, reason: refused };
    else if (suiteOfAlg(signed.sign1.alg) !== dev!.suite) out[i] = verdictOf(cose, hash, deviceId, dev!, signed.doc, false);
    else if (batch && dev!.suite === "sm2" && signed.tbs.length <= batch.maxMessage) owed.push({ i, hash, deviceId, dev: dev!, signed });
    else out[i] = verdictOf(cose, hash, deviceId, dev!, signed.doc, verifyRaw(dev!.suite, pubBytes(dev!), signed.tbs, signed.sign1.signature));
  }
  if (owed.length) {
    owed.sort((a, b) => (a.dev.pub < b.dev.pub ? -1 : a.dev.pub > b.dev.pub ? 1 : a.i - b.i));
    const ok = batch!.verifyMany("sm2", owed.map((o) => ({ pub: pubBytes(o.dev), msg: o.signed.tbs, sig: o.signed.sign1.signature })));
    owed.forEach((o, j) => (out[o.i] = verdictOf(coses[o.i], o.hash, o.deviceId, o.dev, o.signed.doc, ok[j])));
  }
  return out;
}

function verdictOf(cose: Uint8Array, hash: string, deviceId: string, dev: DeviceKey, v: Voucher, verified: boolean): CheckedVoucher | RejectedCheck {
  if (!verified) return { ok: false, hash, deviceId, reason: "bad voucher: signature does not verify" };
  return { ok: true, hash, chainHash: dev.suite === "p256" ? sha256Hex(cose) : hex(suiteHash(dev.suite, cose)), deviceId, v };
}

const pubCache = new Map<string, Uint8Array>();
function pubBytes(dev: DeviceKey): Uint8Array {
  let b = pubCache.get(dev.pub);
  if (!b) pubCache.set(dev.pub, (b = Buffer.from(dev.pub, "hex")));
  return b;
}
