// A test issuer for the wallet applet: issuer key pair of either suite, SCP03 master keys,
// and the issuer-signed documents (device certificate, load authorization, sync
// acknowledgement, SPEC §5) — plus an independent verifier for device-signed documents:
// node:crypto for P-256 (ieee-p1363) and sm-crypto for SM2 (default user id, hash: true),
// never the firmware's own code. Host-side helper; reusable by host-tools tests.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from "node:crypto";
import smCrypto from "sm-crypto";
import { COSE_ALG_ES256, COSE_ALG_SM2_SM3 } from "../../protocol/portable/cose.ts";
import { SUITE_P256_SHA256_AES128, SUITE_SM2_SM3_SM4 } from "../../protocol/portable/suite.ts";
import { decodeSign1, signSign1, toBeSigned } from "../../protocol/src/cose.ts";
import { encodeCert, encodeLoad, encodeSyncAck, type DeviceCert, type Limits, type LoadAuth, type SyncAck } from "../../protocol/src/formats.ts";

export type SuiteId = typeof SUITE_SM2_SM3_SM4 | typeof SUITE_P256_SHA256_AES128;

export interface KeyPair {
  priv: Uint8Array;
  pub: Uint8Array; // 04 || x || y
}

const b64u = (b: Uint8Array) => Buffer.from(b).toString("base64url");
const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");

export function keyPair(suite: SuiteId): KeyPair {
  if (suite === SUITE_SM2_SM3_SM4) {
    const k = smCrypto.sm2.generateKeyPairHex();
    return { priv: new Uint8Array(Buffer.from(k.privateKey.padStart(64, "0"), "hex")), pub: new Uint8Array(Buffer.from(k.publicKey, "hex")) };
  }
  const jwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
  const pub = new Uint8Array(Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]));
  return { priv: new Uint8Array(Buffer.from(jwk.d!, "base64url")), pub };
}

/** Raw r||s signature over msg (SM2: SM3 with Z_A of the default id; P-256: SHA-256). */
export function signRaw(suite: SuiteId, k: KeyPair, msg: Uint8Array): Uint8Array {
  if (suite === SUITE_SM2_SM3_SM4) {
    const sig = smCrypto.sm2.doSignature(Array.from(msg), hexOf(k.priv), { hash: true, publicKey: hexOf(k.pub), der: false });
    return new Uint8Array(Buffer.from(sig, "hex"));
  }
  const key = createPrivateKey({
    key: { kty: "EC", crv: "P-256", d: b64u(k.priv), x: b64u(k.pub.subarray(1, 33)), y: b64u(k.pub.subarray(33)) },
    format: "jwk",
  });
  return new Uint8Array(sign("sha256", msg, { key, dsaEncoding: "ieee-p1363" }));
}

/** Independent verification of a raw r||s signature. */
export function verifyRaw(suite: SuiteId, pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (suite === SUITE_SM2_SM3_SM4) {
    return smCrypto.sm2.doVerifySignature(Array.from(msg), hexOf(sig), hexOf(pub), { hash: true, der: false });
  }
  const key = createPublicKey({ key: { kty: "EC", crv: "P-256", x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33)) }, format: "jwk" });
  return verify("sha256", msg, { key, dsaEncoding: "ieee-p1363" }, sig);
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
  return new Uint8Array(createHash(suite === SUITE_SM2_SM3_SM4 ? "sm3" : "sha256").update(data).digest());
}

export const DEFAULT_LIMITS: Limits = {
  cap: 100_000,
  maxPayment: 20_000,
  noCvm: 5_000,
  maxCountSinceSync: 20,
  maxAmountSinceSync: 60_000,
  syncInterval: 30 * 24 * 3600,
};

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
