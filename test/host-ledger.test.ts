// SQLite ledger (DESIGN.md §6; host-tools/README.md "Ledger"): migrations by user_version, token vault, one
// transaction per batch (a failure leaves the ledger as it was), append-only
// hash-chained audit log whose verification catches edits, deletions and reordering.
import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { MIGRATIONS, SqliteLedger } from "../host-tools/src/ledger/sqlite.ts";
import { PaperDevice } from "../host-tools/src/synthetic.ts";
import { generateKeyPair, keyId } from "../host-tools/src/sig.ts";

const dir = mkdtempSync(join(tmpdir(), "host-ledger-"));
let n = 0;
const fresh = () => SqliteLedger.open(join(dir, `l${++n}.sqlite`));

describe("ledger", () => {
  it("migrates a new file to the latest schema and reopens without re-running steps", async () => {
    const path = join(dir, "m.sqlite");
    const l = SqliteLedger.open(path);
    expect(await l.schemaVersion()).toBe(MIGRATIONS.length);
    await l.audit("test", { a: 1 });
    await l.close();
    const again = SqliteLedger.open(path);
    expect(await again.schemaVersion()).toBe(MIGRATIONS.length);
    expect(await again.auditEntries()).toHaveLength(1);
  });

  it("upgrades a version-1 ledger in place, keeping its data", async () => {
    const path = join(dir, "v1.sqlite");
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
  });

  it("refuses a ledger from a newer tool and a file that is not SQLite", () => {
    const path = join(dir, "newer.sqlite");
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => SqliteLedger.open(path)).toThrow(/newer than this tool/);
  });

  it("token vault: one stable token per account, never the account itself", async () => {
    const l = fresh();
    const t = await l.tokenFor("6222020000001234");
    expect(t).toMatch(/^[0-9a-f]{32}$/);
    expect(await l.tokenFor("6222020000001234")).toBe(t);
    expect(await l.tokenFor("6222020000009999")).not.toBe(t);
    expect(await l.accountFor(t)).toBe("6222020000001234");
  });

  it("devices: lookup by id, alias or serial; revocation raises the list version", async () => {
    const key = generateKeyPair("p256");
    const d = PaperDevice.create({ suite: "p256", key, kid: keyId(key.pub) });
    const l = fresh();
    await l.putDevice(d.record());
    await l.setAlias(d.id, "alice-card");
    expect((await l.device("alice-card"))?.deviceId).toBe(d.id);
    expect((await l.device(d.id.toUpperCase()))?.alias).toBe("alice-card");
    expect(await l.revocationVersion()).toBe(0);
    expect(await l.setRevoked(d.id, true, 123)).toBe(1);
    expect(await l.revokedIds()).toEqual([d.id]);
    expect(await l.setRevoked(d.id, false, 0)).toBe(2);
    expect(await l.revokedIds()).toEqual([]);
  });

  it("a failing batch leaves the ledger as it was", async () => {
    const l = fresh();
    await l.audit("before", {});
    await expect(
      l.transaction(async () => {
        await l.tokenFor("acct");
        await l.audit("inside", {});
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await l.auditEntries()).toHaveLength(1);
    expect((l.raw().prepare("SELECT COUNT(*) AS n FROM token_vault").get() as { n: number }).n).toBe(0);
  });

  it("audit log: append-only by trigger, and verification finds edits, deletions, reordering", async () => {
    const l = fresh();
    for (let i = 0; i < 5; i++) await l.audit("step", { i });
    expect(await l.verifyAudit()).toMatchObject({ ok: true, entries: 5 });
    const db = l.raw();
    expect(() => db.prepare("UPDATE audit SET data = '{}' WHERE seq = 2").run()).toThrow(/append-only/);
    expect(() => db.prepare("DELETE FROM audit WHERE seq = 2").run()).toThrow(/append-only/);
    // an attacker with file access drops the triggers: the chain still tells
    db.exec("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;");
    db.prepare(`UPDATE audit SET data = '{"i":99}' WHERE seq = 3`).run();
    expect(await l.verifyAudit()).toMatchObject({ ok: false, firstBad: 3, reason: "entry 3 was modified" });
    const l2 = fresh();
    for (let i = 0; i < 4; i++) await l2.audit("step", { i });
    l2.raw().exec("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 2;");
    expect(await l2.verifyAudit()).toMatchObject({ ok: false, firstBad: 3, reason: "entry 2 is missing" });
    const l3 = fresh();
    for (let i = 0; i < 3; i++) await l3.audit("step", { i });
    // rewrite entry 2 consistently (recomputed hash) — entry 3 no longer links to it
    const db3 = l3.raw();
    db3.exec("DROP TRIGGER audit_no_update;");
    const e2 = db3.prepare("SELECT * FROM audit WHERE seq = 2").get() as { prev: string; at: string };
    const { auditHash } = await import("../host-tools/src/ledger/sqlite.ts");
    db3.prepare("UPDATE audit SET data = ?, hash = ? WHERE seq = 2").run('{"i":7}', auditHash(e2.prev, 2, e2.at, "step", '{"i":7}'));
    expect(await l3.verifyAudit()).toMatchObject({ ok: false, firstBad: 3, reason: "entry 3 does not link to entry 2" });
  });
});
