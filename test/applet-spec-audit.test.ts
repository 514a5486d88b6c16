// SPEC §2, §3.1, §3.3 and §3.5 checked against the real build/firmware.wasm: the status words
// of every command (the §3.5 table is parsed from SPEC.md: every ✓ is driven at least once,
// and a fuzz of every command in every lifecycle state, in and out of the secure channel,
// never answers a SW outside the command's row), the dispatcher's check order (§3.1: an APDU
// that breaks two adjacent rules answers the earlier one), command chaining and its
// interruptions, GET RESPONSE's edge cases, SYNC and PAY naming the device itself, and the
// module's real imports and exports (§2).
import { beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import * as A from "../protocol/portable/apdu.ts";
import * as L from "../protocol/portable/limits.ts";
import * as LC from "../protocol/portable/lifecycle.ts";
import { NVM_LOG_CAPACITY } from "../protocol/portable/nvm.ts";
import { SUITE_P256_SHA256_AES128 } from "../protocol/portable/suite.ts";
import { SCP03_DC_HOST_CRYPTOGRAM, SCP03_DC_S_MAC } from "../protocol/portable/scp03.ts";
import { encodeCommand } from "../protocol/src/apdu.ts";
import { GP_DEFAULT_KEYS, cmac, scp03Kdf, type ScpKeys } from "../protocol/src/scp03.ts";
import { HW_IMPORT_NAMES } from "../protocol/src/hw.ts";
import { AppletHarness, AID, cat, pinBlock, u32be, type Resp } from "./support/applet-device.ts";
import { DEFAULT_LIMITS, TestIssuer } from "./support/applet-issuer.ts";
import { T0, openChannel, persoSteps } from "./support/applet-perso.ts";
import { setLimitsCmd } from "../host-tools/src/perso.ts";

/** SET LIMITS data as the host sends it (perso.ts: the wire order once) */
const limitsBytes = (l: typeof DEFAULT_LIMITS): Uint8Array => setLimitsCmd(l).data!;
import { POS_ID, activeWallet, challengeOf, load, loadDoc, pay, payData, receiveData, syncAck, type Wallet } from "./support/applet-wallet.ts";

const P256 = SUITE_P256_SHA256_AES128;
const ROOT = join(import.meta.dirname, "..");
const SPEC = readFileSync(join(ROOT, "protocol/SPEC.md"), "utf8");
const hex4 = (sw: number) => sw.toString(16).toUpperCase().padStart(4, "0");
/** The table key of a SW: families by their SPEC name. */
const swKey = (sw: number): string => ((sw & 0xfff0) === 0x63c0 ? "63Cx" : sw >> 8 === 0x61 ? "61xx" : hex4(sw));

// ---- SPEC §3.5: the table, read from SPEC.md ----
/** Every command may answer these (SPEC §3.5, first paragraph). */
const EVERY = ["9000", "61xx", "6700", "6982", "6E00", "6881", "6882", "6F00"];
const NAMES = Object.keys(A).filter((k) => k.startsWith("INS_")).map((k) => k.slice(4).replace(/_/g, " "));
const insOf = (name: string): number => (A as unknown as Record<string, number>)[`INS_${name.replace(/ /g, "_")}`];
const nameOf = (ins: number): string => NAMES.find((n) => insOf(n) === ins)!;
const ISO = new Set([A.INS_SELECT, A.INS_GET_RESPONSE, A.INS_GET_CHALLENGE, A.INS_VERIFY, A.INS_CHANGE_REFERENCE_DATA, A.INS_RESET_RETRY_COUNTER]);
const claOf = (ins: number) => (ISO.has(ins) ? A.CLA_ISO : A.CLA_PROPRIETARY);

function specTable(): Map<string, Set<string>> {
  const sec = SPEC.slice(SPEC.indexOf("### 3.5 Status words per command"), SPEC.indexOf("## 4. Status words"));
  const lines = sec.split("\n").filter((l) => l.startsWith("| "));
  const head = lines[0].split("|").slice(2, -1).map((c) => c.trim().replace(/`/g, ""));
  const rows = new Map<string, Set<string>>();
  for (const l of lines.slice(2)) {
    const cells = l.split("|").slice(1, -1).map((c) => c.trim());
    rows.set(cells[0], new Set(head.filter((_, i) => cells[i + 1] === "✓")));
  }
  return rows;
}
const TABLE = specTable();
const allowedSws = (ins: number) => new Set([...EVERY, ...TABLE.get(nameOf(ins))!]);

// ---- fixtures: personalized once, cloned per use (flash copied; RAM and channel fresh) ----
let issuer: TestIssuer;
let base: Wallet; // ACTIVE, balance 50 000, one load (seq 1) in the log
let payer: Wallet; // a second ACTIVE device of the same issuer, balance 50 000
let fullImage: AppletHarness; // base with a full log

function clone(src: AppletHarness, seed = `clone-${Math.random()}`): AppletHarness {
  return new AppletHarness({ flash: src.dev.flash.clone(), seed });
}
const active = (): Wallet => ({ ...base, h: clone(base.h) });
const fresh = () => new AppletHarness({ seed: `fresh-${Math.random()}` });
async function inChannel(w: Wallet): Promise<Wallet> {
  await openChannel(w.h, w.p.keys, P256);
  return w;
}
async function locked(): Promise<Wallet> {
  const w = await inChannel(active());
  expect(w.h.cmd(A.INS_LOCK).sw).toBe(0x9000);
  w.h.select();
  return w;
}
async function terminated(): Promise<AppletHarness> {
  const w = await inChannel(active());
  expect(w.h.cmd(A.INS_TERMINATE).sw).toBe(0x9000);
  w.h.select();
  return w.h;
}
/** PERSONALIZING with the channel open; `upTo` personalization steps run (3: after PUT KEY). */
async function perso(upTo = 3): Promise<AppletHarness> {
  const h = fresh();
  const { steps } = persoSteps(h, issuer);
  for (const [, run] of steps.slice(0, upTo)) await run();
  return h;
}
/** A device whose flash fails its integrity check at mount (a rotted bit in the first entry). */
function corrupt(): AppletHarness {
  const h = clone(base.h);
  h.dev.powerOff();
  h.dev.flash.flipBit(24 + 8, 0);
  h.dev.powerOn();
  return h;
}
const full = (): Wallet => ({ ...base, h: clone(fullImage) });

const raw = (h: AppletHarness, ...b: (number | Uint8Array)[]) => h.raw(cat(...b.map((x) => (typeof x === "number" ? Uint8Array.of(x) : x))));
const apdu = (cla: number, ins: number, p1 = 0, p2 = 0, data: Uint8Array = new Uint8Array(0), ne = 0) => encodeCommand({ cla, ins, p1, p2, data, ne }, data.length > 255);
/** Starts a LOAD chain (one 16-byte block, answered 9000). */
function startChain(h: AppletHarness, ins: number = A.INS_LOAD): void {
  expect(h.raw(apdu(A.CLA_PROPRIETARY | A.CLA_CHAINING, ins, 0, 0, new Uint8Array(16))).sw).toBe(0x9000);
}
const plainApdu = (ins: number, p1 = 0, p2 = 0, data?: Uint8Array) => apdu(claOf(ins), ins, p1, p2, data ?? new Uint8Array(0));
const hc = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);

/** INITIALIZE UPDATE by hand (default keys): the session MAC key and context for a forged EXTERNAL AUTHENTICATE. */
function initUpdate(h: AppletHarness, keys: ScpKeys = GP_DEFAULT_KEYS) {
  const r = h.raw(apdu(0x80, A.INS_INITIALIZE_UPDATE, 0, 0, hc, 256));
  expect(r.sw).toBe(0x9000);
  const ctx = cat(hc, r.data.slice(13, 21));
  const sMac = scp03Kdf(P256, keys.mac, SCP03_DC_S_MAC, ctx, 128);
  return { ctx, sMac };
}
function externalAuth(h: AppletHarness, level: number, badCryptogram: boolean): Resp {
  const { ctx, sMac } = initUpdate(h);
  const cg = scp03Kdf(P256, sMac, SCP03_DC_HOST_CRYPTOGRAM, ctx, 64);
  if (badCryptogram) cg[0] ^= 1;
  const head = Uint8Array.of(0x84, A.INS_EXTERNAL_AUTHENTICATE, level, 0, 0x10);
  const mac = cmac(P256, sMac, cat(new Uint8Array(16), head, cg)).subarray(0, 8);
  return h.raw(cat(head, cg, mac));
}

function certFor(by: TestIssuer, deviceId: Uint8Array, pub: Uint8Array): Uint8Array {
  return by.cert({
    deviceId, token: new Uint8Array(16).fill(7), suite: P256, publicKey: pub, formFactor: 1, currency: 978,
    limits: DEFAULT_LIMITS, notBefore: T0 - 3600, notAfter: T0 + 86400 * 365,
  });
}
/** A transfer voucher from `payer` to the device of `to`, with `to`'s challenge. */
function transferTo(to: AppletHarness, amount = 700): Uint8Array {
  const payee = to.send(A.CLA_ISO, A.INS_SELECT, 4, 0, AID).data.slice(A.SELECT_OFF_DEVICE_ID, A.SELECT_OFF_DEVICE_ID + 8);
  const ch = to.iso(A.INS_GET_CHALLENGE, 0, 0, undefined, 16);
  expect(ch.sw).toBe(0x9000);
  const v = pay(payer, amount, { p1: A.P1_PAY_DEVICE, payee, challenge: ch.data });
  expect(v.sw).toBe(0x9000);
  return v.data;
}

beforeAll(async () => {
  issuer = new TestIssuer(P256);
  base = await activeWallet(P256, { issuer });
  expect(load(base, 50_000).sw).toBe(0x9000);
  payer = await activeWallet(P256, { issuer });
  expect(load(payer, 50_000).sw).toBe(0x9000);
  const f: Wallet = { ...base, h: clone(base.h) };
  while (f.h.status().logCount < NVM_LOG_CAPACITY) expect(load(f, 1).sw).toBe(0x9000);
  expect(f.h.status().flags & A.STATUS_FLAG_LOG_FULL).not.toBe(0);
  fullImage = f.h;
}, 120_000);

// ---- every ✓ of SPEC §3.5, driven ----
type Cell = [name: string, sw: string, drive: () => Promise<Resp> | Resp];
const lc = (ins: number, make: () => Promise<AppletHarness> | AppletHarness, p1 = 0, p2 = 0): (() => Promise<Resp>) =>
  async () => (await make()).raw(plainApdu(ins, p1, p2));
// GET RESPONSE with a data field: the case-2 one is served before any check (SPEC §3.1 step 2)
const corruptCell = (ins: number): Cell => [nameOf(ins), "6581", () =>
  corrupt().raw(ins === A.INS_GET_RESPONSE ? apdu(0, ins, 0, 0, Uint8Array.of(0)) : plainApdu(ins))];
const chainCell = (ins: number): Cell => [nameOf(ins), "6883", () => {
  const h = clone(base.h);
  startChain(h, ins === A.INS_LOAD ? A.INS_SYNC : A.INS_LOAD);
  return h.raw(ins === A.INS_GET_RESPONSE ? apdu(0, ins, 0, 0, Uint8Array.of(0)) : plainApdu(ins));
}];
const wrongPin = (h: AppletHarness) => h.iso(A.INS_VERIFY, 0, A.P2_PIN, pinBlock("9999"));
const wrongPuk = (h: AppletHarness) => h.iso(A.INS_RESET_RETRY_COUNTER, 1, A.P2_PIN, pinBlock("87654321"));
/** `tries` wrong guesses on an ACTIVE device, then `last`: the secret is blocked by then. */
const afterWrong = (tries: number, guess: (h: AppletHarness) => Resp, last: (h: AppletHarness) => Resp) => () => {
  const h = active().h;
  for (let i = 0; i < tries; i++) guess(h);
  return last(h);
};
const inActive = (fn: (w: Wallet) => Resp): (() => Promise<Resp>) => async () => fn(await inChannel(active()));
const inPerso = (upTo: number, fn: (h: AppletHarness) => Resp): (() => Promise<Resp>) => async () => fn(await perso(upTo));

const CELLS: Cell[] = [
  ["SELECT", "6884", () => fresh().raw(apdu(0x10, A.INS_SELECT, 4, 0, AID))],
  ["SELECT", "6A82", () => fresh().raw(apdu(0, A.INS_SELECT, 4, 0, new Uint8Array(8)))],
  ["SELECT", "6A86", () => fresh().raw(apdu(0, A.INS_SELECT, 0, 0, AID))],
  ["GET RESPONSE", "63Cx", async () => {
    const w = await inChannel(active());
    // a wrong PIN inside an R-MAC channel: 63C2 with 8 bytes of R-MAC, asked 4 at a time
    const first = w.h.dev.transmit(w.h.secure!.wrap(apdu(0, A.INS_VERIFY, 0, A.P2_PIN, pinBlock("9999"), 4)));
    expect(hex4((first[first.length - 2] << 8) | first[first.length - 1])).toBe("6104");
    return w.h.raw(Uint8Array.of(0, A.INS_GET_RESPONSE, 0, 0, 4));
  }],
  ["GET RESPONSE", "6884", () => fresh().raw(Uint8Array.of(0x10, A.INS_GET_RESPONSE, 0, 0, 0))],
  ["GET RESPONSE", "6985", () => fresh().raw(Uint8Array.of(0, A.INS_GET_RESPONSE, 0, 0, 0))],
  ["GET RESPONSE", "6A86", () => {
    const h = clone(base.h);
    expect(h.raw(Uint8Array.of(0x80, A.INS_GET_CERTIFICATE, 0, 0, 0x40)).sw >> 8).toBe(0x61);
    return h.raw(Uint8Array.of(0, A.INS_GET_RESPONSE, 1, 0, 0x40));
  }],
  ["GET STATUS", "6A86", () => fresh().raw(plainApdu(A.INS_GET_STATUS, 1))],
  ["INITIALIZE UPDATE", "6884", () => fresh().raw(apdu(0x90, A.INS_INITIALIZE_UPDATE, 0, 0, hc))],
  ["INITIALIZE UPDATE", "6985", async () => (await terminated()).raw(apdu(0x80, A.INS_INITIALIZE_UPDATE, 0, 0, hc))],
  ["INITIALIZE UPDATE", "6A86", () => fresh().raw(apdu(0x80, A.INS_INITIALIZE_UPDATE, 0, 1, hc))],
  ["INITIALIZE UPDATE", "6A88", () => fresh().raw(apdu(0x80, A.INS_INITIALIZE_UPDATE, 0x30, 0, hc))],
  ["EXTERNAL AUTHENTICATE", "6300", () => externalAuth(fresh(), 0x33, true)],
  ["EXTERNAL AUTHENTICATE", "6884", () => fresh().raw(apdu(0x94, A.INS_EXTERNAL_AUTHENTICATE, 0x33, 0, new Uint8Array(16)))],
  ["EXTERNAL AUTHENTICATE", "6985", () => fresh().raw(apdu(0x84, A.INS_EXTERNAL_AUTHENTICATE, 0x33, 0, new Uint8Array(16)))],
  ["EXTERNAL AUTHENTICATE", "6A86", () => externalAuth(fresh(), 0x02, false)],
  ["PUT KEY", "6985", lc(A.INS_PUT_KEY, terminated, 0, A.P2_PUT_KEY_MULTIPLE)],
  ["PUT KEY", "6A80", inActive((w) => w.h.cmd(A.INS_PUT_KEY, 0, A.P2_PUT_KEY_MULTIPLE, new Uint8Array(70)))],
  ["PUT KEY", "6A86", inActive((w) => w.h.cmd(A.INS_PUT_KEY, 0, 0, new Uint8Array(70)))],
  ["PUT KEY", "6A88", inActive((w) => w.h.cmd(A.INS_PUT_KEY, 0x33, A.P2_PUT_KEY_MULTIPLE, new Uint8Array(70)))],
  ["SET IDENTITY", "6985", lc(A.INS_SET_IDENTITY, () => active().h)],
  ["SET IDENTITY", "6A80", inPerso(3, (h) => h.cmd(A.INS_SET_IDENTITY, 0, 0, cat(Uint8Array.of(9, 1, 3, 0xd2), new Uint8Array(16))))],
  ["SET IDENTITY", "6A86", inPerso(3, (h) => h.cmd(A.INS_SET_IDENTITY, 1, 0, cat(Uint8Array.of(P256, 1, 3, 0xd2), new Uint8Array(16))))],
  ["SET LIMITS", "6985", lc(A.INS_SET_LIMITS, fresh)],
  ["SET LIMITS", "6A80", inActive((w) => w.h.cmd(A.INS_SET_LIMITS, 0, 0, limitsBytes({ ...DEFAULT_LIMITS, maxPayment: DEFAULT_LIMITS.cap + 1 })))],
  ["SET LIMITS", "6A86", inActive((w) => w.h.cmd(A.INS_SET_LIMITS, 0, 1, limitsBytes(DEFAULT_LIMITS)))],
  ["PUT ISSUER KEY", "6985", lc(A.INS_PUT_ISSUER_KEY, fresh)],
  ["PUT ISSUER KEY", "6A80", inActive((w) => w.h.cmd(A.INS_PUT_ISSUER_KEY, 1, 0, cat(Uint8Array.of(4, 1, 2, 3, 4, 4), new Uint8Array(64))))],
  ["PUT ISSUER KEY", "6A86", inActive((w) => w.h.cmd(A.INS_PUT_ISSUER_KEY, 2, 0, cat(Uint8Array.of(4, 1, 2, 3, 4), issuer.key.pub)))],
  ["GENERATE KEY", "6985", lc(A.INS_GENERATE_KEY, () => active().h)],
  ["GENERATE KEY", "6A86", inPerso(4, (h) => h.cmd(A.INS_GENERATE_KEY, 1, 0))],
  ["GET PUBLIC KEY", "6985", lc(A.INS_GET_PUBLIC_KEY, fresh)],
  ["GET PUBLIC KEY", "6A86", lc(A.INS_GET_PUBLIC_KEY, () => active().h, 1)],
  ["GET PUBLIC KEY", "6A88", inPerso(3, (h) => h.raw(plainApdu(A.INS_GET_PUBLIC_KEY)))],
  ["PUT CERTIFICATE", "6985", inPerso(4, (h) => h.cmd(A.INS_PUT_CERTIFICATE, 0, 0, new Uint8Array(100)))],
  ["PUT CERTIFICATE", "6984", async () => {
    const h = await perso(7);
    const pub = h.cmd(A.INS_GET_PUBLIC_KEY).data;
    const id = h.cmd(A.INS_GET_STATUS).data.slice(A.STATUS_OFF_DEVICE_ID, A.STATUS_OFF_DEVICE_ID + 8);
    return h.cmd(A.INS_PUT_CERTIFICATE, 0, 0, certFor(new TestIssuer(P256, issuer.kid), id, pub));
  }],
  ["PUT CERTIFICATE", "6A80", inPerso(7, (h) => h.cmd(A.INS_PUT_CERTIFICATE, 0, 0, new Uint8Array(100)))],
  ["PUT CERTIFICATE", "6A84", inPerso(7, (h) => h.cmd(A.INS_PUT_CERTIFICATE, 0, 0, new Uint8Array(513)))],
  ["PUT CERTIFICATE", "6A86", inPerso(7, (h) => h.cmd(A.INS_PUT_CERTIFICATE, 0, 1, new Uint8Array(100)))],
  ["PUT CERTIFICATE", "6A88", inPerso(7, (h) => h.cmd(A.INS_PUT_CERTIFICATE, 0, 0, certFor(new TestIssuer(P256, Uint8Array.of(9, 9, 9, 9)), new Uint8Array(8), issuer.key.pub)))],
  ["GET CERTIFICATE", "6985", lc(A.INS_GET_CERTIFICATE, fresh)],
  ["GET CERTIFICATE", "6A86", lc(A.INS_GET_CERTIFICATE, () => active().h, 0, 1)],
  ["GET CERTIFICATE", "6A88", inPerso(3, (h) => h.raw(plainApdu(A.INS_GET_CERTIFICATE)))],
  ...[A.INS_SET_PIN, A.INS_SET_PUK].flatMap((ins): Cell[] => [
    [nameOf(ins), "6985", lc(ins, () => active().h)],
    [nameOf(ins), "6A80", inPerso(3, (h) => h.cmd(ins, 0, 0, pinBlock("12a4")))],
    [nameOf(ins), "6A86", inPerso(3, (h) => h.cmd(ins, 1, 0, pinBlock("12345678")))],
  ]),
  ["FINALIZE", "6985", inPerso(3, (h) => h.cmd(A.INS_FINALIZE, 0, 0, u32be(T0)))],
  ["FINALIZE", "6A86", inPerso(3, (h) => h.cmd(A.INS_FINALIZE, 0, 1, u32be(T0)))],
  ["VERIFY", "6985", lc(A.INS_VERIFY, fresh, 0, A.P2_PIN)],
  ["VERIFY", "63Cx", () => wrongPin(active().h)],
  ["VERIFY", "6983", afterWrong(A.PIN_TRIES, wrongPin, (h) => h.iso(A.INS_VERIFY, 0, A.P2_PIN, pinBlock("1234")))],
  ["VERIFY", "6A80", () => active().h.iso(A.INS_VERIFY, 0, A.P2_PIN, pinBlock("12a4"))],
  ["VERIFY", "6A86", () => active().h.iso(A.INS_VERIFY, 0, 0x83, pinBlock("1234"))],
  ["CHANGE REFERENCE DATA", "6985", lc(A.INS_CHANGE_REFERENCE_DATA, fresh, 0, A.P2_PIN)],
  ["CHANGE REFERENCE DATA", "63Cx", () => active().h.iso(A.INS_CHANGE_REFERENCE_DATA, 0, A.P2_PIN, cat(pinBlock("9999"), pinBlock("4321")))],
  ["CHANGE REFERENCE DATA", "6983", afterWrong(A.PIN_TRIES, wrongPin, (h) => h.iso(A.INS_CHANGE_REFERENCE_DATA, 0, A.P2_PIN, cat(pinBlock("1234"), pinBlock("4321"))))],
  ["CHANGE REFERENCE DATA", "6A80", () => active().h.iso(A.INS_CHANGE_REFERENCE_DATA, 0, A.P2_PIN, cat(pinBlock("12"), pinBlock("4321")))],
  ["CHANGE REFERENCE DATA", "6A86", () => active().h.iso(A.INS_CHANGE_REFERENCE_DATA, 0, A.P2_PUK, cat(pinBlock("1234"), pinBlock("4321")))],
  ["RESET RETRY COUNTER", "6985", lc(A.INS_RESET_RETRY_COUNTER, fresh, 1, A.P2_PIN)],
  ["RESET RETRY COUNTER", "63Cx", () => wrongPuk(active().h)],
  ["RESET RETRY COUNTER", "6983", afterWrong(A.PUK_TRIES, wrongPuk, (h) => h.iso(A.INS_RESET_RETRY_COUNTER, 1, A.P2_PIN, pinBlock("12345678")))],
  ["RESET RETRY COUNTER", "6A80", () => active().h.iso(A.INS_RESET_RETRY_COUNTER, 1, A.P2_PIN, pinBlock("1234"))],
  ["RESET RETRY COUNTER", "6A86", () => active().h.iso(A.INS_RESET_RETRY_COUNTER, 2, A.P2_PIN, pinBlock("12345678"))],
  ["GET CHALLENGE", "6985", lc(A.INS_GET_CHALLENGE, fresh)],
  ["GET CHALLENGE", "6A86", lc(A.INS_GET_CHALLENGE, () => active().h, 0, 1)],
  ["LOAD", "6985", () => { const w = active(); return load(w, 10, { seq: 1 }); }],
  ["LOAD", "6984", () => {
    const w = active();
    return w.h.cmd(A.INS_LOAD, 0, 0, cat(u32be(T0 + 30), loadDoc({ ...w, issuer: new TestIssuer(P256, issuer.kid) }, 10, { seq: 2 })));
  }],
  ["LOAD", "6A80", () => active().h.cmd(A.INS_LOAD, 0, 0, cat(u32be(T0), new Uint8Array(40)))],
  ["LOAD", "6A84", () => load(full(), 10, { seq: 99 })],
  ["LOAD", "6A86", () => active().h.cmd(A.INS_LOAD, 1, 0, cat(u32be(T0), new Uint8Array(40)))],
  ["LOAD", "6A88", () => {
    const w = active();
    return w.h.cmd(A.INS_LOAD, 0, 0, cat(u32be(T0 + 30), loadDoc({ ...w, issuer: new TestIssuer(P256, Uint8Array.of(9, 9, 9, 9)) }, 10, { seq: 2 })));
  }],
  ["PAY", "6985", () => pay(active(), 60_000)],
  ["PAY", "6A80", () => pay(active(), 0)],
  ["PAY", "6A84", () => pay(full(), 10)],
  ["PAY", "6A86", () => pay(active(), 10, { p1: 2 })],
  ["RECEIVE", "6985", () => {
    const w = active();
    const v = transferTo(w.h);
    w.h.iso(A.INS_GET_CHALLENGE, 0, 0, undefined, 16); // another challenge replaces the voucher's
    return w.h.cmd(A.INS_RECEIVE, 0, 0, receiveData(v, payer.p.cert, T0 + 90));
  }],
  ["RECEIVE", "6984", () => {
    const w = active();
    const v = transferTo(w.h).slice();
    v[v.length - 1] ^= 1;
    return w.h.cmd(A.INS_RECEIVE, 0, 0, receiveData(v, payer.p.cert, T0 + 90));
  }],
  ["RECEIVE", "6A80", () => active().h.cmd(A.INS_RECEIVE, 0, 0, receiveData(new Uint8Array(10), new Uint8Array(30), T0 + 90))],
  ["RECEIVE", "6A84", () => {
    const w = full();
    return w.h.cmd(A.INS_RECEIVE, 0, 0, receiveData(transferTo(w.h), payer.p.cert, T0 + 90));
  }],
  ["RECEIVE", "6A86", () => active().h.cmd(A.INS_RECEIVE, 0, 1, receiveData(new Uint8Array(10), new Uint8Array(30), T0 + 90))],
  ["RECEIVE", "6A88", () => {
    const w = active();
    const cert = certFor(new TestIssuer(P256, Uint8Array.of(9, 9, 9, 9)), payer.p.deviceId, payer.p.pub);
    return w.h.cmd(A.INS_RECEIVE, 0, 0, receiveData(transferTo(w.h), cert, T0 + 90));
  }],
  ["READ LOG", "6985", lc(A.INS_READ_LOG, fresh)],
  ["READ LOG", "6A83", () => active().h.cmd(A.INS_READ_LOG, 1, 0)],
  ["SYNC", "6985", () => active().h.cmd(A.INS_SYNC, 0, 0, syncAck(base, 0, 0))],
  ["SYNC", "6984", () => active().h.cmd(A.INS_SYNC, 0, 0, syncAck({ ...base, issuer: new TestIssuer(P256, issuer.kid) }, 0, T0 + 100))],
  ["SYNC", "6A80", () => active().h.cmd(A.INS_SYNC, 0, 0, syncAck(base, 0, T0 + 100, { deviceId: payer.p.deviceId }))],
  ["SYNC", "6A86", () => active().h.cmd(A.INS_SYNC, 1, 0, syncAck(base, 0, T0 + 100))],
  ["SYNC", "6A88", () => active().h.cmd(A.INS_SYNC, 0, 0, syncAck({ ...base, issuer: new TestIssuer(P256, Uint8Array.of(9, 9, 9, 9)) }, 0, T0 + 100))],
  ["LOCK", "6985", lc(A.INS_LOCK, fresh)],
  ["LOCK", "6A86", inActive((w) => w.h.cmd(A.INS_LOCK, 1, 0))],
  ["UNLOCK", "6985", lc(A.INS_UNLOCK, () => active().h)],
  ["UNLOCK", "6A86", async () => { const w = await inChannel(await locked()); return w.h.cmd(A.INS_UNLOCK, 0, 1); }],
  ["TERMINATE", "6985", lc(A.INS_TERMINATE, fresh)],
  ["TERMINATE", "6A86", inActive((w) => w.h.cmd(A.INS_TERMINATE, 0, 1))],
  ...NAMES.map(insOf).filter((i) => i !== A.INS_SELECT && i !== A.INS_GET_STATUS).map(corruptCell),
  ...NAMES.map(insOf).filter((i) => i !== A.INS_SELECT).map(chainCell),
];

describe("SPEC §3.5: every status word of every command", () => {
  it("the table names every command once, and only SWs of SPEC §4", () => {
    expect([...TABLE.keys()].sort()).toEqual([...NAMES].sort());
    const known = new Set(SPEC.slice(SPEC.indexOf("## 4. Status words")).match(/\| `SW_\w+` \| ([0-9A-F]{2}(?:[0-9A-F]{2}|xx|Cx)) \|/g)!
      .map((l) => l.split("|")[2].trim()));
    for (const sws of TABLE.values()) for (const s of sws) expect(known, s).toContain(s);
  });

  it("the cells driven below are exactly the ✓ of the table", () => {
    const driven = new Set(CELLS.map(([n, s]) => `${n} ${s}`));
    const ticked = new Set([...TABLE].flatMap(([n, sws]) => [...sws].map((s) => `${n} ${s}`)));
    expect([...driven].sort()).toEqual([...ticked].sort());
    expect(driven.size).toBe(CELLS.length);
  });

  it("a corrupt device says so in GET STATUS (the 6581 cells)", () => {
    const h = corrupt();
    expect(h.status().flags & A.STATUS_FLAG_CORRUPT).not.toBe(0);
    expect(h.select().sw).toBe(0x9000);
  });

  it.each(CELLS.map(([n, s, f]) => [`${n} → ${s}`, s, f] as const))("%s", async (_t, sw, drive) => {
    expect(swKey((await drive()).sw)).toBe(sw);
  });
});

// ---- fuzz: no SW outside the command's row, in every state, in and out of the channel ----
const DOC_P1P2: Partial<Record<number, [number, number]>> = {
  [A.INS_SELECT]: [4, 0], [A.INS_VERIFY]: [0, A.P2_PIN], [A.INS_CHANGE_REFERENCE_DATA]: [0, A.P2_PIN],
  [A.INS_RESET_RETRY_COUNTER]: [1, A.P2_PIN], [A.INS_PUT_KEY]: [0, A.P2_PUT_KEY_MULTIPLE],
};
const CONTEXTS = ["MANUFACTURED", "PERSONALIZING+channel", "ACTIVE", "ACTIVE+channel", "LOCKED", "TERMINATED", "corrupt"] as const;

describe("SPEC §3.5: a fuzz of every command never answers a SW outside its row", () => {
  let samples: Map<number, Uint8Array>;
  beforeAll(() => {
    const w = active();
    samples = new Map<number, Uint8Array>([
      [A.INS_SELECT, AID], [A.INS_VERIFY, pinBlock("1234")], [A.INS_CHANGE_REFERENCE_DATA, cat(pinBlock("1234"), pinBlock("4321"))],
      [A.INS_RESET_RETRY_COUNTER, pinBlock("12345678")], [A.INS_INITIALIZE_UPDATE, hc], [A.INS_EXTERNAL_AUTHENTICATE, new Uint8Array(16)],
      [A.INS_SET_IDENTITY, cat(Uint8Array.of(P256, 1, 3, 0xd2), new Uint8Array(16).fill(7))], [A.INS_SET_LIMITS, limitsBytes(DEFAULT_LIMITS)],
      [A.INS_PUT_ISSUER_KEY, cat(Uint8Array.of(issuer.kid.length), issuer.kid, issuer.key.pub)], [A.INS_PUT_CERTIFICATE, base.p.cert],
      [A.INS_SET_PIN, pinBlock("1234")], [A.INS_SET_PUK, pinBlock("12345678")], [A.INS_FINALIZE, u32be(T0)],
      [A.INS_LOAD, cat(u32be(T0 + 30), loadDoc(base, 100, { seq: 7 }))],
      [A.INS_PAY, payData(100, 978, POS_ID, challengeOf(1), T0 + 60)],
      [A.INS_RECEIVE, receiveData(transferTo(w.h, 10), payer.p.cert, T0 + 90)],
      [A.INS_SYNC, syncAck(base, 0, T0 + 100)],
    ]);
  });

  async function context(i: number): Promise<AppletHarness> {
    switch (CONTEXTS[i]) {
      case "MANUFACTURED": return fresh();
      case "PERSONALIZING+channel": return perso(3);
      case "ACTIVE": return active().h;
      case "ACTIVE+channel": return (await inChannel(active())).h;
      case "LOCKED": return (await locked()).h;
      case "TERMINATED": return terminated();
      default: return corrupt();
    }
  }

  const caseArb = fc.record({
    ctx: fc.nat(CONTEXTS.length - 1),
    chain: fc.boolean(),
    sm: fc.boolean(),
    oddCla: fc.option(fc.integer({ min: 0, max: 255 }), { freq: 8 }),
    p1: fc.option(fc.integer({ min: 0, max: 255 }), { freq: 2 }),
    p2: fc.option(fc.integer({ min: 0, max: 255 }), { freq: 2 }),
    data: fc.oneof(
      fc.constant<"none" | "sample">("none"), fc.constant<"none" | "sample">("sample"),
      fc.uint8Array({ maxLength: 300 }),
      fc.record({ flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }), cut: fc.option(fc.nat()) }),
    ),
    enc: fc.constantFrom("short", "ext", "garbled"),
    le: fc.option(fc.integer({ min: 0, max: 256 })),
    junk: fc.integer({ min: 0, max: 255 }),
  });
  type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

  function bytesOf(ins: number, c: Case): { cla: number; p1: number; p2: number; data: Uint8Array } {
    const [dp1, dp2] = DOC_P1P2[ins] ?? [0, 0];
    const sample = samples.get(ins) ?? new Uint8Array(0);
    let data: Uint8Array;
    if (c.data === "none") data = new Uint8Array(0);
    else if (c.data === "sample") data = sample;
    else if (c.data instanceof Uint8Array) data = c.data;
    else {
      data = sample.slice();
      for (const [at, x] of c.data.flips) if (data.length) data[at % data.length] ^= x;
      if (c.data.cut !== null) data = data.subarray(0, c.data.cut % (data.length + 1));
    }
    const cla = c.oddCla ?? (claOf(ins) | (c.chain ? A.CLA_CHAINING : 0) | (c.sm ? A.CLA_SECURE_MESSAGING : 0));
    return { cla, p1: c.p1 ?? dp1, p2: c.p2 ?? dp2, data };
  }

  function encode(cla: number, ins: number, p1: number, p2: number, data: Uint8Array, c: Case): Uint8Array {
    const ext = c.enc === "ext" || data.length > 255;
    const le = c.le ?? 0;
    const b = [cla, ins, p1, p2];
    if (!ext) {
      if (data.length) b.push(data.length, ...data);
      if (c.le !== null) b.push(le & 0xff);
    } else if (data.length || c.le !== null) {
      b.push(0);
      if (data.length) b.push(data.length >> 8, data.length & 0xff, ...data);
      if (c.le !== null) b.push(le >> 8, le & 0xff);
    }
    if (c.enc === "garbled") return b.length > 5 && c.junk & 1 ? Uint8Array.from(b.slice(0, -1)) : Uint8Array.from([...b, c.junk]);
    return Uint8Array.from(b);
  }

  const swOf = (r: Uint8Array) => (r[r.length - 2] << 8) | r[r.length - 1];

  it.each(NAMES.map((n) => [n, insOf(n)] as const))("%s", async (name, ins) => {
    const devices = new Map<number, AppletHarness>();
    const seen = new Set<string>();
    const allowed = allowedSws(ins);
    const getResponseAllowed = allowedSws(A.INS_GET_RESPONSE);
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      let h = devices.get(c.ctx);
      if (!h) devices.set(c.ctx, (h = await context(c.ctx)));
      const { cla, p1, p2, data } = bytesOf(ins, c);
      let wire: Uint8Array;
      if (h.secure && c.sm && c.oddCla === null) {
        try {
          wire = h.secure.wrap(encodeCommand({ cla: cla & ~A.CLA_SECURE_MESSAGING, ins, p1, p2, data, ne: c.le ?? 0 }, c.enc === "ext"));
        } catch {
          return; // the host wrapper refuses what it cannot encode
        }
      } else wire = encode(cla, ins, p1, p2, data, c);
      let r = h.dev.transmit(wire);
      const sw = swOf(r);
      const where = `${name} in ${CONTEXTS[c.ctx]}: ${Buffer.from(wire).toString("hex")} -> ${hex4(sw)}`;
      expect(allowed.has(swKey(sw)), where).toBe(true);
      seen.add(swKey(sw));
      while (swOf(r) >> 8 === 0x61) {
        r = h.dev.transmit(Uint8Array.of(0, A.INS_GET_RESPONSE, 0, 0, 0));
        expect(getResponseAllowed.has(swKey(swOf(r))), `${where}, then GET RESPONSE -> ${hex4(swOf(r))}`).toBe(true);
      }
      // the channel closes on a MAC failure, SELECT or a new INITIALIZE UPDATE: open it again
      if (CONTEXTS[c.ctx].endsWith("channel") && (sw === 0x6982 || ins === A.INS_SELECT || ins === A.INS_INITIALIZE_UPDATE || ins === A.INS_EXTERNAL_AUTHENTICATE)) {
        const keys = CONTEXTS[c.ctx].startsWith("ACTIVE") ? base.p.keys : undefined;
        h.secure = null;
        if (keys) await openChannel(h, keys, P256).catch(() => { h.secure = null; });
      }
    }), { numRuns: 300, seed: 0x5bec + ins });
    // the fuzz reaches past the dispatcher: some answer other than the common transport ones
    expect([...seen].some((s) => !["6E00", "6881", "6882", "6700", "6982"].includes(s)), [...seen].join(" ")).toBe(true);
  }, 120_000);
});

// ---- SPEC §3.1: the check order, one APDU breaking two adjacent rules ----
describe("SPEC §3.1 check order: the earlier rule answers", () => {
  it("1 length before 2 GET RESPONSE: 3 bytes are 6700", () => {
    expect(raw(fresh(), 0, A.INS_GET_RESPONSE, 0).sw).toBe(0x6700);
  });
  it("2 GET RESPONSE before the chain and the store: served while a chain is pending, and the chain stays", () => {
    const w = active();
    const data = cat(u32be(T0 + 30), loadDoc(w, 500, { seq: 2 }));
    expect(w.h.raw(apdu(0x90, A.INS_LOAD, 0, 0, data.subarray(0, 100))).sw).toBe(0x9000);
    expect(raw(w.h, 0, A.INS_GET_RESPONSE, 0, 0, 0).sw).toBe(0x6985); // nothing pending, not 6883
    expect(w.h.raw(apdu(0x80, A.INS_LOAD, 0, 0, data.subarray(100))).sw).toBe(0x9000);
    expect(w.h.status().balance).toBe(50_500);
    expect(raw(corrupt(), 0, A.INS_GET_RESPONSE, 0, 0, 0).sw).toBe(0x6985); // not 6581
  });
  it("3 CLA before 4 INS: 6881, 6882, 6E00 with an unknown INS", () => {
    const h = fresh();
    expect(raw(h, 0x81, 0xee, 0, 0).sw).toBe(0x6881);
    expect(raw(h, 0x88, 0xee, 0, 0).sw).toBe(0x6882);
    expect(raw(h, 0xa0, 0xee, 0, 0).sw).toBe(0x6e00);
    expect(raw(h, 0x80, 0xee, 0, 0).sw).toBe(0x6d00);
  });
  it("5 CLA class before 6 secure messaging: GET STATUS with CLA 04 and no channel is 6E00", () => {
    expect(raw(fresh(), 0x04, A.INS_GET_STATUS, 0, 0).sw).toBe(0x6e00);
  });
  it("6 secure messaging before 7 lengths: CLA 84 with broken lengths and no channel is 6982", () => {
    expect(raw(fresh(), 0x84, A.INS_GET_STATUS, 0, 0, 5, 1, 2).sw).toBe(0x6982);
  });
  it("7 lengths before 8 chain: a malformed APDU during a chain is 6700 and drops the chain", () => {
    const h = clone(base.h);
    startChain(h);
    expect(raw(h, 0x80, A.INS_PAY, 0, 0, 5, 1, 2).sw).toBe(0x6700);
    expect(h.raw(plainApdu(A.INS_GET_STATUS)).sw).toBe(0x9000); // not 6883: the chain is gone
  });
  it("8 chain before 9 store, 10 lifecycle, 11 channel: another command during a chain is 6883", () => {
    const h = clone(base.h);
    startChain(h);
    expect(h.raw(plainApdu(A.INS_SET_IDENTITY)).sw).toBe(0x6883); // neither 6985 (ACTIVE) nor 6982
  });
  it("9 store before 10 lifecycle: a corrupt device answers 6581 to a command its state refuses", () => {
    const h = corrupt();
    expect(h.status().lifecycle).toBe(LC.LC_MANUFACTURED); // what an unmountable store reads as
    expect(h.raw(plainApdu(A.INS_PAY)).sw).toBe(0x6581);
  });
  it("10 lifecycle before 11 channel: PUT KEY on a TERMINATED device without a channel is 6985", async () => {
    expect((await terminated()).raw(plainApdu(A.INS_PUT_KEY, 0, A.P2_PUT_KEY_MULTIPLE)).sw).toBe(0x6985);
  });
  it("11 channel before 12 chaining: a chained SET LIMITS block without the channel is 6982", () => {
    expect(active().h.raw(apdu(0x90, A.INS_SET_LIMITS, 0, 0, new Uint8Array(12))).sw).toBe(0x6982);
  });
  it("12 chaining before 13 the handler: a chained block with a bad P1 is kept; the chaining bit on SELECT is 6884 before its P1", () => {
    const w = active();
    expect(w.h.raw(apdu(0x90, A.INS_PAY, 7, 0, new Uint8Array(10))).sw).toBe(0x9000);
    expect(w.h.raw(apdu(0x80, A.INS_PAY, 7, 0, new Uint8Array(24))).sw).toBe(0x6a86);
    expect(w.h.raw(apdu(0x10, A.INS_SELECT, 0, 0, AID)).sw).toBe(0x6884);
  });
  it("13 inside the handler: P1/P2 before the data length", () => {
    expect(active().h.raw(apdu(0x80, A.INS_PAY, 2, 0, new Uint8Array(3))).sw).toBe(0x6a86);
    expect(active().h.raw(apdu(0x80, A.INS_GET_STATUS, 1, 0, new Uint8Array(3))).sw).toBe(0x6a86);
  });
});

// ---- SPEC §3.1: chaining and its interruptions ----
describe("SPEC §3.1 command chaining", () => {
  it("every command but SELECT, GET RESPONSE, INITIALIZE UPDATE and EXTERNAL AUTHENTICATE takes a chained block", async () => {
    const unchained = new Set([A.INS_SELECT, A.INS_GET_RESPONSE, A.INS_INITIALIZE_UPDATE, A.INS_EXTERNAL_AUTHENTICATE]);
    for (const name of NAMES) {
      const ins = insOf(name);
      const needsChannel = ((LC.CMD_NEEDS_CHANNEL >>> cmdIndex(ins)) & 1) !== 0;
      const state = [LC.LC_ACTIVE, LC.LC_PERSONALIZING, LC.LC_LOCKED, LC.LC_MANUFACTURED].find((s) => allows(s, ins))!;
      const h = state === LC.LC_ACTIVE ? (await inChannel(active())).h : state === LC.LC_PERSONALIZING ? await perso(3)
        : state === LC.LC_LOCKED ? (await inChannel(await locked())).h : fresh();
      const block = { cla: claOf(ins) | A.CLA_CHAINING, ins, p1: 0, p2: 0, data: new Uint8Array(4), ne: 0 };
      const r = needsChannel ? h.dev.transmit(h.secure!.wrap(encodeCommand(block))) : h.dev.transmit(encodeCommand(block));
      const sw = (r[r.length - 2] << 8) | r[r.length - 1];
      expect(hex4(sw), name).toBe(unchained.has(ins) ? "6884" : "9000");
    }
  });
  it("SELECT while a chain is pending drops the chain and runs", () => {
    const w = active();
    const data = cat(u32be(T0 + 30), loadDoc(w, 500, { seq: 2 }));
    expect(w.h.raw(apdu(0x90, A.INS_LOAD, 0, 0, data.subarray(0, 100))).sw).toBe(0x9000);
    const s = w.h.raw(apdu(0, A.INS_SELECT, 4, 0, AID, 256));
    expect(hex4(s.sw)).toBe("9000");
    expect(s.data.length).toBe(A.SELECT_RESP_LEN);
    // the last block alone is no LOAD: the first 100 bytes are gone
    expect(w.h.raw(apdu(0x80, A.INS_LOAD, 0, 0, data.subarray(100))).sw).toBe(0x6a80);
    expect(w.h.status().balance).toBe(50_000);
  });
  it("a SELECT that fails still drops the chain", () => {
    const h = clone(base.h);
    startChain(h);
    expect(h.raw(apdu(0, A.INS_SELECT, 4, 0, new Uint8Array(8))).sw).toBe(0x6a82);
    expect(h.raw(plainApdu(A.INS_GET_STATUS)).sw).toBe(0x9000);
  });
  it("another command interrupts: 6883, not run, and the chain is dropped", () => {
    const w = active();
    startChain(w.h);
    expect(w.h.raw(apdu(0x80, A.INS_PAY, 0, 0, payData(10, 978, POS_ID, challengeOf(1), T0 + 60))).sw).toBe(0x6883);
    expect(w.h.status().balance).toBe(50_000); // the PAY did not run
    expect(w.h.raw(plainApdu(A.INS_GET_STATUS)).sw).toBe(0x9000);
  });
  it("a power cycle drops the chain", () => {
    const h = clone(base.h);
    startChain(h);
    h.powerCycle();
    expect(h.raw(plainApdu(A.INS_GET_STATUS)).sw).toBe(0x9000);
  });
  it("GET RESPONSE with the chaining bit is 6884, with or without data, and starts no chain", () => {
    const h = clone(base.h);
    expect(raw(h, 0x10, A.INS_GET_RESPONSE, 0, 0, 0).sw).toBe(0x6884);
    expect(raw(h, 0x10, A.INS_GET_RESPONSE, 0, 0, 1, 0).sw).toBe(0x6884);
    expect(h.raw(plainApdu(A.INS_GET_STATUS)).sw).toBe(0x9000);
  });
  it("inside the channel every block carries its own C-MAC, and the gathered data runs", async () => {
    const w = await inChannel(active());
    const l = limitsBytes({ ...DEFAULT_LIMITS, noCvm: 1234 });
    expect(w.h.send(0x90, A.INS_SET_LIMITS, 0, 0, l.subarray(0, 12), 256, true).sw).toBe(0x9000);
    expect(w.h.send(0x80, A.INS_SET_LIMITS, 0, 0, l.subarray(12), 256, true).sw).toBe(0x9000);
    expect(w.h.status().cap).toBe(DEFAULT_LIMITS.cap);
  });
});

// ---- SPEC §3.1 / §3.3: GET RESPONSE edge cases, CLA 04 / 84 outside a session ----
describe("SPEC §3.1 GET RESPONSE edge cases", () => {
  const pending = () => {
    const h = clone(base.h);
    const r = h.raw(Uint8Array.of(0x80, A.INS_GET_CERTIFICATE, 0, 0, 0x40));
    expect(r.sw >> 8).toBe(0x61);
    return h;
  };
  it("a larger Le serves the rest with the final SW; a smaller one 61xx with what is left", () => {
    const h = pending();
    const left = base.p.cert.length - 0x40;
    const a = raw(h, 0, A.INS_GET_RESPONSE, 0, 0, 0x10);
    expect(a.data.length).toBe(0x10);
    expect(a.sw).toBe(0x6100 | (left - 0x10 > 255 ? 0 : left - 0x10));
    const b = raw(h, 0, A.INS_GET_RESPONSE, 0, 0, 0);
    expect(b.sw).toBe(0x9000);
    expect(cat(b.data)).toEqual(base.p.cert.subarray(0x50));
  });
  it("P1/P2 not 00 00: 6A86 and the pending data is kept", () => {
    const h = pending();
    expect(raw(h, 0, A.INS_GET_RESPONSE, 0, 1, 0).sw).toBe(0x6a86);
    expect(raw(h, 0, A.INS_GET_RESPONSE, 0, 0, 0).sw).toBe(0x9000);
  });
  it("a data field: 6700 and the pending data is dropped", () => {
    const h = pending();
    expect(raw(h, 0, A.INS_GET_RESPONSE, 0, 0, 1, 0).sw).toBe(0x6700);
    expect(raw(h, 0, A.INS_GET_RESPONSE, 0, 0, 0).sw).toBe(0x6985);
  });
  it("CLA 04 without a channel: 6982; CLA 80: 6E00; both drop the pending data", () => {
    for (const cla of [0x04, 0x80]) {
      const h = pending();
      expect(raw(h, cla, A.INS_GET_RESPONSE, 0, 0, 0).sw).toBe(cla === 0x04 ? 0x6982 : 0x6e00);
      expect(raw(h, 0, A.INS_GET_RESPONSE, 0, 0, 0).sw).toBe(0x6985);
    }
  });
  it("CLA 04 inside the channel: 6985 (the pending data was dropped by that very APDU)", async () => {
    const w = await inChannel(active());
    const first = w.h.dev.transmit(w.h.secure!.wrap(apdu(0x80, A.INS_GET_CERTIFICATE, 0, 0, new Uint8Array(0), 0x40)));
    expect(first[first.length - 2]).toBe(0x61);
    expect(w.h.send(0, A.INS_GET_RESPONSE, 0, 0, new Uint8Array(0), 256, true).sw).toBe(0x6985);
  });
  it("CLA 04 / 84 outside a session: 6982 for every command, EXTERNAL AUTHENTICATE excepted (6985: no INITIALIZE UPDATE)", () => {
    const h = clone(base.h);
    for (const name of NAMES) {
      const ins = insOf(name);
      const r = h.raw(Uint8Array.of(claOf(ins) | A.CLA_SECURE_MESSAGING, ins, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8));
      expect(hex4(r.sw), name).toBe(ins === A.INS_EXTERNAL_AUTHENTICATE ? "6985" : "6982");
    }
    expect(h.raw(apdu(0x84, A.INS_EXTERNAL_AUTHENTICATE, 0x33, 0, new Uint8Array(16))).sw).toBe(0x6985);
  });
});

// ---- SPEC §3.3: data on case-2 commands; the device itself in SYNC and PAY ----
describe("SPEC §3.3: case-2 commands, and the device naming itself", () => {
  it("GET STATUS, GET CHALLENGE and READ LOG with a data field answer 6700", () => {
    const h = clone(base.h);
    for (const ins of [A.INS_GET_STATUS, A.INS_GET_CHALLENGE, A.INS_READ_LOG]) {
      expect(hex4(h.raw(apdu(claOf(ins), ins, 0, 0, Uint8Array.of(1))).sw), nameOf(ins)).toBe("6700");
    }
  });
  it("PAY to the device's own id as a transfer is 6A80 REASON_FOREIGN and changes nothing", () => {
    const w = active();
    const before = w.h.status();
    expect(hex4(pay(w, 100, { p1: A.P1_PAY_DEVICE, payee: w.p.deviceId }).sw)).toBe("6A80");
    const after = w.h.status();
    expect(after.lastReason).toBe(L.REASON_FOREIGN);
    expect([after.balance, after.counter, after.logCount]).toEqual([before.balance, before.counter, before.logCount]);
    expect(pay(w, 100, { payee: w.p.deviceId }).sw).toBe(0x9000); // a POS id is another namespace
  });
  it("SYNC: an ack whose block list names the device locks an ACTIVE device in the same transaction; it stays LOCKED", () => {
    const w = active();
    expect(pay(w, 100).sw).toBe(0x9000);
    const other = Uint8Array.of(1, 1, 1, 1, 1, 1, 1, 1);
    expect(w.h.cmd(A.INS_SYNC, 0, 0, syncAck(w, 1, T0 + 100, { blockList: [other, w.p.deviceId] })).sw).toBe(0x9000);
    let s = w.h.status();
    expect(s.lifecycle).toBe(LC.LC_LOCKED);
    expect([s.balance, s.logCount, s.lastAckTime, s.remainingPayments]).toEqual([49_900, 0, T0 + 100, DEFAULT_LIMITS.maxCountSinceSync]);
    expect(pay(w, 100).sw).toBe(0x6985);
    // a later ack without its id does not unlock it
    expect(w.h.cmd(A.INS_SYNC, 0, 0, syncAck(w, 1, T0 + 200)).sw).toBe(0x9000);
    s = w.h.status();
    expect(s.lifecycle).toBe(LC.LC_LOCKED);
    w.h.powerCycle();
    expect(w.h.status().lifecycle).toBe(LC.LC_LOCKED);
  });
  it("SYNC: a LOCKED device that finds itself in the block list stays LOCKED; an ack for another device is 6A80", async () => {
    const w = await locked();
    expect(w.h.cmd(A.INS_SYNC, 0, 0, syncAck(w, 0, T0 + 100, { blockList: [w.p.deviceId] })).sw).toBe(0x9000);
    expect(w.h.status().lifecycle).toBe(LC.LC_LOCKED);
    const x = active();
    expect(hex4(x.h.cmd(A.INS_SYNC, 0, 0, syncAck(x, 0, T0 + 100, { deviceId: payer.p.deviceId, blockList: [x.p.deviceId] })).sw)).toBe("6A80");
    expect(x.h.status().lastReason).toBe(L.REASON_FOREIGN);
    expect(x.h.status().lifecycle).toBe(LC.LC_ACTIVE);
  });
});

// ---- SPEC §2: the module's real imports and exports ----
describe("SPEC §2: imports and exports of build/firmware.wasm", () => {
  const mod = new WebAssembly.Module(readFileSync(join(ROOT, "build/firmware.wasm")));
  it("imports exactly the hw functions (no env.abort) and exports the SPEC list", () => {
    const imports = WebAssembly.Module.imports(mod).map((i) => `${i.module}.${i.name}:${i.kind}`).sort();
    expect(imports).toEqual(HW_IMPORT_NAMES.map((n) => `hw.${n}:function`).sort());
    const exports = WebAssembly.Module.exports(mod).map((e) => e.name).sort();
    expect(exports).toEqual(["apdu", "crypto_buffer", "io_buffer", "io_capacity", "memory", "p256_verify", "protocol_revision", "reset", "sm2_verify"]);
    for (const e of exports) expect(SPEC.slice(SPEC.indexOf("## 2."), SPEC.indexOf("## 3."))).toContain(`\`${e}`);
  });
  it("runs on hw alone: reset() is 0 on a good image and the store's error on a damaged one", () => {
    const pageSize = 2048, pages = 32;
    const flash = new Uint8Array(pageSize * pages).fill(0xff);
    let counter = 0;
    let mem!: WebAssembly.Memory;
    const view = (p: number, n: number) => new Uint8Array(mem.buffer, p, n);
    const hw = {
      flash_page_size: () => pageSize, flash_page_count: () => pages,
      flash_read: (o: number, d: number, n: number) => view(d, n).set(flash.subarray(o, o + n)),
      flash_program: (o: number, s: number, n: number) => { const src = view(s, n); for (let i = 0; i < n; i++) flash[o + i] &= src[i]; },
      flash_erase: (p: number) => flash.fill(0xff, p * pageSize, (p + 1) * pageSize),
      random: (d: number, n: number) => view(d, n).fill(0x5a),
      counter_read: () => counter, counter_increment: () => ++counter,
      clock_now: () => 0, confirm: () => -1,
    };
    const boot = () => {
      const inst = new WebAssembly.Instance(mod, { hw });
      mem = inst.exports.memory as WebAssembly.Memory;
      return (inst.exports.reset as () => number)() >>> 0;
    };
    expect(boot()).toBe(0); // blank chip: draws its identity
    expect(boot()).toBe(0);
    flash[24 + 8] ^= 1; // rot a bit in the first committed entry
    expect(boot()).not.toBe(0);
  });
});

function cmdIndex(ins: number): number {
  return (LC as unknown as Record<string, number>)[`CMD_${nameOf(ins).replace(/ /g, "_")}`];
}
function allows(state: number, ins: number): boolean {
  const mask = (LC as unknown as Record<string, number>)[`LC_ALLOW_${Object.entries(LC).find(([k, v]) => k.startsWith("LC_") && !k.startsWith("LC_ALLOW") && v === state)![0].slice(3)}`];
  return ((mask >>> cmdIndex(ins)) & 1) !== 0;
}
