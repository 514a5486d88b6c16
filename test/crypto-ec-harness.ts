// Loads build/crypto-ec-test.wasm (or its instrumented twin) and wraps the test exports of
// firmware/assembly/crypto/test-ec.ts with byte-array helpers. Shared by the crypto-ec*
// and crypto-ct* tests and bench/crypto.ts. Inputs are copied into the wasm's static
// scratch area; nothing is allocated inside the module.
import { readFileSync } from "node:fs";
import { SUITE_SM2_SM3_SM4, SUITE_P256_SHA256_AES128 } from "../protocol/portable/suite.ts";

export const SM2 = SUITE_SM2_SM3_SM4;
export const P256 = SUITE_P256_SHA256_AES128;
export type Suite = typeof SM2 | typeof P256;

const ROOT = new URL("..", import.meta.url).pathname;
export const EC_TEST_WASM = `${ROOT}build/crypto-ec-test.wasm`;
export const EC_TRACE_WASM = `${ROOT}build/crypto-ec-trace.wasm`;

type Ptr = number;
interface Exports {
  memory: WebAssembly.Memory;
  scratch(): Ptr;
  scratchSize(): number;
  ecKeygen(suite: number, seed: Ptr, priv: Ptr, pub: Ptr): number;
  ecPublicKey(suite: number, priv: Ptr, pub: Ptr): number;
  ecSign(suite: number, priv: Ptr, pub: Ptr, msg: Ptr, len: number, rnd: Ptr, sig: Ptr): number;
  ecVerify(suite: number, pub: Ptr, msg: Ptr, len: number, sig: Ptr): number;
  ecPointValid(suite: number, pub: Ptr): number;
  traceReset(): void;
  traceDigest(): number;
  traceOps(): number;
  t_fmul(suite: number, sel: number, r: Ptr, a: Ptr, b: Ptr): void;
  t_fsqr(suite: number, sel: number, r: Ptr, a: Ptr): void;
  t_fadd(suite: number, sel: number, r: Ptr, a: Ptr, b: Ptr): void;
  t_fsub(suite: number, sel: number, r: Ptr, a: Ptr, b: Ptr): void;
  t_finv(suite: number, sel: number, r: Ptr, a: Ptr): void;
  t_finv_fermat(suite: number, sel: number, r: Ptr, a: Ptr): void;
  t_mul_base(suite: number, k: Ptr, out: Ptr): void;
  t_mul_vt(suite: number, u1: Ptr, u2: Ptr, pub: Ptr, out: Ptr): number;
  t_mul_vt_keyed(suite: number, u1: Ptr, u2: Ptr, pub: Ptr, out: Ptr, same: number): number;
  t_add(suite: number, p: Ptr, q: Ptr, out: Ptr): number;
}

// Curve parameters, independent of the firmware's generated tables (FIPS 186-4 D.1.2.3;
// GB/T 32918.5-2017), for the tests' own BigInt arithmetic.
export const CURVE = {
  [P256]: {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  },
  [SM2]: {
    p: 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn,
    n: 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n,
  },
} as const;

import { hex, unhex } from "../protocol/src/bytes.ts";
export { hex, unhex };
export const toBe32 = (x: bigint): Uint8Array => unhex(x.toString(16).padStart(64, "0"));
export const fromBe = (b: Uint8Array): bigint => (b.length ? BigInt("0x" + hex(b)) : 0n);

// Fixed offsets in scratch()
const O_A = 0, O_B = 128, O_C = 256, O_D = 384, O_E = 512, O_MSG = 1024;

export class EcWasm {
  readonly x: Exports;
  readonly base: number;
  readonly msgCap: number;
  constructor(path = EC_TEST_WASM) {
    const mod = new WebAssembly.Module(readFileSync(path));
    const inst = new WebAssembly.Instance(mod, {
      env: { abort: () => { throw new Error("crypto-ec wasm: abort"); } },
    });
    this.x = inst.exports as unknown as Exports;
    this.base = this.x.scratch();
    this.msgCap = this.x.scratchSize() - O_MSG;
  }
  private mem(): Uint8Array { return new Uint8Array(this.x.memory.buffer); }
  private put(off: number, b: Uint8Array): number { this.mem().set(b, this.base + off); return this.base + off; }
  private get(off: number, len: number): Uint8Array { return this.mem().slice(this.base + off, this.base + off + len); }
  private putMsg(msg: Uint8Array): number {
    if (msg.length > this.msgCap) throw new RangeError("crypto-ec harness: message too long");
    return this.put(O_MSG, msg);
  }

  keygen(suite: number, seed40: Uint8Array): { priv: Uint8Array; pub: Uint8Array } | null {
    const ok = this.x.ecKeygen(suite, this.put(O_A, seed40), this.base + O_B, this.base + O_C);
    return ok ? { priv: this.get(O_B, 32), pub: this.get(O_C, 65) } : null;
  }
  publicKey(suite: number, priv: Uint8Array): Uint8Array | null {
    return this.x.ecPublicKey(suite, this.put(O_A, priv), this.base + O_C) ? this.get(O_C, 65) : null;
  }
  /** rnd = null: exact RFC 6979 nonce (no extra data) */
  sign(suite: number, priv: Uint8Array, pub: Uint8Array, msg: Uint8Array, rnd: Uint8Array | null): Uint8Array | null {
    const r = rnd ? this.put(O_E, rnd) : 0;
    const ok = this.x.ecSign(suite, this.put(O_A, priv), this.put(O_C, pub), this.putMsg(msg), msg.length, r, this.base + O_D);
    return ok ? this.get(O_D, 64) : null;
  }
  verify(suite: number, pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
    if (pub.length !== 65 || sig.length !== 64) throw new RangeError("crypto-ec harness: bad lengths");
    return this.x.ecVerify(suite, this.put(O_C, pub), this.putMsg(msg), msg.length, this.put(O_D, sig)) === 1;
  }
  pointValid(suite: number, pub: Uint8Array): boolean { return this.x.ecPointValid(suite, this.put(O_C, pub)) === 1; }

  /** field op on plain integers; sel 0 = mod p, 1 = mod n */
  field(op: "mul" | "sqr" | "add" | "sub", suite: number, sel: number, a: bigint, b: bigint): bigint {
    const pa = this.put(O_A, toLe32(a)), pb = this.put(O_B, toLe32(b)), r = this.base + O_C;
    if (op === "mul") this.x.t_fmul(suite, sel, r, pa, pb);
    else if (op === "sqr") this.x.t_fsqr(suite, sel, r, pa);
    else if (op === "add") this.x.t_fadd(suite, sel, r, pa, pb);
    else this.x.t_fsub(suite, sel, r, pa, pb);
    return fromLe(this.get(O_C, 32));
  }
  /** a^-1 by Fermat's a^(m-2), the reference for the safegcd inversion of inv() */
  invFermat(suite: number, sel: number, a: bigint): bigint {
    this.x.t_finv_fermat(suite, sel, this.base + O_C, this.put(O_A, toLe32(a)));
    return fromLe(this.get(O_C, 32));
  }
  inv(suite: number, sel: number, a: bigint): bigint {
    this.x.t_finv(suite, sel, this.base + O_C, this.put(O_A, toLe32(a)));
    return fromLe(this.get(O_C, 32));
  }
  mulBase(suite: number, k: bigint): Uint8Array {
    this.x.t_mul_base(suite, this.put(O_A, toBe32(k)), this.base + O_D);
    return this.get(O_D, 65);
  }
  /** u1*G + u2*P, null for infinity */
  mulVt(suite: number, u1: bigint, u2: bigint, pub: Uint8Array): Uint8Array | null {
    const ok = this.x.t_mul_vt(suite, this.put(O_A, toBe32(u1)), this.put(O_B, toBe32(u2)), this.put(O_C, pub), this.base + O_D);
    return ok ? this.get(O_D, 65) : null;
  }
  /** the same through the repeated-key path: same = pub is the previous call's key */
  mulVtKeyed(suite: number, u1: bigint, u2: bigint, pub: Uint8Array, same: boolean): Uint8Array | null {
    const ok = this.x.t_mul_vt_keyed(suite, this.put(O_A, toBe32(u1)), this.put(O_B, toBe32(u2)), this.put(O_C, pub), this.base + O_D, same ? 1 : 0);
    return ok ? this.get(O_D, 65) : null;
  }
  add(suite: number, p: Uint8Array, q: Uint8Array): Uint8Array | null {
    const ok = this.x.t_add(suite, this.put(O_B, p), this.put(O_C, q), this.base + O_D);
    return ok ? this.get(O_D, 65) : null;
  }
}

function toLe32(x: bigint): Uint8Array { return toBe32(x).reverse(); }
function fromLe(b: Uint8Array): bigint { return fromBe(Uint8Array.from(b).reverse()); }
