// The wallet applet seen from the host (SPEC.md §3): one method per command, over any
// Channel. The exchange itself is the shared client of protocol/src/apdu-client.ts (the
// applet tests run the same code): ISO 7816-4 response chaining (61xx → GET RESPONSE) and
// command chaining (CLA bit 0x10, blocks of 255 bytes) so every reader works with short
// APDUs; inside an SCP03 session (`secure`) each block is wrapped by the session (C-MAC /
// C-DEC) and its whole response unwrapped (R-MAC) on the way back. A status word other
// than 9000 is an ApduError (protocol/src/sw.ts) whose message names the command and the
// status word; an answer that is none (no SW, failed R-MAC) is a device error naming the channel.
import * as A from "../../protocol/portable/apdu.ts";
import { PROTOCOL_REVISION } from "../../protocol/portable/revision.ts";
import { SW_LAST_COMMAND_EXPECTED, SW_NO_ERROR, SW_RECORD_NOT_FOUND } from "../../protocol/portable/sw.ts";
import { command, layers, ResponseError, runAsync, type ApduWrapper, type Exchange } from "../../protocol/src/apdu-client.ts";
import { cat, u16, u32 } from "../../protocol/src/bytes.ts";
import { ApduError } from "../../protocol/src/sw.ts";
import type { Channel } from "./channels/channel.ts";
import { deviceError } from "./errors.ts";

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

export interface Cmd {
  cla?: number;
  ins: number;
  p1?: number;
  p2?: number;
  data?: Uint8Array;
  ne?: number;
  what: string;
}

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

  /** Runs an exchange of protocol/src/apdu-client.ts on the channel; a bad answer names the channel. */
  private async run<T>(ex: Exchange<T>): Promise<T> {
    try {
      return await runAsync(ex, (a) => this.channel.transmit(a));
    } catch (e) {
      if (e instanceof ResponseError) throw deviceError(`${this.channel.name}: ${e.message}`);
      throw e;
    }
  }

  /** Sends one command (chained if long), collects 61xx pieces, checks the SW. */
  async exec(c: Cmd, opts: { secure?: boolean; expect?: number[] } = {}): Promise<Uint8Array> {
    const r = await this.execSw(c, opts);
    if (!(opts.expect ?? [SW_NO_ERROR]).includes(r.sw)) throw new ApduError(r.sw, c.what);
    return r.data;
  }

  /** One command and its answer, any SW; in the secure channel the R-MAC covers the whole response. */
  execSw(c: Cmd, opts: { secure?: boolean } = {}): Promise<{ data: Uint8Array; sw: number }> {
    const secure = !!opts.secure;
    const cla = c.cla ?? (secure ? A.CLA_GP_SECURE : A.CLA_PROPRIETARY);
    return this.run(command(layers(secure ? this.secure : null), { ...c, cla }, "chain"));
  }

  async select(): Promise<SelectInfo> {
    const aid = cat(u32(A.AID_HI), u32(A.AID_LO));
    const cmd: Cmd = { cla: A.CLA_ISO, ins: A.INS_SELECT, p1: A.P1_SELECT_BY_AID, p2: A.P2_SELECT_FIRST, data: aid, ne: 256, what: "SELECT" };
    // SELECT drops a command chain that a lost answer left pending (SPEC §3.1); devices with
    // an earlier firmware dropped it but answered 6883 (ISO 7816-4 §5.3.3): SELECT once more
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
    return this.exec(adminCmd.getPublicKey());
  }

  // --- personalization and administration: inside the SCP03 session (`secure`) ---
  /** A command inside the open secure channel (an error before any APDU when none is open). */
  sec(c: Cmd): Promise<Uint8Array> {
    if (!this.secure) throw deviceError(`${c.what}: needs an open secure channel`);
    return this.exec(c, { secure: true });
  }
  setIdentity(suite: number, formFactor: number, currency: number, token: Uint8Array) {
    return this.sec(adminCmd.setIdentity(suite, formFactor, currency, token));
  }
  setLimits(values: number[]) {
    return this.sec(adminCmd.setLimits(values));
  }
  putIssuerKey(slot: number, kid: Uint8Array, pub: Uint8Array) {
    return this.sec(adminCmd.putIssuerKey(slot, kid, pub));
  }
  generateKey() {
    return this.sec(adminCmd.generateKey());
  }
  putCertificate(cert: Uint8Array) {
    return this.sec(adminCmd.putCertificate(cert));
  }
  setPin(pin: string) {
    return this.sec(adminCmd.setPin(pin));
  }
  setPuk(puk: string) {
    return this.sec(adminCmd.setPuk(puk));
  }
  finalize(time: number) {
    return this.sec(adminCmd.finalize(time));
  }
  putKey(p1: number, data: Uint8Array) {
    return this.sec(adminCmd.putKey(p1, data));
  }
  lifecycle(ins: typeof A.INS_LOCK | typeof A.INS_UNLOCK | typeof A.INS_TERMINATE, what: string) {
    return this.sec({ ins, what });
  }
}

/**
 * The personalization and administration commands (SPEC §3.3) as data: built once, sent by
 * WalletCard inside its secure channel and by the applet tests over their harness.
 */
export const adminCmd = {
  setIdentity: (suite: number, formFactor: number, currency: number, token: Uint8Array): Cmd =>
    ({ ins: A.INS_SET_IDENTITY, data: cat(Uint8Array.of(suite, formFactor), u16(currency), token), what: "SET IDENTITY" }),
  setLimits: (values: number[]): Cmd => ({ ins: A.INS_SET_LIMITS, data: cat(...values.map(u32)), what: "SET LIMITS" }),
  putIssuerKey: (slot: number, kid: Uint8Array, pub: Uint8Array): Cmd =>
    ({ ins: A.INS_PUT_ISSUER_KEY, p1: slot, data: cat(Uint8Array.of(kid.length), kid, pub), what: "PUT ISSUER KEY" }),
  generateKey: (): Cmd => ({ ins: A.INS_GENERATE_KEY, ne: 256, what: "GENERATE KEY" }),
  getPublicKey: (): Cmd => ({ ins: A.INS_GET_PUBLIC_KEY, ne: 256, what: "GET PUBLIC KEY" }),
  putCertificate: (cert: Uint8Array): Cmd => ({ ins: A.INS_PUT_CERTIFICATE, data: cert, what: "PUT CERTIFICATE" }),
  setPin: (pin: string): Cmd => ({ ins: A.INS_SET_PIN, data: pinBlock(pin), what: "SET PIN" }),
  setPuk: (puk: string): Cmd => ({ ins: A.INS_SET_PUK, data: pinBlock(puk), what: "SET PUK" }),
  finalize: (time: number): Cmd => ({ ins: A.INS_FINALIZE, data: u32(time), what: "FINALIZE" }),
  putKey: (p1: number, data: Uint8Array): Cmd => ({ ins: A.INS_PUT_KEY, p1, p2: A.P2_PUT_KEY_MULTIPLE, data, ne: 256, what: "PUT KEY" }),
};

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
