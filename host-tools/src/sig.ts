// Host-side signatures for the two suites (DESIGN.md §3, §5): raw r‖s (64 bytes),
// public keys 04‖x‖y (65 bytes), private keys 32 bytes big-endian.
//  - P-256 / ECDSA-SHA256: node:crypto (OpenSSL), `ieee-p1363` encoding, low-S only (SPEC §5.1):
//    signRaw emits s ≤ n/2, verifiers refuse s > n/2 — (r, n−s) verifies in OpenSSL too, so
//    without the rule anyone could make a second valid voucher with other bytes (hash).
//  - SM2-with-SM3, default user id "1234567812345678" (GB/T 32918.2 Z_A): sm-crypto,
//    because node:crypto's SM2 always uses an EMPTY user id (TRAPS.md "SM2").
// Key objects are cached per public key: reconciliation verifies many vouchers per device.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import smCrypto from "sm-crypto";
import { wasmVerifier } from "./wasm-verifier.ts";
import { hex } from "../../protocol/src/bytes.ts";

export type SuiteName = "sm2" | "p256";
export const SUITE_NAMES: readonly SuiteName[] = ["sm2", "p256"];

export interface KeyPair {
  priv: Uint8Array; // 32 bytes
  pub: Uint8Array; // 65 bytes, 04‖x‖y
}

const b64u = (b: Uint8Array) => Buffer.from(b).toString("base64url");

/** generateKeyPairSync with JWK encodings (Node supports them; its type declarations do not). */
const generateJwkPair = generateKeyPairSync as unknown as (
  type: "ec", o: { namedCurve: string; privateKeyEncoding: { format: "jwk" }; publicKeyEncoding: { format: "jwk" } },
) => { privateKey: JsonWebKey; publicKey: JsonWebKey };

export function generateKeyPair(suite: SuiteName): KeyPair {
  if (suite === "sm2") {
    const k = smCrypto.sm2.generateKeyPairHex();
    return { priv: Buffer.from(k.privateKey.padStart(64, "0"), "hex"), pub: Buffer.from(k.publicKey, "hex") };
  }
  // encoded by the key generation itself: exporting the new KeyObject instead (.export) can
  // deadlock Node 20 when a garbage collection during the export finalizes the generation job,
  // which locks the key's mutex the export holds (test/host-keygen-gc.test.ts)
  const { privateKey: jwk } = generateJwkPair("ec", { namedCurve: "P-256", privateKeyEncoding: { format: "jwk" }, publicKeyEncoding: { format: "jwk" } });
  const d = Buffer.from(jwk.d!, "base64url");
  const pub = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]);
  return { priv: d, pub };
}

/** Key id: the first 4 bytes of SHA-256 over the 65-byte public key (both suites). */
export function keyId(pub: Uint8Array): Uint8Array {
  return createHash("sha256").update(pub).digest().subarray(0, 4);
}

/** The suite's hash (SM3 or SHA-256): voucher chains link by it (DESIGN.md §4). */
export function suiteHash(suite: SuiteName, data: Uint8Array): Uint8Array {
  return createHash(suite === "sm2" ? "sm3" : "sha256").update(data).digest();
}

const privCache = new Map<string, KeyObject>();
const pubCache = new Map<string, KeyObject | null>();

function p256Private(priv: Uint8Array, pub: Uint8Array): KeyObject {
  const id = hex(priv);
  let k = privCache.get(id);
  if (!k) {
    k = createPrivateKey({
      key: { kty: "EC", crv: "P-256", d: b64u(priv), x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33, 65)) },
      format: "jwk",
    });
    privCache.set(id, k);
  }
  return k;
}

function p256Public(pub: Uint8Array): KeyObject | null {
  const id = hex(pub);
  let k = pubCache.get(id);
  if (k === undefined) {
    try {
      if (pub.length !== 65 || pub[0] !== 4) throw new Error("bad point");
      k = createPublicKey({ key: { kty: "EC", crv: "P-256", x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33, 65)) }, format: "jwk" });
    } catch {
      k = null; // not on the curve: every signature under it is invalid
    }
    if (pubCache.size > 100_000) pubCache.clear();
    pubCache.set(id, k);
  }
  return k;
}

/** P-256 group order n and floor(n/2) (FIPS 186-4 D.1.2.3), 32 bytes big-endian. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P256_HALF_N = Buffer.from((P256_N >> 1n).toString(16).padStart(64, "0"), "hex");

/** true if the s half of a raw 64-byte P-256 signature is above n/2 (the non-canonical twin). */
export function isHighS(sig: Uint8Array): boolean {
  return Buffer.compare(sig.subarray(32, 64), P256_HALF_N) > 0;
}

/** (r, n − s) when s > n/2, else the signature itself: the canonical low-S form (SPEC §5.1). */
export function toLowS(sig: Uint8Array): Uint8Array {
  if (sig.length !== 64 || !isHighS(sig)) return sig;
  const s = BigInt("0x" + hex(sig.subarray(32, 64)));
  const out = Buffer.from(sig);
  Buffer.from((P256_N - s).toString(16).padStart(64, "0"), "hex").copy(out, 32);
  return out;
}

/** Signs msg (hashing inside, Z_A for SM2); returns raw r‖s (P-256: low-S). */
export function signRaw(suite: SuiteName, key: KeyPair, msg: Uint8Array): Uint8Array {
  if (suite === "sm2") {
    const sig = smCrypto.sm2.doSignature(msg, hex(key.priv), { hash: true, der: false, publicKey: hex(key.pub) });
    return Buffer.from(sig, "hex");
  }
  // OpenSSL emits high-S half the time; devices refuse those issuer documents
  return toLowS(sign("sha256", msg, { key: p256Private(key.priv, key.pub), dsaEncoding: "ieee-p1363" }));
}

/**
 * Verifies a raw r‖s signature; false (never throws) on any malformed input. The fastest
 * correct verifier per suite: P-256 through OpenSSL (node:crypto); SM2 through the
 * firmware's own verifier (wasm-verifier.ts) when the firmware is built, else sm-crypto.
 */
export function verifyRaw(suite: SuiteName, pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (sig.length !== 64 || pub.length !== 65) return false;
  if (suite === "sm2") {
    const w = wasmVerifier();
    if (w && msg.length <= w.maxMessage) return w.verify("sm2", pub, msg, sig);
    return verifySm2Reference(pub, msg, sig);
  }
  return verifyP256OpenSsl(pub, msg, sig);
}

/** SM2 through sm-crypto (the independent reference; slow). */
export function verifySm2Reference(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  try {
    return smCrypto.sm2.doVerifySignature(msg, hex(sig), hex(pub), { hash: true, der: false });
  } catch {
    return false;
  }
}

/** P-256 through node:crypto (OpenSSL); s > n/2 is refused as non-canonical before OpenSSL runs. */
export function verifyP256OpenSsl(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (sig.length !== 64 || isHighS(sig)) return false;
  const k = p256Public(pub);
  if (!k) return false;
  try {
    return verify("sha256", msg, { key: k, dsaEncoding: "ieee-p1363" }, sig);
  } catch {
    return false;
  }
}
