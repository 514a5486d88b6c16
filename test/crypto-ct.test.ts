// Constant-schedule test (DESIGN.md §3: no branch or memory index on secret bits): build/crypto-ec-trace.wasm is the same
// crypto compiled with `--use EC_TRACE=1`, which folds every field operation, masked move
// and table scan, with the addresses it touches, into a running hash (field.ts trace()).
// For many random secrets the hash and the operation count of a fixed-base scalar
// multiplication, key derivation and signing must be identical; as a check that the
// instrument sees anything at all, the variable-time verification must differ.
import { describe, it, expect, beforeAll } from "vitest";
import { randomBytes } from "node:crypto";
import { EcWasm, EC_TRACE_WASM, SM2, P256, CURVE, fromBe } from "./crypto-ec-harness.ts";

let t: EcWasm;
let plain: EcWasm;
beforeAll(() => { t = new EcWasm(EC_TRACE_WASM); plain = new EcWasm(); });

const SAMPLES = 200;
function schedule(run: () => void): string {
  t.x.traceReset();
  run();
  return `${t.x.traceOps()}:${t.x.traceDigest()}`;
}
const randomScalar = (n: bigint) => { for (;;) { const k = fromBe(randomBytes(32)); if (k > 0n && k < n) return k; } };

for (const suite of [SM2, P256] as const) {
  const name = suite === SM2 ? "SM2" : "P-256";
  const { n } = CURVE[suite];
  describe(`${name}: secret-independent schedule`, () => {
    it("fixed-base scalar multiplication (comb), including extreme scalars", () => {
      t.mulBase(suite, 1n); // build the tables outside the measured runs
      const scalars = [1n, 2n, n - 1n, n - 2n, (1n << 255n), (1n << 128n) - 1n];
      for (let i = 0; i < SAMPLES; i++) scalars.push(randomScalar(n));
      const seen = new Set(scalars.map((k) => schedule(() => t.mulBase(suite, k))));
      expect([...seen][0].startsWith("0:")).toBe(false); // the instrument counted something
      expect(seen.size).toBe(1);
    });
    it("public key derivation and signing (same message length, random keys, nonces and messages)", () => {
      const keys = new Set<string>(), sigs = new Set<string>();
      const warm = t.keygen(suite, randomBytes(40))!; // one-time public setup (tables, SM2 Z_A constants)
      t.sign(suite, warm.priv, warm.pub, randomBytes(50), randomBytes(32));
      for (let i = 0; i < SAMPLES / 2; i++) {
        const kp = t.keygen(suite, randomBytes(40))!;
        keys.add(schedule(() => t.publicKey(suite, kp.priv)));
        sigs.add(schedule(() => t.sign(suite, kp.priv, kp.pub, randomBytes(50), randomBytes(32))));
      }
      expect(keys.size).toBe(1);
      expect(sigs.size).toBe(1);
    });
    it("sanity: variable-time verification does vary with its inputs", () => {
      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const kp = t.keygen(suite, randomBytes(40))!;
        const msg = randomBytes(50);
        const sig = t.sign(suite, kp.priv, kp.pub, msg, randomBytes(32))!;
        seen.add(schedule(() => expect(t.verify(suite, kp.pub, msg, sig)).toBe(true)));
      }
      expect(seen.size).toBeGreaterThan(10);
    });
  });
}

describe("the release build carries no instrument", () => {
  it("traceOps stays 0 outside the trace build", () => {
    plain.x.traceReset();
    plain.mulBase(P256, 12345n);
    expect(plain.x.traceOps()).toBe(0);
  });
});

describe("no copy of the private key outlives a call", () => {
  // the harness passes inputs through scratch(); any other copy (big-endian bytes or
  // little-endian limbs) anywhere in memory is a leftover
  function copiesOutsideScratch(w: EcWasm, priv: Uint8Array): number {
    const mem = new Uint8Array(w.x.memory.buffer);
    const lo = w.base, hi = w.base + w.x.scratchSize();
    const needles = [Buffer.from(priv), Buffer.from(priv).reverse()];
    let found = 0;
    for (const n of needles) {
      for (let at = Buffer.from(mem.buffer).indexOf(n); at >= 0; at = Buffer.from(mem.buffer).indexOf(n, at + 1)) {
        if (at < lo || at >= hi) found++;
      }
    }
    return found;
  }
  for (const suite of [SM2, P256] as const) {
    it(`${suite === SM2 ? "SM2" : "P-256"}: after keygen, public key and signing`, () => {
      const w = new EcWasm();
      for (let i = 0; i < 20; i++) {
        const kp = w.keygen(suite, randomBytes(40))!;
        w.publicKey(suite, kp.priv);
        w.sign(suite, kp.priv, kp.pub, randomBytes(40), i % 2 ? null : randomBytes(32));
        expect(copiesOutsideScratch(w, kp.priv)).toBe(0);
      }
    });
  }
});
