// APDU entry of the wallet applet (SPEC §2 exports, §3.1 transport rules): ISO/IEC 7816-4
// short and extended APDUs, command chaining, secure-messaging unwrap/wrap, GET RESPONSE
// with 61xx, and THE one place where lifecycle (lifecycle.ts LC_ALLOW_*), secure-channel
// requirement (CMD_NEEDS_CHANNEL) and stored-state integrity are checked before a handler
// runs. Handlers return a status word; they never throw. AssemblyScript only.
import {
  CLA_CHAINING, CLA_PROPRIETARY, CLA_SECURE_MESSAGING, INS_CHANGE_REFERENCE_DATA, INS_EXTERNAL_AUTHENTICATE,
  INS_FINALIZE, INS_GENERATE_KEY, INS_GET_CERTIFICATE, INS_GET_CHALLENGE, INS_GET_PUBLIC_KEY, INS_GET_RESPONSE,
  INS_GET_STATUS, INS_INITIALIZE_UPDATE, INS_LOAD, INS_LOCK, INS_PAY, INS_PUT_CERTIFICATE, INS_PUT_ISSUER_KEY,
  INS_PUT_KEY, INS_READ_LOG, INS_RECEIVE, INS_RESET_RETRY_COUNTER, INS_SELECT, INS_SET_IDENTITY, INS_SET_LIMITS,
  INS_SET_PIN, INS_SET_PUK, INS_SYNC, INS_TERMINATE, INS_UNLOCK, INS_VERIFY,
} from "../../../protocol/portable/apdu";
import {
  CMD_CHANGE_REFERENCE_DATA, CMD_EXTERNAL_AUTHENTICATE, CMD_FINALIZE, CMD_GENERATE_KEY, CMD_GET_CERTIFICATE,
  CMD_GET_CHALLENGE, CMD_GET_PUBLIC_KEY, CMD_GET_RESPONSE, CMD_GET_STATUS, CMD_INITIALIZE_UPDATE, CMD_LOAD, CMD_LOCK,
  CMD_NEEDS_CHANNEL, CMD_PAY, CMD_PUT_CERTIFICATE, CMD_PUT_ISSUER_KEY, CMD_PUT_KEY, CMD_READ_LOG, CMD_RECEIVE,
  CMD_RESET_RETRY_COUNTER, CMD_SELECT, CMD_SET_IDENTITY, CMD_SET_LIMITS, CMD_SET_PIN, CMD_SET_PUK, CMD_SYNC,
  CMD_TERMINATE, CMD_UNLOCK, CMD_VERIFY, LC_ACTIVE, LC_ALLOW_ACTIVE, LC_ALLOW_LOCKED, LC_ALLOW_MANUFACTURED,
  LC_ALLOW_PERSONALIZING, LC_ALLOW_TERMINATED, LC_LOCKED, LC_MANUFACTURED, LC_PERSONALIZING, LC_TERMINATED,
} from "../../../protocol/portable/lifecycle";
import { REASON_CORRUPT } from "../../../protocol/portable/limits";
import {
  SW_BYTES_REMAINING_00, SW_CLA_NOT_SUPPORTED, SW_COMMAND_CHAINING_NOT_SUPPORTED, SW_CONDITIONS_NOT_SATISFIED,
  SW_INCORRECT_P1P2, SW_INS_NOT_SUPPORTED, SW_LAST_COMMAND_EXPECTED, SW_LOGICAL_CHANNEL_NOT_SUPPORTED,
  SW_MEMORY_FAILURE, SW_NO_ERROR, SW_SECURE_MESSAGING_NOT_SUPPORTED, SW_SECURITY_STATUS_NOT_SATISFIED,
  SW_VERIFY_FAIL_BASE, SW_WRONG_LENGTH,
} from "../../../protocol/portable/sw";
import { APDU_MAX_DATA } from "../../../protocol/portable/apdu";
import { CMD_BUF, IO_BUF, IO_CAPACITY, RESP_BUF, RESP_CAP } from "./mem";
import {
  channelClose, channelOpen, channelUnwrap, channelWrap, cmdExternalAuthenticate, cmdInitializeUpdate, cmdPutKey,
} from "./channel";
import { cmdReadLog, cmdSync } from "./log";
import { cmdChangeReferenceData, cmdResetRetryCounter, cmdSetSecret, cmdVerify } from "./pin";
import {
  cmdFinalize, cmdGenerateKey, cmdGetCertificate, cmdGetPublicKey, cmdGetStatus, cmdPutCertificate, cmdPutIssuerKey,
  cmdSetIdentity, cmdSetLifecycle, cmdSetLimits, selectMatches, selectResponse,
} from "./perso";
import { internalFailure, refuse, respClear, respLen, respSetLen, sessionReset } from "./session";
import { lifecycle, stateReset, storeState } from "./state";
import { cmdGetChallenge, cmdLoad, cmdPay, cmdReceive } from "./wallet";
import { ecForget } from "../crypto/sig";

const NO_CMD: u8 = 0xff;

/** CMD_* index of an INS (every INS is unique in the applet), or NO_CMD. */
function cmdOf(ins: u8): u8 {
  switch (ins) {
    case INS_SELECT: return CMD_SELECT;
    case INS_GET_RESPONSE: return CMD_GET_RESPONSE;
    case INS_GET_STATUS: return CMD_GET_STATUS;
    case INS_INITIALIZE_UPDATE: return CMD_INITIALIZE_UPDATE;
    case INS_EXTERNAL_AUTHENTICATE: return CMD_EXTERNAL_AUTHENTICATE;
    case INS_PUT_KEY: return CMD_PUT_KEY;
    case INS_SET_IDENTITY: return CMD_SET_IDENTITY;
    case INS_SET_LIMITS: return CMD_SET_LIMITS;
    case INS_PUT_ISSUER_KEY: return CMD_PUT_ISSUER_KEY;
    case INS_GENERATE_KEY: return CMD_GENERATE_KEY;
    case INS_GET_PUBLIC_KEY: return CMD_GET_PUBLIC_KEY;
    case INS_PUT_CERTIFICATE: return CMD_PUT_CERTIFICATE;
    case INS_GET_CERTIFICATE: return CMD_GET_CERTIFICATE;
    case INS_SET_PIN: return CMD_SET_PIN;
    case INS_SET_PUK: return CMD_SET_PUK;
    case INS_FINALIZE: return CMD_FINALIZE;
    case INS_VERIFY: return CMD_VERIFY;
    case INS_CHANGE_REFERENCE_DATA: return CMD_CHANGE_REFERENCE_DATA;
    case INS_RESET_RETRY_COUNTER: return CMD_RESET_RETRY_COUNTER;
    case INS_GET_CHALLENGE: return CMD_GET_CHALLENGE;
    case INS_LOAD: return CMD_LOAD;
    case INS_PAY: return CMD_PAY;
    case INS_RECEIVE: return CMD_RECEIVE;
    case INS_READ_LOG: return CMD_READ_LOG;
    case INS_SYNC: return CMD_SYNC;
    case INS_LOCK: return CMD_LOCK;
    case INS_UNLOCK: return CMD_UNLOCK;
    case INS_TERMINATE: return CMD_TERMINATE;
  }
  return NO_CMD;
}

/** Interindustry commands take CLA 00 (04 with SM); the rest CLA 80 (84). */
function isIsoCommand(cmd: u8): bool {
  return cmd == CMD_SELECT || cmd == CMD_GET_RESPONSE || cmd == CMD_GET_CHALLENGE || cmd == CMD_VERIFY ||
    cmd == CMD_CHANGE_REFERENCE_DATA || cmd == CMD_RESET_RETRY_COUNTER;
}

/** THE lifecycle check (lifecycle.ts): is command `cmd` allowed in the current state? */
export function lcAllows(lc: u8, cmd: u8): bool {
  let mask: u32 = 0;
  if (lc == LC_MANUFACTURED) mask = LC_ALLOW_MANUFACTURED;
  else if (lc == LC_PERSONALIZING) mask = LC_ALLOW_PERSONALIZING;
  else if (lc == LC_ACTIVE) mask = LC_ALLOW_ACTIVE;
  else if (lc == LC_LOCKED) mask = LC_ALLOW_LOCKED;
  else if (lc == LC_TERMINATED) mask = LC_ALLOW_TERMINATED;
  return ((mask >> <u32>cmd) & 1) != 0;
}

// ---- parsed command (ISO 7816-4 §5.1) ----
let cla: u8 = 0;
let ins: u8 = 0;
let p1: u8 = 0;
let p2: u8 = 0;
let nc: i32 = 0; // command data length
let dataOff: i32 = 0;
let ne: i32 = 0; // maximum response length the host accepts

/** Parses header, Lc, data and Le of the APDU in IO_BUF; false when the lengths do not add up. */
function parse(len: i32): bool {
  const b = IO_BUF;
  cla = load<u8>(b);
  ins = load<u8>(b + 1);
  p1 = load<u8>(b + 2);
  p2 = load<u8>(b + 3);
  nc = 0;
  dataOff = 4;
  ne = 256; // Le absent: the applet answers what it has (up to 256 per piece)
  if (len == 4) return true; // case 1
  const b4 = <i32>load<u8>(b + 4);
  if (len == 5) { ne = b4 == 0 ? 256 : b4; return true; } // case 2S
  if (b4 != 0) { // short Lc
    nc = b4;
    dataOff = 5;
    if (len == 5 + nc) return true; // case 3S
    if (len == 6 + nc) { const le = <i32>load<u8>(b + 5 + <usize>nc); ne = le == 0 ? 256 : le; return true; } // 4S
    return false;
  }
  // extended: 00 then two bytes
  if (len < 7) return false;
  const x = (<i32>load<u8>(b + 5) << 8) | <i32>load<u8>(b + 6);
  if (len == 7) { ne = x == 0 ? 65536 : x; return true; } // case 2E
  if (x == 0) return false;
  nc = x;
  dataOff = 7;
  ne = 65536;
  if (len == 7 + nc) return true; // case 3E
  if (len == 9 + nc) {
    const le = (<i32>load<u8>(b + 7 + <usize>nc) << 8) | <i32>load<u8>(b + 8 + <usize>nc);
    ne = le == 0 ? 65536 : le;
    return true; // case 4E
  }
  return false;
}

// ---- command chaining (ISO 7816-4 §5.3.3) ----
let chainActive: bool = false;
let chainIns: u8 = 0;
let chainP1: u8 = 0;
let chainP2: u8 = 0;
let chainLen: i32 = 0;

// ---- response served in pieces by GET RESPONSE ----
let pendingOff: i32 = 0;
let pendingLen: i32 = 0; // bytes still to serve (0 = none)
let pendingSw: u16 = 0;

/** Power-on: rebuild state from flash, close everything that lived in RAM. */
export function appletReset(): u32 {
  ecForget(); // the signing key's cached (1 + d)^-1 (sig.ts)
  stateReset();
  sessionReset();
  channelClose();
  chainActive = false;
  pendingLen = 0;
  return <u32>storeState;
}

export function ioBuffer(): usize {
  return IO_BUF;
}
export function ioCapacity(): u32 {
  return <u32>IO_CAPACITY;
}

/** Handles the command APDU of `len` bytes in IO_BUF; writes data||SW1||SW2 back there. */
export function apduEntry(len: u32): u32 {
  respClear();
  const n = <i32>len;
  if (n < 4 || n > IO_CAPACITY) return finish(SW_WRONG_LENGTH, false, 256);
  // GET RESPONSE serves the pending piece as it is (already protected)
  const c = load<u8>(IO_BUF);
  // CLA 00, case 2 only: 4 or 5 bytes (short Le) or 7 (extended Le, SPEC §3.1); anything
  // else (data, CLA 04, the chaining bit) falls through to process() and is refused there
  if (load<u8>(IO_BUF + 1) == INS_GET_RESPONSE && c == 0 && (n <= 5 || n == 7) && parse(n)) {
    return getResponse();
  }
  pendingLen = 0;
  const sm = (c & CLA_SECURE_MESSAGING) != 0;
  let sw = process(n, sm);
  if (respLen > RESP_CAP - 32) { sw = internalFailure(); respSetLen(0); } // a response larger than its buffer: an internal failure
  return finish(sw, sm, ne);
}

function process(len: i32, sm: bool): u16 {
  const c = load<u8>(IO_BUF);
  if ((c & 0x03) != 0) return SW_LOGICAL_CHANNEL_NOT_SUPPORTED;
  if ((c & 0x08) != 0) return SW_SECURE_MESSAGING_NOT_SUPPORTED;
  if ((c & 0x60) != 0) return SW_CLA_NOT_SUPPORTED;
  const cmd = cmdOf(load<u8>(IO_BUF + 1));
  if (cmd == NO_CMD) return SW_INS_NOT_SUPPORTED;
  if (isIsoCommand(cmd) != ((c & CLA_PROPRIETARY) == 0)) return SW_CLA_NOT_SUPPORTED;
  let n = len;
  if (sm && cmd != CMD_EXTERNAL_AUTHENTICATE) {
    if (!channelOpen()) return SW_SECURITY_STATUS_NOT_SATISFIED;
    n = channelUnwrap(IO_BUF, len);
    if (n < 0) return SW_SECURITY_STATUS_NOT_SATISFIED; // MAC failure: channel closed
  }
  if (!parse(n)) { chainActive = false; return SW_WRONG_LENGTH; }
  const chained = (cla & CLA_CHAINING) != 0;
  // SELECT abandons a pending chain and runs (the host's way back to a known state, SPEC §3.1)
  if (cmd == CMD_SELECT) chainActive = false;
  if (chainActive && (ins != chainIns || p1 != chainP1 || p2 != chainP2)) {
    chainActive = false;
    return SW_LAST_COMMAND_EXPECTED;
  }
  // stored state failed its check: only status and selection answer (status says why)
  if (storeState != 0 && cmd != CMD_SELECT && cmd != CMD_GET_STATUS) return refuse(SW_MEMORY_FAILURE, REASON_CORRUPT);
  if (!lcAllows(lifecycle, cmd)) { chainActive = false; return SW_CONDITIONS_NOT_SATISFIED; }
  if (((CMD_NEEDS_CHANNEL >> <u32>cmd) & 1) != 0 && !(sm && channelOpen())) {
    chainActive = false;
    return SW_SECURITY_STATUS_NOT_SATISFIED;
  }
  // gather the data field (all blocks of a chain) into CMD_BUF
  const at = chainActive ? chainLen : 0;
  if (at + nc > <i32>APDU_MAX_DATA) { chainActive = false; return SW_WRONG_LENGTH; }
  memory.copy(CMD_BUF + <usize>at, IO_BUF + <usize>dataOff, <usize>nc);
  if (chained) {
    if (cmd == CMD_SELECT || cmd == CMD_GET_RESPONSE || cmd == CMD_INITIALIZE_UPDATE || cmd == CMD_EXTERNAL_AUTHENTICATE) {
      chainActive = false;
      return SW_COMMAND_CHAINING_NOT_SUPPORTED;
    }
    chainActive = true;
    chainIns = ins;
    chainP1 = p1;
    chainP2 = p2;
    chainLen = at + nc;
    return SW_NO_ERROR;
  }
  chainActive = false;
  return handle(cmd, CMD_BUF, at + nc, n);
}

function noParams(): bool {
  return p1 == 0 && p2 == 0;
}

function handle(cmd: u8, data: usize, n: i32, apduLen: i32): u16 {
  switch (cmd) {
    case CMD_SELECT: {
      const sw = selectMatches(p1, p2, data, n);
      if (sw != SW_NO_ERROR) return sw;
      sessionReset();
      channelClose();
      return selectResponse();
    }
    // case 2 commands (no data field): data is a wrong length, as for every other command
    case CMD_GET_STATUS: return !noParams() ? SW_INCORRECT_P1P2 : n != 0 ? SW_WRONG_LENGTH : cmdGetStatus();
    case CMD_INITIALIZE_UPDATE: return cmdInitializeUpdate(IO_BUF, apduLen);
    case CMD_EXTERNAL_AUTHENTICATE: return cmdExternalAuthenticate(IO_BUF, apduLen);
    case CMD_PUT_KEY: return cmdPutKey(p1, p2, data, n);
    case CMD_GET_CHALLENGE: return !noParams() ? SW_INCORRECT_P1P2 : n != 0 ? SW_WRONG_LENGTH : cmdGetChallenge();
    case CMD_VERIFY: return cmdVerify(p1, p2, data, n);
    case CMD_CHANGE_REFERENCE_DATA: return cmdChangeReferenceData(p1, p2, data, n);
    case CMD_RESET_RETRY_COUNTER: return cmdResetRetryCounter(p1, p2, data, n);
    case CMD_PAY: return p2 == 0 ? cmdPay(p1, data, n) : SW_INCORRECT_P1P2;
    case CMD_READ_LOG: return n != 0 ? SW_WRONG_LENGTH : cmdReadLog(p1, p2);
    // a GET RESPONSE that is not case 2 (data field, or secure messaging): the pending data
    // was dropped; a wrong length, not an internal failure
    case CMD_GET_RESPONSE: return n != 0 ? SW_WRONG_LENGTH : SW_CONDITIONS_NOT_SATISFIED;
    case CMD_PUT_ISSUER_KEY: return cmdPutIssuerKey(p1, p2, data, n);
  }
  // the remaining commands take no parameters
  if (!noParams()) return SW_INCORRECT_P1P2;
  switch (cmd) {
    case CMD_SET_IDENTITY: return cmdSetIdentity(data, n);
    case CMD_SET_LIMITS: return cmdSetLimits(data, n);
    case CMD_GENERATE_KEY: return n == 0 ? cmdGenerateKey() : SW_WRONG_LENGTH;
    case CMD_GET_PUBLIC_KEY: return n == 0 ? cmdGetPublicKey() : SW_WRONG_LENGTH;
    case CMD_PUT_CERTIFICATE: return cmdPutCertificate(data, n);
    case CMD_GET_CERTIFICATE: return n == 0 ? cmdGetCertificate() : SW_WRONG_LENGTH;
    case CMD_SET_PIN: return cmdSetSecret(false, data, n);
    case CMD_SET_PUK: return cmdSetSecret(true, data, n);
    case CMD_FINALIZE: return cmdFinalize(data, n);
    case CMD_LOAD: return cmdLoad(data, n);
    case CMD_RECEIVE: return cmdReceive(data, n);
    case CMD_SYNC: return cmdSync(data, n);
    case CMD_LOCK: return n == 0 ? cmdSetLifecycle(LC_LOCKED) : SW_WRONG_LENGTH;
    case CMD_UNLOCK: return n == 0 ? cmdSetLifecycle(LC_ACTIVE) : SW_WRONG_LENGTH;
    case CMD_TERMINATE: return n == 0 ? cmdSetLifecycle(LC_TERMINATED) : SW_WRONG_LENGTH;
  }
  return internalFailure();
}

/** Protects the response if the command came through the channel, then sends it, or its
 * first piece with 61xx when it is longer than the host's Ne. */
function finish(sw: u16, sm: bool, maxLen: i32): u32 {
  let n = respLen;
  if (sw != SW_NO_ERROR && (sw & 0xfff0) != SW_VERIFY_FAIL_BASE) n = 0; // error SWs carry no data
  if (sm && channelOpen()) n = channelWrap(RESP_BUF, n, sw);
  pendingOff = 0;
  pendingLen = n;
  pendingSw = sw;
  return serve(maxLen);
}

function getResponse(): u32 {
  if (pendingLen == 0) return writeSw(0, SW_CONDITIONS_NOT_SATISFIED);
  if (!noParams()) return writeSw(0, SW_INCORRECT_P1P2);
  return serve(ne);
}

function serve(maxLen: i32): u32 {
  const k = pendingLen < maxLen ? pendingLen : maxLen;
  memory.copy(IO_BUF, RESP_BUF + <usize>pendingOff, <usize>k);
  pendingOff += k;
  pendingLen -= k;
  if (pendingLen > 0) {
    return writeSw(k, SW_BYTES_REMAINING_00 | <u16>(pendingLen > 255 ? 0 : pendingLen));
  }
  return writeSw(k, pendingSw);
}

function writeSw(at: i32, sw: u16): u32 {
  store<u8>(IO_BUF + <usize>at, <u8>(sw >> 8));
  store<u8>(IO_BUF + <usize>at + 1, <u8>sw);
  return <u32>(at + 2);
}
