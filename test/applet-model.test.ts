// Model-based property test (DESIGN.md §4; SPEC §3.3): fast-check command sequences — LOAD (fresh
// and replayed), PAY (any amount and POS time), VERIFY (right / wrong PIN), SYNC, LOCK /
// UNLOCK in the secure channel and power cycles, SYNC with new limits (refused when the device cannot honour them) — run on the real firmware and on test/support/wallet-model.ts; after every step
// the status word, the refusal reason and the device's GET STATUS must match the model.
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as A from "../protocol/portable/apdu.ts";
import { SUITE_P256_SHA256_AES128, SUITE_SM2_SM3_SM4 } from "../protocol/portable/suite.ts";
import type { NorFlash } from "../wearable-sim/src/flash.ts";
import { AppletHarness, cat, pinBlock, u32be } from "./support/applet-device.ts";
import { DEFAULT_LIMITS, TestIssuer, type SuiteId } from "./support/applet-issuer.ts";
import { T0, openChannel, personalize, type Personalized } from "./support/applet-perso.ts";
import { payData, POS_ID, challengeOf } from "./support/applet-wallet.ts";
import { WalletModel, type ModelOp } from "./support/wallet-model.ts";

const LIMITS = { cap: 10_000, maxPayment: 3_000, noCvm: 1_000, maxCountSinceSync: 5, maxAmountSinceSync: 6_000, syncInterval: 1_500 };

const opArb: fc.Arbitrary<ModelOp> = fc.oneof(
  // seq: 0 = replay the last accepted sequence, else that many past it
  { weight: 3, arbitrary: fc.record({ t: fc.constant("load" as const), amount: fc.integer({ min: 1, max: 6_000 }), seq: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 5, arbitrary: fc.integer({ min: 1, max: 3 }) }), time: fc.integer({ min: 0, max: 3_000 }), expiry: fc.oneof({ weight: 1, arbitrary: fc.integer({ min: 0, max: 3_000 }) }, { weight: 4, arbitrary: fc.constant(1_000_000) }) }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant("pay" as const), amount: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 1_000 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 3_500 }) }), time: fc.integer({ min: 0, max: 3_000 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("verify" as const), correct: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("sync" as const), time: fc.integer({ min: 0, max: 4_000 }) }) },
  // a sync ack with new limits: cap and max payment around the balance and each other (SPEC §3.3 SYNC)
  { weight: 1, arbitrary: fc.record({ t: fc.constant("sync" as const), time: fc.integer({ min: 0, max: 4_000 }), limits: fc.record({
    cap: fc.integer({ min: 0, max: 12_000 }), maxPayment: fc.integer({ min: 0, max: 4_000 }),
  }).map((l) => ({ ...LIMITS, ...l })) }) },
  { weight: 1, arbitrary: fc.constant({ t: "powerCycle" as const }) },
  { weight: 1, arbitrary: fc.constant({ t: "lock" as const }) },
  { weight: 1, arbitrary: fc.constant({ t: "unlock" as const }) },
);

describe.each([["P-256", SUITE_P256_SHA256_AES128, 60], ["SM2", SUITE_SM2_SM3_SM4, 15]] as [string, SuiteId, number][])(
  "command sequences vs the wallet model, %s",
  (_name, suite, numRuns) => {
    let image: NorFlash;
    let issuer: TestIssuer;
    let p: Personalized;
    beforeAll(async () => {
      issuer = new TestIssuer(suite);
      const h = new AppletHarness({ seed: `model-${suite}` });
      p = await personalize(h, issuer, { limits: LIMITS });
      image = h.dev.flash;
    });

    it("status words and state follow the model after every command", async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), async (ops) => {
          const h = new AppletHarness({ seed: `model-${suite}`, flash: image.clone() });
          h.select();
          const m = new WalletModel({ ...DEFAULT_LIMITS, ...LIMITS }, T0);
          for (const op of ops) {
            let sw: number;
            let seq = 0;
            switch (op.t) {
              case "load": {
                seq = m.s.loadSeq + op.seq; // relative: the model and the device agree on the last one
                const doc = issuer.load({ deviceId: p.deviceId, seq, amount: op.amount, currency: p.currency, expiry: T0 + op.expiry });
                sw = h.cmd(A.INS_LOAD, 0, 0, cat(u32be(T0 + op.time), doc)).sw;
                break;
              }
              case "pay":
                sw = h.cmd(A.INS_PAY, 0, 0, payData(op.amount, p.currency, POS_ID, challengeOf(op.amount), T0 + op.time)).sw;
                break;
              case "verify":
                sw = h.iso(A.INS_VERIFY, 0, A.P2_PIN, pinBlock(op.correct ? p.pin : "0000")).sw;
                break;
              case "sync": {
                const ack = issuer.syncAck({
                  deviceId: p.deviceId, upToCounter: h.status().counter, time: T0 + op.time, revocationVersion: 1, blockList: [],
                  ...(op.limits ? { limits: op.limits } : {}),
                });
                sw = h.cmd(A.INS_SYNC, 0, 0, ack).sw;
                break;
              }
              case "powerCycle":
                h.powerCycle();
                h.select();
                sw = 0x9000;
                break;
              case "lock":
              case "unlock":
                // administration: in the secure channel with the device's diversified keys
                await openChannel(h, p.keys, suite);
                sw = h.cmd(op.t === "lock" ? A.INS_LOCK : A.INS_UNLOCK).sw;
                h.select(); // closes the channel (and the PIN session, as a new tap would)
                m.step({ t: "powerCycle" });
                break;
            }
            const mo = m.step(op.t === "load" ? { ...op, seq, time: T0 + op.time, expiry: T0 + op.expiry } :
              op.t === "pay" || op.t === "sync" ? { ...op, time: T0 + op.time } : op);
            const what = `${JSON.stringify(op)} -> ${sw.toString(16)}`;
            expect(sw.toString(16), what).toBe(mo.sw.toString(16));
            const s = h.status();
            if (mo.reason !== undefined) expect(s.lastReason, what).toBe(mo.reason);
            expect({
              balance: s.balance, counter: s.counter, loadSeq: s.loadSeq, latest: s.latestTime, log: s.logCount,
              remaining: s.remainingPayments, remainingAmount: s.remainingAmount, pinTries: s.pinTries,
              verified: (s.flags & A.STATUS_FLAG_PIN_VERIFIED) !== 0, deadline: s.syncDeadline, lifecycle: s.lifecycle, cap: s.cap,
            }, what).toEqual({
              balance: m.s.balance, counter: m.s.counter, loadSeq: m.s.loadSeq, latest: m.s.latest, log: m.s.logCount,
              remaining: m.limits.maxCountSinceSync - m.s.sinceCount, remainingAmount: m.limits.maxAmountSinceSync - m.s.sinceAmount,
              pinTries: m.s.pinTries, verified: m.s.pinVerified, deadline: m.s.syncAnchor + m.limits.syncInterval,
              lifecycle: m.s.lifecycle, cap: m.limits.cap,
            });
            // the cap is never exceeded, whatever the sequence (new limits included)
            expect(s.balance).toBeLessThanOrEqual(s.cap);
          }
        }),
        { numRuns },
      );
    });
  },
);
