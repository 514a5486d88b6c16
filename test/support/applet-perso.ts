// Personalization of a simulated wallet device through its real APDUs (SPEC §3.3, §9): the
// host's own sequence (host-tools/src/perso.ts, the one `wallet personalize` runs) over the
// applet harness, after SELECT and an SCP03 session on the GP default keys. Each step is
// also exported alone so tearing tests can cut power inside any of them.
// Host-side helper; reusable by host-tools tests.
import * as A from "../../protocol/portable/apdu.ts";
import { FORM_CARD } from "../../protocol/portable/cbor-keys.ts";
import { SCP03_SL_FULL } from "../../protocol/portable/scp03.ts";
import { SW_NO_ERROR } from "../../protocol/portable/sw.ts";
import { GP_DEFAULT_KEYS, Scp03Session, diversifyKeys, type ScpKeys } from "../../protocol/src/scp03.ts";
import type { Limits } from "../../protocol/src/formats.ts";
import { ApduError } from "../../protocol/src/sw.ts";
import { SUITE_P256_SHA256_AES128 } from "../../protocol/portable/suite.ts";
import { persoSteps as hostPersoSteps, type PersoOutcome, type PersoPlan } from "../../host-tools/src/perso.ts";
import { AppletHarness, type Resp } from "./applet-device.ts";
import { DEFAULT_LIMITS, TestIssuer, type SuiteId } from "./applet-issuer.ts";

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

/** Opens SCP03 on the harness (keys default: GP default keys; cipher AES until the suite is set). */
export async function openChannel(h: AppletHarness, keys: ScpKeys, suite: number, level: number = SCP03_SL_FULL): Promise<Scp03Session> {
  h.secure = null;
  const s = await Scp03Session.open(async (apdu) => h.dev.transmit(apdu), keys, { suite, level, keyVersion: 0 });
  h.secure = s;
  return s;
}

function ok(r: Resp, what: string): Uint8Array {
  if (r.sw !== SW_NO_ERROR) throw new ApduError(r.sw, what);
  return r.data;
}

/** The personalization steps, in order; each is one APDU (or one session open). The names
 * after the session are host-tools/src/perso.ts's ("put-key" … "finalize"). */
export function persoSteps(h: AppletHarness, issuer: TestIssuer, o: PersoOptions = {}) {
  const suite = o.suite ?? issuer.suite;
  const currency = o.currency ?? 978;
  const token = o.token ?? new Uint8Array(16).fill(7);
  const limits = o.limits ?? DEFAULT_LIMITS;
  const form = o.formFactor ?? FORM_CARD;
  const pin = o.pin ?? "1234";
  const puk = o.puk ?? "12345678";
  const time = o.time ?? T0;
  const st: Partial<Personalized> = { suite, currency, limits, pin, puk };
  const out: PersoOutcome = {};
  const plan: PersoPlan = {
    // the device keys are diversified from its id, known once SELECT has answered
    putKey: { kvn: 1, keys: GP_DEFAULT_KEYS, oldDek: GP_DEFAULT_KEYS.dek },
    suite, formFactor: form, currency, token, limits, issuerKeys: [{ kid: issuer.kid, pub: issuer.key.pub }], hasKey: false,
    certificate: (publicKey) => issuer.cert({
      deviceId: st.deviceId!, token, suite, publicKey, formFactor: form, currency, limits, notBefore: time - 3600, notAfter: time + 10 * 365 * 86400,
    }),
    pin, puk, time,
  };
  const steps: [string, () => Promise<void> | void][] = [
    ["select", () => {
      st.deviceId = ok(h.select(), "SELECT").slice(A.SELECT_OFF_DEVICE_ID, A.SELECT_OFF_DEVICE_ID + 8);
      plan.putKey!.keys = st.keys = diversifyKeys(issuer.master, st.deviceId, SUITE_P256_SHA256_AES128);
    }],
    ["open default channel", async () => { await openChannel(h, GP_DEFAULT_KEYS, SUITE_P256_SHA256_AES128); }],
    ...hostPersoSteps(plan, out).map((s): [string, () => void] => [s.name, () => {
      const c = s.cmd();
      const data = ok(h.exec(c), c.what); // not inside `took?.(…)`: that would skip the command when a step takes nothing
      s.took?.(data);
      st.pub = out.pub;
      st.cert = out.cert;
    }]),
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
