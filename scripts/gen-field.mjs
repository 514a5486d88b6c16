// Generates the unrolled 256-bit field code and the curve constant blocks for the
// firmware's elliptic-curve crypto (DESIGN.md §3; special-prime reduction: SPEC §2):
//   firmware/assembly/crypto/field-mont.ts    straight-line multiply/square (8 x 32-bit
//                                             limbs in u64 locals): for the two primes a
//                                             schoolbook product with a reduction specialized
//                                             to the prime (or CIOS Montgomery, see SOLINAS),
//                                             CIOS Montgomery with constant limbs for the two
//                                             group orders, plus a generic CIOS whose modulus
//                                             is read from memory
//   firmware/assembly/crypto/field-consts.ts  per-curve constant blocks (modulus, R, R^2,
//                                             exponent m-2, n0', b and G in the field's form)
// Why generated: AssemblyScript has no u128 and bounds-checked arrays are ~20x slower
// than straight-line code over locals; writing 128 multiply-accumulate lines by hand is
// where bugs hide. test/crypto-ec-gen.test.ts regenerates into a temp dir and asserts
// the committed files are current.
//
// Usage: node scripts/gen-field.mjs [outDir]   (default firmware/assembly/crypto)
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;
const outDir = process.argv[2] ?? join(ROOT, "firmware/assembly/crypto");

// Curve parameters. P-256: FIPS 186-4 D.1.2.3 / SEC 2 secp256r1.
// SM2: GB/T 32918.5-2017 (GM/T 0003.5) recommended 256-bit curve. Both have a = -3.
const CURVES = {
  P256: {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
  },
  SM2: {
    p: 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn,
    n: 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n,
    b: 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n,
    gx: 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n,
    gy: 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n,
  },
};

const M32 = 0xffffffffn;
const R = 1n << 256n;
const limbs = (x) => Array.from({ length: 8 }, (_, i) => Number((x >> BigInt(32 * i)) & M32));
const hex = (v) => "0x" + v.toString(16).padStart(8, "0");
const mod = (a, m) => ((a % m) + m) % m;
function inv32(x) {
  // -x^-1 mod 2^32 by Newton iteration (x odd)
  let y = 1n;
  for (let i = 0; i < 6; i++) y = (y * (2n - x * y)) & M32;
  return Number((-y) & M32);
}

// Field block layout (bytes), shared with field.ts (FB_* constants there).
const FIELD_BLOCK = 160; // modulus 0, one(R) 32, R^2 64, m-2 96, n0' 128, kind 132
// rf: the field's representation factor, R = 2^256 (Montgomery) or 1 (plain residues)
function fieldBlock(m, kind, rf = R) {
  const w = [...limbs(m), ...limbs(rf % m), ...limbs((rf * rf) % m), ...limbs(m - 2n), inv32(m & M32), kind];
  while (w.length < FIELD_BLOCK / 4) w.push(0);
  return w;
}
// Curve block: field p at 0, field n at 160, then Montgomery b, Gx, Gy (CB_* in field.ts).
function curveBlock(c, kindP, kindN, plain) {
  const rf = plain ? 1n : R;
  const toM = (x) => limbs(mod(x * rf, c.p));
  return [...fieldBlock(c.p, kindP, rf), ...fieldBlock(c.n, kindN), ...toM(c.b), ...toM(c.gx), ...toM(c.gy)];
}

// ---- code generation -------------------------------------------------------------
// `mulBy(pj, m)` returns an expression for m * pj (m < 2^32, result < 2^64) that uses
// the special limbs of the two primes (0, 1, 2^32-1, 2^32-2) to avoid multiplies.
function mulBy(pj, m) {
  if (pj === null) return null;
  if (pj === 0) return "";
  if (pj === 1) return ` + ${m}`;
  if (pj === 0xffffffff) return ` + ((${m} << 32) - ${m})`;
  if (pj === 0xfffffffe) return ` + ((${m} << 32) - (${m} << 1))`;
  return ` + ${m} * ${hex(pj)}`;
}

// Body of a CIOS Montgomery multiplication r = a*b*R^-1 mod m (operands < m, result < m).
// `pl` is the modulus limbs (numbers) or null for a modulus read from memory into p0..p7;
// `n0` is n0' or null (read from memory).
function ciosBody(pl, n0) {
  const L = [];
  for (let j = 0; j < 8; j++) L.push(`  const a${j} = <u64>load<u32>(a, ${4 * j});`);
  for (let j = 0; j < 8; j++) L.push(`  const b${j} = <u64>load<u32>(b, ${4 * j});`);
  if (!pl) {
    for (let j = 0; j < 8; j++) L.push(`  const p${j} = <u64>load<u32>(mod, ${4 * j});`);
    L.push(`  const n0 = <u64>load<u32>(mod, 128);`);
  }
  L.push(`  let t0: u64 = 0, t1: u64 = 0, t2: u64 = 0, t3: u64 = 0, t4: u64 = 0, t5: u64 = 0, t6: u64 = 0, t7: u64 = 0, t8: u64 = 0;`);
  L.push(`  let c: u64, m: u64, x: u64;`);
  const B = (i) => `b${i}`;
  for (let i = 0; i < 8; i++) {
    L.push(`  // limb ${i}: t += a * b${i}; t = (t + m*p) / 2^32`);
    // t += a * b_i
    L.push(`  x = t0 + a0 * ${B(i)}; t0 = x & 0xffffffff; c = x >> 32;`);
    for (let j = 1; j < 8; j++) L.push(`  x = t${j} + a${j} * ${B(i)} + c; t${j} = x & 0xffffffff; c = x >> 32;`);
    L.push(`  x = t8 + c; t8 = x & 0xffffffff; const h${i} = x >> 32;`);
    // m = t0 * n0' mod 2^32
    if (n0 === 1) L.push(`  m = t0;`);
    else if (n0 !== null) L.push(`  m = (t0 * ${hex(n0)}) & 0xffffffff;`);
    else L.push(`  m = (t0 * n0) & 0xffffffff;`);
    // t += m * p, shift down one limb
    const term = (j) => (pl ? mulBy(pl[j], "m") : ` + m * p${j}`);
    // n0' = 1 and p0 = 2^32 - 1 (both primes): t0 + t0 (2^32 - 1) = t0 2^32, so the carry is m
    if (pl && n0 === 1 && pl[0] === 0xffffffff) L.push(`  c = m;`);
    else L.push(`  c = (t0${term(0)}) >> 32;`);
    for (let j = 1; j < 8; j++) L.push(`  x = t${j}${term(j)} + c; t${j - 1} = x & 0xffffffff; c = x >> 32;`);
    L.push(`  x = t8 + c; t7 = x & 0xffffffff; t8 = h${i} + (x >> 32);`);
  }
  // Result t < 2m: subtract m once, keep the difference unless it borrowed and t8 == 0.
  L.push(`  // constant-time final subtraction: keep t - m unless it borrows (and t < 2^256)`);
  const P = (j) => (pl ? hex(pl[j]) : `p${j}`);
  L.push(`  x = t0 - ${P(0)}; const d0 = x & 0xffffffff; c = (x >> 32) & 1;`);
  for (let j = 1; j < 8; j++) L.push(`  x = t${j} - ${P(j)} - c; const d${j} = x & 0xffffffff; c = (x >> 32) & 1;`);
  // keep t (mask all ones) iff borrow c == 1 and t8 == 0
  L.push(`  const keep = <u32>(0 - (c & (t8 ^ 1)));`);
  for (let j = 0; j < 8; j++) L.push(`  store<u32>(r, (<u32>d${j} & ~keep) | (<u32>t${j} & keep), ${4 * j});`);
  return L.join("\n");
}

// Additions and subtractions run on 4 x 64-bit limbs, carries and borrows from unsigned
// comparisons (i64.lt_u: a flag, no branch): half the steps of 32-bit limbs (SPEC §2, README "Benchmarks").
const limbs64 = (x) => Array.from({ length: 4 }, (_, i) => (x >> BigInt(64 * i)) & 0xffffffffffffffffn);
const hex64 = (v) => "0x" + v.toString(16).padStart(16, "0");
// `pm`: the modulus as a bigint (constant limbs), or null to read it from `mod`
const modLimb = (pm, j) => (pm === null ? `load<u64>(mod, ${8 * j})` : hex64(limbs64(pm)[j]));

// r = a + b mod m (a, b < m): add, subtract m, keep the sum only if that borrowed and
// the addition did not carry out of 256 bits. Constant time.
function addBody(pm) {
  const L = [];
  for (let j = 0; j < 4; j++) L.push(`  const a${j} = load<u64>(a, ${8 * j}), b${j} = load<u64>(b, ${8 * j});`);
  L.push(`  let c: u64, k: u64, t: u64;`);
  L.push(`  const s0 = a0 + b0; c = <u64>(s0 < a0);`);
  for (let j = 1; j < 4; j++) L.push(`  t = a${j} + b${j}; k = <u64>(t < a${j}); const s${j} = t + c; c = k | <u64>(s${j} < t);`);
  L.push(`  const top = c;`);
  L.push(`  let m: u64 = ${modLimb(pm, 0)};`);
  L.push(`  const d0 = s0 - m; c = <u64>(s0 < m);`);
  for (let j = 1; j < 4; j++) {
    L.push(`  m = ${modLimb(pm, j)}; t = s${j} - m; k = <u64>(s${j} < m); const d${j} = t - c; c = k | <u64>(t < c);`);
  }
  L.push(`  const keep: u64 = 0 - (c & (top ^ 1));`);
  for (let j = 0; j < 4; j++) L.push(`  store<u64>(r, (d${j} & ~keep) | (s${j} & keep), ${8 * j});`);
  return L.join("\n");
}
// r = a - b mod m (a, b < m): subtract, then add m masked by the borrow. Constant time.
function subBody(pm) {
  const L = [];
  for (let j = 0; j < 4; j++) L.push(`  const a${j} = load<u64>(a, ${8 * j}), b${j} = load<u64>(b, ${8 * j});`);
  L.push(`  let c: u64, k: u64, t: u64;`);
  L.push(`  const d0 = a0 - b0; c = <u64>(a0 < b0);`);
  for (let j = 1; j < 4; j++) L.push(`  t = a${j} - b${j}; k = <u64>(a${j} < b${j}); const d${j} = t - c; c = k | <u64>(t < c);`);
  L.push(`  const mask: u64 = 0 - c;`);
  L.push(`  let m: u64 = ${modLimb(pm, 0)} & mask;`);
  L.push(`  t = d0 + m; c = <u64>(t < m); store<u64>(r, t, 0);`);
  for (let j = 1; j < 4; j++) {
    L.push(`  m = ${modLimb(pm, j)} & mask; t = d${j} + m; k = <u64>(t < m); t += c; c = k | <u64>(t < c); store<u64>(r, t, ${8 * j});`);
  }
  return L.join("\n");
}

// ---- special-prime reduction (generalized Mersenne / Solinas) -------------------
// Both primes are sums of a few signed powers 2^(32j) (SM2: p = 2^256 - 2^224 - 2^96 +
// 2^64 - 1, GB/T 32918.5; P-256: p = 2^256 - 2^224 + 2^192 + 2^96 - 1, FIPS 186-4 D.2.3),
// so 2^256 = F (mod p) with F a short vector of small signed limbs, and every limb k >= 8
// of a 512-bit product folds into limbs 0..7 with small signed coefficients (V[k] below,
// derived by repeated folding and checked with BigInt here). Reduction is then column
// sums of the high limbs, two more folds of a small carry and one masked subtraction of
// p: no multiplications. Elements are plain (not Montgomery) residues in these fields.
function foldMatrix(m) {
  // signed small limbs of 2^256 mod m: write 2^256 - m as sum of +-2^(32j)
  const d = (1n << 256n) - m; // = 2^256 mod m for these primes (m > 2^255)
  const f = [];
  let v = d;
  for (let j = 0; j < 8; j++) {
    let limb = Number(v & M32);
    if (limb > 0x80000000) { limb -= 0x100000000; }
    f.push(limb);
    v = (v - BigInt(limb)) >> 32n;
  }
  if (v !== 0n || f.some((x) => Math.abs(x) > 1)) throw new Error("gen-field: not a generalized-Mersenne prime");
  const V = { 8: f.slice() };
  for (let k = 9; k < 16; k++) {
    const prev = V[k - 1], top = prev[7];
    V[k] = Array.from({ length: 8 }, (_, j) => (j > 0 ? prev[j - 1] : 0) + top * f[j]);
  }
  for (let k = 8; k < 16; k++) {
    const val = V[k].reduce((s, c, j) => s + BigInt(c) * (1n << BigInt(32 * j)), 0n);
    if (mod(val - (1n << BigInt(32 * k)), m) !== 0n) throw new Error("gen-field: fold matrix wrong");
  }
  return { f, V };
}
const coefTerm = (c, x) => {
  if (c === 0) return "";
  const a = Math.abs(c), s = c < 0 ? " - " : " + ";
  if (a === 1) return `${s}${x}`;
  if ((a & (a - 1)) === 0) return `${s}(${x} << ${Math.log2(a)})`;
  return `${s}${x} * ${a}`;
};
// 512-bit product (or square) of the limbs at a, b into u64 locals t0..t15 (32-bit values).
// normalize = false (squares only): limbs are left as 2 t_k + (a_i^2 half), below 2^34,
// for the special reduction, whose column sums take such limbs (the value is the square).
function productBody(sqr, normalize = true) {
  const L = [];
  for (let j = 0; j < 8; j++) L.push(`  const a${j} = <u64>load<u32>(a, ${4 * j});`);
  if (!sqr) for (let j = 0; j < 8; j++) L.push(`  const b${j} = <u64>load<u32>(b, ${4 * j});`);
  L.push(`  let ${Array.from({ length: 16 }, (_, i) => `t${i}: u64 = 0`).join(", ")};`);
  L.push(`  let x: u64, c: u64;`);
  if (!sqr) {
    for (let i = 0; i < 8; i++) {
      L.push(`  // row ${i}: t += a * b${i} << ${32 * i}`);
      for (let j = 0; j < 8; j++) {
        const t = `t${i + j}`;
        const lhs = i === 0 ? `a${j} * b${i}` : `${t} + a${j} * b${i}`;
        L.push(`  x = ${lhs}${j ? " + c" : ""}; ${t} = x & 0xffffffff; c = x >> 32;`);
      }
      L.push(`  t${i + 8} = c;`);
    }
  } else {
    // cross products a_i a_j (i < j) once, then double and add the squares a_i^2
    for (let i = 0; i < 7; i++) {
      L.push(`  // row ${i}: cross products a${i} * a${i + 1}..a7`);
      for (let j = i + 1; j < 8; j++) {
        const t = `t${i + j}`;
        const lhs = i === 0 ? `a${j} * a${i}` : `${t} + a${j} * a${i}`;
        L.push(`  x = ${lhs}${j > i + 1 ? " + c" : ""}; ${t} = x & 0xffffffff; c = x >> 32;`);
      }
      L.push(`  t${i + 8} = c;`);
    }
    if (!normalize) {
      L.push(`  // t = 2 t + sum a_i^2 2^(64 i), limbs left unnormalized (below 2^34)`);
      L.push(`  let sq: u64;`);
      for (let k = 0; k < 8; k++) {
        L.push(`  sq = a${k} * a${k}; t${2 * k} = (t${2 * k} << 1) + (sq & 0xffffffff); t${2 * k + 1} = (t${2 * k + 1} << 1) + (sq >> 32);`);
      }
      return L;
    }
    L.push(`  // t = 2 t + sum a_i^2 2^(64 i)`);
    L.push(`  let sq: u64, hi: u64 = 0; c = 0;`);
    for (let k = 0; k < 8; k++) {
      L.push(`  sq = a${k} * a${k};`);
      for (const [pos, part] of [[2 * k, "sq & 0xffffffff"], [2 * k + 1, "sq >> 32"]]) {
        const nhi = pos === 15 ? "" : ` hi = t${pos} >> 31;`;
        L.push(`  x = ((t${pos} << 1) & 0xffffffff) + hi + (${part}) + c;${nhi} t${pos} = x & 0xffffffff; c = x >> 32;`.replace("+ hi + (", pos === 0 ? "+ (" : "+ hi + ("));
      }
    }
    // first limb: hi is 0; fix ordering issue: hi must be read before t is overwritten (done above)
  }
  return L;
}
// reduce t0..t15 (product of two values < m) mod the special prime m; store at r
function reduceBody(m) {
  const { f, V } = foldMatrix(m);
  const pl = limbs(m);
  const L = [`  // fold limbs 8..15: column sums with the coefficients of 2^(32k) mod p`];
  L.push(`  let y: i64, d: i64 = 0;`);
  for (let j = 0; j < 8; j++) {
    let e = `<i64>t${j}`;
    for (let k = 8; k < 16; k++) e += coefTerm(V[k][j], `<i64>t${k}`);
    L.push(`  y = ${e}${j ? " + d" : ""}; const u${j} = y & 0xffffffff; d = y >> 32;`);
  }
  // two more folds of the small signed carry d (|d| < 2^8), the second one's is 0 or +-1
  for (let pass = 0; pass < 2; pass++) {
    L.push(`  // fold the carry (2^256 = F mod p)${pass ? ": no carry comes out of this one" : ""}`);
    L.push(`  const e${pass} = d; d = 0;`);
    for (let j = 0; j < 8; j++) {
      const src = pass === 0 ? `u${j}` : `v${j}`;
      const dst = pass === 0 ? `v${j}` : `w${j}`;
      L.push(`  y = ${src}${coefTerm(f[j], `e${pass}`)}${j ? " + d" : ""}; const ${dst} = y & 0xffffffff; d = y >> 32;`);
    }
  }
  L.push(`  // constant-time final subtraction on 64-bit limbs: the value is below 2^256 < 2p`);
  for (let j = 0; j < 4; j++) L.push(`  const W${j} = <u64>w${2 * j} | (<u64>w${2 * j + 1} << 32);`);
  L.push(`  let z: u64, k: u64, bw: u64;`);
  L.push(`  const s0 = W0 - ${hex64(limbs64(m)[0])}; bw = <u64>(W0 < ${hex64(limbs64(m)[0])});`);
  for (let j = 1; j < 4; j++) {
    const P = hex64(limbs64(m)[j]);
    L.push(`  z = W${j} - ${P}; k = <u64>(W${j} < ${P}); const s${j} = z - bw; bw = k | <u64>(z < bw);`);
  }
  L.push(`  const keep: u64 = 0 - bw;`);
  for (let j = 0; j < 4; j++) L.push(`  store<u64>(r, (s${j} & ~keep) | (W${j} & keep), ${8 * j});`);
  return L;
}
// Montgomery squaring for a constant modulus (the group orders): the square with its cross
// products once (productBody), then word-by-word Montgomery reduction (SOS, Koc-Acar-Kaliski
// 1996): 36 + 64 multiplications instead of CIOS's 128.
function montSqrBody(m) {
  const pl = limbs(m), n0 = inv32(m & M32);
  const L = productBody(true);
  L.push(`  let q: u64, ov: u64 = 0;`);
  for (let i = 0; i < 8; i++) {
    L.push(`  // reduce limb ${i}: t += q m << ${32 * i}, q = t${i} n0' mod 2^32 (t${i} becomes 0)`);
    L.push(`  q = (t${i} * ${hex(n0)}) & 0xffffffff;`);
    L.push(`  c = (t${i}${mulBy(pl[0], "q")}) >> 32;`);
    for (let j = 1; j < 8; j++) L.push(`  x = t${i + j}${mulBy(pl[j], "q")} + c; t${i + j} = x & 0xffffffff; c = x >> 32;`);
    L.push(`  x = t${i + 8} + c + ov; t${i + 8} = x & 0xffffffff; ov = x >> 32;`);
  }
  L.push(`  // t8..t15 + ov 2^256 < 2m: subtract m once, constant time`);
  L.push(`  x = t8 - ${hex(pl[0])}; const d0 = x & 0xffffffff; c = (x >> 32) & 1;`);
  for (let j = 1; j < 8; j++) L.push(`  x = t${j + 8} - ${hex(pl[j])} - c; const d${j} = x & 0xffffffff; c = (x >> 32) & 1;`);
  L.push(`  const keep = <u32>(0 - (c & (ov ^ 1)));`);
  for (let j = 0; j < 8; j++) L.push(`  store<u32>(r, (<u32>d${j} & ~keep) | (<u32>t${j + 8} & keep), ${4 * j});`);
  return L.join("\n");
}
function solinasMul(name, m, sqr) {
  const sig = sqr ? `r: usize, a: usize` : `r: usize, a: usize, b: usize`;
  return `export function ${name}(${sig}): void {\n${[...productBody(sqr, !sqr), ...reduceBody(m)].join("\n")}\n}\n`;
}

// Which prime fields use the special reduction (plain residues) instead of Montgomery
// multiplication. Measured with bench/crypto.ts (SPEC §2, README "Benchmarks").
const SOLINAS = { P256: true, SM2: true };

function genMont() {
  const out = [];
  out.push(`// GENERATED by scripts/gen-field.mjs — do not edit; run \`node scripts/gen-field.mjs\`.`);
  out.push(`// Unrolled 8 x 32-bit-limb field multiplication for the two curves:`);
  out.push(`// - the P-256 prime (FIPS 186-4 D.1.2.3) and the SM2 prime (GB/T 32918.5): schoolbook`);
  out.push(`//   product (squares with the cross products once) and reduction specialized to the`);
  out.push(`//   generalized-Mersenne prime (FIPS 186-4 D.2.3 for P-256), on plain residues; or CIOS`);
  out.push(`//   Montgomery multiplication (Koc-Acar-Kaliski 1996) where SOLINAS in the generator is off;`);
  out.push(`// - the group orders n: CIOS Montgomery with the order's limbs as constants;`);
  out.push(`// Constant time: no branches or memory indices depend on operand values.`);
  out.push(`// Operands are little-endian u32 limbs at a, b; result at r (may alias a or b); all < m.`);
  out.push(``);
  const P256 = limbs(CURVES.P256.p), SM2 = limbs(CURVES.SM2.p);
  for (const [name, c, pl] of [["P256", CURVES.P256, P256], ["Sm2", CURVES.SM2, SM2]]) {
    if (SOLINAS[name.toUpperCase()]) {
      out.push(solinasMul(`fieldMul${name}`, c.p, false));
      out.push(solinasMul(`fieldSqr${name}`, c.p, true));
    } else {
      out.push(`export function fieldMul${name}(r: usize, a: usize, b: usize): void {\n${ciosBody(pl, inv32(c.p & M32))}\n}\n`);
      out.push(`export function fieldSqr${name}(r: usize, a: usize): void { fieldMul${name}(r, a, a); }\n`);
    }
    out.push(`export function montMul${name}N(r: usize, a: usize, b: usize): void {\n${ciosBody(limbs(c.n), inv32(c.n & M32))}\n}\n`);
    out.push(`export function montSqr${name}N(r: usize, a: usize): void {\n${montSqrBody(c.n)}\n}\n`);
  }
  out.push(`// mod: a field block (modulus limbs at 0, n0' at 128), see field-consts.ts`);
  out.push(`export function modAdd(r: usize, a: usize, b: usize, mod: usize): void {\n${addBody(null)}\n}\n`);
  out.push(`export function modSub(r: usize, a: usize, b: usize, mod: usize): void {\n${subBody(null)}\n}\n`);
  for (const [name, pl] of [["P256", CURVES.P256.p], ["Sm2", CURVES.SM2.p]]) {
    out.push(`export function modAdd${name}(r: usize, a: usize, b: usize): void {\n${addBody(pl)}\n}\n`);
    out.push(`export function modSub${name}(r: usize, a: usize, b: usize): void {\n${subBody(pl)}\n}\n`);
  }
  return out.join("\n");
}

function genConsts() {
  const out = [];
  out.push(`// GENERATED by scripts/gen-field.mjs — do not edit; run \`node scripts/gen-field.mjs\`.`);
  out.push(`// Curve constant blocks, little-endian u32 limbs. Layout (bytes): field block of p at 0`);
  out.push(`// and of n at ${FIELD_BLOCK} (each: modulus, R mod m, R^2 mod m, m-2, n0' = -m^-1 mod 2^32,`);
  out.push(`// kind), then b, Gx, Gy in the p field's form (x*R mod p; R = 2^256 for a Montgomery`);
  out.push(`// field, R = 1 where the prime has its special reduction) at ${2 * FIELD_BLOCK}, ${2 * FIELD_BLOCK + 32}, ${2 * FIELD_BLOCK + 64}.`);
  out.push(`// P-256: FIPS 186-4 D.1.2.3. SM2: GB/T 32918.5-2017 recommended curve.`);
  out.push(``);
  out.push(`// field kind: which unrolled multiplier serves this modulus`);
  out.push(`export const FIELD_KIND_P256: u32 = 1;`);
  out.push(`export const FIELD_KIND_SM2: u32 = 2;`);
  out.push(`export const FIELD_KIND_P256_N: u32 = 3;`);
  out.push(`export const FIELD_KIND_SM2_N: u32 = 4;`);
  const emit = (name, words) => {
    const rows = [];
    for (let i = 0; i < words.length; i += 8) rows.push("  " + words.slice(i, i + 8).map(hex).join(", ") + ",");
    out.push(`export const ${name}: usize = memory.data<u32>([\n${rows.join("\n")}\n], 16);`);
  };
  emit("CURVE_P256", curveBlock(CURVES.P256, 1, 3, SOLINAS.P256));
  emit("CURVE_SM2", curveBlock(CURVES.SM2, 2, 4, SOLINAS.SM2));
  return out.join("\n") + "\n";
}

mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "field-mont.ts"), genMont());
writeFileSync(join(outDir, "field-consts.ts"), genConsts());
