// The ledger interface (DESIGN.md §6, §9; host-tools/README.md "Ledger"). Everything the CLI and the
// reconciliation engine keep about devices, money and fraud goes through `Ledger`, so a
// PostgreSQL implementation can replace the SQLite one (sqlite.ts) for a bank-scale
// deployment. Methods are async for that reason, and `transaction()` takes an async
// function: the whole import of one batch commits or nothing does.
//
// Identifiers are lower-case hex strings (device ids 8 bytes, tokens 16, voucher hashes
// 32); amounts are minor units; times are Unix seconds unless named `...At` (ISO text).
import { createHash } from "node:crypto";
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
  /** SHA-256 of the signed part of the COSE bytes (all but the signature): the voucher's
   * identity in the ledger. Never the signature bytes: an ECDSA signature has twins
   * (SPEC §5.1), so two signatures over one payload are one voucher presented twice. */
  hash: string;
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
  /** device-to-device vouchers only, judged on the payee's evidence (SPEC §5.10):
   * received (the payee's RECEIVE receipt), awaiting (no payee sync since), unclaimed
   * (the payee synced without receiving it: credited to the payee's bank account) */
  claim?: Claim | null;
  /** set on an archived voucher's stub (SPEC §5.13): no COSE bytes here (they are in the
   * archive file), `prev` rebuilt from the device's archived chain */
  archived?: boolean;
}

export type Claim = "received" | "awaiting" | "unclaimed";

/** A device-signed receipt from a device log (SPEC §5.7): what the device says it was credited. */
export interface ReceiptRecord {
  hash: string; // SHA-256 of the signed part (as vouchers)
  deviceId: string;
  kind: number; // RECEIPT_KIND_*
  ref: string; // load seq (decimal) for kind LOAD; hex suite hash of the voucher COSE for RECEIVE
  amount: number;
  currency: number;
  counter: number;
  time: number;
  balanceAfter: number;
  cose: Uint8Array;
  source: string;
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

export type FraudKind = "fork" | "replay" | "over-limit" | "revoked" | "tampered" | "chain-break" | "unissued-load" | "bad-receipt";

export interface FraudCase {
  id?: number;
  kind: FraudKind;
  deviceId: string;
  counter: number | null;
  voucherHash: string | null;
  detail: string;
  openedAt?: string;
  /** set when the verdict over all the evidence no longer gives this case (it was judged on part of it) */
  closedAt?: string | null;
}

export interface LoadRecord {
  deviceId: string;
  seq: number;
  amount: number;
  currency: number;
  expiry: number;
  auth: Uint8Array; // COSE bytes of the load authorization
  /** the device's receipt: set when the device confirmed it (LOAD's answer, or its log) */
  receipt?: Uint8Array | null;
  issuedAt?: string;
  /** the device refused it (it may still turn up confirmed by a receipt: receipts win) */
  voided?: boolean;
}

/** Recorded as "issued" before it is sent (DESIGN §8); the device's own state says what it applied. */
export type AckState = "issued" | "applied" | "void";

export interface SyncAck {
  deviceId: string;
  upToCounter: number;
  time: number; // issuer time in the ack: unique per device (the device refuses a time ≤ its last ack's)
  revocationVersion: number;
  ack: Uint8Array;
  /** new limits carried by the ack (null: unchanged) */
  limits?: Limits | null;
  /** issued: sent, not yet confirmed by the device; applied: GET STATUS showed its time as the
   * device's last ack; void: the device showed a later state without it (never applied) */
  state?: AckState;
}

export interface IssuerKeyRecord {
  kid: string;
  suite: SuiteName;
  pub: string;
  status: string; // active | trusted | retired | compromised (keystore.ts KeyStatus)
  /** Unix s of the compromise revocation (status compromised): nothing the key signed after is trusted (SPEC §5.12) */
  revokedAt?: number | null;
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

/** A cold archive of settled vouchers (SPEC §5.13, archive.ts): recorded as `writing` before
 * its files are written, `committed` in the transaction that moves its vouchers out. */
export interface ArchiveRecord {
  id: string; // hex, 16 random bytes: the manifest's archiveId
  state: "writing" | "committed";
  /** the directory the files were written to (absolute) */
  dir: string;
  /** vouchers signed before this Unix time were candidates */
  before: number;
  createdAt: string;
  committedAt?: string | null;
  files?: number;
  vouchers?: number;
  /** SHA-256 of the signed manifest file's bytes */
  manifestSha256?: string | null;
}

export interface TransactionOptions {
  /** PostgreSQL: run `fn` again (up to a bound) when the server aborts the transaction for a
   * deadlock or a serialization failure. Only for functions with no effect outside the
   * ledger (reconciliation); SQLite serializes writers and never needs it. */
  retryConflicts?: boolean;
}

export interface Ledger {
  /** the SQLite file, or the PostgreSQL URL with its password hidden */
  readonly path: string;
  schemaVersion(): Promise<number>;
  transaction<T>(fn: () => Promise<T>, opts?: TransactionOptions): Promise<T>;
  close(): Promise<void>;
  /** Inside a transaction: serializes work on these devices with every other process until
   * the end of the transaction (PostgreSQL advisory locks, taken in sorted order; SQLite:
   * nothing to do, one writer at a time). */
  lockDevices(deviceIds: string[]): Promise<void>;

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
  /** the registered devices among these device ids (in no order; ids not registered are left out) */
  devicesAmong(deviceIds: readonly string[]): Promise<DeviceRecord[]>;
  deviceByCertRef(certRef: string): Promise<DeviceRecord | null>;
  setAlias(deviceId: string, alias: string | null): Promise<void>;
  setRevoked(deviceId: string, revoked: boolean, at: number): Promise<number>; // new revocation-list version
  revocationVersion(): Promise<number>;
  revokedIds(): Promise<string[]>;

  // loads and sync
  /** records an issued load (receipt null: pending) or its confirmation (receipt set) */
  addLoad(l: LoadRecord): Promise<void>;
  loads(deviceId?: string): Promise<LoadRecord[]>;
  /** the device refused the authorization: not outstanding any more (a later receipt still confirms it) */
  voidLoad(deviceId: string, seq: number): Promise<void>;
  addSyncAck(a: SyncAck): Promise<void>;
  setSyncAckState(deviceId: string, time: number, state: AckState): Promise<void>;
  syncAcks(deviceId: string): Promise<SyncAck[]>;
  addReceipts(r: ReceiptRecord[]): Promise<number>;
  receiptsOf(deviceId: string): Promise<ReceiptRecord[]>;
  /** device-to-device vouchers made out to this device, archived stubs included (SPEC §5.13) */
  transfersTo(deviceId: string): Promise<VoucherRecord[]>;
  setVoucherClaim(hash: string, claim: Claim | null): Promise<void>;

  // vouchers, submissions, settlements, fraud
  hasImport(sourceHash: string): Promise<boolean>;
  /** Inside a transaction: records that it imports this file (true), or finds it imported
   * already (false). PostgreSQL: a concurrent import of the same file makes it wait for
   * that transaction's end (the imports table's unique key). `addImport` adds the counts. */
  claimImport(sourceHash: string, name: string, kind: string): Promise<boolean>;
  addImport(sourceHash: string, name: string, kind: string, counts: object): Promise<void>;
  addVouchers(v: VoucherRecord[]): Promise<number>; // inserted (new) count; known hashes ignored
  addRejected(r: RejectedVoucher[]): Promise<number>;
  rejected(): Promise<RejectedVoucher[]>;
  /** Rejected documents recorded from files named `sources`, in hash order after `after`, at
   * most `limit` (reconciliation reads back what it rejected, page by page: memory stays flat) */
  rejectedFrom(sources: readonly string[], after: string, limit: number): Promise<RejectedVoucher[]>;
  setRejectedReason(hash: string, reason: string): Promise<void>;
  /** The rejected document of `r.hash` recorded again as `r` (its bytes, reason, device and source) */
  replaceRejected(r: RejectedVoucher): Promise<void>;
  /** The rejected documents among `hashes` (their COSE bytes left out, empty) */
  rejectedAmong(hashes: readonly string[]): Promise<RejectedVoucher[]>;
  addSubmissions(s: Submission[]): Promise<number>;
  submissions(voucherHash: string): Promise<Submission[]>;
  /** a device's vouchers by counter (hot ones only: `archivedOf` has the archived stubs);
   * `cose: false` leaves the bytes out (empty) for speed */
  vouchersOf(deviceId: string, opts?: { cose?: boolean }): Promise<VoucherRecord[]>;
  /** a hot voucher, or an archived voucher's stub (`archived`, no COSE bytes) */
  voucher(hash: string): Promise<VoucherRecord | null>;
  /** hot or archived (a fork against an archived voucher makes its stub fraud, SPEC §5.13) */
  setVoucherStatus(hash: string, status: VoucherStatus, reason: string | null): Promise<void>;
  /** many `setVoucherStatus` at once (reconciliation's verdicts: one statement on PostgreSQL) */
  setVoucherStatuses(changes: readonly VoucherStatusChange[]): Promise<void>;
  /** Reconciliation's reads for many devices in one query per table, where a query costs a
   * round trip (PostgreSQL); without it, reconciliation reads device by device. Each map
   * entry is exactly what the single-device reads give, in their order. */
  evidenceMany?(deviceIds: readonly string[]): Promise<Map<string, DeviceRows>>;
  openFraudCase(c: FraudCase): Promise<boolean>; // false when the same case is already open; reopens a closed one
  closeFraudCase(id: number, reason: string): Promise<void>;
  /** open cases (all, or one device's); closed ones too when asked */
  fraudCases(opts?: { deviceId?: string; includeClosed?: boolean }): Promise<FraudCase[]>;

  // cold archives (SPEC §5.13): a stub of each archived voucher stays (identity, counter, chain
  // hash, amount, payee, status, claim: what the verdict and the summary need), the COSE bytes go
  /** the device's archived vouchers as stubs, by counter: a prefix 1..k of its chain, `prev`
   * rebuilt (each links to the one before: they were settled, so their chain held) */
  archivedOf(deviceId: string): Promise<VoucherRecord[]>;
  putArchive(a: ArchiveRecord): Promise<void>;
  /** Forgets a run that never committed (`writing`): nothing of it was moved */
  dropArchiveRun(id: string): Promise<void>;
  archives(): Promise<ArchiveRecord[]>;
  /** Inside a transaction, before `lockDevices`: no voucher is inserted until it ends
   * (PostgreSQL: an exclusive advisory lock that every voucher insert takes shared;
   * SQLite: one writer at a time already) */
  lockArchive(): Promise<void>;
  /** Inside a transaction: keeps a stub of each voucher (tagged with the archive) and deletes
   * it from the hot table; returns how many moved. Vouchers presented again later are
   * known by their stub (addVouchers skips them). */
  archiveVouchers(archiveId: string, vs: { deviceId: string; hash: string }[]): Promise<number>;

  // reports (archived vouchers included: value is conserved across an archive)
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
  /** device-to-device value the payee never received: credited to the payee's bank account */
  unclaimedTransfers: number;
  /** device-to-device value that left the payer and has no payee receipt yet */
  transfersInFlight: number;
  /** loads issued but not confirmed by the device (not counted as loaded) */
  pendingLoads: number;
  /** confirmed loads − paid to merchants − unclaimed − in flight: value on the devices */
  inCirculation: number;
}

/** The audit chain's link, the same for every backend: SHA-256(prev hash | seq | time | action | data). */
/** The audit chain's first `prev`. */
export const AUDIT_GENESIS = "0".repeat(64);

/** Checks a hash-chained audit log in seq order: a missing, unlinked or modified entry is named. */
export function verifyAuditChain(entries: Iterable<AuditEntry>): AuditVerdict {
  let prev = AUDIT_GENESIS;
  let expectSeq = 1;
  let n = 0;
  for (const e of entries) {
    n++;
    if (e.seq !== expectSeq) return { ok: false, entries: n, firstBad: e.seq, reason: `entry ${expectSeq} is missing` };
    if (e.prev !== prev) return { ok: false, entries: n, firstBad: e.seq, reason: `entry ${e.seq} does not link to entry ${e.seq - 1}` };
    if (auditHash(e.prev, e.seq, e.at, e.action, e.data) !== e.hash) return { ok: false, entries: n, firstBad: e.seq, reason: `entry ${e.seq} was modified` };
    prev = e.hash;
    expectSeq++;
  }
  return { ok: true, entries: n, head: prev };
}

export function auditHash(prev: string, seq: number, at: string, action: string, data: string): string {
  return createHash("sha256").update(`${prev}|${seq}|${at}|${action}|${data}`).digest("hex");
}

/** A devices-table row (snake_case columns, the same in every backend) as a DeviceRecord. */
export function deviceFromRow(r: Record<string, any>): DeviceRecord {
  return {
    deviceId: r.device_id, serial: r.serial, formFactor: r.form_factor, suite: r.suite, token: r.token, alias: r.alias,
    currency: r.currency, limits: JSON.parse(r.limits), pendingLimits: r.pending_limits ? JSON.parse(r.pending_limits) : null, pub: r.pub,
    cert: r.cert ? new Uint8Array(r.cert) : null, certRef: r.cert_ref, state: r.state, personalizedAt: r.personalized_at, lastSync: r.last_sync,
    lastLoadSeq: r.last_load_seq, revoked: !!r.revoked, revokedAt: r.revoked_at,
  };
}

/** Archived stubs of one device (rows by counter) with `prev` rebuilt: the first links to the
 * chain's start (counter 1) and each next one to the chain hash before it (SPEC §5.13). */
/** A voucher's new status and reason, as a verdict gives it. */
export interface VoucherStatusChange {
  deviceId: string;
  hash: string;
  status: VoucherStatus;
  reason: string | null;
}

/** What reconciliation reads of one device (Ledger.evidenceMany): the single-device reads' results. */
export interface DeviceRows {
  device: DeviceRecord;
  /** archivedOf */
  archived: VoucherRecord[];
  /** vouchersOf(id, { cose: false }) */
  vouchers: VoucherRecord[];
  acks: SyncAck[];
  receipts: ReceiptRecord[];
  loads: LoadRecord[];
  /** transfersTo */
  incoming: VoucherRecord[];
  /** fraudCases({ deviceId }): the open ones */
  cases: FraudCase[];
}

/** Rows of several devices, ordered by device first, as one list per device (the order within kept). */
export function groupByDevice<T>(rows: T[], key: (r: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    let l = m.get(k);
    if (!l) m.set(k, (l = []));
    l.push(r);
  }
  return m;
}

export function stubsFromRows(rows: Record<string, any>[]): VoucherRecord[] {
  let prev = AUDIT_GENESIS; // 32 zero bytes in hex: the chain's start, as the audit chain's
  return rows.map((r) => {
    const v = { ...voucherFromRow({ ...r, prev: r.counter === 1 ? AUDIT_GENESIS : prev, cose: null }), archived: true };
    prev = v.chainHash;
    return v;
  });
}

/** A vouchers-table row as a VoucherRecord (no cose column: empty bytes). */
export function voucherFromRow(r: Record<string, any>): VoucherRecord {
  return {
    hash: r.hash, deviceId: r.device_id, counter: r.counter, amount: r.amount, currency: r.currency, payee: r.payee,
    kind: r.kind, time: r.time, prev: r.prev, chainHash: r.chain_hash, balanceAfter: r.balance_after,
    cose: r.cose ? new Uint8Array(r.cose) : new Uint8Array(0), status: r.status, reason: r.reason, claim: r.claim ?? null,
    ...(r.archived ? { archived: true } : {}),
  };
}

/** A rejected-table row (the same columns in every backend) as a RejectedVoucher; a row read
 * without its `cose` column gets empty bytes. */
export const rejectedFromRow = (r: Record<string, any>): RejectedVoucher => ({
  hash: r.hash, deviceId: r.device_id, reason: r.reason, cose: r.cose ? new Uint8Array(r.cose) : new Uint8Array(0), source: r.source,
});

/** An archives-table row (the same columns in every backend) as an ArchiveRecord. */
export const archiveFromRow = (r: Record<string, any>): ArchiveRecord => ({
  id: r.id, state: r.state, dir: r.dir, before: Number(r.before), createdAt: r.created_at, committedAt: r.committed_at ?? null,
  files: r.files ?? undefined, vouchers: r.vouchers ?? undefined, manifestSha256: r.manifest_sha256 ?? null,
});
