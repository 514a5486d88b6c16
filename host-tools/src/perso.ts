// The personalization sequence (SPEC §3.2, §9 "Channel use in the applet and the
// personalization flow"): the commands inside the SCP03 session from PUT KEY to FINALIZE,
// in order, written once for the `wallet personalize` flow (flows.ts, over a Channel) and
// the applet tests (over their in-process harness). Each step is one command, so a caller
// may write its records, cut power or stop between any two.
import { SUITE_P256_SHA256_AES128 } from "../../protocol/portable/suite.ts";
import type { Limits } from "../../protocol/src/formats.ts";
import { putKeyData, type ScpKeys } from "../../protocol/src/scp03.ts";
import { adminCmd, type Cmd } from "./card.ts";

/** The order of the u32 values of SET LIMITS (protocol/portable/limits.ts LIMIT_*). */
export const LIMIT_ORDER: (keyof Limits)[] = ["cap", "maxPayment", "noCvm", "maxCountSinceSync", "maxAmountSinceSync", "syncInterval"];

/** SET LIMITS carrying `l` in the wire order. */
export const setLimitsCmd = (l: Limits): Cmd => adminCmd.setLimits(LIMIT_ORDER.map((k) => l[k]));

/** What a device is personalized with. Read when each step's command is built, so a caller may complete it as it goes. */
export interface PersoPlan {
  /** PUT KEY on a blank device: its new keys (key version `kvn`), encrypted under the DEK it holds; absent when resuming */
  putKey?: { kvn: number; keys: ScpKeys; oldDek: Uint8Array };
  suite: number;
  formFactor: number;
  currency: number;
  token: Uint8Array;
  limits: Limits;
  /** the trusted issuer keys for slots 0, 1 (at most two are sent) */
  issuerKeys: { kid: Uint8Array; pub: Uint8Array }[];
  /** the device key pair exists already (a resumed personalization): read it instead of generating one */
  hasKey: boolean;
  /** the issuer-signed device certificate for the device public key */
  certificate(pub: Uint8Array): Uint8Array;
  pin: string;
  puk: string;
  /** FINALIZE's time (Unix s): the device's first latest time */
  time: number;
}

/** The step names, as `wallet personalize` reports them. */
export type PersoStepName = "put-key" | "identity" | "limits" | "issuer-keys" | "key" | "certificate" | "pin" | "puk" | "finalize";

export interface PersoStep {
  name: PersoStepName;
  /** the command of this step, built from the plan when called */
  cmd(): Cmd;
  /** hands the step the data of its 9000 answer */
  took?(data: Uint8Array): void;
}

/** What the steps learn on the way: the device public key (step "key") and the certificate sent (step "certificate"). */
export interface PersoOutcome {
  pub?: Uint8Array;
  cert?: Uint8Array;
}

/** The steps for `p`, in order; `out` fills in as they run. PUT KEY runs on AES (SPEC §9: the suite is not set yet). */
export function persoSteps(p: PersoPlan, out: PersoOutcome = {}): PersoStep[] {
  const steps: PersoStep[] = [];
  if (p.putKey) steps.push({ name: "put-key", cmd: () => adminCmd.putKey(0, putKeyData(p.putKey!.kvn, p.putKey!.keys, p.putKey!.oldDek, SUITE_P256_SHA256_AES128)) });
  steps.push(
    { name: "identity", cmd: () => adminCmd.setIdentity(p.suite, p.formFactor, p.currency, p.token) },
    { name: "limits", cmd: () => setLimitsCmd(p.limits) },
  );
  for (let slot = 0; slot < Math.min(2, p.issuerKeys.length); slot++)
    steps.push({ name: "issuer-keys", cmd: () => adminCmd.putIssuerKey(slot, p.issuerKeys[slot].kid, p.issuerKeys[slot].pub) });
  steps.push(
    { name: "key", cmd: () => (p.hasKey ? adminCmd.getPublicKey() : adminCmd.generateKey()), took: (d) => void (out.pub = d) },
    { name: "certificate", cmd: () => adminCmd.putCertificate((out.cert = p.certificate(out.pub!))) },
    { name: "pin", cmd: () => adminCmd.setPin(p.pin) },
    { name: "puk", cmd: () => adminCmd.setPuk(p.puk) },
    { name: "finalize", cmd: () => adminCmd.finalize(p.time) },
  );
  return steps;
}
