// `wallet issuer init | show | rotate | retire | export-public` (DESIGN.md §6, §9; SPEC §5.12): the issuer
// keystore and its keys' states (active, trusted, retired, compromised; trust.ts decides
// what each state means for devices, POS and reconciliation).
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { register, ensureHome, type Ctx } from "./command.ts";
import { getPassphrase, getPkcs11Pin, Keystore, SM2_NOTE, type IssuerKeyPublic, type IssuerKeystore } from "../keystore.ts";
import { table } from "../format.ts";
import { usageError, WalletError, EXIT_USAGE } from "../errors.ts";
import { withLedger, deviceName } from "./common.ts";
import { custodyOptions, passphraseFromShares, splitCustody } from "../custody.ts";
import { certifiedUnder, dependentsOf, holdersByKey, ledgerKeys, retireKey } from "../trust.ts";

/** The ledger trusts what the keystore holds (public halves only), with an audit record. */
async function recordKeys(ctx: Ctx, action: string, keys: IssuerKeyPublic[], create = false): Promise<void> {
  await withLedger(
    ctx,
    (l) =>
      l.transaction(async () => {
        await l.putIssuerKeys(ledgerKeys(keys));
        await l.audit(action, { keys: keys.map((k) => `${k.suite}:${k.kid}:${k.status}`) });
      }),
    create,
  );
}
import type { SuiteName } from "../sig.ts";

const keyTable = (keys: (IssuerKeyPublic & { devices?: number; dependOnly?: number })[]) =>
  table(
    keys.map((k) => ({ ...k, pub: k.pub.slice(0, 18) + "…", devices: k.devices ?? "", "only key of": k.dependOnly ?? "" })),
    ["suite", "kid", "status", "created", "devices", "only key of", "pub"],
  );

/** Keys with how many registered, non-revoked devices hold each, and how many hold it as their only signing key. */
async function keysWithDevices(ctx: Ctx, keys: IssuerKeyPublic[]) {
  if (!existsSync(ctx.ledgerPath)) return keys;
  return withLedger(ctx, async (l) => {
    const holders = await holdersByKey(l);
    const out = [];
    for (const k of keys) out.push({ ...k, devices: holders.get(k.kid) ?? 0, dependOnly: (await dependentsOf(keys, l, k.kid)).length });
    return out;
  });
}

/** The issuer keystore, whichever backend holds its keys: every command goes through this. */
export async function openKeystore(ctx: Ctx): Promise<IssuerKeystore> {
  const custody = Keystore.custodyOf(ctx.keystorePath);
  const passphrase = custody ? await passphraseFromShares(custody, ctx.env) : await getPassphrase({ env: ctx.env });
  if (!Keystore.pkcs11Of(ctx.keystorePath)) return Keystore.open(ctx.keystorePath, passphrase);
  // the binding is loaded only for a keystore that names a token
  const { TokenKeystore } = await import("../keystore-pkcs11.ts");
  return TokenKeystore.open(ctx.keystorePath, passphrase, await getPkcs11Pin(ctx.env));
}

/** Where the keys live, for `issuer init` and `issuer show` (one line per fact). */
function notesOf(path: string): string[] {
  const ref = Keystore.pkcs11Of(path);
  const custody = Keystore.custodyOf(path);
  return [
    ...(ref ? [`P-256 CA keys and P-256 SCP03 master keys: in PKCS#11 token "${ref.tokenLabel}" (${ref.module}), non-extractable`, SM2_NOTE] : []),
    ...(custody ? [`dual control: ${custody.threshold} of ${custody.custodians} custodian shares unlock the keystore`] : []),
  ];
}

/** The trusted issuer public keys as written by export-public (POS terminals load this). */
export interface TrustFile {
  format: "offline-wallet-issuer-public";
  keys: { suite: SuiteName; kid: string; pub: string; status: string; retiredAt?: string; revokedAt?: string }[];
  revoked: string[];
  revocationVersion: number;
}

register(
  {
    name: "issuer init",
    summary: "create the keystore: SM2 and P-256 issuer CA keys and SCP03 master keys, encrypted with a passphrase (P-256 in a PKCS#11 token with --pkcs11)",
    usage: "[--force] [--pkcs11 MODULE --token-label LABEL] [--custodians N --threshold K [--shares-dir DIR]]",
    options: {
      force: { type: "boolean", default: false }, pkcs11: { type: "string" }, "token-label": { type: "string" },
      custodians: { type: "string" }, threshold: { type: "string" }, "shares-dir": { type: "string" },
    },
    optionHelp: {
      custodians: "dual control: the keystore's passphrase is split into N custodian shares (with --threshold K); 2 to 255",
      threshold: "how many custodian shares unlock the keystore, 2 to N (commands take them from $WALLET_SHARES=FILE:FILE…)",
      "shares-dir": "where the N share files (mode 0600) are written, one per custodian (default HOME/custodians)",
      pkcs11: "PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so): the P-256 CA key and SCP03 master keys are generated in its token; PIN from $WALLET_PKCS11_PIN",
      "token-label": "label of the initialized token to use (with --pkcs11)",
    },
    examples: ["WALLET_PASSPHRASE=… wallet issuer init --home ./bank", "WALLET_PKCS11_PIN=… wallet issuer init --pkcs11 /usr/lib/softhsm/libsofthsm2.so --token-label bank-ca"],
    async run(ctx, _a, o) {
      if ((o.pkcs11 === undefined) !== (o["token-label"] === undefined)) throw usageError("--pkcs11 MODULE and --token-label LABEL go together");
      const split = custodyOptions(o.custodians, o.threshold);
      if (existsSync(ctx.keystorePath) && !o.force) throw new WalletError(`keystore: ${ctx.keystorePath} already exists (use --force to replace it)`, EXIT_USAGE);
      ensureHome(ctx);
      const c = split ? await splitCustody((o["shares-dir"] as string) ?? join(ctx.home, "custodians"), split, !!o.force) : null;
      const passphrase = c ? c.passphrase : await getPassphrase({ confirm: true, env: ctx.env });
      let ks: IssuerKeystore;
      if (o.pkcs11) {
        const { TokenKeystore } = await import("../keystore-pkcs11.ts");
        ks = TokenKeystore.create(ctx.keystorePath, passphrase, { module: String(o.pkcs11), tokenLabel: String(o["token-label"]), pin: await getPkcs11Pin(ctx.env), force: !!o.force, custody: c?.custody });
      } else ks = Keystore.create(ctx.keystorePath, passphrase, { force: !!o.force, custody: c?.custody });
      const keys = ks.keys();
      const notes = [...ks.notes(), ...(c ? [`dual control: ${c.custody.threshold} of ${c.custody.custodians} custodian shares unlock the keystore; hand each file to its custodian: ${c.files.join(", ")}`] : [])];
      ks.close();
      await recordKeys(ctx, "issuer-init", keys, true);
      return { data: { keystore: ctx.keystorePath, backend: ks.backend, keys, notes, shares: c?.files ?? [] }, text: [`keystore created: ${ctx.keystorePath}`, ...notes, keyTable(keys)].join("\n") };
    },
  },
  {
    name: "issuer show",
    summary: "list issuer keys: suite, id, state (active, trusted, retired, compromised), devices holding each (no passphrase needed)",
    usage: "",
    async run(ctx) {
      const keys = await keysWithDevices(ctx, Keystore.readPublic(ctx.keystorePath));
      const notes = notesOf(ctx.keystorePath);
      return { data: { keystore: ctx.keystorePath, keys, notes }, text: [...notes, keyTable(keys)].join("\n") };
    },
  },
  {
    name: "issuer rotate",
    summary: "new active issuer key per suite; the old ones stay trusted (devices learn the new key at their next sync) until `issuer retire`",
    usage: "[--suite sm2|p256]",
    options: { suite: { type: "string" } },
    async run(ctx, _a, o) {
      const ks = await openKeystore(ctx);
      const suites = o.suite ? [parseSuite(o.suite as string)] : undefined;
      const added = ks.rotate(suites);
      await recordKeys(ctx, "issuer-rotate", ks.keys());
      return { data: { added, keys: ks.keys() }, text: `rotated: ${added.map((k) => `${k.suite} ${k.kid}`).join(", ")}\n${keyTable(ks.keys())}` };
    },
  },
  {
    name: "issuer retire",
    summary: "stop trusting an issuer key for new documents; refused while registered devices hold no other signing key (lists them) unless --force",
    usage: "KID [--force]",
    args: [1, 1],
    options: { force: { type: "boolean", default: false } },
    optionHelp: { force: "retire even though the listed devices then can no longer be loaded or synced" },
    examples: ["wallet issuer retire 1a2b3c4d", "wallet issuer retire 1a2b3c4d --force"],
    async run(ctx, a, o) {
      const ks = await openKeystore(ctx);
      const kid = String(a[0]).toLowerCase();
      const deps = await withLedger(ctx, (l) => dependentsOf(ks.keys(), l, kid));
      const retired = retireKey(ks, kid, deps, { force: !!o.force });
      await recordKeys(ctx, "issuer-retire", ks.keys());
      if (deps.length) await withLedger(ctx, (l) => l.audit("issuer-retire-forced", { kid, devices: deps.map((d) => d.deviceId) }));
      const text = `retired ${retired.suite} ${retired.kid}` + (deps.length ? `\nforced: ${deps.length} device(s) can no longer be loaded or synced: ${deps.map(deviceName).join(", ")}` : "");
      return { data: { retired, forcedDevices: deps, keys: ks.keys() }, text: `${text}\n${keyTable(ks.keys())}` };
    },
  },
  {
    name: "issuer revoke-key",
    summary: "revoke a compromised issuer key: nothing it signed after --since (default now) is trusted; lists the devices to recall",
    usage: "KID [--since ISO-TIME]",
    args: [1, 1],
    options: { since: { type: "string" } },
    optionHelp: { since: "when the key is known to be compromised, an ISO time (default now): nothing it signed after is trusted" },
    examples: ["wallet issuer revoke-key 1a2b3c4d", "wallet issuer revoke-key 1a2b3c4d --since 2026-11-30T08:00:00Z"],
    async run(ctx, a, o) {
      const since = o.since === undefined ? new Date() : new Date(String(o.since));
      if (Number.isNaN(since.getTime())) throw usageError(`--since must be an ISO time (2026-11-30T08:00:00Z), got "${o.since}"`);
      if (since.getTime() > Date.now()) throw usageError("--since cannot be in the future");
      const ks = await openKeystore(ctx);
      const kid = String(a[0]).toLowerCase();
      const { revoked, added } = ks.revokeKey(kid, since);
      await recordKeys(ctx, "issuer-revoke-key", ks.keys());
      const { recall, holders } = await withLedger(ctx, async (l) => {
        const recall = await certifiedUnder(l, kid);
        const holders = (await l.devices()).length ? await holdersByKey(l) : new Map<string, number>();
        await l.audit("issuer-revoke-key-devices", { kid, since: since.toISOString(), recall: recall.map((d) => d.deviceId) });
        return { recall, holders: holders.get(kid) ?? 0 };
      });
      const lines = [
        `revoked ${revoked.suite} ${revoked.kid} as compromised since ${revoked.revokedAt}: nothing it signed after that is trusted`,
        added ? `new active ${added.suite} key: ${added.kid} (run \`wallet issuer export-public\` and update every POS)` : "",
        `${holders} device(s) hold it: their next \`wallet sync\` replaces it over the secure channel`,
        recall.length
          ? `${recall.length} device(s) certified under it are declined by every POS; recall them: ${recall.map(deviceName).join(", ")}`
          : "no device is certified under it",
      ].filter(Boolean);
      return { data: { revoked, added, recall, holders, keys: ks.keys() }, text: lines.join("\n") };
    },
  },
  {
    name: "issuer export-public",
    summary: "write the trusted issuer public keys (for POS terminals and reconciliation)",
    usage: "[--out FILE]",
    options: { out: { type: "string" } },
    async run(ctx, _a, o) {
      const ks = await openKeystore(ctx); // unlocking authenticates the public part
      // POS terminals get the revocation list with the keys (`wallet pos init --trust`)
      const { revoked, revocationVersion } = await withLedger(ctx, async (l) => ({ revoked: await l.revokedIds(), revocationVersion: await l.revocationVersion() }));
      const trust: TrustFile = {
        format: "offline-wallet-issuer-public",
        // every key with its state: a retired key still vouches for what it signed before, a
        // compromised one is listed so that a POS names it when it refuses (trust.ts)
        keys: ks.keys().map(({ suite, kid, pub, status, retiredAt, revokedAt }) => ({ suite, kid, pub, status, ...(retiredAt && { retiredAt }), ...(revokedAt && { revokedAt }) })),
        revoked,
        revocationVersion,
      };
      const text = JSON.stringify(trust, null, 2) + "\n";
      if (o.out) writeFileSync(o.out as string, text);
      return { data: trust, text: o.out ? `wrote ${trust.keys.length} issuer keys to ${o.out}` : text };
    },
  },
);

export function parseSuite(s: string): SuiteName {
  const v = s.toLowerCase().replace(/[-_]/g, "");
  if (v === "sm2" || v === "sm2sm3sm4") return "sm2";
  if (v === "p256" || v === "p256sha256aes128") return "p256";
  throw usageError(`unknown suite "${s}" (sm2 or p256)`);
}
