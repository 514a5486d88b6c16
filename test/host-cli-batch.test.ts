// `wallet personalize BATCH` results that tell the truth (host-tools/README.md
// "personalization"): the whole batch file is checked before the first device is touched
// (every bad line in one error); a device already personalized for ANOTHER account is
// refused for the row, not counted as done nor marked finished; a batch with a failed row
// exits non-zero with ok:false; the summary counts personalized / resumed / skipped / failed.
import { beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { runCaptured } from "../host-tools/src/run-captured.ts";
import { EXIT_DATA, EXIT_REFUSED } from "../host-tools/src/errors.ts";

const home = mkdtempSync(join(tmpdir(), "host-cli-batch-"));
const env = { ...process.env, WALLET_PASSPHRASE: "batch cli passphrase", WALLET_HOME: home };
const run = (...argv: string[]) => runCaptured(argv, env);
const ledgerRows = (sql: string) => {
  const db = new Database(join(home, "ledger.sqlite"), { readonly: true });
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe("personalize batch", () => {
  beforeAll(async () => {
    expect((await run("issuer", "init")).code).toBe(0);
  });

  it("checks the whole file first: every bad line in one error, exit 4, no device touched", async () => {
    const sims = join(home, "sims-bad");
    const csv = join(home, "bad.csv");
    writeFileSync(
      csv,
      [
        "account,suite,currency,max_count,cap",
        "1001,p256,156,10,1000.00", // line 2 fine
        "1002,p256,1000,10,1000.00", // line 3: currency ≥ 1000
        "1003,rsa,156,10,1000.00", // line 4: suite
        "1004,p256,156,4294967296,1000.00", // line 5: count ≥ 2^32
        "1005,p256,156,10,1e9", // line 6: amount
      ].join("\n") + "\n",
    );
    const audit = ledgerRows("SELECT count(*) AS n FROM audit");
    const r = await run("personalize", csv, "--sim", sims, "--create", "--json");
    expect(r.code, r.err).toBe(EXIT_DATA);
    const line = r.err.trimEnd();
    expect(line.split("\n")).toHaveLength(1);
    expect(line).toMatch(/bad\.csv: 4 bad rows, no device touched/);
    for (const n of [3, 4, 5, 6]) expect(line).toContain(`line ${n}:`);
    expect(line).not.toContain("line 2:");
    expect(line).toMatch(/line 3: currency must be a whole number from 1 to 999/);
    expect(line).toMatch(/line 5: max_count must be a whole number from 0 to 4294967295/);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, exitCode: EXIT_DATA });
    // nothing was touched: no device image, no state file, no ledger entry
    expect(existsSync(sims)).toBe(false);
    expect(existsSync(`${csv}.state.json`)).toBe(false);
    expect(ledgerRows("SELECT count(*) AS n FROM devices")).toBe(0);
    expect(ledgerRows("SELECT count(*) AS n FROM audit")).toBe(audit);
  });

  it("a device personalized for another account is refused for the row; an all-failed batch exits non-zero", async () => {
    const sims = join(home, "sims");
    mkdirSync(sims);
    // device-1.img: personalized for account 7001 by this bank
    const p = await run("personalize", "--sim", join(sims, "device-1.img"), "--create", "--account", "7001", "--json");
    expect(p.code, p.err).toBe(0);
    const deviceId = JSON.parse(p.out).devices[0].deviceId;
    // a batch whose row 1 is another account, presented with that device
    const csv = join(home, "other.csv");
    writeFileSync(csv, "account\n7002\n");
    const r = await run("personalize", csv, "--sim", sims, "--json");
    expect(r.code, r.err).toBe(EXIT_REFUSED);
    expect(r.err.trimEnd().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/personalize: 1 of 1 rows failed \(rows 1\); first: .*already personalized for another account/);
    const rep = JSON.parse(r.out);
    expect(rep).toMatchObject({ ok: false, exitCode: EXIT_REFUSED, personalized: 0, resumed: 0, skipped: 0, failed: 1 });
    expect(rep.devices[0]).toMatchObject({ row: 1, account: "7002", status: "failed" });
    expect(rep.devices[0].error).toMatch(/already personalized for another account \(…7001, not …7002\)/);
    // not marked finished: a re-run tries the row again (and fails again)
    const state = existsSync(`${csv}.state.json`) ? JSON.parse(readFileSync(`${csv}.state.json`, "utf8")) : { rows: {} };
    expect(Object.keys(state.rows)).toEqual([]);
    expect((await run("personalize", csv, "--sim", sims)).code).toBe(EXIT_REFUSED);
    // the ledger still says the device is 7001's
    const show = JSON.parse((await run("devices", "show", deviceId, "--json")).out);
    expect(show.device.state).toBe("active");
  });

  it("the same account's device again is counted as skipped, not personalized; exit 0", async () => {
    const csv = join(home, "same.csv");
    writeFileSync(csv, "account\n7001\n");
    const r = await run("personalize", csv, "--sim", join(home, "sims"));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/already-personalized/);
    expect(r.out).toMatch(/0 personalized, 0 resumed, 1 skipped, 0 failed/);
  });

  it("a PIN mailer whose directory does not exist is exit 6 before any device is touched", async () => {
    const img = join(home, "mailer.img");
    const r = await run("personalize", "--sim", img, "--create", "--account", "7100", "--pin-mailer", join(home, "no", "dir", "pins.csv"));
    expect(r.code, r.err).toBe(6);
    expect(r.err).toMatch(/PIN mailer's directory .*\/no\/dir does not exist/);
    expect(existsSync(img)).toBe(false);
  });

  it("text mode: failed rows say failed, the summary counts every kind", async () => {
    const sims = join(home, "sims-mixed");
    mkdirSync(sims);
    const p = await run("personalize", "--sim", join(sims, "device-2.img"), "--create", "--account", "8001");
    expect(p.code, p.err).toBe(0);
    const csv = join(home, "mixed.csv");
    writeFileSync(csv, "account\n8100\n8200\n8300\n");
    const r = await run("personalize", csv, "--sim", sims, "--create");
    expect(r.code).toBe(EXIT_REFUSED);
    const rows = r.out.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^1 {2}8100 {2}personalized/);
    expect(rows[1]).toMatch(/^2 {2}8200 {2}failed {2}personalize: device .* another account/);
    expect(rows[2]).toMatch(/^3 {2}8300 {2}personalized/);
    expect(rows.at(-1)).toMatch(/^2 personalized, 0 resumed, 0 skipped, 1 failed; PINs in /);
    expect(r.err).toMatch(/^wallet: personalize: 1 of 3 rows failed \(rows 2\)/);
    expect(readdirSync(sims).filter((f) => f.endsWith(".img")).sort()).toEqual(["device-1.img", "device-2.img", "device-3.img"]);
    // a re-run: rows 1 and 3 skipped, row 2 still failed
    const again = await run("personalize", csv, "--sim", sims, "--json");
    expect(JSON.parse(again.out)).toMatchObject({ ok: false, personalized: 0, skipped: 2, failed: 1 });
  });
});
