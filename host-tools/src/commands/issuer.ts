// `wallet issuer init | show | rotate | export-public` (DESIGN.md §6): the issuer keystore.
import { writeFileSync } from "node:fs";
import { register, ensureHome, type Ctx } from "./command.ts";
import { getPassphrase, Keystore, type IssuerKeyPublic } from "../keystore.ts";
import { table } from "../format.ts";
import { usageError } from "../errors.ts";
import { withLedger } from "./common.ts";

/** The ledger trusts what the keystore holds (public halves only), with an audit record. */
async function recordKeys(ctx: Ctx, action: string, keys: IssuerKeyPublic[], create = false): Promise<void> {
  await withLedger(
    ctx,
    (l) =>
      l.transaction(async () => {
        await l.putIssuerKeys(keys.map(({ kid, suite, pub, status }) => ({ kid, suite, pub, status })));
        await l.audit(action, { keys: keys.map((k) => `${k.suite}:${k.kid}:${k.status}`) });
      }),
    create,
  );
}
import type { SuiteName } from "../sig.ts";

const keyTable = (keys: IssuerKeyPublic[]) =>
  table(
    keys.map((k) => ({ ...k, pub: k.pub.slice(0, 18) + "…" })),
    ["suite", "kid", "status", "created", "pub"],
  );

export async function openKeystore(ctx: Ctx): Promise<Keystore> {
  return Keystore.open(ctx.keystorePath, await getPassphrase({ env: ctx.env }));
}

/** The trusted issuer public keys as written by export-public (POS terminals load this). */
export interface TrustFile {
  format: "offline-wallet-issuer-public";
  keys: { suite: SuiteName; kid: string; pub: string; status: string }[];
  revoked: string[];
  revocationVersion: number;
}

register(
  {
    name: "issuer init",
    summary: "create the keystore: SM2 and P-256 issuer CA keys and SCP03 master keys, encrypted with a passphrase",
    usage: "[--force]",
    options: { force: { type: "boolean", default: false } },
    examples: ["WALLET_PASSPHRASE=… wallet issuer init --home ./bank"],
    async run(ctx, _a, o) {
      ensureHome(ctx);
      const ks = Keystore.create(ctx.keystorePath, await getPassphrase({ confirm: true, env: ctx.env }), { force: !!o.force });
      const keys = ks.keys();
      await recordKeys(ctx, "issuer-init", keys, true);
      return { data: { keystore: ctx.keystorePath, keys }, text: `keystore created: ${ctx.keystorePath}\n${keyTable(keys)}` };
    },
  },
  {
    name: "issuer show",
    summary: "list issuer key ids, suites and status (no passphrase needed)",
    usage: "",
    async run(ctx) {
      const keys = Keystore.readPublic(ctx.keystorePath);
      return { data: { keystore: ctx.keystorePath, keys }, text: keyTable(keys) };
    },
  },
  {
    name: "issuer rotate",
    summary: "new active issuer key per suite; the previous one stays trusted, the one before is retired",
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
        keys: ks.keys().filter((k) => k.status !== "retired").map(({ suite, kid, pub, status }) => ({ suite, kid, pub, status })),
        revoked,
        revocationVersion,
      };
      const text = JSON.stringify(trust, null, 2) + "\n";
      if (o.out) writeFileSync(o.out as string, text);
      return { data: trust, text: o.out ? `wrote ${trust.keys.length} trusted keys to ${o.out}` : text };
    },
  },
);

export function parseSuite(s: string): SuiteName {
  const v = s.toLowerCase().replace(/[-_]/g, "");
  if (v === "sm2" || v === "sm2sm3sm4") return "sm2";
  if (v === "p256" || v === "p256sha256aes128") return "p256";
  throw usageError(`unknown suite "${s}" (sm2 or p256)`);
}
