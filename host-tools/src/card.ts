// The wallet applet seen from the host (SPEC.md §3): one method per command, over any
// Channel. Handles ISO 7816-4 response chaining (61xx → GET RESPONSE) and command
// chaining (CLA bit 0x10, blocks of 255 bytes) so every reader works with short APDUs;
// a status word other than 9000 is an ApduError (protocol/src/sw.ts) whose message names
// the command and the status word. Inside an SCP03 session (`secure`) each block is
// wrapped by the session (C-MAC / C-DEC) and unwrapped (R-MAC) on the way back.
import * as A from "../../protocol/portable/apdu.ts";
import { PROTOCOL_REVISION } from "../../protocol/portable/revision.ts";
import { SW_BYTES_REMAINING_00, SW_LAST_COMMAND_EXPECTED, SW_NO_ERROR, SW_RECORD_NOT_FOUND } from "../../protocol/portable/sw.ts";
import { encodeCommand } from "../../protocol/src/apdu.ts";
import { ApduError } from "../../protocol/src/sw.ts";
import type { Channel } from "./channels/channel.ts";
import { deviceError } from "./errors.ts";

const SHORT_MAX = 255;

export interface SelectInfo {
  revision: number;
  lifecycle: number;
  suite: number;
  formFactor: number;
  deviceId: Uint8Array;
}

export interface CardStatus {
  lifecycle: number;
  suite: number;
  formFactor: number;
  flags: number;
  pinTries: number;
  pukTries: number;
  deviceId: Uint8Array;
  balance: number;
  cap: number;
  counter: number;
  remainingPayments: number;
  remainingAmount: number;
  latestTime: number;
  syncDeadline: number;
  logCount: number;
  logCapacity: number;
  loadSeq: number;
  revocationVersion: number;
  currency: number;
  lastReason: number;
  storeState: number;
  /** time of the last sync ack the device applied (0: none): says which issued ack it took */
  lastAckTime: number;
}

/** An open secure channel (protocol/src/scp03.ts Scp03Session): wraps commands, unwraps responses. */
export interface ApduWrapper {
  wrap(apdu: Uint8Array): Uint8Array;
  unwrap(response: Uint8Array): Uint8Array;
}

export interface Cmd {
  cla?: number;
  ins: number;
  p1?: number;
  p2?: number;
  data?: Uint8Array;
  ne?: number;
  what: string;
}

const u32 = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
};
const u16 = (v: number) => Uint8Array.of((v >> 8) & 0xff, v & 0xff);
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
};
export const pinBlock = (pin: string): Uint8Array => {
  if (!/^\d+$/.test(pin) || pin.length < A.PIN_MIN_DIGITS || pin.length > A.PIN_BLOCK_LEN) throw new RangeError(`bad pin: ${A.PIN_MIN_DIGITS}..${A.PIN_BLOCK_LEN} digits`);
  const b = new Uint8Array(A.PIN_BLOCK_LEN).fill(0xff);
  b.set(new TextEncoder().encode(pin));
  return b;
};

export class WalletCard {
  /** set by the personalization flow while an SCP03 session is open */
  secure: ApduWrapper | null = null;

  constructor(readonly channel: Channel) {}

  private async send(apdu: Uint8Array): Promise<{ data: Uint8Array; sw: number }> {
    const r = await this.channel.transmit(apdu);
    if (r.length < 2) throw deviceError(`${this.channel.name}: response without a status word`);
    return { data: r.subarray(0, r.length - 2), sw: (r[r.length - 2] << 8) | r[r.length - 1] };
  }

  /** One exchange plus its 61xx pieces; in the secure channel the R-MAC covers the whole response. */
  private async raw(apdu: Uint8Array, secure: boolean): Promise<{ data: Uint8Array; sw: number }> {
    const wrapper = secure ? this.secure : null;
    let { data, sw } = await this.send(wrapper ? wrapper.wrap(apdu) : apdu);
    const pieces = [data];
    while (sw >> 8 === SW_BYTES_REMAINING_00 >> 8) {
      const more = await this.send(encodeCommand({ cla: A.CLA_ISO, ins: A.INS_GET_RESPONSE, p1: 0, p2: 0, data: new Uint8Array(0), ne: sw & 0xff || 256 }));
      pieces.push(more.data);
      sw = more.sw;
    }
    if (pieces.length > 1) data = cat(...pieces);
    if (!wrapper) return { data, sw };
    let u: Uint8Array;
    try {
      u = wrapper.unwrap(cat(data, Uint8Array.of(sw >> 8, sw & 0xff)));
    } catch (e) {
      throw deviceError(`${this.channel.name}: ${(e as Error).message}`);
    }
    return { data: u.subarray(0, u.length - 2), sw: (u[u.length - 2] << 8) | u[u.length - 1] };
  }

  /** Sends one command (chained if long), collects 61xx pieces, checks the SW. */
  async exec(c: Cmd, opts: { secure?: boolean; expect?: number[] } = {}): Promise<Uint8Array> {
    const r = await this.execSw(c, opts);
    if (!(opts.expect ?? [SW_NO_ERROR]).includes(r.sw)) throw new ApduError(r.sw, c.what);
    return r.data;
  }

  async execSw(c: Cmd, opts: { secure?: boolean } = {}): Promise<{ data: Uint8Array; sw: number }> {
    const secure = !!opts.secure;
    const cla = c.cla ?? (secure ? A.CLA_GP_SECURE : A.CLA_PROPRIETARY);
    const data = c.data ?? new Uint8Array(0);
    let res: { data: Uint8Array; sw: number } | undefined;
    for (let off = 0; off === 0 || off < data.length; off += SHORT_MAX) {
      const last = off + SHORT_MAX >= data.length;
      const block = data.subarray(off, off + SHORT_MAX);
      // the secure wrapper sets the SM bit itself: hand it the plain CLA
      const plainCla = (secure ? cla & ~A.CLA_SECURE_MESSAGING : cla) | (last ? 0 : A.CLA_CHAINING);
      res = await this.raw(encodeCommand({ cla: plainCla, ins: c.ins, p1: c.p1 ?? 0, p2: c.p2 ?? 0, data: block, ne: last ? (c.ne ?? 0) : 0 }), secure);
      if (!last && res.sw !== SW_NO_ERROR) return res;
      if (last) break;
    }
    return res!;
  }

  async select(): Promise<SelectInfo> {
    const aid = cat(u32(A.AID_HI), u32(A.AID_LO));
    const cmd: Cmd = { cla: A.CLA_ISO, ins: A.INS_SELECT, p1: A.P1_SELECT_BY_AID, p2: A.P2_SELECT_FIRST, data: aid, ne: 256, what: "SELECT" };
    // a command chain cut short by a lost answer is still pending on the device: it drops it
    // and answers 6883 to the next command (ISO 7816-4 §5.3.3), so SELECT once more
    let r = await this.execSw(cmd);
    if (r.sw === SW_LAST_COMMAND_EXPECTED) r = await this.execSw(cmd);
    if (r.sw !== SW_NO_ERROR) throw new ApduError(r.sw, "SELECT");
    const d = r.data;
    if (d.length < A.SELECT_RESP_LEN) throw deviceError(`${this.channel.name}: SELECT answered ${d.length} bytes`);
    const dv = new DataView(d.buffer, d.byteOffset);
    const info: SelectInfo = {
      revision: dv.getUint32(A.SELECT_OFF_REVISION),
      lifecycle: d[A.SELECT_OFF_LIFECYCLE],
      suite: d[A.SELECT_OFF_SUITE],
      formFactor: d[A.SELECT_OFF_FORM_FACTOR],
      deviceId: d.slice(A.SELECT_OFF_DEVICE_ID, A.SELECT_OFF_DEVICE_ID + 8),
    };
    if (info.revision !== PROTOCOL_REVISION) throw deviceError(`${this.channel.name}: device speaks protocol revision ${info.revision}, this tool ${PROTOCOL_REVISION}: update one of them`);
    return info;
  }

  async status(): Promise<CardStatus> {
    const d = await this.exec({ ins: A.INS_GET_STATUS, ne: 256, what: "GET STATUS" });
    if (d.length < A.STATUS_RESP_LEN) throw deviceError(`${this.channel.name}: GET STATUS answered ${d.length} bytes`);
    return parseStatus(d);
  }

  getChallenge(): Promise<Uint8Array> {
    return this.exec({ cla: A.CLA_ISO, ins: A.INS_GET_CHALLENGE, ne: A.CHALLENGE_LEN, what: "GET CHALLENGE" });
  }

  /** VERIFY PIN; a wrong PIN is an ApduError 63Cx (tries left in the SW). */
  async verifyPin(pin: string): Promise<void> {
    await this.exec({ cla: A.CLA_ISO, ins: A.INS_VERIFY, p2: A.P2_PIN, data: pinBlock(pin), what: "VERIFY" });
  }

  /** RESET RETRY COUNTER (SPEC §3): the PUK unblocks the PIN, optionally setting a new one. */
  async resetRetryCounter(puk: string, newPin?: string): Promise<void> {
    const data = newPin === undefined ? pinBlock(puk) : cat(pinBlock(puk), pinBlock(newPin));
    await this.exec({ cla: A.CLA_ISO, ins: A.INS_RESET_RETRY_COUNTER, p1: newPin === undefined ? A.P1_RESET_RETRY_COUNTER_ONLY : A.P1_RESET_RETRY_COUNTER_NEW_PIN, p2: A.P2_PIN, data, what: "RESET RETRY COUNTER" });
  }

  /** CHANGE REFERENCE DATA (ISO 7816-4 §11.5.7): the PIN, old then new; a wrong old PIN is 63Cx. */
  async changePin(oldPin: string, newPin: string): Promise<void> {
    await this.exec({ cla: A.CLA_ISO, ins: A.INS_CHANGE_REFERENCE_DATA, p1: A.P1_CHANGE_REFERENCE_DATA_OLD_NEW, p2: A.P2_PIN, data: cat(pinBlock(oldPin), pinBlock(newPin)), what: "CHANGE REFERENCE DATA" });
  }

  /** PAY: returns the voucher's COSE bytes. */
  pay(p: { amount: number; currency: number; payee: Uint8Array; challenge: Uint8Array; time: number; toDevice?: boolean }): Promise<Uint8Array> {
    const data = cat(u32(p.amount), u16(p.currency), p.payee, p.challenge, u32(p.time));
    return this.exec({ ins: A.INS_PAY, p1: p.toDevice ? A.P1_PAY_DEVICE : A.P1_PAY_POS, data, ne: 256, what: "PAY" });
  }

  /** RECEIVE on the payee device: returns its receipt. */
  receive(time: number, voucher: Uint8Array, payerCert: Uint8Array): Promise<Uint8Array> {
    return this.exec({ ins: A.INS_RECEIVE, data: cat(u32(time), u16(voucher.length), voucher, payerCert), ne: 256, what: "RECEIVE" });
  }

  /** LOAD with an issuer-signed authorization: returns the device's receipt. */
  load(time: number, auth: Uint8Array): Promise<Uint8Array> {
    return this.exec({ ins: A.INS_LOAD, data: cat(u32(time), auth), ne: 256, what: "LOAD" });
  }

  /** READ LOG: every unsynced entry, oldest first (vouchers and receipts, COSE bytes). */
  async readLog(): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    // the whole log or an error: a log cut short would hand sync a partial truth. The end is
    // the one answer that says so (6A83: index ≥ count), and GET STATUS's count agrees with it
    for (let i = 0; i < 0xffff; i++) {
      const r = await this.execSw({ ins: A.INS_READ_LOG, p1: i >> 8, p2: i & 0xff, ne: 256, what: "READ LOG" });
      if (r.sw === SW_RECORD_NOT_FOUND) break;
      if (r.sw !== SW_NO_ERROR) throw new ApduError(r.sw, `READ LOG (entry ${i})`);
      out.push(r.data);
    }
    const { logCount } = await this.status();
    if (logCount !== out.length) throw deviceError(`${this.channel.name}: READ LOG gave ${out.length} entries, GET STATUS counts ${logCount}`);
    return out;
  }

  async sync(ack: Uint8Array): Promise<void> {
    await this.exec({ ins: A.INS_SYNC, data: ack, what: "SYNC" });
  }

  getCertificate(): Promise<Uint8Array> {
    return this.exec({ ins: A.INS_GET_CERTIFICATE, ne: 256, what: "GET CERTIFICATE" });
  }

  getPublicKey(): Promise<Uint8Array> {
    return this.exec({ ins: A.INS_GET_PUBLIC_KEY, ne: 256, what: "GET PUBLIC KEY" });
  }

  // --- personalization and administration: inside the SCP03 session (`secure`) ---
  private sec(c: Cmd): Promise<Uint8Array> {
    if (!this.secure) throw deviceError(`${c.what}: needs an open secure channel`);
    return this.exec(c, { secure: true });
  }
  setIdentity(suite: number, formFactor: number, currency: number, token: Uint8Array) {
    return this.sec({ ins: A.INS_SET_IDENTITY, data: cat(Uint8Array.of(suite, formFactor), u16(currency), token), what: "SET IDENTITY" });
  }
  setLimits(values: number[]) {
    return this.sec({ ins: A.INS_SET_LIMITS, data: cat(...values.map(u32)), what: "SET LIMITS" });
  }
  putIssuerKey(slot: number, kid: Uint8Array, pub: Uint8Array) {
    return this.sec({ ins: A.INS_PUT_ISSUER_KEY, p1: slot, data: cat(Uint8Array.of(kid.length), kid, pub), what: "PUT ISSUER KEY" });
  }
  generateKey() {
    return this.sec({ ins: A.INS_GENERATE_KEY, ne: 256, what: "GENERATE KEY" });
  }
  putCertificate(cert: Uint8Array) {
    return this.sec({ ins: A.INS_PUT_CERTIFICATE, data: cert, what: "PUT CERTIFICATE" });
  }
  setPin(pin: string) {
    return this.sec({ ins: A.INS_SET_PIN, data: pinBlock(pin), what: "SET PIN" });
  }
  setPuk(puk: string) {
    return this.sec({ ins: A.INS_SET_PUK, data: pinBlock(puk), what: "SET PUK" });
  }
  finalize(time: number) {
    return this.sec({ ins: A.INS_FINALIZE, data: u32(time), what: "FINALIZE" });
  }
  putKey(p1: number, data: Uint8Array) {
    return this.sec({ ins: A.INS_PUT_KEY, p1, p2: A.P2_PUT_KEY_MULTIPLE, data, ne: 256, what: "PUT KEY" });
  }
  lifecycle(ins: typeof A.INS_LOCK | typeof A.INS_UNLOCK | typeof A.INS_TERMINATE, what: string) {
    return this.sec({ ins, what });
  }
}

/** The GET STATUS response fields (SPEC §3.3, offsets STATUS_OFF_* in protocol/portable/apdu.ts);
 * `d` holds at least STATUS_RESP_LEN bytes. */
export function parseStatus(d: Uint8Array): CardStatus {
  const dv = new DataView(d.buffer, d.byteOffset);
  return {
    lifecycle: d[A.STATUS_OFF_LIFECYCLE], suite: d[A.STATUS_OFF_SUITE], formFactor: d[A.STATUS_OFF_FORM_FACTOR], flags: d[A.STATUS_OFF_FLAGS],
    pinTries: d[A.STATUS_OFF_PIN_TRIES], pukTries: d[A.STATUS_OFF_PUK_TRIES], deviceId: d.slice(A.STATUS_OFF_DEVICE_ID, A.STATUS_OFF_DEVICE_ID + 8),
    balance: dv.getUint32(A.STATUS_OFF_BALANCE), cap: dv.getUint32(A.STATUS_OFF_CAP), counter: dv.getUint32(A.STATUS_OFF_COUNTER),
    remainingPayments: dv.getUint32(A.STATUS_OFF_REMAINING_PAYMENTS), remainingAmount: dv.getUint32(A.STATUS_OFF_REMAINING_AMOUNT),
    latestTime: dv.getUint32(A.STATUS_OFF_LATEST_TIME), syncDeadline: dv.getUint32(A.STATUS_OFF_SYNC_DEADLINE),
    logCount: dv.getUint16(A.STATUS_OFF_LOG_COUNT), logCapacity: dv.getUint16(A.STATUS_OFF_LOG_CAPACITY), loadSeq: dv.getUint32(A.STATUS_OFF_LOAD_SEQ),
    revocationVersion: dv.getUint32(A.STATUS_OFF_REVOCATION_VERSION), currency: dv.getUint16(A.STATUS_OFF_CURRENCY),
    lastReason: d[A.STATUS_OFF_LAST_REASON], storeState: d[A.STATUS_OFF_STORE_STATE], lastAckTime: dv.getUint32(A.STATUS_OFF_LAST_ACK_TIME),
  };
}
