// Content hash of a wallet ledger (host-tools/src/ledger/sqlite.ts schema): SHA-256 over the
// rows of every table that carries meaning, each table's rows in a canonical order, without
// wall-clock columns (when a row was written is not what it says) and without the audit log
// (its entries carry timestamps and one entry per run; `wallet audit verify` checks its chain).
// Two ledgers with equal hashes hold the same devices, vouchers with the same status / reason
// / claim, the same fraud cases, receipts, loads, sync acks, submissions, rejections and imports.
// Host-side test helper; opens the file read-only.
import Database from "better-sqlite3";
import { createHash } from "node:crypto";

/** Table -> columns left out of the hash (wall clock, row ids assigned in insertion order). */
export const EXCLUDED: Readonly<Record<string, readonly string[]>> = {
  devices: ["personalized_at", "last_sync"],
  loads: ["created_at", "confirmed_at", "void_at"],
  fraud_cases: ["id", "opened_at"],
  imports: ["imported_at"],
  token_vault: ["created_at"],
};
/** Tables hashed (everything but the audit log and SQLite's own). */
export const TABLES = ["meta", "issuer_keys", "token_vault", "devices", "loads", "sync_acks", "imports", "vouchers", "rejected", "submissions", "fraud_cases", "receipts"] as const;

const canon = (v: unknown): unknown => (Buffer.isBuffer(v) ? `x:${v.toString("hex")}` : typeof v === "bigint" ? v.toString() : v);

/** Per-table hashes and row counts, and the hash of them all. */
export function ledgerContent(path: string): { hash: string; tables: Record<string, { rows: number; hash: string }> } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const all = createHash("sha256");
    const tables: Record<string, { rows: number; hash: string }> = {};
    const present = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    for (const t of TABLES) {
      const h = createHash("sha256");
      let rows = 0;
      if (present.has(t)) {
        const cols = (db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name).filter((c) => !(EXCLUDED[t] ?? []).includes(c)).sort();
        const list = cols.map((c) => `"${c}"`).join(", ");
        // every column in the ORDER BY: the order does not depend on rowids or insertion order
        for (const r of db.prepare(`SELECT ${list} FROM ${t} ORDER BY ${list}`).raw().iterate() as Iterable<unknown[]>) {
          h.update(JSON.stringify(r.map(canon)) + "\n");
          rows++;
        }
        h.update(`columns:${cols.join(",")}`);
      }
      tables[t] = { rows, hash: h.digest("hex") };
      all.update(`${t}:${tables[t].hash}:${rows}\n`);
    }
    return { hash: all.digest("hex"), tables };
  } finally {
    db.close();
  }
}

/** The ledger's content hash (see ledgerContent). */
export function ledgerContentHash(path: string): string {
  return ledgerContent(path).hash;
}
