// Holder PIN and unblocking PUK (SPEC §3.3 VERIFY, CHANGE REFERENCE DATA, RESET RETRY
// COUNTER, SET PIN, SET PUK; ISO/IEC 7816-4 §11.5). The try counter is decremented and
// committed to flash BEFORE the comparison, so cutting power to hide a wrong guess costs
// the try anyway (DESIGN.md §3); a match restores the tries in a second transaction.
// AssemblyScript only.
import {
  P1_CHANGE_REFERENCE_DATA_OLD_NEW, P1_RESET_RETRY_COUNTER_NEW_PIN, P1_RESET_RETRY_COUNTER_ONLY, P2_PIN, P2_PUK,
  PIN_BLOCK_LEN, PIN_MAX_DIGITS, PIN_MIN_DIGITS, PIN_TRIES, PUK_DIGITS, PUK_TRIES,
} from "../../../protocol/portable/apdu";
import { NVM_PIN, NVM_PUK } from "../../../protocol/portable/nvm";
import {
  SW_AUTH_METHOD_BLOCKED, SW_CONDITIONS_NOT_SATISFIED, SW_INCORRECT_P1P2, SW_MEMORY_FAILURE, SW_NO_ERROR,
  SW_VERIFY_FAIL_BASE, SW_WRONG_DATA, SW_WRONG_LENGTH,
} from "../../../protocol/portable/sw";
import { txBegin, txPut } from "../store/store";
import { ctEqual } from "./mem";
import { pinVerified, setPinVerified, succeed } from "./session";
import { PIN_REC, PUK_REC, SECRET_LEN, commit, hasPin, hasPuk, stateLoad } from "./state";

const BLOCK: i32 = <i32>PIN_BLOCK_LEN;

/** ASCII digits, then 0xFF padding; digit count within [minDigits, maxDigits]. */
export function validBlock(p: usize, minDigits: i32, maxDigits: i32): bool {
  let digits = 0;
  while (digits < BLOCK) {
    const c = load<u8>(p + <usize>digits);
    if (c < 0x30 || c > 0x39) break;
    digits++;
  }
  for (let i = digits; i < BLOCK; i++) if (load<u8>(p + <usize>i) != 0xff) return false;
  return digits >= minDigits && digits <= maxDigits;
}

function triesSw(tries: u8): u16 {
  return tries == 0 ? SW_AUTH_METHOD_BLOCKED : SW_VERIFY_FAIL_BASE | <u16>tries;
}

/** Decrements and commits the try counter of `rec`, then compares. SW_NO_ERROR on a match
 * (tries still decremented: the caller restores them in its own transaction). */
function checkSecret(rec: usize, id: u16, candidate: usize): u16 {
  const tries = load<u8>(rec + <usize>BLOCK);
  if (tries == 0) return SW_AUTH_METHOD_BLOCKED;
  store<u8>(rec + <usize>BLOCK, tries - 1);
  txBegin();
  txPut(id, rec, SECRET_LEN);
  if (!commit()) return SW_MEMORY_FAILURE;
  if (!ctEqual(rec, candidate, BLOCK)) return SW_VERIFY_FAIL_BASE | <u16>(tries - 1);
  return SW_NO_ERROR;
}

/** Writes value (or keeps it when newValue is 0) and full tries into a secret record. */
function putSecret(rec: usize, id: u16, newValue: usize, tries: u8): void {
  if (newValue != 0) memory.copy(rec, newValue, <usize>BLOCK);
  store<u8>(rec + <usize>BLOCK, tries);
  txPut(id, rec, SECRET_LEN);
}

export function cmdVerify(p1: u8, p2: u8, data: usize, n: i32): u16 {
  if (p1 != 0 || (p2 != P2_PIN && p2 != P2_PUK)) return SW_INCORRECT_P1P2;
  const rec = p2 == P2_PIN ? PIN_REC : PUK_REC;
  if (!(p2 == P2_PIN ? hasPin : hasPuk)) return SW_CONDITIONS_NOT_SATISFIED;
  const tries = load<u8>(rec + <usize>BLOCK);
  if (n == 0) {
    // ISO 7816-4 §11.5.6: empty VERIFY asks for the state without spending a try
    if (p2 == P2_PIN && pinVerified) return succeed();
    return triesSw(tries);
  }
  if (p2 == P2_PUK) return SW_WRONG_LENGTH; // the PUK is only ever presented to RESET RETRY COUNTER
  if (n != BLOCK) return SW_WRONG_LENGTH;
  if (!validBlock(data, <i32>PIN_MIN_DIGITS, <i32>PIN_MAX_DIGITS)) return SW_WRONG_DATA;
  setPinVerified(false);
  const sw = checkSecret(PIN_REC, NVM_PIN, data);
  if (sw != SW_NO_ERROR) return sw;
  txBegin();
  putSecret(PIN_REC, NVM_PIN, 0, PIN_TRIES);
  if (!commit()) return SW_MEMORY_FAILURE;
  setPinVerified(true);
  return succeed();
}

export function cmdChangeReferenceData(p1: u8, p2: u8, data: usize, n: i32): u16 {
  if (p1 != P1_CHANGE_REFERENCE_DATA_OLD_NEW || p2 != P2_PIN) return SW_INCORRECT_P1P2;
  if (n != 2 * BLOCK) return SW_WRONG_LENGTH;
  const fresh = data + <usize>BLOCK;
  if (!validBlock(data, <i32>PIN_MIN_DIGITS, <i32>PIN_MAX_DIGITS) || !validBlock(fresh, <i32>PIN_MIN_DIGITS, <i32>PIN_MAX_DIGITS)) {
    return SW_WRONG_DATA;
  }
  setPinVerified(false);
  const sw = checkSecret(PIN_REC, NVM_PIN, data);
  if (sw != SW_NO_ERROR) return sw;
  txBegin();
  putSecret(PIN_REC, NVM_PIN, fresh, PIN_TRIES);
  if (!commit()) return SW_MEMORY_FAILURE;
  setPinVerified(true);
  return succeed();
}

export function cmdResetRetryCounter(p1: u8, p2: u8, data: usize, n: i32): u16 {
  if ((p1 != P1_RESET_RETRY_COUNTER_NEW_PIN && p1 != P1_RESET_RETRY_COUNTER_ONLY) || p2 != P2_PIN) return SW_INCORRECT_P1P2;
  const withPin = p1 == P1_RESET_RETRY_COUNTER_NEW_PIN;
  if (n != (withPin ? 2 * BLOCK : BLOCK)) return SW_WRONG_LENGTH;
  const fresh = data + <usize>BLOCK;
  if (!validBlock(data, <i32>PUK_DIGITS, <i32>PUK_DIGITS)) return SW_WRONG_DATA;
  if (withPin && !validBlock(fresh, <i32>PIN_MIN_DIGITS, <i32>PIN_MAX_DIGITS)) return SW_WRONG_DATA;
  const sw = checkSecret(PUK_REC, NVM_PUK, data);
  if (sw != SW_NO_ERROR) return sw;
  txBegin();
  putSecret(PUK_REC, NVM_PUK, 0, PUK_TRIES);
  putSecret(PIN_REC, NVM_PIN, withPin ? fresh : 0, PIN_TRIES);
  if (!commit()) return SW_MEMORY_FAILURE;
  return succeed();
}

/** SET PIN / SET PUK (personalization): value and full tries. */
export function cmdSetSecret(isPuk: bool, data: usize, n: i32): u16 {
  if (n != BLOCK) return SW_WRONG_LENGTH;
  const ok = isPuk ? validBlock(data, <i32>PUK_DIGITS, <i32>PUK_DIGITS) : validBlock(data, <i32>PIN_MIN_DIGITS, <i32>PIN_MAX_DIGITS);
  if (!ok) return SW_WRONG_DATA;
  txBegin();
  if (isPuk) putSecret(PUK_REC, NVM_PUK, data, PUK_TRIES);
  else putSecret(PIN_REC, NVM_PIN, data, PIN_TRIES);
  if (!commit()) return SW_MEMORY_FAILURE;
  stateLoad(); // hasPin / hasPuk follow flash
  return succeed();
}
