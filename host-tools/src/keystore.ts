// Issuer keystore (DESIGN.md §6, §9; host-tools/README.md "Commands").
// One JSON file, mode 0600. Secrets (issuer CA private keys for SM2 and P-256, SCP03
// master keys per suite) are sealed with AES-256-GCM under a key derived by scrypt from
// the passphrase. The public half (key ids, public keys, status) is stored in clear so
// `issuer show` needs no passphrase, and is bound to the ciphertext as GCM additional
// data: any change to it makes the next unlock fail. Files are written to a temporary
// name and renamed, so a failure never leaves a half-written keystore.
//
// Key states (SPEC §5.12): `rotate` makes a new "active" key per suite and the old
// active one "trusted" (it still signs for devices that do not know the new key yet; a sync
// tells them, SPEC §5.8). `retire` makes a trusted key "retired": it signs nothing new, and
// what it signed before stays valid. `revokeKey` makes a key "compromised": nothing it signed
// after the revocation time is trusted. Which key a device holds and what is trusted when is
// decided in trust.ts. A file written before these states had "previous" for "trusted".
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { authError, dataError, notFound, usageError, WalletError, EXIT_USAGE } from "./errors.ts";
import { hex } from "../../protocol/src/bytes.ts";
import { diversifyKeys, type ScpKeys } from "../../protocol/src/scp03.ts";
import { suiteId, type Signer } from "./docs.ts";
import type { Custody } from "./custody.ts";
import { generateKeyPair, keyId, SUITE_NAMES, type KeyPair, type SuiteName } from "./sig.ts";

export const KEYSTORE_FORMAT = "offline-wallet-keystore";
// scrypt cost: 2^15 × r 8 = 32 MiB, ≈ 0.1 s here; stored in the file so it can be raised later.
const SCRYPT = { N: 1 << 15, r: 8, p: 1 };
const MIN_PASSPHRASE = 8;

export type KeyStatus = "active" | "trusted" | "retired" | "compromised";

export interface IssuerKeyPublic {
  suite: SuiteName;
  kid: string; // hex, 4 bytes (sig.ts keyId)
  pub: string; // hex, 65 bytes
  created: string; // ISO time
  status: KeyStatus;
  /** ISO time the key was retired (status retired) */
  retiredAt?: string;
  /** ISO time of the compromise revocation (status compromised): nothing it signed after is trusted */
  revokedAt?: string;
}

/**
 * The one interface every command uses for issuer keys, whatever holds them: this file
 * keystore, or a PKCS#11 token (keystore-pkcs11.ts, the only module that imports the
 * binding). Private keys and SCP03 master keys never cross it: it signs, and it gives the
 * per-device diversified SCP03 keys a session needs.
 */
export interface IssuerKeystore {
  readonly path: string;
  /** "file", or "pkcs11" (P-256 in the token, SM2 in the file: `notes()` says so) */
  readonly backend: "file" | "pkcs11";
  keys(): IssuerKeyPublic[];
  /** keys that still sign, active first then trusted, newest first */
  trusted(suite: SuiteName): IssuerKeyPublic[];
  /** the active key of a suite */
  signer(suite: SuiteName): Signer;
  /** an active or trusted key by id; null when unknown, retired or compromised */
  signerById(kid: string): Signer | null;
  /** a device's static SCP03 keys, diversified from the suite's master keys (SPEC §9) */
  deviceScpKeys(suite: SuiteName, deviceId: Uint8Array): ScpKeys;
  rotate(suites?: readonly SuiteName[]): IssuerKeyPublic[];
  retire(kid: string, at?: Date): IssuerKeyPublic;
  revokeKey(kid: string, at?: Date): { revoked: IssuerKeyPublic; added: IssuerKeyPublic | null };
  /** one line per thing the operator should know about where keys live */
  notes(): string[];
  close(): void;
}

/** Where a keystore's P-256 keys live when they are in a token (the public part of the file). */
export interface Pkcs11Ref {
  module: string;
  tokenLabel: string;
  /** suites whose CA keys and SCP03 master keys are in the token */
  suites: SuiteName[];
}

/** Generates a CA key pair elsewhere (in a token) and returns its public key 04‖x‖y. */
export type ExternalKeyGen = (suite: SuiteName) => Uint8Array | undefined;

export interface ScpMasterKeys {
  enc: Uint8Array;
  mac: Uint8Array;
  dek: Uint8Array;
}

interface Secrets {
  priv: Record<string, string>; // kid → private key hex (absent: the key is in the token)
  scp: Partial<Record<SuiteName, { enc: string; mac: string; dek: string }>>; // absent suite: in the token
}

interface KeystoreFile {
  format: string;
  version: 1;
  kdf: { name: "scrypt"; N: number; r: number; p: number; salt: string };
  cipher: "aes-256-gcm";
  iv: string;
  tag: string;
  data: string;
  public: { created: string; keys: IssuerKeyPublic[]; pkcs11?: Pkcs11Ref; custody?: Custody };
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const unb64 = (s: string) => Buffer.from(s, "base64");

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

/** The public part as used in memory: the old name "previous" is read as "trusted". */
const migrated = (pub: KeystoreFile["public"]): KeystoreFile["public"] => ({
  ...pub,
  keys: pub.keys.map((k) => ((k.status as string) === "previous" ? { ...k, status: "trusted" } : k)),
});

/** An unlocked file keystore: private keys in memory; `save()` reseals with the same passphrase. */
export class Keystore implements IssuerKeystore {
  readonly backend = "file" as const;
  private constructor(
    readonly path: string,
    private passphrase: string,
    private pub: KeystoreFile["public"],
    private secrets: Secrets,
  ) {}

  /** Creates a new keystore with one active key per suite and fresh SCP03 master keys; with
   * `pkcs11`, the suites it names have their CA key made by `external` and their SCP03 master
   * keys in the token (nothing secret of theirs in this file). */
  static create(path: string, passphrase: string, opts: { force?: boolean; pkcs11?: Pkcs11Ref; external?: ExternalKeyGen; custody?: Custody } = {}): Keystore {
    if (existsSync(path) && !opts.force) throw new WalletError(`keystore: ${path} already exists (use --force to replace it)`, EXIT_USAGE);
    if (passphrase.length < MIN_PASSPHRASE) throw usageError(`passphrase must have at least ${MIN_PASSPHRASE} characters`);
    const inToken = new Set(opts.pkcs11?.suites ?? []);
    const scp: Secrets["scp"] = {};
    for (const s of SUITE_NAMES) if (!inToken.has(s)) scp[s] = { enc: hex(randomBytes(16)), mac: hex(randomBytes(16)), dek: hex(randomBytes(16)) };
    const pub: KeystoreFile["public"] = { created: new Date().toISOString(), keys: [], ...(opts.pkcs11 && { pkcs11: opts.pkcs11 }), ...(opts.custody && { custody: opts.custody }) };
    const ks = new Keystore(path, passphrase, pub, { priv: {}, scp });
    for (const s of SUITE_NAMES) ks.addKey(s, inToken.has(s) ? opts.external : undefined);
    ks.save();
    return ks;
  }

  /** K-of-N custody of the passphrase, if any (custody.ts; from the public part). */
  static custodyOf(path: string): Custody | undefined {
    return readFile(path).public.custody;
  }

  /** The token this keystore's P-256 keys live in, if any (from the public part). */
  static pkcs11Of(path: string): Pkcs11Ref | undefined {
    return readFile(path).public.pkcs11;
  }

  get pkcs11(): Pkcs11Ref | undefined {
    return this.pub.pkcs11;
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
    return new Keystore(path, passphrase, migrated(f.public), JSON.parse(plain.toString("utf8")));
  }

  /** Public part only, no passphrase needed (not authenticated until the next unlock). */
  static readPublic(path: string): IssuerKeyPublic[] {
    return migrated(readFile(path).public).keys;
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

  /** A new active key: generated here, or by `external` (a token; only its public key is kept here). */
  private addKey(suite: SuiteName, external?: ExternalKeyGen): IssuerKeyPublic {
    const extPub = external?.(suite);
    const kp = extPub ? null : generateKeyPair(suite);
    const pub = extPub ?? kp!.pub;
    const k: IssuerKeyPublic = { suite, kid: hex(keyId(pub)), pub: hex(pub), created: new Date().toISOString(), status: "active" };
    this.pub.keys.push(k);
    if (kp) this.secrets.priv[k.kid] = hex(kp.priv);
    return k;
  }

  /** New active key per suite; the old active one stays "trusted" until retired. Returns the new keys. */
  rotate(suites: readonly SuiteName[] = SUITE_NAMES, external?: ExternalKeyGen): IssuerKeyPublic[] {
    const added: IssuerKeyPublic[] = [];
    for (const s of suites) {
      for (const k of this.pub.keys.filter((k) => k.suite === s)) if (k.status === "active") k.status = "trusted";
      added.push(this.addKey(s, this.inToken(s) ? external : undefined));
    }
    this.save();
    return added;
  }

  private find(kid: string): IssuerKeyPublic {
    const k = this.pub.keys.find((x) => x.kid === kid.toLowerCase());
    if (!k) throw notFound(`keystore: no issuer key ${kid} (see \`wallet issuer show\`)`);
    return k;
  }

  /** Trusted → retired (the active key cannot be retired: rotate first). Who still depends on it is trust.ts's question. */
  retire(kid: string, at = new Date()): IssuerKeyPublic {
    const k = this.find(kid);
    if (k.status === "active") throw usageError(`keystore: ${k.kid} is the active ${k.suite} key: rotate first (\`wallet issuer rotate --suite ${k.suite}\`)`);
    if (k.status === "compromised") throw usageError(`keystore: ${k.kid} is already revoked as compromised`);
    if (k.status !== "retired") Object.assign(k, { status: "retired", retiredAt: at.toISOString() });
    this.save();
    return { ...k };
  }

  /** Any state → compromised at `at`; a compromised active key is replaced by a new active one. */
  revokeKey(kid: string, at = new Date(), external?: ExternalKeyGen): { revoked: IssuerKeyPublic; added: IssuerKeyPublic | null } {
    const k = this.find(kid);
    const wasActive = k.status === "active";
    if (k.status !== "compromised") Object.assign(k, { status: "compromised", revokedAt: at.toISOString() });
    const added = wasActive ? this.addKey(k.suite, this.inToken(k.suite) ? external : undefined) : null;
    this.save();
    return { revoked: { ...k }, added };
  }

  keys(): IssuerKeyPublic[] {
    return this.pub.keys.map((k) => ({ ...k }));
  }

  /** Keys that still sign (active first, then trusted, newest first) for a suite: what a new device is given. */
  trusted(suite: SuiteName): IssuerKeyPublic[] {
    const order = this.pub.keys.filter((k) => k.suite === suite && (k.status === "active" || k.status === "trusted"));
    return order.reverse().sort((a, b) => (a.status === "active" ? -1 : b.status === "active" ? 1 : 0));
  }

  /** The active signing key of a suite. */
  signingKey(suite: SuiteName): { kid: Uint8Array; key: KeyPair } {
    const k = this.trusted(suite)[0];
    if (!k) throw notFound(`keystore: no active ${suite} issuer key`);
    return { kid: Buffer.from(k.kid, "hex"), key: this.pair(k) };
  }

  /** A key that still signs (active or trusted) by id, or null when unknown, retired or compromised. */
  trustedKeyById(kid: string): { suite: SuiteName; kid: Uint8Array; key: KeyPair } | null {
    const k = this.pub.keys.find((x) => x.kid === kid && (x.status === "active" || x.status === "trusted"));
    if (!k) return null;
    return { suite: k.suite, kid: Buffer.from(k.kid, "hex"), key: this.pair(k) };
  }

  private pair(k: IssuerKeyPublic): KeyPair {
    const priv = this.secrets.priv[k.kid];
    if (priv === undefined) throw notFound(`keystore: the private key of ${k.suite} ${k.kid} is in the token ${this.pub.pkcs11?.tokenLabel ?? ""}, not in this file`);
    return { priv: Buffer.from(priv, "hex"), pub: Buffer.from(k.pub, "hex") };
  }

  scpMasterKeys(suite: SuiteName): ScpMasterKeys {
    const s = this.secrets.scp[suite];
    if (!s) throw notFound(`keystore: the ${suite} SCP03 master keys are in the token ${this.pub.pkcs11?.tokenLabel ?? ""}`);
    return { enc: Buffer.from(s.enc, "hex"), mac: Buffer.from(s.mac, "hex"), dek: Buffer.from(s.dek, "hex") };
  }

  /** True when the suite's CA keys and SCP03 master keys are in the token (not in this file). */
  inToken(suite: SuiteName): boolean {
    return !!this.pub.pkcs11?.suites.includes(suite);
  }

  // ---- IssuerKeystore ----
  signer(suite: SuiteName): Signer {
    const { kid, key } = this.signingKey(suite);
    return { suite, kid, key };
  }

  signerById(kid: string): Signer | null {
    return this.trustedKeyById(kid);
  }

  deviceScpKeys(suite: SuiteName, deviceId: Uint8Array): ScpKeys {
    return diversifyKeys(this.scpMasterKeys(suite), deviceId, suiteId(suite));
  }

  notes(): string[] {
    return [];
  }

  close(): void {}
}

/** What `issuer init --pkcs11` and `issuer show` say about the suite a token cannot hold. */
export const SM2_NOTE = "SM2: the token offers no SM2 or SM4 mechanism; the SM2 CA key and the SM2 SCP03 master keys stay in the keystore file (sealed with the passphrase)";

/** The token PIN from WALLET_PKCS11_PIN, else a no-echo prompt on a terminal, else an auth error. */
export async function getPkcs11Pin(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.WALLET_PKCS11_PIN !== undefined && env.WALLET_PKCS11_PIN !== "") return env.WALLET_PKCS11_PIN;
  if (!process.stdin.isTTY || !process.stderr.isTTY) throw authError("pkcs11: no token PIN (set WALLET_PKCS11_PIN or run on a terminal to be prompted)");
  return promptHidden("Token PIN: ");
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
