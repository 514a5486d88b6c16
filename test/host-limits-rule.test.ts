// host-tools limits-rule.ts `limitsProblem` against the device (SPEC §3.3 SET LIMITS, SYNC):
// on a real build/firmware.wasm with a balance, every limits value of a grid around the
// boundaries (cap vs balance, max payment vs cap, and relations the rule leaves alone) is
// refused by SET LIMITS and by a SYNC ack's new limits exactly when limitsProblem names a
// problem. Also: issueSyncAck refuses max payment > cap before signing.
import { describe, expect, it } from "vitest";
import * as A from "../protocol/portable/apdu.ts";
import { SUITE_P256_SHA256_AES128 } from "../protocol/portable/suite.ts";
import type { Limits } from "../protocol/src/formats.ts";
import { limitsProblem } from "../host-tools/src/limits-rule.ts";
import { issueSyncAck } from "../host-tools/src/docs.ts";
import { generateKeyPair } from "../host-tools/src/sig.ts";
import { DEFAULT_LIMITS } from "./support/applet-issuer.ts";
import { T0, openChannel } from "./support/applet-perso.ts";
import { setLimitsCmd } from "../host-tools/src/perso.ts";
import { activeWallet, load, syncAck } from "./support/applet-wallet.ts";

const P256 = SUITE_P256_SHA256_AES128;
const BALANCE = 5_000;
const U32 = 0xffffffff;

function grid(): Limits[] {
  const out: Limits[] = [];
  for (const cap of [0, BALANCE - 1, BALANCE, BALANCE + 1, 100_000, U32])
    for (const maxPayment of [0, BALANCE, cap - 1, cap, cap + 1, U32].filter((v) => v >= 0 && v <= U32))
      out.push({ ...DEFAULT_LIMITS, cap, maxPayment });
  // relations the rule leaves alone: no-CVM and the since-sync totals above cap / max payment
  out.push({ ...DEFAULT_LIMITS, noCvm: DEFAULT_LIMITS.cap + 1 });
  out.push({ ...DEFAULT_LIMITS, maxAmountSinceSync: DEFAULT_LIMITS.maxPayment - 1, maxCountSinceSync: 0 });
  out.push({ ...DEFAULT_LIMITS, maxAmountSinceSync: U32, syncInterval: 0 });
  return out;
}

describe("limitsProblem agrees with the device", () => {
  it("SET LIMITS and SYNC refuse (6A80) exactly the limits limitsProblem names, at a balance of 5,000", async () => {
    const w = await activeWallet(P256);
    expect(load(w, BALANCE).sw).toBe(0x9000);
    const cases = grid();
    let refused = 0;
    await openChannel(w.h, w.p.keys, P256);
    const set = cases.map((l) => w.h.exec(setLimitsCmd(l)).sw);
    w.h.select();
    const synced = cases.map((l, i) => w.h.cmd(A.INS_SYNC, 0, 0, syncAck(w, w.h.status().counter, T0 + 100 + i, { limits: l })).sw);
    const disagree: string[] = [];
    cases.forEach((l, i) => {
      const want = limitsProblem(l, BALANCE) ? 0x6a80 : 0x9000;
      if (want !== 0x9000) refused++;
      if (set[i] !== want || synced[i] !== want) disagree.push(`${JSON.stringify(l)}: SET LIMITS ${set[i].toString(16)}, SYNC ${synced[i].toString(16)}, rule ${limitsProblem(l, BALANCE)}`);
    });
    expect(disagree).toEqual([]);
    expect(refused).toBeGreaterThan(10);
    expect(cases.length - refused).toBeGreaterThan(10);
    expect(w.h.status().balance).toBe(BALANCE);
  });

  it("names the broken relation; refuses non-uint32 values", () => {
    expect(limitsProblem(DEFAULT_LIMITS, 0)).toBeNull();
    expect(limitsProblem(DEFAULT_LIMITS, DEFAULT_LIMITS.cap)).toBeNull();
    expect(limitsProblem(DEFAULT_LIMITS, DEFAULT_LIMITS.cap + 1)).toMatch(/cap 100000 is below the balance 100001/);
    expect(limitsProblem({ ...DEFAULT_LIMITS, maxPayment: DEFAULT_LIMITS.cap + 1 }, 0)).toMatch(/max payment 100001 is above the cap 100000/);
    expect(limitsProblem({ ...DEFAULT_LIMITS, noCvm: -1 }, 0)).toMatch(/noCvm/);
    expect(limitsProblem({ ...DEFAULT_LIMITS, syncInterval: 2 ** 32 }, 0)).toMatch(/syncInterval/);
    expect(limitsProblem({ ...DEFAULT_LIMITS, cap: 1.5 }, 0)).toMatch(/cap/);
  });

  it("issueSyncAck refuses new limits with max payment > cap before signing", () => {
    const signer = { suite: "p256" as const, kid: Uint8Array.of(1, 2, 3, 4), key: generateKeyPair("p256") };
    const ack = { deviceId: new Uint8Array(8), upToCounter: 0, time: T0, revocationVersion: 1, blockList: [] };
    expect(issueSyncAck(signer, { ...ack, limits: DEFAULT_LIMITS }).length).toBeGreaterThan(0);
    expect(issueSyncAck(signer, ack).length).toBeGreaterThan(0);
    expect(() => issueSyncAck(signer, { ...ack, limits: { ...DEFAULT_LIMITS, maxPayment: DEFAULT_LIMITS.cap + 1 } })).toThrow(RangeError);
  });
});
