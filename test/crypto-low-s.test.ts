// Low-S policy for ECDSA P-256 (SPEC §5.1; TRAPS.md "An ECDSA signature (r, s) has a twin
// (r, n−s) that verifies too"): every P-256 signer emits s ≤ n/2 and every P-256 verifier
// refuses s > n/2, so nobody but the key holder can make a second valid signature over the
// same payload (voucher hashes, chain hashes and fork detection key on the signature bytes).
// SM2 is not malleable that way: verification adds t = r + s, so (r, n−s) gives another t.
// Checked here on every verifier path: the firmware's own ecVerify (RECEIVE of a payer
// voucher), its exported p256_verify (host-tools wasm-verifier.ts), host-tools verifyRaw /
// verifyP256OpenSsl and checkVoucher (POS, sync, reconcile); and both signers (firmware
// signWith, host-tools signRaw).
import { describe, expect, it } from "vitest";
import { randomBytes, verify as nodeVerify, createPublicKey } from "node:crypto";
import smCryptoLib from "sm-crypto";
import * as A from "../protocol/portable/apdu.ts";
import { SUITE_P256_SHA256_AES128 } from "../protocol/portable/suite.ts";
import { decodeSign1, toBeSigned } from "../protocol/src/cose.ts";
import { EcWasm, CURVE, P256, SM2, fromBe, toBe32, hex } from "./crypto-ec-harness.ts";
import { TestIssuer } from "./support/applet-issuer.ts";
import { T0 } from "./support/applet-perso.ts";
import { activeWallet, load, pay, receiveData } from "./support/applet-wallet.ts";
import { generateKeyPair, signRaw, verifyP256OpenSsl, verifyRaw } from "../host-tools/src/sig.ts";
import { WasmVerifier } from "../host-tools/src/wasm-verifier.ts";
import { checkVoucher, type DeviceKey } from "../host-tools/src/voucher-check.ts";
import { certRefOf } from "../host-tools/src/docs.ts";

const N = CURVE[P256].n;
const HALF = N >> 1n; // floor(n/2): n is odd, so s ≤ HALF ⟺ s < n − s

const sOf = (sig: Uint8Array) => fromBe(sig.subarray(32, 64));
/** (r, n − s): the twin every ECDSA verifier without a low-S rule accepts */
function twin(sig: Uint8Array, n = N): Uint8Array {
  const t = Uint8Array.from(sig);
  t.set(toBe32(n - sOf(sig)), 32);
  return t;
}
/** OpenSSL's raw verdict (no low-S rule): shows a twin is a real second signature */
function opensslAccepts(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  const b64u = (b: Uint8Array) => Buffer.from(b).toString("base64url");
  const key = createPublicKey({ key: { kty: "EC", crv: "P-256", x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33)) }, format: "jwk" });
  return nodeVerify("sha256", msg, { key, dsaEncoding: "ieee-p1363" }, sig);
}

describe("P-256 signers emit low-S only", () => {
  it("firmware signWith: 2,000 hedged signatures, every s ≤ n/2, each verifies", () => {
    const w = new EcWasm();
    let high = 0, bad = 0;
    for (let i = 0; i < 2000; i++) {
      const kp = w.keygen(P256, randomBytes(40))!;
      const msg = randomBytes(i % 97);
      const sig = w.sign(P256, kp.priv, kp.pub, msg, i % 10 === 0 ? null : randomBytes(32))!;
      if (sOf(sig) > HALF) high++;
      if (!w.verify(P256, kp.pub, msg, sig)) bad++; // a normalized signature must still verify
    }
    expect({ high, bad }).toEqual({ high: 0, bad: 0 });
  });

  it("host signRaw (OpenSSL): 2,000 signatures, every s ≤ n/2, each verifies", () => {
    const kp = generateKeyPair("p256");
    let bad = 0;
    for (let i = 0; i < 2000; i++) {
      const msg = randomBytes(1 + (i % 64));
      const sig = signRaw("p256", kp, msg);
      if (sOf(sig) > HALF || !verifyRaw("p256", kp.pub, msg, sig)) bad++;
    }
    expect(bad).toBe(0);
  });
});

describe("P-256 verifiers refuse s > n/2", () => {
  it("firmware ecVerify, p256_verify, verifyRaw and verifyP256OpenSsl refuse the twin OpenSSL accepts", () => {
    const w = new EcWasm();
    const wasm = WasmVerifier.load();
    expect(wasm).not.toBeNull();
    for (let i = 0; i < 50; i++) {
      const kp = w.keygen(P256, randomBytes(40))!;
      const msg = randomBytes(40);
      const sig = w.sign(P256, kp.priv, kp.pub, msg, randomBytes(32))!;
      const t = twin(sig);
      expect(opensslAccepts(kp.pub, msg, t)).toBe(true); // the malleated signature is mathematically valid
      expect(w.verify(P256, kp.pub, msg, sig)).toBe(true);
      expect(w.verify(P256, kp.pub, msg, t)).toBe(false);
      expect(wasm!.verify("p256", kp.pub, msg, sig)).toBe(true);
      expect(wasm!.verify("p256", kp.pub, msg, t)).toBe(false);
      expect(verifyRaw("p256", kp.pub, msg, sig)).toBe(true);
      expect(verifyRaw("p256", kp.pub, msg, t)).toBe(false);
      expect(verifyP256OpenSsl(kp.pub, msg, t)).toBe(false);
    }
  });
});

describe("SM2 is not malleable by s ↦ n − s (no low-S rule needed)", () => {
  it("the twin of a firmware SM2 signature fails in the firmware and in sm-crypto", () => {
    const w = new EcWasm();
    const nS = CURVE[SM2].n;
    for (let i = 0; i < 20; i++) {
      const kp = w.keygen(SM2, randomBytes(40))!;
      const msg = randomBytes(30);
      const sig = w.sign(SM2, kp.priv, kp.pub, msg, randomBytes(32))!;
      const t = twin(sig, nS);
      expect(w.verify(SM2, kp.pub, msg, sig)).toBe(true);
      expect(w.verify(SM2, kp.pub, msg, t)).toBe(false);
      if (i < 3) expect(smCryptoLib.sm2.doVerifySignature(Array.from(msg), hex(t), hex(kp.pub), { hash: true, der: false })).toBe(false);
    }
  });
});

describe("a malleated firmware voucher (SPEC §5.6) is refused on every path", () => {
  it("host verifyRaw, checkVoucher, p256_verify and a payee device's RECEIVE refuse (r, n−s)", async () => {
    const issuer = new TestIssuer(SUITE_P256_SHA256_AES128);
    const payer = await activeWallet(P256, { issuer });
    const payee = await activeWallet(P256, { issuer });
    expect(load(payer, 10_000).sw).toBe(0x9000);
    const ch = payee.h.iso(A.INS_GET_CHALLENGE, 0, 0, undefined, 16);
    const v = pay(payer, 2_500, { p1: A.P1_PAY_DEVICE, payee: payee.p.deviceId, challenge: ch.data });
    expect(v.sw).toBe(0x9000);
    const voucher = v.data;
    const s1 = decodeSign1(voucher);
    const tbs = toBeSigned(s1.alg, s1.payload);
    expect(sOf(s1.signature)).toBeLessThanOrEqual(HALF);
    // the signature is the last 64 bytes of the COSE_Sign1 (bstr 64 closes the array)
    expect(hex(voucher.subarray(voucher.length - 64))).toBe(hex(s1.signature));
    const malleated = Uint8Array.from(voucher);
    malleated.set(twin(s1.signature), voucher.length - 64);
    const sigT = malleated.subarray(malleated.length - 64);
    expect(opensslAccepts(payer.p.pub, tbs, sigT)).toBe(true); // same payload, a second valid ECDSA signature

    // host: raw verifier, the POS/reconcile voucher check, the firmware's exported verifier
    expect(verifyRaw("p256", payer.p.pub, tbs, s1.signature)).toBe(true);
    expect(verifyRaw("p256", payer.p.pub, tbs, sigT)).toBe(false);
    const key: DeviceKey = { suite: "p256", pub: hex(payer.p.pub), certRef: hex(certRefOf("p256", payer.p.cert)) };
    const lookup = (id: string) => (id === hex(payer.p.deviceId) ? key : undefined);
    expect(checkVoucher(voucher, lookup).ok).toBe(true);
    const rej = checkVoucher(malleated, lookup);
    expect(rej.ok).toBe(false);
    expect(rej.ok ? "" : rej.reason).toMatch(/signature/);
    const wasm = WasmVerifier.load()!;
    expect(wasm.verify("p256", payer.p.pub, tbs, s1.signature)).toBe(true);
    expect(wasm.verify("p256", payer.p.pub, tbs, sigT)).toBe(false);

    // device: the payee refuses the twin as a bad signature and changes nothing
    const before = payee.h.status();
    const rx = payee.h.cmd(A.INS_RECEIVE, 0, 0, receiveData(malleated, payer.p.cert, T0 + 90));
    expect(rx.sw.toString(16)).toBe("6984");
    const after = payee.h.status();
    expect({ balance: after.balance, counter: after.counter, logCount: after.logCount, latestTime: after.latestTime })
      .toEqual({ balance: before.balance, counter: before.counter, logCount: before.logCount, latestTime: before.latestTime });
    // control: a fresh honest voucher is received
    const ch2 = payee.h.iso(A.INS_GET_CHALLENGE, 0, 0, undefined, 16);
    const v2 = pay(payer, 1_000, { p1: A.P1_PAY_DEVICE, payee: payee.p.deviceId, challenge: ch2.data });
    expect(payee.h.cmd(A.INS_RECEIVE, 0, 0, receiveData(v2.data, payer.p.cert, T0 + 95)).sw).toBe(0x9000);
    expect(payee.h.status().balance).toBe(before.balance + 1_000);
  });
});
