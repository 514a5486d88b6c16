// COSE_Sign1 (RFC 9052 §4.2, §4.4) for the wallet's documents (SPEC §5), AssemblyScript.
// 18([protected: bstr .cbor {1: alg}, unprotected: {4: kid}, payload: bstr, signature: bstr 64])
// with alg ES256 (-7, P-256) or the private-use SM2-with-SM3 id (protocol/portable/cose.ts);
// the signature is raw r||s over Sig_structure = ["Signature1", protected, h'', payload].
// Parsing is exact: the protected header must be the one canonical encoding of {1: alg}
// and the unprotected map exactly {4: kid}, so one document has one byte string.
import { COSE_ALG_ES256, COSE_ALG_SM2_SM3, COSE_HDR_ALG, COSE_HDR_KID, COSE_SIGNATURE_LEN, COSE_TAG_SIGN1 } from "../../../protocol/portable/cose";
import { DOC_ISSUER_KEY_ID_MAX, DOC_ISSUER_KEY_ID_MIN } from "../../../protocol/portable/cbor-keys";
import { SUITE_P256_SHA256_AES128, SUITE_SM2_SM3_SM4 } from "../../../protocol/portable/suite";
import { ecSign, ecVerify } from "../crypto/sig";
import {
  MAJOR_ARRAY, MAJOR_BSTR, MAJOR_MAP, MAJOR_TAG, MAJOR_UINT, cborBegin, cborBytes, cborDone, cborErr, cborExpect,
  cborHead, cborLength, cborMap, cborNint, cborOpen, cborPtr, cborRaw, cborUint,
} from "./cbor";

// Parsed COSE_Sign1 (valid after coseParse returned true; points into the input).
export let coseSuite: u8 = 0;
export let coseKid: usize = 0;
export let coseKidLen: i32 = 0;
export let cosePayload: usize = 0;
export let cosePayloadLen: i32 = 0;
export let coseSig: usize = 0;

const PROT: usize = memory.data(16); // encoded protected header of the suite being handled
const SIG: usize = memory.data(64);
const SIG1_CONTEXT: usize = memory.data<u8>([0x53, 0x69, 0x67, 0x6e, 0x61, 0x74, 0x75, 0x72, 0x65, 0x31]); // "Signature1"

/** The protected header bstr content {1: alg} for a suite, into PROT; returns its length. */
function protectedFor(suite: u8): i32 {
  cborBegin(PROT, 16);
  cborMap(1);
  cborUint(COSE_HDR_ALG);
  // alg is negative: CBOR major 1 carries -1 - alg
  cborNint(<u32>(-1 - (suite == SUITE_SM2_SM3_SM4 ? COSE_ALG_SM2_SM3 : COSE_ALG_ES256)));
  return cborLength();
}

/** Parses a COSE_Sign1 with a kid of `kidMin..kidMax` bytes. False on any deviation. */
export function coseParse(src: usize, len: i32, kidMin: u32, kidMax: u32): bool {
  cborOpen(src, len);
  if (cborExpect(MAJOR_TAG) != COSE_TAG_SIGN1) return false;
  if (cborExpect(MAJOR_ARRAY) != 4) return false;
  const protLen = <i32>cborExpect(MAJOR_BSTR);
  const prot = cborPtr;
  if (cborErr) return false;
  // which suite: compare against both canonical protected headers
  let suite: u8 = 0;
  for (let s: u8 = SUITE_SM2_SM3_SM4; s <= SUITE_P256_SHA256_AES128; s++) {
    const n = protectedFor(s);
    if (n == protLen && memory.compare(prot, PROT, <usize>n) == 0) suite = s;
  }
  if (suite == 0) return false;
  if (cborExpect(MAJOR_MAP) != 1) return false;
  if (cborExpect(MAJOR_UINT) != COSE_HDR_KID) return false;
  const kidLen = cborExpect(MAJOR_BSTR);
  const kid = cborPtr;
  if (cborErr || kidLen < kidMin || kidLen > kidMax) return false;
  const payloadLen = cborExpect(MAJOR_BSTR);
  const payload = cborPtr;
  if (cborExpect(MAJOR_BSTR) != COSE_SIGNATURE_LEN) return false;
  const sig = cborPtr;
  if (!cborDone()) return false;
  coseSuite = suite;
  coseKid = kid;
  coseKidLen = <i32>kidLen;
  cosePayload = payload;
  cosePayloadLen = <i32>payloadLen;
  coseSig = sig;
  return true;
}

/** Writes Sig_structure ["Signature1", protected, h'', payload] into tbs; returns its length. */
function sigStructure(suite: u8, payload: usize, payloadLen: i32, tbs: usize, cap: i32): i32 {
  const protLen = protectedFor(suite);
  cborBegin(tbs, cap);
  cborHead(MAJOR_ARRAY, 4);
  cborHead(3, 10); // text string, 10 bytes
  cborRaw(SIG1_CONTEXT, 10);
  cborBytes(PROT, protLen);
  cborBytes(0, 0);
  cborBytes(payload, payloadLen);
  return cborLength();
}

/** Verifies the parsed COSE_Sign1 under `pub65` in `suite` (must equal the header's). */
export function coseVerify(suite: u8, pub65: usize, tbs: usize, cap: i32): bool {
  if (suite != coseSuite) return false;
  const n = sigStructure(suite, cosePayload, cosePayloadLen, tbs, cap);
  if (n < 0) return false;
  return ecVerify(suite, pub65, tbs, n, coseSig);
}

/** Signs `payload` and writes the COSE_Sign1 into dst; returns its length, -1 on failure. */
export function coseSign(
  suite: u8, priv32: usize, pub65: usize, rnd32: usize, kid: usize, kidLen: i32,
  payload: usize, payloadLen: i32, tbs: usize, tbsCap: i32, dst: usize, cap: i32,
): i32 {
  const n = sigStructure(suite, payload, payloadLen, tbs, tbsCap);
  if (n < 0 || !ecSign(suite, priv32, pub65, tbs, n, rnd32, SIG)) return -1;
  const protLen = protectedFor(suite);
  // protectedFor used the writer: copy the header out before reusing it for dst
  memory.copy(tbs, PROT, <usize>protLen);
  cborBegin(dst, cap);
  cborHead(MAJOR_TAG, COSE_TAG_SIGN1);
  cborHead(MAJOR_ARRAY, 4);
  cborBytes(tbs, protLen);
  cborMap(1);
  cborUint(COSE_HDR_KID);
  cborBytes(kid, kidLen);
  cborBytes(payload, payloadLen);
  cborBytes(SIG, <i32>COSE_SIGNATURE_LEN);
  return cborLength();
}
