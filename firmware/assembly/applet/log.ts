// The device log and its synchronisation (SPEC §3.3 READ LOG, SYNC;
// SPEC §3.4; DESIGN.md §4): a ring of NVM_LOG_CAPACITY records holding every voucher and receipt since the
// last acknowledgement. Entries leave the ring only by an issuer-signed sync
// acknowledgement; when the ring is full PAY, LOAD and RECEIVE are refused (6A84) — the log
// never silently drops an unsynced voucher. AssemblyScript only.
import {
  DOC_BLOCK_LIST_MAX, DOC_DEVICE_ID_LEN, DOC_TYPE_SYNCACK, SYNCACK_KEY_BLOCK_LIST, SYNCACK_KEY_DEVICE_ID,
  SYNCACK_KEY_ISSUER_KEY_ID, SYNCACK_KEY_LIMITS, SYNCACK_KEY_REVOCATION_VERSION, SYNCACK_KEY_TIME, SYNCACK_KEY_TYPE,
  SYNCACK_KEY_UP_TO_COUNTER, SYNCACK_KEY_NEW_KID, SYNCACK_KEY_NEW_KEY, DOC_ISSUER_KEY_ID_MIN, DOC_ISSUER_KEY_ID_MAX,
  DOC_PUBLIC_KEY_LEN,
} from "../../../protocol/portable/cbor-keys";
import { LC_LOCKED, LC_ACTIVE } from "../../../protocol/portable/lifecycle";
import { LIMIT_COUNT, REASON_FOREIGN, REASON_FORMAT, REASON_REPLAY } from "../../../protocol/portable/limits";
import { NVM_BLOCK_LIST, NVM_ISSUER_KEY_0, NVM_LIMITS, NVM_LOG_CAPACITY, NVM_LOG_ENTRY_MAX } from "../../../protocol/portable/nvm";
import { coseKid, coseKidLen } from "../cbor/cose";
import { ecPointValid } from "../crypto/sig";
import {
  SW_CONDITIONS_NOT_SATISFIED, SW_MEMORY_FAILURE, SW_NO_ERROR, SW_RECORD_NOT_FOUND, SW_WRONG_DATA,
} from "../../../protocol/portable/sw";
import { MAJOR_ARRAY, MAJOR_BSTR, MAJOR_MAP, MAJOR_UINT, cborErr, cborExpect, cborFail, cborOpen, cborPtr, fieldBytes, fieldItems, fieldLen, fieldPresent, fieldUint } from "../cbor/cbor";
import { cosePayload, cosePayloadLen } from "../cbor/cose";
import { storeGet, txBegin, txPut } from "../store/store";
import { ENTRY_BUF, max32, rd32, wr32 } from "./mem";
import { ENTRY_HEADER, ENTRY_KIND_VOUCHER, checkIssuerDoc, issuerKey } from "./docs";
import { refuse, respCopy, succeed } from "./session";
import {
  BLOCK, BLOCK_LEN, DEVICE_ID, ISSUER, ISSUER_LEN, LIMITS_LEN, issuerPresent, suite, WS_LAST_ACK, WS_LATEST_TIME, WS_LOG_HEAD, WS_LOG_TAIL, WS_RL_VERSION,
  WS_COUNTER, WS_SINCE_AMOUNT, WS_SINCE_COUNT, WS_SYNC_ANCHOR, commit, lifecycle, limitsHonourable, logId, putLifecycle, putWallet, stateLoad, ws, wsSet,
} from "./state";

export function logCount(): u32 {
  return ws(WS_LOG_TAIL) - ws(WS_LOG_HEAD);
}
export function logFull(): bool {
  return logCount() >= <u32>NVM_LOG_CAPACITY;
}
/** Adds the entry in ENTRY_BUF to the open transaction (and advances the tail mirror). */
export function logAppend(entryLen: i32): void {
  const tail = ws(WS_LOG_TAIL);
  txPut(logId(tail), ENTRY_BUF, entryLen);
  wsSet(WS_LOG_TAIL, tail + 1);
}
/** Reads log entry `seq` into ENTRY_BUF; its length, or -1. */
function logRead(seq: u32): i32 {
  const n = storeGet(logId(seq), ENTRY_BUF, NVM_LOG_ENTRY_MAX);
  return n < ENTRY_HEADER ? -1 : n;
}

/** READ LOG: P1||P2 = index among the unsynced entries, oldest first. */
export function cmdReadLog(p1: u8, p2: u8): u16 {
  const index = (<u32>p1 << 8) | p2;
  if (index >= logCount()) return SW_RECORD_NOT_FOUND;
  const n = logRead(ws(WS_LOG_HEAD) + index);
  if (n < 0) return SW_MEMORY_FAILURE;
  respCopy(ENTRY_BUF + <usize>ENTRY_HEADER, n - ENTRY_HEADER);
  return SW_NO_ERROR;
}

// new block list / limits staged here until the transaction
const NEW_BLOCK: usize = memory.data(BLOCK_LEN);
const NEW_LIMITS: usize = memory.data(LIMITS_LEN);
const NEW_ISSUER: usize = memory.data(ISSUER_LEN);

/** The slot a trusted-key update goes to (SYNCACK_KEY_NEW_KID, SPEC §5.8): the slot already
 * holding that kid, else an empty slot, else the slot not holding the signing key `signer`
 * (the issuer signs such an ack with the newer of the device's keys, so this is the oldest). */
function updateSlot(kid: usize, kidLen: i32, signer: usize): i32 {
  const same = issuerKey(kid, kidLen);
  if (same != 0) return <i32>((same - 9 - ISSUER) / <usize>ISSUER_LEN);
  for (let i = 0; i < 2; i++) if (load<u8>(issuerPresent + <usize>i) == 0) return i;
  return signer == ISSUER + 9 ? 1 : 0;
}

/** Reads a limits map (all LIMITS_KEY_* 0..LIMIT_COUNT-1, ascending) into dst (u32 BE). */
export function readLimitsMap(pos: usize, count: u32, dst: usize): bool {
  if (count != <u32>LIMIT_COUNT) return false;
  cborOpen(pos, <i32>(cosePayload + <usize>cosePayloadLen - pos));
  for (let i: u32 = 0; i < count; i++) {
    if (cborExpect(MAJOR_UINT) != i) cborFail();
    wr32(dst + (<usize>i << 2), cborExpect(MAJOR_UINT));
  }
  return !cborErr;
}

/** SYNC: an issuer-signed acknowledgement prunes the log up to its counter, resets the
 * since-sync limits, and brings block list, revocation version and (optionally) limits. */
export function cmdSync(data: usize, n: i32): u16 {
  const sw = checkIssuerDoc(data, n, 0x3ff, 0xff & ~(<u32>1 << SYNCACK_KEY_LIMITS), SYNCACK_KEY_ISSUER_KEY_ID);
  if (sw != SW_NO_ERROR) return sw;
  const signer = issuerKey(coseKid, coseKidLen);
  const hasNewKey = fieldPresent(SYNCACK_KEY_NEW_KID);
  let newSlot: i32 = 0;
  if (hasNewKey || fieldPresent(SYNCACK_KEY_NEW_KEY)) {
    const nk = fieldBytes(SYNCACK_KEY_NEW_KID, DOC_ISSUER_KEY_ID_MIN, DOC_ISSUER_KEY_ID_MAX);
    const nkLen = <i32>fieldLen(SYNCACK_KEY_NEW_KID);
    const np = fieldBytes(SYNCACK_KEY_NEW_KEY, DOC_PUBLIC_KEY_LEN, DOC_PUBLIC_KEY_LEN);
    if (cborErr || !ecPointValid(suite(), np)) return refuse(SW_WRONG_DATA, REASON_FORMAT);
    // record as PUT ISSUER KEY writes it: kid len | kid padded to 8 | public key
    memory.fill(NEW_ISSUER, 0, <usize>ISSUER_LEN);
    store<u8>(NEW_ISSUER, <u8>nkLen);
    memory.copy(NEW_ISSUER + 1, nk, <usize>nkLen);
    memory.copy(NEW_ISSUER + 9, np, <usize>DOC_PUBLIC_KEY_LEN);
    newSlot = updateSlot(nk, nkLen, signer);
  }
  const type = fieldUint(SYNCACK_KEY_TYPE);
  const dev = fieldBytes(SYNCACK_KEY_DEVICE_ID, DOC_DEVICE_ID_LEN, DOC_DEVICE_ID_LEN);
  const upTo = fieldUint(SYNCACK_KEY_UP_TO_COUNTER);
  const time = fieldUint(SYNCACK_KEY_TIME);
  const rl = fieldUint(SYNCACK_KEY_REVOCATION_VERSION);
  const hasLimits = fieldPresent(SYNCACK_KEY_LIMITS);
  const limitsPos = hasLimits ? fieldItems(SYNCACK_KEY_LIMITS, MAJOR_MAP) : 0;
  const limitsCount = fieldLen(SYNCACK_KEY_LIMITS);
  const blPos = fieldItems(SYNCACK_KEY_BLOCK_LIST, MAJOR_ARRAY);
  const blCount = fieldLen(SYNCACK_KEY_BLOCK_LIST);
  if (cborErr || type != DOC_TYPE_SYNCACK || blCount > DOC_BLOCK_LIST_MAX) return refuse(SW_WRONG_DATA, REASON_FORMAT);
  // block list entries: bstr of a device id each
  let self = false;
  store<u8>(NEW_BLOCK, <u8>blCount);
  cborOpen(blPos, <i32>(cosePayload + <usize>cosePayloadLen - blPos));
  for (let i: u32 = 0; i < blCount; i++) {
    if (cborExpect(MAJOR_BSTR) != DOC_DEVICE_ID_LEN) { cborFail(); break; } // no stale ids kept
    memory.copy(NEW_BLOCK + 1 + <usize>(i * 8), cborPtr, 8);
    if (memory.compare(cborPtr, DEVICE_ID, 8) == 0) self = true;
  }
  if (cborErr) return refuse(SW_WRONG_DATA, REASON_FORMAT);
  if (hasLimits && !readLimitsMap(limitsPos, limitsCount, NEW_LIMITS)) return refuse(SW_WRONG_DATA, REASON_FORMAT);
  if (memory.compare(dev, DEVICE_ID, 8) != 0) return refuse(SW_WRONG_DATA, REASON_FOREIGN);
  if (upTo > ws(WS_COUNTER)) return refuse(SW_WRONG_DATA, REASON_FORMAT);
  // freshness: a replayed (older) acknowledgement must not reset the since-sync limits
  if (time <= ws(WS_LAST_ACK)) return refuse(SW_CONDITIONS_NOT_SATISFIED, REASON_REPLAY);
  // new limits under SET LIMITS' rule: a signed ack does not make a cap below the balance
  // (or a max payment above the cap) honourable
  if (hasLimits && !limitsHonourable(NEW_LIMITS)) return refuse(SW_WRONG_DATA, REASON_FORMAT);

  // drop acknowledged entries (counter <= upTo: a receipt carries the counter of the
  // last voucher before it), then recount what stays unsynced
  let head = ws(WS_LOG_HEAD);
  const tail = ws(WS_LOG_TAIL);
  while (head < tail) {
    if (logRead(head) < 0) return SW_MEMORY_FAILURE;
    if (rd32(ENTRY_BUF + 1) > upTo) break;
    head++;
  }
  let count: u32 = 0;
  let amount: u64 = 0;
  for (let s = head; s < tail; s++) {
    if (logRead(s) < 0) return SW_MEMORY_FAILURE;
    if (load<u8>(ENTRY_BUF) == ENTRY_KIND_VOUCHER) {
      count++;
      amount += rd32(ENTRY_BUF + 5);
    }
  }
  wsSet(WS_LOG_HEAD, head);
  wsSet(WS_SINCE_COUNT, count);
  wsSet(WS_SINCE_AMOUNT, amount > 0xffffffff ? 0xffffffff : <u32>amount);
  wsSet(WS_SYNC_ANCHOR, time);
  wsSet(WS_LAST_ACK, time);
  wsSet(WS_LATEST_TIME, max32(ws(WS_LATEST_TIME), time));
  wsSet(WS_RL_VERSION, rl);
  txBegin();
  putWallet();
  txPut(NVM_BLOCK_LIST, NEW_BLOCK, 1 + <i32>blCount * 8);
  if (hasLimits) txPut(NVM_LIMITS, NEW_LIMITS, LIMITS_LEN);
  if (hasNewKey) txPut(NVM_ISSUER_KEY_0 + <u16>newSlot, NEW_ISSUER, ISSUER_LEN);
  // the issuer revoked this very device: it locks itself
  if (self && lifecycle == LC_ACTIVE) putLifecycle(LC_LOCKED);
  if (!commit()) return SW_MEMORY_FAILURE;
  stateLoad(); // block list, limits and lifecycle mirrors: re-read what was committed
  return succeed();
}
/** True when `id` (8 bytes) is on the block list of the last sync. */
export function isBlocked(id: usize): bool {
  const n = <i32>load<u8>(BLOCK);
  for (let i = 0; i < n; i++) if (memory.compare(BLOCK + 1 + <usize>(i * 8), id, 8) == 0) return true;
  return false;
}
