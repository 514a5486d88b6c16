// Issuer keystore (DESIGN.md §6, §9; host-tools/README.md "Commands").
// One JSON file, mode 0600. Secrets (issuer CA private keys for SM2 and P-256, SCP03
// master keys per suite) are sealed with AES-256-GCM under a key derived by scrypt from
// the passphrase. The public half (key ids, public keys, status) is stored in clear so
// `issuer show` needs no passphrase, and is bound to the ciphertext as GCM additional
// data: any change to it makes the next unlock fail. Files are written to a temporary
// name and renamed, so a failure never leaves a half-written keystore.
//
// Rotation keeps two keys trusted per suite (the device holds two issuer key slots,
// DESIGN.md §5): the new key becomes "active", the old active one "previous" (still
// trusted), and the one before that "retired" (kept for the record, no longer trusted).
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { authError, dataError, notFound, usageError, WalletError, EXIT_USAGE } from "./errors.ts";
import { generateKeyPair, keyId, SUITE_NAMES, type KeyPair, type SuiteName } from "./sig.ts";

export const KEYSTORE_FORMAT = "offline-wallet-keystore";
// scrypt cost: 2^15 × r 8 = 32 MiB, ≈ 0.1 s here; stored in the file so it can be raised later.
const SCRYPT = { N: 1 << 15, r: 8, p: 1 };
const MIN_PASSPHRASE = 8;

export type KeyStatus = "active" | "previous" | "retired";

export interface IssuerKeyPublic {
  suite: SuiteName;
  kid: string; // hex, 4 bytes (sig.ts keyId)
  pub: string; // hex, 65 bytes
  created: string; // ISO time
  status: KeyStatus;
}

export interface ScpMasterKeys {
  enc: Uint8Array;
  mac: Uint8Array;
  dek: Uint8Array;
}

interface Secrets {
  priv: Record<string, string>; // kid → private key hex
  scp: Record<SuiteName, { enc: string; mac: string; dek: string }>;
}

interface KeystoreFile {
  format: string;
  version: 1;
  kdf: { name: "scrypt"; N: number; r: number; p: number; salt: string };
  cipher: "aes-256-gcm";
  iv: string;
  tag: string;
  data: string;
  public: { created: string; keys: IssuerKeyPublic[] };
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const unb64 = (s: string) => Buffer.from(s, "base64");
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function deriveKey(passphrase: string, kdf: KeystoreFile["kdf"]): Buffer {
  return scryptSync(passphrase.normalize("NFC"), unb64(kdf.salt), 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r });
}

function readFile(path: string): KeystoreFile {
  if (!existsSync(path)) throw notFound(`keystore: ${path} not found (run \`wallet issuer init\` first)`);
  let f: KeystoreFile;
  try {
    f = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw dataError(`keystore: ${path} is not valid JSON`);
  }
  if (f?.format !== KEYSTORE_FORMAT || f.version !== 1 || f.kdf?.name !== "scrypt" || !Array.isArray(f.public?.keys))
    throw dataError(`keystore: ${path} is not a version 1 ${KEYSTORE_FORMAT} file`);
  return f;
}

/** An unlocked keystore: private keys in memory; `save()` reseals with the same passphrase. */
export class Keystore {
  private constructor(
    readonly path: string,
    private passphrase: string,
    private pub: KeystoreFile["public"],
    private secrets: Secrets,
  ) {}

  /** Creates a new keystore with one active key per suite and fresh SCP03 master keys. */
  static create(path: string, passphrase: string, opts: { force?: boolean } = {}): Keystore {
    if (existsSync(path) && !opts.force) throw new WalletError(`keystore: ${path} already exists (use --force to replace it)`, EXIT_USAGE);
    if (passphrase.length < MIN_PASSPHRASE) throw usageError(`passphrase must have at least ${MIN_PASSPHRASE} characters`);
    const scp = {} as Secrets["scp"];
    for (const s of SUITE_NAMES) scp[s] = { enc: hex(randomBytes(16)), mac: hex(randomBytes(16)), dek: hex(randomBytes(16)) };
    const ks = new Keystore(path, passphrase, { created: new Date().toISOString(), keys: [] }, { priv: {}, scp });
    for (const s of SUITE_NAMES) ks.addKey(s);
    ks.save();
    return ks;
  }

  static open(path: string, passphrase: string): Keystore {
    const f = readFile(path);
    let plain: Buffer;
    try {
      const d = createDecipheriv("aes-256-gcm", deriveKey(passphrase, f.kdf), unb64(f.iv));
      d.setAAD(Buffer.from(JSON.stringify(f.public)));
      d.setAuthTag(unb64(f.tag));
      plain = Buffer.concat([d.update(unb64(f.data)), d.final()]);
    } catch {
      throw authError(`keystore: wrong passphrase for ${path} (or the file was modified)`);
    }
    return new Keystore(path, passphrase, f.public, JSON.parse(plain.toString("utf8")));
  }

  /** Public part only, no passphrase needed (not authenticated until the next unlock). */
  static readPublic(path: string): IssuerKeyPublic[] {
    return readFile(path).public.keys;
  }

  save(): void {
    const kdf = { name: "scrypt" as const, ...SCRYPT, salt: b64(randomBytes(16)) };
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", deriveKey(this.passphrase, kdf), iv);
    c.setAAD(Buffer.from(JSON.stringify(this.pub)));
    const data = Buffer.concat([c.update(JSON.stringify(this.secrets), "utf8"), c.final()]);
    const f: KeystoreFile = {
      format: KEYSTORE_FORMAT,
      version: 1,
      kdf,
      cipher: "aes-256-gcm",
      iv: b64(iv),
      tag: b64(c.getAuthTag()),
      data: b64(data),
      public: this.pub,
    };
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(f, null, 2) + "\n", { mode: 0o600 });
    renameSync(tmp, this.path);
  }

  private addKey(suite: SuiteName): IssuerKeyPublic {
    const kp = generateKeyPair(suite);
    const k: IssuerKeyPublic = { suite, kid: hex(keyId(kp.pub)), pub: hex(kp.pub), created: new Date().toISOString(), status: "active" };
    this.pub.keys.push(k);
    this.secrets.priv[k.kid] = hex(kp.priv);
    return k;
  }

  /** New active key per suite; the old active stays trusted as "previous". Returns the new keys. */
  rotate(suites: readonly SuiteName[] = SUITE_NAMES): IssuerKeyPublic[] {
    const added: IssuerKeyPublic[] = [];
    for (const s of suites) {
      for (const k of this.pub.keys.filter((k) => k.suite === s)) {
        if (k.status === "previous") k.status = "retired";
        else if (k.status === "active") k.status = "previous";
      }
      added.push(this.addKey(s));
    }
    this.save();
    return added;
  }

  keys(): IssuerKeyPublic[] {
    return this.pub.keys.map((k) => ({ ...k }));
  }

  /** Trusted keys (active first, then previous) for a suite: what devices and POS accept. */
  trusted(suite: SuiteName): IssuerKeyPublic[] {
    return this.pub.keys.filter((k) => k.suite === suite && k.status !== "retired").sort((a, b) => (a.status === "active" ? -1 : b.status === "active" ? 1 : 0));
  }

  /** The active signing key of a suite. */
  signingKey(suite: SuiteName): { kid: Uint8Array; key: KeyPair } {
    const k = this.trusted(suite)[0];
    if (!k) throw notFound(`keystore: no active ${suite} issuer key`);
    return { kid: Buffer.from(k.kid, "hex"), key: { priv: Buffer.from(this.secrets.priv[k.kid], "hex"), pub: Buffer.from(k.pub, "hex") } };
  }

  /** A trusted (active or previous) key by id, or null when unknown or retired. */
  trustedKeyById(kid: string): { suite: SuiteName; kid: Uint8Array; key: KeyPair } | null {
    const k = this.pub.keys.find((x) => x.kid === kid && x.status !== "retired");
    if (!k) return null;
    return { suite: k.suite, kid: Buffer.from(k.kid, "hex"), key: { priv: Buffer.from(this.secrets.priv[k.kid], "hex"), pub: Buffer.from(k.pub, "hex") } };
  }

  scpMasterKeys(suite: SuiteName): ScpMasterKeys {
    const s = this.secrets.scp[suite];
    return { enc: Buffer.from(s.enc, "hex"), mac: Buffer.from(s.mac, "hex"), dek: Buffer.from(s.dek, "hex") };
  }
}

/** Passphrase from WALLET_PASSPHRASE, else a no-echo prompt on a terminal, else an auth error. */
export async function getPassphrase(opts: { confirm?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const env = opts.env ?? process.env;
  if (env.WALLET_PASSPHRASE !== undefined && env.WALLET_PASSPHRASE !== "") return env.WALLET_PASSPHRASE;
  if (!process.stdin.isTTY || !process.stderr.isTTY)
    throw authError("keystore: no passphrase (set WALLET_PASSPHRASE or run on a terminal to be prompted)");
  const first = await promptHidden("Keystore passphrase: ");
  if (opts.confirm && (await promptHidden("Repeat passphrase: ")) !== first) throw authError("keystore: passphrases do not match");
  return first;
}

function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let value = "";
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return done(null);
        if (ch === "\u0003") return done(authError("keystore: cancelled"));
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = (err: Error | null) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(value);
    };
    stdin.on("data", onData);
  });
}
