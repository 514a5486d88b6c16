// SHA-256 (FIPS 180-4 §6.2), incremental and one-shot. Padding and buffering are shared
// with SM3 in _md.ts. Raw pointers, a static 64-word schedule, no allocation, never throws.
import { MD_CTX_SIZE, mdInit, mdUpdate, mdFinal, mdOnce } from "./_md";

export const SHA256_CTX_SIZE: i32 = MD_CTX_SIZE;

// §5.3.3 initial hash value H(0)
const IV = memory.data<u32>([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
// §4.2.2 round constants K0..K63
const K = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
// §6.2.2 message schedule W0..W63
const W = memory.data(64 * 4, 4);

export function sha256Compress(st: usize, block: usize): void {
  for (let j: usize = 0; j < 64; j += 4) store<u32>(W + j, bswap<u32>(load<u32>(block + j)));
  for (let j: usize = 64; j < 256; j += 4) {
    const w = W + j;
    const w15 = load<u32>(w - 60), w2 = load<u32>(w - 8);
    const s0 = rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >>> 3);
    const s1 = rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >>> 10);
    store<u32>(w, s1 + load<u32>(w - 28) + s0 + load<u32>(w - 64));
  }
  let a = load<u32>(st), b = load<u32>(st, 4), c = load<u32>(st, 8), d = load<u32>(st, 12);
  let e = load<u32>(st, 16), f = load<u32>(st, 20), g = load<u32>(st, 24), h = load<u32>(st, 28);
  for (let j: usize = 0; j < 256; j += 4) {
    const t1 = h + (rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25)) + ((e & f) ^ (~e & g))
      + load<u32>(K + j) + load<u32>(W + j);
    const t2 = (rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g; g = f; f = e; e = d + t1;
    d = c; c = b; b = a; a = t1 + t2;
  }
  store<u32>(st, a + load<u32>(st)); store<u32>(st, b + load<u32>(st, 4), 4);
  store<u32>(st, c + load<u32>(st, 8), 8); store<u32>(st, d + load<u32>(st, 12), 12);
  store<u32>(st, e + load<u32>(st, 16), 16); store<u32>(st, f + load<u32>(st, 20), 20);
  store<u32>(st, g + load<u32>(st, 24), 24); store<u32>(st, h + load<u32>(st, 28), 28);
}

export function sha256Init(ctx: usize): void { mdInit(ctx, IV); }
export function sha256Update(ctx: usize, data: usize, len: i32): void { mdUpdate(ctx, data, len, sha256Compress); }
export function sha256Final(ctx: usize, out32: usize): void { mdFinal(ctx, out32, sha256Compress); }

export function sha256(data: usize, len: i32, out32: usize): void { mdOnce(IV, data, len, out32, sha256Compress); }
