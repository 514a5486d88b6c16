// Deterministic CBOR (RFC 8949 §4.2.1 core deterministic encoding) for the signed
// documents (SPEC.md §5). Encoding is on top of cbor-x: its defaults are not deterministic
// (tag 64 on byte strings, 16-bit map headers, records, floats for integers >= 2^32), so
// one Encoder is configured here and integer map keys are sorted here before encoding.
// Decoding does not use cbor-x: CborReader below is the one strict reader of the
// repository (SPEC §5.2). It walks the bytes once and accepts only the deterministic
// encoding: shortest heads, definite lengths, integer map keys in ascending order without
// duplicates, no floats or simple values, nothing after the item. So a document has exactly
// one encoding (no malleability). formats.ts and cose.ts drive it with the document
// tables; cborDecodeStrict reads any data item of the model below.
import { Encoder, Tag } from "cbor-x";
import { FormatError } from "./errors.ts";

export { Tag };

/** The CBOR data model the documents use: no floats, no text strings except Sig_structure's. */
export type CborValue = number | string | Uint8Array | CborValue[] | Map<number, CborValue> | Tag;

const OPTIONS = {
  useRecords: false,
  tagUint8Array: false,
  variableMapSize: true,
  useTag259ForMaps: false,
  mapsAsObjects: false,
  pack: false,
  bundleStrings: false,
} as const;
const encoder = new Encoder(OPTIONS);

/**
 * Order of integer map keys by their encoded bytes (RFC 8949 §4.2.1) without encoding them:
 * major type 0 (n >= 0) sorts before major type 1 (n < 0); within a major type a shortest
 * head grows with the argument, so uints ascend and negative ints descend (-1, -2, ...).
 */
function keyOrder(a: number, b: number): number {
  if (a >= 0 !== b >= 0) return a >= 0 ? -1 : 1;
  return a >= 0 ? a - b : b - a;
}

function canonical(v: CborValue): unknown {
  if (typeof v === "number") {
    // cbor-x writes integers outside the 64-bit-safe range, and non-integers, as floats
    if (!Number.isSafeInteger(v)) throw new RangeError(`bad cbor: ${v} is not a safe integer`);
    // cbor-x writes a Number beyond 32 bits as a float; a BigInt gets the 8-byte integer head
    return Math.abs(v) > 0xffffffff ? BigInt(v) : v;
  }
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(canonical);
  if (v instanceof Map) {
    const keys = [...v.keys()];
    for (const k of keys) if (!Number.isSafeInteger(k)) throw new RangeError(`bad cbor: map key ${k} is not an integer`);
    return new Map(keys.sort(keyOrder).map((k) => [k, canonical(v.get(k)!)]));
  }
  if (v instanceof Tag) return new Tag(canonical(v.value as CborValue), v.tag);
  throw new TypeError(`bad cbor: cannot encode ${Object.prototype.toString.call(v)}`);
}

/** Encode deterministically: shortest heads, definite lengths, map keys sorted. */
export function cborEncode(v: CborValue): Uint8Array {
  const out = encoder.encode(canonical(v));
  return new Uint8Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}


// typed number, not literal: TypeScript would narrow `r.major` across `head()` calls
export const MAJOR_UINT: number = 0;
export const MAJOR_NINT: number = 1;
export const MAJOR_BSTR: number = 2;
export const MAJOR_TSTR: number = 3;
export const MAJOR_ARRAY: number = 4;
export const MAJOR_MAP: number = 5;
export const MAJOR_TAG: number = 6;
const MAJOR_SIMPLE: number = 7;
const MAX_DEPTH = 32; // the documents nest 4 deep (tag, array, map, limits map)
const HI_MAX = 0x1fffff; // high 32 bits of an 8-byte argument below 2^53
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The strict reader of deterministic CBOR (RFC 8949 §4.2.1; SPEC §5.2) over `b[p..end)`.
 * Every error is FormatError("bad <what>: ..."): "non-canonical encoding: ..." for a
 * well-formed item with another encoding than the deterministic one, "cbor: ..." for
 * malformed or unsupported bytes. `head` sets `major` instead of returning a pair, so
 * reading allocates nothing but what it hands out.
 */
export class CborReader {
  p: number;
  end: number;
  /** the major type of the last head read */
  major = 0;
  constructor(readonly b: Uint8Array, readonly what: string, start = 0, end = b.length) {
    this.p = start;
    this.end = end;
  }
  fail(m: string): never {
    throw new FormatError(`bad ${this.what}: ${m}`);
  }
  /** One shortest, definite head: sets `major`, returns the argument (< 2^53). */
  head(): number {
    const b = this.b;
    let p = this.p;
    if (p >= this.end) this.fail("cbor: unexpected end of data");
    const ib = b[p++];
    const major = ib >> 5;
    const ai = ib & 31;
    if (major === MAJOR_SIMPLE) this.fail(ai >= 25 && ai <= 27 ? "cbor: float (no floats in documents)" : "cbor: simple value (false, true, null, undefined or break)");
    this.major = major;
    if (ai < 24) {
      this.p = p;
      return ai;
    }
    const size = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
    if (size === 0) this.fail(ai === 31 ? "non-canonical encoding: indefinite length" : `cbor: reserved additional information ${ai}`);
    if (p + size > this.end) this.fail("cbor: unexpected end of data");
    let v: number;
    if (size === 1) {
      v = b[p];
      if (v < 24) this.fail("non-canonical encoding: head longer than needed");
    } else if (size === 2) {
      v = (b[p] << 8) | b[p + 1];
      if (v < 0x100) this.fail("non-canonical encoding: head longer than needed");
    } else if (size === 4) {
      v = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
      if (v < 0x10000) this.fail("non-canonical encoding: head longer than needed");
    } else {
      const hi = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
      if (hi === 0) this.fail("non-canonical encoding: head longer than needed");
      if (hi > HI_MAX) this.fail("integer beyond 2^53");
      v = hi * 0x100000000 + (((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0);
    }
    this.p = p + size;
    return v;
  }
  /** `n` content bytes: a view into the input, or a copy of them. */
  take(n: number, copy: boolean): Uint8Array {
    const p = this.p;
    if (n > this.end - p) this.fail("cbor: unexpected end of data");
    this.p = p + n;
    return copy ? this.b.slice(p, p + n) : this.b.subarray(p, p + n);
  }
  /** the argument of a uint or nint head as the integer it encodes (-1 - n for a nint) */
  intOf(arg: number): number {
    if (this.major === MAJOR_UINT) return arg;
    if (arg >= Number.MAX_SAFE_INTEGER) this.fail("integer beyond 2^53");
    return -1 - arg;
  }
  /** Nothing may follow the item that ends at `p`. */
  done(): void {
    if (this.p !== this.end) this.fail(`cbor: ${this.end - this.p} trailing byte(s) after the data item`);
  }
  /** Any data item of the model (CborValue); byte strings are copies. */
  item(depth = 0): CborValue {
    if (depth > MAX_DEPTH) this.fail(`cbor: nested deeper than ${MAX_DEPTH}`);
    const arg = this.head();
    switch (this.major) {
      case MAJOR_UINT:
      case MAJOR_NINT:
        return this.intOf(arg);
      case MAJOR_BSTR:
        return this.take(arg, true);
      case MAJOR_TSTR: {
        const t = this.take(arg, false);
        try {
          return utf8.decode(t);
        } catch {
          return this.fail("cbor: text string is not UTF-8");
        }
      }
      case MAJOR_ARRAY: {
        if (arg > this.end - this.p) this.fail("cbor: unexpected end of data");
        const a: CborValue[] = [];
        for (let i = 0; i < arg; i++) a.push(this.item(depth + 1));
        return a;
      }
      case MAJOR_MAP: {
        if (arg > this.end - this.p) this.fail("cbor: unexpected end of data");
        const m = new Map<number, CborValue>();
        let last = 0;
        for (let i = 0; i < arg; i++) {
          const k = this.head();
          if (this.major !== MAJOR_UINT && this.major !== MAJOR_NINT) this.fail("map key is not an integer");
          const key = this.intOf(k);
          if (i > 0 && keyOrder(last, key) >= 0) this.fail(`non-canonical encoding: map key ${key} after ${last} (keys ascend, no duplicates)`);
          last = key;
          m.set(key, this.item(depth + 1));
        }
        return m;
      }
      default:
        return new Tag(this.item(depth + 1), arg);
    }
  }
}

/**
 * Decode exactly one deterministically encoded data item, or throw
 * FormatError("bad <what>: ..."). Floats, simple values, text map keys, indefinite
 * lengths, integers beyond 2^53 and trailing bytes are rejected.
 */
export function cborDecodeStrict(bytes: Uint8Array, what: string): CborValue {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`bad ${what}: expected a Uint8Array`);
  const r = new CborReader(bytes, what);
  const v = r.item();
  r.done();
  return v;
}
