// Cold archives of the ledger (SPEC §5.13; DESIGN §9; host-tools/README.md "Ledger archives"):
// settled, fraud-free vouchers move into signed, content-addressed gzip files; the ledger keeps
// a stub of each so that reconciliation judges forks, replays and re-presentations against
// archived vouchers exactly as against hot ones; value and the audit chain stay checkable;
// an interrupted archive resumes without losing or doubling a voucher; verify-archive finds
// every kind of tampering. The same suite on SQLite and on PostgreSQL.
import { beforeEach, describe, expect, it as vit } from "vitest";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { VOUCHER_KIND_D2D } from "../protocol/portable/cbor-keys.ts";
import { archiveCandidates, archiveLedger, commitArchive, MANIFEST_FILE, signManifest, verifyArchive, writeArchive, type ManifestKey, type SignedManifest } from "../host-tools/src/archive.ts";
import { hex } from "../host-tools/src/docs.ts";
import type { FraudCase, Ledger } from "../host-tools/src/ledger/ledger.ts";
import { MIGRATIONS as PG_MIGRATIONS } from "../host-tools/src/ledger/postgres.ts";
import { MIGRATIONS as SQLITE_MIGRATIONS, SqliteLedger } from "../host-tools/src/ledger/sqlite.ts";
import { deviceRowsOf, reconcile } from "../host-tools/src/reconcile.ts";
import { PaperDevice } from "../host-tools/src/synthetic.ts";
import { BACKENDS, type Backend } from "./support/ledger-backends.ts";
import { issuer, ledgerWith as ledgerOn, logFile, posFile, threeDevices } from "./support/paper-files.ts";

const M1 = Buffer.from("0000000000000001", "hex");
const M2 = Buffer.from("0000000000000002", "hex");
const T = 1_750_000_000;
const CUT = T + 1000;

const P256 = issuer("p256");
const SM2 = issuer("sm2");
const BANK = issuer("p256"); // signs the manifests
const KEYS: ManifestKey[] = [{ kid: hex(BANK.kid), suite: "p256", pub: hex(BANK.key!.pub), status: "active" }];

const newDir = () => join(mkdtempSync(join(tmpdir(), "archive-")), "out");
const caseKeys = (cs: FraudCase[]) => cs.map((c) => [c.kind, c.deviceId, c.counter, c.voucherHash].join("|")).sort();

let backend: Backend;
const ledgerWith = (...devs: PaperDevice[]): Promise<Ledger> => ledgerOn(backend, [P256, SM2], devs);
const hot = (l: Ledger) => backend.count(l as never, "vouchers");
const stubs = (l: Ledger) => backend.count(l as never, "archived_vouchers");

describe.each(BACKENDS)("ledger archive ($label)", (be) => {
  const it = be.it;
  let a: PaperDevice, b: PaperDevice, s: PaperDevice;
  beforeEach(() => {
    backend = be;
    ({ a, b, s } = threeDevices(P256, SM2));
  });

  it("moves settled vouchers before the cut into files; unsettled, fraud and later ones stay hot; value, audit and chains stay checkable", async () => {
    const l = await ledgerWith(a, b, s);
    const clone = b.clone();
    const early = [a.pay(100, M1, T), a.pay(200, M1, T + 1), s.pay(300, M2, T + 2), s.pay(50, M2, T + 3), b.pay(70, M1, T + 4)];
    const forged = clone.pay(80, M2, T + 5); // b's counter 1 twice: a fork, both stay hot
    const late = a.pay(400, M1, CUT + 5); // after the cut
    const gapped = (s.pay(1, M1, T + 6), s.pay(2, M1, T + 7)); // counter 3 never arrives: 4 pending
    await reconcile(l, [posFile(M1, [...early.filter((_, i) => i !== 2 && i !== 3), late, gapped]), posFile(M2, [early[2], early[3], forged])]);
    const before = await l.summary();
    const dir = newDir();
    const r = await archiveLedger(l, { before: CUT, dir, signer: BANK, perFile: 3 });
    expect(r!.manifest.vouchers).toBe(4); // a#1, a#2, s#1, s#2
    expect(r!.manifest.devices.map((d) => [d.deviceId, d.from, d.to]).sort()).toEqual([[a.id, 1, 2], [s.id, 1, 2]].sort());
    expect(r!.manifest.files.map((f) => f.vouchers)).toEqual([3, 1]);
    expect([await hot(l), await stubs(l)]).toEqual([4, 4]); // a#3, b#1 twice, s#4 stay hot
    expect((await l.vouchersOf(a.id)).map((v) => v.counter)).toEqual([3]);
    expect((await l.vouchersOf(b.id)).map((v) => v.status)).toEqual(["fraud", "fraud"]);
    expect((await l.archivedOf(s.id)).map((v) => [v.counter, v.status, v.archived])).toEqual([[1, "settled", true], [2, "settled", true]]);
    // value is conserved across the cut: the report is the same
    expect(await l.summary()).toEqual(before);
    // the archive is an audited event and the audit chain still verifies
    const entries = await l.auditEntries();
    expect(entries.at(-1)!.action).toBe("ledger-archive");
    expect(JSON.parse(entries.at(-1)!.data)).toMatchObject({ archiveId: r!.record.id, vouchers: 4, manifestSha256: r!.record.manifestSha256 });
    expect((await l.verifyAudit()).ok).toBe(true);
    expect((await l.archives()).map((x) => [x.id, x.state, x.vouchers])).toEqual([[r!.record.id, "committed", 4]]);
    const check = verifyArchive(dir, KEYS);
    expect(check.problems).toEqual([]);
    expect([check.files, check.vouchers, check.devices]).toEqual([2, 4, 2]);
    // the first hot voucher after the cut links to the archived head: a's #3 stays settled when re-judged
    const next = a.pay(10, M1, CUT + 6);
    const again = await reconcile(l, [posFile(M1, [next])]);
    expect(again.newFraudCases).toEqual([]);
    expect((await l.vouchersOf(a.id)).map((v) => [v.counter, v.status])).toEqual([[3, "settled"], [4, "settled"]]);
    // nothing left to archive before the cut
    expect(await archiveLedger(l, { before: CUT, dir: newDir(), signer: BANK })).toBeNull();
  });

  it("a fork against an archived voucher opens the same cases as against a hot one, and holds its value", async () => {
    // the same vouchers into two ledgers: one keeps them hot, one archives the honest ones first
    const d = PaperDevice.create(P256);
    const v1 = d.pay(100, M1, T);
    const clone = d.clone();
    const v2 = d.pay(200, M1, T + 1);
    const forged = clone.pay(999, M2, T + 2); // counter 2 again, another payload
    const run = async (archive: boolean) => {
      const l = await ledgerWith(d);
      await reconcile(l, [posFile(M1, [v1, v2])]);
      if (archive) expect((await archiveLedger(l, { before: CUT, dir: newDir(), signer: BANK }))!.manifest.vouchers).toBe(2);
      const r = await reconcile(l, [posFile(M2, [forged])]);
      return { cases: caseKeys(r.newFraudCases), summary: await l.summary(), all: caseKeys(await l.fraudCases()) };
    };
    const hotRun = await run(false);
    const coldRun = await run(true);
    expect(coldRun.cases.filter((c) => c.startsWith("fork|"))).toHaveLength(2);
    expect(coldRun.cases).toEqual(hotRun.cases);
    expect(coldRun.all).toEqual(hotRun.all);
    expect(coldRun.summary).toEqual(hotRun.summary);
    expect(coldRun.summary.heldForFraud).toBe(200 + 999);
  });

  it("reconciliation's batched reads (evidenceMany) give each device exactly its single reads: stubs, hot vouchers, transfers, cases", async () => {
    const l = await ledgerWith(a, b, s);
    const clone = a.clone();
    const early = [a.pay(100, M1, T), a.pay(50, Buffer.from(b.id, "hex"), T + 1, VOUCHER_KIND_D2D), s.pay(70, M1, T + 2)];
    await reconcile(l, [posFile(M1, [early[0], early[2]]), logFile(a, [early[1]])]);
    await archiveLedger(l, { before: CUT, dir: newDir(), signer: BANK });
    const late = [a.pay(30, M2, CUT + 1), clone.pay(999, M2, CUT + 2), s.pay(5, Buffer.from(b.id, "hex"), CUT + 3, VOUCHER_KIND_D2D)];
    await reconcile(l, [posFile(M2, late.slice(0, 2)), logFile(s, [late[2]])]);
    expect((await l.fraudCases()).length).toBeGreaterThan(0);
    const ids = [a.id, b.id, s.id, "00000000000000ff"]; // the last: a merchant, not a device
    const single = new Map<string, unknown>();
    for (const id of ids) {
      const dev = await l.device(id);
      if (dev) single.set(id, await deviceRowsOf(l, dev));
    }
    // SQLite reads device by device (no round trips to save); PostgreSQL in one query per table
    if (be.name === "sqlite") expect(l.evidenceMany).toBeUndefined();
    else expect(await l.evidenceMany!(ids)).toEqual(single);
  });

  it("an exact re-upload of an archived voucher is a duplicate (no case, no second settlement); by another merchant it is a replay, as when hot", async () => {
    const l = await ledgerWith(a);
    const v = [a.pay(100, M1, T), a.pay(200, M1, T + 1)];
    await reconcile(l, [posFile(M1, v)]);
    await archiveLedger(l, { before: CUT, dir: newDir(), signer: BANK });
    const before = await l.summary();
    const dup = await reconcile(l, [posFile(M1, v, "t2")]); // another file, same vouchers
    expect([dup.newVouchers, dup.duplicates, dup.newFraudCases.length]).toEqual([0, 2, 0]);
    expect([await hot(l), await stubs(l)]).toEqual([0, 2]);
    expect(await l.summary()).toEqual(before);
    const replay = await reconcile(l, [posFile(M2, [v[0]])]);
    expect(replay.newFraudCases.map((c) => [c.kind, c.counter, c.voucherHash])).toEqual([["replay", 1, (await l.archivedOf(a.id))[0].hash]]);
    expect([await hot(l), (await l.summary()).settledToMerchants]).toEqual([0, 300]);
  });

  it("a device-to-device voucher is archived only once its claim is decided", async () => {
    const l = await ledgerWith(a, b);
    const t = a.pay(500, b.deviceId, T, VOUCHER_KIND_D2D);
    const p = a.pay(5, M1, T + 1);
    await reconcile(l, [logFile(a, [t, p])]);
    expect((await l.transfersTo(b.id)).map((x) => x.claim)).toEqual(["awaiting"]);
    expect(await archiveLedger(l, { before: CUT, dir: newDir(), signer: BANK })).toBeNull(); // #1 awaits, so #2 waits too
    await l.addSyncAck({ deviceId: b.id, upToCounter: 0, time: T + 10, revocationVersion: 0, ack: new Uint8Array(1) });
    await reconcile(l, [], { judge: [b.id] });
    const before = await l.summary();
    expect(before.unclaimedTransfers).toBe(500);
    expect((await archiveLedger(l, { before: CUT, dir: newDir(), signer: BANK }))!.manifest.vouchers).toBe(2);
    expect((await l.transfersTo(b.id)).map((x) => [x.claim, x.archived])).toEqual([["unclaimed", true]]);
    await reconcile(l, [], { judge: [a.id, b.id] });
    expect(await l.summary()).toEqual(before);
  });

  it("a crash after the files are written and before the delete: the re-run archives each voucher exactly once", async () => {
    const l = await ledgerWith(a, s);
    await reconcile(l, [posFile(M1, [a.pay(1, M1, T), a.pay(2, M1, T + 1), s.pay(3, M1, T + 2), a.pay(4, M1, CUT + 1)])]);
    const dir = newDir();
    const w = await writeArchive(l, { before: CUT, dir, signer: BANK, perFile: 1 }); // … and the process dies here
    expect(w!.manifest.vouchers).toBe(3);
    expect([await hot(l), await stubs(l)]).toEqual([4, 0]);
    expect((await l.archives()).map((x) => x.state)).toEqual(["writing"]);
    writeFileSync(join(dir, ".archive-tmp-leftover"), "half a file"); // a write the crash cut short
    // meanwhile a new voucher before the cut arrives: the re-run takes it too
    await reconcile(l, [posFile(M1, [s.pay(5, M1, T + 3)])]);
    const r = await archiveLedger(l, { before: CUT, dir, signer: BANK, perFile: 1 });
    expect(r!.record.id).toBe(w!.record.id);
    expect(r!.manifest.vouchers).toBe(4);
    expect([await hot(l), await stubs(l)]).toEqual([1, 4]);
    expect((await l.archives()).map((x) => x.state)).toEqual(["committed"]);
    expect(readdirSync(dir).sort()).toEqual([...r!.manifest.files.map((f) => f.name), MANIFEST_FILE].sort());
    expect(verifyArchive(dir, KEYS).problems).toEqual([]);
    // a third run into the same directory is refused: it holds a committed archive
    await expect(archiveLedger(l, { before: CUT + 10, dir, signer: BANK })).rejects.toThrow(/already holds archive .* archive into a new directory/);
    // and a directory with anything else in it too
    const other = newDir();
    await archiveLedger(l, { before: 0, dir: other, signer: BANK });
    writeFileSync(join(other, "notes.txt"), "x");
    await expect(archiveLedger(l, { before: CUT + 10, dir: other, signer: BANK })).rejects.toThrow(/is not empty and holds no interrupted archive/);
  });

  it("the ledger changing between the files and the delete (a fork arrives) moves nothing; the re-run leaves the fraud hot", async () => {
    const l = await ledgerWith(a);
    const clone = a.clone();
    await reconcile(l, [posFile(M1, [a.pay(1, M1, T), a.pay(2, M1, T + 1)])]);
    const dir = newDir();
    const w = await writeArchive(l, { before: CUT, dir, signer: BANK });
    clone.pay(9, M2, T + 2); // the clone's counter 1 was never seen
    await reconcile(l, [posFile(M2, [clone.pay(9, M2, T + 3)])]); // counter 2 forked
    await expect(commitArchive(l, w!)).rejects.toThrow(/the ledger changed while the archive was written/);
    expect([await hot(l), await stubs(l)]).toEqual([3, 0]);
    const r = await archiveLedger(l, { before: CUT, dir, signer: BANK });
    expect(r!.manifest.devices.map((d) => [d.from, d.to])).toEqual([[1, 1]]);
    expect(verifyArchive(dir, KEYS).problems).toEqual([]);
  });

  it("a second archive continues each chain from the first one's head", async () => {
    const l = await ledgerWith(a);
    await reconcile(l, [posFile(M1, [a.pay(1, M1, T), a.pay(2, M1, T + 1)])]);
    const first = await archiveLedger(l, { before: CUT, dir: newDir(), signer: BANK });
    await reconcile(l, [posFile(M1, [a.pay(3, M1, CUT + 1), a.pay(4, M1, CUT + 2)])]);
    const dir = newDir();
    const second = await archiveLedger(l, { before: CUT + 100, dir, signer: BANK });
    const [d] = second!.manifest.devices;
    expect([d.from, d.to, d.linksTo]).toEqual([3, 4, first!.manifest.devices[0].head.chainHash]);
    expect(verifyArchive(dir, KEYS).problems).toEqual([]);
    expect([await hot(l), await stubs(l)]).toEqual([0, 4]);
    expect((await l.archivedOf(a.id)).map((v) => v.counter)).toEqual([1, 2, 3, 4]);
  });

  it("verify-archive names each kind of tampering", async () => {
    const l = await ledgerWith(a, s);
    await reconcile(l, [posFile(M1, [a.pay(1, M1, T), a.pay(2, M1, T + 1), s.pay(3, M1, T + 2), s.pay(4, M1, T + 3)])]);
    const dir = newDir();
    const r = await archiveLedger(l, { before: CUT, dir, signer: BANK, perFile: 2 });
    const [f1, f2] = r!.manifest.files.map((f) => join(dir, f.name));
    const manifestPath = join(dir, MANIFEST_FILE);
    const pristine = readFileSync(manifestPath, "utf8");
    const copy = (path: string) => readFileSync(path);
    const restore = (path: string, bytes: Buffer) => writeFileSync(path, bytes);
    expect(verifyArchive(dir, KEYS).problems).toEqual([]);
    // a flipped byte
    const f1bytes = copy(f1);
    const flipped = Buffer.from(f1bytes);
    flipped[flipped.length >> 1] ^= 0x01;
    writeFileSync(f1, flipped);
    expect(verifyArchive(dir, KEYS).problems).toEqual([expect.stringMatching(new RegExp(`^file ${r!.manifest.files[0].name}: content hash [0-9a-f]{64} does not match its name and the manifest \\(the file was modified\\)$`))]);
    restore(f1, f1bytes);
    // a removed file
    const f2bytes = copy(f2);
    unlinkSync(f2);
    expect(verifyArchive(dir, KEYS).problems).toEqual([`file ${r!.manifest.files[1].name}: missing`]);
    restore(f2, f2bytes);
    // an edited manifest (one voucher fewer, a head moved): the signature no longer verifies
    const edited = JSON.parse(pristine) as SignedManifest;
    edited.manifest.devices[0].head.counter = 1;
    writeFileSync(manifestPath, JSON.stringify(edited));
    const p = verifyArchive(dir, KEYS).problems;
    expect(p[0]).toBe(`manifest: signature does not verify under key ${hex(BANK.kid)} (the manifest was edited, or another key signed it)`);
    expect(p.slice(1)).toEqual([expect.stringMatching(/chain ends at 2:.*the manifest's head is 1:/)]);
    // a manifest re-signed by a key the bank does not hold, and one claiming the bank's key id
    const intruder = issuer("p256");
    writeFileSync(manifestPath, JSON.stringify(signManifest(edited.manifest, intruder)));
    expect(verifyArchive(dir, KEYS).problems[0]).toBe(`manifest: signed by key ${hex(intruder.kid)}, which the keystore does not hold (another bank's archive, or the wrong keystore)`);
    writeFileSync(manifestPath, JSON.stringify(signManifest(edited.manifest, { ...intruder, kid: BANK.kid })));
    expect(verifyArchive(dir, KEYS).problems[0]).toMatch(/^manifest: signature does not verify under key/);
    writeFileSync(manifestPath, pristine);
    expect(verifyArchive(dir, [{ ...KEYS[0], status: "compromised" }]).problems).toEqual([`manifest: signed by key ${hex(BANK.kid)}, revoked as compromised: not trusted`]);
    // a file the manifest does not list
    writeFileSync(join(dir, "ab".repeat(32) + ".gz"), "x");
    expect(verifyArchive(dir, KEYS).problems).toEqual([`file ${"ab".repeat(32)}.gz: in ${dir} but not in the manifest`]);
    rmSync(join(dir, "ab".repeat(32) + ".gz"));
    expect(verifyArchive(dir, KEYS).problems).toEqual([]);
    // not an archive at all
    expect(() => verifyArchive(join(dir, ".."), KEYS)).toThrow(/is not a ledger archive \(no manifest\.json\)/);
  });

  it("an old-schema ledger migrates (SQLite 6 → 7, PostgreSQL 2 → 3) and its vouchers archive", async () => {
    const where = await be.location();
    const d = PaperDevice.create(P256);
    const prev = be.name === "sqlite" ? 6 : 2;
    if (be.name === "sqlite") {
      const db = new Database(where);
      for (const m of SQLITE_MIGRATIONS.slice(0, prev)) typeof m === "string" ? db.exec(m) : m(db);
      db.pragma(`user_version = ${prev}`);
      db.close();
    } else {
      const c = new pg.Client({ connectionString: where });
      await c.connect();
      await c.query("CREATE TABLE schema_version (version INTEGER NOT NULL)");
      for (const m of PG_MIGRATIONS.slice(0, prev)) await c.query(m as string);
      await c.query("INSERT INTO schema_version VALUES ($1)", [prev]);
      await c.end();
    }
    const l = await be.open(where);
    expect(await l.schemaVersion()).toBe(be.migrations);
    await l.putIssuerKeys([{ kid: hex(P256.kid), suite: "p256", pub: hex(P256.key!.pub), status: "active" }]);
    await l.putDevice(d.record());
    await reconcile(l, [posFile(M1, [d.pay(1, M1, T)])]);
    expect((await archiveCandidates(l, CUT)).map((c) => c.vouchers.length)).toEqual([1]);
    expect((await archiveLedger(l, { before: CUT, dir: newDir(), signer: BANK }))!.manifest.vouchers).toBe(1);
    expect(prev + 1).toBe(be.migrations);
  });
});

describe("ledger archive (sqlite only)", () => {
  vit("an old-schema file with vouchers in it keeps them through the migration", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "archive-mig-")), "l.sqlite");
    const d = PaperDevice.create(P256);
    {
      const l = SqliteLedger.open(path);
      await l.putIssuerKeys([{ kid: hex(P256.kid), suite: "p256", pub: hex(P256.key!.pub), status: "active" }]);
      await l.putDevice(d.record());
      await reconcile(l, [posFile(M1, [d.pay(1, M1, T), d.pay(2, M1, T + 1)])]);
      // back to version 6, as an older tool left it
      l.raw().exec("DROP VIEW settlements; DROP VIEW all_vouchers; DROP TRIGGER vouchers_archived_known; DROP TABLE archived_vouchers; DROP TABLE archives;");
      l.raw().exec("CREATE VIEW settlements AS SELECT hash AS voucher_hash, device_id AS payer, payee, amount, currency, kind FROM vouchers WHERE status = 'settled'");
      l.raw().pragma("user_version = 6");
      await l.close();
    }
    const l = SqliteLedger.open(path);
    expect(await l.schemaVersion()).toBe(7);
    expect((await l.vouchersOf(d.id)).map((v) => v.status)).toEqual(["settled", "settled"]);
    const dir = join(mkdtempSync(join(tmpdir(), "archive-")), "a");
    expect((await archiveLedger(l, { before: CUT, dir, signer: BANK }))!.manifest.vouchers).toBe(2);
    expect(existsSync(join(dir, MANIFEST_FILE))).toBe(true);
    expect((l.raw().prepare("SELECT COUNT(*) AS n FROM settlements").get() as { n: number }).n).toBe(2);
    await l.close();
  });
});
