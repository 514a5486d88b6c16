// What is trusted when (issue 12; SPEC §5.8 trusted-key update, §5.12 key states and
// validity): the one place that decides which issuer keys a device holds, which key signs
// for it, which new key its next sync acknowledgement carries, which devices still depend
// on a key, and which keys a POS or reconciliation accepts for a document at its time.
// POS (flows.posCharge), sync, load and reconcile all ask here.
import { SYNCACK_SCHEMA, decodeSigned, CERT_SCHEMA, type DeviceCert, type SyncAck } from "../../protocol/src/formats.ts";
import { hex, type Signer, type TrustedKey } from "./docs.ts";
import { refused } from "./errors.ts";
import type { IssuerKeyPublic, Keystore } from "./keystore.ts";
import type { DeviceRecord, Ledger, SyncAck as SyncAckRecord } from "./ledger/ledger.ts";

/** A device's two issuer key slots as the ledger knows them (null: unknown or empty). */
export type Slots = [string | null, string | null];

function certKid(dev: DeviceRecord): string | null {
  if (!dev.cert) return null;
  try {
    return hex(decodeSigned<DeviceCert>(dev.cert, CERT_SCHEMA).sign1.kid);
  } catch {
    return null;
  }
}

/**
 * The device's slots from the ledger's evidence: personalization writes the certificate's
 * signing key into slot 0 (slot 1, an older key if any, is not recorded: counted as
 * unknown, which only ever makes `dependentsOf` more careful); then every applied sync ack
 * with a trusted-key update, in time order, by the firmware's rule (SPEC §5.8): the slot
 * holding that kid, else an empty slot, else the slot not holding the ack's signing key.
 */
export function slotsFrom(dev: DeviceRecord, acks: readonly SyncAckRecord[]): Slots {
  const slots: Slots = [certKid(dev), null];
  for (const a of [...acks].filter((x) => x.state === "applied").sort((x, y) => x.time - y.time)) {
    let s: { sign1: { kid: Uint8Array }; doc: SyncAck };
    try {
      s = decodeSigned<SyncAck>(a.ack, SYNCACK_SCHEMA);
    } catch {
      continue;
    }
    if (!s.doc.newKid) continue;
    const nk = hex(s.doc.newKid);
    const signer = hex(s.sign1.kid);
    let i = slots.indexOf(nk);
    if (i < 0) i = slots.indexOf(null);
    if (i < 0) i = slots[0] === signer ? 1 : 0;
    slots[i] = nk;
  }
  return slots;
}

export async function deviceIssuerSlots(ledger: Ledger, dev: DeviceRecord): Promise<string[]> {
  return slotsFrom(dev, await ledger.syncAcks(dev.deviceId)).filter((k): k is string => k !== null);
}

const signs = (k: IssuerKeyPublic | undefined) => !!k && (k.status === "active" || k.status === "trusted");

/**
 * The key to sign a device's loads and sync acks with: the newest key the device holds
 * that still signs (so a key update in the ack replaces the device's older key), else the
 * active key (a device that holds no signing key any more cannot be served: `issuer retire`
 * named it).
 */
export function signerForSlots(ks: Keystore, dev: DeviceRecord, slots: Slots): Signer {
  const keys = ks.keys();
  const held = keys.map((k, i) => ({ k, i })).filter(({ k }) => k.suite === dev.suite && signs(k) && slots.includes(k.kid));
  const pick = held.sort((a, b) => b.i - a.i)[0]?.k.kid;
  const k = pick ? ks.trustedKeyById(pick) : null;
  if (k) return k;
  const { kid, key } = ks.signingKey(dev.suite);
  return { suite: dev.suite, kid, key };
}

/** The trusted-key update the next sync ack carries: the active key, when the device lacks it. */
export function keyUpdateFor(ks: Keystore, dev: DeviceRecord, slots: Slots): { newKid: Uint8Array; newKey: Uint8Array } | undefined {
  const active = ks.trusted(dev.suite)[0];
  if (!active || slots.includes(active.kid)) return undefined;
  return { newKid: Buffer.from(active.kid, "hex"), newKey: Buffer.from(active.pub, "hex") };
}

export interface Dependent {
  deviceId: string;
  alias: string | null;
  slots: string[];
}

/**
 * Registered, non-revoked devices that hold `kid` and no other key that still signs: they
 * could not be sent a load or a sync ack once `kid` goes (a device that never synced since
 * a rotation is one).
 */
export async function dependentsOf(issuerKeys: readonly IssuerKeyPublic[], ledger: Ledger, kid: string): Promise<Dependent[]> {
  const keys = new Map(issuerKeys.map((k) => [k.kid, k]));
  const key = keys.get(kid);
  if (!key) return [];
  const out: Dependent[] = [];
  for (const d of await ledger.devices()) {
    if (d.revoked || d.state === "terminated" || d.suite !== key.suite) continue;
    const slots = slotsFrom(d, await ledger.syncAcks(d.deviceId));
    if (!slots.includes(kid)) continue;
    if (slots.some((k) => k !== null && k !== kid && signs(keys.get(k)))) continue;
    out.push({ deviceId: d.deviceId, alias: d.alias, slots: slots.filter((k): k is string => k !== null) });
  }
  return out;
}

/** How many registered, non-revoked devices hold each key (for `issuer show`). */
export async function holdersByKey(ledger: Ledger): Promise<Map<string, number>> {
  const n = new Map<string, number>();
  for (const d of await ledger.devices()) {
    if (d.revoked || d.state === "terminated") continue;
    for (const k of slotsFrom(d, await ledger.syncAcks(d.deviceId))) if (k) n.set(k, (n.get(k) ?? 0) + 1);
  }
  return n;
}

/** `issuer retire`: refused while devices depend on the key only, unless forced. */
export function retireKey(ks: Keystore, kid: string, dependents: readonly Dependent[], opts: { force?: boolean }): IssuerKeyPublic {
  if (dependents.length && !opts.force) {
    const names = dependents.map((d) => (d.alias ? `${d.alias} (${d.deviceId})` : d.deviceId));
    throw refused(
      `issuer retire: ${dependents.length} registered device(s) still depend on key ${kid} only: ${names.join(", ")}. ` +
        "Sync them first (`wallet sync`), revoke them, or retire with --force (they can then no longer be loaded or synced)",
    );
  }
  return ks.retire(kid);
}

/** The keys and revocations a POS verifies with (also what `issuer export-public` writes). */
export function posTrust(keys: readonly (Pick<IssuerKeyPublic, "kid" | "suite" | "pub"> & { status?: string })[], revoked: readonly string[]): { trusted: TrustedKey[]; revoked: Set<string> } {
  return {
    trusted: keys.filter((k) => k.status !== "compromised").map(({ kid, suite, pub }) => ({ kid, suite, pub })),
    revoked: new Set(revoked),
  };
}
