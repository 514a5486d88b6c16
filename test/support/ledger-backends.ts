// The ledger backends the ledger, reconciliation and money-path suites run against
// (one suite, parameterized by backend; DESIGN.md §9): SQLite files in a temp directory, and
// databases on the private PostgreSQL cluster of this run (test/support/postgres-setup.ts).
// Use: `describe.each(BACKENDS)("… ($name)", (b) => { const it = b.it; … await b.fresh() … })`.
// Where PostgreSQL is unavailable its tests are skipped with the reason in their title.
import { afterAll, inject, it as vit } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { Ledger } from "../../host-tools/src/ledger/ledger.ts";
import { MIGRATIONS as PG_MIGRATIONS, PostgresLedger } from "../../host-tools/src/ledger/postgres.ts";
import { MIGRATIONS as SQLITE_MIGRATIONS, SqliteLedger } from "../../host-tools/src/ledger/sqlite.ts";
import { withDatabase } from "./postgres.ts";

export type AnyLedger = SqliteLedger | PostgresLedger;

export interface Backend {
  name: "sqlite" | "postgres";
  /** the name, with the reason when skipped: for describe titles ("… ($label)") */
  label: string;
  /** why this backend's tests are skipped here (undefined: they run) */
  skip?: string;
  /** `it`, or `it.skip` when the backend is unavailable */
  it: typeof vit;
  migrations: number;
  /** a new, empty location (file path / database URL) */
  location(): Promise<string>;
  open(location: string): Promise<AnyLedger>;
  /** a fresh migrated ledger (closed after the file's tests) */
  fresh(): Promise<AnyLedger>;
  /** one SQL statement on the ledger's own connection (raw access, as an attacker with the file / a DBA has) */
  exec(l: AnyLedger, sql: string): Promise<Record<string, unknown>[]>;
  count(l: AnyLedger, table: string): Promise<number>;
  dropTrigger(l: AnyLedger, name: string, table: string): Promise<void>;
  /** writes a schema version into a location, as a newer tool would have */
  setVersion(location: string, v: number): Promise<void>;
}

let n = 0;
const opened: AnyLedger[] = [];
const track = <L extends AnyLedger>(l: L): L => (opened.push(l), l);
afterAll(async () => {
  for (const l of opened.splice(0)) await l.close().catch(() => {});
  await admin?.end().catch(() => {});
});

const sqliteDir = mkdtempSync(join(tmpdir(), "ledger-backend-"));
const sqlite: Backend = {
  name: "sqlite",
  label: "sqlite",
  it: vit,
  migrations: SQLITE_MIGRATIONS.length,
  location: async () => join(sqliteDir, `l${++n}.sqlite`),
  open: async (p) => track(SqliteLedger.open(p)),
  fresh: async () => track(SqliteLedger.open(join(sqliteDir, `l${++n}.sqlite`))),
  exec: async (l, sql) => {
    const st = (l as SqliteLedger).raw().prepare(sql);
    return st.reader ? (st.all() as Record<string, unknown>[]) : (st.run(), []);
  },
  count: async (l, table) => Number(((l as SqliteLedger).raw().prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n),
  dropTrigger: async (l, name) => void (l as SqliteLedger).raw().exec(`DROP TRIGGER ${name}`),
  setVersion: async (p, v) => {
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(p);
    db.pragma(`user_version = ${v}`);
    db.close();
  },
};

const info = inject("postgres");
const pgSkip = !info ? "no PostgreSQL global setup in this project" : "skip" in info ? info.skip : undefined;
const baseUrl = info && "url" in info ? info.url : "";
let admin: pg.Client | undefined;
async function adminClient(): Promise<pg.Client> {
  if (!admin) {
    admin = new pg.Client({ connectionString: baseUrl });
    await admin.connect();
  }
  return admin;
}

/** A new database on the run's cluster: every PostgreSQL ledger of the suites has its own
 * (`migrated`: a copy of a migrated template, ≈ 4x faster than migrating each one). */
export async function newPgDatabase(migrated = false): Promise<string> {
  const name = `t${process.pid}_${++n}`;
  const a = await adminClient();
  if (migrated) {
    template ??= (async () => {
      const t = `tpl${process.pid}`;
      await a.query(`CREATE DATABASE ${t}`);
      await (await PostgresLedger.open(withDatabase(baseUrl, t))).close();
      return t;
    })();
    await a.query(`CREATE DATABASE ${name} TEMPLATE ${await template}`);
  } else await a.query(`CREATE DATABASE ${name}`);
  return withDatabase(baseUrl, name);
}
let template: Promise<string> | undefined;

const postgres: Backend = {
  name: "postgres",
  label: pgSkip ? `postgres, SKIPPED: ${pgSkip}` : "postgres",
  skip: pgSkip,
  it: (pgSkip ? vit.skip : vit) as typeof vit,
  migrations: PG_MIGRATIONS.length,
  location: () => newPgDatabase(),
  open: async (url) => track(await PostgresLedger.open(url)),
  fresh: async () => track(await PostgresLedger.open(await newPgDatabase(true))),
  exec: (l, sql) => (l as PostgresLedger).exec(sql),
  count: async (l, table) => Number((await (l as PostgresLedger).exec(`SELECT COUNT(*) AS n FROM ${table}`))[0].n),
  dropTrigger: async (l, name, table) => void (await (l as PostgresLedger).exec(`DROP TRIGGER ${name} ON ${table}`)),
  setVersion: async (url, v) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    await c.query("DELETE FROM schema_version");
    await c.query("INSERT INTO schema_version VALUES ($1)", [v]);
    await c.end();
  },
};

export const BACKENDS: Backend[] = [sqlite, postgres];
export type { Ledger };
