// Issuer keys in a PKCS#11 token (DESIGN.md §9; SoftHSM2 in tests): the
// IssuerKeystore of keystore.ts with the P-256 CA keys and the P-256 suite's SCP03 master keys
// generated inside the token, sensitive and non-extractable. The only module that imports the
// PKCS#11 binding (pkcs11js). What leaves the token, and why (host-tools/README "Keys in a token"):
//  - CA public keys (CKA_EC_POINT): they go into certificates' trust, devices and POS trust files;
//  - signatures (CKM_ECDSA over the SHA-256 digest of the COSE Sig_structure), brought to
//    low-S here (SPEC §5.1: verifiers refuse s > n/2);
//  - per-device SCP03 static keys, diversified by the token's CKM_AES_CMAC under a master key
//    (SPEC §9 KDF): the host needs them in memory for the SCP03 session with that one device
//    (session keys, C-MAC, PUT KEY encryption); they are never written anywhere.
// The suite the token cannot serve stays in the file keystore beside it: SoftHSM2 (and most
// HSMs) have no SM2 and no SM4, so the SM2 CA key and the SM2 suite's SCP03 master keys
// (SM4-CMAC) are sealed in the keystore file with the passphrase; `notes()` says so. The key
// list, states and the token reference are the file's public part, as with the file backend.
import { createHash } from "node:crypto";
import * as pkcs11js from "pkcs11js";
import { diversifyKeysWith, type ScpKeys } from "../../protocol/src/scp03.ts";
import type { Custody } from "./custody.ts";
import type { Signer } from "./docs.ts";
import { authError, dataError, notFound } from "./errors.ts";
import { Keystore, SM2_NOTE, type ExternalKeyGen, type IssuerKeyPublic, type IssuerKeystore, type Pkcs11Ref } from "./keystore.ts";
import { keyId, toLowS, type SuiteName } from "./sig.ts";

/** DER OID of P-256 (secp256r1, 1.2.840.10045.3.1.7): CKA_EC_PARAMS. */
const P256_PARAMS = Buffer.from("06082a8648ce3d030107", "hex");
const LABEL_CA = "wallet-ca-p256";
const SCP_LABELS = { enc: "wallet-scp-p256-enc", mac: "wallet-scp-p256-mac", dek: "wallet-scp-p256-dek" } as const;
/** Suites a token holds: what PKCS#11 v2.40 mechanisms give (ECDSA on P-256, AES-CMAC). */
const TOKEN_SUITES: SuiteName[] = ["p256"];

/** One loaded, initialized library per module path and process (C_Initialize may run only once;
 * C_Finalize at exit), shared by every keystore opened in the process. */
const libraries = new Map<string, pkcs11js.PKCS11>();
function library(module: string): pkcs11js.PKCS11 {
  let p11 = libraries.get(module);
  if (p11) return p11;
  p11 = new pkcs11js.PKCS11();
  try {
    p11.load(module);
  } catch (e) {
    throw notFound(`pkcs11: cannot load module ${module} (${(e as Error).message})`);
  }
  p11.C_Initialize();
  const lib = p11;
  process.once("exit", () => {
    try {
      lib.C_Finalize();
    } catch {
      // already finalized
    }
  });
  libraries.set(module, p11);
  return p11;
}

/** An open, logged-in session on the token labelled `label`. */
class Token {
  private constructor(
    readonly p11: pkcs11js.PKCS11,
    readonly session: Buffer,
  ) {}

  static open(module: string, label: string, pin: string): Token {
    const p11 = library(module);
    const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === label);
    if (!slot) throw notFound(`pkcs11: no token labelled "${label}" in ${module}`);
    const session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      p11.C_Login(session, pkcs11js.CKU_USER, pin);
    } catch (e) {
      // the login is the application's, shared by its sessions: another keystore of this process has it
      if (/CKR_USER_ALREADY_LOGGED_IN/.test((e as Error).message)) return new Token(p11, session);
      p11.C_CloseSession(session);
      throw authError(`pkcs11: login to token "${label}" refused (${(e as Error).message}): check WALLET_PKCS11_PIN`);
    }
    return new Token(p11, session);
  }

  /** Closes this session; closing the application's last session logs it out (PKCS#11 v2.40 §5.6). */
  close(): void {
    this.p11.C_CloseSession(this.session);
  }

  find(template: pkcs11js.Template): Buffer[] {
    this.p11.C_FindObjectsInit(this.session, template);
    try {
      return this.p11.C_FindObjects(this.session, 100);
    } finally {
      this.p11.C_FindObjectsFinal(this.session);
    }
  }

  one(template: pkcs11js.Template, what: string): Buffer {
    const [h] = this.find(template);
    if (!h) throw notFound(`pkcs11: ${what} not found in the token`);
    return h;
  }

  /** A P-256 key pair generated in the token (private: sensitive, never extractable); returns 04‖x‖y. */
  generateEc(): Uint8Array {
    const { publicKey, privateKey } = this.p11.C_GenerateKeyPair(
      this.session,
      { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
      [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_VERIFY, value: true },
        { type: pkcs11js.CKA_EC_PARAMS, value: P256_PARAMS },
        { type: pkcs11js.CKA_LABEL, value: LABEL_CA },
      ],
      [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_SIGN, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: false },
        { type: pkcs11js.CKA_LABEL, value: LABEL_CA },
      ],
    );
    const der = this.p11.C_GetAttributeValue(this.session, publicKey, [{ type: pkcs11js.CKA_EC_POINT }])[0].value as Buffer;
    // CKA_EC_POINT is DER: OCTET STRING (04 41) around the SEC 1 point
    const point = der.length === 67 && der[0] === 0x04 && der[1] === 0x41 ? der.subarray(2) : der;
    if (point.length !== 65 || point[0] !== 0x04) throw dataError("pkcs11: the token returned an EC point that is not an uncompressed P-256 point");
    // the key id (sig.ts keyId) names both halves in the token (CKA_ID), as in the keystore file
    const kid = Buffer.from(keyId(point));
    for (const h of [publicKey, privateKey]) this.p11.C_SetAttributeValue(this.session, h, [{ type: pkcs11js.CKA_ID, value: kid }]);
    return new Uint8Array(point);
  }

  /** CKM_ECDSA over SHA-256(tbs) with the private key whose CKA_ID is `kid`: raw r‖s, low-S. */
  signEcdsa(kid: Uint8Array, tbs: Uint8Array): Uint8Array {
    const key = this.one([{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }, { type: pkcs11js.CKA_ID, value: Buffer.from(kid) }], `CA private key ${Buffer.from(kid).toString("hex")}`);
    this.p11.C_SignInit(this.session, { mechanism: pkcs11js.CKM_ECDSA }, key);
    const sig = this.p11.C_Sign(this.session, createHash("sha256").update(tbs).digest(), Buffer.alloc(64));
    if (sig.length !== 64) throw dataError(`pkcs11: ECDSA signature of ${sig.length} bytes, expected r‖s of 64`);
    return toLowS(new Uint8Array(sig));
  }

  /** An AES-128 key generated in the token, usable only for CMAC (sensitive, never extractable). */
  generateAes(label: string): void {
    this.p11.C_GenerateKey(this.session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_VALUE_LEN, value: 16 },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SIGN, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
  }

  /** CKM_AES_CMAC under the secret key labelled `label`. */
  cmac(label: string, data: Uint8Array): Uint8Array {
    const key = this.one([{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY }, { type: pkcs11js.CKA_LABEL, value: label }], `SCP03 master key ${label}`);
    this.p11.C_SignInit(this.session, { mechanism: pkcs11js.CKM_AES_CMAC }, key);
    return new Uint8Array(this.p11.C_Sign(this.session, Buffer.from(data), Buffer.alloc(16)));
  }

  /** Removes this tool's objects (issuer init --force on a token used before). */
  destroyOwn(): void {
    for (const label of [LABEL_CA, ...Object.values(SCP_LABELS)])
      for (const h of this.find([{ type: pkcs11js.CKA_LABEL, value: label }])) this.p11.C_DestroyObject(this.session, h);
  }
}

/** The keystore file (public part, SM2 secrets) with the P-256 keys in a token. */
export class TokenKeystore implements IssuerKeystore {
  readonly backend = "pkcs11" as const;
  private readonly ext: ExternalKeyGen;

  private constructor(
    private readonly file: Keystore,
    private readonly token: Token,
    readonly ref: Pkcs11Ref,
  ) {
    this.ext = (suite) => (suite === "p256" ? this.token.generateEc() : undefined);
  }

  get path(): string {
    return this.file.path;
  }

  static create(path: string, passphrase: string, opts: { module: string; tokenLabel: string; pin: string; force?: boolean; custody?: Custody }): TokenKeystore {
    const token = Token.open(opts.module, opts.tokenLabel, opts.pin);
    try {
      const ref: Pkcs11Ref = { module: opts.module, tokenLabel: opts.tokenLabel, suites: TOKEN_SUITES };
      if (token.find([{ type: pkcs11js.CKA_LABEL, value: LABEL_CA }]).length) {
        if (!opts.force) throw authError(`pkcs11: token "${opts.tokenLabel}" already holds issuer keys of this tool (use --force to replace them)`);
        token.destroyOwn();
      }
      for (const label of Object.values(SCP_LABELS)) token.generateAes(label);
      const file = Keystore.create(path, passphrase, { force: opts.force, pkcs11: ref, custody: opts.custody, external: (s) => (s === "p256" ? token.generateEc() : undefined) });
      return new TokenKeystore(file, token, ref);
    } catch (e) {
      token.close();
      throw e;
    }
  }

  static open(path: string, passphrase: string, pin: string): TokenKeystore {
    const file = Keystore.open(path, passphrase);
    const ref = file.pkcs11;
    if (!ref) throw dataError(`keystore: ${path} does not name a PKCS#11 token`);
    return new TokenKeystore(file, Token.open(ref.module, ref.tokenLabel, pin), ref);
  }

  keys(): IssuerKeyPublic[] {
    return this.file.keys();
  }

  trusted(suite: SuiteName): IssuerKeyPublic[] {
    return this.file.trusted(suite);
  }

  private tokenSigner(k: IssuerKeyPublic): Signer {
    const kid = Buffer.from(k.kid, "hex");
    return { suite: k.suite, kid, sign: (tbs) => this.token.signEcdsa(kid, tbs) };
  }

  signer(suite: SuiteName): Signer {
    if (!this.file.inToken(suite)) return this.file.signer(suite);
    const k = this.file.trusted(suite)[0];
    if (!k) throw notFound(`keystore: no active ${suite} issuer key`);
    return this.tokenSigner(k);
  }

  signerById(kid: string): Signer | null {
    const k = this.file.trusted("p256").find((x) => x.kid === kid);
    if (k && this.file.inToken("p256")) return this.tokenSigner(k);
    return this.file.signerById(kid);
  }

  deviceScpKeys(suite: SuiteName, deviceId: Uint8Array): ScpKeys {
    if (!this.file.inToken(suite)) return this.file.deviceScpKeys(suite, deviceId);
    return diversifyKeysWith(
      { enc: (d) => this.token.cmac(SCP_LABELS.enc, d), mac: (d) => this.token.cmac(SCP_LABELS.mac, d), dek: (d) => this.token.cmac(SCP_LABELS.dek, d) },
      deviceId,
    );
  }

  rotate(suites?: readonly SuiteName[]): IssuerKeyPublic[] {
    return this.file.rotate(suites, this.ext);
  }

  retire(kid: string, at?: Date): IssuerKeyPublic {
    return this.file.retire(kid, at);
  }

  revokeKey(kid: string, at?: Date): { revoked: IssuerKeyPublic; added: IssuerKeyPublic | null } {
    return this.file.revokeKey(kid, at, this.ext);
  }

  notes(): string[] {
    return [`P-256 CA keys and P-256 SCP03 master keys: in PKCS#11 token "${this.ref.tokenLabel}" (${this.ref.module}), non-extractable`, SM2_NOTE];
  }

  close(): void {
    this.token.close();
  }
}
