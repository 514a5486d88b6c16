// Curve selection, point encoding and scalar (mod n) arithmetic shared by SM2
// (GB/T 32918.2) and ECDSA P-256 (FIPS 186-4 §6). Public keys are SEC 1 §2.3.3
// uncompressed points 04 || x || y (65 bytes); scalars 32 bytes big-endian.
// Scalar values are 8 little-endian limbs, plain (not Montgomery) unless said.
// Constant time except functions named *VT and the decoding of public keys.
import { SUITE_SM2_SM3_SM4, SUITE_P256_SHA256_AES128 } from "../../../protocol/portable/suite";
import { CURVE_P256, CURVE_SM2 } from "./field-consts";
import {
  CB_P, CB_N, FB_MOD, FB_R2, fmul, ninvPlain, fromMont, toMont, beToLimbs, limbsToBe, ltU256, isZeroMask, cmov,
} from "./field";
import { AFF, toAffine, onCurveVT } from "./point";

export const PUB_LEN: i32 = 65;
export const SIG_LEN: i32 = 64;
const SEC1_UNCOMPRESSED: u8 = 0x04; // SEC 1 §2.3.3

// the curve block of a suite id, or 0 for an unknown suite
export function curveOf(suite: u8): usize {
  if (suite == SUITE_SM2_SM3_SM4) return CURVE_SM2;
  if (suite == SUITE_P256_SHA256_AES128) return CURVE_P256;
  return 0;
}

// 04 || x || y -> affine Montgomery point; false unless x, y < p and on the curve.
// (Cofactor 1 on both curves, and (x, y) on the curve is never infinity.)
const DP = memory.data(64, 16);
export function decodePointVT(C: usize, pub65: usize, out: usize): bool {
  if (load<u8>(pub65) != SEC1_UNCOMPRESSED) return false;
  beToLimbs(DP, pub65 + 1);
  beToLimbs(DP + 32, pub65 + 33);
  const p = C + CB_P + FB_MOD;
  if (ltU256(DP, p) == 0 || ltU256(DP + 32, p) == 0) return false;
  toMont(C + CB_P, out, DP);
  toMont(C + CB_P, out + 32, DP + 32);
  return onCurveVT(C, out);
}

// Jacobian -> 04 || x || y (and the plain affine x limbs into xOut if nonzero)
const EP = memory.data(<i32>AFF, 16);
export function encodePoint(C: usize, pub65: usize, jac: usize): void {
  toAffine(C, EP, jac);
  fromMont(C + CB_P, EP, EP);
  fromMont(C + CB_P, EP + 32, EP + 32);
  store<u8>(pub65, SEC1_UNCOMPRESSED);
  limbsToBe(pub65 + 1, EP);
  limbsToBe(pub65 + 33, EP + 32);
}

// plain affine x of a Jacobian point (limbs)
export function affineX(C: usize, x: usize, jac: usize): void {
  toAffine(C, EP, jac);
  fromMont(C + CB_P, x, EP);
}

// all-ones if 1 <= k < bound (limbs), else 0
export function inRangeMask(k: usize, bound: usize): u32 {
  return ~isZeroMask(k) & (0 - ltU256(k, bound));
}

// r = r mod n for r < 2n (every 256-bit value on these curves), constant time
const RN = memory.data(32, 16);
export function reduceOnceN(C: usize, r: usize): void {
  const n = C + CB_N + FB_MOD;
  let c: u64 = 0;
  for (let i: usize = 0; i < 32; i += 4) {
    const x = <u64>load<u32>(r + i) - <u64>load<u32>(n + i) - c;
    store<u32>(RN + i, <u32>x);
    c = (x >> 32) & 1;
  }
  cmov(r, RN, <u32>c - 1, 32); // no borrow: r >= n, take r - n
}

// r = a * b mod n, plain in and out (a, b < n)
const NT = memory.data(32, 16);
export function nmul(C: usize, r: usize, a: usize, b: usize): void {
  const f = C + CB_N;
  fmul(f, NT, a, f + FB_R2); // a R
  fmul(f, r, NT, b);         // a b
}
// r = a^-1 mod n, plain in and out (safegcd divsteps, inv.ts; constant time)
export function ninv(C: usize, r: usize, a: usize): void {
  ninvPlain(C + CB_N, r, a);
}

// r = x mod m for a big-endian byte string (constant time in the bytes; bitwise long
// division), m < 2^256 odd or even. Used to draw keys uniformly from 40+ TRNG bytes.
const RD = memory.data(40, 16);
const RDS = memory.data(40, 16);
export function reduceBytes(r: usize, src: usize, len: i32, m: usize): void {
  memory.fill(RD, 0, 40);
  for (let i = 0; i < len; i++) {
    const byte = <u32>load<u8>(src + <usize>i);
    for (let b = 7; b >= 0; b--) {
      // RD = 2 RD + bit (RD < m, so it fits 257 bits)
      let carry = (byte >> <u32>b) & 1;
      for (let l: usize = 0; l < 36; l += 4) {
        const w = load<u32>(RD + l);
        store<u32>(RD + l, (w << 1) | carry);
        carry = w >> 31;
      }
      // RD -= m unless that borrows
      let c: u64 = 0;
      for (let l: usize = 0; l < 36; l += 4) {
        const mw: u64 = l < 32 ? <u64>load<u32>(m + l) : 0;
        const x = <u64>load<u32>(RD + l) - mw - c;
        store<u32>(RDS + l, <u32>x);
        c = (x >> 32) & 1;
      }
      const keep = <u32>c - 1; // all-ones: no borrow, take the difference
      for (let l: usize = 0; l < 36; l += 4) {
        store<u32>(RD + l, (load<u32>(RDS + l) & keep) | (load<u32>(RD + l) & ~keep));
      }
    }
  }
  memory.copy(r, RD, 32);
}
