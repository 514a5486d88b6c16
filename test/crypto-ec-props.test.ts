// Property tests (fast-check) of the firmware's 256-bit field and point arithmetic
// (DESIGN.md §3): field results equal BigInt arithmetic mod p and mod n for both curves,
// associativity, a * a^-1 = 1, the safegcd inversion equal to Fermat's; on the curves [n]P = O, [a+b]G = [a]G + [b]G, the
// constant-time comb equals the variable-time wNAF, P + P = [2]P, P + (-P) = O; and
// P-256 points equal @noble/curves' (an independent implementation).
import { describe, it, expect, beforeAll } from "vitest";
import fc from "fast-check";
import { p256 } from "@noble/curves/p256";
import { randomBytes } from "node:crypto";
import { EcWasm, SM2, P256, CURVE, hex, unhex, toBe32, fromBe } from "./crypto-ec-harness.ts";

let w: EcWasm;
beforeAll(() => { w = new EcWasm(); });

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
const modPow = (b: bigint, e: bigint, m: bigint) => {
  let r = 1n;
  for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
};
// values below m, biased towards the edges where carries and reductions go wrong
const below = (m: bigint) => fc.oneof(
  fc.bigInt({ min: 0n, max: m - 1n }),
  fc.constantFrom(0n, 1n, 2n, m - 1n, m - 2n, (1n << 32n) - 1n, 1n << 255n, m >> 1n, (1n << 224n) - 1n),
);
const nonzero = (m: bigint) => below(m).filter((x) => x !== 0n);
const RUNS = { numRuns: 300 };

for (const suite of [SM2, P256] as const) {
  const name = suite === SM2 ? "SM2" : "P-256";
  const { p, n } = CURVE[suite];
  for (const [sel, m, fname] of [[0, p, "p"], [1, n, "n"]] as const) {
    describe(`${name} field mod ${fname}`, () => {
      it("mul, add, sub equal BigInt arithmetic", () => {
        fc.assert(fc.property(below(m), below(m), (a, b) => {
          expect(w.field("mul", suite, sel, a, b)).toBe(mod(a * b, m));
          expect(w.field("sqr", suite, sel, a, 0n)).toBe(mod(a * a, m));
          expect(w.field("add", suite, sel, a, b)).toBe(mod(a + b, m));
          expect(w.field("sub", suite, sel, a, b)).toBe(mod(a - b, m));
        }), RUNS);
      });
      it("multiplication is associative", () => {
        fc.assert(fc.property(below(m), below(m), below(m), (a, b, c) => {
          const ab = w.field("mul", suite, sel, a, b), bc = w.field("mul", suite, sel, b, c);
          expect(w.field("mul", suite, sel, ab, c)).toBe(w.field("mul", suite, sel, a, bc));
        }), RUNS);
      });
      it("a * a^-1 = 1", () => {
        fc.assert(fc.property(nonzero(m), (a) => {
          expect(w.field("mul", suite, sel, a, w.inv(suite, sel, a))).toBe(1n);
        }), { numRuns: 100 });
      });
      // the safegcd inversion (inv.ts) against Fermat's a^(m-2) in the wasm and in BigInt, on
      // random values and on the edges of its 30-bit limbs and of the divstep bound
      it("safegcd inversion equals Fermat's, 0 included", () => {
        const edges = [0n, 1n, 2n, 3n, m - 1n, m - 2n, (m + 1n) / 2n, 1n << 30n, (1n << 30n) - 1n, 1n << 240n,
          (1n << 255n) % m, ((1n << 256n) - 1n) % m, m >> 1n, m ^ ((1n << 200n) - 1n)];
        const check = (a: bigint) => {
          const want = a === 0n ? 0n : modPow(a, m - 2n, m);
          expect(w.inv(suite, sel, a)).toBe(want);
          expect(w.invFermat(suite, sel, a)).toBe(want);
        };
        edges.forEach(check);
        fc.assert(fc.property(below(m), check), { numRuns: 2000 });
      });
    });
  }

  describe(`${name} points`, () => {
    const scalar = nonzero(n);
    const G = () => w.mulBase(suite, 1n);
    it("[n]P = O and [n-1]P = -P", () => {
      fc.assert(fc.property(scalar, (a) => {
        const P = w.mulBase(suite, a);
        expect(w.mulVt(suite, 0n, n, P)).toBeNull();
        const negP = w.mulVt(suite, 0n, n - 1n, P)!;
        expect(hex(negP.subarray(0, 33))).toBe(hex(P.subarray(0, 33)));
        expect(w.add(suite, P, negP)).toBeNull();
      }), { numRuns: 30 });
    });
    it("[a+b]G = [a]G + [b]G (comb), and P + P = [2]P", () => {
      fc.assert(fc.property(scalar, scalar, (a, b) => {
        const s = mod(a + b, n);
        fc.pre(s !== 0n && a !== b && mod(a - b, n) !== 0n);
        const A = w.mulBase(suite, a), B = w.mulBase(suite, b);
        expect(hex(w.add(suite, A, B)!)).toBe(hex(w.mulBase(suite, s)));
        const twoA = mod(2n * a, n);
        expect(hex(w.add(suite, A, A)!)).toBe(hex(w.mulBase(suite, twoA)));
      }), { numRuns: 100 });
    });
    it("the constant-time comb equals the variable-time wNAF, [u1]G + [u2]P is linear", () => {
      fc.assert(fc.property(scalar, scalar, scalar, (k, u1, u2) => {
        const K = w.mulBase(suite, k);
        expect(hex(w.mulVt(suite, k, 0n, G())!)).toBe(hex(K));
        expect(hex(w.mulVt(suite, 0n, k, G())!)).toBe(hex(K));
        // u1 G + u2 (k G) = (u1 + u2 k) G
        const s = mod(u1 + u2 * k, n);
        fc.pre(s !== 0n);
        expect(hex(w.mulVt(suite, u1, u2, K)!)).toBe(hex(w.mulBase(suite, s)));
      }), { numRuns: 60 });
    });
    // mulDoubleVT for a repeated key: the first call builds Q's table, the second 2^128 Q's
    // and splits the scalars into 128-bit halves; every call must equal [u1 + u2 k]G,
    // including halves that are 0, 1, all ones, and the sums where u2 k = -u1 (infinity)
    it("the repeated-key path (128-bit halves, tables of 2^128 G and 2^128 P) equals the comb", () => {
      const half = (1n << 128n) - 1n;
      const edge = [0n, 1n, half, 1n << 128n, half << 128n, n - 1n, (1n << 128n) + 1n];
      for (let key = 0; key < 4; key++) {
        const k = mod(fromBe(randomBytes(32)), n) || 1n;
        const K = w.mulBase(suite, k);
        const pairs: [bigint, bigint][] = [];
        for (const a of edge) for (const b of edge) pairs.push([a, b]);
        for (let i = 0; i < 40; i++) pairs.push([mod(fromBe(randomBytes(32)), n), mod(fromBe(randomBytes(32)), n)]);
        const u2 = mod(fromBe(randomBytes(32)), n);
        pairs.push([mod(-u2 * k, n), u2], [k, n - 1n]); // u1 G + u2 K = O
        pairs.forEach(([u1, u2], i) => {
          const s = mod(u1 + u2 * k, n);
          const got = w.mulVtKeyed(suite, u1, u2, K, i > 0);
          expect(got === null ? null : hex(got)).toBe(s === 0n ? null : hex(w.mulBase(suite, s)));
        });
      }
    });
    // ecVerify keeps the last key (its decoding and tables): runs of one key, alternations,
    // a changed byte, and tables rebuilt for another point in between must not confuse it
    it("verification with a kept key: repeats, alternations, other keys' signatures", () => {
      const keys = Array.from({ length: 3 }, () => w.keygen(suite, randomBytes(40))!);
      const signed = keys.map((kp) => { const m = randomBytes(40); return { m, sig: w.sign(suite, kp.priv, kp.pub, m, randomBytes(32))! }; });
      const plan = [0, 0, 0, 1, 1, 0, 2, 2, 2, 2, 1, 0, 0];
      plan.forEach((ki, step) => {
        for (const [si, { m, sig }] of signed.entries()) {
          expect(w.verify(suite, keys[ki].pub, m, sig)).toBe(si === ki);
        }
        if (step === 5) w.mulVt(suite, 1n, 2n, keys[1].pub); // another point's table in the scratch
        const bad = Uint8Array.from(keys[ki].pub); bad[64] ^= 1;
        expect(w.verify(suite, bad, signed[ki].m, signed[ki].sig)).toBe(false);
      });
    });
    it("rejects off-curve, out-of-range and badly encoded public keys", () => {
      fc.assert(fc.property(scalar, fc.integer({ min: 1, max: 64 }), (k, at) => {
        const P = w.mulBase(suite, k);
        expect(w.pointValid(suite, P)).toBe(true);
        const bad = Uint8Array.from(P); bad[at] ^= 1;
        expect(w.pointValid(suite, bad)).toBe(false);
      }), { numRuns: 100 });
      const P = G();
      for (const prefix of [0x00, 0x02, 0x03, 0x05]) expect(w.pointValid(suite, Uint8Array.from([prefix, ...P.subarray(1)]))).toBe(false);
      // x + p, y: same residue but not canonical
      const x = BigInt("0x" + hex(P.subarray(1, 33)));
      if (x + p < 1n << 256n) expect(w.pointValid(suite, Uint8Array.from([4, ...toBe32(x + p), ...P.subarray(33)]))).toBe(false);
      expect(w.pointValid(suite, new Uint8Array(65).fill(0).fill(4, 0, 1))).toBe(false);
    });
  });
}

describe("P-256 against @noble/curves", () => {
  it("[k]G and public keys equal noble's", () => {
    fc.assert(fc.property(nonzero(CURVE[P256].n), (k) => {
      expect(hex(w.mulBase(P256, k))).toBe(hex(p256.ProjectivePoint.BASE.multiply(k).toRawBytes(false)));
    }), { numRuns: 200 });
  });
  it("the curve constants of the generator match noble's", () => {
    expect(CURVE[P256].p).toBe(p256.CURVE.Fp.ORDER);
    expect(CURVE[P256].n).toBe(p256.CURVE.n);
    expect(hex(w.mulBase(P256, 1n))).toBe(hex(p256.ProjectivePoint.BASE.toRawBytes(false)));
    expect(unhex(hex(w.mulBase(P256, 1n))).length).toBe(65);
  });
});

describe("key generation and key ranges", () => {
  // SM2 keys in [1, n-2] (GB/T 32918.2 §6.1: 1 + d must be invertible), ECDSA keys in [1, n-1]
  for (const [suite, name, span] of [[SM2, "SM2", 2n], [P256, "P-256", 1n]] as const) {
    const { n } = CURVE[suite];
    it(`${name}: d = (seed mod (n - ${span})) + 1 for 40-byte seeds, and d*G is the public key`, () => {
      const seeds = [
        new Uint8Array(40), new Uint8Array(40).fill(0xff), Uint8Array.from([...new Uint8Array(8), ...toBe32(n - span - 1n)]),
        ...fc.sample(fc.uint8Array({ minLength: 40, maxLength: 40 }), 200),
      ];
      for (const seed of seeds) {
        const kp = w.keygen(suite, seed)!;
        const want = (BigInt("0x" + hex(seed)) % (n - span)) + 1n;
        expect(BigInt("0x" + hex(kp.priv))).toBe(want);
        expect(hex(kp.pub)).toBe(hex(w.mulBase(suite, want)));
      }
    });
    it(`${name}: public key and signing refuse keys outside [1, n - ${span}]`, () => {
      for (const d of [0n, n - span + 1n, n, (1n << 256n) - 1n]) {
        expect(w.publicKey(suite, toBe32(d))).toBeNull();
        expect(w.sign(suite, toBe32(d), w.mulBase(suite, 1n), new Uint8Array(3), null)).toBeNull();
      }
      for (const d of [1n, n - span]) expect(w.publicKey(suite, toBe32(d))).not.toBeNull();
    });
  }
  it("unknown suites are refused, not trapped on", () => {
    const pub = w.mulBase(P256, 5n), msg = new Uint8Array(4);
    for (const suite of [0, 3, 255]) {
      expect(w.keygen(suite, new Uint8Array(40))).toBeNull();
      expect(w.publicKey(suite, toBe32(5n))).toBeNull();
      expect(w.sign(suite, toBe32(5n), pub, msg, null)).toBeNull();
      expect(w.verify(suite, pub, msg, new Uint8Array(64).fill(1))).toBe(false);
      expect(w.pointValid(suite, pub)).toBe(false);
    }
  });
});
