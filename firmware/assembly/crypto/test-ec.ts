// Test-only entry (build/crypto-ec-test.wasm, and build/crypto-ec-trace.wasm with
// --use EC_TRACE=1): the elliptic-curve API of sig.ts plus helpers that expose the field
// and point arithmetic to property tests. Not part of firmware.wasm.
// Values cross as plain little-endian limbs or big-endian bytes at offsets of scratch().
export { ecKeygen, ecPublicKey, ecSign, ecVerify, ecPointValid } from "./sig";
export { traceReset, traceDigest, traceOps } from "./field";
export { crypto_buffer, sm2_verify, p256_verify } from "./verifier";
import { CB_P, CB_N, fmul, fsqr, fadd, fsub, toMont, finv, finvFermat, fromMont, beToLimbs } from "./field";
import { JAC, AFF, mulBase, mulDoubleVT, pointAddVT, affToJac, isInfVT } from "./point";
import { curveOf, decodePointVT, encodePoint } from "./ec";

const SCRATCH_SIZE: i32 = 16 * 1024;
const SCRATCH = memory.data(SCRATCH_SIZE, 16);
export function scratch(): usize { return SCRATCH; }
export function scratchSize(): i32 { return SCRATCH_SIZE; }

// field of a suite: sel 0 = coordinates (mod p), 1 = scalars (mod n)
function fieldOf(suite: u8, sel: i32): usize { return curveOf(suite) + (sel == 0 ? CB_P : CB_N); }
const TA = memory.data(32, 16);
// r = a * b mod m, plain limbs in and out (through the Montgomery multiplier)
export function t_fmul(suite: u8, sel: i32, r: usize, a: usize, b: usize): void {
  const f = fieldOf(suite, sel);
  toMont(f, TA, a);
  fmul(f, r, TA, b);
}
// r = a^2 mod m, plain limbs in and out (the dedicated squaring)
export function t_fsqr(suite: u8, sel: i32, r: usize, a: usize): void {
  const f = fieldOf(suite, sel);
  toMont(f, TA, a);
  fsqr(f, TA, TA);
  fromMont(f, r, TA);
}
export function t_fadd(suite: u8, sel: i32, r: usize, a: usize, b: usize): void { fadd(fieldOf(suite, sel), r, a, b); }
export function t_fsub(suite: u8, sel: i32, r: usize, a: usize, b: usize): void { fsub(fieldOf(suite, sel), r, a, b); }
export function t_finv(suite: u8, sel: i32, r: usize, a: usize): void {
  const f = fieldOf(suite, sel);
  toMont(f, TA, a);
  finv(f, TA, TA);
  fromMont(f, r, TA);
}

// the same by Fermat: the reference the safegcd inversion is tested against
export function t_finv_fermat(suite: u8, sel: i32, r: usize, a: usize): void {
  const f = fieldOf(suite, sel);
  toMont(f, TA, a);
  finvFermat(f, TA, TA);
  fromMont(f, r, TA);
}

const KB = memory.data(64, 16);
const PJ = memory.data(<i32>JAC, 16);
const QJ = memory.data(<i32>JAC, 16);
const PA = memory.data(<i32>AFF, 16);
// out65 = k*G by the constant-time comb; k32 big-endian, 1 <= k < n
export function t_mul_base(suite: u8, k32: usize, out65: usize): void {
  const C = curveOf(suite);
  beToLimbs(KB, k32);
  mulBase(C, PJ, KB);
  encodePoint(C, out65, PJ);
}
// out65 = u1*G + u2*P by the variable-time wNAF (any 256-bit u1, u2); false if infinity
export function t_mul_vt(suite: u8, u1: usize, u2: usize, pub65: usize, out65: usize): bool {
  const C = curveOf(suite);
  if (!decodePointVT(C, pub65, PA)) return false;
  beToLimbs(KB, u1);
  beToLimbs(KB + 32, u2);
  mulDoubleVT(C, PJ, KB, KB + 32, PA);
  if (isInfVT(PJ)) return false;
  encodePoint(C, out65, PJ);
  return true;
}
// the same with mulDoubleVT's repeated-key path: same = P is the previous call's point (its
// tables are reused; from the second such call on, the half-length loop with 2^128 P)
const PK = memory.data(<i32>AFF, 16);
export function t_mul_vt_keyed(suite: u8, u1: usize, u2: usize, pub65: usize, out65: usize, same: bool): bool {
  const C = curveOf(suite);
  if (!same && !decodePointVT(C, pub65, PK)) return false;
  beToLimbs(KB, u1);
  beToLimbs(KB + 32, u2);
  mulDoubleVT(C, PJ, KB, KB + 32, PK, same);
  if (isInfVT(PJ)) return false;
  encodePoint(C, out65, PJ);
  return true;
}
// out65 = P + Q (any points, P = Q included); false if infinity or a bad input
export function t_add(suite: u8, p65: usize, q65: usize, out65: usize): bool {
  const C = curveOf(suite);
  if (!decodePointVT(C, p65, PA)) return false;
  affToJac(C, PJ, PA);
  if (!decodePointVT(C, q65, PA)) return false;
  affToJac(C, QJ, PA);
  pointAddVT(C, PJ, PJ, QJ);
  if (isInfVT(PJ)) return false;
  encodePoint(C, out65, PJ);
  return true;
}

// ecSign with a given nonce k32 (the standards' worked examples fix k)
export { signWith as t_sign_k } from "./sig";
