// Signed documents on the host (SPEC.md §5, DESIGN.md §5): the issuer signs device
// certificates, load authorizations and sync acknowledgements; the host verifies
// vouchers and receipts that devices sign. Encoding and strict decoding come from
// protocol/src/formats.ts; this module adds the keys: suite ↔ COSE alg, issuer trust,
// cert refs and the suite hash that links a device's vouchers into one chain.
import { SUITE_P256_SHA256_AES128, SUITE_SM2_SM3_SM4 } from "../../protocol/portable/suite.ts";
import { COSE_ALG_ES256, COSE_ALG_SM2_SM3 } from "../../protocol/portable/cose.ts";
import { DOC_CERT_REF_LEN, FORM_BAND, FORM_CARD, FORM_WATCH } from "../../protocol/portable/cbor-keys.ts";
import { signSign1 } from "../../protocol/src/cose.ts";
import {
  CERT_SCHEMA, decodeSigned, encodeCert, encodeLoad, encodeSyncAck,
  type DeviceCert, type LoadAuth, type Signed, type SyncAck,
} from "../../protocol/src/formats.ts";
import { signRaw, suiteHash, verifyRaw, type KeyPair, type SuiteName } from "./sig.ts";
import { limitsProblem } from "./limits-rule.ts";
import type { FormFactor } from "./ledger/ledger.ts";

export const suiteId = (s: SuiteName): number => (s === "sm2" ? SUITE_SM2_SM3_SM4 : SUITE_P256_SHA256_AES128);
export function suiteName(id: number): SuiteName | undefined {
  return id === SUITE_SM2_SM3_SM4 ? "sm2" : id === SUITE_P256_SHA256_AES128 ? "p256" : undefined;
}
export const algOf = (s: SuiteName): number => (s === "sm2" ? COSE_ALG_SM2_SM3 : COSE_ALG_ES256);
export const suiteOfAlg = (alg: number): SuiteName | undefined => (alg === COSE_ALG_SM2_SM3 ? "sm2" : alg === COSE_ALG_ES256 ? "p256" : undefined);

export const FORM_IDS: Record<FormFactor, number> = { card: FORM_CARD, band: FORM_BAND, watch: FORM_WATCH };
export const formName = (id: number): FormFactor | undefined => (Object.keys(FORM_IDS) as FormFactor[]).find((k) => FORM_IDS[k] === id);

import { hex, unhex } from "../../protocol/src/bytes.ts";
export { hex, unhex };

/** A COSE_Sign1 signed by `key` of `suite` with `kid` in the unprotected header. */
/** `sign`: raw r‖s over the to-be-signed bytes (default: host crypto, signRaw). */
export function signDoc(suite: SuiteName, key: KeyPair, kid: Uint8Array, payload: Uint8Array, sign = (tbs: Uint8Array) => signRaw(suite, key, tbs)): Uint8Array {
  return signSign1(algOf(suite), kid, payload, sign);
}

/** An issuer key that signs: its private key in memory (file keystore), or a `sign` function
 * that signs the to-be-signed bytes elsewhere (a PKCS#11 token: keystore-pkcs11.ts). */
export interface Signer {
  suite: SuiteName;
  kid: Uint8Array;
  key?: KeyPair;
  /** raw r‖s over `tbs` (low-S for P-256, SPEC §5.1) */
  sign?: (tbs: Uint8Array) => Uint8Array;
}

function signWith(s: Signer, payload: Uint8Array): Uint8Array {
  if (s.sign) return signSign1(algOf(s.suite), s.kid, payload, s.sign);
  if (!s.key) throw new TypeError("signer: neither a key nor a sign function");
  return signDoc(s.suite, s.key, s.kid, payload);
}

export const issueCert = (s: Signer, c: Omit<DeviceCert, "issuerKeyId">) => signWith(s, encodeCert({ ...c, issuerKeyId: s.kid }));
export const issueLoad = (s: Signer, l: Omit<LoadAuth, "issuerKeyId">) => signWith(s, encodeLoad({ ...l, issuerKeyId: s.kid }));
/** A sync ack; new limits must pass the device's rule at least for a zero balance (max payment ≤ cap:
 * limits-rule.ts). The balance part is the caller's, who read the balance from the device. */
export function issueSyncAck(s: Signer, a: Omit<SyncAck, "issuerKeyId">): Uint8Array {
  const problem = a.limits ? limitsProblem(a.limits, 0) : null;
  if (problem) throw new RangeError(`sync ack: ${problem}`);
  return signWith(s, encodeSyncAck({ ...a, issuerKeyId: s.kid }));
}

/** The cert ref a device's vouchers carry: first 8 bytes of the suite hash of the cert's COSE bytes. */
export const certRefOf = (suite: SuiteName, certCose: Uint8Array) => suiteHash(suite, certCose).subarray(0, DOC_CERT_REF_LEN);

/** Verifies a decoded COSE_Sign1's signature with `pub` under the suite its alg names. */
export function verifySigned(doc: Signed<unknown>, suite: SuiteName, pub: Uint8Array): boolean {
  if (suiteOfAlg(doc.sign1.alg) !== suite) return false;
  return verifyRaw(suite, pub, doc.tbs, doc.sign1.signature);
}

export interface TrustedKey {
  kid: string;
  suite: SuiteName;
  pub: string;
  /** key state (keystore.ts KeyStatus); what it means is decided in trust.ts */
  status?: string;
  /** Unix s of a compromise revocation (status compromised) */
  compromisedAt?: number | null;
}

/**
 * Decodes a device certificate strictly and checks its chain: the kid names a trusted
 * issuer key of the certificate's suite and the signature verifies. Returns the
 * certificate or a reason string.
 */
export function checkCert(certCose: Uint8Array, trusted: readonly TrustedKey[]): DeviceCert | string {
  let signed: Signed<DeviceCert>;
  try {
    signed = decodeSigned<DeviceCert>(certCose, CERT_SCHEMA);
  } catch (e) {
    return (e as Error).message;
  }
  const suite = suiteName(signed.doc.suite);
  if (!suite) return `bad certificate: unknown suite ${signed.doc.suite}`;
  const key = trusted.find((k) => k.kid === hex(signed.sign1.kid) && k.suite === suite);
  if (!key) return `certificate: issuer key ${hex(signed.sign1.kid)} is not trusted`;
  if (!verifySigned(signed, suite, unhex(key.pub))) return "certificate: bad issuer signature";
  return signed.doc;
}
