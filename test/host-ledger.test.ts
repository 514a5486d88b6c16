// The ledger (DESIGN.md §6, §9; host-tools/README.md "Ledger": the same suite on SQLite and PostgreSQL):
// migrations, token vault, one transaction per batch (a failure leaves the ledger as it
// was), append-only hash-chained audit log whose verification catches edits, deletions
// and reordering. Backend-specific checks follow the shared suite.
import { describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { auditHash } from "../host-tools/src/ledger/ledger.ts";
import { DEVICE_TABLES, PARTITIONS, PostgresLedger } from "../host-tools/src/ledger/postgres.ts";
import { MIGRATIONS, SqliteLedger } from "../host-tools/src/ledger/sqlite.ts";
import { PaperDevice } from "../host-tools/src/synthetic.ts";
import { generateKeyPair, keyId } from "../host-tools/src/sig.ts";
import { BACKENDS } from "./support/ledger-backends.ts";
import { withDatabase } from "./support/postgres.ts";

const device = () => {
  const key = generateKeyPair("p256");
  return PaperDevice.create({ suite: "p256", key, kid: keyId(key.pub) });
};

describe.each(BACKENDS)("ledger ($label)", (b) => {
  const test = b.it;

  test("migrates a new ledger to the latest schema and reopens without re-running steps", async () => {
    const where = await b.location();
    const l = await b.open(where);
    expect(await l.schemaVersion()).toBe(b.migrations);
    await l.audit("test", { a: 1 });
    await l.close();
    const again = await b.open(where);
    expect(await again.schemaVersion()).toBe(b.migrations);
    expect(await again.auditEntries()).toHaveLength(1);
  });

  test("refuses a ledger from a newer tool", async () => {
    const where = await b.location();
    await b.setVersion(where, b.migrations + 1);
    await expect(b.open(where)).rejects.toThrow(/newer than this tool/);
  });

  test("token vault: one stable token per account, never the account itself", async () => {
    const l = await b.fresh();
    const t = await l.tokenFor("6222020000001234");
    expect(t).toMatch(/^[0-9a-f]{32}$/);
    expect(await l.tokenFor("6222020000001234")).toBe(t);
    expect(await l.tokenFor("6222020000009999")).not.toBe(t);
    expect(await l.accountFor(t)).toBe("6222020000001234");
  });

  test("devices: lookup by id, alias or serial; revocation raises the list version", async () => {
    const d = device();
    const l = await b.fresh();
    await l.putDevice(d.record());
    await l.setAlias(d.id, "alice-card");
    expect((await l.device("alice-card"))?.deviceId).toBe(d.id);
    expect((await l.device(d.id.toUpperCase()))?.alias).toBe("alice-card");
    expect((await l.device(d.record().serial))?.deviceId).toBe(d.id);
    expect(await l.revocationVersion()).toBe(0);
    expect(await l.setRevoked(d.id, true, 123)).toBe(1);
    expect(await l.revokedIds()).toEqual([d.id]);
    expect(await l.setRevoked(d.id, false, 0)).toBe(2);
    expect(await l.revokedIds()).toEqual([]);
  });

  test("an alias belongs to one device; renaming frees the old one", async () => {
    const [d1, d2] = [device(), device()];
    const l = await b.fresh();
    await l.putDevice(d1.record());
    await l.putDevice(d2.record());
    await l.setAlias(d1.id, "shop");
    await expect(l.setAlias(d2.id, "shop")).rejects.toThrow(/UNIQUE/);
    await l.setAlias(d1.id, "till");
    await l.setAlias(d2.id, "shop");
    expect((await l.device("shop"))?.deviceId).toBe(d2.id);
    expect((await l.device("till"))?.deviceId).toBe(d1.id);
    await l.setAlias(d1.id, null);
    expect(await l.device("till")).toBeNull();
  });

  test("vouchers: found by hash alone; a known hash is not inserted twice", async () => {
    const d = device();
    const l = await b.fresh();
    await l.putDevice(d.record());
    const rec = (i: number) => ({
      hash: `${i}`.padStart(64, "0"), deviceId: d.id, counter: i, amount: 10 * i, currency: 156, payee: "00000000000000a1", kind: 0, time: 1_750_000_000 + i,
      prev: "00".repeat(32), chainHash: "11".repeat(32), balanceAfter: 1000 - i, cose: Uint8Array.of(i, 0xd2, 0x5c, 0x09), status: "settled" as const, reason: i === 3 ? "a\ttab\\ and\nnewline" : null,
    });
    expect(await l.addVouchers(Array.from({ length: 1200 }, (_, i) => rec(i + 1)))).toBe(1200);
    expect(await l.addVouchers([rec(5), rec(1201)])).toBe(1);
    const v = await l.voucher(rec(3).hash);
    expect(v).toMatchObject({ deviceId: d.id, counter: 3, amount: 30, reason: "a\ttab\\ and\nnewline", claim: null });
    expect([...v!.cose]).toEqual([3, 0xd2, 0x5c, 0x09]);
    await l.setVoucherStatus(rec(3).hash, "fraud", "fork");
    expect((await l.voucher(rec(3).hash))?.status).toBe("fraud");
    const all = await l.vouchersOf(d.id, { cose: false });
    expect(all.map((x) => x.counter)).toEqual(Array.from({ length: 1201 }, (_, i) => i + 1));
    expect(all[0].cose).toHaveLength(0);
    expect(await l.voucher("ff".repeat(32))).toBeNull();
  });

  test("fraud cases: one per (kind, device, counter, voucher), also with NULL counter and voucher", async () => {
    const d = device();
    const l = await b.fresh();
    const c = { kind: "tampered" as const, deviceId: d.id, counter: null, voucherHash: null, detail: "x" };
    expect(await l.openFraudCase(c)).toBe(true);
    expect(await l.openFraudCase({ ...c, detail: "again" })).toBe(false);
    expect(await l.openFraudCase({ ...c, counter: 1 })).toBe(true);
    expect((await l.fraudCases()).map((x) => [x.kind, x.counter])).toEqual([["tampered", null], ["tampered", 1]]);
  });

  test("imports: a claimed file is imported once", async () => {
    const l = await b.fresh();
    await l.transaction(async () => {
      expect(await l.claimImport("aa", "f.json", "pos-export")).toBe(true);
      expect(await l.claimImport("aa", "f.json", "pos-export")).toBe(false);
      await l.addImport("aa", "f.json", "pos-export", { entries: 3 });
    });
    expect(await l.hasImport("aa")).toBe(true);
    expect(await l.hasImport("bb")).toBe(false);
    expect(await l.transaction(() => l.claimImport("aa", "f.json", "pos-export"))).toBe(false);
  });

  test("a failing batch leaves the ledger as it was", async () => {
    const l = await b.fresh();
    await l.audit("before", {});
    await expect(
      l.transaction(async () => {
        await l.tokenFor("acct");
        await l.audit("inside", {});
        await l.transaction(async () => l.audit("nested", {})); // joins the outer one
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await l.auditEntries()).toHaveLength(1);
    expect(await b.count(l, "token_vault")).toBe(0);
    // and the next one commits
    await l.transaction(async () => void (await l.audit("after", {})));
    expect(await l.auditEntries()).toHaveLength(2);
  });

  test("audit log: append-only by trigger, and verification finds edits, deletions, reordering", async () => {
    const l = await b.fresh();
    for (let i = 0; i < 5; i++) await l.audit("step", { i });
    expect(await l.verifyAudit()).toMatchObject({ ok: true, entries: 5 });
    await expect(b.exec(l, "UPDATE audit SET data = '{}' WHERE seq = 2")).rejects.toThrow(/append-only/);
    await expect(b.exec(l, "DELETE FROM audit WHERE seq = 2")).rejects.toThrow(/append-only/);
    // an attacker with file or database access drops the triggers: the chain still tells
    await b.dropTrigger(l, "audit_no_update", "audit");
    await b.dropTrigger(l, "audit_no_delete", "audit");
    await b.exec(l, `UPDATE audit SET data = '{"i":99}' WHERE seq = 3`);
    expect(await l.verifyAudit()).toMatchObject({ ok: false, firstBad: 3, reason: "entry 3 was modified" });
    const l2 = await b.fresh();
    for (let i = 0; i < 4; i++) await l2.audit("step", { i });
    await b.dropTrigger(l2, "audit_no_delete", "audit");
    await b.exec(l2, "DELETE FROM audit WHERE seq = 2");
    expect(await l2.verifyAudit()).toMatchObject({ ok: false, firstBad: 3, reason: "entry 2 is missing" });
    const l3 = await b.fresh();
    for (let i = 0; i < 3; i++) await l3.audit("step", { i });
    // rewrite entry 2 consistently (recomputed hash) — entry 3 no longer links to it
    await b.dropTrigger(l3, "audit_no_update", "audit");
    const e2 = (await l3.auditEntries())[1];
    await b.exec(l3, `UPDATE audit SET data = '{"i":7}', hash = '${auditHash(e2.prev, 2, e2.at, "step", '{"i":7}')}' WHERE seq = 2`);
    expect(await l3.verifyAudit()).toMatchObject({ ok: false, firstBad: 3, reason: "entry 3 does not link to entry 2" });
  });

  test("concurrent audit appends from two connections keep one chain", async () => {
    const where = await b.location();
    const [l1, l2] = [await b.open(where), await b.open(where)];
    await Promise.all([0, 1, 2, 3, 4, 5].map((i) => (i % 2 ? l1 : l2).audit("step", { i })));
    expect(await l1.verifyAudit()).toMatchObject({ ok: true, entries: 6 });
  });
});

describe("ledger (sqlite only)", () => {
  it("upgrades a version-1 ledger in place, keeping its data", async () => {
    const path = await BACKENDS[0].location();
    const db = new Database(path);
    db.exec(MIGRATIONS[0] as string);
    db.pragma("user_version = 1");
    db.prepare("INSERT INTO token_vault VALUES ('acct', 'ab', 'x')").run();
    db.close();
    const l = SqliteLedger.open(path);
    expect(await l.schemaVersion()).toBe(MIGRATIONS.length);
    expect(await l.accountFor("ab")).toBe("acct");
    const cols = (l.raw().prepare("PRAGMA table_info(devices)").all() as { name: string }[]).map((c) => c.name);
    expect(cols).toContain("pending_limits");
    await l.close();
  });

  it("refuses a file that is not SQLite", async () => {
    const path = await BACKENDS[0].location();
    const { writeFileSync } = await import("node:fs");
    writeFileSync(path, "not a database, not at all ".repeat(40));
    expect(() => SqliteLedger.open(path)).toThrow();
  });
});

const pgb = BACKENDS[1];
describe(`ledger (postgres only${pgb.skip ? `, SKIPPED: ${pgb.skip}` : ""})`, () => {
  const test = pgb.it;

  test("per-device tables are hash-partitioned by device_id and every unique key holds device_id (Citus-ready)", async () => {
    const l = (await pgb.fresh()) as PostgresLedger;
    for (const t of DEVICE_TABLES) {
      const [p] = await l.exec(`SELECT pg_get_partkeydef('${t}'::regclass) AS key, (SELECT COUNT(*) FROM pg_inherits WHERE inhparent = '${t}'::regclass)::int AS parts`);
      expect(p).toEqual({ key: "HASH (device_id)", parts: PARTITIONS });
      const uniques = await l.exec(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = '${t}'::regclass AND contype IN ('p', 'u')`);
      expect(uniques.length).toBeGreaterThan(0);
      for (const u of uniques) expect(u.def).toMatch(/device_id/);
    }
    const [pk] = await l.exec(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'vouchers'::regclass AND contype = 'p'`);
    expect(pk.def).toBe("PRIMARY KEY (device_id, hash)");
    const idx = (await l.exec(`SELECT indexdef FROM pg_indexes WHERE tablename = 'vouchers'`)).map((r) => r.indexdef);
    expect(idx.some((d) => /\(hash\)$/.test(String(d)))).toBe(true);
  });

  test("a database without a wallet schema is not a ledger unless asked to create one", async () => {
    const url = await pgb.location();
    await expect(PostgresLedger.open(url, { create: false })).rejects.toThrow(/holds no wallet ledger/);
    const l = await PostgresLedger.open(url, { create: true });
    await l.close();
    const again = await PostgresLedger.open(url, { create: false });
    expect(await again.schemaVersion()).toBe(pgb.migrations);
    await again.close();
  });

  test("connection failures are one storage error naming the ledger, password hidden", async () => {
    const err = await PostgresLedger.open("postgres://wallet:s3cret@127.0.0.1:1/nowhere").catch((e) => e);
    expect(err.message).toMatch(/ledger postgres:\/\/wallet:\*\*\*@127\.0\.0\.1:1\/nowhere: cannot reach the PostgreSQL server \(ECONNREFUSED\)/);
    expect(err.exitCode).toBe(8);
    const missing = await PostgresLedger.open(withDatabase(await pgb.location(), "no_such_db")).catch((e) => e);
    expect(missing.exitCode).toBe(6);
  });

  test("a transaction the server aborts for a deadlock runs again when allowed (retryConflicts), and fails otherwise", async () => {
    const where = await pgb.location();
    const [l1, l2] = [await PostgresLedger.open(where), await PostgresLedger.open(where)];
    const gate = () => {
      let open!: () => void;
      return { wait: new Promise<void>((r) => (open = r)), open: () => open() };
    };
    // two transactions take the same two rows in opposite orders: one of them is the deadlock's victim
    const crossed = async (retry: boolean) => {
      const [g1, g2] = [gate(), gate()];
      let runs = 0;
      const tx = (l: PostgresLedger, first: string, second: string, mine: ReturnType<typeof gate>, theirs: ReturnType<typeof gate>) =>
        l.transaction(async () => {
          runs++;
          await l.tokenFor(first);
          mine.open();
          await theirs.wait;
          await l.tokenFor(second);
        }, { retryConflicts: retry });
      const r = await Promise.allSettled([tx(l1, "acct-a", "acct-b", g1, g2), tx(l2, "acct-b", "acct-a", g2, g1)]);
      return { r, runs };
    };
    const retried = await crossed(true);
    expect(retried.r.map((x) => x.status)).toEqual(["fulfilled", "fulfilled"]);
    expect(retried.runs).toBe(3);
    expect(l1.conflictRetries + l2.conflictRetries).toBe(1);
    expect(await l1.tokenFor("acct-a")).toBe(await l2.tokenFor("acct-a"));
    await l1.exec("DELETE FROM token_vault");
    const plain = await crossed(false);
    expect(plain.r.filter((x) => x.status === "rejected").map((x) => String((x as PromiseRejectedResult).reason.message))).toEqual([expect.stringMatching(/deadlock/)]);
    await l1.close();
    await l2.close();
  });

  test("COPY and multi-row INSERT store the same vouchers", async () => {
    const d = device();
    const where = await pgb.location();
    const copy = await PostgresLedger.open(where, { bulk: "copy" });
    const values = await PostgresLedger.open(await pgb.location(), { bulk: "values" });
    const recs = Array.from({ length: 700 }, (_, i) => ({
      hash: (i + 1).toString(16).padStart(64, "0"), deviceId: d.id, counter: i + 1, amount: i, currency: 156, payee: "00000000000000a1", kind: 0, time: i,
      prev: "00".repeat(32), chainHash: "11".repeat(32), balanceAfter: 0, cose: Uint8Array.of(i & 255, 0x5c, 0x5c), status: "pending" as const, reason: i % 7 ? null : `r\\${i}`,
    }));
    expect(await copy.addVouchers(recs)).toBe(700);
    expect(await values.addVouchers(recs)).toBe(700);
    expect(await copy.addVouchers(recs)).toBe(0);
    expect(await values.addVouchers(recs)).toBe(0);
    expect(await values.vouchersOf(d.id)).toEqual(await copy.vouchersOf(d.id));
    await copy.close();
    await values.close();
  });
});
