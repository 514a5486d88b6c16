// Session state of the wallet applet (RAM only: lost at power-off, reset by SELECT) and
// the response under construction. AssemblyScript only. SPEC §3.1.
import { REASON_NONE } from "../../../protocol/portable/limits";
import { SW_NO_ERROR, SW_UNKNOWN } from "../../../protocol/portable/sw";
import { CHALLENGE_LEN } from "../../../protocol/portable/apdu";
import { RESP_BUF, RESP_CAP } from "./mem";

export let pinVerified: bool = false; // VERIFY succeeded in this session (consumed by a PAY that needed it)
export let challengePending: bool = false; // GET CHALLENGE nonce waiting for RECEIVE
export const CHALLENGE: usize = memory.data(<i32>CHALLENGE_LEN);
export let lastReason: u8 = REASON_NONE; // REASON_* of the last refused command (GET STATUS)

export function setPinVerified(v: bool): void { pinVerified = v; }
export function setChallengePending(v: bool): void { challengePending = v; }

export function sessionReset(): void {
  pinVerified = false;
  challengePending = false;
}

/** A refusal: remembers why (GET STATUS) and returns the status word. */
export function refuse(sw: u16, reason: u8): u16 {
  lastReason = reason;
  return sw;
}
/** An internal failure (key generation or a signature that failed, a response larger than
 * its buffer, a command the dispatch lost): the one place that answers 6F00 (SPEC §4),
 * never with data (dispatch.ts finish sends none with an error SW). */
export function internalFailure(): u16 {
  return SW_UNKNOWN;
}
export function succeed(): u16 {
  lastReason = REASON_NONE;
  return SW_NO_ERROR;
}

// ---- response data of the current command (RESP_BUF) ----
export let respLen: i32 = 0;
export function respClear(): void { respLen = 0; }
export function respSetLen(n: i32): void { respLen = n; }
export function respCopy(src: usize, n: i32): void {
  if (respLen + n <= RESP_CAP) memory.copy(RESP_BUF + <usize>respLen, src, <usize>n);
  respLen += n;
}
