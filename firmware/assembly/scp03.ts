// GlobalPlatform SCP03 (GP Card Spec v2.3 Amendment D), card side, over AES-128 for
// SUITE_P256_SHA256_AES128 and the same construction over SM4 for SUITE_SM2_SM3_SM4
// (SPEC §9 "SCP03 construction"). INITIALIZE UPDATE / EXTERNAL AUTHENTICATE, session keys
// by the CMAC KDF, card/host cryptograms, C-MAC with MAC chaining, C-DECRYPTION, R-MAC,
// R-ENCRYPTION, and DEK decryption of PUT KEY data. S8 mode, random card challenge.
// One session at a time, state in static memory; any failure closes the session.
// Raw pointers, no allocation, never throws. AssemblyScript only.
import { random } from "./hw";
import { CLA_PROPRIETARY, CLA_GP_SECURE, CLA_SECURE_MESSAGING, INS_INITIALIZE_UPDATE, INS_EXTERNAL_AUTHENTICATE } from "../../protocol/portable/apdu";
import {
  SW_NO_ERROR, SW_WRONG_LENGTH, SW_CLA_NOT_SUPPORTED, SW_INS_NOT_SUPPORTED, SW_INCORRECT_P1P2,
  SW_REFERENCED_DATA_NOT_FOUND, SW_CONDITIONS_NOT_SATISFIED, SW_SECURITY_STATUS_NOT_SATISFIED, SW_WARNING_NV_CHANGED,
} from "../../protocol/portable/sw";
import {
  SCP03_ID, SCP03_I_PARAM, SCP03_SL_CMAC, SCP03_SL_CDEC, SCP03_SL_RMAC, SCP03_SL_RENC, SCP03_SL_FULL,
  SCP03_DC_CARD_CRYPTOGRAM, SCP03_DC_HOST_CRYPTOGRAM, SCP03_DC_S_ENC, SCP03_DC_S_MAC, SCP03_DC_S_RMAC,
  SCP03_CHALLENGE_LEN, SCP03_CRYPTOGRAM_LEN, SCP03_MAC_LEN, SCP03_DIV_DATA_LEN, SCP03_INIT_UPDATE_RESP_LEN,
  SCP03_ICV_RESPONSE_MARK,
} from "../../protocol/portable/scp03";
import { scp03Kdf } from "./crypto/kdf";
import { CMAC_CTX_SIZE, cmacInit, cmacUpdate, cmacFinal } from "./crypto/cmac";
import { cbcEncrypt, cbcDecrypt } from "./crypto/cbc";
import { BLOCK_RK_SIZE, blockExpandKey, blockEncrypt } from "./crypto/block";

const STAGE_IDLE: u8 = 0;
const STAGE_INITIALIZED: u8 = 1; // INITIALIZE UPDATE answered, EXTERNAL AUTHENTICATE expected
const STAGE_OPEN: u8 = 2;

let stage: u8 = STAGE_IDLE;
let level: u8 = 0;
let suite: u8 = 0;
let counter: u32 = 0; // encryption counter (Amd D §6.2.6), pre-incremented per command

// 16-byte slots: session keys, static DEK, MAC chaining value, host || card challenge
const KEYS = memory.data(96, 16);
const S_ENC = KEYS;
const S_MAC = KEYS + 16;
const S_RMAC = KEYS + 32;
const DEK = KEYS + 48;
const CHAIN = KEYS + 64;
const CHALLENGES = KEYS + 80; // host challenge (8) || card challenge (8): the KDF context
const CTX = memory.data(CMAC_CTX_SIZE, 8);
const RK = memory.data(BLOCK_RK_SIZE, 8);
const T16 = memory.data(16, 8); // scratch: MAC, cryptogram, ICV
const HDR = memory.data(8, 8);  // MAC input header: CLA INS P1 P2 Lc (1 or 3 bytes)
const ZERO16 = memory.data(16, 8);

/** Close the channel and wipe the session (power-on, SELECT, any failure). */
export function scpReset(): void {
  stage = STAGE_IDLE;
  level = 0;
  counter = 0;
  memory.fill(KEYS, 0, 96);
  memory.fill(CTX, 0, CMAC_CTX_SIZE);
  memory.fill(RK, 0, BLOCK_RK_SIZE);
}

export function scpIsOpen(): bool { return stage == STAGE_OPEN; }
export function scpLevel(): u8 { return stage == STAGE_OPEN ? level : 0; }

// constant-time comparison of n bytes
function equal(a: usize, b: usize, n: usize): bool {
  let d: u32 = 0;
  for (let i: usize = 0; i < n; i++) d |= <u32>(load<u8>(a + i) ^ load<u8>(b + i));
  return d == 0;
}

// the 8-byte card (00) or host (01) cryptogram into T16 (Amd D §6.2.2.2-3)
function cryptogram(dc: u8): void {
  scp03Kdf(suite, S_MAC, dc, CHALLENGES, 2 * SCP03_CHALLENGE_LEN, <u16>(SCP03_CRYPTOGRAM_LEN * 8), T16);
}

// CMAC(S-MAC, chaining value || CLA' INS P1 P2 Lc || data) into T16 (Amd D §6.2.4)
function commandMac(apdu: usize, lcField: i32, data: usize, dataLen: i32): void {
  store<u8>(HDR, (load<u8>(apdu) & 0xf0) | CLA_SECURE_MESSAGING);
  memory.copy(HDR + 1, apdu + 1, 3);
  memory.copy(HDR + 4, apdu + 4, <usize>lcField);
  cmacInit(suite, CTX, S_MAC);
  cmacUpdate(CTX, CHAIN, 16);
  cmacUpdate(CTX, HDR, 4 + lcField);
  cmacUpdate(CTX, data, dataLen);
  cmacFinal(CTX, T16);
}

// ICV = E(S-ENC, counter as a 16-byte big-endian block [, first byte 0x80 for responses]) (Amd D §6.2.6-7)
function icv(mark: u8): void {
  memory.fill(T16, 0, 12);
  store<u32>(T16 + 12, bswap<u32>(counter));
  store<u8>(T16, mark);
  blockExpandKey(suite, S_ENC, RK);
  blockEncrypt(suite, RK, T16, T16);
}

/**
 * INITIALIZE UPDATE (Amd D §7.1.1): cmd = 80 50 P1(key version or 00) 00 08 host-challenge [Le].
 * Writes the 29-byte response to resp (may alias cmd) and returns its length, or -(SW).
 * keyEnc/keyMac/keyDek are the device's static (diversified) keys; divData10 goes back to the host.
 */
export function scpInitializeUpdate(suiteId: u8, keyVersion: u8, keyEnc: usize, keyMac: usize, keyDek: usize,
  divData10: usize, cmd: usize, cmdLen: i32, resp: usize): i32 {
  scpReset();
  if (cmdLen < 5) return -(<i32>SW_WRONG_LENGTH);
  if ((load<u8>(cmd) & 0xfc) != CLA_PROPRIETARY) return -(<i32>SW_CLA_NOT_SUPPORTED);
  if (load<u8>(cmd, 1) != INS_INITIALIZE_UPDATE) return -(<i32>SW_INS_NOT_SUPPORTED);
  const p1 = load<u8>(cmd, 2);
  if (p1 != 0 && p1 != keyVersion) return -(<i32>SW_REFERENCED_DATA_NOT_FOUND);
  if (load<u8>(cmd, 3) != 0) return -(<i32>SW_INCORRECT_P1P2);
  const n = <i32>SCP03_CHALLENGE_LEN;
  if (<i32>load<u8>(cmd, 4) != n || cmdLen < 5 + n || cmdLen > 6 + n) return -(<i32>SW_WRONG_LENGTH);
  suite = suiteId;
  memory.copy(CHALLENGES, cmd + 5, <usize>n);
  random(CHALLENGES + <usize>n, <u32>n);
  const ctxLen = 2 * n;
  scp03Kdf(suite, keyEnc, SCP03_DC_S_ENC, CHALLENGES, ctxLen, 128, S_ENC);
  scp03Kdf(suite, keyMac, SCP03_DC_S_MAC, CHALLENGES, ctxLen, 128, S_MAC);
  scp03Kdf(suite, keyMac, SCP03_DC_S_RMAC, CHALLENGES, ctxLen, 128, S_RMAC);
  memory.copy(DEK, keyDek, 16);
  cryptogram(SCP03_DC_CARD_CRYPTOGRAM);
  // response: div data | key version, 03, i | card challenge | card cryptogram
  const d = <usize>SCP03_DIV_DATA_LEN;
  memory.copy(resp, divData10, d);
  store<u8>(resp + d, keyVersion);
  store<u8>(resp + d, SCP03_ID, 1);
  store<u8>(resp + d, SCP03_I_PARAM, 2);
  memory.copy(resp + d + 3, CHALLENGES + <usize>n, <usize>n);
  memory.copy(resp + d + 3 + <usize>n, T16, <usize>SCP03_CRYPTOGRAM_LEN);
  stage = STAGE_INITIALIZED;
  return <i32>SCP03_INIT_UPDATE_RESP_LEN;
}

function validLevel(l: u8): bool {
  // C-MAC always; C-DEC, R-MAC optional; R-ENC only with C-DEC and R-MAC (Amd D §5.1)
  return l == SCP03_SL_CMAC || l == (SCP03_SL_CMAC | SCP03_SL_CDEC) || l == (SCP03_SL_CMAC | SCP03_SL_RMAC)
    || l == (SCP03_SL_CMAC | SCP03_SL_CDEC | SCP03_SL_RMAC)
    || l == SCP03_SL_FULL;
}

/**
 * EXTERNAL AUTHENTICATE (Amd D §7.1.2): cmd = 84 82 level 00 10 host-cryptogram C-MAC [Le].
 * Returns the SW; 9000 opens the channel at that level, anything else closes the session.
 */
export function scpExternalAuthenticate(cmd: usize, cmdLen: i32): u16 {
  const sw = externalAuthenticate(cmd, cmdLen);
  if (sw != SW_NO_ERROR) scpReset();
  return sw;
}

function externalAuthenticate(cmd: usize, cmdLen: i32): u16 {
  if (stage != STAGE_INITIALIZED) return SW_CONDITIONS_NOT_SATISFIED;
  if (cmdLen < 5) return SW_WRONG_LENGTH;
  if ((load<u8>(cmd) & 0xf4) != CLA_GP_SECURE) return SW_CLA_NOT_SUPPORTED;
  if (load<u8>(cmd, 1) != INS_EXTERNAL_AUTHENTICATE) return SW_INS_NOT_SUPPORTED;
  const l = load<u8>(cmd, 2);
  if (!validLevel(l) || load<u8>(cmd, 3) != 0) return SW_INCORRECT_P1P2;
  const n = <i32>(SCP03_CRYPTOGRAM_LEN + SCP03_MAC_LEN);
  if (<i32>load<u8>(cmd, 4) != n || cmdLen < 5 + n || cmdLen > 6 + n) return SW_WRONG_LENGTH;
  memory.fill(CHAIN, 0, 16); // the first MAC chaining value is 16 zero bytes (Amd D §6.2.4)
  commandMac(cmd, 1, cmd + 5, <i32>SCP03_CRYPTOGRAM_LEN);
  if (!equal(T16, cmd + 5 + <usize>SCP03_CRYPTOGRAM_LEN, <usize>SCP03_MAC_LEN)) return SW_SECURITY_STATUS_NOT_SATISFIED;
  memory.copy(CHAIN, T16, 16);
  cryptogram(SCP03_DC_HOST_CRYPTOGRAM);
  if (!equal(T16, cmd + 5, <usize>SCP03_CRYPTOGRAM_LEN)) return SW_WARNING_NV_CHANGED; // 6300: host cryptogram failed
  level = l;
  counter = 0;
  stage = STAGE_OPEN;
  return SW_NO_ERROR;
}

/**
 * Verify the C-MAC of a command received in the open channel (CLA with bit 0x04), decrypt
 * its data if the level has C-DECRYPTION, and rewrite the APDU in place without MAC and
 * padding, with the secure-messaging CLA bit cleared and Lc adjusted (short stays short,
 * extended stays extended; Le is kept). Returns the new length, or -1 after closing the
 * channel (caller replies 6982) on any MAC, format or padding failure, or if no channel is open.
 */
export function scpUnwrap(apdu: usize, len: i32): i32 {
  const r = unwrap(apdu, len);
  if (r < 0) scpReset();
  return r;
}

function unwrap(apdu: usize, len: i32): i32 {
  if (stage != STAGE_OPEN || len < 5) return -1;
  const cla = load<u8>(apdu);
  if ((cla & CLA_SECURE_MESSAGING) == 0) return -1;
  let lc: i32, off: i32;
  const ext = load<u8>(apdu, 4) == 0 && len >= 7;
  if (ext) { lc = (<i32>load<u8>(apdu, 5) << 8) | <i32>load<u8>(apdu, 6); off = 7; }
  else { lc = <i32>load<u8>(apdu, 4); off = 5; }
  const leLen = len - off - lc;
  const macLen = <i32>SCP03_MAC_LEN;
  if (lc < macLen || leLen < 0 || leLen > (ext ? 2 : 1)) return -1;
  let n = lc - macLen;
  const data = apdu + <usize>off;
  commandMac(apdu, off - 4, data, n);
  if (!equal(T16, data + <usize>n, <usize>macLen)) return -1;
  memory.copy(CHAIN, T16, 16);
  if (level & SCP03_SL_CDEC) {
    counter++; // also for commands without data (Amd D §6.2.6)
    if (n > 0) {
      if ((n & 15) != 0) return -1;
      icv(0);
      cbcDecrypt(suite, S_ENC, T16, data, n, data);
      // ISO/IEC 9797-1 padding method 2: strip 00s back to the mandatory 80
      while (n > 0 && load<u8>(data + <usize>(n - 1)) == 0) n--;
      if (n == 0 || load<u8>(data + <usize>(n - 1)) != 0x80) return -1;
      n--;
    }
  }
  // Le bytes follow the MAC: move them behind the (shorter) data
  const le = data + <usize>lc;
  const le0 = leLen > 0 ? load<u8>(le) : 0, le1 = leLen > 1 ? load<u8>(le, 1) : 0;
  store<u8>(apdu, cla & ~CLA_SECURE_MESSAGING);
  let p: usize;
  if (n == 0) {
    // no data field: header [+ Le]; an extended Le alone is 00 Le1 Le2 (ISO 7816-4 §5.1)
    p = apdu + 4;
    if (leLen > 0 && ext) store<u8>(p++, 0);
  } else {
    if (ext) { store<u8>(apdu, 0, 4); store<u8>(apdu, <u8>(n >> 8), 5); store<u8>(apdu, <u8>n, 6); }
    else store<u8>(apdu, <u8>n, 4);
    p = data + <usize>n;
  }
  if (leLen > 0) store<u8>(p++, le0);
  if (leLen > 1) store<u8>(p++, le1);
  return <i32>(p - apdu);
}

/**
 * Protect a response in the open channel: R-ENCRYPTION of the data (padded, so resp needs
 * room for dataLen + 16 + 8 bytes) and the R-MAC over chaining value || data || SW (Amd D
 * §6.2.5, §6.2.7). Error SWs (not 9000, 62xx, 63xx) get no protection and no data: returns 0.
 * Returns the new data length (SW not included; the caller appends it).
 */
export function scpWrap(resp: usize, dataLen: i32, sw: u16): i32 {
  if (stage != STAGE_OPEN || (level & SCP03_SL_RMAC) == 0) return dataLen;
  const sw1 = sw >> 8;
  if (sw != SW_NO_ERROR && sw1 != 0x62 && sw1 != 0x63) return 0;
  let n = dataLen;
  if ((level & SCP03_SL_RENC) != 0 && n > 0) {
    const padded = (n + 16) & ~15;
    store<u8>(resp + <usize>n, 0x80);
    memory.fill(resp + <usize>n + 1, 0, <usize>(padded - n - 1));
    icv(SCP03_ICV_RESPONSE_MARK);
    cbcEncrypt(suite, S_ENC, T16, resp, padded, resp);
    n = padded;
  }
  store<u16>(HDR, bswap<u16>(sw));
  cmacInit(suite, CTX, S_RMAC);
  cmacUpdate(CTX, CHAIN, 16);
  cmacUpdate(CTX, resp, n);
  cmacUpdate(CTX, HDR, 2);
  cmacFinal(CTX, T16);
  memory.copy(resp + <usize>n, T16, <usize>SCP03_MAC_LEN);
  return n + <i32>SCP03_MAC_LEN;
}

/**
 * Decrypt key material of PUT KEY with the static DEK given at INITIALIZE UPDATE:
 * CBC with a zero ICV (GP Card Spec §11.8.2.3, Amd D §7.2). len must be a multiple of 16.
 * Returns len, or -1 if no channel is open or the length is wrong.
 */
export function scpDecryptKeyData(src: usize, len: i32, dst: usize): i32 {
  if (stage != STAGE_OPEN || len <= 0 || (len & 15) != 0) return -1;
  cbcDecrypt(suite, DEK, ZERO16, src, len, dst);
  return len;
}

/** Key check value (GP Amd D §7.5 / apdu.ts GP_KCV_LEN): the first 3 bytes of E(key, 01 x 16). */
export function scpKeyCheckValue(suiteId: u8, key16: usize, out3: usize): void {
  memory.fill(T16, 0x01, 16);
  blockExpandKey(suiteId, key16, RK);
  blockEncrypt(suiteId, RK, T16, T16);
  memory.copy(out3, T16, 3);
  memory.fill(RK, 0, BLOCK_RK_SIZE);
}
