// Published vectors for the firmware's symmetric crypto (firmware/assembly/crypto/):
// GB/T 32905 SM3, GB/T 32907 SM4 (incl. the 1,000,000-iteration example), FIPS 180-4 SHA-256,
// FIPS 197 AES-128, NIST SP 800-38B AES-CMAC, RFC 4231 HMAC-SHA-256. Vector files live in
// test/vectors/<source>/ and are read as data.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { loadSymWasmSync, hex, unhex } from "./support/crypto-sym-wasm.ts";
import { SUITE_P256_SHA256_AES128 } from "../protocol/portable/suite.ts";

const vec = (p: string) => JSON.parse(readFileSync(new URL(`./vectors/${p}`, import.meta.url), "utf8"));
const w = loadSymWasmSync();
const { x } = w;
const AES = SUITE_P256_SHA256_AES128;

describe("GB/T 32905 SM3 examples", () => {
  for (const c of vec("gbt32905-sm3/examples.json").cases) {
    it(c.name, () => {
      w.reset();
      const msg = unhex(c.msg), out = w.alloc(32);
      x.sm3(w.put(msg), msg.length, out);
      expect(hex(w.get(out, 32))).toBe(c.digest);
    });
  }
});

describe("GB/T 32907 SM4 examples", () => {
  for (const c of vec("gbt32907-sm4/examples.json").cases) {
    it(c.name, () => {
      w.reset();
      const rk = w.alloc(w.k("SM4_RK_SIZE")), blk = w.put(unhex(c.plain));
      x.sm4ExpandKey(w.put(unhex(c.key)), rk);
      // the iterated example encrypts the block in place c.iterations times (about 0.3 s in wasm)
      for (let i = 0; i < c.iterations; i++) x.sm4EncryptBlock(rk, blk, blk);
      expect(hex(w.get(blk, 16))).toBe(c.cipher);
      for (let i = 0; i < Math.min(c.iterations, 1000); i++) x.sm4DecryptBlock(rk, blk, blk);
      if (c.iterations <= 1000) expect(hex(w.get(blk, 16))).toBe(c.plain);
    });
  }
});

describe("FIPS 180-4 SHA-256 examples", () => {
  for (const c of vec("fips180-4/sha256.json").cases) {
    it(c.name, () => {
      w.reset();
      const out = w.alloc(32);
      if (c.repeat === 1) {
        const msg = unhex(c.msg);
        x.sha256(w.put(msg), msg.length, out);
      } else {
        // stream the repetition through the incremental API in 1000-byte chunks
        const chunk = new Uint8Array(1000).fill(unhex(c.msg)[0]);
        const ctx = w.alloc(w.k("SHA256_CTX_SIZE")), p = w.put(chunk);
        x.sha256Init(ctx);
        for (let i = 0; i < c.repeat / 1000; i++) x.sha256Update(ctx, p, 1000);
        x.sha256Final(ctx, out);
      }
      expect(hex(w.get(out, 32))).toBe(c.digest);
    });
  }
});

describe("FIPS 197 AES-128 examples", () => {
  for (const c of vec("fips197/aes128.json").cases) {
    it(c.name, () => {
      w.reset();
      const rk = w.alloc(w.k("AES_RK_SIZE")), out = w.alloc(16), back = w.alloc(16);
      x.aesExpandKey(w.put(unhex(c.key)), rk);
      x.aesEncryptBlock(rk, w.put(unhex(c.plain)), out);
      expect(hex(w.get(out, 16))).toBe(c.cipher);
      x.aesDecryptBlock(rk, out, back);
      expect(hex(w.get(back, 16))).toBe(c.plain);
    });
  }
});

describe("NIST SP 800-38B AES-128 CMAC examples", () => {
  const v = vec("sp800-38b/aes128-cmac.json");
  for (const c of v.cases) {
    it(c.name, () => {
      w.reset();
      const msg = unhex(c.msg), out = w.alloc(16);
      x.cmac(AES, w.put(unhex(v.key)), w.put(msg), msg.length, out);
      expect(hex(w.get(out, 16))).toBe(c.tag);
    });
  }
});

describe("RFC 4231 HMAC-SHA-256 test cases", () => {
  for (const c of vec("rfc4231/hmac-sha256.json").cases) {
    it(`test case ${c.name}`, () => {
      w.reset();
      const key = unhex(c.key), data = unhex(c.data), out = w.alloc(32);
      x.hmac(AES, w.put(key), key.length, w.put(data), data.length, out);
      expect(hex(w.get(out, 32)).slice(0, c.mac.length)).toBe(c.mac);
    });
  }
});
