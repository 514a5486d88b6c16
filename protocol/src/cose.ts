// COSE_Sign1 (RFC 9052 §4.2, §4.4) for the five signed documents (SPEC.md §5.1):
//   18([protected: bstr .cbor {1: alg}, unprotected: {4: kid}, payload: bstr, signature: bstr 64])
// The protected header is exactly the map {1: alg} and the unprotected header exactly
// {4: kid}; nothing else is accepted, so one document has one encoding. Decoding is one
// pass of the strict reader (cbor.ts CborReader), which also yields the to-be-signed
// Sig_structure by splicing the envelope's own bytes. Signing and verifying are not done here.
import {
  COSE_ALG_ES256,
  COSE_ALG_SM2_SM3,
  COSE_HDR_ALG,
  COSE_HDR_KID,
  COSE_SIGNATURE_LEN,
  COSE_TAG_SIGN1,
} from "../portable/cose.ts";
import { DOC_ISSUER_KEY_ID_MAX, DOC_ISSUER_KEY_ID_MIN } from "../portable/cbor-keys.ts";
import { CborReader, MAJOR_ARRAY, MAJOR_BSTR, MAJOR_MAP, MAJOR_NINT, MAJOR_TAG, MAJOR_UINT, Tag, cborEncode, type CborValue } from "./cbor.ts";
import { FormatError } from "./errors.ts";

export interface Sign1 {
  /** COSE_ALG_ES256 or COSE_ALG_SM2_SM3 */
  alg: number;
  /** key id: issuer key id (issuer-signed) or device id (device-signed), 4..8 bytes */
  kid: Uint8Array;
  /** the document's CBOR payload map, encoded */
  payload: Uint8Array;
  /** raw r || s, 64 bytes */
  signature: Uint8Array;
}

/** The algorithms a COSE_Sign1 here may name. */
export const COSE_ALGS: readonly number[] = [COSE_ALG_ES256, COSE_ALG_SM2_SM3];

const SIG1_CONTEXT = "Signature1"; // RFC 9052 §4.4: context string of a COSE_Sign1

function checkAlg(alg: unknown, fail: (m: string) => never): number {
  if (typeof alg !== "number" || !COSE_ALGS.includes(alg)) fail(`unknown alg ${String(alg)}`);
  return alg as number;
}

function checkKid(kid: unknown, fail: (m: string) => never): Uint8Array {
  if (!(kid instanceof Uint8Array)) fail("kid is not a byte string");
  const k = kid as Uint8Array;
  if (k.length < DOC_ISSUER_KEY_ID_MIN || k.length > DOC_ISSUER_KEY_ID_MAX) fail(`kid length ${k.length}`);
  return k;
}

function argFail(m: string): never {
  throw new RangeError(`bad cose: ${m}`);
}

/** The protected header bytes: bstr .cbor {1: alg} (the inner map, deterministic). */
export function protectedHeader(alg: number): Uint8Array {
  return cborEncode(new Map([[COSE_HDR_ALG, checkAlg(alg, argFail)]]));
}

/** RFC 9052 §4.4 Sig_structure ["Signature1", protected, external_aad = h'', payload]: the bytes to sign. */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return cborEncode([SIG1_CONTEXT, protectedBytes, new Uint8Array(0), payload]);
}

/** The to-be-signed bytes for `payload` signed with `alg`. */
export function toBeSigned(alg: number, payload: Uint8Array): Uint8Array {
  return sigStructure(protectedHeader(alg), payload);
}

export function encodeSign1(s: Sign1): Uint8Array {
  const kid = checkKid(s.kid, argFail);
  if (!(s.payload instanceof Uint8Array)) argFail("payload is not a byte string");
  if (!(s.signature instanceof Uint8Array) || s.signature.length !== COSE_SIGNATURE_LEN) argFail("signature is not 64 bytes");
  const unprotected = new Map<number, CborValue>([[COSE_HDR_KID, kid]]);
  return cborEncode(new Tag([protectedHeader(s.alg), unprotected, s.payload, s.signature], COSE_TAG_SIGN1));
}

/** Build a COSE_Sign1 with a synchronous signing callback over the Sig_structure bytes. */
export function signSign1(alg: number, kid: Uint8Array, payload: Uint8Array, sign: (tbs: Uint8Array) => Uint8Array): Uint8Array {
  return encodeSign1({ alg, kid, payload, signature: sign(toBeSigned(alg, payload)) });
}

/**
 * Where a COSE_Sign1's items are in its bytes: `protStart..protEnd` the protected header
 * and `payStart..payEnd` the payload, each with its bstr head, the payload's content from
 * `payBody` on. Enough to read the payload in place and to splice the Sig_structure.
 */
export interface Sign1Read extends Sign1 {
  protStart: number;
  protEnd: number;
  payStart: number;
  payBody: number;
  payEnd: number;
}

/** The head of a map of exactly one entry and that entry's key, `key`; else `bad <doc>: <msg>`. */
function oneEntryMap(r: CborReader, key: number, msg: string): void {
  const n = r.head();
  if (r.major !== MAJOR_MAP || n !== 1) r.fail(msg);
  const k = r.head();
  if (r.major !== MAJOR_UINT || k !== key) r.fail(msg);
}

/**
 * Read a whole COSE_Sign1 (SPEC §5.1) with the strict reader, from `r.p` to `r.end`.
 * `copy`: byte strings are copies (else views into the input). Errors name the document
 * the reader was made for ("bad voucher: ...").
 */
export function readSign1(r: CborReader, copy: boolean): Sign1Read {
  const tag = r.head();
  if (r.major !== MAJOR_TAG || tag !== COSE_TAG_SIGN1) r.fail("not a COSE_Sign1 (tag 18)");
  const n = r.head();
  if (r.major !== MAJOR_ARRAY || n !== 4) r.fail("COSE_Sign1 is not an array of 4");
  const protStart = r.p;
  const protLen = r.head();
  if (r.major !== MAJOR_BSTR) r.fail("protected header is not a byte string");
  const protBody = r.p;
  r.take(protLen, false);
  const protEnd = r.p;
  // the protected header's content: exactly {1: alg}, read in place
  const end = r.end;
  r.p = protBody;
  r.end = protEnd;
  oneEntryMap(r, COSE_HDR_ALG, "protected header is not {1: alg}");
  const av = r.head();
  if (r.major !== MAJOR_UINT && r.major !== MAJOR_NINT) r.fail("unknown alg (not an integer)");
  const alg = r.intOf(av);
  if (!COSE_ALGS.includes(alg)) r.fail(`unknown alg ${alg}`); // as checkAlg; no closure per call
  r.done();
  r.p = protEnd;
  r.end = end;
  oneEntryMap(r, COSE_HDR_KID, "unprotected header is not {4: kid}");
  const kidLen = r.head();
  if (r.major !== MAJOR_BSTR) r.fail("kid is not a byte string");
  if (kidLen < DOC_ISSUER_KEY_ID_MIN || kidLen > DOC_ISSUER_KEY_ID_MAX) r.fail(`kid length ${kidLen}`);
  const kid = r.take(kidLen, copy);
  const payStart = r.p;
  const payLen = r.head();
  if (r.major !== MAJOR_BSTR) r.fail("payload is not a byte string");
  const payBody = r.p;
  const payload = r.take(payLen, copy);
  const payEnd = r.p;
  const sigLen = r.head();
  if (r.major !== MAJOR_BSTR || sigLen !== COSE_SIGNATURE_LEN) r.fail("signature is not 64 bytes");
  const signature = r.take(sigLen, copy);
  r.done();
  return { alg, kid, payload, signature, protStart, protEnd, payStart, payBody, payEnd };
}

/** `84 6a "Signature1"`: the Sig_structure's array head and context string */
const SIG1_PREFIX = Uint8Array.of(0x84, ...cborEncode(SIG1_CONTEXT));

// Sig_structures of the view mode come out of one shared slab, as Node's Buffer.allocUnsafe
// does: one ArrayBuffer per ≈ 80 documents instead of one each (reconciliation's hot path)
const SLAB = 16 * 1024;
let slab = new Uint8Array(0);
let slabAt = 0;
function slabAlloc(n: number): Uint8Array {
  if (n > slab.length - slabAt) {
    slab = new Uint8Array(Math.max(SLAB, n));
    slabAt = 0;
  }
  const out = slab.subarray(slabAt, slabAt + n);
  slabAt += n;
  return out;
}

/**
 * The Sig_structure of a COSE_Sign1 read by readSign1, spliced from its own bytes (the
 * protected header and payload items are already deterministic, so nothing is re-encoded):
 * `84 6a "Signature1" <bstr protected> 40 <bstr payload>` (SPEC §5.1). `shared`: the bytes
 * are a view into a slab shared with other results (never transfer its buffer).
 */
export function spliceToBeSigned(cose: Uint8Array, s: Sign1Read, shared = false): Uint8Array {
  const protLen = s.protEnd - s.protStart;
  const n = SIG1_PREFIX.length + protLen + 1 + (s.payEnd - s.payStart);
  const out = shared ? slabAlloc(n) : new Uint8Array(n);
  out.set(SIG1_PREFIX, 0);
  out.set(cose.subarray(s.protStart, s.protEnd), SIG1_PREFIX.length);
  out[SIG1_PREFIX.length + protLen] = 0x40; // external_aad h''
  out.set(cose.subarray(s.payStart, s.payEnd), SIG1_PREFIX.length + protLen + 1);
  return out;
}

/** Strictly decode a COSE_Sign1; `what` names the document in errors ("bad voucher: ..."). */
export function decodeSign1(bytes: Uint8Array, what = "cose"): Sign1 {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`bad ${what}: expected a Uint8Array`);
  const { alg, kid, payload, signature } = readSign1(new CborReader(bytes, what), true);
  return { alg, kid, payload, signature };
}
