// Value commands of the wallet applet as test helpers (SPEC §3.3 LOAD, PAY, GET CHALLENGE,
// RECEIVE, READ LOG, SYNC): data layouts built from the shared constants, and a ready
// personalized device. Host-side helper; reusable by host-tools tests.
import * as A from "../../protocol/portable/apdu.ts";
import { SW_NO_ERROR } from "../../protocol/portable/sw.ts";
import { VOUCHER_SCHEMA, RECEIPT_SCHEMA, decodeSigned, type Receipt, type Voucher, type Limits } from "../../protocol/src/formats.ts";
import { AppletHarness, cat, u16be, u32be, type Resp } from "./applet-device.ts";
import { TestIssuer, type SuiteId } from "./applet-issuer.ts";
import { T0, personalize, type PersoOptions, type Personalized } from "./applet-perso.ts";
import type { DeviceOptions } from "../../wearable-sim/src/device.ts";

export interface Wallet {
  h: AppletHarness;
  issuer: TestIssuer;
  p: Personalized;
  loadSeq: number;
}

/** A personalized, ACTIVE device of `suite` (issuer of the same suite unless given). */
export async function activeWallet(suite: SuiteId, o: PersoOptions & { issuer?: TestIssuer; device?: DeviceOptions } = {}): Promise<Wallet> {
  const h = new AppletHarness({ seed: `wallet-${Math.random()}`, ...o.device });
  const issuer = o.issuer ?? new TestIssuer(suite);
  const p = await personalize(h, issuer, { suite, ...o });
  return { h, issuer, p, loadSeq: 0 };
}

export function payData(amount: number, currency: number, payee: Uint8Array, challenge: Uint8Array, time: number): Uint8Array {
  return cat(u32be(amount), u16be(currency), payee, challenge, u32be(time));
}

export const POS_ID = Uint8Array.from([0xa0, 1, 2, 3, 4, 5, 6, 7]);
export const challengeOf = (n: number): Uint8Array => Uint8Array.from({ length: 16 }, (_, i) => (n * 31 + i) & 0xff);

export function pay(w: Wallet, amount: number, o: { time?: number; currency?: number; payee?: Uint8Array; challenge?: Uint8Array; p1?: number } = {}): Resp {
  return w.h.cmd(A.INS_PAY, o.p1 ?? A.P1_PAY_POS, 0,
    payData(amount, o.currency ?? w.p.currency, o.payee ?? POS_ID, o.challenge ?? challengeOf(amount), o.time ?? T0 + 60));
}

export function loadDoc(w: Wallet, amount: number, o: { seq?: number; expiry?: number; currency?: number; deviceId?: Uint8Array } = {}): Uint8Array {
  return w.issuer.load({
    deviceId: o.deviceId ?? w.p.deviceId, seq: o.seq ?? w.loadSeq + 1, amount, currency: o.currency ?? w.p.currency,
    expiry: o.expiry ?? T0 + 86400,
  });
}
export function load(w: Wallet, amount: number, o: { seq?: number; expiry?: number; time?: number } = {}): Resp {
  const seq = o.seq ?? w.loadSeq + 1;
  const r = w.h.cmd(A.INS_LOAD, 0, 0, cat(u32be(o.time ?? T0 + 30), loadDoc(w, amount, { ...o, seq })));
  if (r.sw === SW_NO_ERROR) w.loadSeq = Math.max(w.loadSeq, seq);
  return r;
}

export function receiveData(voucher: Uint8Array, payerCert: Uint8Array, time: number): Uint8Array {
  return cat(u32be(time), u16be(voucher.length), voucher, payerCert);
}

export function syncAck(w: Wallet, upTo: number, time: number, o: { blockList?: Uint8Array[]; limits?: Limits; rl?: number; deviceId?: Uint8Array } = {}): Uint8Array {
  return w.issuer.syncAck({
    deviceId: o.deviceId ?? w.p.deviceId, upToCounter: upTo, time, revocationVersion: o.rl ?? 1, blockList: o.blockList ?? [],
    ...(o.limits ? { limits: o.limits } : {}),
  });
}

export function readLog(w: Wallet): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; ; i++) {
    const r = w.h.cmd(A.INS_READ_LOG, i >> 8, i & 0xff);
    if (r.sw !== SW_NO_ERROR) break;
    out.push(r.data);
  }
  return out;
}

export const decodeVoucher = (b: Uint8Array) => decodeSigned<Voucher>(b, VOUCHER_SCHEMA);
export const decodeReceipt = (b: Uint8Array) => decodeSigned<Receipt>(b, RECEIPT_SCHEMA);
