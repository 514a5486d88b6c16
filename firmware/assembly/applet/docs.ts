// The five signed documents as the applet sees them (SPEC §5, keys in
// protocol/portable/cbor-keys.ts): checks issuer-signed documents (certificate, load
// authorization, sync acknowledgement) and builds device-signed ones (voucher, receipt)
// directly into a log entry. AssemblyScript only.
import {
  DOC_CERT_REF_LEN, DOC_CHALLENGE_LEN, DOC_DEVICE_ID_LEN, DOC_HASH_LEN, DOC_ISSUER_KEY_ID_MAX, DOC_ISSUER_KEY_ID_MIN,
  DOC_PAYEE_ID_LEN, DOC_TYPE_RECEIPT, DOC_TYPE_VOUCHER, RECEIPT_KIND_LOAD,
  RECEIPT_KEY_AMOUNT, RECEIPT_KEY_BALANCE_AFTER, RECEIPT_KEY_COUNTER, RECEIPT_KEY_CURRENCY, RECEIPT_KEY_DEVICE_ID,
  RECEIPT_KEY_KIND, RECEIPT_KEY_REF, RECEIPT_KEY_TIME, RECEIPT_KEY_TYPE, VOUCHER_KEY_AMOUNT, VOUCHER_KEY_BALANCE_AFTER,
  VOUCHER_KEY_CERT_REF, VOUCHER_KEY_CHALLENGE, VOUCHER_KEY_COUNTER, VOUCHER_KEY_CURRENCY, VOUCHER_KEY_DEVICE_ID,
  VOUCHER_KEY_KIND, VOUCHER_KEY_PAYEE_ID, VOUCHER_KEY_PREV, VOUCHER_KEY_TIME, VOUCHER_KEY_TYPE,
} from "../../../protocol/portable/cbor-keys";
import { NVM_LOG_ENTRY_MAX } from "../../../protocol/portable/nvm";
import { REASON_FORMAT, REASON_ISSUER_KEY, REASON_SIGNATURE } from "../../../protocol/portable/limits";
import { SW_DATA_INVALID, SW_NO_ERROR, SW_REFERENCED_DATA_NOT_FOUND, SW_WRONG_DATA } from "../../../protocol/portable/sw";
import { random } from "../hw";
import { cborBegin, cborBytes, cborLength, cborMap, cborReadFields, cborUint, cborErr, fieldBytes, fieldLen } from "../cbor/cbor";
import { coseKid, coseKidLen, coseParse, cosePayload, cosePayloadLen, coseSign, coseVerify } from "../cbor/cose";
import { DOC_CAP, ENTRY_BUF, PAYLOAD_BUF, TBS_BUF, TMP } from "./mem";
import { refuse } from "./session";
import { DEV_PRIV, DEV_PUB, DEVICE_ID, ISSUER, ISSUER_LEN, issuerPresent, suite } from "./state";

/** Trusted issuer public key named by kid, or 0. */
export function issuerKey(kid: usize, kidLen: i32): usize {
  for (let i = 0; i < 2; i++) {
    const slot = ISSUER + <usize>(i * ISSUER_LEN);
    if (load<u8>(issuerPresent + <usize>i) != 0 && <i32>load<u8>(slot) == kidLen && memory.compare(slot + 1, kid, <usize>kidLen) == 0) {
      return slot + 9;
    }
  }
  return 0;
}

/** Checks an issuer-signed COSE_Sign1 and reads its payload map into the field table:
 * device suite, trusted kid, signature, then keys (`allowed`/`required` bitmasks) with
 * the payload's own issuer-key-id field (key `kidKey`) equal to the COSE kid. */
export function checkIssuerDoc(src: usize, len: i32, allowed: u32, required: u32, kidKey: i32): u16 {
  if (!coseParse(src, len, DOC_ISSUER_KEY_ID_MIN, DOC_ISSUER_KEY_ID_MAX)) return refuse(SW_WRONG_DATA, REASON_FORMAT);
  const kid = coseKid;
  const kidLen = coseKidLen;
  const pub = issuerKey(kid, kidLen);
  if (pub == 0) return refuse(SW_REFERENCED_DATA_NOT_FOUND, REASON_ISSUER_KEY);
  if (!coseVerify(suite(), pub, TBS_BUF, DOC_CAP + 64)) return refuse(SW_DATA_INVALID, REASON_SIGNATURE);
  if (!cborReadFields(cosePayload, cosePayloadLen, allowed, required)) return refuse(SW_WRONG_DATA, REASON_FORMAT);
  const inner = fieldBytes(kidKey, DOC_ISSUER_KEY_ID_MIN, DOC_ISSUER_KEY_ID_MAX);
  if (cborErr || <i32>fieldLen(kidKey) != kidLen || memory.compare(inner, kid, <usize>kidLen) != 0) {
    return refuse(SW_WRONG_DATA, REASON_FORMAT);
  }
  return SW_NO_ERROR;
}

// ---- device-signed documents, built into a log entry ----
// Log entry (record NVM_LOG_FIRST + slot): kind u8 | counter u32 | amount u32 | COSE bytes.
export const ENTRY_KIND_VOUCHER: u8 = 0;
export const ENTRY_KIND_RECEIPT: u8 = 1;
export const ENTRY_HEADER: i32 = 9;
export const ENTRY_COSE: usize = ENTRY_BUF + <usize>ENTRY_HEADER;

/** Signs the payload in PAYLOAD_BUF (payloadLen bytes) with the device key into the log
 * entry; returns the entry length, or -1. */
export function signEntry(kind: u8, counter: u32, amount: u32, payloadLen: i32): i32 {
  if (payloadLen < 0) return -1;
  store<u8>(ENTRY_BUF, kind);
  store<u32>(ENTRY_BUF + 1, bswap<u32>(counter));
  store<u32>(ENTRY_BUF + 5, bswap<u32>(amount));
  random(TMP, 32); // hedge for the deterministic nonce
  const n = coseSign(
    suite(), DEV_PRIV, DEV_PUB, TMP, DEVICE_ID, <i32>DOC_DEVICE_ID_LEN, PAYLOAD_BUF, payloadLen,
    TBS_BUF, DOC_CAP + 64, ENTRY_COSE, NVM_LOG_ENTRY_MAX - ENTRY_HEADER,
  );
  return n < 0 ? -1 : n + ENTRY_HEADER;
}

/** Voucher payload (every VOUCHER_KEY_*, ascending) into PAYLOAD_BUF; returns its length. */
export function buildVoucher(
  counter: u32, amount: u32, currency: u32, payee: usize, challenge: usize, time: u32,
  prev: usize, balanceAfter: u32, certRef: usize, kind: u32,
): i32 {
  cborBegin(PAYLOAD_BUF, DOC_CAP);
  cborMap(12);
  cborUint(VOUCHER_KEY_TYPE); cborUint(DOC_TYPE_VOUCHER);
  cborUint(VOUCHER_KEY_DEVICE_ID); cborBytes(DEVICE_ID, <i32>DOC_DEVICE_ID_LEN);
  cborUint(VOUCHER_KEY_COUNTER); cborUint(counter);
  cborUint(VOUCHER_KEY_AMOUNT); cborUint(amount);
  cborUint(VOUCHER_KEY_CURRENCY); cborUint(currency);
  cborUint(VOUCHER_KEY_PAYEE_ID); cborBytes(payee, <i32>DOC_PAYEE_ID_LEN);
  cborUint(VOUCHER_KEY_CHALLENGE); cborBytes(challenge, <i32>DOC_CHALLENGE_LEN);
  cborUint(VOUCHER_KEY_TIME); cborUint(time);
  cborUint(VOUCHER_KEY_PREV); cborBytes(prev, <i32>DOC_HASH_LEN);
  cborUint(VOUCHER_KEY_BALANCE_AFTER); cborUint(balanceAfter);
  cborUint(VOUCHER_KEY_CERT_REF); cborBytes(certRef, <i32>DOC_CERT_REF_LEN);
  cborUint(VOUCHER_KEY_KIND); cborUint(kind);
  return cborLength();
}

/** Receipt payload (every RECEIPT_KEY_*, ascending); ref is the load seq (kind LOAD) or a 32-byte
 * voucher hash at refPtr (kind RECEIVE). */
export function buildReceipt(
  kind: u8, refSeq: u32, refPtr: usize, amount: u32, currency: u32, balanceAfter: u32, counter: u32, time: u32,
): i32 {
  cborBegin(PAYLOAD_BUF, DOC_CAP);
  cborMap(9);
  cborUint(RECEIPT_KEY_TYPE); cborUint(DOC_TYPE_RECEIPT);
  cborUint(RECEIPT_KEY_DEVICE_ID); cborBytes(DEVICE_ID, <i32>DOC_DEVICE_ID_LEN);
  cborUint(RECEIPT_KEY_KIND); cborUint(kind);
  cborUint(RECEIPT_KEY_REF);
  if (kind == RECEIPT_KIND_LOAD) cborUint(refSeq);
  else cborBytes(refPtr, <i32>DOC_HASH_LEN);
  cborUint(RECEIPT_KEY_AMOUNT); cborUint(amount);
  cborUint(RECEIPT_KEY_CURRENCY); cborUint(currency);
  cborUint(RECEIPT_KEY_BALANCE_AFTER); cborUint(balanceAfter);
  cborUint(RECEIPT_KEY_COUNTER); cborUint(counter);
  cborUint(RECEIPT_KEY_TIME); cborUint(time);
  return cborLength();
}
