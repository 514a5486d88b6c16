// Stateless per-voucher checks for reconciliation and the POS (issue 6 "reconcile",
// "pos charge"): strict decoding (canonical CBOR, exact key table: protocol/src/formats.ts),
// the payer's certificate (already chain-checked by the caller, passed as DeviceKey),
// the cert ref, the suite's algorithm and the device signature. No ledger access here,
// so worker threads can run it (reconcile-worker.mjs).
import { createHash } from "node:crypto";
import { VOUCHER_SCHEMA, decodeSigned, type Signed, type Voucher } from "../../protocol/src/formats.ts";
import { hex, verifySigned } from "./docs.ts";
import { suiteHash, type SuiteName } from "./sig.ts";

/** What a voucher check needs to know about its payer, from the device's checked certificate. */
export interface DeviceKey {
  suite: SuiteName;
  pub: string; // hex
  certRef: string; // hex
  certError?: string; // set when the certificate failed its chain check
}

export interface CheckedVoucher {
  ok: true;
  hash: string; // SHA-256 of the COSE bytes: identity in the ledger
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

export const voucherId = (cose: Uint8Array): string => createHash("sha256").update(cose).digest("hex");

export function checkVoucher(cose: Uint8Array, lookup: (deviceId: string) => DeviceKey | undefined): CheckedVoucher | RejectedCheck {
  const hash = voucherId(cose);
  let signed: Signed<Voucher>;
  try {
    signed = decodeSigned<Voucher>(cose, VOUCHER_SCHEMA);
  } catch (e) {
    return { ok: false, hash, deviceId: null, reason: (e as Error).message };
  }
  const deviceId = hex(signed.doc.deviceId);
  const dev = lookup(deviceId);
  if (!dev) return { ok: false, hash, deviceId, reason: `unknown device ${deviceId}` };
  if (dev.certError) return { ok: false, hash, deviceId, reason: dev.certError };
  if (hex(signed.doc.certRef) !== dev.certRef) return { ok: false, hash, deviceId, reason: "bad voucher: cert ref does not name the device's certificate" };
  if (!verifySigned(signed, dev.suite, Buffer.from(dev.pub, "hex"))) return { ok: false, hash, deviceId, reason: "bad voucher: signature does not verify" };
  return { ok: true, hash, chainHash: hex(suiteHash(dev.suite, cose)), deviceId, v: signed.doc };
}
