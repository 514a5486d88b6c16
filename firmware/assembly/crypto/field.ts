// 256-bit modular arithmetic for the two curves (DESIGN.md §3): the prime fields and the
// group-order (scalar) fields of P-256 (FIPS 186-4 D.1.2.3) and SM2 (GB/T 32918.5).
// Elements are 8 little-endian u32 limbs (32 bytes) in the field's form x*R mod m, addressed
// by raw pointers into static memory: R = 2^256 (Montgomery) for the group orders, R = 1
// (plain residues) for the prime fields, whose reduction is specialized to the prime
// (SPEC §2, README "Benchmarks"); FB_ONE and FB_R2 carry R and R^2, so toMont/fromMont serve both. A "field block" (see field-consts.ts)
// carries the modulus and its constants; the unrolled multipliers are in field-mont.ts.
//
// Constant time: every function here runs the same instructions and touches the same
// addresses whatever the element values are, except for the exponents of fpow and finvRuns
// (always public: m - 2) and the functions named *VT. Firmware code: never throws, never allocates.
//
// Instrumented build (--use EC_TRACE=1, build/crypto-ec-trace.wasm): every field
// operation folds (op, r, a, b addresses) into a running hash, so a test can prove the
// operation schedule of a scalar multiplication is independent of the secret scalar.
import {
  fieldMulP256, fieldSqrP256, fieldMulSm2, fieldSqrSm2, montMulP256N, montMulSm2N, montSqrP256N, montSqrSm2N,
  modAdd, modSub, modAddP256, modSubP256, modAddSm2, modSubSm2,
} from "./field-mont";
import { FIELD_KIND_P256, FIELD_KIND_SM2, FIELD_KIND_SM2_N } from "./field-consts";
import { invCT } from "./inv";

// Field block layout (bytes), written by scripts/gen-field.mjs.
export const FB_MOD: usize = 0;   // modulus m
export const FB_ONE: usize = 32;  // 1 in the field's form (R mod m)
export const FB_R2: usize = 64;   // R^2 mod m: toMont multiplier
export const FB_EXP: usize = 96;  // m - 2: Fermat inversion exponent (m prime)
export const FB_N0: usize = 128;  // n0' = -m^-1 mod 2^32
export const FB_KIND: usize = 132; // which multiplier (FIELD_KIND_*)
// Curve block layout (bytes): field blocks of p and n, then b, Gx, Gy (Montgomery).
export const CB_P: usize = 0;
export const CB_N: usize = 160;
export const CB_B: usize = 320;
export const CB_GX: usize = 352;
export const CB_GY: usize = 384;

// ---- instrumentation (compiled out unless EC_TRACE is defined) -------------------
let traceHash: u64 = 0;
let traceCount: u32 = 0;
export const OP_MUL: u32 = 1;
export const OP_ADD: u32 = 2;
export const OP_SUB: u32 = 3;
export const OP_CMOV: u32 = 4;
export const OP_LOOKUP: u32 = 5;
export const OP_INV: u32 = 6;
// @ts-ignore: decorator
@inline export function trace(op: u32, r: usize, a: usize, b: usize): void {
  // @ts-ignore: compile-time constant from `asc --use EC_TRACE=1`
  if (isDefined(EC_TRACE)) {
    // FNV-1a-style fold over the operation and its operand addresses
    traceHash = (traceHash ^ (<u64>op | (<u64>r << 8) | (<u64>a << 26) | (<u64>b << 44))) * 0x100000001b3;
    traceCount++;
  }
}
export function traceReset(): void { traceHash = 0xcbf29ce484222325; traceCount = 0; }
export function traceDigest(): u32 { return <u32>(traceHash ^ (traceHash >> 32)); }
export function traceOps(): u32 { return traceCount; }

// ---- field operations ------------------------------------------------------------
export const ONE_RAW = memory.data<u32>([1, 0, 0, 0, 0, 0, 0, 0], 16); // plain 1: fromMont multiplier
export const ZERO = memory.data(32, 16);

export function fmul(f: usize, r: usize, a: usize, b: usize): void {
  trace(OP_MUL, r, a, b);
  const kind = load<u32>(f + FB_KIND); // public: which curve
  if (kind == FIELD_KIND_SM2) fieldMulSm2(r, a, b);
  else if (kind == FIELD_KIND_P256) fieldMulP256(r, a, b);
  else if (kind == FIELD_KIND_SM2_N) montMulSm2N(r, a, b);
  else montMulP256N(r, a, b); // FIELD_KIND_P256_N: every field block has its own kind
}
// r = a^2: the prime fields have a dedicated squaring (cross products once)
export function fsqr(f: usize, r: usize, a: usize): void {
  trace(OP_MUL, r, a, a);
  const kind = load<u32>(f + FB_KIND);
  if (kind == FIELD_KIND_SM2) fieldSqrSm2(r, a);
  else if (kind == FIELD_KIND_P256) fieldSqrP256(r, a);
  else if (kind == FIELD_KIND_SM2_N) montSqrSm2N(r, a);
  else montSqrP256N(r, a);
}
export function fadd(f: usize, r: usize, a: usize, b: usize): void {
  trace(OP_ADD, r, a, b);
  const kind = load<u32>(f + FB_KIND);
  if (kind == FIELD_KIND_P256) modAddP256(r, a, b);
  else if (kind == FIELD_KIND_SM2) modAddSm2(r, a, b);
  else modAdd(r, a, b, f);
}
export function fsub(f: usize, r: usize, a: usize, b: usize): void {
  trace(OP_SUB, r, a, b);
  const kind = load<u32>(f + FB_KIND);
  if (kind == FIELD_KIND_P256) modSubP256(r, a, b);
  else if (kind == FIELD_KIND_SM2) modSubSm2(r, a, b);
  else modSub(r, a, b, f);
}
export function fneg(f: usize, r: usize, a: usize): void { fsub(f, r, ZERO, a); }
export function toMont(f: usize, r: usize, a: usize): void { fmul(f, r, a, f + FB_R2); }
export function fromMont(f: usize, r: usize, a: usize): void { fmul(f, r, a, ONE_RAW); }

// @ts-ignore: decorator
@inline export function copy32(r: usize, a: usize): void { memory.copy(r, a, 32); }

// r = a^e (Montgomery in and out), e little-endian limbs, public. Fixed 4-bit windows.
const POW_TAB = memory.data(16 * 32, 16);
const POW_ACC = memory.data(32, 16);
export function fpow(f: usize, r: usize, a: usize, e: usize): void {
  copy32(POW_TAB, f + FB_ONE);
  copy32(POW_TAB + 32, a);
  for (let i: usize = 2; i < 16; i++) fmul(f, POW_TAB + i * 32, POW_TAB + (i - 1) * 32, a);
  copy32(POW_ACC, f + FB_ONE);
  for (let i = 63; i >= 0; i--) {
    if (i != 63) for (let s = 0; s < 4; s++) fsqr(f, POW_ACC, POW_ACC);
    const nib = (load<u32>(e + (<usize>i >> 3) * 4) >> ((<u32>i & 7) * 4)) & 15;
    fmul(f, POW_ACC, POW_ACC, POW_TAB + <usize>nib * 32);
  }
  copy32(r, POW_ACC);
  memory.fill(POW_TAB, 0, 16 * 32); // powers of a secret (k, 1 + d) when signing
}
// r = a^-1 mod m in the field's form, constant time; 0 maps to 0. Safegcd divsteps (inv.ts)
// on the plain value: the prime fields hold plain residues (R = 1); for a Montgomery field
// (aR)^-1 = a^-1 R^-1 takes two multiplications by R^2 back to a^-1 R.
export function finv(f: usize, r: usize, a: usize): void {
  ninvPlain(f, r, a);
  if (!isPlainField(f)) { fmul(f, r, r, f + FB_R2); fmul(f, r, r, f + FB_R2); }
}
// r = a^-1 mod m on plain values (any field block), constant time
export function ninvPlain(f: usize, r: usize, a: usize): void {
  trace(OP_INV, r, a, f);
  invCT(r, a, f + FB_MOD, load<u32>(f + FB_N0));
}
// @ts-ignore: decorator
@inline function isPlainField(f: usize): bool {
  const kind = load<u32>(f + FB_KIND);
  return kind == FIELD_KIND_SM2 || kind == FIELD_KIND_P256;
}
// r = a^-1 mod m by Fermat (m prime), the reference the inversion is tested against (test
// builds). The two primes' m - 2 are long runs of ones and zeros: finvRuns needs ~15
// multiplications besides the squarings, the windows of fpow 78 (SPEC §2, README
// "Benchmarks"); the group orders' m - 2 have a random low half and keep fpow.
export function finvFermat(f: usize, r: usize, a: usize): void {
  if (isPlainField(f)) finvRuns(f, r, a);
  else fpow(f, r, a, f + FB_EXP);
}

// a^(m-2) by runs of the (public) exponent's bits: XK slot i holds a^(2^(2^i) - 1), and a
// run of L ones is L's binary chunks 2^i, each "square 2^i times, multiply by slot i".
// The schedule depends on m only, never on a.
const XK = memory.data(6 * 32, 16);
const INV_ACC = memory.data(32, 16);
// @ts-ignore: decorator
@inline function expBit(e: usize, i: i32): u32 { return (load<u32>(e + (<usize>(i >> 5) << 2)) >> (<u32>i & 31)) & 1; }
function finvRuns(f: usize, r: usize, a: usize): void {
  copy32(XK, a);
  for (let i = 1; i < 6; i++) {
    const prev = XK + <usize>(i - 1) * 32, cur = XK + <usize>i * 32;
    fsqr(f, cur, prev);
    for (let s = 1; s < (1 << (i - 1)); s++) fsqr(f, cur, cur);
    fmul(f, cur, cur, prev); // a^(2^(2k) - 1) = (a^(2^k - 1))^(2^k) a^(2^k - 1), k = 2^(i-1)
  }
  const e = f + FB_EXP;
  let started = false;
  let i = 255;
  while (i >= 0 && expBit(e, i) == 0) i--;
  while (i >= 0) {
    const bit = expBit(e, i);
    let j = i;
    while (j >= 0 && expBit(e, j) == bit) j--;
    let len = i - j;
    if (bit == 1) {
      for (let b = 5; b >= 0; b--) {
        const c = 1 << b;
        while (len >= c) {
          if (started) {
            for (let s = 0; s < c; s++) fsqr(f, INV_ACC, INV_ACC);
            fmul(f, INV_ACC, INV_ACC, XK + <usize>b * 32);
          } else copy32(INV_ACC, XK + <usize>b * 32);
          started = true;
          len -= c;
        }
      }
    } else {
      for (let s = 0; s < len; s++) fsqr(f, INV_ACC, INV_ACC);
    }
    i = j;
  }
  copy32(r, INV_ACC);
  memory.fill(XK, 0, 6 * 32); // powers of a secret (the Z of k G) when signing
  memory.fill(INV_ACC, 0, 32);
}

// ---- constant-time helpers ---------------------------------------------------------
// all-ones (0xffffffff) if the 32-byte value is zero, else 0
export function isZeroMask(a: usize): u32 {
  let x: u32 = 0;
  for (let i: usize = 0; i < 32; i += 4) x |= load<u32>(a + i);
  return ((x | (0 - x)) >> 31) - 1;
}
// all-ones if a == b (32 bytes), else 0
export function eqMask(a: usize, b: usize): u32 {
  let x: u32 = 0;
  for (let i: usize = 0; i < 32; i += 4) x |= load<u32>(a + i) ^ load<u32>(b + i);
  return ((x | (0 - x)) >> 31) - 1;
}
// all-ones if small integers x == y, else 0
// @ts-ignore: decorator
@inline export function eqMaskU32(x: u32, y: u32): u32 {
  const d = x ^ y;
  return ((d | (0 - d)) >> 31) - 1;
}
// r = mask ? a : r over `bytes` (a multiple of 8)
export function cmov(r: usize, a: usize, mask: u32, bytes: usize): void {
  trace(OP_CMOV, r, a, bytes);
  const m = <u64>mask | (<u64>mask << 32);
  for (let i: usize = 0; i < bytes; i += 8) store<u64>(r + i, (load<u64>(r + i) & ~m) | (load<u64>(a + i) & m));
}
// 1 if a < b as 256-bit integers (limbs), else 0; constant time
export function ltU256(a: usize, b: usize): u32 {
  let c: u64 = 0;
  for (let i: usize = 0; i < 32; i += 4) c = ((<u64>load<u32>(a + i) - <u64>load<u32>(b + i) - c) >> 32) & 1;
  return <u32>c;
}

// ---- byte order --------------------------------------------------------------------
// 32 big-endian bytes -> 8 little-endian limbs (and back); src and dst must not overlap
export function beToLimbs(dst: usize, src: usize): void {
  for (let i: usize = 0; i < 8; i++) store<u32>(dst + i * 4, bswap<u32>(load<u32>(src + 28 - i * 4)));
}
export function limbsToBe(dst: usize, src: usize): void {
  for (let i: usize = 0; i < 8; i++) store<u32>(dst + 28 - i * 4, bswap<u32>(load<u32>(src + i * 4)));
}
