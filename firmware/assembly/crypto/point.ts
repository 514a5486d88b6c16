// Point arithmetic on the short Weierstrass curves y^2 = x^3 - 3x + b of P-256 and SM2
// (both have a = -3), in Jacobian coordinates (X, Y, Z) ~ (X/Z^2, Y/Z^3), Montgomery form.
// Formulas: dbl-2001-b, madd-2007-bl, add-2007-bl (Explicit-Formulas Database, hyperelliptic.org/EFD).
//
// Two scalar multiplications:
// - mulBase: fixed base G, constant time. Lim-Lee comb (W teeth, V tables), every table
//   entry read on every lookup and merged with masks; additions and selections run the
//   same schedule whatever the scalar's bits (proven by test/crypto-ct.test.ts on the
//   instrumented build). The tables are computed into static RAM on first use.
// - mulDoubleVT: u1*G + u2*Q for verification only (public data), interleaved wNAF.
// Layout: Jacobian point 96 bytes (X 0, Y 32, Z 64; Z = 0 is the point at infinity),
// affine point 64 bytes (x 0, y 32).
import {
  CB_P, CB_GX, CB_B, FB_ONE, fmul, fsqr, fadd, fsub, fneg, finv, copy32, cmov, isZeroMask, eqMaskU32,
  trace, OP_LOOKUP,
} from "./field";
import { CURVE_P256 } from "./field-consts";

export const JAC: usize = 96;
export const AFF: usize = 64;

// scratch for the formulas: 12 field elements; slots 3 and 7 hold H and R after an add
const S = memory.data(12 * 32, 16);
// @ts-ignore: decorator
@inline function s(i: usize): usize { return S + i * 32; }
const ADD_H: usize = S + 3 * 32;
const ADD_R: usize = S + 7 * 32;

// r = 2p (r may alias p). dbl-2001-b (a = -3) with Z3 = 2 Y Z and 8 gamma^2 = 2 (2 gamma)^2,
// which trade two subtractions and one addition for a multiplication in place of a squaring:
// 4M + 4S + 13 additions (the additions cost about a third of a multiplication here).
export function pointDouble(C: usize, r: usize, p: usize): void {
  const f = C + CB_P;
  const delta = s(0), gamma = s(1), beta = s(2), alpha = s(3), t = s(4);
  fsqr(f, delta, p + 64);
  fsqr(f, gamma, p + 32);
  fmul(f, beta, p, gamma);
  fsub(f, t, p, delta);
  fadd(f, alpha, p, delta);
  fmul(f, alpha, alpha, t);
  fadd(f, t, alpha, alpha);
  fadd(f, alpha, t, alpha);   // alpha = 3 (X - delta)(X + delta)
  fadd(f, t, p + 32, p + 32);
  fmul(f, r + 64, t, p + 64); // Z3 = 2 Y Z
  fadd(f, beta, beta, beta);
  fadd(f, beta, beta, beta);  // 4 beta
  fadd(f, t, beta, beta);
  fsqr(f, delta, alpha);
  fsub(f, r, delta, t);       // X3 = alpha^2 - 8 beta
  fsub(f, beta, beta, r);
  fmul(f, beta, beta, alpha);
  fadd(f, gamma, gamma, gamma);
  fsqr(f, gamma, gamma);
  fadd(f, gamma, gamma, gamma); // 8 gamma^2
  fsub(f, r + 32, beta, gamma); // Y3 = alpha (4 beta - X3) - 8 gamma^2
}

// r = p + q, p Jacobian, q affine (r may alias p). madd-2004-hmv: 8M + 3S + 7 additions
// (madd-2007-bl saves a multiplication but needs 14 additions, slower here).
// Not valid when p or q is infinity or p = +-q; H and R are left in ADD_H / ADD_R.
export function pointAddMixed(C: usize, r: usize, p: usize, q: usize): void {
  const f = C + CB_P;
  const z1z1 = s(0), u2 = s(1), s2 = s(2), h = s(3), hh = s(4), hhh = s(5), v = s(6), rr = s(7), t = s(8);
  fsqr(f, z1z1, p + 64);
  fmul(f, u2, q, z1z1);
  fmul(f, s2, q + 32, p + 64);
  fmul(f, s2, s2, z1z1);
  fsub(f, h, u2, p);          // H = U2 - X1
  fsub(f, rr, s2, p + 32);    // R = S2 - Y1
  fmul(f, r + 64, p + 64, h); // Z3 = Z1 H
  finishAdd(f, r, p, p + 32, h, hh, hhh, rr, v, t);
}

// shared tail of both additions, from U1 (u1), S1 (s1), H and R:
// HH = H^2, HHH = H HH, V = U1 HH, X3 = R^2 - HHH - 2V, Y3 = R (V - X3) - S1 HHH.
// r may alias the point u1 and s1 come from: both are read before X3, Y3 are written.
function finishAdd(f: usize, r: usize, u1: usize, s1: usize, h: usize, hh: usize, hhh: usize, rr: usize, v: usize, t: usize): void {
  fsqr(f, hh, h);
  fmul(f, hhh, h, hh);
  fmul(f, v, u1, hh);
  fmul(f, hh, s1, hhh);       // S1 HHH (HH is no longer needed)
  fsqr(f, t, rr);
  fsub(f, t, t, hhh);
  fsub(f, t, t, v);
  fsub(f, t, t, v);           // X3
  fsub(f, v, v, t);
  fmul(f, v, v, rr);
  fsub(f, r + 32, v, hh);     // Y3
  copy32(r, t);
}

// r = p + q, both Jacobian (r may alias p or q). add-1998-cmo-2: 12M + 4S + 7 additions.
// Same exceptions as pointAddMixed.
export function pointAdd(C: usize, r: usize, p: usize, q: usize): void {
  const f = C + CB_P;
  const z1z1 = s(0), z2z2 = s(1), u1 = s(2), h = s(3), s1 = s(4), s2 = s(5), hhh = s(6), rr = s(7), hh = s(8), v = s(9), t = s(10);
  fsqr(f, z1z1, p + 64);
  fsqr(f, z2z2, q + 64);
  fmul(f, u1, p, z2z2);
  fmul(f, h, q, z1z1);
  fsub(f, h, h, u1);          // H = U2 - U1
  fmul(f, s1, p + 32, q + 64);
  fmul(f, s1, s1, z2z2);
  fmul(f, s2, q + 32, p + 64);
  fmul(f, s2, s2, z1z1);
  fsub(f, rr, s2, s1);        // R = S2 - S1
  fmul(f, t, p + 64, q + 64);
  fmul(f, r + 64, t, h);      // Z3 = Z1 Z2 H
  finishAdd(f, r, u1, s1, h, hh, hhh, rr, v, t);
}

// ---- variable-time helpers (public data only) -------------------------------------
export function isInfVT(p: usize): bool { return isZeroMask(p + 64) != 0; }
export function setInf(C: usize, r: usize): void {
  copy32(r, C + CB_P + FB_ONE);
  copy32(r + 32, C + CB_P + FB_ONE);
  memory.fill(r + 64, 0, 32);
}
export function affToJac(C: usize, r: usize, a: usize): void {
  memory.copy(r, a, 64);
  copy32(r + 64, C + CB_P + FB_ONE);
}
// r = p + q for any Jacobian inputs (r may alias p or q)
export function pointAddVT(C: usize, r: usize, p: usize, q: usize): void {
  if (isInfVT(p)) { memory.copy(r, q, JAC); return; }
  if (isInfVT(q)) { memory.copy(r, p, JAC); return; }
  const other = r == q ? p : q; // untouched by the addition
  pointAdd(C, r, p, q);
  // H = 0: p = +-q. Z3 = 0 already (infinity) covers p = -q; p = q needs a doubling.
  if (isZeroMask(ADD_H) != 0 && isZeroMask(ADD_R) != 0) pointDouble(C, r, other);
}
const VT_Q = memory.data(<i32>JAC, 16);
// r = p + q, p Jacobian (any), q affine (never infinity)
export function pointAddMixedVT(C: usize, r: usize, p: usize, q: usize): void {
  if (isInfVT(p)) { affToJac(C, r, q); return; }
  memory.copy(VT_Q, p, JAC);
  pointAddMixed(C, r, p, q);
  if (isZeroMask(ADD_H) != 0 && isZeroMask(ADD_R) != 0) pointDouble(C, r, VT_Q);
}

// affine result of a Jacobian point (Montgomery form); infinity gives (0, 0)
const AF_T = memory.data(64, 16);
export function toAffine(C: usize, r: usize, p: usize): void {
  const f = C + CB_P;
  finv(f, AF_T, p + 64);
  fsqr(f, AF_T + 32, AF_T);
  fmul(f, r, p, AF_T + 32);
  fmul(f, AF_T + 32, AF_T + 32, AF_T);
  fmul(f, r + 32, p + 32, AF_T + 32);
}

// ---- fixed-base comb (constant time) ----------------------------------------------
// Lim-Lee comb: scalar bit i*D + t*E + j is tooth i of table t at column j.
// Table t, entry c (1..2^W-1) = sum over set bits i of c of 2^(i*D + t*E) G, affine.
// Cost per scalar: D mixed additions (V per column) + E - 1 doublings, and D table scans
// of 2^W - 1 entries. W = 5, V = 4: 52 additions, 12 doublings, 124 entries = 7.75 KiB
// per curve. Measured here: W = 4 signs ~5% slower, W = 6 ~10% faster for twice the RAM.
const COMB_W: i32 = 5;          // teeth
const COMB_V: i32 = 4;          // tables
const COMB_D: i32 = 52;         // ceil(256 / W), a multiple of V
const COMB_E: i32 = COMB_D / COMB_V;
const COMB_N: i32 = (1 << COMB_W) - 1; // entries per table
const COMB_BYTES: usize = <usize>(COMB_V * COMB_N) * AFF;
const COMB_TAB_P256 = memory.data(<i32>COMB_BYTES, 16);
const COMB_TAB_SM2 = memory.data(<i32>COMB_BYTES, 16);
// wNAF table for verification: odd multiples G, 3G, ..., (2*WG_N - 1)G, affine. The host
// verifier build (--use HOST_VERIFIER=1, build/verifier.wasm) affords a wider window.
// @ts-ignore: compile-time constant from `asc --use HOST_VERIFIER=1`
const WG_W: i32 = isDefined(HOST_VERIFIER) ? 10 : 7;
const WG_N: i32 = 1 << (WG_W - 2);
const WG_TAB_P256 = memory.data(WG_N * <i32>AFF, 16);
const WG_TAB_SM2 = memory.data(WG_N * <i32>AFF, 16);
// the same multiples of H = 2^128 G, for the half-length loop of a repeated key (mulDoubleVT)
const WH_TAB_P256 = memory.data(WG_N * <i32>AFF, 16);
const WH_TAB_SM2 = memory.data(WG_N * <i32>AFF, 16);
let readyP256 = false;
let readySm2 = false;
let qTableValid = false; // mulDoubleVT's table of Q in BIG is current (see sameQ there)
let q2TableValid = false; // and its table of 2^128 Q
let qTableOf: usize = 0;  // the address of the Q it was built for (another caller's Q is another point)

// @ts-ignore: decorator
@inline function combTab(C: usize): usize { return C == CURVE_P256 ? COMB_TAB_P256 : COMB_TAB_SM2; }
// @ts-ignore: decorator
@inline function wgTab(C: usize): usize { return C == CURVE_P256 ? WG_TAB_P256 : WG_TAB_SM2; }
// @ts-ignore: decorator
@inline function whTab(C: usize): usize { return C == CURVE_P256 ? WH_TAB_P256 : WH_TAB_SM2; }

// Scratch shared by table building and verification (never active at the same time).
const BIG = memory.data(4096, 16);

// Builds the curve's tables on first use (~3 ms; RAM instead of code size).
export function curveReady(C: usize): void {
  if (C == CURVE_P256 ? readyP256 : readySm2) return;
  qTableValid = false; // BIG is overwritten
  q2TableValid = false;
  const tmp = BIG;                              // COMB_N Jacobian entries
  const base = BIG + <usize>COMB_N * JAC;       // 2^(t*E) G
  const tooth = base + JAC;                     // 2^(i*D) base
  affToJac(C, base, C + CB_GX);
  const tab = combTab(C);
  for (let t = 0; t < COMB_V; t++) {
    memory.copy(tooth, base, JAC);
    for (let i = 0; i < COMB_W; i++) {
      if (i > 0) for (let k = 0; k < COMB_D; k++) pointDouble(C, tooth, tooth);
      const bit = 1 << i;
      for (let c = bit; c < (bit << 1); c++) {
        const e = tmp + <usize>(c - 1) * JAC;
        if (c == bit) memory.copy(e, tooth, JAC);
        else pointAddVT(C, e, tmp + <usize>(c - bit - 1) * JAC, tooth);
      }
    }
    for (let c = 0; c < COMB_N; c++) toAffine(C, tab + <usize>(t * COMB_N + c) * AFF, tmp + <usize>c * JAC);
    for (let k = 0; k < COMB_E; k++) pointDouble(C, base, base);
  }
  // odd multiples of G for the verification wNAF
  const g2 = base;
  affToJac(C, tooth, C + CB_GX);
  pointDouble(C, g2, tooth);
  oddMultiples(C, wgTab(C), tooth, g2);
  // and of H = 2^128 G
  affToJac(C, tooth, C + CB_GX);
  for (let i = 0; i < HALF_BITS; i++) pointDouble(C, tooth, tooth);
  oddMultiples(C, whTab(C), tooth, g2);
  if (C == CURVE_P256) readyP256 = true;
  else readySm2 = true;
}

// tab = P, 3P, ..., (2 WG_N - 1)P affine, from p (Jacobian, overwritten) and scratch p2
function oddMultiples(C: usize, tab: usize, p: usize, p2: usize): void {
  pointDouble(C, p2, p);
  for (let i = 0; i < WG_N; i++) {
    if (i > 0) pointAddVT(C, p, p, p2);
    toAffine(C, tab + <usize>i * AFF, p);
  }
}

const KBITS = memory.data(48, 16);   // scalar limbs, zero-padded past bit 255
const LOOK = memory.data(<i32>AFF, 16);   // looked-up table entry
const SUM = memory.data(<i32>JAC, 16);
// constant-time: LOOK = entry c of table t (all zero for c = 0); reads every entry
function combLookup(tab: usize, c: u32): void {
  trace(OP_LOOKUP, tab, 0, 0);
  let x0: u64 = 0, x1: u64 = 0, x2: u64 = 0, x3: u64 = 0, x4: u64 = 0, x5: u64 = 0, x6: u64 = 0, x7: u64 = 0;
  for (let e: i32 = 0; e < COMB_N; e++) {
    const m32 = eqMaskU32(<u32>(e + 1), c);
    const m = <u64>m32 | (<u64>m32 << 32);
    const p = tab + <usize>e * AFF;
    x0 |= load<u64>(p, 0) & m; x1 |= load<u64>(p, 8) & m;
    x2 |= load<u64>(p, 16) & m; x3 |= load<u64>(p, 24) & m;
    x4 |= load<u64>(p, 32) & m; x5 |= load<u64>(p, 40) & m;
    x6 |= load<u64>(p, 48) & m; x7 |= load<u64>(p, 56) & m;
  }
  store<u64>(LOOK, x0, 0); store<u64>(LOOK, x1, 8); store<u64>(LOOK, x2, 16); store<u64>(LOOK, x3, 24);
  store<u64>(LOOK, x4, 32); store<u64>(LOOK, x5, 40); store<u64>(LOOK, x6, 48); store<u64>(LOOK, x7, 56);
}

// r = k*G (Jacobian), k = 8 little-endian limbs with 1 <= k < n. Constant time.
// With k < n the comb never adds a point to itself or its negative (the partial sums
// cover disjoint bits of k), so the only special cases are "accumulator at infinity"
// and "digit 0", both resolved by masked selection.
export function mulBase(C: usize, r: usize, k: usize): void {
  curveReady(C);
  memory.copy(KBITS, k, 32);
  memory.fill(KBITS + 32, 0, 16);
  const tab = combTab(C);
  const one = C + CB_P + FB_ONE;
  setInf(C, r);
  for (let j = COMB_E - 1; j >= 0; j--) {
    if (j != COMB_E - 1) pointDouble(C, r, r);
    for (let t = 0; t < COMB_V; t++) {
      let c: u32 = 0;
      for (let i = 0; i < COMB_W; i++) {
        const b = i * COMB_D + t * COMB_E + j; // public position, secret bit
        c |= ((load<u32>(KBITS + (<usize>(b >> 5) << 2)) >> (<u32>b & 31)) & 1) << <u32>i;
      }
      combLookup(tab + <usize>(t * COMB_N) * AFF, c);
      pointAddMixed(C, SUM, r, LOOK);
      const rInf = isZeroMask(r + 64);
      cmov(SUM, LOOK, rInf, AFF);   // accumulator at infinity: result is the entry
      cmov(SUM + 64, one, rInf, 32);
      cmov(r, SUM, ~eqMaskU32(c, 0), JAC); // digit 0: keep the accumulator
    }
  }
  memory.fill(KBITS, 0, 48); // the scalar's copy
  memory.fill(LOOK, 0, AFF);
}

// ---- u1*G + u2*Q, variable time (verification) ------------------------------------
const WQ_W: i32 = 5;
const WQ_N: i32 = 1 << (WQ_W - 2);
const NAF_LEN: i32 = 258;
const HALF_BITS: i32 = 128;
const HALF_LEN: i32 = 130; // digits of a 128-bit half
// wNAF digits of the low `bytes` bytes of a scalar (little-endian limbs) into `out` (len
// i16: windows past 8 bits have digits beyond i8)
const NAF_K = memory.data(40, 16);
function wnaf(out: usize, k: usize, bytes: usize, len: i32, w: i32): void {
  memory.fill(NAF_K, 0, 40);
  memory.copy(NAF_K, k, bytes);
  const full = 1 << w, half = 1 << (w - 1);
  for (let i = 0; i < len; i++) {
    let d: i32 = 0;
    const low = load<u32>(NAF_K);
    if (low & 1) {
      d = <i32>(low & <u32>(full - 1));
      if (d >= half) d -= full;
      // K -= d (d odd, |d| < 2^(w-1)): propagate the borrow or carry over 9 limbs
      let c: i64 = -d;
      for (let l: usize = 0; l < 36 && c != 0; l += 4) {
        const x = <i64>load<u32>(NAF_K + l) + c;
        store<u32>(NAF_K + l, <u32>x);
        c = x >> 32;
      }
    }
    store<i16>(out + (<usize>i << 1), <i16>d);
    // K >>= 1
    for (let l: usize = 0; l < 32; l += 4) {
      store<u32>(NAF_K + l, (load<u32>(NAF_K + l) >> 1) | (load<u32>(NAF_K + l + 4) << 31));
    }
    store<u32>(NAF_K + 32, load<u32>(NAF_K + 32) >> 1);
  }
}

// r = u1*G + u2*Q (Jacobian); q affine Montgomery on the curve; scalars public.
// sameQ: q is the previous call's point, whose table of odd multiples is reused if built.
// From the second call with the same Q on (a device's issuer key, a device's vouchers in a
// host batch), the table of 2^128 Q is built too, once, and the scalars are split into
// 128-bit halves, u = u_lo + 2^128 u_hi: u1_lo G + u1_hi H + u2_lo Q + u2_hi 2^128 Q in one
// loop of 130 doublings instead of 258 (README "Benchmarks").
export function qTableStale(): void { qTableValid = false; q2TableValid = false; }
export function mulDoubleVT(C: usize, r: usize, u1: usize, u2: usize, q: usize, sameQ: bool = false): void {
  curveReady(C);
  const f = C + CB_P;
  const neg = BIG + 1040, qtab = neg + JAC, q2tab = qtab + <usize>WQ_N * JAC;
  const qaff = q2tab + <usize>WQ_N * JAC, q2aff = qaff + <usize>WQ_N * AFF; // ends at BIG + 3696
  if (!(sameQ && qTableValid && qTableOf == q)) {
    oddMultiplesJac(C, qtab, q, neg);
    qTableValid = true;
    qTableOf = q;
    q2TableValid = false;
    const nafG = BIG, nafQ = BIG + 520;
    wnaf(nafG, u1, 32, NAF_LEN, WG_W);
    wnaf(nafQ, u2, 32, NAF_LEN, WQ_W);
    const wg = wgTab(C);
    setInf(C, r);
    for (let i = NAF_LEN - 1; i >= 0; i--) {
      if (!isInfVT(r)) pointDouble(C, r, r);
      const dq = <i32>load<i16>(nafQ + (<usize>i << 1));
      if (dq != 0) pointAddVT(C, r, r, signedEntry(f, neg, qtab, JAC, dq));
      const dg = <i32>load<i16>(nafG + (<usize>i << 1));
      if (dg != 0) pointAddMixedVT(C, r, r, signedEntry(f, neg, wg, AFF, dg));
    }
    return;
  }
  if (!q2TableValid) {
    // 2^128 Q from the table's first entry (Q itself)
    memory.copy(q2tab, qtab, JAC);
    for (let i = 0; i < HALF_BITS; i++) pointDouble(C, q2tab, q2tab);
    memory.copy(r, q2tab, JAC);
    pointDouble(C, neg, r);
    for (let i = 1; i < WQ_N; i++) pointAddVT(C, q2tab + <usize>i * JAC, q2tab + <usize>(i - 1) * JAC, neg);
    // both tables affine (one inversion for all), so that their additions are mixed
    toAffineBatch(C, qaff, qtab, 2 * WQ_N); // qtab and q2tab are adjacent
    q2TableValid = true;
  }
  const step = <usize>HALF_LEN << 1;
  const nafG = BIG, nafH = BIG + step, nafQ = BIG + 2 * step, nafQ2 = BIG + 3 * step;
  wnaf(nafG, u1, 16, HALF_LEN, WG_W);
  wnaf(nafH, u1 + 16, 16, HALF_LEN, WG_W);
  wnaf(nafQ, u2, 16, HALF_LEN, WQ_W);
  wnaf(nafQ2, u2 + 16, 16, HALF_LEN, WQ_W);
  const wg = wgTab(C), wh = whTab(C);
  setInf(C, r);
  for (let i = HALF_LEN - 1; i >= 0; i--) {
    if (!isInfVT(r)) pointDouble(C, r, r);
    const o = <usize>i << 1;
    let d = <i32>load<i16>(nafQ + o);
    if (d != 0) pointAddMixedVT(C, r, r, signedEntry(f, neg, qaff, AFF, d));
    d = <i32>load<i16>(nafQ2 + o);
    if (d != 0) pointAddMixedVT(C, r, r, signedEntry(f, neg, q2aff, AFF, d));
    d = <i32>load<i16>(nafG + o);
    if (d != 0) pointAddMixedVT(C, r, r, signedEntry(f, neg, wg, AFF, d));
    d = <i32>load<i16>(nafH + o);
    if (d != 0) pointAddMixedVT(C, r, r, signedEntry(f, neg, wh, AFF, d));
  }
}

// dst[i] = affine src[i] for `count` Jacobian points (none at infinity; public), with one
// inversion (Montgomery's simultaneous inversion): the prefix products of the Z's wait in
// the y slots of dst until each entry's 1/Z is known
const BZ = memory.data(64, 16);
function toAffineBatch(C: usize, dst: usize, src: usize, count: i32): void {
  const f = C + CB_P;
  copy32(dst + 32, src + 64);
  for (let i = 1; i < count; i++) fmul(f, dst + <usize>i * AFF + 32, dst + <usize>(i - 1) * AFF + 32, src + <usize>i * JAC + 64);
  const inv = BZ, zi = BZ + 32;
  finv(f, inv, dst + <usize>(count - 1) * AFF + 32);   // 1 / (Z_0 ... Z_last)
  for (let i = count - 1; i >= 0; i--) {
    const d = dst + <usize>i * AFF, p = src + <usize>i * JAC;
    if (i > 0) {
      fmul(f, zi, inv, d - AFF + 32);                    // 1/Z_i = inv * Z_0 ... Z_(i-1)
      fmul(f, inv, inv, p + 64);                         // inv = 1 / (Z_0 ... Z_(i-1))
    } else copy32(zi, inv);
    fsqr(f, d + 32, zi);
    fmul(f, d, p, d + 32);                               // x = X / Z^2
    fmul(f, d + 32, d + 32, zi);
    fmul(f, d + 32, p + 32, d + 32);                     // y = Y / Z^3
  }
}

// tab = Q, 3Q, ..., (2 WQ_N - 1)Q Jacobian from affine q; scratch two (2Q)
function oddMultiplesJac(C: usize, tab: usize, q: usize, two: usize): void {
  affToJac(C, tab, q);
  pointDouble(C, two, tab);
  for (let i = 1; i < WQ_N; i++) pointAddVT(C, tab + <usize>i * JAC, tab + <usize>(i - 1) * JAC, two);
}

// wNAF digit d (odd, nonzero) -> copy of table entry |d| >> 1 into out, negated if d < 0
function signedEntry(f: usize, out: usize, tab: usize, size: usize, d: i32): usize {
  memory.copy(out, tab + <usize>((d < 0 ? -d : d) >> 1) * size, size);
  if (d < 0) fneg(f, out + 32, out + 32);
  return out;
}

// y^2 == x^3 - 3x + b for affine Montgomery (x, y); public data
const OC = memory.data(64, 16);
export function onCurveVT(C: usize, a: usize): bool {
  const f = C + CB_P;
  fsqr(f, OC, a);            // x^2
  fmul(f, OC, OC, a);        // x^3
  fsub(f, OC, OC, a);
  fsub(f, OC, OC, a);
  fsub(f, OC, OC, a);        // x^3 - 3x
  fadd(f, OC, OC, C + CB_B);
  fsqr(f, OC + 32, a + 32);  // y^2
  return memory.compare(OC, OC + 32, 32) == 0;
}
