// AES-128 (FIPS 197): key expansion (§5.2), cipher (§5.1) and the equivalent inverse cipher
// (§5.3.5) on one 16-byte block. State columns are little-endian u32 words (row r in byte r),
// so a byte in row r of a column contributes rotl(TE[x], 8r) to the round output. The S-box
// and the two 1 KiB round tables are computed at first use (no 4 KiB of constants in the
// binary). Table lookups depend on data, as in any table AES; see sm4.ts for the same caveat.
// Raw pointers, no allocation, never throws.

// [0, 176) encryption round keys w0..w43; [176, 352) decryption round keys for §5.3.5
export const AES_RK_SIZE: i32 = 352;
const DEC: usize = 176;

const SB = memory.data(256);       // S-box (§5.1.1)
const ISB = memory.data(256);      // inverse S-box (§5.3.2)
const TE = memory.data(1024, 4);   // SubBytes + MixColumns of a row-0 byte: (2s, s, s, 3s)
const TD = memory.data(1024, 4);   // InvSubBytes + InvMixColumns: (14s', 9s', 13s', 11s')
let ready = false;

// @ts-ignore: decorator
@inline function xtime(b: u32): u32 { return ((b << 1) ^ ((b >>> 7) * 0x1b)) & 0xff; }

function init(): void {
  // S-box by walking GF(2^8)* with generator 3: p = 3^k, q = 3^-k = p^-1, then the affine map
  let p: u32 = 1, q: u32 = 1;
  do {
    p = (p ^ xtime(p)) & 0xff;
    q ^= q << 1; q ^= q << 2; q ^= q << 4; q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    const x = q ^ (q << 1) ^ (q << 2) ^ (q << 3) ^ (q << 4);
    store<u8>(SB + p, <u8>((x ^ (x >>> 8) ^ 0x63) & 0xff));
  } while (p != 1);
  store<u8>(SB, 0x63);
  for (let i: u32 = 0; i < 256; i++) store<u8>(ISB + <usize>load<u8>(SB + i), <u8>i);
  for (let i: usize = 0; i < 256; i++) {
    const s = <u32>load<u8>(SB + i), s2 = xtime(s);
    store<u32>(TE + (i << 2), s2 | (s << 8) | (s << 16) | ((s2 ^ s) << 24));
    const t = <u32>load<u8>(ISB + i), t2 = xtime(t), t4 = xtime(t2), t8 = xtime(t4);
    store<u32>(TD + (i << 2), (t8 ^ t4 ^ t2) | ((t8 ^ t) << 8) | ((t8 ^ t4 ^ t) << 16) | ((t8 ^ t2 ^ t) << 24));
  }
  ready = true;
}

// @ts-ignore: decorator
@inline function sub(w: u32): u32 {
  return <u32>load<u8>(SB + (w & 0xff)) | (<u32>load<u8>(SB + ((w >>> 8) & 0xff)) << 8)
    | (<u32>load<u8>(SB + ((w >>> 16) & 0xff)) << 16) | (<u32>load<u8>(SB + (w >>> 24)) << 24);
}

// One output column of a full round: rows 0..3 taken from columns a, b, c, d.
// @ts-ignore: decorator
@inline function col(tab: usize, a: u32, b: u32, c: u32, d: u32): u32 {
  return load<u32>(tab + ((a & 0xff) << 2)) ^ rotl<u32>(load<u32>(tab + (((b >>> 8) & 0xff) << 2)), 8)
    ^ rotl<u32>(load<u32>(tab + (((c >>> 16) & 0xff) << 2)), 16) ^ rotl<u32>(load<u32>(tab + ((d >>> 24) << 2)), 24);
}

// One output column of the last round (no MixColumns): S-box bytes only.
// @ts-ignore: decorator
@inline function last(sb: usize, a: u32, b: u32, c: u32, d: u32): u32 {
  return <u32>load<u8>(sb + (a & 0xff)) | (<u32>load<u8>(sb + ((b >>> 8) & 0xff)) << 8)
    | (<u32>load<u8>(sb + ((c >>> 16) & 0xff)) << 16) | (<u32>load<u8>(sb + (d >>> 24)) << 24);
}

// §5.2 KeyExpansion for Nk = 4, then §5.3.5: decryption keys in reverse round order with
// InvMixColumns applied to rounds 1..9 (InvMixColumns(w) = col(TD, S(w)) since TD[S[x]] is x's
// InvMixColumns contribution).
export function aesExpandKey(key16: usize, rk: usize): void {
  if (!ready) init();
  memory.copy(rk, key16, 16);
  let rcon: u32 = 1;
  for (let i: usize = 16; i < 176; i += 4) {
    let t = load<u32>(rk + i - 4);
    if ((i & 15) == 0) {
      t = sub(rotr<u32>(t, 8)) ^ rcon; // RotWord then SubWord, Rcon in row 0
      rcon = xtime(rcon);
    }
    store<u32>(rk + i, load<u32>(rk + i - 16) ^ t);
  }
  const dk = rk + DEC;
  memory.copy(dk, rk + 160, 16);
  memory.copy(dk + 160, rk, 16);
  for (let r: usize = 1; r < 10; r++) {
    for (let c: usize = 0; c < 16; c += 4) {
      const s = sub(load<u32>(rk + 160 - (r << 4) + c));
      store<u32>(dk + (r << 4) + c, col(TD, s, s, s, s));
    }
  }
}

// The 10 rounds over either table set. Decryption is the same code with state and round-key
// columns 1 and 3 swapped: with u = (s0, s3, s2, s1), InvShiftRows' pattern (row r of column c
// from column c - r) becomes ShiftRows' pattern (from column c + r). o1/o3 are the byte offsets
// of columns 1 and 3 (4/12 to encrypt, 12/4 to decrypt).
// @ts-ignore: decorator
@inline function rounds(k: usize, tab: usize, sb: usize, o1: usize, o3: usize, in16: usize, out16: usize): void {
  let s0 = load<u32>(in16) ^ load<u32>(k), s1 = load<u32>(in16 + o1) ^ load<u32>(k + o1);
  let s2 = load<u32>(in16, 8) ^ load<u32>(k, 8), s3 = load<u32>(in16 + o3) ^ load<u32>(k + o3);
  const end = k + 160;
  for (k += 16; k < end; k += 16) {
    const t0 = col(tab, s0, s1, s2, s3) ^ load<u32>(k), t1 = col(tab, s1, s2, s3, s0) ^ load<u32>(k + o1);
    const t2 = col(tab, s2, s3, s0, s1) ^ load<u32>(k, 8), t3 = col(tab, s3, s0, s1, s2) ^ load<u32>(k + o3);
    s0 = t0; s1 = t1; s2 = t2; s3 = t3;
  }
  store<u32>(out16, last(sb, s0, s1, s2, s3) ^ load<u32>(k));
  store<u32>(out16 + o1, last(sb, s1, s2, s3, s0) ^ load<u32>(k + o1));
  store<u32>(out16, last(sb, s2, s3, s0, s1) ^ load<u32>(k, 8), 8);
  store<u32>(out16 + o3, last(sb, s3, s0, s1, s2) ^ load<u32>(k + o3));
}

export function aesEncryptBlock(rk: usize, in16: usize, out16: usize): void {
  if (!ready) init();
  rounds(rk, TE, SB, 4, 12, in16, out16);
}

export function aesDecryptBlock(rk: usize, in16: usize, out16: usize): void {
  if (!ready) init();
  rounds(rk + DEC, TD, ISB, 12, 4, in16, out16);
}
