// CMAC (NIST SP 800-38B) over the suite block cipher (block.ts): AES-CMAC or SM4-CMAC, both
// with b = 128 and R_128 = 0x87 (§5.3). Incremental (cmacInit/Update/Final; the last block is
// held back until Final because it gets K1 or K2) and one-shot. Never throws.
import { BLOCK_RK_SIZE, blockExpandKey, blockEncrypt, xor16 } from "./block";

// [0] suite, [4] bytes held in BUF (0..16), [16, 32) chaining value X, [32, 48) held block,
// [48, 48 + BLOCK_RK_SIZE) round keys
export const CMAC_CTX_SIZE: i32 = 48 + BLOCK_RK_SIZE;
const N: usize = 4;
const X: usize = 16;
const BUF: usize = 32;
const RK: usize = 48;

const SUB = memory.data(16, 8);

export function cmacInit(suite: u8, ctx: usize, key16: usize): void {
  store<u8>(ctx, suite);
  store<i32>(ctx + N, 0);
  memory.fill(ctx + X, 0, 16);
  blockExpandKey(suite, key16, ctx + RK);
}

export function cmacUpdate(ctx: usize, data: usize, len: i32): void {
  const suite = load<u8>(ctx);
  let have = load<i32>(ctx + N);
  let n = len;
  while (n > 0) {
    if (have == 16) {
      // more data follows, so the held block is not the last: chain it (§6.2 step 6)
      xor16(ctx + X, ctx + X, ctx + BUF);
      blockEncrypt(suite, ctx + RK, ctx + X, ctx + X);
      have = 0;
    }
    const take = min(16 - have, n);
    memory.copy(ctx + BUF + <usize>have, data, <usize>take);
    have += take;
    data += <usize>take;
    n -= take;
  }
  store<i32>(ctx + N, have);
}

// §6.1 subkeys: L = E(0^128); K1 = L << 1 (^ R if msb); K2 = K1 << 1 (^ R if msb).
// Big-endian 128-bit doubling; the conditional XOR is done with a mask, not a branch.
function dbl(v: usize): void {
  const hi = bswap<u64>(load<u64>(v)), lo = bswap<u64>(load<u64>(v, 8));
  const r = (0 - (hi >>> 63)) & 0x87;
  store<u64>(v, bswap<u64>((hi << 1) | (lo >>> 63)));
  store<u64>(v, bswap<u64>((lo << 1) ^ r), 8);
}

export function cmacFinal(ctx: usize, out16: usize): void {
  const suite = load<u8>(ctx);
  const have = load<i32>(ctx + N);
  memory.fill(SUB, 0, 16);
  blockEncrypt(suite, ctx + RK, SUB, SUB);
  dbl(SUB);
  const buf = ctx + BUF;
  if (have < 16) {
    // §6.2 step 4: incomplete (or empty) last block gets 10* padding and K2
    store<u8>(buf + <usize>have, 0x80);
    memory.fill(buf + <usize>have + 1, 0, <usize>(15 - have));
    dbl(SUB);
  }
  xor16(buf, buf, SUB);
  xor16(ctx + X, ctx + X, buf);
  blockEncrypt(suite, ctx + RK, ctx + X, out16);
  memory.fill(SUB, 0, 16);
}

const ONE = memory.data(CMAC_CTX_SIZE, 8);
export function cmac(suite: u8, key16: usize, msg: usize, len: i32, out16: usize): void {
  cmacInit(suite, ONE, key16);
  cmacUpdate(ONE, msg, len);
  cmacFinal(ONE, out16);
  memory.fill(ONE, 0, CMAC_CTX_SIZE);
}
