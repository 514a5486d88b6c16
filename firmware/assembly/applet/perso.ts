// Identity, personalization and administration commands of the wallet applet (SPEC §3.3:
// SELECT, GET STATUS, SET IDENTITY, SET LIMITS, PUT ISSUER KEY, GENERATE KEY, GET PUBLIC
// KEY, PUT CERTIFICATE, GET CERTIFICATE, FINALIZE, LOCK, UNLOCK, TERMINATE). The dispatcher
// has already checked lifecycle and secure channel; each handler checks its data and
// commits one transaction. AssemblyScript only.
import {
  AID_HI, AID_LEN, AID_LO, IDENTITY_DATA_LEN, P1_SELECT_BY_AID, P2_SELECT_FIRST, SELECT_OFF_DEVICE_ID,
  SELECT_RESP_LEN, STATUS_FLAG_CHANNEL_OPEN, STATUS_FLAG_CORRUPT, STATUS_FLAG_HAS_CERT, STATUS_FLAG_HAS_KEY,
  STATUS_FLAG_LOG_FULL, STATUS_FLAG_PIN_BLOCKED, STATUS_FLAG_PIN_VERIFIED, STATUS_FLAG_PUK_BLOCKED,
  STATUS_OFF_BALANCE, STATUS_OFF_CAP, STATUS_OFF_COUNTER, STATUS_OFF_CURRENCY, STATUS_OFF_DEVICE_ID,
  STATUS_OFF_FLAGS, STATUS_OFF_FORM_FACTOR, STATUS_OFF_LAST_REASON, STATUS_OFF_LATEST_TIME, STATUS_OFF_LIFECYCLE,
  STATUS_OFF_LOAD_SEQ, STATUS_OFF_LOG_CAPACITY, STATUS_OFF_LOG_COUNT, STATUS_OFF_PIN_TRIES, STATUS_OFF_PUK_TRIES,
  STATUS_OFF_REMAINING_AMOUNT, STATUS_OFF_REMAINING_PAYMENTS, STATUS_OFF_REVOCATION_VERSION, STATUS_OFF_STORE_STATE, STATUS_OFF_LAST_ACK_TIME,
  STATUS_OFF_SUITE, STATUS_OFF_SYNC_DEADLINE, STATUS_RESP_LEN, SELECT_OFF_FORM_FACTOR, SELECT_OFF_LIFECYCLE,
  SELECT_OFF_REVISION, SELECT_OFF_SUITE, PIN_BLOCK_LEN,
} from "../../../protocol/portable/apdu";
import {
  CERT_KEY_CURRENCY, CERT_KEY_DEVICE_ID, CERT_KEY_ISSUER_KEY_ID, CERT_KEY_NOT_AFTER, CERT_KEY_NOT_BEFORE,
  CERT_KEY_PUBLIC_KEY, CERT_KEY_SUITE, CERT_KEY_TOKEN, CERT_KEY_TYPE, DOC_DEVICE_ID_LEN, DOC_ISSUER_KEY_ID_MAX,
  DOC_ISSUER_KEY_ID_MIN, DOC_PUBLIC_KEY_LEN, DOC_TOKEN_LEN, DOC_TYPE_CERT, FORM_CARD, FORM_WATCH,
} from "../../../protocol/portable/cbor-keys";
import { LC_ACTIVE, LC_LOCKED, LC_TERMINATED } from "../../../protocol/portable/lifecycle";
import {
  LIMIT_CAP, LIMIT_MAX_AMOUNT_SINCE_SYNC, LIMIT_MAX_COUNT_SINCE_SYNC, LIMIT_SYNC_INTERVAL,
  REASON_FOREIGN, REASON_FORMAT,
} from "../../../protocol/portable/limits";
import { NVM_CERT, NVM_DEVICE_KEY, NVM_IDENTITY, NVM_ISSUER_KEY_0, NVM_LIMITS, NVM_LOG_CAPACITY, NVM_MAX_VALUE } from "../../../protocol/portable/nvm";
import { PROTOCOL_REVISION } from "../../../protocol/portable/revision";
import { SUITE_P256_SHA256_AES128, SUITE_SM2_SM3_SM4 } from "../../../protocol/portable/suite";
import {
  SW_CONDITIONS_NOT_SATISFIED, SW_FILE_NOT_FOUND, SW_INCORRECT_P1P2, SW_MEMORY_FAILURE, SW_NOT_ENOUGH_MEMORY,
  SW_NO_ERROR, SW_REFERENCED_DATA_NOT_FOUND, SW_WRONG_DATA, SW_WRONG_LENGTH,
} from "../../../protocol/portable/sw";
import { random } from "../hw";
import { ecKeygen, ecPointValid } from "../crypto/sig";
import { cborErr, fieldBytes, fieldUint } from "../cbor/cbor";
import { txBegin, txDelete, txPut } from "../store/store";
import { TMP, rd32, wr16, wr32 } from "./mem";
import { checkIssuerDoc } from "./docs";
import { logCount, logFull } from "./log";
import { channelOpen } from "./channel";
import { internalFailure, lastReason, pinVerified, refuse, respCopy, respSetLen, succeed } from "./session";
import {
  CERT, DEVICE_ID, DEVKEY, DEVKEY_LEN, DEV_PUB, IDENTITY, ISSUER_LEN, LIMITS, LIMITS_LEN, PIN_REC, PUK_REC, TOKEN,
  WS, WS_BALANCE, WS_COUNTER, WS_LATEST_TIME, WS_LEN, WS_LOAD_SEQ, WS_RL_VERSION, WS_SINCE_AMOUNT, WS_SINCE_COUNT,
  WS_SYNC_ANCHOR, WS_LAST_ACK, certLen, commit, currency, formFactor, hasIdentity, hasKey, hasLimits, hasPin, hasPuk, hasWallet,
  issuerPresent, lifecycle, limit, limitsHonourable, putLifecycle, putWallet, stateLoad, storeState, suite, ws, wsSet,
} from "./state";
import { RESP_BUF } from "./mem";

// ---------------- SELECT / GET STATUS ----------------
export function selectMatches(p1: u8, p2: u8, data: usize, n: i32): u16 {
  if (p1 != P1_SELECT_BY_AID || p2 != P2_SELECT_FIRST) return SW_INCORRECT_P1P2;
  if (n != <i32>AID_LEN || rd32(data) != AID_HI || rd32(data + 4) != AID_LO) return SW_FILE_NOT_FOUND;
  return SW_NO_ERROR;
}
export function selectResponse(): u16 {
  const r = RESP_BUF;
  memory.fill(r, 0, <usize>SELECT_RESP_LEN);
  wr32(r + <usize>SELECT_OFF_REVISION, PROTOCOL_REVISION);
  store<u8>(r + <usize>SELECT_OFF_LIFECYCLE, lifecycle);
  store<u8>(r + <usize>SELECT_OFF_SUITE, suite());
  store<u8>(r + <usize>SELECT_OFF_FORM_FACTOR, formFactor());
  memory.copy(r + <usize>SELECT_OFF_DEVICE_ID, DEVICE_ID, 8);
  respSetLen(<i32>SELECT_RESP_LEN);
  return succeed();
}

function sub(a: u32, b: u32): u32 {
  return a > b ? a - b : 0;
}

export function cmdGetStatus(): u16 {
  const r = RESP_BUF;
  memory.fill(r, 0, <usize>STATUS_RESP_LEN);
  const pinTries = load<u8>(PIN_REC + <usize>PIN_BLOCK_LEN);
  const pukTries = load<u8>(PUK_REC + <usize>PIN_BLOCK_LEN);
  let flags: u8 = 0;
  if (pinVerified) flags |= STATUS_FLAG_PIN_VERIFIED;
  if (hasPin && pinTries == 0) flags |= STATUS_FLAG_PIN_BLOCKED;
  if (hasPuk && pukTries == 0) flags |= STATUS_FLAG_PUK_BLOCKED;
  if (channelOpen()) flags |= STATUS_FLAG_CHANNEL_OPEN;
  if (hasKey) flags |= STATUS_FLAG_HAS_KEY;
  if (certLen > 0) flags |= STATUS_FLAG_HAS_CERT;
  if (storeState != 0) flags |= STATUS_FLAG_CORRUPT;
  if (logFull()) flags |= STATUS_FLAG_LOG_FULL;
  store<u8>(r + <usize>STATUS_OFF_LIFECYCLE, lifecycle);
  store<u8>(r + <usize>STATUS_OFF_SUITE, suite());
  store<u8>(r + <usize>STATUS_OFF_FORM_FACTOR, formFactor());
  store<u8>(r + <usize>STATUS_OFF_FLAGS, flags);
  store<u8>(r + <usize>STATUS_OFF_PIN_TRIES, hasPin ? pinTries : 0);
  store<u8>(r + <usize>STATUS_OFF_PUK_TRIES, hasPuk ? pukTries : 0);
  memory.copy(r + <usize>STATUS_OFF_DEVICE_ID, DEVICE_ID, 8);
  wr32(r + <usize>STATUS_OFF_BALANCE, ws(WS_BALANCE));
  wr32(r + <usize>STATUS_OFF_CAP, hasLimits ? limit(LIMIT_CAP) : 0);
  wr32(r + <usize>STATUS_OFF_COUNTER, ws(WS_COUNTER));
  if (hasLimits) {
    wr32(r + <usize>STATUS_OFF_REMAINING_PAYMENTS, sub(limit(LIMIT_MAX_COUNT_SINCE_SYNC), ws(WS_SINCE_COUNT)));
    wr32(r + <usize>STATUS_OFF_REMAINING_AMOUNT, sub(limit(LIMIT_MAX_AMOUNT_SINCE_SYNC), ws(WS_SINCE_AMOUNT)));
    const interval = limit(LIMIT_SYNC_INTERVAL);
    if (interval != 0 && hasWallet) {
      const d = <u64>ws(WS_SYNC_ANCHOR) + interval;
      wr32(r + <usize>STATUS_OFF_SYNC_DEADLINE, d > 0xffffffff ? 0xffffffff : <u32>d);
    }
  }
  wr32(r + <usize>STATUS_OFF_LATEST_TIME, ws(WS_LATEST_TIME));
  wr16(r + <usize>STATUS_OFF_LOG_COUNT, logCount());
  wr16(r + <usize>STATUS_OFF_LOG_CAPACITY, NVM_LOG_CAPACITY);
  wr32(r + <usize>STATUS_OFF_LOAD_SEQ, ws(WS_LOAD_SEQ));
  wr32(r + <usize>STATUS_OFF_REVOCATION_VERSION, ws(WS_RL_VERSION));
  wr16(r + <usize>STATUS_OFF_CURRENCY, currency());
  store<u8>(r + <usize>STATUS_OFF_LAST_REASON, lastReason);
  store<u8>(r + <usize>STATUS_OFF_STORE_STATE, <u8>storeState);
  wr32(r + <usize>STATUS_OFF_LAST_ACK_TIME, ws(WS_LAST_ACK));
  respSetLen(<i32>STATUS_RESP_LEN);
  return SW_NO_ERROR; // a status read is not a success that clears the last refusal reason
}

// ---------------- personalization ----------------
/** Commits and re-reads the mirrors (flags such as hasKey follow what flash holds). */
function done(): u16 {
  if (!commit()) return SW_MEMORY_FAILURE;
  stateLoad();
  return succeed();
}

export function cmdSetIdentity(data: usize, n: i32): u16 {
  if (n != <i32>IDENTITY_DATA_LEN) return SW_WRONG_LENGTH;
  const s = load<u8>(data);
  const form = load<u8>(data + 1);
  if ((s != SUITE_SM2_SM3_SM4 && s != SUITE_P256_SHA256_AES128) || form < FORM_CARD || form > FORM_WATCH) return SW_WRONG_DATA;
  if (hasKey && s != suite()) return SW_CONDITIONS_NOT_SATISFIED; // the key pair belongs to the old suite
  txBegin();
  txPut(NVM_IDENTITY, data, n);
  return done();
}

export function cmdSetLimits(data: usize, n: i32): u16 {
  if (n != LIMITS_LEN) return SW_WRONG_LENGTH;
  if (!limitsHonourable(data)) return SW_WRONG_DATA;
  txBegin();
  txPut(NVM_LIMITS, data, n);
  return done();
}

export function cmdPutIssuerKey(p1: u8, p2: u8, data: usize, n: i32): u16 {
  if (p1 > 1 || p2 != 0) return SW_INCORRECT_P1P2;
  if (!hasIdentity) return SW_CONDITIONS_NOT_SATISFIED;
  if (n < 1) return SW_WRONG_LENGTH;
  const kidLen = <u32>load<u8>(data);
  if (kidLen < DOC_ISSUER_KEY_ID_MIN || kidLen > DOC_ISSUER_KEY_ID_MAX) return SW_WRONG_DATA;
  if (n != 1 + <i32>kidLen + <i32>DOC_PUBLIC_KEY_LEN) return SW_WRONG_LENGTH;
  const pub = data + 1 + <usize>kidLen;
  if (!ecPointValid(suite(), pub)) return SW_WRONG_DATA;
  // record: kid len | kid padded to 8 | public key
  memory.fill(TMP, 0, <usize>ISSUER_LEN);
  memory.copy(TMP, data, 1 + <usize>kidLen);
  memory.copy(TMP + 9, pub, <usize>DOC_PUBLIC_KEY_LEN);
  txBegin();
  txPut(NVM_ISSUER_KEY_0 + <u16>p1, TMP, ISSUER_LEN);
  return done();
}

export function cmdGenerateKey(): u16 {
  if (!hasIdentity) return SW_CONDITIONS_NOT_SATISFIED;
  random(TMP, 48);
  const ok = ecKeygen(suite(), TMP, DEVKEY, DEV_PUB);
  memory.fill(TMP, 0, 48);
  if (!ok) return internalFailure();
  txBegin();
  txPut(NVM_DEVICE_KEY, DEVKEY, DEVKEY_LEN);
  if (certLen > 0) txDelete(NVM_CERT); // the certificate named the old key
  const sw = done();
  if (sw == SW_NO_ERROR) respCopy(DEV_PUB, <i32>DOC_PUBLIC_KEY_LEN);
  return sw;
}

export function cmdGetPublicKey(): u16 {
  if (!hasKey) return SW_REFERENCED_DATA_NOT_FOUND;
  respCopy(DEV_PUB, <i32>DOC_PUBLIC_KEY_LEN);
  return SW_NO_ERROR;
}

const CERT_KEYS: u32 = 0x7ff; // CERT_KEY_TYPE .. CERT_KEY_ISSUER_KEY_ID, all required

export function cmdPutCertificate(data: usize, n: i32): u16 {
  if (!hasKey) return SW_CONDITIONS_NOT_SATISFIED;
  if (n > NVM_MAX_VALUE) return SW_NOT_ENOUGH_MEMORY;
  const sw = checkIssuerDoc(data, n, CERT_KEYS, CERT_KEYS, CERT_KEY_ISSUER_KEY_ID);
  if (sw != SW_NO_ERROR) return sw;
  const type = fieldUint(CERT_KEY_TYPE);
  const dev = fieldBytes(CERT_KEY_DEVICE_ID, DOC_DEVICE_ID_LEN, DOC_DEVICE_ID_LEN);
  const token = fieldBytes(CERT_KEY_TOKEN, DOC_TOKEN_LEN, DOC_TOKEN_LEN);
  const pub = fieldBytes(CERT_KEY_PUBLIC_KEY, DOC_PUBLIC_KEY_LEN, DOC_PUBLIC_KEY_LEN);
  const s = fieldUint(CERT_KEY_SUITE);
  const cur = fieldUint(CERT_KEY_CURRENCY);
  const nb = fieldUint(CERT_KEY_NOT_BEFORE);
  const na = fieldUint(CERT_KEY_NOT_AFTER);
  if (cborErr || type != DOC_TYPE_CERT || nb > na) return refuse(SW_WRONG_DATA, REASON_FORMAT);
  // the certificate must name THIS device: its id, its key, its suite, token and currency
  if (memory.compare(dev, DEVICE_ID, 8) != 0 || memory.compare(pub, DEV_PUB, <usize>DOC_PUBLIC_KEY_LEN) != 0 ||
      memory.compare(token, TOKEN, <usize>DOC_TOKEN_LEN) != 0 || s != <u32>suite() || cur != currency()) {
    return refuse(SW_WRONG_DATA, REASON_FOREIGN);
  }
  txBegin();
  txPut(NVM_CERT, data, n);
  return done();
}

export function cmdGetCertificate(): u16 {
  if (certLen == 0) return SW_REFERENCED_DATA_NOT_FOUND;
  respCopy(CERT, certLen);
  return SW_NO_ERROR;
}

export function cmdFinalize(data: usize, n: i32): u16 {
  if (n != 4) return SW_WRONG_LENGTH;
  const anyIssuer = load<u8>(issuerPresent) != 0 || load<u8>(issuerPresent + 1) != 0;
  if (!hasIdentity || !hasLimits || !hasKey || certLen == 0 || !anyIssuer || !hasPin || !hasPuk) {
    return SW_CONDITIONS_NOT_SATISFIED;
  }
  const t = rd32(data);
  memory.fill(WS, 0, WS_LEN);
  wsSet(WS_LATEST_TIME, t);
  wsSet(WS_SYNC_ANCHOR, t);
  txBegin();
  putWallet();
  putLifecycle(LC_ACTIVE);
  return done();
}

// ---------------- administration ----------------
export function cmdSetLifecycle(target: u8): u16 {
  txBegin();
  putLifecycle(target);
  // end of life: the signing key is destroyed; the log stays readable for settlement
  if (target == LC_TERMINATED) txDelete(NVM_DEVICE_KEY);
  return done();
}
