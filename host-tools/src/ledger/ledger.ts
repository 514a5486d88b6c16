// The ledger interface (issue 6 "Ledger"; DESIGN.md §6). Everything the CLI and the
// reconciliation engine keep about devices, money and fraud goes through `Ledger`, so a
// PostgreSQL implementation can replace the SQLite one (sqlite.ts) for a bank-scale
// deployment. Methods are async for that reason, and `transaction()` takes an async
// function: the whole import of one batch commits or nothing does.
//
// Identifiers are lower-case hex strings (device ids 8 bytes, tokens 16, voucher hashes
// 32); amounts are minor units; times are Unix seconds unless named `...At` (ISO text).
import type { SuiteName } from "../sig.ts";

export type FormFactor = "card" | "band" | "watch";
export type DeviceState = "personalizing" | "active" | "locked" | "terminated";

export type { Limits } from "../../../protocol/src/formats.ts";
import type { Limits } from "../../../protocol/src/formats.ts";

export interface DeviceRecord {
  deviceId: string;
  serial: string;
  formFactor: FormFactor;
  suite: SuiteName;
  token: string;
  alias: string | null;
  currency: number;
  limits: Limits;
  /** new limits set by `devices limits`, delivered in the next sync acknowledgement */
  pendingLimits: Limits | null;
  pub: string | null; // device public key, once generated
  cert: Uint8Array | null; // COSE bytes of the issuer-signed certificate
  certRef: string | null; // hex of the 8-byte cert reference carried in vouchers
  state: DeviceState;
  personalizedAt: string | null;
  lastSync: string | null;
  lastLoadSeq: number;
  revoked: boolean;
  revokedAt: number | null; // Unix s: vouchers at or after this time are fraud
}

export type VoucherStatus = "settled" | "pending" | "fraud";

export interface VoucherRecord {
  hash: string; // SHA-256 of the COSE bytes: the voucher's identity in the ledger
  deviceId: string;
  counter: number;
  amount: number;
  currency: number;
  payee: string;
  kind: number; // VOUCHER_KIND_*
  time: number;
  prev: string; // chain link: suite hash of the previous voucher
  chainHash: string; // suite hash (SM3 / SHA-256) of these COSE bytes
  balanceAfter: number;
  cose: Uint8Array;
  status: VoucherStatus;
  reason: string | null;
}

/** A voucher that failed decoding, the certificate chain or its signature: never settled. */
export interface RejectedVoucher {
  hash: string;
  deviceId: string | null; // when the payload named one
  reason: string;
  cose: Uint8Array;
  source: string;
}

export interface Submission {
  voucherHash: string;
  source: string; // file / terminal that presented it
  presenter: string; // merchant id (hex) or device id of a device log
}

export type FraudKind = "fork" | "replay" | "over-limit" | "revoked" | "tampered" | "chain-break";

export interface FraudCase {
  id?: number;
  kind: FraudKind;
  deviceId: string;
  counter: number | null;
  voucherHash: string | null;
  detail: string;
  openedAt?: string;
}

export interface LoadRecord {
  deviceId: string;
  seq: number;
  amount: number;
  currency: number;
  expiry: number;
  auth: Uint8Array; // COSE bytes of the load authorization
  receipt?: Uint8Array | null;
}

export interface SyncAck {
  deviceId: string;
  upToCounter: number;
  time: number;
  revocationVersion: number;
  ack: Uint8Array;
}

export interface IssuerKeyRecord {
  kid: string;
  suite: SuiteName;
  pub: string;
  status: string;
}

export interface AuditEntry {
  seq: number;
  at: string;
  action: string;
  data: string; // JSON
  prev: string;
  hash: string;
}

export interface AuditVerdict {
  ok: boolean;
  entries: number;
  firstBad?: number;
  reason?: string;
  head?: string;
}

export interface Ledger {
  readonly path: string;
  schemaVersion(): Promise<number>;
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;

  // issuer trust (public keys only)
  putIssuerKeys(keys: IssuerKeyRecord[]): Promise<void>;
  issuerKeys(): Promise<IssuerKeyRecord[]>;

  // token vault: the account number stays here; devices only ever see the token
  tokenFor(account: string): Promise<string>;
  accountFor(token: string): Promise<string | null>;

  // device registry
  putDevice(d: DeviceRecord): Promise<void>;
  device(idOrAliasOrSerial: string): Promise<DeviceRecord | null>;
  devices(): Promise<DeviceRecord[]>;
  deviceByCertRef(certRef: string): Promise<DeviceRecord | null>;
  setAlias(deviceId: string, alias: string | null): Promise<void>;
  setRevoked(deviceId: string, revoked: boolean, at: number): Promise<number>; // new revocation-list version
  revocationVersion(): Promise<number>;
  revokedIds(): Promise<string[]>;

  // loads and sync
  addLoad(l: LoadRecord): Promise<void>;
  loads(deviceId?: string): Promise<LoadRecord[]>;
  addSyncAck(a: SyncAck): Promise<void>;
  syncAcks(deviceId: string): Promise<SyncAck[]>;

  // vouchers, submissions, settlements, fraud
  hasImport(sourceHash: string): Promise<boolean>;
  addImport(sourceHash: string, name: string, kind: string, counts: object): Promise<void>;
  addVouchers(v: VoucherRecord[]): Promise<number>; // inserted (new) count; known hashes ignored
  addRejected(r: RejectedVoucher[]): Promise<number>;
  rejected(): Promise<RejectedVoucher[]>;
  addSubmissions(s: Submission[]): Promise<number>;
  submissions(voucherHash: string): Promise<Submission[]>;
  /** a device's vouchers by counter; `cose: false` leaves the bytes out (empty) for speed */
  vouchersOf(deviceId: string, opts?: { cose?: boolean }): Promise<VoucherRecord[]>;
  voucher(hash: string): Promise<VoucherRecord | null>;
  setVoucherStatus(hash: string, status: VoucherStatus, reason: string | null): Promise<void>;
  openFraudCase(c: FraudCase): Promise<boolean>; // false when the same case is already open
  fraudCases(): Promise<FraudCase[]>;

  // reports
  summary(): Promise<LedgerSummary>;

  // audit log: append-only, hash-chained
  audit(action: string, data: object): Promise<AuditEntry>;
  auditEntries(): Promise<AuditEntry[]>;
  verifyAudit(): Promise<AuditVerdict>;
}

export interface LedgerSummary {
  merchants: { payee: string; vouchers: number; settled: number; pending: number; held: number }[];
  devices: { deviceId: string; alias: string | null; loaded: number; spent: number; received: number; vouchers: number; fraud: number; pending: number; revoked: boolean }[];
  fraudCases: number;
  rejected: number;
  loaded: number;
  /** every voucher spent at a merchant, whatever its verdict: value that left the devices */
  paidToMerchants: number;
  /** of which settled to the merchants, and held because the voucher is in a fraud case */
  settledToMerchants: number;
  heldForFraud: number;
  inCirculation: number;
}
