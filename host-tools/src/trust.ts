// What is trusted when (SPEC §5.8 trusted-key update, §5.12 key states and
// validity): the one place that decides which issuer keys a device holds, which key signs
// for it, which new key its next sync acknowledgement carries, which devices still depend
// on a key, and which certificates a POS, load, sync or reconciliation accepts at a time.
// The rules (SPEC §5.12):
//  - active / trusted keys sign; a retired key signs nothing new, and what it signed before
//    stays valid (the bank still holds it: nothing was forged with it);
//  - a key revoked as compromised at time R: nothing it signed after R is trusted. A POS
//    cannot tell when a certificate was signed (its times are the signer's word), so it
//    refuses every certificate under that key; reconciliation has the bank's own record
//    of when it registered each certificate and trusts those registered before R;
//  - a certificate is valid from not-before to not-after: a POS judges it at its own time,
//    reconciliation judges each voucher at the voucher's time.
import { SYNCACK_SCHEMA, decodeSigned, CERT_SCHEMA, type DeviceCert, type SyncAck } from "../../protocol/src/formats.ts";
import { checkCert, hex, type Signer, type TrustedKey } from "./docs.ts";
import { refused } from "./errors.ts";
import type { IssuerKeyPublic, IssuerKeystore as Keystore } from "./keystore.ts";
import type { DeviceRecord, IssuerKeyRecord, Ledger, SyncAck as SyncAckRecord } from "./ledger/ledger.ts";

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

/** Ids of the keys revoked as compromised. */
export const compromisedKids = (keys: readonly { kid: string; status: string }[]): ReadonlySet<string> =>
  new Set(keys.filter((k) => k.status === "compromised").map((k) => k.kid));

/**
 * The device's slots from the ledger's evidence: personalization writes the certificate's
 * signing key into slot 0 (slot 1, an older key if any, is not recorded: counted as
 * unknown, which only ever makes `dependentsOf` more careful); then every applied sync ack,
 * in time order. An ack whose signing key the device was not known to hold was preceded by
 * the secure-channel repair of `sync` (PUT ISSUER KEY into the first slot holding a
 * compromised key): that slot now holds the signer. Then its trusted-key update, by the
 * firmware's rule (SPEC §5.8): the slot holding that kid, else an empty slot, else the slot
 * not holding the ack's signing key.
 */
export function slotsFrom(dev: DeviceRecord, acks: readonly SyncAckRecord[], compromised: ReadonlySet<string>): Slots {
  const slots: Slots = [certKid(dev), null];
  for (const a of [...acks].filter((x) => x.state === "applied").sort((x, y) => x.time - y.time)) {
    let s: { sign1: { kid: Uint8Array }; doc: SyncAck };
    try {
      s = decodeSigned<SyncAck>(a.ack, SYNCACK_SCHEMA);
    } catch {
      continue;
    }
    const signer = hex(s.sign1.kid);
    if (!slots.includes(signer)) {
      let r = slots.findIndex((k) => k !== null && compromised.has(k));
      if (r < 0) r = Math.max(0, slots.indexOf(null));
      slots[r] = signer;
    }
    if (!s.doc.newKid) continue;
    const nk = hex(s.doc.newKid);
    let i = slots.indexOf(nk);
    if (i < 0) i = slots.indexOf(null);
    if (i < 0) i = slots[0] === signer ? 1 : 0;
    slots[i] = nk;
  }
  return slots;
}

export async function deviceIssuerSlots(ledger: Ledger, dev: DeviceRecord): Promise<string[]> {
  return slotsFrom(dev, await ledger.syncAcks(dev.deviceId), compromisedKids(await ledger.issuerKeys())).filter((k): k is string => k !== null);
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
  const k = pick ? ks.signerById(pick) : null;
  return k ?? ks.signer(dev.suite);
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
    const slots = slotsFrom(d, await ledger.syncAcks(d.deviceId), compromisedKids(issuerKeys));
    if (!slots.includes(kid)) continue;
    if (slots.some((k) => k !== null && k !== kid && signs(keys.get(k)))) continue;
    out.push({ deviceId: d.deviceId, alias: d.alias, slots: slots.filter((k): k is string => k !== null) });
  }
  return out;
}

/** How many registered, non-revoked devices hold each key (for `issuer show`). */
export async function holdersByKey(ledger: Ledger): Promise<Map<string, number>> {
  const n = new Map<string, number>();
  const compromised = compromisedKids(await ledger.issuerKeys());
  for (const d of await ledger.devices()) {
    if (d.revoked || d.state === "terminated") continue;
    for (const k of slotsFrom(d, await ledger.syncAcks(d.deviceId), compromised)) if (k) n.set(k, (n.get(k) ?? 0) + 1);
  }
  return n;
}

/**
 * A slot the device must have rewritten over the secure channel before its sync (SPEC §5.12):
 * one holding a key revoked as compromised. The active key goes there (PUT ISSUER KEY), so a
 * stolen CA key can no longer sign for the device. Null when no slot holds a compromised key.
 */
export function compromisedSlot(ks: Keystore, slots: Slots): number | null {
  const status = new Map(ks.keys().map((k) => [k.kid, k.status]));
  const i = slots.findIndex((k) => k !== null && status.get(k) === "compromised");
  return i < 0 ? null : i;
}

/** Registered devices (not terminated) whose certificate `kid` signed: declined by every POS once it is compromised. */
export async function certifiedUnder(ledger: Ledger, kid: string): Promise<Dependent[]> {
  const out: Dependent[] = [];
  for (const d of await ledger.devices()) {
    if (d.state === "terminated" || certKid(d) !== kid) continue;
    out.push({ deviceId: d.deviceId, alias: d.alias, slots: (await deviceIssuerSlots(ledger, d)) });
  }
  return out;
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

const unix = (iso: string | undefined): number | null => (iso ? Math.floor(Date.parse(iso) / 1000) : null);
const iso = (t: number) => new Date(t * 1000).toISOString().replace(/\.000Z$/, "Z");

/** The keystore's keys as the ledger records them (states and the compromise time). */
export function ledgerKeys(keys: readonly IssuerKeyPublic[]): IssuerKeyRecord[] {
  return keys.map(({ kid, suite, pub, status, revokedAt }) => ({ kid, suite, pub, status, revokedAt: unix(revokedAt) }));
}

/** The keys and revocations a POS verifies with (from `issuer export-public`), states kept. */
export function posTrust(
  keys: readonly (Pick<IssuerKeyPublic, "kid" | "suite" | "pub"> & { status?: string; revokedAt?: string | number | null })[],
  revoked: readonly string[],
): { trusted: TrustedKey[]; revoked: Set<string> } {
  return {
    trusted: keys.map(({ kid, suite, pub, status, revokedAt }) => ({ kid, suite, pub, status, compromisedAt: typeof revokedAt === "string" ? unix(revokedAt) : (revokedAt ?? null) })),
    revoked: new Set(revoked),
  };
}

/** Why a certificate valid from `from` to `until` is not valid at `t` (null: it is). */
export function validityProblem(from: number, until: number, t: number): string | null {
  if (t < from) return `certificate not valid before ${iso(from)} (time ${iso(t)})`;
  if (t > until) return `certificate expired at ${iso(until)} (time ${iso(t)})`;
  return null;
}

const signerOf = (certCose: Uint8Array, trusted: readonly TrustedKey[]): TrustedKey | undefined => {
  try {
    const kid = hex(decodeSigned<DeviceCert>(certCose, CERT_SCHEMA).sign1.kid);
    return trusted.find((k) => k.kid === kid);
  } catch {
    return undefined;
  }
};

/**
 * A certificate presented to a POS (or read from a device at load) at time `t`: the chain
 * to an issuer key that is not compromised, and the validity period. The certificate or why not.
 */
export function certAt(certCose: Uint8Array, trusted: readonly TrustedKey[], t: number): DeviceCert | string {
  const c = checkCert(certCose, trusted);
  if (typeof c === "string") return c;
  const k = signerOf(certCose, trusted);
  if (k?.status === "compromised")
    return `certificate: issuer key ${k.kid} was revoked as compromised${k.compromisedAt ? ` at ${iso(k.compromisedAt)}` : ""}: the device must be recalled`;
  return validityProblem(c.notBefore, c.notAfter, t) ?? c;
}

/**
 * A registered certificate as reconciliation trusts it: the chain (any key state: the
 * registry is the bank's own record), and, under a key revoked as compromised, only when
 * the bank registered it before the revocation. The certificate or why not.
 */
export function registeredCert(certCose: Uint8Array, trusted: readonly TrustedKey[], registeredAt: number | null): DeviceCert | string {
  const c = checkCert(certCose, trusted);
  if (typeof c === "string") return c;
  const k = signerOf(certCose, trusted);
  if (k?.status === "compromised" && (registeredAt === null || k.compromisedAt == null || registeredAt > k.compromisedAt))
    return `certificate: issuer key ${k.kid} was revoked as compromised${k.compromisedAt ? ` at ${iso(k.compromisedAt)}` : ""}, before this certificate was registered`;
  return c;
}
