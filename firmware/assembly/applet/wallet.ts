// Value commands of the wallet applet (SPEC §3.3; DESIGN.md §4): LOAD (issuer-signed
// value in), PAY (signed voucher out), GET CHALLENGE + RECEIVE (device-to-device value in).
// Each checks everything first and then changes balance, counter, chain hash, since-sync
// totals, latest time and the log in ONE store transaction, so a power cut at any flash
// operation leaves the old state or the new one (DESIGN.md §3). AssemblyScript only.
import {
  CERT_KEY_CURRENCY, CERT_KEY_DEVICE_ID, CERT_KEY_ISSUER_KEY_ID, CERT_KEY_NOT_AFTER, CERT_KEY_NOT_BEFORE,
  CERT_KEY_PUBLIC_KEY, CERT_KEY_SUITE, CERT_KEY_TYPE, DOC_CERT_REF_LEN, DOC_CHALLENGE_LEN, DOC_DEVICE_ID_LEN,
  DOC_HASH_LEN, DOC_PAYEE_ID_LEN, DOC_PUBLIC_KEY_LEN, DOC_TYPE_CERT, DOC_TYPE_LOAD, DOC_TYPE_VOUCHER,
  LOAD_KEY_AMOUNT, LOAD_KEY_CURRENCY, LOAD_KEY_DEVICE_ID, LOAD_KEY_EXPIRY, LOAD_KEY_ISSUER_KEY_ID, LOAD_KEY_SEQ,
  LOAD_KEY_TYPE, RECEIPT_KIND_LOAD, RECEIPT_KIND_RECEIVE, VOUCHER_KEY_AMOUNT, VOUCHER_KEY_CERT_REF,
  VOUCHER_KEY_CHALLENGE, VOUCHER_KEY_CURRENCY, VOUCHER_KEY_DEVICE_ID, VOUCHER_KEY_KIND, VOUCHER_KEY_PAYEE_ID,
  VOUCHER_KEY_TYPE, VOUCHER_KIND_D2D, VOUCHER_KIND_POS,
} from "../../../protocol/portable/cbor-keys";
import { CHALLENGE_LEN, CONFIRM_KIND_PAY, CONFIRM_TIMEOUT_MS, P1_PAY_DEVICE, P1_PAY_POS, PAY_DATA_LEN } from "../../../protocol/portable/apdu";
import {
  LIMIT_CAP, LIMIT_MAX_AMOUNT_SINCE_SYNC, LIMIT_MAX_COUNT_SINCE_SYNC, LIMIT_MAX_PAYMENT, LIMIT_NO_CVM,
  LIMIT_SYNC_INTERVAL, REASON_AMOUNT_SINCE_SYNC, REASON_BALANCE, REASON_BLOCKED, REASON_CAP, REASON_COUNT_SINCE_SYNC,
  REASON_CURRENCY, REASON_EXPIRED, REASON_FOREIGN, REASON_FORMAT, REASON_HOLDER, REASON_LOG_FULL, REASON_MAX_PAYMENT,
  REASON_REPLAY, REASON_SIGNATURE, REASON_SYNC_OVERDUE, REASON_TIME,
} from "../../../protocol/portable/limits";
import {
  SW_CONDITIONS_NOT_SATISFIED, SW_DATA_INVALID, SW_INCORRECT_P1P2, SW_MEMORY_FAILURE, SW_NOT_ENOUGH_MEMORY,
  SW_NO_ERROR, SW_SECURITY_STATUS_NOT_SATISFIED, SW_WRONG_DATA, SW_WRONG_LENGTH,
} from "../../../protocol/portable/sw";
import { SUITE_P256_SHA256_AES128, SUITE_SM2_SM3_SM4 } from "../../../protocol/portable/suite";
import { clock_now, confirm, counter_increment, random } from "../hw";
import { hashOnce } from "../crypto/hash";
import { cborErr, cborReadFields, fieldBytes, fieldUint } from "../cbor/cbor";
import { coseKid, coseParse, cosePayload, cosePayloadLen, coseSuite, coseVerify } from "../cbor/cose";
import { DOC_CAP, TBS_BUF, max32, rd16, rd32 } from "./mem";
import { ENTRY_COSE, ENTRY_HEADER, ENTRY_KIND_RECEIPT, ENTRY_KIND_VOUCHER, buildReceipt, buildVoucher, checkIssuerDoc, signEntry } from "./docs";
import { isBlocked, logAppend, logFull } from "./log";
import { CHALLENGE, challengePending, internalFailure, pinVerified, refuse, respCopy, setChallengePending, setPinVerified, succeed } from "./session";
import {
  CERT_REF, DEVICE_ID, WS_BALANCE, WS_CHAIN, WS_COUNTER, WS_LATEST_TIME, WS_LOAD_SEQ, WS_SINCE_AMOUNT, WS_SINCE_COUNT,
  WS, WS_SYNC_ANCHOR, commit, currency, limit, putWallet, suite, ws, wsSet,
} from "./state";
import { txBegin } from "../store/store";

/** The time the device acts on: the latest it has seen, the host's, its own clock. */
function timeSeen(hostTime: u32): u32 {
  return max32(max32(ws(WS_LATEST_TIME), hostTime), clock_now());
}

/** Whether `t` is past the sync deadline (sync anchor + interval; interval 0 = none). PAY
 * refuses such a time seen; LOAD and RECEIVE refuse such a host time, or a reader or peer
 * could push the latest time seen (which never goes back) past it and block every PAY. */
function pastSyncDeadline(t: u32): bool {
  const interval = limit(LIMIT_SYNC_INTERVAL);
  return interval != 0 && <u64>t > <u64>ws(WS_SYNC_ANCHOR) + interval;
}

/** Commits the entry in ENTRY_BUF with the wallet state; answers the entry's COSE bytes. */
function commitEntry(entryLen: i32): u16 {
  txBegin();
  logAppend(entryLen);
  putWallet();
  if (!commit()) return SW_MEMORY_FAILURE;
  respCopy(ENTRY_COSE, entryLen - ENTRY_HEADER);
  return succeed();
}

// ---------------- PAY ----------------
export function cmdPay(p1: u8, data: usize, n: i32): u16 {
  if (p1 != P1_PAY_POS && p1 != P1_PAY_DEVICE) return SW_INCORRECT_P1P2;
  if (n != <i32>PAY_DATA_LEN) return SW_WRONG_LENGTH;
  const amount = rd32(data);
  const cur = rd16(data + 4);
  const payee = data + 6;
  const challenge = payee + <usize>DOC_PAYEE_ID_LEN;
  const t = timeSeen(rd32(challenge + <usize>DOC_CHALLENGE_LEN));
  if (amount == 0) return refuse(SW_WRONG_DATA, REASON_FORMAT);
  if (cur != currency()) return refuse(SW_WRONG_DATA, REASON_CURRENCY);
  // a transfer to itself could never be received (RECEIVE refuses its own vouchers)
  if (p1 == P1_PAY_DEVICE && memory.compare(payee, DEVICE_ID, 8) == 0) return refuse(SW_WRONG_DATA, REASON_FOREIGN);
  if (logFull()) return refuse(SW_NOT_ENOUGH_MEMORY, REASON_LOG_FULL);
  const balance = ws(WS_BALANCE);
  if (amount > limit(LIMIT_MAX_PAYMENT)) return refuse(SW_CONDITIONS_NOT_SATISFIED, REASON_MAX_PAYMENT);
  if (amount > balance) return refuse(SW_CONDITIONS_NOT_SATISFIED, REASON_BALANCE);
  if (ws(WS_SINCE_COUNT) >= limit(LIMIT_MAX_COUNT_SINCE_SYNC)) return refuse(SW_CONDITIONS_NOT_SATISFIED, REASON_COUNT_SINCE_SYNC);
  if (<u64>ws(WS_SINCE_AMOUNT) + amount > <u64>limit(LIMIT_MAX_AMOUNT_SINCE_SYNC)) {
    return refuse(SW_CONDITIONS_NOT_SATISFIED, REASON_AMOUNT_SINCE_SYNC);
  }
  if (pastSyncDeadline(t)) return refuse(SW_CONDITIONS_NOT_SATISFIED, REASON_SYNC_OVERDUE);
  const counter = ws(WS_COUNTER) + 1;
  if (counter == 0) return refuse(SW_CONDITIONS_NOT_SATISFIED, REASON_COUNT_SINCE_SYNC); // 2^32 vouchers: end of life
  // holder verification last, so the holder is never asked for a payment that fails anyway
  if (amount > limit(LIMIT_NO_CVM) && !pinVerified) {
    // a wearable asks its button; a card (no button: -1) needs VERIFY in this session
    if (confirm(CONFIRM_KIND_PAY, amount, CONFIRM_TIMEOUT_MS) != 1) return refuse(SW_SECURITY_STATUS_NOT_SATISFIED, REASON_HOLDER);
  }
  const after = balance - amount;
  const len = signEntry(ENTRY_KIND_VOUCHER, counter, amount, buildVoucher(
    counter, amount, cur, payee, challenge, t, WS + <usize>WS_CHAIN, after, CERT_REF,
    p1 == P1_PAY_DEVICE ? VOUCHER_KIND_D2D : VOUCHER_KIND_POS,
  ));
  if (len < 0) return internalFailure();
  hashOnce(suite(), ENTRY_COSE, len - ENTRY_HEADER, WS + <usize>WS_CHAIN);
  wsSet(WS_BALANCE, after);
  wsSet(WS_COUNTER, counter);
  wsSet(WS_SINCE_COUNT, ws(WS_SINCE_COUNT) + 1);
  wsSet(WS_SINCE_AMOUNT, ws(WS_SINCE_AMOUNT) + amount);
  wsSet(WS_LATEST_TIME, t);
  const sw = commitEntry(len);
  if (sw == SW_NO_ERROR) {
    setPinVerified(false); // one verification, one payment
    counter_increment(); // before the voucher leaves: a later flash rollback shows (state.ts)
  }
  return sw;
}

// ---------------- LOAD ----------------
const LOAD_KEYS: u32 = 0x7f; // LOAD_KEY_TYPE .. LOAD_KEY_ISSUER_KEY_ID, all required

export function cmdLoad(data: usize, n: i32): u16 {
  if (n < 5) return SW_WRONG_LENGTH;
  const sw = checkIssuerDoc(data + 4, n - 4, LOAD_KEYS, LOAD_KEYS, LOAD_KEY_ISSUER_KEY_ID);
  if (sw != SW_NO_ERROR) return sw;
  const type = fieldUint(LOAD_KEY_TYPE);
  const dev = fieldBytes(LOAD_KEY_DEVICE_ID, DOC_DEVICE_ID_LEN, DOC_DEVICE_ID_LEN);
  const seq = fieldUint(LOAD_KEY_SEQ);
  const amount = fieldUint(LOAD_KEY_AMOUNT);
  const cur = fieldUint(LOAD_KEY_CURRENCY);
  const expiry = fieldUint(LOAD_KEY_EXPIRY);
  if (cborErr || type != DOC_TYPE_LOAD || amount == 0) return refuse(SW_WRONG_DATA, REASON_FORMAT);
  if (memory.compare(dev, DEVICE_ID, 8) != 0) return refuse(SW_WRONG_DATA, REASON_FOREIGN);
  if (cur != currency()) return refuse(SW_WRONG_DATA, REASON_CURRENCY);
  if (seq <= ws(WS_LOAD_SEQ)) return refuse(SW_CONDITIONS_NOT_SATISFIED, REASON_REPLAY);
  if (pastSyncDeadline(rd32(data))) return refuse(SW_CONDITIONS_NOT_SATISFIED, REASON_SYNC_OVERDUE);
  const t = timeSeen(rd32(data));
  if (expiry < t) return refuse(SW_CONDITIONS_NOT_SATISFIED, REASON_EXPIRED);
  if (logFull()) return refuse(SW_NOT_ENOUGH_MEMORY, REASON_LOG_FULL);
  const balance = ws(WS_BALANCE);
  if (<u64>balance + amount > <u64>limit(LIMIT_CAP)) return refuse(SW_CONDITIONS_NOT_SATISFIED, REASON_CAP);
  const after = balance + amount;
  const len = signEntry(ENTRY_KIND_RECEIPT, ws(WS_COUNTER), amount,
    buildReceipt(RECEIPT_KIND_LOAD, seq, 0, amount, cur, after, ws(WS_COUNTER), t));
  if (len < 0) return internalFailure();
  wsSet(WS_BALANCE, after);
  wsSet(WS_LOAD_SEQ, seq);
  wsSet(WS_LATEST_TIME, t);
  return commitEntry(len);
}

// ---------------- GET CHALLENGE / RECEIVE ----------------
export function cmdGetChallenge(): u16 {
  random(CHALLENGE, CHALLENGE_LEN);
  setChallengePending(true);
  respCopy(CHALLENGE, <i32>CHALLENGE_LEN);
  return succeed();
}

const CERT_KEYS: u32 = 0x7ff; // CERT_KEY_TYPE .. CERT_KEY_ISSUER_KEY_ID, all required
const VOUCHER_KEYS: u32 = 0xfff; // VOUCHER_KEY_TYPE .. VOUCHER_KEY_KIND, all required
const PAYER_ID: usize = memory.data(8);
const PAYER_PUB: usize = memory.data(<i32>DOC_PUBLIC_KEY_LEN);
const PAYER_CERT_HASH: usize = memory.data(32);
let payerSuite: u8 = 0;
const VOUCHER_HASH: usize = memory.data(32);

/** Checks a payer certificate (issuer-signed, valid at t); keeps id, key and hash. */
export function checkCert(cert: usize, certLen: i32, t: u32): u16 {
  const sw = checkIssuerDoc(cert, certLen, CERT_KEYS, CERT_KEYS, CERT_KEY_ISSUER_KEY_ID);
  if (sw != SW_NO_ERROR) return sw;
  const type = fieldUint(CERT_KEY_TYPE);
  const s = fieldUint(CERT_KEY_SUITE);
  const id = fieldBytes(CERT_KEY_DEVICE_ID, DOC_DEVICE_ID_LEN, DOC_DEVICE_ID_LEN);
  const pub = fieldBytes(CERT_KEY_PUBLIC_KEY, DOC_PUBLIC_KEY_LEN, DOC_PUBLIC_KEY_LEN);
  const cur = fieldUint(CERT_KEY_CURRENCY);
  const nb = fieldUint(CERT_KEY_NOT_BEFORE);
  const na = fieldUint(CERT_KEY_NOT_AFTER);
  if (cborErr || type != DOC_TYPE_CERT || (s != SUITE_SM2_SM3_SM4 && s != SUITE_P256_SHA256_AES128) || nb > na) {
    return refuse(SW_WRONG_DATA, REASON_FORMAT);
  }
  if (cur != currency()) return refuse(SW_WRONG_DATA, REASON_CURRENCY);
  if (t < nb || t > na) return refuse(SW_WRONG_DATA, REASON_TIME);
  memory.copy(PAYER_ID, id, 8);
  memory.copy(PAYER_PUB, pub, <usize>DOC_PUBLIC_KEY_LEN);
  payerSuite = <u8>s;
  hashOnce(payerSuite, cert, certLen, PAYER_CERT_HASH);
  return SW_NO_ERROR;
}

/** RECEIVE: time u32 | voucher length u16 | voucher COSE | payer certificate COSE. */
export function cmdReceive(data: usize, n: i32): u16 {
  // the challenge is single use: whatever happens next, it is gone
  const hadChallenge = challengePending;
  setChallengePending(false);
  if (n < 6) return SW_WRONG_LENGTH;
  const vlen = <i32>rd16(data + 4);
  if (6 + vlen >= n) return SW_WRONG_LENGTH;
  const voucher = data + 6;
  const cert = voucher + <usize>vlen;
  if (pastSyncDeadline(rd32(data))) return refuse(SW_CONDITIONS_NOT_SATISFIED, REASON_SYNC_OVERDUE);
  const t = timeSeen(rd32(data));
  const sw = checkCert(cert, n - 6 - vlen, t);
  if (sw != SW_NO_ERROR) return sw;
  if (!coseParse(voucher, vlen, DOC_DEVICE_ID_LEN, DOC_DEVICE_ID_LEN)) return refuse(SW_WRONG_DATA, REASON_FORMAT);
  if (memory.compare(coseKid, PAYER_ID, 8) != 0) return refuse(SW_WRONG_DATA, REASON_FORMAT);
  if (coseSuite != payerSuite || !coseVerify(payerSuite, PAYER_PUB, TBS_BUF, DOC_CAP + 64)) {
    return refuse(SW_DATA_INVALID, REASON_SIGNATURE);
  }
  if (!cborReadFields(cosePayload, cosePayloadLen, VOUCHER_KEYS, VOUCHER_KEYS)) {
    return refuse(SW_WRONG_DATA, REASON_FORMAT);
  }
  const type = fieldUint(VOUCHER_KEY_TYPE);
  const payer = fieldBytes(VOUCHER_KEY_DEVICE_ID, DOC_DEVICE_ID_LEN, DOC_DEVICE_ID_LEN);
  const amount = fieldUint(VOUCHER_KEY_AMOUNT);
  const cur = fieldUint(VOUCHER_KEY_CURRENCY);
  const payee = fieldBytes(VOUCHER_KEY_PAYEE_ID, DOC_PAYEE_ID_LEN, DOC_PAYEE_ID_LEN);
  const challenge = fieldBytes(VOUCHER_KEY_CHALLENGE, DOC_CHALLENGE_LEN, DOC_CHALLENGE_LEN);
  const certRef = fieldBytes(VOUCHER_KEY_CERT_REF, DOC_CERT_REF_LEN, DOC_CERT_REF_LEN);
  const kind = fieldUint(VOUCHER_KEY_KIND);
  if (cborErr || type != DOC_TYPE_VOUCHER || kind != VOUCHER_KIND_D2D || amount == 0) return refuse(SW_WRONG_DATA, REASON_FORMAT);
  if (memory.compare(payer, PAYER_ID, 8) != 0 || memory.compare(certRef, PAYER_CERT_HASH, <usize>DOC_CERT_REF_LEN) != 0) {
    return refuse(SW_WRONG_DATA, REASON_FORMAT);
  }
  if (memory.compare(payee, DEVICE_ID, 8) != 0 || memory.compare(payer, DEVICE_ID, 8) == 0) {
    return refuse(SW_WRONG_DATA, REASON_FOREIGN);
  }
  if (cur != currency()) return refuse(SW_WRONG_DATA, REASON_CURRENCY);
  if (!hadChallenge || memory.compare(challenge, CHALLENGE, <usize>DOC_CHALLENGE_LEN) != 0) {
    return refuse(SW_CONDITIONS_NOT_SATISFIED, REASON_REPLAY);
  }
  if (isBlocked(payer)) return refuse(SW_CONDITIONS_NOT_SATISFIED, REASON_BLOCKED);
  if (logFull()) return refuse(SW_NOT_ENOUGH_MEMORY, REASON_LOG_FULL);
  const balance = ws(WS_BALANCE);
  if (<u64>balance + amount > <u64>limit(LIMIT_CAP)) return refuse(SW_CONDITIONS_NOT_SATISFIED, REASON_CAP);
  const after = balance + amount;
  hashOnce(suite(), voucher, vlen, VOUCHER_HASH);
  const len = signEntry(ENTRY_KIND_RECEIPT, ws(WS_COUNTER), amount,
    buildReceipt(RECEIPT_KIND_RECEIVE, 0, VOUCHER_HASH, amount, cur, after, ws(WS_COUNTER), t));
  if (len < 0) return internalFailure();
  wsSet(WS_BALANCE, after);
  wsSet(WS_LATEST_TIME, t);
  return commitEntry(len);
}
