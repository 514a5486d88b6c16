// Differential tests of the firmware's symmetric crypto against independent implementations:
// node:crypto (OpenSSL) for SM3, SHA-256, HMAC-SHA256, HMAC-SM3, AES-128-CBC and SM4-CBC
// (10,000 random cases each, lengths including 0 and the 55/56/63/64/65 padding boundaries);
// CMAC and the SCP03 KDF against test/support/ref-sym.ts (naive spec code over OpenSSL's raw
// block ciphers); SM4-CBC and SM4-CMAC also against sm-crypto's SM4. Seeded PRNG: a failure
// names the case index and reproduces.
import { describe, it, expect } from "vitest";
import { createHash, createHmac, createCipheriv } from "node:crypto";
import { createRequire } from "node:module";
import { loadSymWasmSync, hex } from "./support/crypto-sym-wasm.ts";
import { cmacRef, scp03KdfRef, prng, cbcName, hashName } from "./support/ref-sym.ts";
import { SUITE_SM2_SM3_SM4, SUITE_P256_SHA256_AES128 } from "../protocol/portable/suite.ts";

const smCrypto = createRequire(import.meta.url)("sm-crypto");
const w = loadSymWasmSync();
const { x } = w;
const N = 10_000;
const SUITES = [SUITE_SM2_SM3_SM4, SUITE_P256_SHA256_AES128] as const;
const BOUNDARIES = [0, 1, 15, 16, 17, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 191, 192];

function randomLen(r: ReturnType<typeof prng>, max = 320): number {
  return r.int(4) === 0 ? BOUNDARIES[r.int(BOUNDARIES.length)] : r.int(max + 1);
}

function runCases(seed: number, n: number, body: (r: ReturnType<typeof prng>, i: number) => void): void {
  const r = prng(seed);
  for (let i = 0; i < n; i++) {
    w.reset();
    try {
      body(r, i);
    } catch (e) {
      throw new Error(`case ${i} (seed ${seed}): ${(e as Error).message}`);
    }
  }
}

const eq = (a: Uint8Array, b: Uint8Array) => {
  if (hex(a) !== hex(b)) throw new Error(`mismatch: firmware ${hex(a)} reference ${hex(b)}`);
};

describe("hashes vs node:crypto", () => {
  for (const suite of SUITES) {
    const name = hashName(suite);
    it(`${name}: ${N} random messages, one-shot and suite-generic`, () => {
      const one = name === "sm3" ? x.sm3 : x.sha256;
      runCases(suite * 101, N, (r, i) => {
        const msg = r.bytes(randomLen(r, i % 100 === 0 ? 3000 : 320));
        const p = w.put(msg), out = w.alloc(32), out2 = w.alloc(32);
        one(p, msg.length, out);
        x.hashOnce(suite, p, msg.length, out2);
        const ref = createHash(name).update(msg).digest();
        eq(w.get(out, 32), ref);
        eq(w.get(out2, 32), ref);
      });
    });
    it(`${name}: many messages per call (the benches' batch export)`, () => {
      const many = name === "sm3" ? x.sm3Many : x.sha256Many;
      for (const len of [0, 1, 55, 56, 64, 100]) {
        w.reset();
        const count = 37, msgs = Array.from({ length: count }, (_, i) => Uint8Array.from({ length: len }, (_, j) => (i * 31 + j * 7) & 255));
        const src = w.put(Uint8Array.from(msgs.flatMap((m) => [...m]))), out = w.alloc(32 * count);
        many(src, len, count, out);
        msgs.forEach((m, i) => eq(w.get(out + 32 * i, 32), createHash(name).update(m).digest()));
      }
    });
  }
});

describe("HMAC vs node:crypto", () => {
  for (const suite of SUITES) {
    const name = hashName(suite);
    it(`HMAC-${name}: ${N} random keys (0..150 bytes) and messages`, () => {
      runCases(suite * 211, N, (r) => {
        const key = r.bytes(r.int(3) === 0 ? [0, 32, 63, 64, 65, 131][r.int(6)] : r.int(151));
        const msg = r.bytes(randomLen(r));
        const out = w.alloc(32);
        x.hmac(suite, w.put(key), key.length, w.put(msg), msg.length, out);
        eq(w.get(out, 32), createHmac(name, key).update(msg).digest());
      });
    });
  }
});

describe("CBC vs node:crypto", () => {
  for (const suite of SUITES) {
    const name = cbcName(suite);
    it(`${name}: ${N} random keys, IVs and messages, both directions, in place and apart`, () => {
      runCases(suite * 307, N, (r, i) => {
        const key = r.bytes(16), iv = r.bytes(16), len = 16 * r.int(41);
        const plain = r.bytes(len);
        const c = createCipheriv(name, key, iv).setAutoPadding(false);
        const ref = Buffer.concat([c.update(plain), c.final()]);
        const kp = w.put(key), ivp = w.put(iv), src = w.put(plain);
        const inPlace = i % 2 === 0;
        const dst = inPlace ? src : w.alloc(len);
        if (!x.cbcEncrypt(suite, kp, ivp, src, len, dst)) throw new Error("cbcEncrypt refused");
        eq(w.get(dst, len), ref);
        const back = inPlace ? dst : w.alloc(len);
        if (!x.cbcDecrypt(suite, kp, ivp, dst, len, back)) throw new Error("cbcDecrypt refused");
        eq(w.get(back, len), plain);
      });
    });
  }

  it("refuses lengths that are not a multiple of the block and leaves dst untouched", () => {
    for (const suite of SUITES) {
      for (const len of [1, 15, 17, 31, -16]) {
        w.reset();
        const k = w.alloc(16), iv = w.alloc(16), src = w.alloc(48), dst = w.put(new Uint8Array(48).fill(0xee));
        expect(x.cbcEncrypt(suite, k, iv, src, len, dst)).toBe(0);
        expect(x.cbcDecrypt(suite, k, iv, src, len, dst)).toBe(0);
        expect(w.get(dst, 48).every((b) => b === 0xee)).toBe(true);
      }
    }
  });
});

describe("CMAC and SCP03 KDF vs reference code over OpenSSL block ciphers", () => {
  for (const suite of SUITES) {
    it(`${suite === SUITE_SM2_SM3_SM4 ? "SM4" : "AES"}-CMAC: ${N} random keys and messages`, () => {
      runCases(suite * 401, N, (r) => {
        const key = r.bytes(16), msg = r.bytes(randomLen(r, 200));
        const out = w.alloc(16);
        x.cmac(suite, w.put(key), w.put(msg), msg.length, out);
        eq(w.get(out, 16), cmacRef(suite, key, msg));
      });
    });

    it(`suite ${suite} SCP03 KDF: 2,000 random keys, constants, contexts and lengths`, () => {
      runCases(suite * 503, 2000, (r) => {
        const key = r.bytes(16), ctx = r.bytes(r.int(3) === 0 ? 16 : r.int(48));
        const dc = [0x00, 0x01, 0x04, 0x06, 0x07][r.int(5)], bits = [64, 128, 192, 256, 384][r.int(5)];
        const out = w.alloc(48);
        x.scp03Kdf(suite, w.put(key), dc, w.put(ctx), ctx.length, bits, out);
        eq(w.get(out, bits / 8), scp03KdfRef(suite, key, dc, ctx, bits));
      });
    });
  }
});

describe("SM4 vs sm-crypto (independent JS SM4)", () => {
  it("SM4-CBC: 500 random cases, encrypt and decrypt", () => {
    runCases(601, 500, (r) => {
      const key = r.bytes(16), iv = r.bytes(16), len = 16 * r.int(9);
      const plain = r.bytes(len);
      const ref: number[] = smCrypto.sm4.encrypt(Array.from(plain), hex(key), { mode: "cbc", iv: hex(iv), padding: "none", output: "array" });
      const kp = w.put(key), ivp = w.put(iv), src = w.put(plain), dst = w.alloc(len), back = w.alloc(len);
      x.cbcEncrypt(SUITE_SM2_SM3_SM4, kp, ivp, src, len, dst);
      eq(w.get(dst, len), Uint8Array.from(ref));
      x.cbcDecrypt(SUITE_SM2_SM3_SM4, kp, ivp, dst, len, back);
      eq(w.get(back, len), plain);
    });
  });

  it("SM4-CMAC: 500 random cases against CMAC computed with sm-crypto's SM4-CBC (zero IV)", () => {
    // CMAC = last block of CBC-MAC over M with the final block xored with K1/K2 (SP 800-38B §6.2)
    const sm4Block = (key: Uint8Array, b: Uint8Array) =>
      Uint8Array.from(smCrypto.sm4.encrypt(Array.from(b), hex(key), { padding: "none", output: "array" }) as number[]);
    const dbl = (v: Uint8Array) => {
      const o = new Uint8Array(16);
      for (let i = 0; i < 16; i++) o[i] = ((v[i] << 1) | (i < 15 ? v[i + 1] >> 7 : 0)) & 0xff;
      if (v[0] & 0x80) o[15] ^= 0x87;
      return o;
    };
    runCases(701, 500, (r) => {
      const key = r.bytes(16), msg = r.bytes(randomLen(r, 100));
      const k1 = dbl(sm4Block(key, new Uint8Array(16))), k2 = dbl(k1);
      const complete = msg.length > 0 && msg.length % 16 === 0;
      const padded = new Uint8Array(complete ? msg.length : (Math.floor(msg.length / 16) + 1) * 16);
      padded.set(msg);
      if (!complete) padded[msg.length] = 0x80;
      const sub = complete ? k1 : k2;
      for (let i = 0; i < 16; i++) padded[padded.length - 16 + i] ^= sub[i];
      const cbc: number[] = smCrypto.sm4.encrypt(Array.from(padded), hex(key), { mode: "cbc", iv: "00".repeat(16), padding: "none", output: "array" });
      const out = w.alloc(16);
      x.cmac(SUITE_SM2_SM3_SM4, w.put(key), w.put(msg), msg.length, out);
      eq(w.get(out, 16), Uint8Array.from(cbc.slice(-16)));
    });
  });
});
