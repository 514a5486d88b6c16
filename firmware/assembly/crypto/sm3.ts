// SM3 cryptographic hash (GB/T 32905-2016, also GM/T 0004-2012), incremental and one-shot.
// Compression per §5.3.2 (message expansion) and §5.3.3 (compression function); padding and
// buffering are shared with SHA-256 in _md.ts. Raw pointers into linear memory, a static
// 68-word expansion buffer, no allocation, never throws.
import { MD_CTX_SIZE, mdInit, mdUpdate, mdFinal, mdOnce } from "./_md";

export const SM3_CTX_SIZE: i32 = MD_CTX_SIZE;

// §4.1 initial value IV
const IV = memory.data<u32>([
  0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e,
]);
// §4.2 constants T_j, pre-rotated: TR[j] = T_j <<< (j mod 32), as used in SS1 (§5.3.3)
const TR = memory.data(64 * 4, 4);
let trReady = false;
// W_0..W_67 (§5.3.2); W'_j = W_j ^ W_{j+4} is formed on the fly
const W = memory.data(68 * 4, 4);

function initTr(): void {
  for (let j = 0; j < 64; j++) {
    const t: u32 = j < 16 ? 0x79cc4519 : 0x7a879d8a;
    store<u32>(TR + (<usize>j << 2), rotl<u32>(t, <u32>j));
  }
  trReady = true;
}

// @ts-ignore: decorator
@inline function p0(x: u32): u32 { return x ^ rotl<u32>(x, 9) ^ rotl<u32>(x, 17); }
// @ts-ignore: decorator
@inline function p1(x: u32): u32 { return x ^ rotl<u32>(x, 15) ^ rotl<u32>(x, 23); }

export function sm3Compress(st: usize, block: usize): void {
  if (!trReady) initTr();
  for (let j: usize = 0; j < 64; j += 4) store<u32>(W + j, bswap<u32>(load<u32>(block + j)));
  for (let j: usize = 64; j < 272; j += 4) {
    const w = W + j;
    store<u32>(w, p1(load<u32>(w - 64) ^ load<u32>(w - 36) ^ rotl<u32>(load<u32>(w - 12), 15))
      ^ rotl<u32>(load<u32>(w - 52), 7) ^ load<u32>(w - 24));
  }
  let a = load<u32>(st), b = load<u32>(st, 4), c = load<u32>(st, 8), d = load<u32>(st, 12);
  let e = load<u32>(st, 16), f = load<u32>(st, 20), g = load<u32>(st, 24), h = load<u32>(st, 28);
  // rounds 0..15: FF = GG = x ^ y ^ z
  for (let j: usize = 0; j < 64; j += 4) {
    const a12 = rotl<u32>(a, 12);
    const ss1 = rotl<u32>(a12 + e + load<u32>(TR + j), 7);
    const ss2 = ss1 ^ a12;
    const wj = load<u32>(W + j);
    const tt1 = (a ^ b ^ c) + d + ss2 + (wj ^ load<u32>(W + j, 16));
    const tt2 = (e ^ f ^ g) + h + ss1 + wj;
    d = c; c = rotl<u32>(b, 9); b = a; a = tt1;
    h = g; g = rotl<u32>(f, 19); f = e; e = p0(tt2);
  }
  // rounds 16..63: FF = majority, GG = choose
  for (let j: usize = 64; j < 256; j += 4) {
    const a12 = rotl<u32>(a, 12);
    const ss1 = rotl<u32>(a12 + e + load<u32>(TR + j), 7);
    const ss2 = ss1 ^ a12;
    const wj = load<u32>(W + j);
    const tt1 = ((a & b) | (a & c) | (b & c)) + d + ss2 + (wj ^ load<u32>(W + j, 16));
    const tt2 = ((e & f) | (~e & g)) + h + ss1 + wj;
    d = c; c = rotl<u32>(b, 9); b = a; a = tt1;
    h = g; g = rotl<u32>(f, 19); f = e; e = p0(tt2);
  }
  // V_{i+1} = ABCDEFGH xor V_i
  store<u32>(st, a ^ load<u32>(st)); store<u32>(st, b ^ load<u32>(st, 4), 4);
  store<u32>(st, c ^ load<u32>(st, 8), 8); store<u32>(st, d ^ load<u32>(st, 12), 12);
  store<u32>(st, e ^ load<u32>(st, 16), 16); store<u32>(st, f ^ load<u32>(st, 20), 20);
  store<u32>(st, g ^ load<u32>(st, 24), 24); store<u32>(st, h ^ load<u32>(st, 28), 28);
}

export function sm3Init(ctx: usize): void { mdInit(ctx, IV); }
export function sm3Update(ctx: usize, data: usize, len: i32): void { mdUpdate(ctx, data, len, sm3Compress); }
export function sm3Final(ctx: usize, out32: usize): void { mdFinal(ctx, out32, sm3Compress); }

export function sm3(data: usize, len: i32, out32: usize): void { mdOnce(IV, data, len, out32, sm3Compress); }
