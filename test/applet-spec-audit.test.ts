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
import { T0, limitsBytes, openChannel, persoSteps } from "./support/applet-perso.ts";
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
const apdu = (cla: number, ins: number, p1 = 0, p2 = 0, data = new Uint8Array(0), ne = 0) => encodeCommand({ cla, ins, p1, p2, data, ne }, data.length > 255);
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
  ["VERIFY", "63Cx", () => active().h.iso(A.INS_VERIFY, 0, A.P2_PIN, pinBlock("9999"))],
  ["VERIFY", "6983", () => {
    const h = active().h;
    for (let i = 0; i < A.PIN_TRIES; i++) h.iso(A.INS_VERIFY, 0, A.P2_PIN, pinBlock("9999"));
    return h.iso(A.INS_VERIFY, 0, A.P2_PIN, pinBlock("1234"));
  }],
  ["VERIFY", "6A80", () => active().h.iso(A.INS_VERIFY, 0, A.P2_PIN, pinBlock("12a4"))],
  ["VERIFY", "6A86", () => active().h.iso(A.INS_VERIFY, 0, 0x83, pinBlock("1234"))],
  ["CHANGE REFERENCE DATA", "6985", lc(A.INS_CHANGE_REFERENCE_DATA, fresh, 0, A.P2_PIN)],
  ["CHANGE REFERENCE DATA", "63Cx", () => active().h.iso(A.INS_CHANGE_REFERENCE_DATA, 0, A.P2_PIN, cat(pinBlock("9999"), pinBlock("4321")))],
  ["CHANGE REFERENCE DATA", "6983", () => {
    const h = active().h;
    for (let i = 0; i <= A.PIN_TRIES; i++) h.iso(A.INS_VERIFY, 0, A.P2_PIN, pinBlock("9999"));
    return h.iso(A.INS_CHANGE_REFERENCE_DATA, 0, A.P2_PIN, cat(pinBlock("1234"), pinBlock("4321")));
  }],
  ["CHANGE REFERENCE DATA", "6A80", () => active().h.iso(A.INS_CHANGE_REFERENCE_DATA, 0, A.P2_PIN, cat(pinBlock("12"), pinBlock("4321")))],
  ["CHANGE REFERENCE DATA", "6A86", () => active().h.iso(A.INS_CHANGE_REFERENCE_DATA, 0, A.P2_PUK, cat(pinBlock("1234"), pinBlock("4321")))],
  ["RESET RETRY COUNTER", "6985", lc(A.INS_RESET_RETRY_COUNTER, fresh, 1, A.P2_PIN)],
  ["RESET RETRY COUNTER", "63Cx", () => active().h.iso(A.INS_RESET_RETRY_COUNTER, 1, A.P2_PIN, pinBlock("87654321"))],
  ["RESET RETRY COUNTER", "6983", () => {
    const h = active().h;
    for (let i = 0; i < A.PUK_TRIES; i++) h.iso(A.INS_RESET_RETRY_COUNTER, 1, A.P2_PIN, pinBlock("87654321"));
    return h.iso(A.INS_RESET_RETRY_COUNTER, 1, A.P2_PIN, pinBlock("12345678"));
  }],
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
