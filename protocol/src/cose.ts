// COSE_Sign1 (RFC 9052 §4.2, §4.4) for the five signed documents (SPEC.md §5.1):
//   18([protected: bstr .cbor {1: alg}, unprotected: {4: kid}, payload: bstr, signature: bstr 64])
// The protected header is exactly the map {1: alg} and the unprotected header exactly
// {4: kid}; nothing else is accepted, so one document has one encoding. Signing and
// verifying are not done here: callers get the to-be-signed Sig_structure bytes.
import {
  COSE_ALG_ES256,
  COSE_ALG_SM2_SM3,
  COSE_HDR_ALG,
  COSE_HDR_KID,
  COSE_SIGNATURE_LEN,
  COSE_TAG_SIGN1,
} from "../portable/cose.ts";
import { DOC_ISSUER_KEY_ID_MAX, DOC_ISSUER_KEY_ID_MIN } from "../portable/cbor-keys.ts";
import { Tag, cborDecodeStrict, cborEncode, type CborValue } from "./cbor.ts";
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

/** Strictly decode a COSE_Sign1; `what` names the document in errors ("bad voucher: ..."). */
export function decodeSign1(bytes: Uint8Array, what = "cose"): Sign1 {
  const fail = (m: string): never => {
    throw new FormatError(`bad ${what}: ${m}`);
  };
  const v = cborDecodeStrict(bytes, what);
  if (!(v instanceof Tag) || v.tag !== COSE_TAG_SIGN1) fail("not a COSE_Sign1 (tag 18)");
  const a = (v as Tag).value as CborValue;
  if (!Array.isArray(a) || a.length !== 4) fail("COSE_Sign1 is not an array of 4");
  const [prot, unprot, payload, signature] = a as CborValue[];
  if (!(prot instanceof Uint8Array)) fail("protected header is not a byte string");
  const ph = cborDecodeStrict(prot as Uint8Array, what);
  if (!(ph instanceof Map) || ph.size !== 1 || !ph.has(COSE_HDR_ALG)) fail("protected header is not {1: alg}");
  const alg = checkAlg((ph as Map<number, CborValue>).get(COSE_HDR_ALG), fail);
  if (!(unprot instanceof Map) || unprot.size !== 1 || !unprot.has(COSE_HDR_KID)) fail("unprotected header is not {4: kid}");
  const kid = checkKid((unprot as Map<number, CborValue>).get(COSE_HDR_KID), fail);
  if (!(payload instanceof Uint8Array)) fail("payload is not a byte string");
  if (!(signature instanceof Uint8Array) || signature.length !== COSE_SIGNATURE_LEN) fail("signature is not 64 bytes");
  return { alg, kid, payload: payload as Uint8Array, signature: signature as Uint8Array };
}
