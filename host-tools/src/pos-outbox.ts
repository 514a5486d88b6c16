// The POS outbox (DESIGN.md §8; host-tools/README.md "Commands"): the terminal's own SQLite file.
// A voucher is stored (and committed) BEFORE the terminal says "approved", so a crash
// after a tap never loses money; `export` writes every stored voucher as a POS export
// file (reconcile.ts PosExport), so exporting twice is harmless: reconciliation knows
// each voucher by its hash. The terminal's configuration (merchant id, currency,
// trusted issuer keys, revocation list) lives in the same file.
import Database from "better-sqlite3";
import { dataError, notFound } from "./errors.ts";
import { hex, unhex, type TrustedKey } from "./docs.ts";
import type { PosConfig, PosJournal, PosPayment } from "./flows.ts";
import type { PayIntent } from "./pay-intent.ts";
import { POS_EXPORT_FORMAT, type PosExport } from "./exchange.ts";
import { existsSync } from "node:fs";

const SCHEMA = [
  `CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE outbox (hash TEXT PRIMARY KEY, device_id TEXT NOT NULL, counter INTEGER NOT NULL, amount INTEGER NOT NULL,
     currency INTEGER NOT NULL, time INTEGER NOT NULL, voucher BLOB NOT NULL, cert BLOB NOT NULL, received_at TEXT NOT NULL,
     exported_at TEXT);`,
  // 2: an intent is written before PAY, so a payment whose voucher was not stored (a crash, a
  // full disk, a lost answer) is found again from the device's log (`wallet pos recover`)
  `CREATE TABLE intents (id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, counter_before INTEGER NOT NULL, amount INTEGER NOT NULL,
     challenge TEXT NOT NULL, time INTEGER NOT NULL, created_at TEXT NOT NULL, closed_at TEXT);
   CREATE INDEX intents_open ON intents(device_id) WHERE closed_at IS NULL;`,
];

export type { PayIntent };

export interface PosSettings {
  merchant: string; // hex 8 bytes
  terminal: string;
  currency: number;
  trusted: TrustedKey[];
  revoked: string[];
  revocationVersion: number;
}

export class PosOutbox implements PosJournal {
  private db: Database.Database;
  private constructor(readonly path: string) {
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL"); // "approved" means on disk
    let v = this.db.pragma("user_version", { simple: true }) as number;
    for (; v < SCHEMA.length; v++) {
      const step = v;
      this.db.transaction(() => {
        this.db.exec(SCHEMA[step]);
        this.db.pragma(`user_version = ${step + 1}`);
      })();
    }
  }

  static open(path: string, mustExist = false): PosOutbox {
    if (mustExist && !existsSync(path)) throw notFound(`pos: outbox ${path} not found (run \`wallet pos init\` first)`);
    return new PosOutbox(path);
  }

  configure(s: PosSettings): void {
    if (!/^[0-9a-f]{16}$/.test(s.merchant)) throw dataError(`pos: merchant id must be 16 hex digits, got "${s.merchant}"`);
    const st = this.db.prepare("INSERT INTO config (key, value) VALUES ('settings', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    st.run(JSON.stringify(s));
  }

  settings(): PosSettings {
    const r = this.db.prepare("SELECT value FROM config WHERE key = 'settings'").get() as { value: string } | undefined;
    if (!r) throw notFound(`pos: ${this.path} has no configuration (run \`wallet pos init\`)`);
    return JSON.parse(r.value);
  }

  config(): PosConfig {
    const s = this.settings();
    return { merchant: unhex(s.merchant), currency: s.currency, trusted: s.trusted, revoked: new Set(s.revoked) };
  }

  /** Stores a verified payment; committed when this returns. */
  store(p: PosPayment): void {
    this.db
      .prepare("INSERT OR IGNORE INTO outbox (hash, device_id, counter, amount, currency, time, voucher, cert, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run(p.voucherHash, p.deviceId, p.counter, p.amount, p.currency, p.time, Buffer.from(p.voucher), Buffer.from(p.cert), new Date().toISOString());
  }

  /** Records the intent (committed) before PAY; throws when the outbox cannot be written. */
  begin(i: PayIntent): void {
    this.db.prepare("INSERT INTO intents (device_id, counter_before, amount, challenge, time, created_at) VALUES (?, ?, ?, ?, ?, ?)").run(i.deviceId, i.counterBefore, i.amount, i.challenge, i.time, new Date().toISOString());
  }

  openIntents(deviceId?: string): PayIntent[] {
    const rows = (deviceId
      ? this.db.prepare("SELECT * FROM intents WHERE closed_at IS NULL AND device_id = ? ORDER BY id").all(deviceId)
      : this.db.prepare("SELECT * FROM intents WHERE closed_at IS NULL ORDER BY id").all()) as Record<string, any>[];
    return rows.map((r) => ({ deviceId: r.device_id, counterBefore: r.counter_before, amount: r.amount, challenge: r.challenge, time: r.time }));
  }

  /** Closes the device's open intents: their outcome is known (stored, recovered, or never paid). */
  closeIntents(deviceId: string): void {
    this.db.prepare("UPDATE intents SET closed_at = ? WHERE device_id = ? AND closed_at IS NULL").run(new Date().toISOString(), deviceId);
  }

  has(voucherHash: string): boolean {
    return !!this.db.prepare("SELECT 1 FROM outbox WHERE hash = ?").get(voucherHash);
  }

  count(): { vouchers: number; unexported: number; amount: number } {
    return this.db.prepare("SELECT COUNT(*) AS vouchers, COALESCE(SUM(exported_at IS NULL), 0) AS unexported, COALESCE(SUM(amount), 0) AS amount FROM outbox").get() as never;
  }

  /**
   * The terminal's takings: payments (count, amount) received on `day` (YYYY-MM-DD, UTC;
   * undefined: all), how many are not exported yet, and the time of the last export.
   */
  takings(day?: string): { payments: number; amount: number; unexported: number; lastExport: string | null; first: string | null; last: string | null } {
    const where = day ? "WHERE substr(received_at, 1, 10) = ?" : "";
    const r = this.db
      .prepare(`SELECT COUNT(*) AS payments, COALESCE(SUM(amount), 0) AS amount, COALESCE(SUM(exported_at IS NULL), 0) AS unexported, MIN(received_at) AS first, MAX(received_at) AS last FROM outbox ${where}`)
      .get(...(day ? [day] : [])) as { payments: number; amount: number; unexported: number; first: string | null; last: string | null };
    const e = this.db.prepare("SELECT MAX(exported_at) AS at FROM outbox").get() as { at: string | null };
    return { ...r, lastExport: e.at };
  }

  /** Every stored voucher as a POS export; marks them exported (a re-export repeats them). */
  export(): PosExport {
    const s = this.settings();
    const rows = this.db.prepare("SELECT voucher, received_at FROM outbox ORDER BY received_at, hash").all() as { voucher: Buffer; received_at: string }[];
    const at = new Date().toISOString();
    this.db.prepare("UPDATE outbox SET exported_at = ? WHERE exported_at IS NULL").run(at);
    return { format: POS_EXPORT_FORMAT, version: 1, terminal: s.terminal, merchant: s.merchant, exportedAt: at, vouchers: rows.map((r) => ({ cose: hex(r.voucher), receivedAt: r.received_at })) };
  }

  close(): void {
    this.db.close();
  }
}
