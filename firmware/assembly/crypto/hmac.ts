// HMAC (RFC 2104 / FIPS 198-1) over the suite hash (hash.ts): HMAC-SM3 or HMAC-SHA256.
// Incremental (hmacInit/Update/Final) and one-shot. The context holds the inner hash state
// and the outer hash state already keyed with K ^ opad, so Final needs no key.
// Raw pointers, no allocation, never throws.
import { HASH_CTX_SIZE, HASH_LEN, HASH_BLOCK, hashInit, hashUpdate, hashFinal, hashOnce } from "./hash";

// [0, HASH_CTX_SIZE) inner state; [HASH_CTX_SIZE, 2*HASH_CTX_SIZE) outer state
export const HMAC_CTX_SIZE: i32 = 2 * HASH_CTX_SIZE;

const PAD = memory.data(64, 8);   // K0 ^ ipad / K0 ^ opad (FIPS 198-1 §4 steps 4, 7)
const TMP = memory.data(32, 8);   // inner digest

export function hmacInit(suite: u8, ctx: usize, key: usize, keyLen: i32): void {
  // FIPS 198-1 §4 steps 1–3: K0 = key, or H(key) if longer than the block, zero-padded
  memory.fill(PAD, 0, <usize>HASH_BLOCK);
  if (keyLen > HASH_BLOCK) hashOnce(suite, key, keyLen, PAD);
  else if (keyLen > 0) memory.copy(PAD, key, <usize>keyLen);
  for (let i: usize = 0; i < 64; i += 8) store<u64>(PAD + i, load<u64>(PAD + i) ^ 0x3636363636363636);
  hashInit(suite, ctx);
  hashUpdate(suite, ctx, PAD, HASH_BLOCK);
  // 0x36 ^ 0x5c = 0x6a turns K0 ^ ipad into K0 ^ opad
  for (let i: usize = 0; i < 64; i += 8) store<u64>(PAD + i, load<u64>(PAD + i) ^ 0x6a6a6a6a6a6a6a6a);
  const outer = ctx + <usize>HASH_CTX_SIZE;
  hashInit(suite, outer);
  hashUpdate(suite, outer, PAD, HASH_BLOCK);
  memory.fill(PAD, 0, <usize>HASH_BLOCK); // do not leave key material in the scratch pad
}

export function hmacUpdate(suite: u8, ctx: usize, data: usize, len: i32): void {
  hashUpdate(suite, ctx, data, len);
}

export function hmacFinal(suite: u8, ctx: usize, out32: usize): void {
  hashFinal(suite, ctx, TMP);
  const outer = ctx + <usize>HASH_CTX_SIZE;
  hashUpdate(suite, outer, TMP, HASH_LEN);
  hashFinal(suite, outer, out32);
}

const ONE = memory.data(HMAC_CTX_SIZE, 8);
export function hmac(suite: u8, key: usize, keyLen: i32, msg: usize, msgLen: i32, out32: usize): void {
  hmacInit(suite, ONE, key, keyLen);
  hmacUpdate(suite, ONE, msg, msgLen);
  hmacFinal(suite, ONE, out32);
}
