// Suite-generic signatures, the API the wallet applet calls (DESIGN.md §3):
//   suite 1 (SUITE_SM2_SM3_SM4): SM2 signature, GB/T 32918.2-2016 §6 (sign) and §7 (verify),
//     digest e = SM3(Z_A || M) with the default user id (sm2.ts);
//   suite 2 (SUITE_P256_SHA256_AES128): ECDSA P-256 with SHA-256, FIPS 186-4 §6.4 / SEC 1 §4.1,
//     low-S only (SPEC §5.1): signing emits s <= n/2 and verification refuses s > n/2, because
//     (r, n - s) verifies too and anyone could otherwise change a voucher's bytes (its hash).
// Raw pointers; scalars 32 bytes big-endian; public keys 04 || x || y; signatures r || s.
// Random bytes come from the caller (the hw `random` import): crypto stays pure.
// Signing and key generation are constant time in the private key and the nonce;
// verification (public data) is variable time, returns false on any malformed input
// and never traps. No function here throws or allocates.
import { SUITE_SM2_SM3_SM4 } from "../../../protocol/portable/suite";
import {
  CB_P, CB_N, FB_MOD, fadd, fsub, fneg, fsqr, fmul, toMont, ltU256, cmov, beToLimbs, limbsToBe, isZeroMask, eqMask, ONE_RAW,
} from "./field";
import { JAC, AFF, mulBase, mulDoubleVT, isInfVT, qTableStale } from "./point";
import {
  curveOf, decodePointVT, encodePoint, affineX, inRangeMask, reduceOnceN, nmul, ninv, reduceBytes,
} from "./ec";
import { nonceInit, nonceNext, nonceClear } from "./drbg";
import { sm2Digest } from "./sm2";
import { hashOnce } from "./hash";

// Keys and nonces live here only while a call runs; wiped before returning (SM2 keeps one
// value derived from its signing key, DINV below).
const D = memory.data(32, 16);   // private key
const K = memory.data(32, 16);   // nonce
const DI = memory.data(32, 16);  // SM2: 1 + d
const E = memory.data(32, 16);   // digest mod n
const EB = memory.data(32, 16);  // the same, big-endian (RFC 6979 bits2octets)
const R = memory.data(32, 16);
const S = memory.data(32, 16);
const T = memory.data(32, 16);
const X = memory.data(32, 16);
const BOUND = memory.data(32, 16);
const J = memory.data(<i32>JAC, 16);
const Q = memory.data(<i32>AFF, 16);

// SM2's (1 + d)^-1 depends on the key only, and a device signs with one key: the last
// signing key's inverse is kept, in Montgomery form (x R mod n), and checked before use by
// one multiplication: (1 + d) (1 + d)^-1 = 1 holds for exactly one value, so a cached
// inverse is used only for the key it belongs to, whatever key came before; the check is
// constant time and stores no copy of d (DESIGN.md §3, README "Benchmarks"). Wiped by
// ecForget (reset) and by key generation.
const DINV = memory.data(32, 16);
const CHK = memory.data(32, 16);
export function ecForget(): void { memory.fill(DINV, 0, 32); }

// T and X hold k - r d and k^-1 during signing
function wipe(): void {
  memory.fill(D, 0, 32);
  memory.fill(K, 0, 32);
  memory.fill(DI, 0, 32);
  memory.fill(T, 0, 32);
  memory.fill(X, 0, 32);
  memory.fill(CHK, 0, 32);
  memory.fill(J, 0, JAC);
  nonceClear();
}

// r += 1 over 8 limbs (r < n - 1 here, so no overflow); constant time
function addOne(r: usize): void {
  let c: u64 = 1;
  for (let i: usize = 0; i < 32; i += 4) {
    const x = <u64>load<u32>(r + i) + c;
    store<u32>(r + i, <u32>x);
    c = x >> 32;
  }
}

// BOUND = n - sub (sub small; the low limb of n is large on both curves)
function boundNMinus(C: usize, sub: u32): usize {
  memory.copy(BOUND, C + CB_N + FB_MOD, 32);
  store<u32>(BOUND, load<u32>(BOUND) - sub);
  return BOUND;
}
// all-ones if s > n/2 (s in [1, n-1]; n is odd, so s > (n-1)/2 exactly when n - s < s),
// with tmp = n - s; constant time
function highSMask(C: usize, s: usize, tmp: usize): u32 {
  fneg(C + CB_N, tmp, s);
  return 0 - ltU256(tmp, s);
}

// Valid private keys: [1, n-1] for ECDSA, [1, n-2] for SM2 (1 + d must be invertible).
// @ts-ignore: decorator
@inline function keyBound(suite: u8, C: usize): usize {
  return boundNMinus(C, suite == SUITE_SM2_SM3_SM4 ? 1 : 0);
}

// The message digest the signature covers, reduced mod n, into E (limbs) and EB (bytes).
function digest(suite: u8, C: usize, pub65: usize, msg: usize, msgLen: i32): void {
  if (suite == SUITE_SM2_SM3_SM4) sm2Digest(pub65, msg, msgLen, EB);
  else hashOnce(suite, msg, msgLen, EB);
  beToLimbs(E, EB);
  reduceOnceN(C, E);
  limbsToBe(EB, E);
}

// priv32 -> pub65 (d*G); false if the key is out of range or the suite unknown
export function ecPublicKey(suite: u8, priv32: usize, pub65: usize): bool {
  const C = curveOf(suite);
  if (C == 0) return false;
  beToLimbs(D, priv32);
  const ok = inRangeMask(D, keyBound(suite, C)) != 0;
  if (ok) {
    mulBase(C, J, D);
    encodePoint(C, pub65, J);
  }
  wipe();
  return ok;
}

// New key pair from >= 40 TRNG bytes: d = (seed mod (n-1 or n-2)) + 1, uniform in the key
// range up to a bias below 2^-64 (FIPS 186-4 B.4.1, "extra random bits").
export function ecKeygen(suite: u8, seed: usize, priv32: usize, pub65: usize): bool {
  const C = curveOf(suite);
  if (C == 0) return false;
  ecForget();
  // keys in [1, bound - 1]: reduce mod (bound - 1), then add 1
  const m = boundNMinus(C, suite == SUITE_SM2_SM3_SM4 ? 2 : 1);
  reduceBytes(D, seed, 40, m);
  addOne(D);
  limbsToBe(priv32, D);
  return ecPublicKey(suite, priv32, pub65);
}

// Sign msg: hedged RFC 6979 nonce (rnd32 = 32 TRNG bytes; rnd32 = 0 gives exact RFC 6979).
// pub65 is the signer's public key (SM2 hashes it into Z_A; ECDSA ignores it).
export function ecSign(suite: u8, priv32: usize, pub65: usize, msg: usize, msgLen: i32, rnd32: usize, sig64: usize): bool {
  return signWith(suite, priv32, pub65, msg, msgLen, rnd32, 0, sig64);
}

// k32 != 0: use that nonce (32 bytes big-endian, the standards' worked examples; test
// builds only) and fail where a fresh nonce would be needed.
export function signWith(suite: u8, priv32: usize, pub65: usize, msg: usize, msgLen: i32, rnd32: usize, k32: usize, sig64: usize): bool {
  const C = curveOf(suite);
  if (C == 0 || msgLen < 0) return false;
  beToLimbs(D, priv32);
  if (inRangeMask(D, keyBound(suite, C)) == 0) { wipe(); return false; }
  const sm2 = suite == SUITE_SM2_SM3_SM4;
  const fn = C + CB_N;
  digest(suite, C, pub65, msg, msgLen);
  nonceInit(suite, priv32, EB, rnd32);
  if (sm2) {
    // (1 + d)^-1 R into DINV unless it holds it; d <= n - 2 so 1 + d < n needs no reduction
    memory.copy(DI, D, 32);
    addOne(DI);
    fmul(fn, CHK, DINV, DI);            // (1 + d) DINV R^-1 = 1 iff DINV = (1 + d)^-1 R
    if (eqMask(CHK, ONE_RAW) == 0) {  // another key than the last signature's
      ninv(C, CHK, DI);
      toMont(fn, DINV, CHK);
    }
  }
  let ok = false;
  while (true) {
    if (k32 == 0) nonceNext(C, K);
    else {
      beToLimbs(K, k32);
      if (inRangeMask(K, C + CB_N + FB_MOD) == 0) break;
    }
    mulBase(C, J, K);
    affineX(C, X, J);
    reduceOnceN(C, X);
    let retry: bool;
    if (sm2) {
      fadd(fn, R, E, X);                  // r = (e + x1) mod n
      fadd(fn, T, R, K);                  // r = 0 or r + k = n: retry (GB/T 32918.2 §6.1 A5)
      retry = (isZeroMask(R) | isZeroMask(T)) != 0;
      fmul(fn, S, DINV, T);
      fsub(fn, S, S, R);                  // s = (1 + d)^-1 (k - r d) = (1 + d)^-1 (k + r) - r mod n
    } else {
      memory.copy(R, X, 32);              // r = x1 mod n
      retry = isZeroMask(R) != 0;
      nmul(C, T, R, D);
      fadd(fn, T, T, E);
      ninv(C, X, K);
      nmul(C, S, X, T);                   // s = k^-1 (e + r d) mod n
    }
    if (!retry && isZeroMask(S) == 0) { ok = true; break; }
    if (k32 != 0) break;                  // a fixed nonce cannot be retried
  }
  // ECDSA: (r, s) and (r, n - s) both verify; emit the low one, n - s computed and selected
  // by mask whatever s is (the suite is public). SM2 has no such twin (SPEC §5.1).
  if (!sm2) cmov(S, T, highSMask(C, S, T), 32);
  if (ok) {
    limbsToBe(sig64, R);
    limbsToBe(sig64 + 32, S);
  }
  wipe();
  return ok;
}

// Verify sig64 = r || s over msg with pub65. False on any malformed input. The last key's
// bytes are kept (public data): the same key again (the issuer's, which signs what a device
// verifies) reuses its decoding and tables, as the host verifier's batches do.
const LAST_PUB = memory.data(65, 16);
let lastSuite: u8 = 0; // 0: LAST_PUB holds no key
export function ecVerify(suite: u8, pub65: usize, msg: usize, msgLen: i32, sig64: usize): bool {
  const same = lastSuite == suite && memory.compare(LAST_PUB, pub65, 65) == 0;
  return ecVerifyKeyed(suite, pub65, msg, msgLen, sig64, same);
}

// The same; sameKey: pub65 holds the same bytes, and suite is the same, as at the previous
// call (the host verifier's batches, verifier-host.ts), so the decoded key and its wNAF
// table are reused where they were computed. Public data only.
let lastKeyOk = false;
export function ecVerifyKeyed(suite: u8, pub65: usize, msg: usize, msgLen: i32, sig64: usize, sameKey: bool): bool {
  const C = curveOf(suite);
  if (C == 0 || msgLen < 0) return false;
  if (!sameKey) {
    keyChangedVT();
    lastKeyOk = decodePointVT(C, pub65, Q);
    memory.copy(LAST_PUB, pub65, 65);
    lastSuite = suite;
  }
  if (!lastKeyOk) return false;
  const n = C + CB_N + FB_MOD;
  beToLimbs(R, sig64);
  beToLimbs(S, sig64 + 32);
  if (inRangeMask(R, n) == 0 || inRangeMask(S, n) == 0) return false;
  if (suite != SUITE_SM2_SM3_SM4 && highSMask(C, S, T) != 0) return false; // non-canonical twin
  digest(suite, C, pub65, msg, msgLen);
  if (suite == SUITE_SM2_SM3_SM4) {
    fadd(C + CB_N, T, R, S);              // t = (r + s) mod n, t != 0
    if (isZeroMask(T) != 0) return false;
    mulDoubleVT(C, J, S, T, Q, sameKey);  // (x1, y1) = s G + t P
  } else {
    ninv(C, X, S);                        // w = s^-1
    nmul(C, K, E, X);                     // u1 = e w
    nmul(C, T, R, X);                     // u2 = r w
    mulDoubleVT(C, J, K, T, Q, sameKey);
  }
  if (isInfVT(J)) return false;
  // Accept iff x1 mod n = r (ECDSA) or (e + x1) mod n = r (SM2), without the inversion
  // that x1 = X/Z^2 would cost: x1 < p < 2n, so x1 is c or c + n for c = r (ECDSA) or
  // c = (r - e) mod n (SM2); test X = c Z^2 for each candidate below p.
  if (suite == SUITE_SM2_SM3_SM4) fsub(C + CB_N, X, R, E);
  else memory.copy(X, R, 32);
  return projectiveXIs(C, J, X) || (addNBelowP(C, X) && projectiveXIs(C, J, X));
}

// X of the Jacobian point j equals c Z^2 (c plain limbs, c < p)
function projectiveXIs(C: usize, j: usize, c: usize): bool {
  const f = C + CB_P;
  fsqr(f, T, j + 64);
  toMont(f, D, c);
  fmul(f, D, D, T);
  return memory.compare(D, j, 32) == 0;
}
// c += n; false if the sum is not below p (then it is no x-coordinate)
function addNBelowP(C: usize, c: usize): bool {
  const n = C + CB_N + FB_MOD;
  let carry: u64 = 0;
  for (let i: usize = 0; i < 32; i += 4) {
    const x = <u64>load<u32>(c + i) + <u64>load<u32>(n + i) + carry;
    store<u32>(c + i, <u32>x);
    carry = x >> 32;
  }
  return carry == 0 && ltU256(c, C + CB_P + FB_MOD) != 0;
}

// forget what was computed for the previous key (sm2.ts keeps Z_A with its key itself)
function keyChangedVT(): void { qTableStale(); }

// true if pub65 is 04 || x || y with x, y < p on the suite's curve
export function ecPointValid(suite: u8, pub65: usize): bool {
  const C = curveOf(suite);
  lastKeyOk = false; // Q is overwritten
  lastSuite = 0;
  return C != 0 && decodePointVT(C, pub65, Q);
}
