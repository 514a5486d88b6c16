// SM2 signing keeps the last key's (1 + d)^-1 (sig.ts, DESIGN.md §3): the cached value must
// serve only the key it belongs to. Signatures with a fixed nonce under keys that alternate,
// repeat, come with another key's public key, follow key generation and P-256 signing, must
// all carry s = (1 + d)^-1 (k + r) - r mod n for the d of that call (GB/T 32918.2 §6.1 A6;
// r does not depend on d), and verify where the public key is d's.
import { describe, it, expect, beforeAll } from "vitest";
import { randomBytes } from "node:crypto";
import { EcWasm, SM2, P256, CURVE, fromBe, toBe32, hex } from "./crypto-ec-harness.ts";

const { n } = CURVE[SM2];
const mod = (a: bigint) => ((a % n) + n) % n;
const modPow = (b: bigint, e: bigint) => {
  let r = 1n;
  for (b %= n; e > 0n; e >>= 1n, b = (b * b) % n) if (e & 1n) r = (r * b) % n;
  return r;
};

let w: EcWasm;
beforeAll(() => { w = new EcWasm(); });

// ecSign with a fixed nonce (t_sign_k), r || s
function signK(priv: Uint8Array, pub: Uint8Array, msg: Uint8Array, k: bigint): Uint8Array {
  const x = w.x as unknown as { t_sign_k(...a: number[]): number; scratch(): number; memory: WebAssembly.Memory };
  const b = x.scratch();
  const m = new Uint8Array(x.memory.buffer);
  m.set(priv, b); m.set(pub, b + 128); m.set(toBe32(k), b + 512); m.set(msg, b + 1024);
  expect(x.t_sign_k(SM2, b, b + 128, b + 1024, msg.length, 0, b + 512, b + 256)).toBe(1);
  return new Uint8Array(x.memory.buffer).slice(b + 256, b + 320);
}

describe("SM2 signing's cached (1 + d)^-1", () => {
  it("never serves another key's inverse", () => {
    const keys = Array.from({ length: 3 }, () => w.keygen(SM2, randomBytes(40))!);
    // key index, public key index: repeats, alternations, mismatched public keys
    const plan = [[0, 0], [0, 0], [1, 1], [0, 0], [1, 0], [0, 1], [2, 2], [2, 2], [1, 1], [0, 2]];
    for (let round = 0; round < 4; round++) {
      for (const [ki, pi] of plan) {
        const { priv } = keys[ki], { pub } = keys[pi];
        const d = fromBe(priv);
        const msg = randomBytes(60);
        const k = mod(fromBe(randomBytes(32))) || 1n;
        const sig = signK(priv, pub, msg, k);
        const r = fromBe(sig.subarray(0, 32)), s = fromBe(sig.subarray(32));
        expect(hex(toBe32(s))).toBe(hex(toBe32(mod(modPow(1n + d, n - 2n) * (k + r) - r))));
        if (ki === pi) expect(w.verify(SM2, pub, msg, sig)).toBe(true);
        else expect(w.verify(SM2, keys[ki].pub, msg, sig)).toBe(false); // Z_A of another key
      }
      // interleaved work that must not disturb the cache's correctness
      if (round === 1) keys[2] = w.keygen(SM2, randomBytes(40))!;
      if (round === 2) {
        const p = w.keygen(P256, randomBytes(40))!;
        expect(w.verify(P256, p.pub, Uint8Array.of(1), w.sign(P256, p.priv, p.pub, Uint8Array.of(1), randomBytes(32))!)).toBe(true);
      }
    }
  });
});
