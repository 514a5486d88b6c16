// PostgreSQL implementation of the Ledger (DESIGN §6, §9): for a bank, where
// many upload points and reconcile processes write into one server at once. The only
// module that imports `pg` (8.23.1) and `pg-copy-streams` (7.0.0), both pinned.
//
// - One connection per ledger (a transaction is a connection's). Schema migrations are
//   numbered as for SQLite (MIGRATIONS[i] takes the schema from version i to i+1; append
//   only), the version kept in a `schema_version` table; concurrent openers migrate one at
//   a time (an advisory lock).
// - Per-device tables (devices, vouchers, receipts, loads, sync_acks, fraud_cases) are
//   hash-partitioned by device_id and every unique key of theirs includes device_id, so
//   the schema maps 1:1 onto Citus distributed tables (distribution column device_id,
//   co-located; host-tools/README.md). A voucher's primary key is (device_id, hash); an
//   index on hash serves lookups by hash alone. Device aliases and serials, unique across
//   devices, live in `device_names` (a coordinator table), as do the other global tables.
// - Concurrency (many `wallet reconcile` at once): `lockDevices` takes
//   pg_advisory_xact_lock(hashtext(device_id)) for the devices about to be judged, in
//   sorted order, so the last transaction to judge a device sees every other's evidence;
//   `claimImport` inserts the file's row into `imports` first, so a second process
//   importing the same file waits for the first and then skips it; a transaction the
//   server aborts for a deadlock (rows inserted in different orders) is run again when the
//   caller allows it (`retryConflicts`: its function has no effect outside the ledger).
// - The audit log is hash-chained exactly as sqlite.ts (the same `auditHash`), appended
//   under an advisory lock, and append-only by trigger.
import pg from "pg";
import copyStreams from "pg-copy-streams";
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { dataError, notFound, storageError, usageError } from "../errors.ts";
import type {
  AckState, ArchiveRecord, AuditEntry, AuditVerdict, Claim, DeviceRecord, FraudCase, IssuerKeyRecord, Ledger, LedgerSummary, LoadRecord, ReceiptRecord, RejectedVoucher, Submission,
  SyncAck, TransactionOptions, VoucherRecord, VoucherStatus,
} from "./ledger.ts";
import { archiveFromRow, AUDIT_GENESIS, deviceFromRow, groupByDevice, rejectedFromRow, stubsFromRows, verifyAuditChain, voucherFromRow, type DeviceRows, type VoucherStatusChange } from "./ledger.ts";
import { auditHash } from "./ledger.ts";

/** Hash partitions per device table (fixed by migration 1: changing it means repartitioning). */
export const PARTITIONS = 8;
/** The per-device tables: partitioned here, distributed (co-located on device_id) under Citus. */
export const DEVICE_TABLES = ["devices", "vouchers", "receipts", "loads", "sync_acks", "fraud_cases", "archived_vouchers"] as const;

const T = `TEXT COLLATE "C"`; // byte order, as SQLite's BINARY: ORDER BY gives the same rows in the same order

const partitions = (table: string) =>
  Array.from({ length: PARTITIONS }, (_, i) => `CREATE TABLE ${table}_p${i} PARTITION OF ${table} FOR VALUES WITH (MODULUS ${PARTITIONS}, REMAINDER ${i});`).join("\n");

type Migration = string | ((c: pg.Client) => Promise<void>);

export const MIGRATIONS: Migration[] = [
  // 1: the schema of SQLite's version 4, partitioned by device
  `CREATE TABLE meta (key ${T} PRIMARY KEY, value ${T} NOT NULL);
   INSERT INTO meta VALUES ('revocation_version', '0');
   CREATE TABLE issuer_keys (kid ${T} PRIMARY KEY, suite ${T} NOT NULL, pub ${T} NOT NULL, status ${T} NOT NULL, ord BIGSERIAL);
   CREATE TABLE token_vault (account ${T} PRIMARY KEY, token ${T} NOT NULL UNIQUE, created_at ${T} NOT NULL);
   CREATE TABLE devices (
     device_id ${T} NOT NULL, serial ${T} NOT NULL, form_factor ${T} NOT NULL, suite ${T} NOT NULL, token ${T} NOT NULL, alias ${T},
     currency BIGINT NOT NULL, limits ${T} NOT NULL, pending_limits ${T}, pub ${T}, cert BYTEA, cert_ref ${T}, state ${T} NOT NULL,
     personalized_at ${T}, last_sync ${T}, last_load_seq BIGINT NOT NULL DEFAULT 0, revoked BOOLEAN NOT NULL DEFAULT false, revoked_at BIGINT,
     PRIMARY KEY (device_id)) PARTITION BY HASH (device_id);
   ${partitions("devices")}
   CREATE INDEX devices_cert_ref ON devices (cert_ref);
   -- unique across devices, so not in the partitioned table (a unique key there must hold device_id)
   CREATE TABLE device_names (kind ${T} NOT NULL, name ${T} NOT NULL, device_id ${T} NOT NULL, PRIMARY KEY (kind, name));
   CREATE INDEX device_names_device ON device_names (device_id);
   CREATE TABLE loads (device_id ${T} NOT NULL, seq BIGINT NOT NULL, amount BIGINT NOT NULL, currency BIGINT NOT NULL, expiry BIGINT NOT NULL,
     auth BYTEA NOT NULL, receipt BYTEA, created_at ${T} NOT NULL, confirmed_at ${T}, void_at ${T}, PRIMARY KEY (device_id, seq)) PARTITION BY HASH (device_id);
   ${partitions("loads")}
   CREATE TABLE sync_acks (device_id ${T} NOT NULL, time BIGINT NOT NULL, up_to_counter BIGINT NOT NULL, revocation_version BIGINT NOT NULL,
     ack BYTEA NOT NULL, limits ${T}, state ${T} NOT NULL, PRIMARY KEY (device_id, time)) PARTITION BY HASH (device_id);
   ${partitions("sync_acks")}
   CREATE TABLE imports (source_hash ${T} PRIMARY KEY, name ${T} NOT NULL, kind ${T} NOT NULL, counts ${T} NOT NULL, imported_at ${T} NOT NULL);
   CREATE TABLE vouchers (
     hash ${T} NOT NULL, device_id ${T} NOT NULL, counter BIGINT NOT NULL, amount BIGINT NOT NULL, currency BIGINT NOT NULL, payee ${T} NOT NULL,
     kind INTEGER NOT NULL, time BIGINT NOT NULL, prev ${T} NOT NULL, chain_hash ${T} NOT NULL, balance_after BIGINT NOT NULL, cose BYTEA NOT NULL,
     status ${T} NOT NULL, reason ${T}, claim ${T}, PRIMARY KEY (device_id, hash)) PARTITION BY HASH (device_id);
   ${partitions("vouchers")}
   CREATE INDEX vouchers_hash ON vouchers (hash);
   CREATE INDEX vouchers_device ON vouchers (device_id, counter);
   CREATE INDEX vouchers_payee ON vouchers (payee, kind);
   CREATE TABLE receipts (hash ${T} NOT NULL, device_id ${T} NOT NULL, kind INTEGER NOT NULL, ref ${T} NOT NULL, amount BIGINT NOT NULL,
     currency BIGINT NOT NULL, counter BIGINT NOT NULL, time BIGINT NOT NULL, balance_after BIGINT NOT NULL, cose BYTEA NOT NULL, source ${T} NOT NULL,
     PRIMARY KEY (device_id, hash)) PARTITION BY HASH (device_id);
   ${partitions("receipts")}
   CREATE TABLE rejected (hash ${T} PRIMARY KEY, device_id ${T}, reason ${T} NOT NULL, cose BYTEA NOT NULL, source ${T} NOT NULL, ord BIGSERIAL);
   CREATE TABLE submissions (voucher_hash ${T} NOT NULL, source ${T} NOT NULL, presenter ${T} NOT NULL, PRIMARY KEY (voucher_hash, source, presenter));
   CREATE VIEW settlements AS SELECT hash AS voucher_hash, device_id AS payer, payee, amount, currency, kind FROM vouchers WHERE status = 'settled';
   -- NULLS NOT DISTINCT: one open case per (device, kind, counter, voucher), race-free under concurrent imports
   CREATE TABLE fraud_cases (id BIGSERIAL, kind ${T} NOT NULL, device_id ${T} NOT NULL, counter BIGINT, voucher_hash ${T}, detail ${T} NOT NULL,
     opened_at ${T} NOT NULL, PRIMARY KEY (device_id, id), UNIQUE NULLS NOT DISTINCT (device_id, kind, counter, voucher_hash)) PARTITION BY HASH (device_id);
   ${partitions("fraud_cases")}
   CREATE TABLE audit (seq BIGINT PRIMARY KEY, at ${T} NOT NULL, action ${T} NOT NULL, data ${T} NOT NULL, prev ${T} NOT NULL, hash ${T} NOT NULL);
   CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;
   CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
   CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
   CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();`,
  // 2: SQLite's versions 5 and 6: a case the verdict no longer gives is closed, not deleted;
  // when an issuer key was revoked as compromised (SPEC §5.12)
  `ALTER TABLE fraud_cases ADD COLUMN closed_at ${T};
   ALTER TABLE fraud_cases ADD COLUMN closed_reason ${T};
   ALTER TABLE issuer_keys ADD COLUMN revoked_at BIGINT;`,
  // 3: SQLite's version 7: cold archives (SPEC §5.13): the archive runs, and a stub per archived
  // voucher (no COSE bytes, no prev), partitioned by device like the vouchers; all_vouchers
  // is what the reports read. Vouchers presented again after their archive are skipped by
  // addVouchers (a lookup under the archive lock, not a trigger: COPY counts its rows itself)
  `CREATE TABLE archives (id ${T} PRIMARY KEY, state ${T} NOT NULL, dir ${T} NOT NULL, before BIGINT NOT NULL, created_at ${T} NOT NULL,
     committed_at ${T}, files BIGINT, vouchers BIGINT, manifest_sha256 ${T});
   CREATE TABLE archived_vouchers (hash ${T} NOT NULL, device_id ${T} NOT NULL, counter BIGINT NOT NULL, amount BIGINT NOT NULL,
     currency BIGINT NOT NULL, payee ${T} NOT NULL, kind INTEGER NOT NULL, time BIGINT NOT NULL, chain_hash ${T} NOT NULL,
     balance_after BIGINT NOT NULL, status ${T} NOT NULL, reason ${T}, claim ${T}, archive ${T} NOT NULL,
     PRIMARY KEY (device_id, hash)) PARTITION BY HASH (device_id);
   ${partitions("archived_vouchers")}
   CREATE INDEX archived_vouchers_hash ON archived_vouchers (hash);
   CREATE INDEX archived_vouchers_device ON archived_vouchers (device_id, counter);
   CREATE INDEX archived_vouchers_payee ON archived_vouchers (payee, kind);
   CREATE VIEW all_vouchers AS
     SELECT hash, device_id, counter, amount, currency, payee, kind, time, prev, chain_hash, balance_after, cose, status, reason, claim, 0 AS archived FROM vouchers
     UNION ALL SELECT hash, device_id, counter, amount, currency, payee, kind, time, ''::text AS prev, chain_hash, balance_after, NULL::bytea AS cose, status, reason, claim, 1 AS archived
     FROM archived_vouchers;
   DROP VIEW settlements;
   CREATE VIEW settlements AS SELECT hash AS voucher_hash, device_id AS payer, payee, amount, currency, kind FROM all_vouchers WHERE status = 'settled';`,
];

const GENESIS = AUDIT_GENESIS;
const now = () => new Date().toISOString();
/** Advisory lock keys (two-int4 form: never equal to a device's one-key lock). */
const LOCK_SPACE = 0x77616c6c; // "wall"
const AUDIT_LOCK = 1;
const MIGRATE_LOCK = 2;
/** Taken shared by every voucher insert, exclusive by an archive's commit (lockArchive). */
const ARCHIVE_LOCK = 3;
/** How often a transaction aborted for a deadlock or serialization failure runs again. */
const MAX_ATTEMPTS = 25;

type Row = Record<string, any>;

/** int8 and numeric as JS numbers (amounts, counters and times are far below 2^53). */
const TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 || oid === 1700 ? (v: string) => Number(v) : (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
};

const bytes = (b: Buffer | null): Uint8Array | null => (b ? new Uint8Array(b) : null);
const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

const toDevice = deviceFromRow;

const toVoucher = voucherFromRow;
/** vouchers' columns but the COSE bytes (reconciliation's reads) */
const VOUCHER_COLS_NO_COSE = "hash, device_id, counter, amount, currency, payee, kind, time, prev, chain_hash, balance_after, NULL AS cose, status, reason, claim";
const loadOf = (r: Record<string, any>): LoadRecord => ({
  deviceId: r.device_id, seq: r.seq, amount: r.amount, currency: r.currency, expiry: r.expiry, auth: new Uint8Array(r.auth),
  receipt: bytes(r.receipt), issuedAt: r.created_at, voided: r.void_at !== null,
});
const ackOf = (r: Record<string, any>): SyncAck => ({
  deviceId: r.device_id, upToCounter: r.up_to_counter, time: r.time, revocationVersion: r.revocation_version, ack: new Uint8Array(r.ack),
  limits: r.limits ? JSON.parse(r.limits) : null, state: r.state,
});
const receiptOf = (r: Record<string, any>): ReceiptRecord => ({
  hash: r.hash, deviceId: r.device_id, kind: r.kind, ref: r.ref, amount: r.amount, currency: r.currency, counter: r.counter, time: r.time,
  balanceAfter: r.balance_after, cose: new Uint8Array(r.cose), source: r.source,
});
const caseOf = (r: Record<string, any>): FraudCase => ({
  id: r.id, kind: r.kind, deviceId: r.device_id, counter: r.counter, voucherHash: r.voucher_hash, detail: r.detail, openedAt: r.opened_at,
  closedAt: r.closed_at ?? null,
});

/** The URL with its password hidden: what messages and `path` show. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ":***@");
  }
}

export const isPostgresUrl = (s: string | undefined): s is string => !!s && /^postgres(ql)?:\/\//i.test(s);

/** SQLSTATEs a transaction may be run again after: the server aborted it, nothing was written. */
const isConflict = (e: unknown) => ["40P01", "40001"].includes((e as { code?: string })?.code ?? "");

/** The server's and the network's failures as one line naming the ledger. */
function pgFailure(e: unknown, path: string): Error | undefined {
  const err = e as { code?: string; message?: string };
  const code = err?.code;
  const msg = err?.message ?? String(e);
  if (typeof code !== "string") return undefined;
  if (["ECONNREFUSED", "ENOENT", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EPIPE"].includes(code))
    return storageError(`ledger ${path}: cannot reach the PostgreSQL server (${code}); is it running?`);
  if (code === "3D000") return notFound(`ledger ${path}: ${msg} (create it with createdb, then \`wallet issuer init --ledger …\`)`);
  if (code === "28P01" || code === "28000") return storageError(`ledger ${path}: the server refused the login: ${msg}`);
  if (code === "55P03") return storageError(`ledger ${path} is locked by another wallet process; waited for the lock_timeout (WALLET_LOCK_TIMEOUT); retry when it has finished`);
  if (code === "53100") return storageError(`ledger ${path}: the server's disk is full; free some space and run the command again`);
  if (code === "25006") return storageError(`ledger ${path}: the server is read-only (a replica?); point --ledger at the primary`);
  if (code.startsWith("57P") || code.startsWith("08")) return storageError(`ledger ${path}: the connection to PostgreSQL was lost (${msg})`);
  return undefined;
}

/** COPY text format: backslash, tab, newline and CR escaped; NULL is \N; bytea as \\x hex. */
const copyText = (s: string | null) => (s === null ? "\\N" : /[\\\t\n\r]/.test(s) ? s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r") : s);

const VOUCHER_COLS = "hash, device_id, counter, amount, currency, payee, kind, time, prev, chain_hash, balance_after, cose, status, reason";
/** Rows per multi-row INSERT: 14 × 500 = 7000 parameters (the protocol allows 65535). */
const VALUES_ROWS = 500;
const valuesSql = (rows: number) =>
  `INSERT INTO vouchers (${VOUCHER_COLS}) VALUES ${Array.from({ length: rows }, (_, r) => `(${Array.from({ length: 14 }, (_, c) => `$${r * 14 + c + 1}`).join(",")})`).join(",")} ON CONFLICT DO NOTHING`;

/** How vouchers go in: COPY into a session-local staging table, then one INSERT … SELECT; or multi-row INSERTs. */
export type BulkMode = "copy" | "values";

export class PostgresLedger implements Ledger {
  /** set inside this ledger's transaction: calls made from its function join it (nesting) */
  private readonly inTx = new AsyncLocalStorage<PostgresLedger>();
  /** the connection's turn: one transaction (or one statement outside any) at a time, so a
   * concurrent caller on this object never lands in another caller's transaction */
  private turn: Promise<void> = Promise.resolve();
  private names = new Map<string, string>();
  /** transactions run again after the server aborted them (deadlock, serialization) */
  conflictRetries = 0;
  /** the current transaction's number, and the one whose vouchers may still be COPYed straight in */
  private txNo = 0;
  private directCopy = 0;

  private constructor(
    private readonly c: pg.Client,
    readonly path: string,
    readonly bulk: BulkMode,
  ) {}

  /**
   * Connects and migrates to the latest schema. Without `create`, a database that holds no
   * wallet schema is refused (not found): a mistyped --ledger must not turn into a new ledger.
   * `lockTimeoutMs`: how long a statement waits for a lock (another process's transaction).
   */
  static async open(url: string, opts: { create?: boolean; lockTimeoutMs?: number; bulk?: BulkMode } = {}): Promise<PostgresLedger> {
    const path = redactUrl(url);
    const bulk = opts.bulk ?? (process.env.WALLET_PG_BULK === "values" ? "values" : "copy");
    const c = new pg.Client({ connectionString: url, types: TYPES, application_name: "wallet" });
    c.on("error", () => {}); // a dropped connection surfaces in the next query
    try {
      await c.connect();
    } catch (e) {
      throw pgFailure(e, path) ?? storageError(`ledger ${path}: cannot connect: ${(e as Error).message}`);
    }
    const l = new PostgresLedger(c, path, bulk);
    try {
      await c.query(`SET lock_timeout = ${Math.round(opts.lockTimeoutMs ?? 20_000)}`);
      await l.migrate(opts.create ?? true);
      await c.query(`CREATE TEMP TABLE voucher_stage (LIKE vouchers) ON COMMIT DELETE ROWS`);
    } catch (e) {
      await c.end().catch(() => {});
      throw pgFailure(e, path) ?? e;
    }
    return l;
  }

  private async migrate(create: boolean): Promise<void> {
    const has = (await this.c.query("SELECT to_regclass('schema_version') AS t")).rows[0].t;
    if (!has && !create) throw notFound(`ledger: ${this.path} holds no wallet ledger (wrong --ledger? \`wallet issuer init\` creates it)`);
    await this.c.query("BEGIN");
    try {
      await this.c.query("SELECT pg_advisory_xact_lock($1, $2)", [LOCK_SPACE, MIGRATE_LOCK]); // one opener migrates at a time
      await this.c.query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
      const r = (await this.c.query("SELECT version FROM schema_version")).rows;
      let v = r.length ? Number(r[0].version) : 0;
      if (!r.length) await this.c.query("INSERT INTO schema_version VALUES (0)");
      if (v > MIGRATIONS.length) throw dataError(`ledger: schema version ${v} is newer than this tool (${MIGRATIONS.length}); upgrade host-tools`);
      for (; v < MIGRATIONS.length; v++) {
        const m = MIGRATIONS[v];
        if (typeof m === "string") await this.c.query(m);
        else await m(this.c);
        await this.c.query("UPDATE schema_version SET version = $1", [v + 1]);
      }
      await this.c.query("COMMIT");
    } catch (e) {
      await this.c.query("ROLLBACK").catch(() => {});
      throw e;
    }
  }

  private async take(): Promise<() => void> {
    let release!: () => void;
    const prev = this.turn;
    this.turn = new Promise<void>((r) => (release = r));
    await prev;
    return release;
  }

  private get inside(): boolean {
    return this.inTx.getStore() === this;
  }

  /** A statement prepared once per connection (named by its text); outside a transaction it waits for its turn. */
  private async q(text: string, values?: unknown[]): Promise<pg.QueryResult<Row>> {
    let name = this.names.get(text);
    if (!name) this.names.set(text, (name = `w${this.names.size}`));
    if (this.inside) return this.c.query({ name, text, values }); // a failure is the transaction's to report
    const release = await this.take();
    try {
      return await this.c.query({ name, text, values });
    } catch (e) {
      throw pgFailure(e, this.path) ?? e;
    } finally {
      release();
    }
  }

  /** For tests and tools: one statement on the ledger's connection (never used by the CLI commands). */
  async exec(text: string, values?: unknown[]): Promise<Row[]> {
    if (this.inside) return (await this.c.query(text, values)).rows;
    const release = await this.take();
    try {
      return (await this.c.query(text, values)).rows;
    } finally {
      release();
    }
  }

  async schemaVersion(): Promise<number> {
    return Number((await this.q("SELECT version FROM schema_version")).rows[0].version);
  }

  async transaction<T>(fn: () => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
    // calls from inside the function join the transaction (one batch = one transaction);
    // concurrent callers from outside wait for it to end
    if (this.inside) return fn();
    const release = await this.take();
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.c.query("BEGIN");
          this.directCopy = ++this.txNo;
        } catch (e) {
          throw pgFailure(e, this.path) ?? e;
        }
        try {
          const r = await this.inTx.run(this, fn);
          await this.c.query("COMMIT");
          return r;
        } catch (e) {
          await this.c.query("ROLLBACK").catch(() => {});
          if (opts.retryConflicts && isConflict(e) && attempt < MAX_ATTEMPTS) {
            this.conflictRetries++;
            await new Promise((r) => setTimeout(r, Math.random() * 20 * Math.min(attempt, 10)));
            continue;
          }
          throw pgFailure(e, this.path) ?? e;
        }
      }
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    await this.c.end().catch(() => {});
  }

  async lockDevices(ids: string[]): Promise<void> {
    if (!ids.length) return;
    if (!this.inside) throw new Error("ledger: lockDevices outside a transaction locks nothing");
    // distinct keys in ascending order: every process takes them in the same order (no
    // deadlock between these locks); held to the end of the transaction
    await this.q("SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtext(id) AS k FROM unnest($1::text[]) AS id ORDER BY 1) s", [ids]);
  }

  async putIssuerKeys(keys: IssuerKeyRecord[]): Promise<void> {
    for (const k of keys)
      await this.q(
        "INSERT INTO issuer_keys (kid, suite, pub, status, revoked_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kid) DO UPDATE SET status = excluded.status, revoked_at = excluded.revoked_at",
        [k.kid, k.suite, k.pub, k.status, k.revokedAt ?? null],
      );
  }

  async issuerKeys(): Promise<IssuerKeyRecord[]> {
    return (await this.q('SELECT kid, suite, pub, status, revoked_at AS "revokedAt" FROM issuer_keys ORDER BY ord')).rows as IssuerKeyRecord[];
  }

  async tokenFor(account: string): Promise<string> {
    // race-free: a concurrent first call for the same account gets the same token
    await this.q("INSERT INTO token_vault (account, token, created_at) VALUES ($1, $2, $3) ON CONFLICT (account) DO NOTHING", [account, randomBytes(16).toString("hex"), now()]);
    return (await this.q("SELECT token FROM token_vault WHERE account = $1", [account])).rows[0].token;
  }

  async accountFor(token: string): Promise<string | null> {
    return (await this.q("SELECT account FROM token_vault WHERE token = $1", [token])).rows[0]?.account ?? null;
  }

  async putDevice(d: DeviceRecord): Promise<void> {
    await this.transaction(async () => {
      await this.q(
        `INSERT INTO devices (device_id, serial, form_factor, suite, token, alias, currency, limits, pub, cert, cert_ref, state,
           personalized_at, last_sync, last_load_seq, revoked, revoked_at, pending_limits)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         ON CONFLICT (device_id) DO UPDATE SET serial = excluded.serial, form_factor = excluded.form_factor, suite = excluded.suite,
           token = excluded.token, alias = excluded.alias, currency = excluded.currency, limits = excluded.limits, pub = excluded.pub,
           cert = excluded.cert, cert_ref = excluded.cert_ref, state = excluded.state, personalized_at = excluded.personalized_at,
           last_sync = excluded.last_sync, last_load_seq = excluded.last_load_seq, revoked = excluded.revoked, revoked_at = excluded.revoked_at,
           pending_limits = excluded.pending_limits`,
        [d.deviceId, d.serial, d.formFactor, d.suite, d.token, d.alias, d.currency, JSON.stringify(d.limits), d.pub, d.cert ? buf(d.cert) : null, d.certRef, d.state,
          d.personalizedAt, d.lastSync, d.lastLoadSeq, d.revoked, d.revokedAt, d.pendingLimits ? JSON.stringify(d.pendingLimits) : null],
      );
      await this.setNames(d.deviceId, d.serial, d.alias);
    });
  }

  /** device_names holds what SQLite's UNIQUE columns serial and alias enforce. */
  private async setNames(deviceId: string, serial: string | null, alias: string | null): Promise<void> {
    const names: [string, string][] = [];
    if (serial !== null) names.push(["serial", serial]);
    if (alias !== null) names.push(["alias", alias]);
    await this.q(`DELETE FROM device_names WHERE device_id = $1 AND kind = ANY($2::text[])`, [deviceId, serial !== null ? ["serial", "alias"] : ["alias"]]);
    for (const [kind, name] of names) {
      try {
        await this.q("INSERT INTO device_names (kind, name, device_id) VALUES ($1, $2, $3)", [kind, name, deviceId]);
      } catch (e) {
        if ((e as { code?: string }).code === "23505") throw Object.assign(new Error(`UNIQUE constraint failed: devices.${kind}`), { code: "23505" });
        throw e;
      }
    }
  }

  async device(key: string): Promise<DeviceRecord | null> {
    const k = key.toLowerCase();
    const r = await this.q(
      `SELECT * FROM devices WHERE device_id = $1
       UNION ALL SELECT d.* FROM device_names n JOIN devices d ON d.device_id = n.device_id WHERE (n.kind = 'alias' AND n.name = $2) OR (n.kind = 'serial' AND n.name = $1)
       LIMIT 1`,
      [k, key],
    );
    return r.rows[0] ? toDevice(r.rows[0]) : null;
  }

  async devices(): Promise<DeviceRecord[]> {
    return (await this.q("SELECT * FROM devices ORDER BY personalized_at NULLS FIRST, device_id")).rows.map(toDevice);
  }

  async devicesAmong(deviceIds: readonly string[]): Promise<DeviceRecord[]> {
    return deviceIds.length ? (await this.q("SELECT * FROM devices WHERE device_id = ANY($1)", [deviceIds])).rows.map(toDevice) : [];
  }

  async deviceByCertRef(certRef: string): Promise<DeviceRecord | null> {
    const r = (await this.q("SELECT * FROM devices WHERE cert_ref = $1 LIMIT 1", [certRef])).rows[0];
    return r ? toDevice(r) : null;
  }

  async setAlias(deviceId: string, alias: string | null): Promise<void> {
    await this.transaction(async () => {
      await this.q("UPDATE devices SET alias = $1 WHERE device_id = $2", [alias, deviceId]);
      await this.setNames(deviceId, null, alias);
    });
  }

  async setRevoked(deviceId: string, revoked: boolean, at: number): Promise<number> {
    return this.transaction(async () => {
      await this.q("UPDATE devices SET revoked = $1, revoked_at = $2 WHERE device_id = $3", [revoked, revoked ? at : null, deviceId]);
      return Number((await this.q("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'revocation_version' RETURNING value")).rows[0].value);
    });
  }

  async revocationVersion(): Promise<number> {
    return Number((await this.q("SELECT value FROM meta WHERE key = 'revocation_version'")).rows[0].value);
  }

  async revokedIds(): Promise<string[]> {
    return (await this.q("SELECT device_id FROM devices WHERE revoked ORDER BY device_id")).rows.map((r) => r.device_id);
  }

  async addLoad(l: LoadRecord): Promise<void> {
    // an issued authorization is never replaced; its receipt (confirmation) is added once
    await this.transaction(async () => {
      await this.q(
        `INSERT INTO loads (device_id, seq, amount, currency, expiry, auth, receipt, created_at, confirmed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (device_id, seq) DO UPDATE SET receipt = COALESCE(loads.receipt, excluded.receipt), confirmed_at = COALESCE(loads.confirmed_at, excluded.confirmed_at)`,
        [l.deviceId, l.seq, l.amount, l.currency, l.expiry, buf(l.auth), l.receipt ? buf(l.receipt) : null, now(), l.receipt ? now() : null],
      );
      await this.q("UPDATE devices SET last_load_seq = GREATEST(last_load_seq, $1) WHERE device_id = $2", [l.seq, l.deviceId]);
    });
  }

  async loads(deviceId?: string): Promise<LoadRecord[]> {
    const rows = deviceId ? (await this.q("SELECT * FROM loads WHERE device_id = $1 ORDER BY seq", [deviceId])).rows : (await this.q("SELECT * FROM loads ORDER BY device_id, seq")).rows;
    return rows.map(loadOf);
  }

  async voidLoad(deviceId: string, seq: number): Promise<void> {
    await this.q("UPDATE loads SET void_at = $1 WHERE device_id = $2 AND seq = $3 AND receipt IS NULL", [now(), deviceId, seq]);
  }

  async addSyncAck(a: SyncAck): Promise<void> {
    await this.transaction(async () => {
      await this.q(
        "INSERT INTO sync_acks (device_id, time, up_to_counter, revocation_version, ack, limits, state) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        [a.deviceId, a.time, a.upToCounter, a.revocationVersion, buf(a.ack), a.limits ? JSON.stringify(a.limits) : null, a.state ?? "applied"],
      );
      if ((a.state ?? "applied") === "applied") await this.q("UPDATE devices SET last_sync = $1 WHERE device_id = $2", [now(), a.deviceId]);
    });
  }

  async setSyncAckState(deviceId: string, time: number, state: AckState): Promise<void> {
    await this.transaction(async () => {
      await this.q("UPDATE sync_acks SET state = $1 WHERE device_id = $2 AND time = $3", [state, deviceId, time]);
      if (state === "applied") await this.q("UPDATE devices SET last_sync = $1 WHERE device_id = $2", [now(), deviceId]);
    });
  }

  async syncAcks(deviceId: string): Promise<SyncAck[]> {
    return (await this.q("SELECT * FROM sync_acks WHERE device_id = $1 ORDER BY time", [deviceId])).rows.map(ackOf);
  }

  async addReceipts(rs: ReceiptRecord[]): Promise<number> {
    let n = 0;
    for (const r of rs)
      n += (await this.q(
        "INSERT INTO receipts (hash, device_id, kind, ref, amount, currency, counter, time, balance_after, cose, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
        [r.hash, r.deviceId, r.kind, r.ref, r.amount, r.currency, r.counter, r.time, r.balanceAfter, buf(r.cose), r.source],
      )).rowCount ?? 0;
    return n;
  }

  async receiptsOf(deviceId: string): Promise<ReceiptRecord[]> {
    return (await this.q("SELECT * FROM receipts WHERE device_id = $1 ORDER BY counter, time, hash", [deviceId])).rows.map(receiptOf);
  }

  async transfersTo(deviceId: string): Promise<VoucherRecord[]> {
    return (await this.q("SELECT * FROM all_vouchers WHERE payee = $1 AND kind = 1 ORDER BY device_id, counter, hash", [deviceId])).rows.map(toVoucher);
  }

  async setVoucherClaim(hash: string, claim: Claim | null): Promise<void> {
    if (((await this.q("UPDATE vouchers SET claim = $1 WHERE hash = $2", [claim, hash])).rowCount ?? 0) === 0)
      await this.q("UPDATE archived_vouchers SET claim = $1 WHERE hash = $2", [claim, hash]);
  }

  async hasImport(sourceHash: string): Promise<boolean> {
    return (await this.q("SELECT 1 FROM imports WHERE source_hash = $1", [sourceHash])).rows.length > 0;
  }

  async claimImport(sourceHash: string, name: string, kind: string): Promise<boolean> {
    // the unique key decides: a concurrent import of the same file makes this INSERT wait
    // for that transaction; committed, the file is imported already (false); rolled back, it is ours
    const r = await this.q("INSERT INTO imports (source_hash, name, kind, counts, imported_at) VALUES ($1, $2, $3, '{}', $4) ON CONFLICT DO NOTHING", [sourceHash, name, kind, now()]);
    return r.rowCount === 1;
  }

  async addImport(sourceHash: string, name: string, kind: string, counts: object): Promise<void> {
    await this.q(
      `INSERT INTO imports (source_hash, name, kind, counts, imported_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (source_hash) DO UPDATE SET counts = excluded.counts WHERE imports.counts = '{}'`,
      [sourceHash, name, kind, JSON.stringify(counts), now()],
    );
  }

  async addVouchers(vs: VoucherRecord[]): Promise<number> {
    if (!vs.length) return 0;
    return this.transaction(async () => {
      // an archive commits between two imports, never inside one (lockArchive); vouchers it
      // holds are known: presented again, they are skipped as a hot duplicate would be
      await this.q("SELECT pg_advisory_xact_lock_shared($1, $2)", [LOCK_SPACE, ARCHIVE_LOCK]);
      const known = new Set(
        (await this.q("SELECT hash FROM archived_vouchers WHERE (device_id, hash) IN (SELECT * FROM unnest($1::text[], $2::text[]))", [vs.map((v) => v.deviceId), vs.map((v) => v.hash)])).rows.map((r) => r.hash as string),
      );
      const fresh = known.size ? vs.filter((v) => !known.has(v.hash)) : vs;
      if (!fresh.length) return 0;
      return this.bulk === "copy" ? this.copyVouchers(fresh) : this.insertVouchers(fresh);
    });
  }

  /** COPY into the session's staging table, then one INSERT … ON CONFLICT DO NOTHING (COPY has no ON CONFLICT). */
  private async copyVouchers(vs: VoucherRecord[]): Promise<number> {
    const STEP = 2000; // rows per chunk of COPY text
    function* text() {
      for (let i = 0; i < vs.length; i += STEP) {
        let s = "";
        for (const v of vs.slice(i, i + STEP))
          s += `${v.hash}\t${v.deviceId}\t${v.counter}\t${v.amount}\t${v.currency}\t${v.payee}\t${v.kind}\t${v.time}\t${v.prev}\t${v.chainHash}\t${v.balanceAfter}\t\\\\x${buf(v.cose).toString("hex")}\t${copyText(v.status)}\t${copyText(v.reason)}\n`;
        yield s;
      }
    }
    // most vouchers of an import are new: COPY straight into the table, under a savepoint;
    // a known one (23505) rolls back to it, and this and every later batch of the
    // transaction takes the staging path, which skips known vouchers
    if (this.directCopy === this.txNo) {
      await this.c.query("SAVEPOINT copy_direct");
      try {
        await pipeline(Readable.from(text()), this.c.query(copyStreams.from(`COPY vouchers (${VOUCHER_COLS}) FROM STDIN`)));
        await this.c.query("RELEASE SAVEPOINT copy_direct");
        return vs.length;
      } catch (e) {
        if ((e as { code?: string }).code !== "23505") throw e;
        await this.c.query("ROLLBACK TO SAVEPOINT copy_direct");
        this.directCopy = -1;
      }
    }
    await pipeline(Readable.from(text()), this.c.query(copyStreams.from(`COPY voucher_stage (${VOUCHER_COLS}) FROM STDIN`)));
    const n = (await this.q(`INSERT INTO vouchers (${VOUCHER_COLS}) SELECT ${VOUCHER_COLS} FROM voucher_stage ON CONFLICT DO NOTHING`)).rowCount ?? 0;
    await this.q("TRUNCATE voucher_stage");
    return n;
  }

  private async insertVouchers(vs: VoucherRecord[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < vs.length; i += VALUES_ROWS) {
      const part = vs.slice(i, i + VALUES_ROWS);
      const args: unknown[] = [];
      for (const v of part) args.push(v.hash, v.deviceId, v.counter, v.amount, v.currency, v.payee, v.kind, v.time, v.prev, v.chainHash, v.balanceAfter, buf(v.cose), v.status, v.reason);
      const sql = valuesSql(part.length);
      n += (await (part.length === VALUES_ROWS ? this.q(sql, args) : this.c.query(sql, args))).rowCount ?? 0;
    }
    return n;
  }

  async addRejected(rs: RejectedVoucher[]): Promise<number> {
    let n = 0;
    for (const r of rs)
      n += (await this.q("INSERT INTO rejected (hash, device_id, reason, cose, source) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING", [r.hash, r.deviceId, r.reason, buf(r.cose), r.source])).rowCount ?? 0;
    return n;
  }

  async rejected(): Promise<RejectedVoucher[]> {
    return (await this.q("SELECT * FROM rejected ORDER BY ord")).rows.map(rejectedFromRow);
  }

  async rejectedFrom(sources: readonly string[], after: string, limit: number): Promise<RejectedVoucher[]> {
    if (!sources.length) return [];
    return (await this.q("SELECT * FROM rejected WHERE source = ANY($1) AND hash > $2 ORDER BY hash LIMIT $3", [sources, after, limit])).rows.map(rejectedFromRow);
  }

  async rejectedAmong(hashes: readonly string[]): Promise<RejectedVoucher[]> {
    if (!hashes.length) return [];
    return (await this.q("SELECT hash, device_id, reason, source FROM rejected WHERE hash = ANY($1)", [hashes])).rows.map(rejectedFromRow);
  }

  async setRejectedReason(hash: string, reason: string): Promise<void> {
    await this.q("UPDATE rejected SET reason = $1 WHERE hash = $2", [reason, hash]);
  }
  async replaceRejected(r: RejectedVoucher): Promise<void> {
    await this.q("UPDATE rejected SET device_id = $1, reason = $2, cose = $3, source = $4 WHERE hash = $5", [r.deviceId, r.reason, buf(r.cose), r.source, r.hash]);
  }


  async addSubmissions(ss: Submission[]): Promise<number> {
    if (!ss.length) return 0;
    const r = await this.q(
      "INSERT INTO submissions (voucher_hash, source, presenter) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING",
      [ss.map((s) => s.voucherHash), ss.map((s) => s.source), ss.map((s) => s.presenter)],
    );
    return r.rowCount ?? 0;
  }

  async submissions(voucherHash: string): Promise<Submission[]> {
    return (await this.q("SELECT * FROM submissions WHERE voucher_hash = $1 ORDER BY source, presenter", [voucherHash])).rows.map((r) => ({
      voucherHash: r.voucher_hash, source: r.source, presenter: r.presenter,
    }));
  }

  async vouchersOf(deviceId: string, opts: { cose?: boolean } = {}): Promise<VoucherRecord[]> {
    const cols = opts.cose === false ? VOUCHER_COLS_NO_COSE : "*";
    return (await this.q(`SELECT ${cols} FROM vouchers WHERE device_id = $1 ORDER BY counter, hash`, [deviceId])).rows.map(toVoucher);
  }

  async voucher(hash: string): Promise<VoucherRecord | null> {
    const r = (await this.q("SELECT * FROM all_vouchers WHERE hash = $1 LIMIT 1", [hash])).rows[0];
    return r ? toVoucher(r) : null;
  }

  async setVoucherStatus(hash: string, status: VoucherStatus, reason: string | null): Promise<void> {
    if (((await this.q("UPDATE vouchers SET status = $1, reason = $2 WHERE hash = $3", [status, reason, hash])).rowCount ?? 0) === 0)
      await this.q("UPDATE archived_vouchers SET status = $1, reason = $2 WHERE hash = $3", [status, reason, hash]);
  }

  async setVoucherStatuses(changes: readonly VoucherStatusChange[]): Promise<void> {
    if (!changes.length) return;
    // by (device_id, hash): partition pruning; what is not hot is an archived stub
    const args = [changes.map((c) => c.deviceId), changes.map((c) => c.hash), changes.map((c) => c.status), changes.map((c) => c.reason)];
    const set = (t: string) =>
      `UPDATE ${t} v SET status = c.status, reason = c.reason FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS c(device_id, hash, status, reason)
       WHERE v.device_id = c.device_id AND v.hash = c.hash`;
    if (((await this.q(set("vouchers"), args)).rowCount ?? 0) < changes.length) await this.q(set("archived_vouchers"), args);
  }

  async evidenceMany(deviceIds: readonly string[]): Promise<Map<string, DeviceRows>> {
    const ids = [...deviceIds];
    const q = async (sql: string) => (await this.q(sql, [ids])).rows;
    // one query per table for all the devices (a round trip each), ordered by device, then as the single reads
    const devices = (await q("SELECT * FROM devices WHERE device_id = ANY($1)")).map(toDevice);
    const by = <T>(rows: T[], key: (r: T) => string) => groupByDevice(rows, key);
    const archived = by(await q("SELECT * FROM archived_vouchers WHERE device_id = ANY($1) ORDER BY device_id, counter, hash"), (r) => r.device_id);
    const vouchers = by((await q(`SELECT ${VOUCHER_COLS_NO_COSE} FROM vouchers WHERE device_id = ANY($1) ORDER BY device_id, counter, hash`)).map(toVoucher), (v) => v.deviceId);
    const acks = by((await q("SELECT * FROM sync_acks WHERE device_id = ANY($1) ORDER BY device_id, time")).map(ackOf), (a) => a.deviceId);
    const receipts = by((await q("SELECT * FROM receipts WHERE device_id = ANY($1) ORDER BY device_id, counter, time, hash")).map(receiptOf), (r) => r.deviceId);
    const loads = by((await q("SELECT * FROM loads WHERE device_id = ANY($1) ORDER BY device_id, seq")).map(loadOf), (l) => l.deviceId);
    const incoming = by((await q("SELECT * FROM all_vouchers WHERE payee = ANY($1) AND kind = 1 ORDER BY payee, device_id, counter, hash")).map(toVoucher), (v) => v.payee);
    const cases = by((await q("SELECT * FROM fraud_cases WHERE closed_at IS NULL AND device_id = ANY($1) ORDER BY device_id, id")).map(caseOf), (c) => c.deviceId);
    const out = new Map<string, DeviceRows>();
    for (const device of devices) {
      const id = device.deviceId;
      out.set(id, {
        device, archived: stubsFromRows(archived.get(id) ?? []), vouchers: vouchers.get(id) ?? [], acks: acks.get(id) ?? [], receipts: receipts.get(id) ?? [],
        loads: loads.get(id) ?? [], incoming: incoming.get(id) ?? [], cases: (cases.get(id) ?? []).sort((a, b) => a.id! - b.id!),
      });
    }
    return out;
  }

  async archivedOf(deviceId: string): Promise<VoucherRecord[]> {
    return stubsFromRows((await this.q("SELECT * FROM archived_vouchers WHERE device_id = $1 ORDER BY counter, hash", [deviceId])).rows);
  }

  async dropArchiveRun(id: string): Promise<void> {
    await this.q("DELETE FROM archives WHERE id = $1 AND state = 'writing'", [id]);
  }

  async putArchive(a: ArchiveRecord): Promise<void> {
    await this.q(
      `INSERT INTO archives (id, state, dir, before, created_at, committed_at, files, vouchers, manifest_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, before = excluded.before, committed_at = excluded.committed_at, files = excluded.files,
         vouchers = excluded.vouchers, manifest_sha256 = excluded.manifest_sha256`,
      [a.id, a.state, a.dir, a.before, a.createdAt, a.committedAt ?? null, a.files ?? null, a.vouchers ?? null, a.manifestSha256 ?? null],
    );
  }

  async archives(): Promise<ArchiveRecord[]> {
    return (await this.q("SELECT * FROM archives ORDER BY created_at, id")).rows.map(archiveFromRow);
  }

  async lockArchive(): Promise<void> {
    if (!this.inside) throw new Error("ledger: lockArchive outside a transaction locks nothing");
    await this.q("SELECT pg_advisory_xact_lock($1, $2)", [LOCK_SPACE, ARCHIVE_LOCK]);
  }

  async archiveVouchers(archiveId: string, vs: { deviceId: string; hash: string }[]): Promise<number> {
    if (!vs.length) return 0;
    const keys = [vs.map((v) => v.deviceId), vs.map((v) => v.hash)];
    const sel = "(device_id, hash) IN (SELECT * FROM unnest($1::text[], $2::text[]))";
    await this.q(
      `INSERT INTO archived_vouchers (hash, device_id, counter, amount, currency, payee, kind, time, chain_hash, balance_after, status, reason, claim, archive)
       SELECT hash, device_id, counter, amount, currency, payee, kind, time, chain_hash, balance_after, status, reason, claim, $3 FROM vouchers WHERE ${sel}`,
      [...keys, archiveId],
    );
    return (await this.q(`DELETE FROM vouchers WHERE ${sel}`, keys)).rowCount ?? 0;
  }

  async openFraudCase(c: FraudCase): Promise<boolean> {
    // the unique key (NULLS NOT DISTINCT) decides, also between concurrent imports; a closed
    // case that the evidence gives again is reopened
    const r = await this.q(
      `INSERT INTO fraud_cases (kind, device_id, counter, voucher_hash, detail, opened_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (device_id, kind, counter, voucher_hash) DO UPDATE SET closed_at = NULL, closed_reason = NULL, detail = excluded.detail
       WHERE fraud_cases.closed_at IS NOT NULL`,
      [c.kind, c.deviceId, c.counter, c.voucherHash, c.detail, now()],
    );
    return r.rowCount === 1;
  }

  async closeFraudCase(id: number, reason: string): Promise<void> {
    await this.q("UPDATE fraud_cases SET closed_at = $1, closed_reason = $2 WHERE id = $3 AND closed_at IS NULL", [now(), reason, id]);
  }

  async fraudCases(opts: { deviceId?: string; includeClosed?: boolean } = {}): Promise<FraudCase[]> {
    const where = [opts.includeClosed ? "true" : "closed_at IS NULL", opts.deviceId ? "device_id = $1" : "true"].join(" AND ");
    return (await this.q(`SELECT * FROM fraud_cases WHERE ${where} ORDER BY id`, opts.deviceId ? [opts.deviceId] : [])).rows.map(caseOf);
  }

  async summary(): Promise<LedgerSummary> {
    // merchant settlement: one aggregate over every partition of vouchers (under Citus, per shard then merged)
    const merchants = (await this.q(
      `SELECT payee, COUNT(*)::bigint AS vouchers, COALESCE(SUM(amount) FILTER (WHERE status = 'settled'), 0)::bigint AS settled,
         COALESCE(SUM(amount) FILTER (WHERE status = 'pending'), 0)::bigint AS pending,
         COALESCE(SUM(amount) FILTER (WHERE status = 'fraud'), 0)::bigint AS held
       FROM all_vouchers WHERE kind = 0 GROUP BY payee ORDER BY payee`,
    )).rows as LedgerSummary["merchants"];
    const devices = (await this.q(
      `WITH l AS (SELECT device_id, SUM(amount) AS loaded FROM loads WHERE receipt IS NOT NULL GROUP BY device_id),
         v AS (SELECT device_id, SUM(amount) AS spent, COUNT(*) AS vouchers, COUNT(*) FILTER (WHERE status = 'fraud') AS fraud,
                 COUNT(*) FILTER (WHERE status = 'pending') AS pending FROM all_vouchers GROUP BY device_id),
         r AS (SELECT payee AS device_id, SUM(amount) AS received FROM all_vouchers WHERE kind = 1 AND claim = 'received' GROUP BY payee)
       SELECT d.device_id AS "deviceId", d.alias, d.revoked, COALESCE(l.loaded, 0)::bigint AS loaded, COALESCE(v.spent, 0)::bigint AS spent,
         COALESCE(r.received, 0)::bigint AS received, COALESCE(v.vouchers, 0)::bigint AS vouchers, COALESCE(v.fraud, 0)::bigint AS fraud,
         COALESCE(v.pending, 0)::bigint AS pending
       FROM devices d LEFT JOIN l ON l.device_id = d.device_id LEFT JOIN v ON v.device_id = d.device_id LEFT JOIN r ON r.device_id = d.device_id
       ORDER BY d.device_id`,
    )).rows.map((r) => ({ deviceId: r.deviceId, alias: r.alias, loaded: r.loaded, spent: r.spent, received: r.received, vouchers: r.vouchers, fraud: r.fraud, pending: r.pending, revoked: !!r.revoked })) as LedgerSummary["devices"];
    const t = (await this.q(
      `SELECT
         (SELECT COALESCE(SUM(amount), 0) FROM loads WHERE receipt IS NOT NULL)::bigint AS loaded,
         (SELECT COALESCE(SUM(amount), 0) FROM loads WHERE receipt IS NULL AND void_at IS NULL)::bigint AS pending_loads,
         (SELECT COALESCE(SUM(amount), 0) FROM all_vouchers WHERE kind = 0)::bigint AS paid,
         (SELECT COALESCE(SUM(amount), 0) FROM all_vouchers WHERE kind = 0 AND status = 'settled')::bigint AS settled,
         (SELECT COALESCE(SUM(amount), 0) FROM all_vouchers WHERE kind = 0 AND status = 'fraud')::bigint AS held,
         (SELECT COALESCE(SUM(amount), 0) FROM all_vouchers WHERE kind = 1 AND claim = 'unclaimed')::bigint AS unclaimed,
         (SELECT COALESCE(SUM(amount), 0) FROM all_vouchers WHERE kind = 1 AND (claim IS NULL OR claim = 'awaiting'))::bigint AS in_flight,
         (SELECT COUNT(*) FROM fraud_cases WHERE closed_at IS NULL)::bigint AS cases,
         (SELECT COUNT(*) FROM rejected)::bigint AS rejected`,
    )).rows[0];
    return {
      merchants, devices, loaded: t.loaded, paidToMerchants: t.paid, settledToMerchants: t.settled, heldForFraud: t.held, unclaimedTransfers: t.unclaimed,
      transfersInFlight: t.in_flight, pendingLoads: t.pending_loads, inCirculation: t.loaded - t.paid - t.unclaimed - t.in_flight,
      fraudCases: t.cases, rejected: t.rejected,
    };
  }

  async audit(action: string, data: object): Promise<AuditEntry> {
    return this.transaction(async () => {
      // one appender at a time (to the end of its transaction): the chain has one head
      await this.q("SELECT pg_advisory_xact_lock($1, $2)", [LOCK_SPACE, AUDIT_LOCK]);
      const last = (await this.q("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")).rows[0];
      const seq = (last?.seq ?? 0) + 1;
      const prev = last?.hash ?? GENESIS;
      const at = now();
      const json = JSON.stringify(data);
      const hash = auditHash(prev, seq, at, action, json);
      await this.q("INSERT INTO audit (seq, at, action, data, prev, hash) VALUES ($1, $2, $3, $4, $5, $6)", [seq, at, action, json, prev, hash]);
      return { seq, at, action, data: json, prev, hash };
    });
  }

  async auditEntries(): Promise<AuditEntry[]> {
    return (await this.q("SELECT seq, at, action, data, prev, hash FROM audit ORDER BY seq")).rows as AuditEntry[];
  }

  async verifyAudit(): Promise<AuditVerdict> {
    return verifyAuditChain(await this.auditEntries());
  }
}

/** Checks a --ledger / WALLET_LEDGER value that names a PostgreSQL server. */
export function checkPostgresUrl(url: string): string {
  // a regular expression, not `new URL`: WHATWG URLs refuse user@ with an empty host (unix sockets)
  if (/^postgres(ql)?:\/\/[^\s/?#]*(\/[^\s/?#]*)?(\?\S*)?$/i.test(url)) return url;
  {
    throw usageError(`--ledger ${redactUrl(url)} is not a PostgreSQL URL (postgres://user@host:port/db or postgres://user@/db?host=/socket/dir)`);
  }
}
