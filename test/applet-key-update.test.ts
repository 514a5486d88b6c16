// SYNC with a trusted-key update (SPEC §3.3 SYNC, §5.8 SYNCACK_KEY_NEW_KID / NEW_KEY) on the
// real build/firmware.wasm, both suites: the new issuer key goes into the slot holding the
// same kid, else an empty slot, else the slot not holding the ack's signing key, in the same
// transaction as the rest of the ack; a bad key or a replayed ack changes nothing.
import { describe, expect, it } from "vitest";
import * as A from "../protocol/portable/apdu.ts";
import * as L from "../protocol/portable/limits.ts";
import { SUITE_P256_SHA256_AES128, SUITE_SM2_SM3_SM4 } from "../protocol/portable/suite.ts";
import { cat, u32be } from "./support/applet-device.ts";
import { TestIssuer, type SuiteId } from "./support/applet-issuer.ts";
import { T0 } from "./support/applet-perso.ts";
import { activeWallet, loadDoc, type Wallet } from "./support/applet-wallet.ts";
import { AppletHarness } from "./support/applet-device.ts";
import { DeviceOffError } from "../wearable-sim/src/device.ts";
import type { TearMode } from "../wearable-sim/src/flash.ts";

const OK = 0x9000;
const SUITES: [string, SuiteId][] = [["P-256", SUITE_P256_SHA256_AES128], ["SM2", SUITE_SM2_SM3_SM4]];

/** A sync ack signed by `by`, optionally carrying `carry` as the new trusted key. */
function ack(w: Wallet, by: TestIssuer, time: number, carry?: { kid: Uint8Array; pub: Uint8Array }): Uint8Array {
  return by.syncAck({
    deviceId: w.p.deviceId, upToCounter: 0, time, revocationVersion: 1, blockList: [],
    ...(carry && { newKid: carry.kid, newKey: carry.pub }),
  });
}
const keyOf = (i: TestIssuer) => ({ kid: i.kid, pub: i.key.pub });
/** LOAD signed by `by`: 9000 when the device trusts it, 6A88 when it does not know the key. */
function loadBy(w: Wallet, by: TestIssuer): number {
  const seq = ++w.loadSeq;
  return w.h.cmd(A.INS_LOAD, 0, 0, cat(u32be(T0 + 30), loadDoc({ ...w, issuer: by }, 10, { seq }))).sw;
}

describe("SYNC trusted-key update (SPEC §5.8)", () => {
  for (const [name, suite] of SUITES) {
    it(`${name}: rotate twice through sync acks; the oldest key leaves, the signer's slot stays`, async () => {
      const w = await activeWallet(suite); // slot 0: k0 (w.issuer), slot 1 empty
      const k0 = w.issuer;
      const k1 = new TestIssuer(suite);
      const k2 = new TestIssuer(suite);
      expect(loadBy(w, k1)).toBe(0x6a88);
      w.loadSeq--;
      // k0 signs, carries k1: slot 1 was empty
      expect(w.h.cmd(A.INS_SYNC, 0, 0, ack(w, k0, T0 + 100, keyOf(k1))).sw).toBe(OK);
      expect(loadBy(w, k1)).toBe(OK);
      expect(loadBy(w, k0)).toBe(OK);
      // k1 (the newer) signs, carries k2: replaces k0, the slot not holding the signer
      expect(w.h.cmd(A.INS_SYNC, 0, 0, ack(w, k1, T0 + 200, keyOf(k2))).sw).toBe(OK);
      expect(loadBy(w, k2)).toBe(OK);
      expect(loadBy(w, k1)).toBe(OK);
      w.h.powerCycle(); // what was committed is in flash
      w.h.select();
      expect(loadBy(w, k0)).toBe(0x6a88);
      w.loadSeq--;
      expect(loadBy(w, k2)).toBe(OK);
      // the same kid again: rewritten in place, nothing else moves
      expect(w.h.cmd(A.INS_SYNC, 0, 0, ack(w, k2, T0 + 300, keyOf(k2))).sw).toBe(OK);
      expect(loadBy(w, k1)).toBe(OK);
    });

    it(`${name}: a key that is not a point of the suite, or a replayed ack, changes nothing`, async () => {
      const w = await activeWallet(suite);
      const before = w.h.status().syncDeadline;
      const k1 = new TestIssuer(suite);
      const bad = { kid: k1.kid, pub: Uint8Array.of(4, ...new Uint8Array(64).fill(1)) };
      expect(w.h.cmd(A.INS_SYNC, 0, 0, ack(w, w.issuer, T0 + 100, bad)).sw).toBe(0x6a80);
      expect(w.h.status().lastReason).toBe(L.REASON_FORMAT);
      expect(w.h.status().syncDeadline).toBe(before); // the ack's time was not taken
      expect(loadBy(w, k1)).toBe(0x6a88);
      w.loadSeq--;
      const good = ack(w, w.issuer, T0 + 100, keyOf(k1));
      expect(w.h.cmd(A.INS_SYNC, 0, 0, good).sw).toBe(OK);
      expect(w.h.cmd(A.INS_SYNC, 0, 0, good).sw).toBe(0x6985); // replay: the ack's time is not newer
      expect(w.h.status().lastReason).toBe(L.REASON_REPLAY);
      // a key update signed by a key the device does not hold is refused before anything
      const stranger = new TestIssuer(suite);
      expect(w.h.cmd(A.INS_SYNC, 0, 0, ack(w, stranger, T0 + 200, keyOf(stranger))).sw).toBe(0x6a88);
      expect(loadBy(w, stranger)).toBe(0x6a88);
    });
  }

  it("P-256: a power cut anywhere in SYNC leaves the ack and the new key both applied or both not", async () => {
    const w = await activeWallet(SUITE_P256_SHA256_AES128, { device: { seed: "key-update-tear" } });
    const k1 = new TestIssuer(SUITE_P256_SHA256_AES128);
    const doc = ack(w, w.issuer, T0 + 100, keyOf(k1));
    const image = w.h.dev.flash;
    const ref = new AppletHarness({ seed: "key-update-tear", flash: image.clone() });
    ref.select();
    const before = ref.status().syncDeadline;
    const ops0 = ref.dev.flash.opCount;
    expect(ref.cmd(A.INS_SYNC, 0, 0, doc).sw).toBe(OK);
    const ops = ref.dev.flash.opCount - ops0;
    let seen = { old: 0, new: 0 };
    for (let k = 1; k <= ops; k++) {
      for (const mode of ["none", "full", "random"] as TearMode[]) {
        const h = new AppletHarness({ seed: "key-update-tear", flash: image.clone() });
        h.select();
        h.dev.cutPowerAfter(k, mode);
        expect(() => h.cmd(A.INS_SYNC, 0, 0, doc), `cut at ${k}/${ops} ${mode}`).toThrow(DeviceOffError);
        h.dev.powerOn();
        h.select();
        const applied = h.status().syncDeadline !== before;
        const probe = { ...w, h, loadSeq: 0 };
        const trusted = loadBy(probe, k1) === OK;
        expect(trusted, `cut at ${k}/${ops} ${mode}: ack ${applied ? "applied" : "not applied"}`).toBe(applied);
        expect(h.dev.aborts).toBe(0);
        applied ? seen.new++ : seen.old++;
      }
    }
    expect(seen.old).toBeGreaterThan(0);
    expect(seen.new).toBeGreaterThan(0);
  });
});
