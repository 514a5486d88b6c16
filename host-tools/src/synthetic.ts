// Host-side stand-ins for devices (tests and bench:reconcile only): a key pair, an
// issuer-signed certificate and the voucher chain a real device keeps (counter, prev =
// suite hash of the previous voucher's COSE bytes), signed with host crypto and encoded
// with the protocol's document codecs. `clone()` copies the state, as a copied flash
// image would. Not used by any production command.
import { randomBytes } from "node:crypto";
import { DOC_HASH_LEN, VOUCHER_KIND_POS } from "../../protocol/portable/cbor-keys.ts";
import { encodeVoucher, type Limits } from "../../protocol/src/formats.ts";
import { certRefOf, FORM_IDS, hex, issueCert, signDoc, suiteId, type Signer } from "./docs.ts";
import type { DeviceRecord, FormFactor } from "./ledger/ledger.ts";
import { generateKeyPair, suiteHash, type KeyPair, type SuiteName } from "./sig.ts";

export const DEFAULT_LIMITS: Limits = { cap: 100_000, maxPayment: 20_000, noCvm: 5_000, maxCountSinceSync: 50, maxAmountSinceSync: 100_000, syncInterval: 7 * 86400 };
export const CURRENCY_CNY = 156; // ISO 4217 numeric

/** Raw r‖s over `tbs` with the device key (as sig.ts signRaw). */
export type RawSigner = (suite: SuiteName, key: KeyPair, tbs: Uint8Array) => Uint8Array;

export class PaperDevice {
  counter = 0;
  prev: Uint8Array = new Uint8Array(DOC_HASH_LEN);
  balance: number;
  private constructor(
    readonly suite: SuiteName,
    readonly deviceId: Uint8Array,
    readonly key: KeyPair,
    readonly cert: Uint8Array,
    readonly limits: Limits,
    readonly formFactor: FormFactor,
    balance: number,
    private readonly signer?: RawSigner,
  ) {
    this.balance = balance;
  }

  /** `signer`: signs the device's vouchers instead of host crypto (bench:reconcile's SM2 workload
   * signs with the firmware's own code, far faster than sm-crypto) */
  static create(issuer: Signer, opts: { suite?: SuiteName; limits?: Limits; formFactor?: FormFactor; balance?: number; deviceId?: Uint8Array; signer?: RawSigner } = {}): PaperDevice {
    const suite = opts.suite ?? issuer.suite;
    const deviceId = opts.deviceId ?? new Uint8Array(randomBytes(8));
    const key = generateKeyPair(suite);
    const limits = opts.limits ?? DEFAULT_LIMITS;
    const formFactor = opts.formFactor ?? "card";
    const cert = issueCert(issuer, {
      deviceId, token: new Uint8Array(randomBytes(16)), suite: suiteId(suite), publicKey: key.pub, formFactor: FORM_IDS[formFactor],
      currency: CURRENCY_CNY, limits, notBefore: 1_700_000_000, notAfter: 2_000_000_000,
    });
    return new PaperDevice(suite, deviceId, key, cert, limits, formFactor, opts.balance ?? limits.cap, opts.signer);
  }

  get id(): string {
    return hex(this.deviceId);
  }

  /** The ledger's registry entry for this device, as personalization would write it. */
  record(): DeviceRecord {
    return {
      deviceId: this.id, serial: this.id, formFactor: this.formFactor, suite: this.suite, token: "00".repeat(16), alias: null, currency: CURRENCY_CNY,
      limits: this.limits, pendingLimits: null, pub: hex(this.key.pub), cert: this.cert, certRef: hex(certRefOf(this.suite, this.cert)), state: "active",
      personalizedAt: new Date().toISOString(), lastSync: null, lastLoadSeq: 0, revoked: false, revokedAt: null,
    };
  }

  /** Signs the next voucher of the chain (no limit checks: tests forge over-limit ones). */
  pay(amount: number, payee: Uint8Array, time: number, kind = VOUCHER_KIND_POS): Uint8Array {
    this.counter++;
    this.balance -= amount;
    const payload = encodeVoucher({
      deviceId: this.deviceId, counter: this.counter, amount, currency: CURRENCY_CNY, payeeId: payee, challenge: new Uint8Array(randomBytes(16)),
      time, prev: this.prev, balanceAfter: Math.max(0, this.balance), certRef: certRefOf(this.suite, this.cert), kind,
    });
    const cose = signDoc(this.suite, this.key, this.deviceId, payload, this.signer && ((tbs) => this.signer!(this.suite, this.key, tbs)));
    this.prev = suiteHash(this.suite, cose);
    return cose;
  }

  /** A copy of the device's whole state, as a copied flash image. */
  clone(): PaperDevice {
    const c = new PaperDevice(this.suite, this.deviceId, this.key, this.cert, this.limits, this.formFactor, this.balance, this.signer);
    c.counter = this.counter;
    c.prev = this.prev;
    return c;
  }
}
