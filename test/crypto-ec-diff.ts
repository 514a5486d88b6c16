// Differential runs of the firmware's signatures against independent implementations
// (DESIGN.md §3): SM2 against sm-crypto (default user id, SM3, Z_A), P-256 against node:crypto
// (OpenSSL, ieee-p1363 encoding). Each run is seeded, so a failure names a reproducible
// case. Every valid case is also corrupted (signature, key or message, in turn) and both
// sides must reject it; the slow reference side checks every RECHECK-th corruption.
// sm-crypto's verification of the firmware's signatures dominates the run time.
// P-256 follows the low-S policy (SPEC §5.1): the firmware's signatures must have s ≤ n/2;
// OpenSSL's (either form) are fed to the firmware in low-S form, and their high-S twin
// (r, n − s), which OpenSSL accepts, must be refused.
// Every verification by the firmware's ecVerify is repeated on the host verifier build
// (build/verifier.wasm, SPEC §2), which must give the same answer.
// The test files slow/crypto-ec-diff-*.test.ts (the `slow` vitest project) split the
// 10,000-case runs by seed so they can run in parallel (sm-crypto manages ~100 signs/s and ~50 verifies/s).
import { createHash, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import smCryptoLib from "sm-crypto";
import { describe, it, expect } from "vitest";
import { EcWasm, SM2, P256, CURVE, hex, unhex, fromBe, toBe32 } from "./crypto-ec-harness.ts";
import { WasmVerifier, HOST_VERIFIER_PATH } from "../host-tools/src/wasm-verifier.ts";

const host = WasmVerifier.load(HOST_VERIFIER_PATH);
if (!host) throw new Error("crypto-ec-diff: build/verifier.wasm not built");
/** w.verify, cross-checked against the host verifier build (a disagreement is a failure) */
function verifyBoth(w: EcWasm, suite: typeof SM2 | typeof P256, pub: Uint8Array, msg: Uint8Array, sig: Uint8Array, failures: string[], tag: string): boolean {
  const fw = w.verify(suite, pub, msg, sig);
  if (host!.verify(suite === SM2 ? "sm2" : "p256", pub, msg, sig) !== fw) failures.push(`${tag}: verifier.wasm disagrees (${fw}) pub=${hex(pub)} msg=${hex(msg)} sig=${hex(sig)}`);
  return fw;
}

/** deterministic bytes: SHA-256(seed || counter) blocks */
export class SeededBytes {
  private n = 0;
  constructor(private readonly seed: string) {}
  take(len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let off = 0; off < len; off += 32) {
      const block = createHash("sha256").update(`${this.seed}/${this.n++}`).digest();
      out.set(block.subarray(0, Math.min(32, len - off)), off);
    }
    return out;
  }
  int(max: number): number { return (this.take(4).reduce((a, b) => a * 256 + b, 0)) % max; }
}

export interface DiffReport { cases: number; corrupted: number; failures: string[] }
const RECHECK = 25;
const smCrypto = smCryptoLib.sm2;
const KEYS = 200;

// flip one bit of a copy
function flip(b: Uint8Array, at: number, bit: number): Uint8Array {
  const c = Uint8Array.from(b);
  c[at] ^= 1 << bit;
  return c;
}
type Corruption = { what: string; pub: Uint8Array; msg: Uint8Array; sig: Uint8Array };
// the i-th case's corruption: signature, message or public key (another valid key)
function corrupt(i: number, rnd: SeededBytes, pub: Uint8Array, otherPub: Uint8Array, msg: Uint8Array, sig: Uint8Array): Corruption {
  switch (i % 3) {
    case 0: return { what: "sig", pub, msg, sig: flip(sig, rnd.int(64), rnd.int(8)) };
    case 1: return { what: "msg", pub, msg: msg.length ? flip(msg, rnd.int(msg.length), rnd.int(8)) : Uint8Array.of(0), sig };
    default: return { what: "key", pub: otherPub, msg, sig };
  }
}

const smVerify = (msg: Uint8Array, sig: Uint8Array, pub: Uint8Array) =>
  smCrypto.doVerifySignature(Array.from(msg), hex(sig), hex(pub), { hash: true, der: false });

/** firmware SM2 signs (hedged nonces), sm-crypto verifies */
export function sm2FirmwareToSmCrypto(w: EcWasm, seed: string, count: number): DiffReport {
  const rnd = new SeededBytes(seed);
  const r: DiffReport = { cases: 0, corrupted: 0, failures: [] };
  let prev = w.keygen(SM2, rnd.take(40))!;
  for (let i = 0; i < count; i++) {
    const kp = w.keygen(SM2, rnd.take(40))!;
    const msg = rnd.take(rnd.int(200));
    const sig = w.sign(SM2, kp.priv, kp.pub, msg, rnd.take(32));
    if (!sig) { r.failures.push(`${seed}#${i}: firmware refused to sign`); continue; }
    r.cases++;
    if (!smVerify(msg, sig, kp.pub)) r.failures.push(`${seed}#${i}: sm-crypto rejects priv=${hex(kp.priv)} msg=${hex(msg)} sig=${hex(sig)}`);
    const c = corrupt(i, rnd, kp.pub, prev.pub, msg, sig);
    if (verifyBoth(w, SM2, c.pub, c.msg, c.sig, r.failures, `${seed}#${i}`)) r.failures.push(`${seed}#${i}: firmware accepts corrupted ${c.what}`);
    if (i % RECHECK === 0) {
      r.corrupted++;
      if (smVerify(c.msg, c.sig, c.pub)) r.failures.push(`${seed}#${i}: sm-crypto accepts corrupted ${c.what}`);
    }
    prev = kp;
  }
  return r;
}

/** sm-crypto SM2 signs (its own keys and nonces), the firmware verifies */
export function sm2SmCryptoToFirmware(w: EcWasm, seed: string, count: number): DiffReport {
  const rnd = new SeededBytes(seed);
  const r: DiffReport = { cases: 0, corrupted: 0, failures: [] };
  // sm-crypto's own key pairs, KEYS of them reused round-robin: key generation would
  // double the (slow) reference's share of the run without testing anything new
  const keys = Array.from({ length: KEYS }, () => smCrypto.generateKeyPairHex());
  for (const kp of keys) {
    if (hex(w.publicKey(SM2, unhex(kp.privateKey.padStart(64, "0"))) ?? new Uint8Array()) !== kp.publicKey) r.failures.push(`${seed}: public keys differ for priv=${kp.privateKey}`);
  }
  let prevPub = w.keygen(SM2, rnd.take(40))!.pub;
  for (let i = 0; i < count; i++) {
    const kp = keys[i % KEYS];
    const priv = unhex(kp.privateKey.padStart(64, "0")), pub = unhex(kp.publicKey);
    const msg = rnd.take(rnd.int(200));
    const sig = unhex(smCrypto.doSignature(Array.from(msg), hex(priv), { hash: true, publicKey: kp.publicKey, der: false }));
    r.cases++;
    if (!verifyBoth(w, SM2, pub, msg, sig, r.failures, `${seed}#${i}`)) r.failures.push(`${seed}#${i}: firmware rejects pub=${hex(pub)} msg=${hex(msg)} sig=${hex(sig)}`);
    const c = corrupt(i, rnd, pub, prevPub, msg, sig);
    r.corrupted++;
    if (verifyBoth(w, SM2, c.pub, c.msg, c.sig, r.failures, `${seed}#${i}`)) r.failures.push(`${seed}#${i}: firmware accepts corrupted ${c.what}`);
    if (i % RECHECK === 0 && smVerify(c.msg, c.sig, c.pub)) r.failures.push(`${seed}#${i}: sm-crypto accepts corrupted ${c.what}`);
    prevPub = pub;
  }
  return r;
}

// node:crypto key objects from raw P-256 keys (JWK import)
const b64u = (b: Uint8Array) => Buffer.from(b).toString("base64url");
function nodeKeys(priv: Uint8Array, pub: Uint8Array): { priv: KeyObject; pub: KeyObject } {
  const jwk = { kty: "EC", crv: "P-256", x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33, 65)) };
  return { priv: createPrivateKey({ key: { ...jwk, d: b64u(priv) }, format: "jwk" }), pub: createPublicKey({ key: jwk, format: "jwk" }) };
}
const nodeOk = (key: KeyObject, msg: Uint8Array, sig: Uint8Array) => nodeVerify("sha256", msg, { key, dsaEncoding: "ieee-p1363" }, sig);

const N256 = CURVE[P256].n;
const highS = (sig: Uint8Array) => fromBe(sig.subarray(32, 64)) > N256 >> 1n;
/** (r, n − s) */
const twinOf = (sig: Uint8Array) => Uint8Array.from([...sig.subarray(0, 32), ...toBe32(N256 - fromBe(sig.subarray(32, 64)))]);

/** P-256 both ways: firmware sign -> OpenSSL verify, OpenSSL sign -> firmware verify */
export function p256BothWays(w: EcWasm, seed: string, count: number): DiffReport {
  const rnd = new SeededBytes(seed);
  const r: DiffReport = { cases: 0, corrupted: 0, failures: [] };
  let prev = w.keygen(P256, rnd.take(40))!;
  let prevKey = nodeKeys(prev.priv, prev.pub);
  for (let i = 0; i < count; i++) {
    const kp = w.keygen(P256, rnd.take(40))!;
    const keys = nodeKeys(kp.priv, kp.pub); // OpenSSL checks the point is on the curve
    const msg = rnd.take(rnd.int(200));
    const mine = w.sign(P256, kp.priv, kp.pub, msg, rnd.take(32))!;
    const raw = new Uint8Array(nodeSign("sha256", msg, { key: keys.priv, dsaEncoding: "ieee-p1363" }));
    const theirs = highS(raw) ? twinOf(raw) : raw;
    r.cases += 2;
    if (highS(mine)) r.failures.push(`${seed}#${i}: firmware sig has s > n/2 sig=${hex(mine)}`);
    if (!nodeOk(keys.pub, msg, mine)) r.failures.push(`${seed}#${i}: OpenSSL rejects firmware sig priv=${hex(kp.priv)} msg=${hex(msg)} sig=${hex(mine)}`);
    if (!verifyBoth(w, P256, kp.pub, msg, theirs, r.failures, `${seed}#${i}`)) r.failures.push(`${seed}#${i}: firmware rejects OpenSSL sig pub=${hex(kp.pub)} msg=${hex(msg)} sig=${hex(theirs)}`);
    const high = twinOf(theirs); // OpenSSL accepts it; the low-S rule must not
    if (!nodeOk(keys.pub, msg, high)) r.failures.push(`${seed}#${i}: OpenSSL rejects the twin (harness error)`);
    if (verifyBoth(w, P256, kp.pub, msg, high, r.failures, `${seed}#${i}`)) r.failures.push(`${seed}#${i}: firmware accepts s > n/2 sig=${hex(high)}`);
    for (const sig of [mine, theirs]) {
      const c = corrupt(i, rnd, kp.pub, prev.pub, msg, sig);
      r.corrupted++;
      if (verifyBoth(w, P256, c.pub, c.msg, c.sig, r.failures, `${seed}#${i}`)) r.failures.push(`${seed}#${i}: firmware accepts corrupted ${c.what}`);
      if (nodeOk(c.what === "key" ? prevKey.pub : keys.pub, c.msg, c.sig)) r.failures.push(`${seed}#${i}: OpenSSL accepts corrupted ${c.what}`);
    }
    prev = kp;
    prevKey = keys;
  }
  return r;
}

/** one split part of a run as a vitest suite: `count` seeded cases must all agree */
/** One shard of a differential run: `count` cases drawn from `seed` (the title names both). */
export function diffSuite(what: string, run: (w: EcWasm, seed: string, count: number) => DiffReport, seed: string, count: number, cases = count): void {
  describe(`${what} (seed "${seed}", ${count} cases)`, () => {
    it(`${count} seeded cases agree, corruptions rejected by both sides`, () => {
      const r = run(new EcWasm(), seed, count);
      expect(r.failures.slice(0, 10)).toEqual([]);
      expect(r.cases).toBe(cases);
    }, 600_000);
  });
}
