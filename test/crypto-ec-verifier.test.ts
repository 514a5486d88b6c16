// The verifier exported by the production firmware.wasm (firmware/assembly/crypto/verifier.ts,
// buffer layout protocol/portable/crypto-verifier.ts) and by the host build verifier.wasm
// (verifier-host.ts, SPEC §2): signatures made by independent implementations (sm-crypto
// for SM2, OpenSSL for P-256) verify, altered ones and malformed input return 0, nothing
// traps, and the hardware imports are never touched. The host build's batch entry gives
// the same answers as one call per signature, malformed records included.
import { describe, it, expect, beforeAll } from "vitest";
import { readFileSync } from "node:fs";
import { generateKeyPairSync, sign as nodeSign, randomBytes } from "node:crypto";
import smCryptoLib from "sm-crypto";
import {
  VERIFIER_PUB_OFFSET, VERIFIER_SIG_OFFSET, VERIFIER_MSG_OFFSET, VERIFIER_BUFFER_SIZE,
} from "../protocol/portable/crypto-verifier.ts";
import { CURVE, SM2, P256, fromBe, toBe32, unhex } from "./crypto-ec-harness.ts";
import { WasmVerifier, HOST_VERIFIER_PATH, type SignedItem } from "../host-tools/src/wasm-verifier.ts";

// P-256 low-S policy (SPEC §5.1): p256_verify refuses s > n/2; OpenSSL emits either form
const N256 = CURVE[P256].n;
const isHighS = (sig: Uint8Array) => fromBe(sig.subarray(32, 64)) > N256 >> 1n;
const twinOf = (sig: Uint8Array) => Uint8Array.from([...sig.subarray(0, 32), ...toBe32(N256 - fromBe(sig.subarray(32, 64)))]);

interface Verifier { memory: WebAssembly.Memory; crypto_buffer(): number; sm2_verify(n: number): number; p256_verify(n: number): number }
for (const wasm of ["firmware.wasm", "verifier.wasm"]) {
let x: Verifier;
beforeAll(() => {
  const mod = new WebAssembly.Module(readFileSync(new URL(`../build/${wasm}`, import.meta.url)));
  // every import throws: verification must not touch flash, TRNG, clock or button
  const imports: WebAssembly.Imports = {};
  for (const imp of WebAssembly.Module.imports(mod)) {
    (imports[imp.module] ??= {})[imp.name] = () => { throw new Error(`verifier touched ${imp.module}.${imp.name}`); };
  }
  x = new WebAssembly.Instance(mod, imports).exports as unknown as Verifier;
});

function run(which: "sm2" | "p256", pub: Uint8Array, sig: Uint8Array, msg: Uint8Array, len = msg.length): number {
  const base = x.crypto_buffer(), m = new Uint8Array(x.memory.buffer);
  m.set(pub, base + VERIFIER_PUB_OFFSET);
  m.set(sig, base + VERIFIER_SIG_OFFSET);
  m.set(msg.subarray(0, Math.min(msg.length, VERIFIER_BUFFER_SIZE - VERIFIER_MSG_OFFSET)), base + VERIFIER_MSG_OFFSET);
  return which === "sm2" ? x.sm2_verify(len) : x.p256_verify(len);
}

describe(`${wasm} crypto verifier`, () => {
  it("SM2: sm-crypto signatures verify; altered ones do not", () => {
    const sm = smCryptoLib.sm2;
    for (let i = 0; i < 20; i++) {
      const kp = sm.generateKeyPairHex();
      const msg = randomBytes(1 + i * 37);
      const sig = unhex(sm.doSignature(Array.from(msg), kp.privateKey, { hash: true, publicKey: kp.publicKey, der: false }));
      const pub = unhex(kp.publicKey);
      expect(run("sm2", pub, sig, msg)).toBe(1);
      expect(run("p256", pub, sig, msg)).toBe(0); // wrong curve
      const bad = Uint8Array.from(sig); bad[i % 64] ^= 0x10;
      expect(run("sm2", pub, bad, msg)).toBe(0);
      expect(run("sm2", pub, sig, msg, msg.length - 1)).toBe(0);
    }
  });
  it("P-256: OpenSSL signatures verify in low-S form, their high-S twin and altered ones do not", () => {
    for (let i = 0; i < 20; i++) {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const jwk = publicKey.export({ format: "jwk" });
      const pub = Uint8Array.from([4, ...Buffer.from(jwk.x!, "base64url"), ...Buffer.from(jwk.y!, "base64url")]);
      const msg = randomBytes(i * 50);
      const raw = new Uint8Array(nodeSign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" }));
      const sig = isHighS(raw) ? twinOf(raw) : raw;
      expect(run("p256", pub, sig, msg)).toBe(1);
      expect(run("p256", pub, twinOf(sig), msg)).toBe(0); // s > n/2: non-canonical
      expect(run("sm2", pub, sig, msg)).toBe(0);
      const badPub = Uint8Array.from(pub); badPub[1 + (i % 64)] ^= 1;
      expect(run("p256", badPub, sig, msg)).toBe(0);
    }
  });
  it("malformed input: zero key, zero signature, oversized length — 0, no trap", () => {
    const msg = randomBytes(32);
    expect(run("sm2", new Uint8Array(65), new Uint8Array(64), msg)).toBe(0);
    expect(run("p256", new Uint8Array(65).fill(0xff), new Uint8Array(64).fill(0xff), msg)).toBe(0);
    expect(run("p256", new Uint8Array(65), new Uint8Array(64), msg, VERIFIER_BUFFER_SIZE)).toBe(0);
    expect(run("sm2", new Uint8Array(65), new Uint8Array(64), msg, 0xffffffff)).toBe(0);
  });
});
}

describe("verifier.wasm batch entry (verifyMany)", () => {
  const v = WasmVerifier.load(HOST_VERIFIER_PATH)!;
  const sm = smCryptoLib.sm2;
  function sm2Items(count: number): SignedItem[] {
    const kp = sm.generateKeyPairHex(), other = sm.generateKeyPairHex();
    return Array.from({ length: count }, (_, i) => {
      const msg = randomBytes(i % 300);
      const sig = unhex(sm.doSignature(Array.from(msg), kp.privateKey, { hash: true, publicKey: kp.publicKey, der: false }));
      const pub = unhex(i % 5 === 3 ? other.publicKey : kp.publicKey);
      if (i % 7 === 2) sig[i % 64] ^= 4;
      return { pub, msg, sig };
    });
  }
  function p256Items(count: number): SignedItem[] {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    const pub = Uint8Array.from([4, ...Buffer.from(jwk.x!, "base64url"), ...Buffer.from(jwk.y!, "base64url")]);
    return Array.from({ length: count }, (_, i) => {
      const msg = randomBytes(i * 13 % 500);
      const raw = new Uint8Array(nodeSign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" }));
      let sig = isHighS(raw) ? twinOf(raw) : raw;
      if (i % 6 === 1) sig = twinOf(sig); // high S: refused
      if (i % 9 === 4) sig = new Uint8Array(64);
      return { pub, msg, sig };
    });
  }
  it("has the batch entry", () => expect(v.batched).toBe(true));
  it("SM2 and P-256: the same answers as one call each, valid and invalid mixed", () => {
    for (const [suite, items] of [["sm2", sm2Items(60)], ["p256", p256Items(60)]] as const) {
      const one = items.map((it) => v.verify(suite, it.pub, it.msg, it.sig));
      expect(one.filter(Boolean).length).toBeGreaterThan(20);
      expect(one.filter((b) => !b).length).toBeGreaterThan(10);
      expect(v.verifyMany(suite, items)).toEqual(one);
      expect(v.verifyMany(suite === "sm2" ? "p256" : "sm2", items).some(Boolean)).toBe(false); // wrong curve
    }
  });
  it("runs of one key reuse its decoding, Z_A and table: the first of a run failing early, bad keys, key changes", () => {
    for (const [suite, items] of [["sm2", sm2Items(12)], ["p256", p256Items(12)]] as const) {
      const other = (suite === "sm2" ? sm2Items(3) : p256Items(3)).filter((it) => v.verify(suite, it.pub, it.msg, it.sig));
      const good = items.filter((it) => v.verify(suite, it.pub, it.msg, it.sig));
      const offCurve = Uint8Array.from(good[0].pub); offCurve[64] ^= 1;
      const zero = new Uint8Array(64), nOrder = toBe32(suite === "sm2" ? CURVE[SM2].n : N256);
      const seq: SignedItem[] = [
        other[0], { ...good[0], sig: zero }, good[1], good[2], // the run's first record fails before the table is built
        { ...good[3], sig: Uint8Array.from([...nOrder, ...good[3].sig.subarray(32)]) }, good[3], // r = n
        other[1], { ...good[4], pub: offCurve }, { ...good[4], pub: offCurve }, good[4], good[5], other[0], other[0],
      ];
      const one = seq.map((it) => v.verify(suite, it.pub, it.msg, it.sig));
      expect(one).toEqual([true, false, true, true, false, true, true, false, false, true, true, true, true]);
      expect(v.verifyMany(suite, seq)).toEqual(one);
    }
  });
  it("slices larger than the batch buffer, and malformed items, keep their places", () => {
    const base = p256Items(4);
    const big = { ...base[0], msg: randomBytes(300_000) }; // four of these overflow the 1 MiB buffer
    const items: SignedItem[] = [base[0], big, { ...base[0], pub: base[0].pub.subarray(0, 64) }, big, base[2], big, big, big, base[3]];
    expect(v.verifyMany("p256", items)).toEqual(items.map((it) => v.verify("p256", it.pub, it.msg, it.sig) && it.pub.length === 65));
  });
  it("raw entry: a record whose length runs past the buffer, an unknown suite: 0, no trap", () => {
    const ex = (v as unknown as { x: Required<Verifier> & { batch_buffer(): number; batch_capacity(): number; batch_results(): number; verify_batch(s: number, n: number): number } }).x;
    const dv = new DataView(ex.memory.buffer);
    dv.setUint32(ex.batch_buffer(), 0xfffffff0, true);
    expect(ex.verify_batch(1, 3)).toBe(0);
    expect(Array.from(new Uint8Array(ex.memory.buffer, ex.batch_results(), 3))).toEqual([0, 0, 0]);
    expect(ex.verify_batch(99, 1)).toBe(0);
    expect(ex.verify_batch(1, 0xffffffff)).toBe(0);
  });
});
