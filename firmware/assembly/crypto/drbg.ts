// Signature nonces: HMAC-DRBG in the construction of RFC 6979 §3.2 (steps b-h), keyed by
// the private key and the reduced message digest, hedged with fresh TRNG bytes as the
// "additional data" k' of RFC 6979 §3.6. With no extra bytes (extra = 0) the output is
// exactly RFC 6979's (checked against its A.2.5 P-256 vectors). HMAC-SM3 for SM2,
// HMAC-SHA-256 for P-256 (the suite's hash). qlen = hlen = 256 for both curves, so
// bits2int is the identity on 32 bytes. Never throws; static state; one nonce at a time.
// Every HMAC under one K starts from the same two keyed hash states (K ^ ipad, K ^ opad):
// they are computed once per K into KEYED and copied, and those of step c's all-zero K
// once per suite, which saves 6 of the 24 compressions of a signature's nonce (README
// "Benchmarks").
import { hmacInit, hmacUpdate, hmacFinal, HMAC_CTX_SIZE } from "./hmac";
import { beToLimbs, ltU256, isZeroMask, FB_MOD, CB_N } from "./field";
import { SUITE_SM2_SM3_SM4 } from "../../../protocol/portable/suite";

const K = memory.data(32, 16);
const V = memory.data(32, 16);
const CTX = memory.data(HMAC_CTX_SIZE, 16);
const KEYED = memory.data(HMAC_CTX_SIZE, 16);     // HMAC states keyed with K
const ZERO_KEYED = memory.data(2 * HMAC_CTX_SIZE, 16); // keyed with K = 0, per suite (public)
const SEP = memory.data(1, 1);
let suite: u8 = 0;
let started = false;
let zeroReady: u32 = 0; // bit i: ZERO_KEYED slot i is computed

// KEYED = the zero key's states (RFC 6979 §3.2 c)
function keyZero(): void {
  const slot: u32 = suite == SUITE_SM2_SM3_SM4 ? 0 : 1;
  const z = ZERO_KEYED + <usize>(slot * <u32>HMAC_CTX_SIZE);
  if ((zeroReady & (1 << slot)) == 0) {
    hmacInit(suite, z, K, 32); // K is all zero here
    zeroReady |= 1 << slot;
  }
  memory.copy(KEYED, z, HMAC_CTX_SIZE);
}

// K = HMAC_K(V || sep || x || h || extra); V = HMAC_K(V)   (RFC 6979 §3.2 d-g)
function update(sep: u8, x: usize, h: usize, extra: usize): void {
  memory.copy(CTX, KEYED, HMAC_CTX_SIZE);
  hmacUpdate(suite, CTX, V, 32);
  store<u8>(SEP, sep);
  hmacUpdate(suite, CTX, SEP, 1);
  if (x != 0) {
    hmacUpdate(suite, CTX, x, 32);
    hmacUpdate(suite, CTX, h, 32);
    if (extra != 0) hmacUpdate(suite, CTX, extra, 32);
  }
  hmacFinal(suite, CTX, K);
  hmacInit(suite, KEYED, K, 32);
  nextV();
}
function nextV(): void {
  memory.copy(CTX, KEYED, HMAC_CTX_SIZE);
  hmacUpdate(suite, CTX, V, 32);
  hmacFinal(suite, CTX, V);
}

// x32: private key (32 bytes big-endian); h32: bits2octets(H(m)) = digest mod n, big-endian;
// extra32: 32 TRNG bytes, or 0 for plain deterministic RFC 6979.
export function nonceInit(s: u8, x32: usize, h32: usize, extra32: usize): void {
  suite = s;
  memory.fill(V, 0x01, 32); // step b
  memory.fill(K, 0x00, 32); // step c
  keyZero();
  update(0x00, x32, h32, extra32);
  update(0x01, x32, h32, extra32);
  started = false;
}

// k (8 little-endian limbs) in [1, n-1] of curve C; each call after the first continues
// the stream as step h.3 says, so a signature that must be retried gets a fresh nonce.
export function nonceNext(C: usize, k: usize): void {
  if (started) update(0x00, 0, 0, 0);
  started = true;
  while (true) {
    nextV(); // step h.2: T = V = HMAC_K(V)
    beToLimbs(k, V);
    // accept 1 <= k < n (rejection has probability < 2^-32 on both curves)
    if ((~isZeroMask(k) & (0 - ltU256(k, C + CB_N + FB_MOD))) != 0) return;
    update(0x00, 0, 0, 0);
  }
}

// wipe the DRBG state after signing
export function nonceClear(): void {
  memory.fill(K, 0, 32);
  memory.fill(V, 0, 32);
  memory.fill(CTX, 0, HMAC_CTX_SIZE); // hash states keyed with K
  memory.fill(KEYED, 0, HMAC_CTX_SIZE);
}
