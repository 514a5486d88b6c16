// The applet's side of the GlobalPlatform SCP03 secure channel (SPEC §9): which static
// key set and cipher a session uses, INITIALIZE UPDATE / EXTERNAL AUTHENTICATE, and PUT KEY
// (replace the static keys: GP default 40..4F on a MANUFACTURED device, issuer-diversified
// keys afterwards). The protocol itself (cryptograms, C-MAC, C-DEC, R-MAC) is scp03.ts.
// AssemblyScript only.
import { GP_KCV_LEN, GP_KEY_LEN, GP_KEY_TYPE_AES, P2_PUT_KEY_MULTIPLE, SCP_DEFAULT_KVN } from "../../../protocol/portable/apdu";
import { LC_MANUFACTURED, LC_PERSONALIZING } from "../../../protocol/portable/lifecycle";
import { NVM_SCP_KEYS } from "../../../protocol/portable/nvm";
import { SUITE_P256_SHA256_AES128 } from "../../../protocol/portable/suite";
import {
  SW_INCORRECT_P1P2, SW_MEMORY_FAILURE, SW_NO_ERROR, SW_REFERENCED_DATA_NOT_FOUND, SW_WRONG_DATA, SW_WRONG_LENGTH,
} from "../../../protocol/portable/sw";
import {
  scpDecryptKeyData, scpExternalAuthenticate, scpInitializeUpdate, scpIsOpen, scpKeyCheckValue, scpReset, scpUnwrap, scpWrap,
} from "../scp03";
import { txBegin, txPut } from "../store/store";
import { TMP, ctEqual } from "./mem";
import { respCopy, respSetLen, succeed } from "./session";
import { DEVICE_ID, SCP_KEYS, SCP_KEYS_LEN, commit, hasIdentity, hasScpKeys, lifecycle, putLifecycle, stateLoad, suite } from "./state";
import { RESP_BUF } from "./mem";

// GlobalPlatform's well-known default (test) key 40 41 .. 4F, used for ENC, MAC and DEK
// until PUT KEY replaces them (GP Card Spec §E / common practice for blank cards).
const GP_DEFAULT_KEY: usize = memory.data<u8>([
  0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f,
]);
const DIV_DATA: usize = memory.data(10); // key diversification data: 00 00 || device id

/** The cipher of SCP03 sessions and key check values: the device suite once SET IDENTITY
 * chose it, AES-128 before (the GP default keys are AES keys). */
export function channelSuite(): u8 {
  return hasIdentity ? suite() : SUITE_P256_SHA256_AES128;
}
export function channelOpen(): bool {
  return scpIsOpen();
}
export function channelClose(): void {
  scpReset();
}
/** Unwraps a secure-messaging command in place: new length, or -1 (channel closed). */
export function channelUnwrap(apdu: usize, len: i32): i32 {
  return scpUnwrap(apdu, len);
}
/** Protects response data in place (R-MAC / R-ENC per level): new data length. */
export function channelWrap(resp: usize, dataLen: i32, sw: u16): i32 {
  return scpWrap(resp, dataLen, sw);
}

function kvn(): u8 {
  return hasScpKeys ? load<u8>(SCP_KEYS) : SCP_DEFAULT_KVN;
}

export function cmdInitializeUpdate(apdu: usize, len: i32): u16 {
  memory.fill(DIV_DATA, 0, 2);
  memory.copy(DIV_DATA + 2, DEVICE_ID, 8);
  const enc = hasScpKeys ? SCP_KEYS + 1 : GP_DEFAULT_KEY;
  const mac = hasScpKeys ? SCP_KEYS + 17 : GP_DEFAULT_KEY;
  const dek = hasScpKeys ? SCP_KEYS + 33 : GP_DEFAULT_KEY;
  const r = scpInitializeUpdate(channelSuite(), kvn(), enc, mac, dek, DIV_DATA, apdu, len, RESP_BUF);
  if (r < 0) return <u16>(-r);
  respSetLen(r);
  return succeed();
}

export function cmdExternalAuthenticate(apdu: usize, len: i32): u16 {
  const sw = scpExternalAuthenticate(apdu, len);
  return sw == SW_NO_ERROR ? succeed() : sw;
}

// PUT KEY data: new KVN | 3 x (type 88 | 11 | 10 | encrypted key [16] | 03 | KCV [3])
const KEY_BLOCK: i32 = 4 + <i32>GP_KEY_LEN + <i32>GP_KCV_LEN;
const PUT_KEY_LEN: i32 = 1 + 3 * KEY_BLOCK;

export function cmdPutKey(p1: u8, p2: u8, data: usize, n: i32): u16 {
  if (p2 != P2_PUT_KEY_MULTIPLE) return SW_INCORRECT_P1P2;
  if (p1 != 0 && p1 != kvn()) return SW_REFERENCED_DATA_NOT_FOUND;
  if (n != PUT_KEY_LEN) return SW_WRONG_LENGTH;
  const rec = TMP; // KVN | ENC | MAC | DEK
  const kcvs = TMP + <usize>SCP_KEYS_LEN;
  store<u8>(rec, load<u8>(data));
  for (let i = 0; i < 3; i++) {
    const b = data + 1 + <usize>(i * KEY_BLOCK);
    if (load<u8>(b) != GP_KEY_TYPE_AES || load<u8>(b + 1) != GP_KEY_LEN + 1 || load<u8>(b + 2) != GP_KEY_LEN ||
        load<u8>(b + 3 + <usize>GP_KEY_LEN) != GP_KCV_LEN) {
      return SW_WRONG_DATA;
    }
    const key = rec + 1 + <usize>(i * <i32>GP_KEY_LEN);
    if (scpDecryptKeyData(b + 3, <i32>GP_KEY_LEN, key) < 0) return SW_WRONG_DATA;
    const kcv = kcvs + <usize>(i * <i32>GP_KCV_LEN);
    scpKeyCheckValue(channelSuite(), key, kcv);
    if (!ctEqual(kcv, b + 4 + <usize>GP_KEY_LEN, <i32>GP_KCV_LEN)) return SW_WRONG_DATA;
  }
  txBegin();
  txPut(NVM_SCP_KEYS, rec, SCP_KEYS_LEN);
  if (lifecycle == LC_MANUFACTURED) putLifecycle(LC_PERSONALIZING);
  const ok = commit();
  memory.fill(rec, 0, SCP_KEYS_LEN);
  if (!ok) return SW_MEMORY_FAILURE;
  stateLoad();
  respCopy(data, 1);
  respCopy(kcvs, 3 * <i32>GP_KCV_LEN);
  return succeed();
}
