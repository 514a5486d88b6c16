// Personalization of a simulated wallet device through its real APDUs (SPEC §3.3, §9):
// SCP03 with the GP default keys, PUT KEY (issuer-diversified keys), SET IDENTITY, SET
// LIMITS, GENERATE KEY, PUT ISSUER KEY, PUT CERTIFICATE, SET PIN, SET PUK, FINALIZE.
// Each step is also exported alone so tearing tests can cut power inside any of them.
// Host-side helper; reusable by host-tools tests.
import * as A from "../../protocol/portable/apdu.ts";
import { FORM_CARD } from "../../protocol/portable/cbor-keys.ts";
import { SCP03_SL_CDEC, SCP03_SL_CMAC, SCP03_SL_RENC, SCP03_SL_RMAC } from "../../protocol/portable/scp03.ts";
import { GP_DEFAULT_KEYS, Scp03Session, diversifyKeys, putKeyData, type ScpKeys } from "../../protocol/src/scp03.ts";
import type { Limits } from "../../protocol/src/formats.ts";
import { SUITE_P256_SHA256_AES128 } from "../../protocol/portable/suite.ts";
import { LIMIT_ORDER } from "../../host-tools/src/flows.ts";
import { AppletHarness, cat, pinBlock, u16be, u32be, type Resp } from "./applet-device.ts";
import { DEFAULT_LIMITS, TestIssuer, type SuiteId } from "./applet-issuer.ts";

export const FULL_LEVEL = SCP03_SL_CMAC | SCP03_SL_CDEC | SCP03_SL_RMAC | SCP03_SL_RENC;
export const T0 = 1_760_000_000; // personalization time of the tests (Unix s)

export interface PersoOptions {
  suite?: SuiteId;
  formFactor?: number;
  currency?: number;
  token?: Uint8Array;
  limits?: Limits;
  pin?: string;
  puk?: string;
  time?: number;
}
export interface Personalized {
  deviceId: Uint8Array;
  pub: Uint8Array;
  cert: Uint8Array;
  keys: ScpKeys;
  suite: SuiteId;
  currency: number;
  limits: Limits;
  pin: string;
  puk: string;
}

export function limitsBytes(l: Limits): Uint8Array {
  return cat(...LIMIT_ORDER.map((k) => u32be(l[k])));
}

/** Opens SCP03 on the harness (keys default: GP default keys; cipher AES until the suite is set). */
export async function openChannel(h: AppletHarness, keys: ScpKeys, suite: number, level = FULL_LEVEL): Promise<Scp03Session> {
  h.secure = null;
  const s = await Scp03Session.open(async (apdu) => h.dev.transmit(apdu), keys, { suite, level, keyVersion: 0 });
  h.secure = s;
  return s;
}

export function identityData(suite: number, form: number, currency: number, token: Uint8Array): Uint8Array {
  return cat(Uint8Array.of(suite, form), u16be(currency), token);
}

function ok(r: Resp, what: string): Uint8Array {
  if (r.sw !== 0x9000) throw new Error(`${what}: SW ${r.sw.toString(16)}`);
  return r.data;
}

/** The personalization steps, in order; each is one APDU (or one session open). */
export function persoSteps(h: AppletHarness, issuer: TestIssuer, o: PersoOptions = {}) {
  const suite = o.suite ?? issuer.suite;
  const currency = o.currency ?? 978;
  const token = o.token ?? new Uint8Array(16).fill(7);
  const limits = o.limits ?? DEFAULT_LIMITS;
  const form = o.formFactor ?? FORM_CARD;
  const pin = o.pin ?? "1234";
  const puk = o.puk ?? "12345678";
  const st: Partial<Personalized> = { suite, currency, limits, pin, puk };
  const steps: [string, () => Promise<void> | void][] = [
    ["select", () => { st.deviceId = ok(h.select(), "SELECT").slice(A.SELECT_OFF_DEVICE_ID, A.SELECT_OFF_DEVICE_ID + 8); }],
    ["open default channel", async () => { await openChannel(h, GP_DEFAULT_KEYS, SUITE_P256_SHA256_AES128); }],
    ["put key", () => {
      st.keys = diversifyKeys(issuer.master, st.deviceId!, SUITE_P256_SHA256_AES128);
      ok(h.cmd(A.INS_PUT_KEY, 0, A.P2_PUT_KEY_MULTIPLE, putKeyData(1, st.keys, GP_DEFAULT_KEYS.dek, SUITE_P256_SHA256_AES128)), "PUT KEY");
    }],
    ["set identity", () => { ok(h.cmd(A.INS_SET_IDENTITY, 0, 0, identityData(suite, form, currency, token)), "SET IDENTITY"); }],
    ["set limits", () => { ok(h.cmd(A.INS_SET_LIMITS, 0, 0, limitsBytes(limits)), "SET LIMITS"); }],
    ["generate key", () => { st.pub = ok(h.cmd(A.INS_GENERATE_KEY), "GENERATE KEY"); }],
    ["put issuer key", () => { ok(h.cmd(A.INS_PUT_ISSUER_KEY, 0, 0, cat(Uint8Array.of(issuer.kid.length), issuer.kid, issuer.key.pub)), "PUT ISSUER KEY"); }],
    ["put certificate", () => {
      st.cert = issuer.cert({
        deviceId: st.deviceId!, token, suite, publicKey: st.pub!, formFactor: form, currency, limits,
        notBefore: (o.time ?? T0) - 3600, notAfter: (o.time ?? T0) + 10 * 365 * 86400,
      });
      ok(h.cmd(A.INS_PUT_CERTIFICATE, 0, 0, st.cert), "PUT CERTIFICATE");
    }],
    ["set pin", () => { ok(h.cmd(A.INS_SET_PIN, 0, 0, pinBlock(pin)), "SET PIN"); }],
    ["set puk", () => { ok(h.cmd(A.INS_SET_PUK, 0, 0, pinBlock(puk)), "SET PUK"); }],
    ["finalize", () => { ok(h.cmd(A.INS_FINALIZE, 0, 0, u32be(o.time ?? T0)), "FINALIZE"); }],
  ];
  return { steps, result: st };
}

/** Personalizes the device completely; the channel is closed afterwards (SELECT). */
export async function personalize(h: AppletHarness, issuer: TestIssuer, o: PersoOptions = {}): Promise<Personalized> {
  const { steps, result } = persoSteps(h, issuer, o);
  for (const [, run] of steps) await run();
  ok(h.select(), "SELECT");
  return result as Personalized;
}
