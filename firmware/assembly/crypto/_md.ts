// Merkle–Damgård buffering shared by SM3 (GB/T 32905 §5.2–5.3) and SHA-256 (FIPS 180-4 §5.1.1,
// §6.2): both hash 64-byte blocks, pad with 0x80, zeros and the 64-bit big-endian bit length,
// and output eight big-endian 32-bit words. Only the compression function differs, so it is
// passed in. Raw pointers, no allocation, never throws.
//
// Context layout (MD_CTX_SIZE bytes, caller-provided):
//   [0, 32)   chaining state, 8 x u32 (host order)
//   [32, 96)  partial block
//   [96, 104) total bytes absorbed (u64)

export const MD_CTX_SIZE: i32 = 104;
const BUF: usize = 32;
const TOTAL: usize = 96;

export type Compress = (state: usize, block: usize) => void;

export function mdInit(ctx: usize, iv: usize): void {
  memory.copy(ctx, iv, 32);
  store<u64>(ctx + TOTAL, 0);
}

export function mdUpdate(ctx: usize, data: usize, len: i32, compress: Compress): void {
  if (len <= 0) return;
  const total = load<u64>(ctx + TOTAL);
  store<u64>(ctx + TOTAL, total + <u64>len);
  let have = <i32>(total & 63);
  let n = len;
  if (have != 0) {
    const take = min(64 - have, n);
    memory.copy(ctx + BUF + <usize>have, data, <usize>take);
    data += <usize>take;
    n -= take;
    have += take;
    if (have < 64) return;
    compress(ctx, ctx + BUF);
  }
  while (n >= 64) {
    compress(ctx, data);
    data += 64;
    n -= 64;
  }
  if (n > 0) memory.copy(ctx + BUF, data, <usize>n);
}

export function mdFinal(ctx: usize, out32: usize, compress: Compress): void {
  const total = load<u64>(ctx + TOTAL);
  let have = <usize>(total & 63);
  const buf = ctx + BUF;
  store<u8>(buf + have, 0x80);
  have++;
  if (have > 56) {
    memory.fill(buf + have, 0, 64 - have);
    compress(ctx, buf);
    have = 0;
  }
  memory.fill(buf + have, 0, 56 - have);
  store<u64>(buf + 56, bswap<u64>(total << 3));
  compress(ctx, buf);
  for (let i: usize = 0; i < 32; i += 4) store<u32>(out32 + i, bswap<u32>(load<u32>(ctx + i)));
}

// One-shot over a private static context: the hash of `len` bytes at `data`.
const ONE = memory.data(MD_CTX_SIZE, 8);
export function mdOnce(iv: usize, data: usize, len: i32, out32: usize, compress: Compress): void {
  mdInit(ONE, iv);
  mdUpdate(ONE, data, len, compress);
  mdFinal(ONE, out32, compress);
}
