// fast-check properties of the firmware's incremental APIs (firmware/assembly/crypto/):
// hashing, HMAC and CMAC fed in arbitrary chunks (including empty ones) equal the one-shot
// result; block-cipher decryption inverts encryption for both suites.
import { describe, it } from "vitest";
import fc from "fast-check";
import { loadSymWasmSync, hex } from "./support/crypto-sym-wasm.ts";
import { cat } from "../protocol/src/bytes.ts";
import { SUITE_SM2_SM3_SM4, SUITE_P256_SHA256_AES128 } from "../protocol/portable/suite.ts";

const w = loadSymWasmSync();
const { x } = w;
const suite = fc.constantFrom(SUITE_SM2_SM3_SM4, SUITE_P256_SHA256_AES128);
const chunks = fc.array(fc.uint8Array({ maxLength: 150 }), { maxLength: 12 });
const RUNS = { numRuns: 1000 };

function feed(ctx: number, parts: Uint8Array[], update: (ctx: number, p: number, n: number) => void) {
  for (const part of parts) update(ctx, w.put(part), part.length);
}

describe("incremental == one-shot", () => {
  it("hashInit/Update/Final over random chunks equals hashOnce (and sm3/sha256)", () => {
    fc.assert(fc.property(suite, chunks, (s, parts) => {
      w.reset();
      const ctx = w.alloc(w.k("HASH_CTX_SIZE")), a = w.alloc(32), b = w.alloc(32), c = w.alloc(32);
      x.hashInit(s, ctx);
      feed(ctx, parts, (cx, p, n) => x.hashUpdate(s, cx, p, n));
      x.hashFinal(s, ctx, a);
      const all = cat(...parts), p = w.put(all);
      x.hashOnce(s, p, all.length, b);
      (s === SUITE_SM2_SM3_SM4 ? x.sm3 : x.sha256)(p, all.length, c);
      return hex(w.get(a, 32)) === hex(w.get(b, 32)) && hex(w.get(b, 32)) === hex(w.get(c, 32));
    }), RUNS);
  });

  it("hmacInit/Update/Final over random chunks equals hmac", () => {
    fc.assert(fc.property(suite, fc.uint8Array({ maxLength: 140 }), chunks, (s, key, parts) => {
      w.reset();
      const ctx = w.alloc(w.k("HMAC_CTX_SIZE")), a = w.alloc(32), b = w.alloc(32), kp = w.put(key);
      x.hmacInit(s, ctx, kp, key.length);
      feed(ctx, parts, (cx, p, n) => x.hmacUpdate(s, cx, p, n));
      x.hmacFinal(s, ctx, a);
      const all = cat(...parts);
      x.hmac(s, kp, key.length, w.put(all), all.length, b);
      return hex(w.get(a, 32)) === hex(w.get(b, 32));
    }), RUNS);
  });

  it("cmacInit/Update/Final over random chunks equals cmac", () => {
    fc.assert(fc.property(suite, fc.uint8Array({ minLength: 16, maxLength: 16 }), chunks, (s, key, parts) => {
      w.reset();
      const ctx = w.alloc(w.k("CMAC_CTX_SIZE")), a = w.alloc(16), b = w.alloc(16), kp = w.put(key);
      x.cmacInit(s, ctx, kp);
      feed(ctx, parts, (cx, p, n) => x.cmacUpdate(cx, p, n));
      x.cmacFinal(ctx, a);
      const all = cat(...parts);
      x.cmac(s, kp, w.put(all), all.length, b);
      return hex(w.get(a, 16)) === hex(w.get(b, 16));
    }), RUNS);
  });
});

describe("block ciphers", () => {
  it("decrypt(encrypt(b)) == b for SM4 and AES-128", () => {
    const key = fc.uint8Array({ minLength: 16, maxLength: 16 });
    fc.assert(fc.property(key, key, (k, b) => {
      w.reset();
      const kp = w.put(k), bp = w.put(b), e = w.alloc(16), d = w.alloc(16);
      const rk4 = w.alloc(w.k("SM4_RK_SIZE")), rka = w.alloc(w.k("AES_RK_SIZE"));
      x.sm4ExpandKey(kp, rk4);
      x.sm4EncryptBlock(rk4, bp, e);
      x.sm4DecryptBlock(rk4, e, d);
      const okSm4 = hex(w.get(d, 16)) === hex(b) && hex(w.get(e, 16)) !== hex(b);
      x.aesExpandKey(kp, rka);
      x.aesEncryptBlock(rka, bp, e);
      x.aesDecryptBlock(rka, e, d);
      return okSm4 && hex(w.get(d, 16)) === hex(b) && hex(w.get(e, 16)) !== hex(b);
    }), RUNS);
  });
});
