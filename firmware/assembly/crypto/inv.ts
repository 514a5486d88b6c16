// Modular inversion by Bernstein-Yang "safegcd" divsteps (Bernstein, Yang: "Fast
// constant-time gcd computation and modular inversion", 2019), in the signed 30-bit-limb
// form of libsecp256k1's modinv32 (Wuille's "safegcd implementation" notes): 9 signed limbs
// of 30 bits per 256-bit value, transition matrices of 30 divsteps at a time in 32-bit
// arithmetic, applied with 64-bit products. For any odd modulus m < 2^256 and 0 <= a < m.
//
// Constant time (DESIGN.md §3): 20 batches of 30 divsteps (600 >= 590, enough for every
// 256-bit input), every step the same instructions with masks instead of branches, no
// memory index depends on a value. 4-8 times faster than Fermat's 256 squarings (README
// "Benchmarks"), and as fast as the variable-time divsteps here, so verification uses it too.
// 0 maps to 0, as Fermat's a^(m-2) does. Plain residues in and out: 8 little-endian u32 limbs.

const M30: i32 = 0x3fffffff;
const LIMBS: usize = 9;
const F = memory.data(40, 16);
const G = memory.data(40, 16);
const D = memory.data(40, 16);
const E = memory.data(40, 16);
const MOD = memory.data(40, 16);   // the modulus, signed 30-bit limbs
let modInv30: u32 = 0;             // m^-1 mod 2^30
// transition matrix of the last batch (entries in [-2^30, 2^30])
let tu: i32 = 0, tv: i32 = 0, tq: i32 = 0, tr: i32 = 0;

// 8 u32 limbs -> 9 signed 30-bit limbs (a < 2^256, all limbs non-negative)
function toS30(dst: usize, src: usize): void {
  let acc: u64 = 0;
  let nb: u32 = 0;
  let j: usize = 0;
  for (let i: usize = 0; i < 8; i++) {
    acc |= <u64>load<u32>(src + (i << 2)) << nb;
    nb += 32;
    while (nb >= 30) { // public: the bit counts only
      store<i32>(dst + (j << 2), <i32>(<u32>acc) & M30);
      j++;
      acc >>= 30;
      nb -= 30;
    }
  }
  store<i32>(dst + (j << 2), <i32>(<u32>acc)); // j = 8, the top 16 bits
}
// 9 limbs in [0, 2^30) with value < 2^256 -> 8 u32 limbs
function fromS30(dst: usize, src: usize): void {
  let acc: u64 = 0;
  let nb: u32 = 0;
  let j: usize = 0;
  for (let i: usize = 0; i < LIMBS; i++) {
    acc |= <u64>(<u32>load<i32>(src + (i << 2))) << nb;
    nb += 30;
    if (nb >= 32) {
      store<u32>(dst + (j << 2), <u32>acc);
      j++;
      acc >>= 32;
      nb -= 32;
    }
  }
}

function setup(m: usize, n0: u32, a: usize): void {
  toS30(MOD, m);
  modInv30 = (0 - n0) & <u32>M30; // n0 = -m^-1 mod 2^32 (the field block's n0')
  memory.copy(F, MOD, 40);
  toS30(G, a);
  memory.fill(D, 0, 40);
  memory.fill(E, 0, 40);
  store<i32>(E, 1);
}

// 30 divsteps on the low bits f0, g0 (f0 odd); zeta = -(delta + 1/2). Branch-free.
function divsteps30(zeta: i32, f0: u32, g0: u32): i32 {
  let u: u32 = 1, v: u32 = 0, q: u32 = 0, r: u32 = 1;
  let f = f0, g = g0;
  for (let i = 0; i < 30; i++) {
    let c1 = <u32>(zeta >> 31);       // all-ones if zeta < 0
    const c2 = 0 - (g & 1);            // all-ones if g odd
    const x = (f ^ c1) - c1, y = (u ^ c1) - c1, z = (v ^ c1) - c1;
    g += x & c2; q += y & c2; r += z & c2;
    c1 &= c2;                          // swap-and-negate case
    zeta = (zeta ^ <i32>c1) - 1;
    f += g & c1; u += q & c1; v += r & c1;
    g >>= 1; u <<= 1; v <<= 1;
  }
  tu = <i32>u; tv = <i32>v; tq = <i32>q; tr = <i32>r;
  return zeta;
}

// [d, e] = (t [d, e] + m [md, me]) / 2^30, with md, me chosen so the division is exact and
// d, e stay in (-2m, m) (the modinv32 update_de step). Constant time.
function updateDE(): void {
  const u = tu, v = tv, q = tq, r = tr;
  const sd = load<i32>(D, 32) >> 31, se = load<i32>(E, 32) >> 31;
  let md = (u & sd) + (v & se);
  let me = (q & sd) + (r & se);
  let di = load<i32>(D), ei = load<i32>(E);
  let cd: i64 = <i64>u * <i64>di + <i64>v * <i64>ei;
  let ce: i64 = <i64>q * <i64>di + <i64>r * <i64>ei;
  md -= <i32>((modInv30 * <u32>cd + <u32>md) & <u32>M30);
  me -= <i32>((modInv30 * <u32>ce + <u32>me) & <u32>M30);
  let mi = load<i32>(MOD);
  cd += <i64>mi * <i64>md;
  ce += <i64>mi * <i64>me;
  cd >>= 30; ce >>= 30;
  for (let i: usize = 1; i < LIMBS; i++) {
    di = load<i32>(D + (i << 2)); ei = load<i32>(E + (i << 2));
    mi = load<i32>(MOD + (i << 2));
    cd += <i64>u * <i64>di + <i64>v * <i64>ei + <i64>mi * <i64>md;
    ce += <i64>q * <i64>di + <i64>r * <i64>ei + <i64>mi * <i64>me;
    store<i32>(D + ((i - 1) << 2), <i32>cd & M30); cd >>= 30;
    store<i32>(E + ((i - 1) << 2), <i32>ce & M30); ce >>= 30;
  }
  store<i32>(D, <i32>cd, 32);
  store<i32>(E, <i32>ce, 32);
}
// [f, g] = t [f, g] / 2^30 (exact by construction of t)
function updateFG(): void {
  const u = tu, v = tv, q = tq, r = tr;
  let fi = load<i32>(F), gi = load<i32>(G);
  let cf: i64 = <i64>u * <i64>fi + <i64>v * <i64>gi;
  let cg: i64 = <i64>q * <i64>fi + <i64>r * <i64>gi;
  cf >>= 30; cg >>= 30;
  for (let i: usize = 1; i < LIMBS; i++) {
    fi = load<i32>(F + (i << 2)); gi = load<i32>(G + (i << 2));
    cf += <i64>u * <i64>fi + <i64>v * <i64>gi;
    cg += <i64>q * <i64>fi + <i64>r * <i64>gi;
    store<i32>(F + ((i - 1) << 2), <i32>cf & M30); cf >>= 30;
    store<i32>(G + ((i - 1) << 2), <i32>cg & M30); cg >>= 30;
  }
  store<i32>(F, <i32>cf, 32);
  store<i32>(G, <i32>cg, 32);
}

// D in (-2m, m), negated if sign < 0 -> [0, m), limbs in [0, 2^30). Constant time.
function normalize(sign: i32): void {
  let add = load<i32>(D, 32) >> 31;
  for (let i: usize = 0; i < LIMBS; i++) {
    store<i32>(D + (i << 2), load<i32>(D + (i << 2)) + (load<i32>(MOD + (i << 2)) & add));
  }
  const neg = sign >> 31;
  for (let i: usize = 0; i < LIMBS; i++) {
    const x = load<i32>(D + (i << 2));
    store<i32>(D + (i << 2), (x ^ neg) - neg);
  }
  carry();
  add = load<i32>(D, 32) >> 31;
  for (let i: usize = 0; i < LIMBS; i++) {
    store<i32>(D + (i << 2), load<i32>(D + (i << 2)) + (load<i32>(MOD + (i << 2)) & add));
  }
  carry();
}
function carry(): void {
  for (let i: usize = 0; i < LIMBS - 1; i++) {
    const x = load<i32>(D + (i << 2));
    store<i32>(D + ((i + 1) << 2), load<i32>(D + ((i + 1) << 2)) + (x >> 30));
    store<i32>(D + (i << 2), x & M30);
  }
}

function finish(r: usize): void {
  normalize(load<i32>(F, 32));
  fromS30(r, D);
  memory.fill(F, 0, 40); // values derived from a secret when signing
  memory.fill(G, 0, 40);
  memory.fill(D, 0, 40);
  memory.fill(E, 0, 40);
  tu = 0; tv = 0; tq = 0; tr = 0;
}

// r = a^-1 mod m (m odd, n0 = -m^-1 mod 2^32, 0 <= a < m), constant time; r may alias a
export function invCT(r: usize, a: usize, m: usize, n0: u32): void {
  setup(m, n0, a);
  let zeta: i32 = -1; // delta = 1/2
  for (let i = 0; i < 20; i++) {
    zeta = divsteps30(zeta, <u32>load<i32>(F), <u32>load<i32>(G));
    updateDE();
    updateFG();
  }
  finish(r);
}
