// Persistent state of the wallet applet: RAM mirrors of every record (ids in
// protocol/portable/nvm.ts, layouts in SPEC §3.4), rebuilt from flash on every reset, and
// the one way to change them: a store transaction that either commits whole or leaves
// flash as it was — in which case the RAM mirrors are reloaded from flash so RAM never
// runs ahead of what survives a power cut. AssemblyScript only.
import {
  NVM_BLOCK_LIST, NVM_CERT, NVM_DEVICE_ID, NVM_DEVICE_KEY, NVM_IDENTITY, NVM_ISSUER_KEY_0, NVM_LIFECYCLE, NVM_LIMITS,
  NVM_LOG_CAPACITY, NVM_LOG_FIRST, NVM_MAX_VALUE, NVM_OK, NVM_PIN, NVM_PUK, NVM_SCP_KEYS, NVM_WALLET,
} from "../../../protocol/portable/nvm";
import { LC_MANUFACTURED, LC_TERMINATED } from "../../../protocol/portable/lifecycle";
import { IDENTITY_DATA_LEN, PIN_BLOCK_LEN } from "../../../protocol/portable/apdu";
import { LIMIT_CAP, LIMIT_COUNT, LIMIT_MAX_PAYMENT } from "../../../protocol/portable/limits";
import { DOC_BLOCK_LIST_MAX } from "../../../protocol/portable/cbor-keys";
import { counter_increment, counter_read, random } from "../hw";
import { hashOnce } from "../crypto/hash";
import { storeGet, storeMount, txBegin, txCommit, txPut } from "../store/store";
import { TMP, rd32, wr32 } from "./mem";

// ---- records ----
export let lifecycle: u8 = LC_MANUFACTURED;
export const DEVICE_ID: usize = memory.data(8);

// NVM_IDENTITY: suite u8 | form factor u8 | currency u16 | token [16]
export const IDENTITY: usize = memory.data(<i32>IDENTITY_DATA_LEN);
export let hasIdentity: bool = false;
export function suite(): u8 { return hasIdentity ? load<u8>(IDENTITY) : 0; }
export function formFactor(): u8 { return hasIdentity ? load<u8>(IDENTITY + 1) : 0; }
export function currency(): u32 { return hasIdentity ? (<u32>load<u8>(IDENTITY + 2) << 8) | load<u8>(IDENTITY + 3) : 0; }
export const TOKEN: usize = IDENTITY + 4;

export const LIMITS_LEN: i32 = <i32>LIMIT_COUNT * 4;
export const LIMITS: usize = memory.data(LIMITS_LEN);
export let hasLimits: bool = false;
export function limit(id: u8): u32 { return rd32(LIMITS + (<usize>id << 2)); }
/** Limits (LIMIT_COUNT × u32 BE at `l`) this device can honour now, the ONE rule of SET LIMITS
 * and of a SYNC ack's new limits (SPEC §3.3): cap ≥ current balance (a cap below it could
 * never be met) and max payment ≤ cap. Other relations (no-CVM or the since-sync totals
 * above the cap or the max payment) only make a limit inert, and stay allowed. */
export function limitsHonourable(l: usize): bool {
  const cap = rd32(l + (<usize>LIMIT_CAP << 2));
  return cap >= ws(WS_BALANCE) && rd32(l + (<usize>LIMIT_MAX_PAYMENT << 2)) <= cap;
}

// NVM_DEVICE_KEY: private [32] | public [65]
export const DEVKEY_LEN: i32 = 97;
export const DEVKEY: usize = memory.data(DEVKEY_LEN);
export const DEV_PRIV: usize = DEVKEY;
export const DEV_PUB: usize = DEVKEY + 32;
export let hasKey: bool = false;

// NVM_SCP_KEYS: KVN | ENC | MAC | DEK; absent = the GP default key set 40..4F
export const SCP_KEYS_LEN: i32 = 49;
export const SCP_KEYS: usize = memory.data(SCP_KEYS_LEN);
export let hasScpKeys: bool = false;

export const CERT: usize = memory.data(NVM_MAX_VALUE);
export let certLen: i32 = 0;
export const CERT_REF: usize = memory.data(32); // hash of the certificate's COSE bytes (first 8 = cert ref)

// NVM_ISSUER_KEY_0/1: kid len | kid [8] | public key [65]
export const ISSUER_LEN: i32 = 74;
export const ISSUER: usize = memory.data(ISSUER_LEN * 2);
export const issuerPresent: usize = memory.data(2);

// NVM_PIN / NVM_PUK: block [8] | tries u8
export const SECRET_LEN: i32 = <i32>PIN_BLOCK_LEN + 1;
export const PIN_REC: usize = memory.data(SECRET_LEN);
export const PUK_REC: usize = memory.data(SECRET_LEN);
export let hasPin: bool = false;
export let hasPuk: bool = false;

// NVM_WALLET: the record every value command rewrites (all u32 big-endian)
export const WS_BALANCE: u32 = 0;
export const WS_COUNTER: u32 = 4; // counter of the last voucher (0 = none)
export const WS_LATEST_TIME: u32 = 8; // latest time seen; never goes backwards
export const WS_SINCE_COUNT: u32 = 12; // vouchers since the last sync
export const WS_SINCE_AMOUNT: u32 = 16; // amount paid since the last sync
export const WS_LOAD_SEQ: u32 = 20; // last accepted load sequence
export const WS_SYNC_ANCHOR: u32 = 24; // time the sync interval runs from (FINALIZE / last ack)
export const WS_LAST_ACK: u32 = 28; // time of the last sync acknowledgement
export const WS_RL_VERSION: u32 = 32; // revocation-list version from the last ack
export const WS_LOG_HEAD: u32 = 36; // sequence number of the oldest unsynced log entry
export const WS_LOG_TAIL: u32 = 40; // sequence number of the next log entry
export const WS_CHAIN: u32 = 44; // [32] hash of the last voucher's COSE bytes (zeros: none)
export const WS_LEN: i32 = 76;
export const WS: usize = memory.data(WS_LEN);
export let hasWallet: bool = false;
export function ws(off: u32): u32 { return rd32(WS + <usize>off); }
export function wsSet(off: u32, v: u32): void { wr32(WS + <usize>off, v); }

// NVM_BLOCK_LIST: n | n x device id [8]
export const BLOCK_LEN: i32 = 1 + <i32>DOC_BLOCK_LIST_MAX * 8;
export const BLOCK: usize = memory.data(BLOCK_LEN);

/** 0 = flash state intact; else the store's mount error, or NVM_ERR_CORRUPT for a record
 * of the wrong size. A device in this state refuses every command but SELECT and GET STATUS (SPEC §3.1). */
export let storeState: i32 = 0;

// ---- loading ----
function fixed(id: u16, dst: usize, len: i32): bool {
  const n = storeGet(id, dst, len);
  if (n < 0) return false;
  if (n != len) storeState = 2; // NVM_ERR_CORRUPT: a record of the wrong size
  return n == len;
}

/** Rebuilds every RAM mirror from flash (reset, and after a failed commit). */
export function stateLoad(): void {
  storeState = 0;
  hasIdentity = fixed(NVM_IDENTITY, IDENTITY, <i32>IDENTITY_DATA_LEN);
  hasLimits = fixed(NVM_LIMITS, LIMITS, LIMITS_LEN);
  hasKey = fixed(NVM_DEVICE_KEY, DEVKEY, DEVKEY_LEN);
  hasScpKeys = fixed(NVM_SCP_KEYS, SCP_KEYS, SCP_KEYS_LEN);
  hasPin = fixed(NVM_PIN, PIN_REC, SECRET_LEN);
  hasPuk = fixed(NVM_PUK, PUK_REC, SECRET_LEN);
  hasWallet = fixed(NVM_WALLET, WS, WS_LEN);
  if (!hasWallet) memory.fill(WS, 0, WS_LEN);
  for (let i = 0; i < 2; i++) {
    store<u8>(issuerPresent + <usize>i, fixed(NVM_ISSUER_KEY_0 + <u16>i, ISSUER + <usize>(i * ISSUER_LEN), ISSUER_LEN) ? 1 : 0);
  }
  certLen = storeGet(NVM_CERT, CERT, NVM_MAX_VALUE);
  if (certLen < 0) certLen = 0;
  if (certLen > 0 && hasIdentity) hashOnce(suite(), CERT, certLen, CERT_REF);
  const nb = storeGet(NVM_BLOCK_LIST, BLOCK, BLOCK_LEN);
  if (nb < 0) store<u8>(BLOCK, 0);
  else if (nb != 1 + <i32>load<u8>(BLOCK) * 8) storeState = 2;
  if (fixed(NVM_LIFECYCLE, TMP, 1)) {
    lifecycle = load<u8>(TMP);
    if (lifecycle < LC_MANUFACTURED || lifecycle > LC_TERMINATED) storeState = 2;
  }
  if (!fixed(NVM_DEVICE_ID, DEVICE_ID, 8)) memory.fill(DEVICE_ID, 0, 8);
  if (hasWallet && ws(WS_LOG_TAIL) - ws(WS_LOG_HEAD) > <u32>NVM_LOG_CAPACITY) storeState = 2;
}

/** Power-on: mount the store, load the mirrors, and give a blank device its identity. */
export function stateReset(): void {
  const m = storeMount();
  lifecycle = LC_MANUFACTURED;
  if (m != NVM_OK) {
    storeState = m;
    return;
  }
  stateLoad();
  if (storeState == 0 && storeGet(NVM_LIFECYCLE, TMP, 1) < 0) {
    // first power-on of a blank chip: draw its identity (one transaction; a cut retries)
    random(DEVICE_ID, 8);
    store<u8>(TMP, LC_MANUFACTURED);
    txBegin();
    txPut(NVM_DEVICE_ID, DEVICE_ID, 8);
    txPut(NVM_LIFECYCLE, TMP, 1);
    commit();
  }
  if (storeState == 0) checkHardwareCounter();
}

/** The hardware monotonic counter (SPEC §2) follows the voucher counter: PAY increments it
 * right after its commit, before the voucher leaves. Behind (a cut between the two, or a
 * fresh chip) it catches up; ahead means the flash was rolled back to an older image after
 * vouchers went out (double spending): the device refuses value commands (corrupt). */
function checkHardwareCounter(): void {
  const c = ws(WS_COUNTER);
  let hw = counter_read();
  if (hw > c) { storeState = 2; return; } // NVM_ERR_CORRUPT
  while (hw < c) {
    const next = counter_increment();
    if (next <= hw) break; // a counter that does not move: nothing more to do
    hw = next;
  }
}

// ---- writing: callers txBegin(), txPut the changed mirrors, then commit() ----
/** Commits the open transaction; on failure (store full, flash error) nothing changed:
 * reloads the mirrors and returns false (the caller answers 6581). */
export function commit(): bool {
  const r = txCommit();
  if (r == NVM_OK) return true;
  stateLoad(); // flash kept the old state: so does RAM
  return false;
}
export function putLifecycle(lc: u8): void {
  store<u8>(TMP, lc);
  txPut(NVM_LIFECYCLE, TMP, 1);
}
export function putWallet(): void {
  txPut(NVM_WALLET, WS, WS_LEN);
}
/** Log ring slot record id of sequence number `seq`. */
export function logId(seq: u32): u16 {
  return NVM_LOG_FIRST + <u16>(seq % <u32>NVM_LOG_CAPACITY);
}
