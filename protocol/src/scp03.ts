// GlobalPlatform SCP03 (GP Card Spec v2.3 Amendment D), host side: opens a session with
// INITIALIZE UPDATE / EXTERNAL AUTHENTICATE, checks the card cryptogram, wraps commands
// (C-MAC with MAC chaining, C-DECRYPTION) and unwraps responses (R-MAC, R-ENCRYPTION).
// AES-128 for SUITE_P256_SHA256_AES128, SM4 (node:crypto / OpenSSL 'sm4-*') for
// SUITE_SM2_SM3_SM4, same construction (SPEC §9 "SCP03 construction"). Also the per-device
// key diversification and PUT KEY key encryption. Errors: "scp03: ..." (Error),
// ApduError for status words, RangeError/TypeError for bad arguments.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { encodeCommand, parseCommand, parseResponse, encodeResponse, checkResponse } from "./apdu.ts";
import { CLA_PROPRIETARY, CLA_SECURE_MESSAGING, INS_INITIALIZE_UPDATE, INS_EXTERNAL_AUTHENTICATE, GP_KCV_LEN, GP_KEY_LEN, GP_KEY_TYPE_AES } from "../portable/apdu.ts";
import { SW_NO_ERROR, SW_WARNING_NV_CHANGED, SW_WARNING_NV_UNCHANGED } from "../portable/sw.ts";
import { SUITE_SM2_SM3_SM4, SUITE_P256_SHA256_AES128 } from "../portable/suite.ts";
import {
  SCP03_ID, SCP03_I_RMAC, SCP03_I_RENC, SCP03_SL_CMAC, SCP03_SL_CDEC, SCP03_SL_RMAC, SCP03_SL_RENC, SCP03_SL_FULL,
  SCP03_DC_CARD_CRYPTOGRAM, SCP03_DC_HOST_CRYPTOGRAM, SCP03_DC_S_ENC, SCP03_DC_S_MAC, SCP03_DC_S_RMAC,
  SCP03_DC_DIVERSIFY_ENC, SCP03_DC_DIVERSIFY_MAC, SCP03_DC_DIVERSIFY_DEK,
  SCP03_CHALLENGE_LEN, SCP03_CRYPTOGRAM_LEN, SCP03_MAC_LEN, SCP03_DIV_DATA_LEN, SCP03_INIT_UPDATE_RESP_LEN,
  SCP03_ICV_RESPONSE_MARK,
} from "../portable/scp03.ts";

export type Suite = typeof SUITE_SM2_SM3_SM4 | typeof SUITE_P256_SHA256_AES128;
export interface ScpKeys { enc: Uint8Array; mac: Uint8Array; dek: Uint8Array }
export interface ScpOptions {
  suite: number;
  /** P1 of EXTERNAL AUTHENTICATE: 01, 03, 11, 13 or 33 (SCP03_SL_* bits) */
  level: number;
  /** P1 of INITIALIZE UPDATE: the key version to use, 0 = the card's current one */
  keyVersion: number;
  /** 8 bytes; random by default (tests pass a fixed one) */
  hostChallenge?: Uint8Array;
}
export type Transmit = (apdu: Uint8Array) => Promise<Uint8Array>;

/** GP default (test) key 40 41 .. 4F, used for ENC, MAC and DEK of unpersonalized cards. */
export const GP_DEFAULT_KEY: Uint8Array = Uint8Array.from({ length: 16 }, (_, i) => 0x40 + i);
export const GP_DEFAULT_KEYS: Readonly<ScpKeys> = Object.freeze({ enc: GP_DEFAULT_KEY, mac: GP_DEFAULT_KEY, dek: GP_DEFAULT_KEY });

const BLOCK = 16;
// C-MAC alone, + C-DEC, + R-MAC, + both, everything (Amd D §7.1.2.1)
const VALID_LEVELS: number[] = [SCP03_SL_CMAC, SCP03_SL_CMAC | SCP03_SL_CDEC, SCP03_SL_CMAC | SCP03_SL_RMAC, SCP03_SL_CMAC | SCP03_SL_CDEC | SCP03_SL_RMAC, SCP03_SL_FULL];

function cipherName(suite: number, mode: "ecb" | "cbc"): string {
  if (suite === SUITE_SM2_SM3_SM4) return `sm4-${mode}`;
  if (suite === SUITE_P256_SHA256_AES128) return `aes-128-${mode}`;
  throw new RangeError(`scp03: unknown suite ${suite}`);
}

function key16(k: Uint8Array, what: string): Uint8Array {
  if (!(k instanceof Uint8Array) || k.length !== BLOCK) throw new TypeError(`scp03: ${what} must be 16 bytes`);
  return k;
}

/** CBC without padding; a zero IV when none is given. */
function cbc(suite: number, key: Uint8Array, iv: Uint8Array | null, data: Uint8Array, decrypt = false): Uint8Array {
  const c = (decrypt ? createDecipheriv : createCipheriv)(cipherName(suite, "cbc"), key, iv ?? new Uint8Array(BLOCK));
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

function shiftLeft1(b: Uint8Array): Uint8Array {
  const o = new Uint8Array(BLOCK);
  let carry = 0;
  for (let i = BLOCK - 1; i >= 0; i--) {
    o[i] = ((b[i] << 1) | carry) & 0xff;
    carry = b[i] >> 7;
  }
  if (b[0] & 0x80) o[BLOCK - 1] ^= 0x87; // R_128 (SP 800-38B §5.3)
  return o;
}

/** CMAC (NIST SP 800-38B): the last block of CBC-MAC over M, with the last block masked by K1 or K2. */
export function cmac(suite: number, key: Uint8Array, msg: Uint8Array): Uint8Array {
  const k1 = shiftLeft1(cbc(suite, key, null, new Uint8Array(BLOCK)));
  const full = msg.length > 0 && msg.length % BLOCK === 0;
  const m = new Uint8Array(full ? msg.length : (Math.floor(msg.length / BLOCK) + 1) * BLOCK);
  m.set(msg);
  if (!full) m[msg.length] = 0x80;
  const k = full ? k1 : shiftLeft1(k1);
  for (let i = 0; i < BLOCK; i++) m[m.length - BLOCK + i] ^= k[i];
  return cbc(suite, key, null, m).subarray(m.length - BLOCK);
}

/** SCP03 KDF (Amd D §6.2.2; NIST SP 800-108 counter mode, CMAC PRF): 11 x 00 || dc || 00 || L || i || context. */
export function scp03Kdf(suite: number, key: Uint8Array, dc: number, context: Uint8Array, bits: number): Uint8Array {
  return scp03KdfWith((data) => cmac(suite, key, data), dc, context, bits);
}

/** The same KDF with the CMAC computed elsewhere (a PKCS#11 token's CKM_AES_CMAC under a key it keeps). */
export function scp03KdfWith(prf: (data: Uint8Array) => Uint8Array, dc: number, context: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(bits / 8));
  for (let i = 1, off = 0; off < out.length; i++, off += BLOCK) {
    const data = new Uint8Array(16 + context.length);
    data[11] = dc;
    data[13] = bits >> 8;
    data[14] = bits & 0xff;
    data[15] = i;
    data.set(context, 16);
    out.set(prf(data).subarray(0, out.length - off), off);
  }
  return out;
}

/** ISO/IEC 9797-1 padding method 2: 80 then 00s to a whole number of blocks (always adds). */
function pad80(d: Uint8Array): Uint8Array {
  const o = new Uint8Array((Math.floor(d.length / BLOCK) + 1) * BLOCK);
  o.set(d);
  o[d.length] = 0x80;
  return o;
}

function unpad80(d: Uint8Array): Uint8Array {
  let n = d.length;
  while (n > 0 && d[n - 1] === 0) n--;
  if (n === 0 || d[n - 1] !== 0x80) throw new Error("scp03: bad padding in decrypted response");
  return d.slice(0, n - 1);
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Per-device static keys from the issuer's master keys: each is
 * scp03Kdf(master, SCP03_DC_DIVERSIFY_{ENC,MAC,DEK}, serial, 128), i.e.
 * CMAC(master, 00 x 11 || dc || 00 || 0080 || 01 || serial) (SPEC §9).
 */
export function diversifyKeys(master: ScpKeys, serial: Uint8Array, suite: number): ScpKeys {
  if (!(serial instanceof Uint8Array) || serial.length === 0 || serial.length > 64) throw new TypeError("scp03: serial must be 1..64 bytes");
  return {
    enc: scp03Kdf(suite, key16(master.enc, "master ENC key"), SCP03_DC_DIVERSIFY_ENC, serial, 128),
    mac: scp03Kdf(suite, key16(master.mac, "master MAC key"), SCP03_DC_DIVERSIFY_MAC, serial, 128),
    dek: scp03Kdf(suite, key16(master.dek, "master DEK key"), SCP03_DC_DIVERSIFY_DEK, serial, 128),
  };
}

/** `diversifyKeys` with each master key's CMAC computed elsewhere (keystore-pkcs11.ts): the same derivation, byte for byte. */
export function diversifyKeysWith(prf: { enc: (d: Uint8Array) => Uint8Array; mac: (d: Uint8Array) => Uint8Array; dek: (d: Uint8Array) => Uint8Array }, serial: Uint8Array): ScpKeys {
  if (!(serial instanceof Uint8Array) || serial.length === 0 || serial.length > 64) throw new TypeError("scp03: serial must be 1..64 bytes");
  return {
    enc: scp03KdfWith(prf.enc, SCP03_DC_DIVERSIFY_ENC, serial, 128),
    mac: scp03KdfWith(prf.mac, SCP03_DC_DIVERSIFY_MAC, serial, 128),
    dek: scp03KdfWith(prf.dek, SCP03_DC_DIVERSIFY_DEK, serial, 128),
  };
}

/** PUT KEY key data: the 16-byte key encrypted with the static DEK, CBC with a zero ICV (Amd D §7.2). */
export function encryptKeyData(dek: Uint8Array, key: Uint8Array, suite: number = SUITE_P256_SHA256_AES128): Uint8Array {
  return cbc(suite, key16(dek, "DEK"), null, key16(key, "key"));
}

/** Key check value: first 3 bytes of E(key, 01 x 16) (Amd D §7.5). */
export function keyCheckValue(key: Uint8Array, suite: number = SUITE_P256_SHA256_AES128): Uint8Array {
  return cbc(suite, key16(key, "key"), null, new Uint8Array(BLOCK).fill(1)).slice(0, 3);
}

/** PUT KEY data for a whole new key set (GP Card Spec §11.8; SPEC §3.3): the new key version,
 * then ENC, MAC and DEK, each as type ‖ length ‖ DEK-encrypted key ‖ KCV length ‖ KCV,
 * encrypted under the DEK of the key set the channel was opened with. */
export function putKeyData(newKvn: number, keys: ScpKeys, oldDek: Uint8Array, suite: number = SUITE_P256_SHA256_AES128): Uint8Array {
  const block = (k: Uint8Array) => [GP_KEY_TYPE_AES, GP_KEY_LEN + 1, GP_KEY_LEN, ...encryptKeyData(oldDek, k, suite), GP_KCV_LEN, ...keyCheckValue(k, suite)];
  return Uint8Array.from([newKvn, ...block(keys.enc), ...block(keys.mac), ...block(keys.dek)]);
}

export class Scp03Session {
  readonly suite: number;
  readonly level: number;
  /** key diversification data and key information from INITIALIZE UPDATE */
  readonly divData: Uint8Array;
  readonly keyVersion: number;
  private readonly sEnc: Uint8Array;
  private readonly sMac: Uint8Array;
  private readonly sRmac: Uint8Array;
  private chain: Uint8Array = new Uint8Array(BLOCK);
  private counter = 0;
  private open_ = false;
  private readonly send: Transmit;

  private constructor(send: Transmit, suite: number, level: number, keys: ScpKeys, context: Uint8Array, divData: Uint8Array, kv: number) {
    this.send = send;
    this.suite = suite;
    this.level = level;
    this.divData = divData;
    this.keyVersion = kv;
    this.sEnc = scp03Kdf(suite, keys.enc, SCP03_DC_S_ENC, context, 128);
    this.sMac = scp03Kdf(suite, keys.mac, SCP03_DC_S_MAC, context, 128);
    this.sRmac = scp03Kdf(suite, keys.mac, SCP03_DC_S_RMAC, context, 128);
  }

  /** INITIALIZE UPDATE + EXTERNAL AUTHENTICATE; resolves to an open session or throws. */
  static async open(transmit: Transmit, keys: ScpKeys, opts: ScpOptions): Promise<Scp03Session> {
    cipherName(opts.suite, "ecb");
    if (!VALID_LEVELS.includes(opts.level)) throw new RangeError(`scp03: security level ${opts.level} not one of 01 03 11 13 33`);
    for (const k of ["enc", "mac", "dek"] as const) key16(keys[k], `${k} key`);
    const hc = opts.hostChallenge ?? new Uint8Array(randomBytes(SCP03_CHALLENGE_LEN));
    if (hc.length !== SCP03_CHALLENGE_LEN) throw new TypeError("scp03: host challenge must be 8 bytes");
    const iu = encodeCommand({ cla: CLA_PROPRIETARY, ins: INS_INITIALIZE_UPDATE, p1: opts.keyVersion, p2: 0, data: hc, ne: 256 });
    const r = checkResponse(await transmit(iu), "INITIALIZE UPDATE");
    // 29 bytes, or 32 with the sequence counter of a pseudo-random challenge (Amd D §7.1.1.6)
    if (r.length !== SCP03_INIT_UPDATE_RESP_LEN && r.length !== SCP03_INIT_UPDATE_RESP_LEN + 3) {
      throw new Error(`scp03: INITIALIZE UPDATE response of ${r.length} bytes`);
    }
    const d = SCP03_DIV_DATA_LEN;
    if (r[d + 1] !== SCP03_ID) throw new Error(`scp03: card speaks SCP ${r[d + 1]}, not 03`);
    const i = r[d + 2];
    if ((opts.level & SCP03_SL_RMAC && !(i & SCP03_I_RMAC)) || (opts.level & SCP03_SL_RENC && !(i & SCP03_I_RENC))) {
      throw new Error(`scp03: card (i = ${i.toString(16)}) does not support security level ${opts.level.toString(16)}`);
    }
    const cc = r.slice(d + 3, d + 3 + SCP03_CHALLENGE_LEN);
    const context = new Uint8Array([...hc, ...cc]);
    const s = new Scp03Session(transmit, opts.suite, opts.level, keys, context, r.slice(0, d), r[d]);
    const cardCryptogram = r.slice(d + 3 + SCP03_CHALLENGE_LEN, d + 3 + SCP03_CHALLENGE_LEN + SCP03_CRYPTOGRAM_LEN);
    if (!equal(scp03Kdf(opts.suite, s.sMac, SCP03_DC_CARD_CRYPTOGRAM, context, 64), cardCryptogram)) {
      throw new Error("scp03: card cryptogram mismatch (wrong keys or not the card)");
    }
    const hostCryptogram = scp03Kdf(opts.suite, s.sMac, SCP03_DC_HOST_CRYPTOGRAM, context, SCP03_CRYPTOGRAM_LEN * 8);
    const ea = s.mac({ cla: CLA_PROPRIETARY, ins: INS_EXTERNAL_AUTHENTICATE, p1: opts.level, p2: 0, data: hostCryptogram, ne: 0 }, false);
    checkResponse(await transmit(ea), "EXTERNAL AUTHENTICATE");
    s.open_ = true;
    return s;
  }

  get isOpen(): boolean { return this.open_; }

  // C-MAC over chaining value || CLA' INS P1 P2 Lc' || data; returns the APDU with the 8-byte MAC
  private mac(c: { cla: number; ins: number; p1: number; p2: number; data: Uint8Array; ne: number }, ext: boolean): Uint8Array {
    const nc = c.data.length + SCP03_MAC_LEN;
    const extended = ext || nc > 255 || c.ne > 256;
    const cla = (c.cla & 0xf0) | CLA_SECURE_MESSAGING;
    const lc = extended ? [0, nc >> 8, nc & 0xff] : [nc];
    const m = cmac(this.suite, this.sMac, new Uint8Array([...this.chain, cla, c.ins, c.p1, c.p2, ...lc, ...c.data]));
    this.chain = m;
    const data = new Uint8Array([...c.data, ...m.subarray(0, SCP03_MAC_LEN)]);
    return encodeCommand({ cla: c.cla | CLA_SECURE_MESSAGING, ins: c.ins, p1: c.p1, p2: c.p2, data, ne: c.ne }, extended);
  }

  private icv(mark: number): Uint8Array {
    const b = new Uint8Array(BLOCK);
    new DataView(b.buffer).setUint32(12, this.counter);
    b[0] = mark;
    return cbc(this.suite, this.sEnc, null, b);
  }

  /** Protect a plain command APDU (CLA 80 or 00..) for the card: C-DECRYPTION if the level asks, then C-MAC. */
  wrap(apdu: Uint8Array): Uint8Array {
    if (!this.open_) throw new Error("scp03: session closed");
    const c = parseCommand(apdu);
    let data = c.data;
    if (this.level & SCP03_SL_CDEC) {
      this.counter++; // for every command, with or without data (Amd D §6.2.6)
      if (data.length > 0) data = cbc(this.suite, this.sEnc, this.icv(0), pad80(data));
    }
    return this.mac({ ...c, data }, c.case.endsWith("E"));
  }

  /** Check and strip R-MAC / R-ENCRYPTION of a response (data || SW); returns plain data || SW. */
  unwrap(response: Uint8Array): Uint8Array {
    if (!this.open_) throw new Error("scp03: session closed");
    const { data, sw } = parseResponse(response);
    if (!(this.level & SCP03_SL_RMAC)) return response;
    // error status words carry no R-MAC and no data (Amd D §6.2.5)
    if (sw !== SW_NO_ERROR && sw >> 8 !== SW_WARNING_NV_UNCHANGED >> 8 && sw >> 8 !== SW_WARNING_NV_CHANGED >> 8) return response;
    if (data.length < SCP03_MAC_LEN) return this.fail("response too short for an R-MAC");
    const body = data.subarray(0, data.length - SCP03_MAC_LEN);
    const expect = cmac(this.suite, this.sRmac, new Uint8Array([...this.chain, ...body, sw >> 8, sw & 0xff]));
    if (!equal(expect.subarray(0, SCP03_MAC_LEN), data.subarray(data.length - SCP03_MAC_LEN))) return this.fail("R-MAC mismatch");
    let plain: Uint8Array = body;
    if (this.level & SCP03_SL_RENC && body.length > 0) {
      if (body.length % BLOCK) return this.fail("encrypted response not a whole number of blocks");
      plain = unpad80(cbc(this.suite, this.sEnc, this.icv(SCP03_ICV_RESPONSE_MARK), body, true));
    }
    return encodeResponse(plain, sw);
  }

  private fail(why: string): never {
    this.open_ = false;
    throw new Error(`scp03: ${why}; session closed`);
  }

  /** wrap, send, unwrap */
  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    return this.unwrap(await this.send(this.wrap(apdu)));
  }
}
