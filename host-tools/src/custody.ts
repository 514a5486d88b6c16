// Dual control of the issuer keystore (DESIGN.md §9): K of N
// custodians. At `issuer init --custodians N --threshold K` a random 32-byte secret becomes the
// keystore's passphrase and is split with Shamir's secret sharing (`shamir-secret-sharing`,
// GF(2^8), audited) into N shares, each written to its own file, mode 0600, to be handed to one
// custodian. Every command that unlocks the keystore then needs K share files
// (WALLET_SHARES=FILE:FILE:…, or asked for on a terminal): fewer than K are refused before
// anything is tried, and K shares of which one is wrong or foreign combine to another secret,
// which the keystore's AES-GCM tag refuses. The token PIN of a PKCS#11 keystore stays its own.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline/promises";
import { combine, split } from "shamir-secret-sharing";
import { authError, dataError, notFound, usageError, WalletError, EXIT_USAGE } from "./errors.ts";

export const SHARE_FORMAT = "offline-wallet-custodian-share";

export interface Custody {
  custodians: number;
  threshold: number;
  /** random id binding the shares to this keystore (a share of another keystore is named as such) */
  id: string;
}

interface ShareFile {
  format: typeof SHARE_FORMAT;
  version: 1;
  custody: Custody;
  index: number;
  share: string; // hex
}

const passphraseOf = (secret: Uint8Array) => `custody:${Buffer.from(secret).toString("hex")}`;

/** Checks N and K (2 ≤ K ≤ N ≤ 255: the package's bounds; K = 1 would be no dual control). */
export function custodyOptions(custodians: unknown, threshold: unknown): { custodians: number; threshold: number } | null {
  if (custodians === undefined && threshold === undefined) return null;
  const n = Number(custodians);
  const k = Number(threshold);
  if (!Number.isInteger(n) || !Number.isInteger(k) || k < 2 || n < k || n > 255)
    throw usageError(`--custodians N and --threshold K need whole numbers with 2 ≤ K ≤ N ≤ 255 (got N=${custodians}, K=${threshold})`);
  return { custodians: n, threshold: k };
}

/** Makes the passphrase and writes the N share files into `dir`; returns the passphrase and the files. */
export async function splitCustody(dir: string, o: { custodians: number; threshold: number }, force = false): Promise<{ passphrase: string; custody: Custody; files: string[] }> {
  const custody: Custody = { ...o, id: randomBytes(8).toString("hex") };
  const secret = new Uint8Array(randomBytes(32));
  const shares = await split(secret, o.custodians, o.threshold);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = shares.map((_, i) => join(dir, `custodian-${i + 1}-of-${o.custodians}.share.json`));
  const there = files.filter((f) => existsSync(f));
  if (there.length && !force) throw new WalletError(`custody: ${there[0]} already exists (use --force to replace the shares)`, EXIT_USAGE);
  shares.forEach((s, i) => {
    const f: ShareFile = { format: SHARE_FORMAT, version: 1, custody, index: i + 1, share: Buffer.from(s).toString("hex") };
    writeFileSync(files[i], JSON.stringify(f, null, 2) + "\n", { mode: 0o600 });
    chmodSync(files[i], 0o600); // the mode of an existing file is not changed by writeFileSync
  });
  return { passphrase: passphraseOf(secret), custody, files };
}

function readShare(path: string, custody: Custody): ShareFile {
  if (!existsSync(path)) throw notFound(`custody: share file ${path} not found`);
  let f: ShareFile;
  try {
    f = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw dataError(`custody: ${path} is not a share file`);
  }
  if (f?.format !== SHARE_FORMAT || f.version !== 1 || typeof f.share !== "string") throw dataError(`custody: ${path} is not a version 1 ${SHARE_FORMAT} file`);
  if (f.custody?.id !== custody.id) throw authError(`custody: ${path} is a share of another keystore`);
  return f;
}

/** The keystore passphrase from K share files: WALLET_SHARES (FILE:FILE:…), else asked for on a terminal. */
export async function passphraseFromShares(custody: Custody, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  let paths = (env.WALLET_SHARES ?? "").split(delimiter).filter(Boolean);
  if (!paths.length) {
    if (!process.stdin.isTTY || !process.stderr.isTTY)
      throw authError(`custody: this keystore needs ${custody.threshold} of its ${custody.custodians} custodian shares (set WALLET_SHARES=FILE${delimiter}FILE… or run on a terminal)`);
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      for (let i = 1; i <= custody.threshold; i++) paths.push((await rl.question(`Custodian share file ${i} of ${custody.threshold}: `)).trim());
    } finally {
      rl.close();
    }
  }
  const byIndex = new Map<number, ShareFile>();
  for (const p of paths) {
    const f = readShare(p, custody);
    byIndex.set(f.index, f);
  }
  if (byIndex.size < custody.threshold)
    throw authError(`custody: ${byIndex.size} distinct custodian share(s) given, ${custody.threshold} of ${custody.custodians} needed`);
  const secret = await combine([...byIndex.values()].slice(0, custody.threshold).map((f) => new Uint8Array(Buffer.from(f.share, "hex"))));
  return passphraseOf(secret);
}
