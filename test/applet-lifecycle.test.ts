// Every command in every lifecycle state (SPEC §3.2): the applet must refuse a
// command with 6985 exactly when protocol/portable/lifecycle.ts's LC_ALLOW_<state> mask
// lacks it. Each probe carries parameters the handler rejects (6A86 / 6A88 / 6A83), so an
// allowed command is seen passing the lifecycle check without changing any state.
import { describe, expect, it } from "vitest";
import * as A from "../protocol/portable/apdu.ts";
import * as LC from "../protocol/portable/lifecycle.ts";
import { SUITE_P256_SHA256_AES128 } from "../protocol/portable/suite.ts";
import { GP_DEFAULT_KEYS, type ScpKeys } from "../protocol/src/scp03.ts";
import { AppletHarness } from "./support/applet-device.ts";
import { TestIssuer } from "./support/applet-issuer.ts";
import { openChannel, persoSteps } from "./support/applet-perso.ts";
import { activeWallet } from "./support/applet-wallet.ts";

const P256 = SUITE_P256_SHA256_AES128;
const BAD = 0x7f; // a P1/P2 value no command accepts

// INS and CLA class of each CMD_* index (the inverse of the firmware's dispatch table)
const COMMANDS: [number, number, boolean][] = [
  [LC.CMD_SELECT, A.INS_SELECT, true],
  [LC.CMD_GET_RESPONSE, A.INS_GET_RESPONSE, true],
  [LC.CMD_GET_STATUS, A.INS_GET_STATUS, false],
  [LC.CMD_INITIALIZE_UPDATE, A.INS_INITIALIZE_UPDATE, false],
  [LC.CMD_EXTERNAL_AUTHENTICATE, A.INS_EXTERNAL_AUTHENTICATE, false],
  [LC.CMD_PUT_KEY, A.INS_PUT_KEY, false],
  [LC.CMD_SET_IDENTITY, A.INS_SET_IDENTITY, false],
  [LC.CMD_SET_LIMITS, A.INS_SET_LIMITS, false],
  [LC.CMD_PUT_ISSUER_KEY, A.INS_PUT_ISSUER_KEY, false],
  [LC.CMD_GENERATE_KEY, A.INS_GENERATE_KEY, false],
  [LC.CMD_GET_PUBLIC_KEY, A.INS_GET_PUBLIC_KEY, false],
  [LC.CMD_PUT_CERTIFICATE, A.INS_PUT_CERTIFICATE, false],
  [LC.CMD_GET_CERTIFICATE, A.INS_GET_CERTIFICATE, false],
  [LC.CMD_SET_PIN, A.INS_SET_PIN, false],
  [LC.CMD_SET_PUK, A.INS_SET_PUK, false],
  [LC.CMD_FINALIZE, A.INS_FINALIZE, false],
  [LC.CMD_VERIFY, A.INS_VERIFY, true],
  [LC.CMD_CHANGE_REFERENCE_DATA, A.INS_CHANGE_REFERENCE_DATA, true],
  [LC.CMD_RESET_RETRY_COUNTER, A.INS_RESET_RETRY_COUNTER, true],
  [LC.CMD_GET_CHALLENGE, A.INS_GET_CHALLENGE, true],
  [LC.CMD_LOAD, A.INS_LOAD, false],
  [LC.CMD_PAY, A.INS_PAY, false],
  [LC.CMD_RECEIVE, A.INS_RECEIVE, false],
  [LC.CMD_READ_LOG, A.INS_READ_LOG, false],
  [LC.CMD_SYNC, A.INS_SYNC, false],
  [LC.CMD_LOCK, A.INS_LOCK, false],
  [LC.CMD_UNLOCK, A.INS_UNLOCK, false],
  [LC.CMD_TERMINATE, A.INS_TERMINATE, false],
];

const STATES: [string, number, number][] = [
  ["MANUFACTURED", LC.LC_MANUFACTURED, LC.LC_ALLOW_MANUFACTURED],
  ["PERSONALIZING", LC.LC_PERSONALIZING, LC.LC_ALLOW_PERSONALIZING],
  ["ACTIVE", LC.LC_ACTIVE, LC.LC_ALLOW_ACTIVE],
  ["LOCKED", LC.LC_LOCKED, LC.LC_ALLOW_LOCKED],
  ["TERMINATED", LC.LC_TERMINATED, LC.LC_ALLOW_TERMINATED],
];

/** A device in `state`, and the SCP keys that open its channel there. */
async function deviceIn(state: number): Promise<{ h: AppletHarness; keys: ScpKeys }> {
  if (state === LC.LC_MANUFACTURED) {
    const h = new AppletHarness();
    h.select();
    return { h, keys: GP_DEFAULT_KEYS };
  }
  if (state === LC.LC_PERSONALIZING) {
    const h = new AppletHarness();
    const { steps, result } = persoSteps(h, new TestIssuer(P256));
    for (const [, run] of steps.slice(0, 3)) await run();
    h.select();
    return { h, keys: result.keys! };
  }
  const w = await activeWallet(P256);
  if (state !== LC.LC_ACTIVE) {
    await openChannel(w.h, w.p.keys, P256);
    expect(w.h.cmd(state === LC.LC_LOCKED ? A.INS_LOCK : A.INS_TERMINATE).sw).toBe(0x9000);
    w.h.select();
  }
  return { h: w.h, keys: w.p.keys };
}

describe("the lifecycle table is enforced for every command in every state", () => {
  it("the table has one bit per command and CMD indices are dense", () => {
    expect(COMMANDS.length).toBe(LC.CMD_COUNT);
    expect(new Set(COMMANDS.map((c) => c[0])).size).toBe(LC.CMD_COUNT);
    for (const [, , mask] of STATES) expect(mask >>> LC.CMD_COUNT).toBe(0);
  });

  for (const [name, state, mask] of STATES) {
    it(`${name}`, async () => {
      const { h, keys } = await deviceIn(state);
      expect(h.status().lifecycle).toBe(state);
      let probes = 0;
      for (const [cmd, ins, iso] of COMMANDS) {
        const allowed = ((mask >>> cmd) & 1) === 1;
        const needsChannel = ((LC.CMD_NEEDS_CHANNEL >>> cmd) & 1) === 1;
        const cla = iso ? A.CLA_ISO : A.CLA_PROPRIETARY;
        let sw: number;
        if (cmd === LC.CMD_GET_RESPONSE) {
          // make a response pending, then ask for it with bad parameters
          h.raw(Uint8Array.of(0x80, A.INS_GET_STATUS, 0, 0, 4));
          sw = h.raw(Uint8Array.of(0x00, A.INS_GET_RESPONSE, BAD, BAD, 4)).sw;
        } else if (cmd === LC.CMD_EXTERNAL_AUTHENTICATE) {
          h.raw(Uint8Array.of(0x80, A.INS_INITIALIZE_UPDATE, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0));
          sw = h.raw(Uint8Array.of(0x84, A.INS_EXTERNAL_AUTHENTICATE, BAD, 0, 16, ...new Uint8Array(16))).sw;
        } else if (allowed && needsChannel) {
          await openChannel(h, keys, P256);
          sw = h.send(cla, ins, BAD, BAD, undefined, 256, true).sw;
          h.secure = null;
        } else {
          sw = h.send(cla, ins, BAD, BAD).sw;
        }
        const what = `${name} cmd ${cmd} (INS ${ins.toString(16)}) SW ${sw.toString(16)}`;
        if (allowed) expect([0x6a86, 0x6a88, 0x6a83], what).toContain(sw);
        else expect(sw, what).toBe(0x6985);
        probes++;
      }
      expect(probes).toBe(LC.CMD_COUNT);
      // nothing the probes did changed the state
      expect(h.status().lifecycle).toBe(state);
    });
  }
});
