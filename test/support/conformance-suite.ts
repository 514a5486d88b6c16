// The wallet applet's conformance suite (SPEC.md §3; STYLE.md "one conformance suite that
// can run against the in-process WASM, the simulator over vpcd, or (later) a real
// reader"). It talks to a device through a host-tools Channel ONLY and drives it with the
// host tools' own code (WalletCard, flows.ts personalize / load / posCharge, docs.ts
// issueLoad / checkCert, voucher-check.ts): what passes here is what the issuer and a POS
// would see on that link. Device control hooks (power cycle, button press) are optional;
// a check that needs an absent hook is skipped, never faked.
//
// The tests are one story on ONE blank device, in order (a real card cannot be reset to
// blank between tests): SELECT, fresh GET STATUS, personalization over SCP03, GET STATUS,
// transport rules (61xx, extended APDUs, chaining), VERIFY, LOAD, PAY, holder
// verification (PIN; button where there is one), over-cap LOAD, power cycle. A test whose
// predecessor failed fails with "conformance: needs …" rather than a confusing SW.
// Host-side helper; each target file is a few lines (test/conformance-*.test.ts,
// test/integration/conformance-*.test.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as A from "../../protocol/portable/apdu.ts";
import { LC_ACTIVE, LC_MANUFACTURED } from "../../protocol/portable/lifecycle.ts";
import { NVM_LOG_CAPACITY } from "../../protocol/portable/nvm.ts";
import { REASON_CAP, REASON_HOLDER, REASON_NONE } from "../../protocol/portable/limits.ts";
import { RECEIPT_KIND_LOAD, VOUCHER_KIND_POS } from "../../protocol/portable/cbor-keys.ts";
import { PROTOCOL_REVISION } from "../../protocol/portable/revision.ts";
import { SW_BYTES_REMAINING_00, SW_CONDITIONS_NOT_SATISFIED, SW_LAST_COMMAND_EXPECTED, SW_FILE_NOT_FOUND, SW_NO_ERROR, SW_SECURITY_STATUS_NOT_SATISFIED, SW_VERIFY_FAIL_BASE } from "../../protocol/portable/sw.ts";
import { encodeCommand, type CommandApdu } from "../../protocol/src/apdu.ts";
import { ApduError } from "../../protocol/src/sw.ts";
import { pinBlock, WalletCard, type CardStatus } from "../../host-tools/src/card.ts";
import type { Channel } from "../../host-tools/src/channels/channel.ts";
import { certRefOf, checkCert, FORM_IDS, hex, issueLoad, suiteId, type TrustedKey } from "../../host-tools/src/docs.ts";
import { WalletError, EXIT_REFUSED } from "../../host-tools/src/errors.ts";
import { load, personalize, posCharge, signerFor, type PersonalizeResult, type PosPayment } from "../../host-tools/src/flows.ts";
import { Keystore } from "../../host-tools/src/keystore.ts";
import type { FormFactor } from "../../host-tools/src/ledger/ledger.ts";
import { SqliteLedger } from "../../host-tools/src/ledger/sqlite.ts";
import type { SuiteName } from "../../host-tools/src/sig.ts";
import { CURRENCY_CNY, DEFAULT_LIMITS } from "../../host-tools/src/synthetic.ts";
import { checkVoucher } from "../../host-tools/src/voucher-check.ts";
import type { Fleet } from "../../wearable-sim/src/fleet.ts";
import { AID } from "./applet-device.ts";

/** What the suite runs against: a BLANK (MANUFACTURED) device behind a host-tools Channel. */
export interface ConformanceTarget {
  /** the link to the device; read it again after `powerCycle` (a reader reconnects) */
  readonly channel: Channel;
  /** the device's kind: the form factor personalized, and whether it has a button */
  readonly formFactor: FormFactor;
  /** the issuer suite to personalize it with */
  readonly suite: SuiteName;
  /** cut the device's power and restore it (RAM lost, flash kept); absent: checks skipped */
  powerCycle?(): Promise<void>;
  /** arm one press of the device's button (wearables); absent: checks skipped */
  press?(): void;
  /** firmware aborts and traps the device has had (wearable-sim/README.md "Device model": a mute device; every target must stay at 0) */
  aborts(): number;
  /** ends the link and whatever the target started */
  close(): Promise<void>;
}

/**
 * A target on a simulated device of `fleet` (started with a transport, `autoConfirm`
 * "refuse" so that only an armed press approves): the simulator's power cycle and, where
 * the profile has one, its button; closing ends the channel and the fleet.
 */
export function fleetTarget(fleet: Fleet, name: string, suite: SuiteName, channel: Channel): ConformanceTarget {
  const d = fleet.get(name).device;
  return {
    channel,
    formFactor: d.profile.name,
    suite,
    powerCycle: async () => fleet.reset(name),
    press: d.profile.button ? () => d.press() : undefined,
    aborts: () => d.aborts,
    close: async () => (await channel.close(), await fleet.stop()),
  };
}

const PIN = "2468";
const WRONG_PIN = "1357";
const LOAD_AMOUNT = 40_000;
const POS_AMOUNT = 1_250; // at most the no-CVM limit: no holder verification
const MERCHANT = Uint8Array.from(Buffer.from("00000000000000c5", "hex"));
// PUT KEY data: KVN' ‖ 3 × (type ‖ len ‖ key len ‖ key ‖ KCV len ‖ KCV) (SPEC §3.3, GP §11.8)
const PUT_KEY_LEN = 1 + 3 * (3 + A.GP_KEY_LEN + 1 + A.GP_KCV_LEN);

/** A raw command APDU (p1, p2, data, Le default to none): for checks the host tools would hide. */
const apdu = (c: Pick<CommandApdu, "cla" | "ins"> & Partial<CommandApdu>, extended = false) =>
  encodeCommand({ p1: 0, p2: 0, data: new Uint8Array(0), ne: 0, ...c }, extended);

/** The SW of a host-tools call that must fail with a status word. */
async function swOf(p: Promise<unknown>): Promise<number> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  if (!(e instanceof ApduError)) throw new Error(`conformance: expected a status-word failure, got ${e === undefined ? "success" : String(e)}`);
  return e.sw;
}

/** The fields a refused command must leave alone (SPEC §3.1: errors never change stored state). */
const valueState = (s: CardStatus) => ({
  lifecycle: s.lifecycle, balance: s.balance, counter: s.counter, loadSeq: s.loadSeq, logCount: s.logCount,
  remainingPayments: s.remainingPayments, remainingAmount: s.remainingAmount, pinTries: s.pinTries, cap: s.cap,
});

export function conformanceSuite(name: string, makeTarget: () => Promise<ConformanceTarget>): void {
  describe(`conformance: ${name}`, () => {
    let t: ConformanceTarget | undefined;
    let dir = "";
    let ks: Keystore;
    let ledger: SqliteLedger;
    let trusted: TrustedKey[];
    let deviceId: Uint8Array | undefined;
    let perso: PersonalizeResult | undefined;
    let loaded = false;

    const target = () => t ?? fail("a target (makeTarget failed)");
    const card = () => new WalletCard(target().channel);
    const personalized = () => perso ?? fail("a personalized device (personalization failed)");
    const pos = () => ({ merchant: MERCHANT, currency: CURRENCY_CNY, trusted, revoked: new Set<string>() });
    const charge = (amount: number, pin?: string) => posCharge(target().channel, pos(), amount, { pin, store: (_: PosPayment) => undefined });
    /** SELECT then GET STATUS, as every host session starts. */
    const status = async () => {
      const c = card();
      await c.select();
      return c.status();
    };

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "conformance-"));
      ks = Keystore.create(join(dir, "keystore.json"), "conformance passphrase");
      ledger = SqliteLedger.open(join(dir, "ledger.sqlite"));
      trusted = ks.keys().map(({ kid, suite, pub }) => ({ kid, suite, pub }));
      t = await makeTarget();
    });
    // an abort makes the device mute and is a firmware bug: the test that caused it fails here
    afterEach(() => {
      if (t) expect(t.aborts(), "firmware aborts (the device went mute)").toBe(0);
    });
    afterAll(async () => {
      await t?.close();
      await ledger?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("SELECT by AID answers the protocol revision of this build; another AID is 6A82", async () => {
      const c = card();
      const r = await c.execSw({ cla: A.CLA_ISO, ins: A.INS_SELECT, p1: A.P1_SELECT_BY_AID, p2: A.P2_SELECT_FIRST, data: AID, ne: 256, what: "SELECT" });
      expect(r.sw).toBe(SW_NO_ERROR);
      expect(r.data.length).toBe(A.SELECT_RESP_LEN);
      expect(new DataView(r.data.buffer, r.data.byteOffset).getUint32(A.SELECT_OFF_REVISION)).toBe(PROTOCOL_REVISION);
      const info = await c.select(); // the host tools' own revision check
      expect(info).toMatchObject({ revision: PROTOCOL_REVISION, lifecycle: LC_MANUFACTURED, suite: 0, formFactor: 0 });
      deviceId = info.deviceId;
      const other = AID.slice();
      other[other.length - 1] ^= 0xff;
      expect((await c.execSw({ cla: A.CLA_ISO, ins: A.INS_SELECT, p1: A.P1_SELECT_BY_AID, p2: A.P2_SELECT_FIRST, data: other, ne: 256, what: "SELECT" })).sw).toBe(SW_FILE_NOT_FOUND);
    });

    it("GET STATUS on a fresh device: blank, empty, intact", async () => {
      const s = await status();
      expect(s).toMatchObject({
        lifecycle: LC_MANUFACTURED, suite: 0, formFactor: 0, balance: 0, counter: 0, loadSeq: 0, logCount: 0,
        logCapacity: NVM_LOG_CAPACITY, lastReason: REASON_NONE, storeState: 0, revocationVersion: 0,
        // no identity, no limits, never finalized: nothing set yet, no sync deadline (0 = none)
        currency: 0, cap: 0, latestTime: 0, syncDeadline: 0,
      });
      expect(s.flags).toBe(0); // no key, certificate, PIN, channel; not corrupt, log not full
      expect(hex(s.deviceId)).toBe(hex(deviceId ?? fail("the SELECT answer")));
    });

    it("personalization over SCP03 by the host tools; PUT KEY outside the channel is 6982", async () => {
      const c = card();
      await c.select();
      expect((await c.execSw({ cla: A.CLA_PROPRIETARY, ins: A.INS_PUT_KEY, p2: A.P2_PUT_KEY_MULTIPLE, data: new Uint8Array(PUT_KEY_LEN), what: "PUT KEY" })).sw).toBe(SW_SECURITY_STATUS_NOT_SATISFIED);
      expect((await c.status()).lifecycle).toBe(LC_MANUFACTURED);
      const tg = target();
      const r = await personalize(tg.channel, ks, ledger, { account: `conformance-${name}`, suite: tg.suite, formFactor: tg.formFactor, currency: CURRENCY_CNY, limits: DEFAULT_LIMITS, pin: PIN });
      expect(r).toMatchObject({ deviceId: hex(deviceId!), resumed: false, alreadyDone: false });
      expect(r.steps).toEqual(["put-key", "identity", "limits", "issuer-keys", "key", "certificate", "pin", "puk", "finalize"]);
      expect((await ledger.device(r.deviceId))?.state).toBe("active");
      perso = r;
    });

    it("GET STATUS after personalization; the certificate chains to the issuer and names the device key", async () => {
      const p = personalized();
      const c = card();
      await c.select();
      const s = await c.status();
      expect(s).toMatchObject({
        lifecycle: LC_ACTIVE, suite: suiteId(p.suite), formFactor: FORM_IDS[p.formFactor], currency: CURRENCY_CNY, cap: DEFAULT_LIMITS.cap,
        pinTries: A.PIN_TRIES, pukTries: A.PUK_TRIES, balance: 0, counter: 0, loadSeq: 0, logCount: 0, storeState: 0,
        remainingPayments: DEFAULT_LIMITS.maxCountSinceSync, remainingAmount: DEFAULT_LIMITS.maxAmountSinceSync,
      });
      expect(s.flags & (A.STATUS_FLAG_HAS_KEY | A.STATUS_FLAG_HAS_CERT)).toBe(A.STATUS_FLAG_HAS_KEY | A.STATUS_FLAG_HAS_CERT);
      expect(s.flags & (A.STATUS_FLAG_CHANNEL_OPEN | A.STATUS_FLAG_CORRUPT | A.STATUS_FLAG_PIN_VERIFIED)).toBe(0);
      expect(s.syncDeadline).toBeGreaterThan(0);
      const cert = checkCert(await c.getCertificate(), trusted);
      if (typeof cert === "string") throw new Error(`conformance: ${cert}`);
      expect(hex(cert.deviceId)).toBe(p.deviceId);
      expect(hex(cert.publicKey)).toBe(hex(await c.getPublicKey()));
      expect(cert.limits).toEqual(DEFAULT_LIMITS);
    });

    it("transport rules (§3.1): 61xx + GET RESPONSE below the data length, extended APDUs in one piece, command chaining", async () => {
      personalized();
      const c = card();
      await c.select();
      const cert = await c.getCertificate();
      const ch = target().channel;
      const sw = (r: Uint8Array) => (r[r.length - 2] << 8) | r[r.length - 1];
      // 16 bytes at a time, by hand: the host tools would hide the pieces
      const PIECE = 16;
      let r = await ch.transmit(apdu({ cla: A.CLA_PROPRIETARY, ins: A.INS_GET_CERTIFICATE, ne: PIECE }));
      const pieces: Uint8Array[] = [];
      while (sw(r) >> 8 === SW_BYTES_REMAINING_00 >> 8) {
        expect(r.length - 2).toBe(PIECE);
        pieces.push(r.subarray(0, r.length - 2));
        r = await ch.transmit(apdu({ cla: A.CLA_ISO, ins: A.INS_GET_RESPONSE, ne: Math.min(PIECE, sw(r) & 0xff || 256) }));
      }
      expect(sw(r)).toBe(SW_NO_ERROR);
      pieces.push(r.subarray(0, r.length - 2));
      expect(pieces.length).toBe(Math.ceil(cert.length / PIECE));
      expect(hex(Buffer.concat(pieces))).toBe(hex(cert));
      // case 4E (extended Lc and Le) and case 2E (extended Le 0000 = 65536)
      const sel = await ch.transmit(apdu({ cla: A.CLA_ISO, ins: A.INS_SELECT, p1: A.P1_SELECT_BY_AID, p2: A.P2_SELECT_FIRST, data: AID, ne: 65536 }, true));
      expect(sw(sel)).toBe(SW_NO_ERROR);
      expect(sel.length - 2).toBe(A.SELECT_RESP_LEN);
      const whole = await ch.transmit(apdu({ cla: A.CLA_PROPRIETARY, ins: A.INS_GET_CERTIFICATE, ne: 65536 }, true));
      expect(sw(whole)).toBe(SW_NO_ERROR);
      expect(hex(whole.subarray(0, whole.length - 2))).toBe(hex(cert));
      // command chaining (§5.3.3): a PIN block in two blocks; a block with other P1/P2 breaks the chain
      const block = pinBlock(PIN);
      const verify = (cla: number, p2: number, data: Uint8Array) => ch.transmit(apdu({ cla, ins: A.INS_VERIFY, p2, data }));
      const half = A.PIN_BLOCK_LEN / 2;
      expect(sw(await verify(A.CLA_ISO | A.CLA_CHAINING, A.P2_PIN, block.subarray(0, half)))).toBe(SW_NO_ERROR);
      expect(sw(await verify(A.CLA_ISO, A.P2_PIN, block.subarray(half)))).toBe(SW_NO_ERROR);
      const s = await c.status();
      expect(s.flags & A.STATUS_FLAG_PIN_VERIFIED).toBe(A.STATUS_FLAG_PIN_VERIFIED);
      expect(s.pinTries).toBe(A.PIN_TRIES);
      expect(sw(await verify(A.CLA_ISO | A.CLA_CHAINING, A.P2_PIN, block.subarray(0, half)))).toBe(SW_NO_ERROR);
      expect(sw(await verify(A.CLA_ISO, A.P2_PUK, block.subarray(half)))).toBe(SW_LAST_COMMAND_EXPECTED);
      expect((await c.status()).pinTries).toBe(A.PIN_TRIES);
    });

    it(`VERIFY: a wrong PIN is ${(SW_VERIFY_FAIL_BASE | (A.PIN_TRIES - 1)).toString(16).toUpperCase()}, the right one 9000 and restores the tries`, async () => {
      personalized();
      const c = card();
      await c.select();
      expect(await swOf(c.verifyPin(WRONG_PIN))).toBe(SW_VERIFY_FAIL_BASE | (A.PIN_TRIES - 1));
      expect((await c.status()).pinTries).toBe(A.PIN_TRIES - 1);
      await c.verifyPin(PIN);
      const s = await c.status();
      expect(s.pinTries).toBe(A.PIN_TRIES);
      expect(s.flags & A.STATUS_FLAG_PIN_VERIFIED).toBe(A.STATUS_FLAG_PIN_VERIFIED);
    });

    it("LOAD by the host tools: the receipt verifies under the device key; balance, sequence and log move", async () => {
      const p = personalized();
      const before = await status();
      const r = await load(target().channel, ks, ledger, LOAD_AMOUNT); // verifies the receipt itself
      expect(r).toMatchObject({ deviceId: p.deviceId, seq: before.loadSeq + 1, balance: before.balance + LOAD_AMOUNT });
      expect(r.receipt).toMatchObject({ kind: RECEIPT_KIND_LOAD, ref: r.seq, amount: LOAD_AMOUNT, currency: CURRENCY_CNY, balanceAfter: before.balance + LOAD_AMOUNT });
      expect(hex(r.receipt.deviceId)).toBe(p.deviceId);
      const after = await status();
      expect(valueState(after)).toEqual({ ...valueState(before), balance: before.balance + LOAD_AMOUNT, loadSeq: r.seq, logCount: before.logCount + 1 });
      loaded = true;
    });

    it("PAY at a POS: the voucher verifies offline (chain, signature, canonical encoding); balance and counter move", async () => {
      const p = personalized();
      if (!loaded) fail("a loaded device (LOAD failed)");
      const before = await status();
      const v = await charge(POS_AMOUNT);
      expect(v).toMatchObject({ deviceId: p.deviceId, amount: POS_AMOUNT, counter: before.counter + 1, balanceAfter: before.balance - POS_AMOUNT });
      const after = await status();
      expect(valueState(after)).toEqual({
        ...valueState(before), balance: before.balance - POS_AMOUNT, counter: before.counter + 1, logCount: before.logCount + 1,
        remainingPayments: before.remainingPayments - 1, remainingAmount: before.remainingAmount - POS_AMOUNT,
      });
      // the POS's check is live: the same voucher with one signature bit flipped is rejected
      const cert = checkCert(v.cert, trusted) as Exclude<ReturnType<typeof checkCert>, string>;
      const key = { suite: p.suite, pub: hex(cert.publicKey), certRef: hex(certRefOf(p.suite, v.cert)) };
      const again = checkVoucher(v.voucher, () => key);
      expect(again.ok && again.v.kind === VOUCHER_KIND_POS && again.v.time === v.time).toBe(true);
      const bad = v.voucher.slice();
      bad[bad.length - 1] ^= 0x01;
      expect(checkVoucher(bad, () => key)).toMatchObject({ ok: false, reason: "bad voucher: signature does not verify" });
    });

    it("PAY above the no-CVM limit: refused (6982) without holder verification, state unchanged; approved with the PIN", async () => {
      personalized();
      const amount = DEFAULT_LIMITS.noCvm + 1;
      const before = await status();
      await expect(charge(amount)).rejects.toThrow(/^declined by the device: PAY: 6982 .*REASON_HOLDER/);
      const refusedState = await card().status(); // no SELECT first: any success clears the last reason
      expect(valueState(refusedState)).toEqual(valueState(before));
      expect(refusedState.lastReason).toBe(REASON_HOLDER);
      const v = await charge(amount, PIN);
      expect(v).toMatchObject({ counter: before.counter + 1, balanceAfter: before.balance - amount });
    });

    it("PAY above the no-CVM limit on a wearable: one button press approves it", async (ctx) => {
      const tg = target();
      if (!tg.press) return ctx.skip(); // cards have no button
      personalized();
      const amount = DEFAULT_LIMITS.noCvm + 2;
      const before = await status();
      tg.press();
      const v = await charge(amount); // no PIN: the press is the holder's consent
      expect(v).toMatchObject({ counter: before.counter + 1, balanceAfter: before.balance - amount });
    });

    it("LOAD above the cap: the device refuses an issuer-signed authorization (6985 REASON_CAP), state unchanged; the host tool refuses first", async () => {
      personalized();
      const c = card();
      await c.select();
      const before = await c.status();
      const amount = before.cap - before.balance + 1;
      // the device's own check, reached with a genuine authorization the tool would never send
      const dev = (await ledger.device(hex(before.deviceId))) ?? fail("the device in the ledger");
      const time = Math.max(Math.floor(Date.now() / 1000), before.latestTime);
      const auth = issueLoad(signerFor(ks, dev), { deviceId: before.deviceId, seq: before.loadSeq + 1, amount, currency: dev.currency, expiry: time + 3600 });
      expect(await swOf(c.load(time, auth))).toBe(SW_CONDITIONS_NOT_SATISFIED);
      const after = await c.status();
      expect(valueState(after)).toEqual(valueState(before));
      expect(after.lastReason).toBe(REASON_CAP);
      const e = await load(target().channel, ks, ledger, amount).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(WalletError);
      expect((e as WalletError).exitCode).toBe(EXIT_REFUSED);
      expect((e as Error).message).toMatch(/would exceed the cap/);
      expect(valueState(await status())).toEqual(valueState(before));
    });

    it("power cycle: stored state kept, session state (PIN verified) dropped; payments go on", async (ctx) => {
      const tg = target();
      if (!tg.powerCycle) return ctx.skip();
      personalized();
      const c = card();
      await c.select();
      await c.verifyPin(PIN);
      const before = await c.status();
      expect(before.flags & A.STATUS_FLAG_PIN_VERIFIED).toBe(A.STATUS_FLAG_PIN_VERIFIED);
      const certBefore = hex(await c.getCertificate());
      await tg.powerCycle();
      // GET STATUS before any SELECT: SELECT itself would clear the session, and hide a power
      // cycle that never happened
      const c2 = card();
      const after = await c2.status();
      expect((await c2.select()).lifecycle).toBe(LC_ACTIVE);
      expect(valueState(after)).toEqual(valueState(before));
      expect({ latestTime: after.latestTime, syncDeadline: after.syncDeadline, deviceId: hex(after.deviceId) }).toEqual({ latestTime: before.latestTime, syncDeadline: before.syncDeadline, deviceId: hex(before.deviceId) });
      expect(after.flags & A.STATUS_FLAG_PIN_VERIFIED).toBe(0);
      expect(hex(await c2.getCertificate())).toBe(certBefore);
      const v = await charge(POS_AMOUNT);
      expect(v).toMatchObject({ counter: before.counter + 1, balanceAfter: before.balance - POS_AMOUNT });
    });
  });
}

function fail(what: string): never {
  throw new Error(`conformance: needs ${what}`);
}
