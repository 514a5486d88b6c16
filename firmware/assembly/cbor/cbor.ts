// Minimal deterministic CBOR (RFC 8949 §4.2.1) for the five signed documents (SPEC §5),
// AssemblyScript only, raw pointers, no allocation, never throws.
// Writer: shortest-form heads, definite lengths; callers write map keys in ascending order.
// Reader: accepts only what the writer would produce — shortest-form arguments, definite
// lengths, uint/bstr/array/map/tag items, map keys that are small uints strictly ascending,
// values < 2^32 — so a decoded document re-encodes to the very same bytes (no malleability).
// A failure sets `cborErr` and every later read returns 0; callers check it once at the end.

export const MAJOR_UINT: u8 = 0;
const MAJOR_NINT: u8 = 1;
export const MAJOR_BSTR: u8 = 2;
const MAJOR_TSTR: u8 = 3;
export const MAJOR_ARRAY: u8 = 4;
export const MAJOR_MAP: u8 = 5;
export const MAJOR_TAG: u8 = 6;

// ---------------- writer ----------------
let wp: usize = 0;
let wstart: usize = 0;
let wend: usize = 0;
let cborOverflow: bool = false;

export function cborBegin(dst: usize, cap: i32): void {
  wp = dst;
  wstart = dst;
  wend = dst + <usize>cap;
  cborOverflow = false;
}
/** Bytes written since cborBegin, or -1 when the buffer was too small. */
export function cborLength(): i32 {
  return cborOverflow ? -1 : <i32>(wp - wstart);
}
function room(n: usize): bool {
  if (wp + n > wend) {
    cborOverflow = true;
    return false;
  }
  return true;
}
/** Head of a data item: major type and argument in the shortest form (RFC 8949 §4.2.1). */
export function cborHead(major: u8, v: u32): void {
  const m = <u8>(major << 5);
  if (v < 24) {
    if (!room(1)) return;
    store<u8>(wp, m | <u8>v);
    wp += 1;
  } else if (v < 0x100) {
    if (!room(2)) return;
    store<u8>(wp, m | 24);
    store<u8>(wp + 1, <u8>v);
    wp += 2;
  } else if (v < 0x10000) {
    if (!room(3)) return;
    store<u8>(wp, m | 25);
    store<u8>(wp + 1, <u8>(v >> 8));
    store<u8>(wp + 2, <u8>v);
    wp += 3;
  } else {
    if (!room(5)) return;
    store<u8>(wp, m | 26);
    store<u32>(wp + 1, bswap<u32>(v));
    wp += 5;
  }
}
export function cborUint(v: u32): void {
  cborHead(MAJOR_UINT, v);
}
/** A negative integer -1-n (COSE algorithm ids). */
export function cborNint(n: u32): void {
  cborHead(MAJOR_NINT, n);
}
export function cborBytes(src: usize, len: i32): void {
  cborHead(MAJOR_BSTR, <u32>len);
  cborRaw(src, len);
}
/** Raw bytes copied as they are (an already encoded item, or the tail of a bstr). */
export function cborRaw(src: usize, len: i32): void {
  if (!room(<usize>len)) return;
  memory.copy(wp, src, <usize>len);
  wp += <usize>len;
}
export function cborMap(n: u32): void {
  cborHead(MAJOR_MAP, n);
}

// ---------------- reader ----------------
let rp: usize = 0;
let rend: usize = 0;
export let cborErr: bool = false;
/** Argument of the last head read; for bstr also the content pointer. */
let cborVal: u32 = 0;
export let cborPtr: usize = 0;

export function cborOpen(src: usize, len: i32): void {
  rp = src;
  rend = src + <usize>len;
  cborErr = len < 0;
}
function cborAt(): usize {
  return rp;
}
export function cborDone(): bool {
  return !cborErr && rp == rend;
}
export function cborFail(): void {
  cborErr = true;
}
/** Reads one head; returns its major type (0xFF on error). Rejects non-shortest forms,
 * indefinite lengths, arguments >= 2^32, simple values and floats. */
function cborReadHead(): u8 {
  if (cborErr || rp >= rend) {
    cborErr = true;
    return 0xff;
  }
  const ib = load<u8>(rp);
  const major = ib >> 5;
  const ai = ib & 31;
  rp += 1;
  let v: u32 = 0;
  if (ai < 24) {
    v = ai;
  } else if (ai == 24) {
    if (rp + 1 > rend) { cborErr = true; return 0xff; }
    v = load<u8>(rp);
    rp += 1;
    if (v < 24) cborErr = true;
  } else if (ai == 25) {
    if (rp + 2 > rend) { cborErr = true; return 0xff; }
    v = (<u32>load<u8>(rp) << 8) | load<u8>(rp + 1);
    rp += 2;
    if (v < 0x100) cborErr = true;
  } else if (ai == 26) {
    if (rp + 4 > rend) { cborErr = true; return 0xff; }
    v = bswap<u32>(load<u32>(rp));
    rp += 4;
    if (v < 0x10000) cborErr = true;
  } else {
    cborErr = true; // 27 (64-bit: > u32 here), 28..30 reserved, 31 indefinite
  }
  if (major == 7) cborErr = true; // no simple values / floats in our documents
  if (cborErr) return 0xff;
  cborVal = v;
  // every item takes at least one byte: a count beyond what is left is malformed (and
  // would overflow the pair count of a map)
  if (major == MAJOR_ARRAY || major == MAJOR_MAP) {
    if (<usize>v > rend - rp) { cborErr = true; return 0xff; }
  }
  if (major == MAJOR_BSTR || major == MAJOR_TSTR) {
    if (<usize>v > rend - rp) { cborErr = true; return 0xff; }
    cborPtr = rp;
    rp += <usize>v;
  }
  return major;
}
/** Expects `major`; returns the argument (0 and error otherwise). */
export function cborExpect(major: u8): u32 {
  const m = cborReadHead();
  if (m != major) {
    cborErr = true;
    return 0;
  }
  return cborVal;
}
/** Skips one complete item (bounded nesting: our documents nest at most 3 deep). */
function cborSkip(depth: i32): void {
  if (depth > 4) { cborErr = true; return; }
  const m = cborReadHead();
  if (cborErr) return;
  const n = cborVal;
  if (m == MAJOR_ARRAY) {
    for (let i: u32 = 0; i < n && !cborErr; i++) cborSkip(depth + 1);
  } else if (m == MAJOR_MAP) {
    for (let i: u32 = 0; i < n * 2 && !cborErr; i++) cborSkip(depth + 1);
  } else if (m == MAJOR_TAG) {
    cborSkip(depth + 1);
  }
}

// ---------------- document maps: small uint keys 0..23 ----------------
// A document payload is read into this field table: for key k, FIELD_MAJOR[k] (0xFF =
// absent), FIELD_VAL[k] (uint value / bstr length / array or map count) and FIELD_PTR[k]
// (bstr content, or the first byte after the array/map head).
const FIELD_KEYS: i32 = 24;
const FIELD_MAJOR: usize = memory.data(FIELD_KEYS);
const FIELD_VAL: usize = memory.data(FIELD_KEYS * 4);
const FIELD_PTR: usize = memory.data(FIELD_KEYS * 4);

/** Reads a whole map of key -> (uint | bstr | array | map) into the field table. Keys
 * must ascend strictly (deterministic order, no duplicates) and be set in `allowed`
 * (bit k); keys in `required` must all be present. The map must fill [src, src+len). */
export function cborReadFields(src: usize, len: i32, allowed: u32, required: u32): bool {
  memory.fill(FIELD_MAJOR, 0xff, FIELD_KEYS);
  cborOpen(src, len);
  const n = cborExpect(MAJOR_MAP);
  if (n > <u32>FIELD_KEYS) cborErr = true;
  let prev: i32 = -1;
  let seen: u32 = 0;
  for (let i: u32 = 0; i < n && !cborErr; i++) {
    const k = <i32>cborExpect(MAJOR_UINT);
    if (cborErr || k <= prev || k >= FIELD_KEYS || ((allowed >> <u32>k) & 1) == 0) { cborErr = true; break; }
    prev = k;
    seen |= <u32>1 << <u32>k;
    const m = cborReadHead();
    if (cborErr) break;
    store<u8>(FIELD_MAJOR + <usize>k, m);
    store<u32>(FIELD_VAL + (<usize>k << 2), cborVal);
    if (m == MAJOR_BSTR) {
      store<u32>(FIELD_PTR + (<usize>k << 2), <u32>cborPtr);
    } else if (m == MAJOR_ARRAY || m == MAJOR_MAP) {
      store<u32>(FIELD_PTR + (<usize>k << 2), <u32>cborAt());
      const cnt = m == MAJOR_MAP ? cborVal * 2 : cborVal;
      for (let j: u32 = 0; j < cnt && !cborErr; j++) cborSkip(1);
    } else if (m != MAJOR_UINT) {
      cborErr = true;
    }
  }
  if ((seen & required) != required) cborErr = true;
  return cborDone();
}
export function fieldPresent(k: i32): bool {
  return load<u8>(FIELD_MAJOR + <usize>k) != 0xff;
}
/** uint field value; sets the error when the field is not a uint. */
export function fieldUint(k: i32): u32 {
  if (load<u8>(FIELD_MAJOR + <usize>k) != MAJOR_UINT) { cborErr = true; return 0; }
  return load<u32>(FIELD_VAL + (<usize>k << 2));
}
/** bstr field of length in [minLen, maxLen]: its content pointer (0 and error otherwise). */
export function fieldBytes(k: i32, minLen: u32, maxLen: u32): usize {
  const n = load<u32>(FIELD_VAL + (<usize>k << 2));
  if (load<u8>(FIELD_MAJOR + <usize>k) != MAJOR_BSTR || n < minLen || n > maxLen) { cborErr = true; return 0; }
  return <usize>load<u32>(FIELD_PTR + (<usize>k << 2));
}
export function fieldLen(k: i32): u32 {
  return load<u32>(FIELD_VAL + (<usize>k << 2));
}
/** Array or map field: count (pairs for a map) and position of its first item. */
export function fieldItems(k: i32, major: u8): usize {
  if (load<u8>(FIELD_MAJOR + <usize>k) != major) { cborErr = true; return 0; }
  return <usize>load<u32>(FIELD_PTR + (<usize>k << 2));
}
