// APDU fuzzer of the real build/firmware.wasm (SPEC §3.1 transport rules, §3.2 lifecycle
// table, §4 status words): random and structure-aware APDUs, stateful sequences from five
// lifecycle images (blank, personalizing, active with balance, locked, terminated), with
// power cuts at random flash operations. Used in-process by apdu-fuzz.test.ts (CI counts)
// and by apdu-fuzz-worker.ts (one process per core for the full count).
//
// Checked after every APDU: the device answers (no abort/trap: it would go mute), the SW is
// one of SPEC §4's (protocol/portable/sw.ts, families 61xx / 63Cx / 6Cxx), the answer fits
// in Ne. Checked after every unit (one APDU, a chain, a command and its GET RESPONSEs, or an
// authenticated channel's command) by GET STATUS: no state change without authority. The
// fuzzer is the only holder of authority (issuer key, peer key, PIN, PUK, SCP03 keys) and
// says, per unit, which authority it used; balance, load seq, last ack, lifecycle and PIN/PUK
// tries may move only as that authority allows, the voucher counter never goes back.
import { randomBytes } from "node:crypto";
import * as A from "../../protocol/portable/apdu.ts";
import * as SW from "../../protocol/portable/sw.ts";
import { LC_ACTIVE, LC_LOCKED, LC_MANUFACTURED, LC_PERSONALIZING, LC_TERMINATED } from "../../protocol/portable/lifecycle.ts";
import { FORM_CARD, VOUCHER_KIND_D2D } from "../../protocol/portable/cbor-keys.ts";
import { SUITE_P256_SHA256_AES128 } from "../../protocol/portable/suite.ts";
import { decodeSign1 } from "../../protocol/src/cose.ts";
import { encodeVoucher } from "../../protocol/src/formats.ts";
import { GP_DEFAULT_KEYS, Scp03Session, type ScpKeys } from "../../protocol/src/scp03.ts";
import { certRefOf, signDoc } from "../../host-tools/src/docs.ts";
import { parseStatus as parseCardStatus, type CardStatus } from "../../host-tools/src/card.ts";
import { Device, DeviceOffError } from "../../wearable-sim/src/device.ts";
import type { NorFlash, TearMode } from "../../wearable-sim/src/flash.ts";
import { AppletHarness, cat, pinBlock, u16be, u32be } from "../support/applet-device.ts";
import { DEFAULT_LIMITS, TestIssuer, keyPair, type KeyPair } from "../support/applet-issuer.ts";
import { T0, openChannel, persoSteps, personalize } from "../support/applet-perso.ts";
import { payData } from "../support/applet-wallet.ts";

const P256 = SUITE_P256_SHA256_AES128;

// ---------- status words of SPEC §4 ----------
const NAMED = new Set<number>(Object.entries(SW).filter(([k, v]) => k.startsWith("SW_") && typeof v === "number").map(([, v]) => v as number));
export function swNamed(sw: number): boolean {
  if (sw >> 8 === SW.SW_BYTES_REMAINING_00 >> 8) return true;
  if (sw >> 8 === SW.SW_CORRECT_LENGTH_00 >> 8) return true;
  if ((sw & 0xfff0) === SW.SW_VERIFY_FAIL_BASE) return true;
  return NAMED.has(sw);
}

/** Ne of a command APDU per SPEC §3.1 (absent Le = 256 short / 65536 extended); null when the lengths do not add up. */
export function neOf(b: Uint8Array): { ne: number; extended: boolean } | null {
  const n = b.length;
  if (n < 4) return null;
  if (n === 4) return { ne: 256, extended: false };
  if (n === 5) return { ne: b[4] || 256, extended: false };
  if (b[4] !== 0) {
    const nc = b[4];
    if (n === 5 + nc) return { ne: 256, extended: false };
    if (n === 6 + nc) return { ne: b[5 + nc] || 256, extended: false };
    return null;
  }
  if (n < 7) return null;
  const x = (b[5] << 8) | b[6];
  if (n === 7) return { ne: x || 65536, extended: true };
  if (x === 0) return null;
  if (n === 7 + x) return { ne: 65536, extended: true };
  if (n === 9 + x) return { ne: ((b[7 + x] << 8) | b[8 + x]) || 65536, extended: true };
  return null;
}

// ---------- deterministic PRNG (reproducible sequences) ----------
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    // mulberry32
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

// ---------- fixtures: one flash image per lifecycle state ----------
export interface Ctx {
  name: string;
  flash: NorFlash;
  lifecycle: number;
  deviceId: Uint8Array;
  /** SCP03 keys the device's channel opens with */
  keys: ScpKeys;
  pin: string;
  puk: string;
  currency: number;
}
export interface Fixtures {
  issuer: TestIssuer;
  peer: { id: Uint8Array; key: KeyPair; cert: Uint8Array; certRef: Uint8Array };
  ctxs: Ctx[];
}

const CURRENCY = 978;
const PIN = "1234";
const PUK = "12345678";

export async function buildFixtures(tag: string): Promise<Fixtures> {
  const issuer = new TestIssuer(P256);
  const ctxs: Ctx[] = [];
  const base = { pin: PIN, puk: PUK, currency: CURRENCY };
  // blank: first power-on drew the device id; GP default keys
  {
    const h = new AppletHarness({ seed: `fz-blank-${tag}` });
    const id = h.select().data.slice(A.SELECT_OFF_DEVICE_ID, A.SELECT_OFF_DEVICE_ID + 8);
    ctxs.push({ name: "blank", flash: h.dev.flash.clone(), lifecycle: LC_MANUFACTURED, deviceId: id, keys: GP_DEFAULT_KEYS, ...base });
  }
  // personalizing: keys changed, identity, limits, key pair, issuer key; no certificate, PIN, PUK yet
  {
    const h = new AppletHarness({ seed: `fz-perso-${tag}` });
    const { steps, result } = persoSteps(h, issuer, { pin: PIN, puk: PUK, currency: CURRENCY });
    for (const [name, run] of steps) {
      if (name === "certificate") break;
      await run();
    }
    h.select();
    ctxs.push({ name: "personalizing", flash: h.dev.flash.clone(), lifecycle: LC_PERSONALIZING, deviceId: result.deviceId!, keys: result.keys!, ...base });
  }
  // active with balance, a few vouchers in the log
  const h = new AppletHarness({ seed: `fz-active-${tag}` });
  const p = await personalize(h, issuer, { pin: PIN, puk: PUK, currency: CURRENCY });
  const ok = (sw: number, what: string) => {
    if (sw !== 0x9000) throw new Error(`fixtures: ${what} ${sw.toString(16)}`);
  };
  ok(h.cmd(A.INS_LOAD, 0, 0, cat(u32be(T0 + 30), issuer.load({ deviceId: p.deviceId, seq: 1, amount: 60_000, currency: CURRENCY, expiry: T0 + 86400 }))).sw, "LOAD");
  for (let i = 0; i < 3; i++) ok(h.cmd(A.INS_PAY, 0, 0, payData(100 + i, CURRENCY, Uint8Array.of(0xa0, 1, 2, 3, 4, 5, 6, 7), new Uint8Array(16).fill(i), T0 + 60 + i)).sw, "PAY");
  const common = { deviceId: p.deviceId, keys: p.keys, ...base };
  ctxs.push({ name: "active", flash: h.dev.flash.clone(), lifecycle: LC_ACTIVE, ...common });
  // active, PIN with one try left
  {
    const h2 = new AppletHarness({ seed: `fz-active-${tag}`, flash: h.dev.flash.clone() });
    h2.select();
    h2.iso(A.INS_VERIFY, 0, A.P2_PIN, pinBlock("0000"));
    h2.iso(A.INS_VERIFY, 0, A.P2_PIN, pinBlock("0000"));
    ctxs.push({ name: "active-pin-1", flash: h2.dev.flash.clone(), lifecycle: LC_ACTIVE, ...common });
  }
  for (const [name, ins, lc] of [["locked", A.INS_LOCK, LC_LOCKED], ["terminated", A.INS_TERMINATE, LC_TERMINATED]] as const) {
    const h3 = new AppletHarness({ seed: `fz-active-${tag}`, flash: h.dev.flash.clone() });
    await openChannel(h3, p.keys, P256);
    ok(h3.cmd(ins).sw, name);
    h3.select();
    ctxs.push({ name, flash: h3.dev.flash.clone(), lifecycle: lc, ...common });
  }
  const peerKey = keyPair(P256);
  const peerId = new Uint8Array(randomBytes(8));
  const cert = issuer.cert({
    deviceId: peerId, token: new Uint8Array(16).fill(3), suite: P256, publicKey: peerKey.pub, formFactor: FORM_CARD, currency: CURRENCY,
    limits: DEFAULT_LIMITS, notBefore: T0 - 3600, notAfter: T0 + 10 * 365 * 86400,
  });
  return { issuer, peer: { id: peerId, key: peerKey, cert, certRef: certRefOf("p256", cert) }, ctxs };
}

// ---------- figures ----------
export interface FuzzStats {
  apdus: number; // fuzz APDUs sent to the firmware (state checks not included)
  statusChecks: number;
  units: number;
  sequences: number;
  powerCuts: number;
  traps: number;
  unnamedSw: number;
  beyondLe: number;
  dataOnMalformed: number;
  unauthorised: number;
  corruptAfterCut: number;
  /** units whose authority was used and accepted (coverage: the fuzzer reaches the value paths) */
  accepted: { load: number; receive: number; sync: number; pin: number; puk: number; channel: number; lifecycle: number; pay: number };
  perState: Record<string, number>;
  swSeen: Record<string, number>;
  /** first commands answered 6F00 (internal failure): each names a path the firmware did not expect */
  internal: string[];
  failures: string[];
  ms: number;
}
export const emptyStats = (): FuzzStats => ({
  apdus: 0, statusChecks: 0, units: 0, sequences: 0, powerCuts: 0, traps: 0, unnamedSw: 0, beyondLe: 0, dataOnMalformed: 0, unauthorised: 0,
  corruptAfterCut: 0, accepted: { load: 0, receive: 0, sync: 0, pin: 0, puk: 0, channel: 0, lifecycle: 0, pay: 0 }, perState: {}, swSeen: {}, internal: [], failures: [], ms: 0,
});
export function mergeStats(a: FuzzStats, b: FuzzStats): FuzzStats {
  const out = emptyStats();
  for (const k of ["apdus", "statusChecks", "units", "sequences", "powerCuts", "traps", "unnamedSw", "beyondLe", "dataOnMalformed", "unauthorised", "corruptAfterCut", "ms"] as const) out[k] = a[k] + b[k];
  out.ms = Math.max(a.ms, b.ms);
  for (const k of Object.keys(out.accepted) as (keyof FuzzStats["accepted"])[]) out.accepted[k] = a.accepted[k] + b.accepted[k];
  for (const src of [a, b]) {
    for (const [k, v] of Object.entries(src.perState)) out.perState[k] = (out.perState[k] ?? 0) + v;
    for (const [k, v] of Object.entries(src.swSeen)) out.swSeen[k] = (out.swSeen[k] ?? 0) + v;
  }
  out.internal = [...a.internal, ...b.internal].slice(0, 20);
  out.failures = [...a.failures, ...b.failures].slice(0, 50);
  return out;
}

// ---------- one fuzz run ----------
/** What the fuzzer vouched for in one unit: the only ways state may legitimately move. */
interface Authority {
  valueIn?: number; // an authentic LOAD authorization or peer voucher of this amount
  loadSeq?: number; // ... and, for a LOAD, its sequence
  ackTime?: number; // an authentic sync acknowledgement of this time
  pin?: boolean; // the right PIN was presented
  puk?: boolean; // the right PUK was presented
  channel?: boolean; // a command went through an authenticated SCP03 channel
}

const ALL_INS: number[] = Object.entries(A).filter(([k]) => k.startsWith("INS_")).map(([, v]) => v as number);
const ISO_INS = new Set<number>([A.INS_SELECT, A.INS_GET_RESPONSE, A.INS_GET_CHALLENGE, A.INS_VERIFY, A.INS_CHANGE_REFERENCE_DATA, A.INS_RESET_RETRY_COUNTER]);
const claOf = (ins: number) => (ISO_INS.has(ins) ? A.CLA_ISO : A.CLA_PROPRIETARY);
const DATA_LENS = [0, 1, 4, 7, 8, 9, 10, 15, 16, 17, 20, 24, 34, 35, 64, 65, 70, 75, 76, 100, 200, 255, 256, 300, 700, 1023, 1024, 1025];
const IO_CAPACITY = A.APDU_MAX_DATA + 64; // firmware applet/mem.ts: longer commands are answered 6700 by the device's ISO layer
const GET_STATUS = Uint8Array.of(A.CLA_PROPRIETARY, A.INS_GET_STATUS, 0, 0, 0);
const AID = cat(u32be(A.AID_HI), u32be(A.AID_LO));
const SELECT = cat(Uint8Array.of(0, A.INS_SELECT, 4, 0, 8), AID, Uint8Array.of(0));
const LC_EDGES = new Set([`${LC_MANUFACTURED}>${LC_PERSONALIZING}`, `${LC_PERSONALIZING}>${LC_ACTIVE}`, `${LC_ACTIVE}>${LC_LOCKED}`, `${LC_LOCKED}>${LC_ACTIVE}`,
  ...[LC_MANUFACTURED, LC_PERSONALIZING, LC_ACTIVE, LC_LOCKED].map((s) => `${s}>${LC_TERMINATED}`)]);

/** An APDU with the given header and data, in the case `kind` picks (short / extended, Le or not). */
function encode(r: Rng, cla: number, ins: number, p1: number, p2: number, data: Uint8Array, le?: number): Uint8Array {
  const ext = data.length > 255 || r.chance(0.15);
  const withLe = le !== undefined || r.chance(0.5);
  const leV = le ?? r.pick([0, 0, 1, 2, 8, 15, 16, 62, 65, 100, 255, 256, 1000, 65535]);
  const h = Uint8Array.of(cla, ins, p1, p2);
  if (!ext) {
    const L = withLe ? Uint8Array.of(leV & 0xff) : new Uint8Array(0);
    return data.length ? cat(h, Uint8Array.of(data.length), data, L) : cat(h, L);
  }
  const L = withLe ? (data.length ? u16be(leV & 0xffff) : Uint8Array.of(0, (leV >> 8) & 0xff, leV & 0xff)) : new Uint8Array(0);
  return data.length ? cat(h, Uint8Array.of(0), u16be(data.length), data, L) : cat(h, L.length ? L : new Uint8Array(0));
}

/** 1..k random byte flips, truncation or extension. */
function mutate(r: Rng, b: Uint8Array): Uint8Array {
  const m = r.int(6);
  if (m === 0 && b.length > 0) return b.subarray(0, r.int(b.length)); // truncated
  if (m === 1) return cat(b, r.bytes(r.range(1, 8))); // over-long
  const c = b.slice();
  const flips = r.range(1, 3);
  for (let i = 0; i < flips && c.length; i++) {
    const j = r.int(c.length);
    if (r.chance(0.5)) c[j] ^= 1 << r.int(8);
    else c[j] = r.u32() & 0xff;
  }
  return c;
}

/** Is a mutated issuer/peer document still the authentic one (same signed content)? Flips in
 * unsigned parts (the unprotected header) leave the issuer's word intact. */
function sameSigned(orig: Uint8Array, m: Uint8Array): boolean {
  try {
    const a = decodeSign1(orig);
    const b = decodeSign1(m);
    return Buffer.compare(Buffer.from(a.payload), Buffer.from(b.payload)) === 0 && Buffer.compare(Buffer.from(a.signature), Buffer.from(b.signature)) === 0 && a.alg === b.alg;
  } catch {
    return false;
  }
}

export interface RunOptions {
  seed: number;
  apdus: number;
  /** stop early after this many ms (0 = none) */
  deadlineMs?: number;
}

export async function runFuzz(fx: Fixtures, o: RunOptions): Promise<FuzzStats> {
  const st = emptyStats();
  const r = new Rng(o.seed);
  const t0 = performance.now();
  const fail = (msg: string) => {
    if (st.failures.length < 50) st.failures.push(`seed ${o.seed} seq ${st.sequences}: ${msg}`);
  };

  while (st.apdus < o.apdus && !(o.deadlineMs && performance.now() - t0 > o.deadlineMs)) {
    const ctx = r.pick(fx.ctxs);
    st.perState[ctx.name] = (st.perState[ctx.name] ?? 0) + 1;
    st.sequences++;
    const dev = new Device({ seed: `fz-${o.seed}-${st.sequences}`, flash: ctx.flash.clone() });
    dev.powerOn();
    let session: Scp03Session | null = null;
    let challenge: Uint8Array | null = null;
    let peerCounter = 0;
    // authentic load sequences and ack times increase within a sequence (each starts from its image),
    // so they stay far inside the documents' u32 range however long the run
    let loadSeqNext = 1000;
    let ackTimeNext = T0 + 100;

    const tx = (apdu: Uint8Array, counted = true): { data: Uint8Array; sw: number } | null => {
      let resp: Uint8Array;
      if (counted) st.apdus++;
      else st.statusChecks++;
      const aborts = dev.aborts;
      try {
        resp = dev.transmit(apdu);
      } catch (e) {
        if (!(e instanceof DeviceOffError)) throw e;
        if (e.reason === "power-cut") {
          st.powerCuts++;
          return null;
        }
        st.traps += Math.max(1, dev.aborts - aborts);
        fail(`trap (${e.reason}) on ${Buffer.from(apdu).toString("hex")}`);
        return null;
      }
      const sw = (resp[resp.length - 2] << 8) | resp[resp.length - 1];
      const data = resp.subarray(0, resp.length - 2);
      const key = sw >> 8 === 0x61 ? "61xx" : (sw & 0xfff0) === 0x63c0 ? "63Cx" : sw.toString(16);
      st.swSeen[key] = (st.swSeen[key] ?? 0) + 1;
      if (sw === SW.SW_UNKNOWN && st.internal.length < 20) st.internal.push(Buffer.from(apdu.subarray(0, 12)).toString("hex") + (apdu.length > 12 ? `…(${apdu.length})` : ""));
      if (!swNamed(sw)) {
        st.unnamedSw++;
        fail(`unnamed SW ${sw.toString(16)} on ${Buffer.from(apdu).toString("hex")}`);
      }
      const ne = apdu.length > IO_CAPACITY ? null : neOf(apdu);
      const limit = ne ? Math.min(ne.ne, ne.extended ? 65536 : 256) : 256;
      if (data.length > limit) {
        st.beyondLe++;
        fail(`answer ${data.length} bytes beyond Ne ${limit} on ${Buffer.from(apdu).toString("hex")}`);
      }
      if (!ne && data.length > 0) st.dataOnMalformed++;
      return { data, sw };
    };

    const status = (): CardStatus | null => {
      for (let i = 0; i < 2; i++) {
        const a = tx(GET_STATUS, false);
        if (!a) return null;
        if (a.sw === 0x9000 && a.data.length === A.STATUS_RESP_LEN) return parseCardStatus(a.data);
        // a pending chain ends here: another command's chain with 6883, a chain of GET STATUS
        // blocks takes this one as its last block and answers its gathered data 6700 (SPEC
        // §3.1, §3.5); either way the next GET STATUS is answered on its own, so once only
        if (i > 0 || (a.sw !== SW.SW_LAST_COMMAND_EXPECTED && a.sw !== SW.SW_WRONG_LENGTH)) {
          fail(`GET STATUS answered ${a.sw.toString(16)} (${a.data.length} bytes)`);
          return null;
        }
      }
      return null;
    };

    /** After a power cut: power on (RAM lost), select. */
    const recover = () => {
      session = null;
      challenge = null;
      dev.disarmPowerCut();
      try {
        dev.powerOn();
      } catch (e) {
        if (!(e instanceof DeviceOffError)) throw e;
        st.traps++;
        fail(`power-on after a cut: ${e.reason}`);
      }
    };

    const judge = (s0: CardStatus, s1: CardStatus, au: Authority, what: string) => {
      const bad = (m: string) => {
        st.unauthorised++;
        fail(`${ctx.name}: ${m} after ${what} (authority ${JSON.stringify(au)})`);
      };
      if (Buffer.compare(Buffer.from(s0.deviceId), Buffer.from(s1.deviceId)) !== 0) bad("device id changed");
      if (s1.counter < s0.counter) bad(`counter back ${s0.counter} -> ${s1.counter}`);
      if (s1.balance > s0.balance && s1.balance - s0.balance !== au.valueIn) bad(`balance grew ${s0.balance} -> ${s1.balance}`);
      if (s1.loadSeq < s0.loadSeq) bad(`load seq back ${s0.loadSeq} -> ${s1.loadSeq}`);
      if (s1.loadSeq > s0.loadSeq && s1.loadSeq !== au.loadSeq) bad(`load seq moved ${s0.loadSeq} -> ${s1.loadSeq}`);
      if (s1.lastAckTime < s0.lastAckTime) bad(`last ack back`);
      if (s1.lastAckTime > s0.lastAckTime && s1.lastAckTime !== au.ackTime) bad(`last ack moved ${s0.lastAckTime} -> ${s1.lastAckTime}`);
      if (s1.latestTime < s0.latestTime) bad(`latest time back ${s0.latestTime} -> ${s1.latestTime}`);
      if (s1.lifecycle !== s0.lifecycle) {
        if (!LC_EDGES.has(`${s0.lifecycle}>${s1.lifecycle}`)) bad(`lifecycle ${s0.lifecycle} -> ${s1.lifecycle} not in the table`);
        else if (!au.channel) bad(`lifecycle ${s0.lifecycle} -> ${s1.lifecycle} outside the channel`);
      }
      const perso = s0.lifecycle === LC_PERSONALIZING;
      if (s1.pinTries > s0.pinTries && !au.pin && !au.puk && !(au.channel && perso)) bad(`PIN tries restored ${s0.pinTries} -> ${s1.pinTries}`);
      if (s1.pukTries > s0.pukTries && !au.puk && !(au.channel && perso)) bad(`PUK tries restored ${s0.pukTries} -> ${s1.pukTries}`);
      if (s1.cap !== s0.cap && !au.channel && au.ackTime === undefined) bad(`cap changed ${s0.cap} -> ${s1.cap}`);
      if (s1.storeState !== 0 && s0.storeState === 0) {
        st.corruptAfterCut++;
        fail(`${ctx.name}: store state ${s1.storeState} after ${what}`);
      }
      if (s1.balance > s0.balance && au.loadSeq !== undefined) st.accepted.load++;
      else if (s1.balance > s0.balance) st.accepted.receive++;
      if (s1.lastAckTime > s0.lastAckTime) st.accepted.sync++;
      if (s1.lifecycle !== s0.lifecycle) st.accepted.lifecycle++;
      if (s1.counter > s0.counter) st.accepted.pay++;
    };

    let s0 = status();
    if (!s0) {
      fail(`${ctx.name}: no status at start`);
      continue;
    }
    const units = r.range(10, 200);
    for (let u = 0; u < units && st.apdus < o.apdus; u++) {
      st.units++;
      const au: Authority = {};
      const cut = r.chance(0.08);
      if (cut) dev.cutPowerAfter(r.range(1, 16), r.pick<TearMode>(["none", "full", "random"]));
      let cutFired = false;
      const send = (apdu: Uint8Array) => {
        if (cutFired) return null;
        const a = tx(apdu);
        if (!a) cutFired = true;
        return a;
      };
      /** A wrapped command in the open channel (its authority), or a plain one. */
      const sendSecure = (plain: Uint8Array) => {
        const s = session;
        if (!s || plain.length < 5) return send(plain);
        let w: Uint8Array;
        try {
          w = s.wrap(plain);
        } catch {
          return send(plain);
        }
        au.channel = true;
        const a = send(w);
        if (a && a.sw === 0x9000) st.accepted.channel++;
        if (a && a.sw !== 0x9000 && (a.sw >> 8) !== 0x61) session = null; // MAC state may be lost: reopen later
        return a;
      };
      const kind = r.int(100);
      const what = `unit ${kind}`;
      if (kind < 12) {
        // random bytes, mostly short, sometimes beyond the I/O buffer
        const n = r.chance(0.9) ? r.int(40) : r.range(40, 1200);
        send(r.bytes(n));
      } else if (kind < 40) {
        // structure-aware: a known INS with the right or a random CLA, random P1/P2/data/Le
        const ins = r.chance(0.95) ? r.pick(ALL_INS) : r.u32() & 0xff;
        let cla = claOf(ins);
        if (r.chance(0.2)) cla |= A.CLA_SECURE_MESSAGING;
        if (r.chance(0.1)) cla |= A.CLA_CHAINING;
        if (r.chance(0.1)) cla = r.u32() & 0xff;
        const p1 = r.chance(0.6) ? 0 : r.u32() & 0xff;
        const p2 = r.chance(0.6) ? 0 : r.chance(0.5) ? r.pick([0x81, 0x82, 0x01]) : r.u32() & 0xff;
        const data = r.bytes(r.chance(0.7) ? r.pick(DATA_LENS) : r.int(1030));
        let apdu = encode(r, cla, ins, p1, p2, data);
        if (r.chance(0.3)) apdu = mutate(r, apdu);
        send(apdu);
      } else if (kind < 50) {
        // value commands with real shapes: PAY, GET CHALLENGE, READ LOG, GET RESPONSE after a short Le
        const c = r.int(5);
        if (c === 0) {
          const amount = r.chance(0.5) ? r.range(1, 6000) : r.u32();
          send(encode(r, A.CLA_PROPRIETARY, A.INS_PAY, r.chance(0.8) ? r.int(2) : r.u32() & 0xff, 0, payData(amount, r.chance(0.9) ? ctx.currency : r.u32() & 0xffff, r.bytes(8), r.bytes(16), T0 + r.int(60 * 86400))));
        } else if (c === 1) {
          const a = send(encode(r, A.CLA_ISO, A.INS_GET_CHALLENGE, 0, 0, new Uint8Array(0), r.pick([0, 16, 8])));
          if (a && a.sw === 0x9000 && a.data.length === 16) challenge = a.data.slice();
        } else if (c === 2) {
          send(encode(r, A.CLA_PROPRIETARY, A.INS_READ_LOG, 0, r.int(8), new Uint8Array(0), r.pick([0, 1, 10, 100, 255])));
        } else {
          // a long answer (status, certificate, log entry, public key) with a small Le, then GET RESPONSE pieces
          const ins = r.pick([A.INS_GET_STATUS, A.INS_GET_CERTIFICATE, A.INS_READ_LOG, A.INS_GET_PUBLIC_KEY, A.INS_SELECT]);
          const first = ins === A.INS_SELECT ? cat(Uint8Array.of(0, A.INS_SELECT, 4, 0, 8), AID, Uint8Array.of(r.range(1, 10))) : Uint8Array.of(A.CLA_PROPRIETARY, ins, 0, 0, r.range(1, 40));
          let a = send(first);
          for (let k = 0; a && (a.sw >> 8) === 0x61 && k < 40; k++) {
            const le = r.chance(0.8) ? r.range(1, 60) : r.u32() & 0xff;
            let gr: Uint8Array = Uint8Array.of(0, A.INS_GET_RESPONSE, 0, 0, le);
            if (r.chance(0.15)) gr = mutate(r, gr);
            if (r.chance(0.05)) gr = Uint8Array.of(0, A.INS_GET_RESPONSE, 0, 0, 0, 1, 0); // extended Le
            a = send(gr);
          }
        }
      } else if (kind < 58) {
        // PIN / PUK: right and wrong, valid and malformed blocks
        const c = r.int(6);
        const right = r.chance(0.4);
        const blk = (s: string) => (r.chance(0.9) ? pinBlock(s) : mutate(r, pinBlock(s)));
        let a: { data: Uint8Array; sw: number } | null = null;
        if (c <= 1) {
          const b = blk(right ? ctx.pin : r.pick(["0000", "9999", "12345", "1235"]));
          if (right && b.length === 8 && Buffer.compare(Buffer.from(b), Buffer.from(pinBlock(ctx.pin))) === 0) au.pin = true;
          a = send(encode(r, A.CLA_ISO, A.INS_VERIFY, 0, A.P2_PIN, b));
        } else if (c === 2) {
          a = send(encode(r, A.CLA_ISO, A.INS_VERIFY, 0, r.pick([A.P2_PIN, A.P2_PUK]), new Uint8Array(0)));
        } else if (c === 3) {
          const old = right ? pinBlock(ctx.pin) : pinBlock("0000");
          if (right) au.pin = true;
          a = send(encode(r, A.CLA_ISO, A.INS_CHANGE_REFERENCE_DATA, 0, A.P2_PIN, cat(old, pinBlock(ctx.pin))));
        } else {
          const puk = right ? pinBlock(ctx.puk) : pinBlock("00000000");
          if (right) au.puk = true;
          const p1 = r.int(2);
          a = send(encode(r, A.CLA_ISO, A.INS_RESET_RETRY_COUNTER, p1, A.P2_PIN, p1 === 0 ? cat(puk, pinBlock(ctx.pin)) : puk));
        }
        if (a && a.sw === 0x9000 && au.pin) st.accepted.pin++;
        if (a && a.sw === 0x9000 && au.puk) st.accepted.puk++;
      } else if (kind < 82) {
        // documents: authentic or with flipped bytes; LOAD, SYNC, RECEIVE (after GET CHALLENGE)
        const c = r.int(3);
        let doc: Uint8Array;
        let body: (d: Uint8Array) => Uint8Array;
        let grant: () => void;
        const time = T0 + r.int(40 * 86400);
        if (c === 0) {
          const seq = r.chance(0.8) ? loadSeqNext++ : r.int(3);
          const amount = r.chance(0.8) ? r.range(1, 20_000) : r.u32();
          const mine = r.chance(0.9);
          const currency = r.chance(0.95) ? ctx.currency : 840;
          doc = fx.issuer.load({ deviceId: mine ? ctx.deviceId : r.bytes(8), seq, amount, currency, expiry: r.chance(0.9) ? T0 + 90 * 86400 : T0 });
          body = (d) => cat(u32be(time), d);
          // the issuer's word counts only for this device and its currency (a foreign load must be refused)
          grant = () => {
            if (!mine || currency !== ctx.currency) return;
            au.valueIn = amount;
            au.loadSeq = seq;
          };
        } else if (c === 1) {
          const s = status();
          const upTo = s ? (r.chance(0.8) ? s.counter : r.int(s.counter + 3)) : 0;
          const at = r.chance(0.8) ? (ackTimeNext += r.range(1, 86400)) : T0 + r.int(100);
          const limits = r.chance(0.2) ? { ...DEFAULT_LIMITS, cap: r.pick([0, 1000, 60_000, 200_000]), maxPayment: r.pick([0, 100, 20_000, 300_000]) } : undefined;
          doc = fx.issuer.syncAck({ deviceId: ctx.deviceId, upToCounter: upTo, time: at, revocationVersion: r.int(5), blockList: r.chance(0.1) ? [r.bytes(8)] : [], ...(limits ? { limits } : {}) });
          body = (d) => d;
          grant = () => {
            au.ackTime = at;
          };
        } else {
          const g = send(Uint8Array.of(0, A.INS_GET_CHALLENGE, 0, 0, 16));
          if (g && g.sw === 0x9000 && g.data.length === 16) challenge = g.data.slice();
          const fresh = challenge !== null && r.chance(0.9);
          const ch = fresh ? challenge! : r.bytes(16);
          const amount = r.chance(0.9) ? r.range(1, 5_000) : r.u32();
          const currency = r.chance(0.95) ? ctx.currency : 840;
          const toMe = r.chance(0.95);
          const d2d = r.chance(0.95);
          const payload = encodeVoucher({
            deviceId: fx.peer.id, counter: ++peerCounter, amount, currency, payeeId: toMe ? ctx.deviceId : r.bytes(8),
            challenge: ch, time, prev: new Uint8Array(32), balanceAfter: 1000, certRef: fx.peer.certRef, kind: d2d ? VOUCHER_KIND_D2D : 0,
          });
          doc = signDoc("p256", fx.peer.key, fx.peer.id, payload);
          const certOk = r.chance(0.95);
          const cert = certOk ? fx.peer.cert : mutate(r, fx.peer.cert);
          body = (d) => cat(u32be(time), u16be(d.length), d, cert);
          // the peer's voucher counts only when it pays this device, answers its pending challenge, in its currency
          grant = () => {
            if (!fresh || !toMe || !d2d || currency !== ctx.currency || !(certOk || sameSigned(fx.peer.cert, cert))) return;
            au.valueIn = amount;
          };
        }
        const flipped = r.chance(0.4) ? mutate(r, doc) : doc;
        if (flipped === doc || sameSigned(doc, flipped)) grant();
        const ins = c === 0 ? A.INS_LOAD : c === 1 ? A.INS_SYNC : A.INS_RECEIVE;
        const data = body(flipped);
        if (r.chance(0.25) && data.length > 20) {
          // command chaining: blocks of random size, sometimes a broken chain (other P1, other INS, a stray command)
          let off = 0;
          while (off < data.length && !cutFired) {
            const n = Math.min(data.length - off, r.range(1, 255));
            const last = off + n >= data.length;
            let cla = A.CLA_PROPRIETARY | (last ? 0 : A.CLA_CHAINING);
            let p1 = 0;
            if (r.chance(0.05)) p1 = 1;
            if (r.chance(0.03)) send(GET_STATUS);
            if (r.chance(0.02)) cla ^= A.CLA_CHAINING;
            send(encode(r, cla, r.chance(0.03) ? A.INS_PAY : ins, p1, 0, data.subarray(off, off + n)));
            off += n;
          }
        } else {
          send(encode(r, A.CLA_PROPRIETARY, ins, 0, 0, data));
        }
        if (ins === A.INS_RECEIVE) challenge = null; // consumed whatever the outcome
      } else if (kind < 92) {
        // an authenticated SCP03 channel (the fuzzer's authority), then mutated commands inside it
        if (!session || r.chance(0.3)) {
          const right = r.chance(0.9);
          const keys = right ? ctx.keys : { enc: r.bytes(16), mac: r.bytes(16), dek: r.bytes(16) };
          session = null;
          if (right) au.channel = true; // INITIALIZE UPDATE / EXTERNAL AUTHENTICATE with the device's keys
          try {
            session = await Scp03Session.open(async (apdu) => {
              const a = send(apdu);
              if (!a) throw new Error("cut");
              return cat(a.data, u16be(a.sw));
            }, keys, { suite: P256, level: r.pick([0x01, 0x03, 0x33]), keyVersion: 0 });
          } catch {
            session = null;
          }
        }
        const n = r.range(1, 3);
        for (let i = 0; i < n && session && !cutFired; i++) {
          const ins = r.pick([A.INS_LOCK, A.INS_UNLOCK, A.INS_TERMINATE, A.INS_SET_PIN, A.INS_SET_PUK, A.INS_SET_LIMITS, A.INS_SET_IDENTITY, A.INS_FINALIZE,
            A.INS_GET_STATUS, A.INS_PUT_ISSUER_KEY, A.INS_GENERATE_KEY, A.INS_PUT_KEY, A.INS_PUT_CERTIFICATE, A.INS_PAY, A.INS_LOAD]);
          const terminal = ins === A.INS_TERMINATE || ins === A.INS_LOCK || ins === A.INS_UNLOCK;
          if (terminal && r.chance(0.7)) continue; // keep sequences alive most of the time
          const data = ins === A.INS_SET_PIN ? pinBlock(ctx.pin) : ins === A.INS_SET_PUK ? pinBlock(ctx.puk)
            : ins === A.INS_SET_LIMITS ? cat(...[60_000, 20_000, 5_000, 20, 60_000, 30 * 86400].map((v) => u32be(r.chance(0.8) ? v : r.u32())))
            : terminal || ins === A.INS_GENERATE_KEY || ins === A.INS_GET_STATUS ? new Uint8Array(0) : r.bytes(r.pick(DATA_LENS.filter((l) => l < 200)));
          let plain = data.length ? cat(Uint8Array.of(A.CLA_PROPRIETARY, ins, 0, 0, data.length), data) : Uint8Array.of(A.CLA_PROPRIETARY, ins, 0, 0, 0);
          if (r.chance(0.2)) plain = mutate(r, plain);
          sendSecure(plain);
        }
      } else if (kind < 96) {
        // a raw, unwrapped or badly wrapped command while a channel may be open
        const ins = r.pick([A.INS_LOCK, A.INS_UNLOCK, A.INS_TERMINATE, A.INS_SET_PIN, A.INS_PUT_KEY, A.INS_EXTERNAL_AUTHENTICATE]);
        send(mutate(r, cat(Uint8Array.of(A.CLA_GP_SECURE, ins, 0, 0, 8), r.bytes(8))));
      } else if (kind < 98) {
        send(r.chance(0.8) ? SELECT : mutate(r, SELECT));
        session = null;
        challenge = null;
      } else {
        // power cycle
        dev.powerOff();
        dev.disarmPowerCut();
        dev.powerOn();
        session = null;
        challenge = null;
      }
      if (!dev.isOn) {
        if (dev.state === "mute") {
          // counted as a trap already: restart from flash, go on
          dev.powerOn();
        } else recover();
        session = null;
        challenge = null;
      }
      if (cut) dev.disarmPowerCut();
      if (cutFired) challenge = null;
      const s1 = status();
      if (!s1) {
        if (!dev.isOn) recover();
        break;
      }
      judge(s0, s1, au, what);
      s0 = s1;
    }
    dev.powerOff();
  }
  st.ms = performance.now() - t0;
  return st;
}
