// SM4 block cipher (GB/T 32907-2016, also GM/T 0002-2012): key expansion (§7.3), encryption
// and decryption (§7.1–7.2) of one 16-byte block. The round function uses one 1 KiB table
// T[x] = L(Sbox(x) << 24), built once from the S-box (§6.2) at first use, and rotations for
// the other three bytes (L is linear, §6.2 (b)). Table lookups depend on data: on real
// hardware this would sit behind the SE's masked SM4 engine; here speed is the brief.
// Raw pointers, no allocation, never throws.

// rk_0..rk_31 as u32
export const SM4_RK_SIZE: i32 = 128;

// §6.2 S-box
const SBOX = memory.data<u8>([
  0xd6, 0x90, 0xe9, 0xfe, 0xcc, 0xe1, 0x3d, 0xb7, 0x16, 0xb6, 0x14, 0xc2, 0x28, 0xfb, 0x2c, 0x05,
  0x2b, 0x67, 0x9a, 0x76, 0x2a, 0xbe, 0x04, 0xc3, 0xaa, 0x44, 0x13, 0x26, 0x49, 0x86, 0x06, 0x99,
  0x9c, 0x42, 0x50, 0xf4, 0x91, 0xef, 0x98, 0x7a, 0x33, 0x54, 0x0b, 0x43, 0xed, 0xcf, 0xac, 0x62,
  0xe4, 0xb3, 0x1c, 0xa9, 0xc9, 0x08, 0xe8, 0x95, 0x80, 0xdf, 0x94, 0xfa, 0x75, 0x8f, 0x3f, 0xa6,
  0x47, 0x07, 0xa7, 0xfc, 0xf3, 0x73, 0x17, 0xba, 0x83, 0x59, 0x3c, 0x19, 0xe6, 0x85, 0x4f, 0xa8,
  0x68, 0x6b, 0x81, 0xb2, 0x71, 0x64, 0xda, 0x8b, 0xf8, 0xeb, 0x0f, 0x4b, 0x70, 0x56, 0x9d, 0x35,
  0x1e, 0x24, 0x0e, 0x5e, 0x63, 0x58, 0xd1, 0xa2, 0x25, 0x22, 0x7c, 0x3b, 0x01, 0x21, 0x78, 0x87,
  0xd4, 0x00, 0x46, 0x57, 0x9f, 0xd3, 0x27, 0x52, 0x4c, 0x36, 0x02, 0xe7, 0xa0, 0xc4, 0xc8, 0x9e,
  0xea, 0xbf, 0x8a, 0xd2, 0x40, 0xc7, 0x38, 0xb5, 0xa3, 0xf7, 0xf2, 0xce, 0xf9, 0x61, 0x15, 0xa1,
  0xe0, 0xae, 0x5d, 0xa4, 0x9b, 0x34, 0x1a, 0x55, 0xad, 0x93, 0x32, 0x30, 0xf5, 0x8c, 0xb1, 0xe3,
  0x1d, 0xf6, 0xe2, 0x2e, 0x82, 0x66, 0xca, 0x60, 0xc0, 0x29, 0x23, 0xab, 0x0d, 0x53, 0x4e, 0x6f,
  0xd5, 0xdb, 0x37, 0x45, 0xde, 0xfd, 0x8e, 0x2f, 0x03, 0xff, 0x6a, 0x72, 0x6d, 0x6c, 0x5b, 0x51,
  0x8d, 0x1b, 0xaf, 0x92, 0xbb, 0xdd, 0xbc, 0x7f, 0x11, 0xd9, 0x5c, 0x41, 0x1f, 0x10, 0x5a, 0xd8,
  0x0a, 0xc1, 0x31, 0x88, 0xa5, 0xcd, 0x7b, 0xbd, 0x2d, 0x74, 0xd0, 0x12, 0xb8, 0xe5, 0xb4, 0xb0,
  0x89, 0x69, 0x97, 0x4a, 0x0c, 0x96, 0x77, 0x7e, 0x65, 0xb9, 0xf1, 0x09, 0xc5, 0x6e, 0xc6, 0x84,
  0x18, 0xf0, 0x7d, 0xec, 0x3a, 0xdc, 0x4d, 0x20, 0x79, 0xee, 0x5f, 0x3e, 0xd7, 0xcb, 0x39, 0x48,
]);

// §7.3 system parameter FK
const FK = memory.data<u32>([0xa3b1bac6, 0x56aa3350, 0x677d9197, 0xb27022dc]);

// T[x] = L(Sbox(x) << 24), L(B) = B ^ (B <<< 2) ^ (B <<< 10) ^ (B <<< 18) ^ (B <<< 24).
// One table plus rotations: a block is a chain of 32 dependent lookups (latency-bound), and
// four pre-rotated tables measured no faster here while costing 3 KiB more RAM.
const T = memory.data(256 * 4, 4);
let tReady = false;

function initT(): void {
  for (let x: usize = 0; x < 256; x++) {
    const b = <u32>load<u8>(SBOX + x) << 24;
    store<u32>(T + (x << 2), b ^ rotl<u32>(b, 2) ^ rotl<u32>(b, 10) ^ rotl<u32>(b, 18) ^ rotl<u32>(b, 24));
  }
  tReady = true;
}

// tau (§6.2 (a)): the S-box on each byte
// @ts-ignore: decorator
@inline function tau(a: u32): u32 {
  return (<u32>load<u8>(SBOX + (a >>> 24)) << 24) | (<u32>load<u8>(SBOX + ((a >>> 16) & 0xff)) << 16)
    | (<u32>load<u8>(SBOX + ((a >>> 8) & 0xff)) << 8) | <u32>load<u8>(SBOX + (a & 0xff));
}

// The round transform T (§6.2) through the table: byte k of the input contributes T[b] >>> 8k.
// @ts-ignore: decorator
@inline function tRound(a: u32): u32 {
  return load<u32>(T + ((a >>> 24) << 2)) ^ rotr<u32>(load<u32>(T + (((a >>> 16) & 0xff) << 2)), 8)
    ^ rotr<u32>(load<u32>(T + (((a >>> 8) & 0xff) << 2)), 16) ^ rotr<u32>(load<u32>(T + ((a & 0xff) << 2)), 24);
}

// §7.3 key expansion: K_i = MK_i ^ FK_i; rk_i = K_{i+4} = K_i ^ T'(K_{i+1} ^ K_{i+2} ^ K_{i+3} ^ CK_i)
// with T' using L'(B) = B ^ (B <<< 13) ^ (B <<< 23); CK_i byte j = (4i + j) * 7 mod 256.
export function sm4ExpandKey(key16: usize, rk: usize): void {
  let k0 = bswap<u32>(load<u32>(key16)) ^ load<u32>(FK);
  let k1 = bswap<u32>(load<u32>(key16, 4)) ^ load<u32>(FK, 4);
  let k2 = bswap<u32>(load<u32>(key16, 8)) ^ load<u32>(FK, 8);
  let k3 = bswap<u32>(load<u32>(key16, 12)) ^ load<u32>(FK, 12);
  for (let i: u32 = 0; i < 32; i++) {
    const c = i * 28;
    const ck = ((c & 0xff) << 24) | (((c + 7) & 0xff) << 16) | (((c + 14) & 0xff) << 8) | ((c + 21) & 0xff);
    const b = tau(k1 ^ k2 ^ k3 ^ ck);
    const k4 = k0 ^ b ^ rotl<u32>(b, 13) ^ rotl<u32>(b, 23);
    store<u32>(rk + (<usize>i << 2), k4);
    k0 = k1; k1 = k2; k2 = k3; k3 = k4;
  }
}

// §7.1: X_{i+4} = X_i ^ T(X_{i+1} ^ X_{i+2} ^ X_{i+3} ^ rk_i); output (X35, X34, X33, X32).
// Decryption (§7.2) is the same with the round keys in reverse order (step = -4 bytes, wrapping).
function crypt(rk: usize, step: usize, in16: usize, out16: usize): void {
  if (!tReady) initT();
  let x0 = bswap<u32>(load<u32>(in16)), x1 = bswap<u32>(load<u32>(in16, 4));
  let x2 = bswap<u32>(load<u32>(in16, 8)), x3 = bswap<u32>(load<u32>(in16, 12));
  let p = rk;
  for (let i = 0; i < 8; i++) {
    x0 ^= tRound(x1 ^ x2 ^ x3 ^ load<u32>(p)); p += step;
    x1 ^= tRound(x2 ^ x3 ^ x0 ^ load<u32>(p)); p += step;
    x2 ^= tRound(x3 ^ x0 ^ x1 ^ load<u32>(p)); p += step;
    x3 ^= tRound(x0 ^ x1 ^ x2 ^ load<u32>(p)); p += step;
  }
  store<u32>(out16, bswap<u32>(x3)); store<u32>(out16, bswap<u32>(x2), 4);
  store<u32>(out16, bswap<u32>(x1), 8); store<u32>(out16, bswap<u32>(x0), 12);
}

export function sm4EncryptBlock(rk: usize, in16: usize, out16: usize): void { crypt(rk, 4, in16, out16); }
export function sm4DecryptBlock(rk: usize, in16: usize, out16: usize): void { crypt(rk + 124, <usize>(<isize>-4), in16, out16); }
