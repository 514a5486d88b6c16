// Deterministic CBOR (RFC 8949 §4.2.1 core deterministic encoding) for the signed
// documents (SPEC.md §5), on top of cbor-x. cbor-x's defaults are not deterministic
// (tag 64 on byte strings, 16-bit map headers, records, floats for integers >= 2^32), so
// one Encoder is configured here and integer map keys are sorted here before encoding.
// Strict decoding re-encodes what was decoded and compares bytes: any non-shortest
// head, indefinite length, float, unsorted or duplicate key changes the bytes and is
// rejected, so a document has exactly one encoding (no malleability).
import { Decoder, Encoder, Tag } from "cbor-x";
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
const decoder = new Decoder(OPTIONS);

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

/** Deep copy of decoded byte strings: cbor-x hands out views into its input buffer. */
function detach(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v); // checkModel let only safe integers through
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(detach);
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, detach(x)]));
  if (v instanceof Tag) return new Tag(detach(v.value), v.tag);
  return v;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Decode exactly one deterministically encoded data item, or throw
 * FormatError("bad <what>: ..."). Floats, text strings in maps' keys, big integers
 * and undefined/null are rejected by the re-encoding check or by the type walk.
 */
export function cborDecodeStrict(bytes: Uint8Array, what: string): CborValue {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`bad ${what}: expected a Uint8Array`);
  let v: unknown;
  try {
    // a private copy: cbor-x caches a `dataView` property on the buffer it reads
    v = decoder.decode(bytes.slice());
  } catch (e) {
    throw new FormatError(`bad ${what}: cbor: ${(e as Error).message}`);
  }
  checkModel(v, what);
  const d = detach(v) as CborValue;
  let again: Uint8Array;
  try {
    again = cborEncode(d);
  } catch (e) {
    throw new FormatError(`bad ${what}: cbor: ${(e as Error).message}`);
  }
  if (!bytesEqual(again, bytes)) throw new FormatError(`bad ${what}: non-canonical encoding`);
  return d;
}

function checkModel(v: unknown, what: string): void {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new FormatError(`bad ${what}: float or out-of-range integer`);
  } else if (typeof v === "bigint") {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new FormatError(`bad ${what}: integer beyond 2^53`);
  } else if (typeof v === "string" || v instanceof Uint8Array) {
    // allowed
  } else if (Array.isArray(v)) {
    for (const x of v) checkModel(x, what);
  } else if (v instanceof Map) {
    for (const [k, x] of v) {
      if (typeof k !== "number" || !Number.isSafeInteger(k)) throw new FormatError(`bad ${what}: map key is not an integer`);
      checkModel(x, what);
    }
  } else if (v instanceof Tag) {
    checkModel(v.value, what);
  } else {
    throw new FormatError(`bad ${what}: unsupported cbor item (${String(v)})`);
  }
}
