// A test issuer for the wallet applet: issuer key pair of either suite, SCP03 master keys,
// and the issuer-signed documents (device certificate, load authorization, sync
// acknowledgement, SPEC §5) — plus an independent verifier for device-signed documents:
// node:crypto for P-256 (ieee-p1363) and sm-crypto for SM2 (default user id, hash: true),
// never the firmware's own code. Host-side helper; reusable by host-tools tests.
import { randomBytes } from "node:crypto";
import { COSE_ALG_ES256, COSE_ALG_SM2_SM3 } from "../../protocol/portable/cose.ts";
import { SUITE_P256_SHA256_AES128, SUITE_SM2_SM3_SM4 } from "../../protocol/portable/suite.ts";
import { decodeSign1, signSign1, toBeSigned } from "../../protocol/src/cose.ts";
import { encodeCert, encodeLoad, encodeSyncAck, type DeviceCert, type Limits, type LoadAuth, type SyncAck } from "../../protocol/src/formats.ts";
import * as sig from "../../host-tools/src/sig.ts";
import { DEFAULT_LIMITS } from "../../host-tools/src/synthetic.ts";

export type SuiteId = typeof SUITE_SM2_SM3_SM4 | typeof SUITE_P256_SHA256_AES128;
export type KeyPair = sig.KeyPair;

const nameOf = (suite: SuiteId): sig.SuiteName => (suite === SUITE_SM2_SM3_SM4 ? "sm2" : "p256");

export function keyPair(suite: SuiteId): KeyPair {
  const k = sig.generateKeyPair(nameOf(suite));
  return { priv: new Uint8Array(k.priv), pub: new Uint8Array(k.pub) };
}

/** Raw r||s signature over msg (SM2: SM3 with Z_A of the default id; P-256: SHA-256). */
export function signRaw(suite: SuiteId, k: KeyPair, msg: Uint8Array): Uint8Array {
  return new Uint8Array(sig.signRaw(nameOf(suite), k, msg));
}

/** Independent verification of a raw r||s signature: the reference libraries only
 * (sm-crypto, OpenSSL), never the firmware's verifier that host-tools may prefer. */
export function verifyRaw(suite: SuiteId, pub: Uint8Array, msg: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64 || pub.length !== 65) return false;
  return suite === SUITE_SM2_SM3_SM4 ? sig.verifySm2Reference(pub, msg, signature) : sig.verifyP256OpenSsl(pub, msg, signature);
}

export const algOf = (suite: SuiteId): number => (suite === SUITE_SM2_SM3_SM4 ? COSE_ALG_SM2_SM3 : COSE_ALG_ES256);

/** Verifies a device-signed COSE_Sign1 with the independent libraries. */
export function verifyCose(suite: SuiteId, pub: Uint8Array, cose: Uint8Array): boolean {
  const s = decodeSign1(cose);
  if (s.alg !== algOf(suite)) return false;
  return verifyRaw(suite, pub, toBeSigned(s.alg, s.payload), s.signature);
}

/** The suite's hash (SM3 / SHA-256). */
export function suiteHash(suite: SuiteId, data: Uint8Array): Uint8Array {
  return new Uint8Array(sig.suiteHash(nameOf(suite), data));
}

/** The host tools' default limits (`wallet personalize` without limit options): one set for tool and tests. */
export { DEFAULT_LIMITS };

export class TestIssuer {
  readonly key: KeyPair;
  readonly kid: Uint8Array;
  /** SCP03 master keys (ENC, MAC, DEK) the device keys are diversified from */
  readonly master: { enc: Uint8Array; mac: Uint8Array; dek: Uint8Array };

  constructor(readonly suite: SuiteId, kid?: Uint8Array) {
    this.key = keyPair(suite);
    this.kid = kid ?? new Uint8Array(randomBytes(4));
    this.master = { enc: new Uint8Array(randomBytes(16)), mac: new Uint8Array(randomBytes(16)), dek: new Uint8Array(randomBytes(16)) };
  }

  signPayload(payload: Uint8Array, kid: Uint8Array = this.kid): Uint8Array {
    return signSign1(algOf(this.suite), kid, payload, (tbs) => signRaw(this.suite, this.key, tbs));
  }
  cert(c: Omit<DeviceCert, "issuerKeyId">): Uint8Array {
    return this.signPayload(encodeCert({ ...c, issuerKeyId: this.kid }));
  }
  load(l: Omit<LoadAuth, "issuerKeyId">): Uint8Array {
    return this.signPayload(encodeLoad({ ...l, issuerKeyId: this.kid }));
  }
  syncAck(a: Omit<SyncAck, "issuerKeyId">): Uint8Array {
    return this.signPayload(encodeSyncAck({ ...a, issuerKeyId: this.kid }));
  }
}
