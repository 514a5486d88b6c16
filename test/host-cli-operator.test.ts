// Operator tools of the `wallet` CLI (host-tools/README.md "Commands"): card info,
// pin change, pos summary, and the report / devices show|list text and CSV a finance
// person reads. In-process (main() with stdout/stderr captured) on simulated devices.
import { beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCaptured } from "../host-tools/src/run-captured.ts";

const home = mkdtempSync(join(tmpdir(), "host-cli-op-"));
const env = { ...process.env, WALLET_PASSPHRASE: "operator test passphrase", WALLET_HOME: home };
const run = (...argv: string[]) => runCaptured(argv, env);
const img = join(home, "alice.img");
const MERCHANT = "00112233445566aa";
const today = new Date().toISOString().slice(0, 10);

describe("operator tools", () => {
  beforeAll(async () => {
    expect((await run("issuer", "init")).code).toBe(0);
    expect((await run("issuer", "export-public", "--out", join(home, "trust.json"))).code).toBe(0);
    expect((await run("pos", "init", "--merchant", MERCHANT, "--trust", join(home, "trust.json"), "--terminal", "till-7", "--currency", "CNY")).code).toBe(0);
  });

  it("card info: a blank device says so; a personalized one shows balance, limits, tries and its certificate", async () => {
    const blank = await run("card", "info", "--sim", img, "--create");
    expect(blank.code).toBe(0);
    expect(blank.out).toMatch(/^lifecycle +blank/m);
    expect(blank.out).toMatch(/^certificate +none/m);
    const p = await run("personalize", "--sim", img, "--account", "6222000011110003", "--alias", "alice", "--pin", "1234", "--currency", "CNY");
    expect(p.code, p.err).toBe(0);
    expect((await run("load", "alice", "100.00", "--sim", img)).code).toBe(0);
    const info = await run("card", "info", "--sim", img);
    expect(info.code).toBe(0);
    expect(info.out).toMatch(/^device +[0-9a-f]{16} \(alice\)$/m);
    expect(info.out).toMatch(/^lifecycle +active$/m);
    expect(info.out).toMatch(/^balance +100\.00 CNY$/m);
    expect(info.out).toMatch(/^cap +1000\.00 CNY$/m);
    expect(info.out).toMatch(/^before sync +50 payments, 1000\.00 CNY left; sync due by \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    expect(info.out).toMatch(/^PIN tries +3 left$/m);
    expect(info.out).toMatch(/^certificate +valid: not before \S+Z, not after \S+Z, issuer key [0-9a-f]+$/m);
    const j = JSON.parse((await run("card", "info", "--sim", img, "--json")).out);
    expect(j).toMatchObject({ ok: true, lifecycle: "active", balance: 10000, cap: 100000, counter: 0, paymentsLeft: 50, pinTries: 3, currencyCode: "CNY", certificate: { valid: "valid" }, ledger: { alias: "alice", state: "active" } });
  });

  it("pin change: a wrong old PIN says its tries and changes nothing; the new PIN is the one a payment needs", async () => {
    const wrong = await run("pin", "change", "--sim", img, "--pin", "9999", "--new-pin", "2468");
    expect(wrong.code).toBe(7);
    expect(wrong.err.trim()).toBe("wallet: pin change: wrong PIN, 2 tries left");
    expect((await run("pin", "change", "--sim", img, "--pin", "1234", "--new-pin", "2468")).code).toBe(0);
    // the tries are back at 3, and a payment above the no-PIN limit takes the new PIN, not the old
    expect(JSON.parse((await run("card", "info", "--sim", img, "--json")).out).pinTries).toBe(3);
    expect((await run("pos", "charge", "60.00", "--sim", img, "--pin", "1234")).code).not.toBe(0);
    const paid = await run("pos", "charge", "60.00", "--sim", img, "--pin", "2468");
    expect(paid.code, paid.err).toBe(0);
    expect((await run("pin", "change", "--sim", img, "--pin", "12", "--new-pin", "2468")).code).toBe(2);
  });

  it("pos summary: payments, takings and not-exported count per terminal for the day; last export after pos export", async () => {
    expect((await run("pos", "charge", "12.50", "--sim", img)).code).toBe(0);
    const s = await run("pos", "summary");
    expect(s.code, s.err).toBe(0);
    expect(s.out).toContain(`POS takings on ${today} (UTC)`);
    expect(s.out).toMatch(new RegExp(`^till-7 +${MERCHANT} +2 +72\\.50 CNY +2 +never$`, "m"));
    expect(s.out).toMatch(/^total: 2 payments, 72\.50 CNY$/m);
    expect((await run("pos", "export", "--out", join(home, "pos-export-till-7.json"))).code).toBe(0);
    const after = JSON.parse((await run("pos", "summary", "--json")).out);
    expect(after.terminals[0]).toMatchObject({ terminal: "till-7", payments: 2, amount: 7250, unexported: 0, lastExport: expect.stringMatching(/Z$/) });
    const other = JSON.parse((await run("pos", "summary", "--day", "2001-01-01", "--json")).out);
    expect(other.terminals[0]).toMatchObject({ payments: 0, amount: 0 });
    const c = await run("pos", "summary", "--csv");
    expect(c.out.split("\r\n")[0]).toBe("day,terminal,merchant,payments,takings,currency,unexported,lastExport");
    expect(c.out.split("\r\n")[1]).toMatch(new RegExp(`^${today},till-7,${MERCHANT},2,72\\.50,CNY,0,\\d{4}-`));
    expect((await run("pos", "summary", "--day", "yesterday")).code).toBe(2);
    expect((await run("pos", "summary", "--outbox", join(home, "nope.sqlite"))).code).toBe(6);
  });

  it("report and devices show: right-aligned amounts with the currency code, ISO times, terminal names, revoked is never 'active'; --csv and --out", async () => {
    expect((await run("sync", "--sim", img)).code).toBe(0);
    expect((await run("reconcile", join(home, "pos-export-till-7.json"))).code).toBe(0);
    expect((await run("devices", "revoke", "alice")).code).toBe(0);
    const r = await run("report");
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split("\n");
    const header = lines.find((l) => l.startsWith("merchant "))!;
    const row = lines.find((l) => l.startsWith(MERCHANT))!;
    expect(row).toMatch(/ till-7 /);
    // right-aligned: the amount ends where its column's header ends
    expect(row.indexOf("72.50 CNY") + "72.50 CNY".length).toBe(header.indexOf("settled") + "settled".length);
    const dev = lines.find((l) => /^[0-9a-f]{16} +alice /.test(l))!;
    expect(dev).toMatch(/ revoked /);
    expect(dev).not.toMatch(/ active /);
    expect(dev).toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(r.out).not.toMatch(/\b1[6-9]\d{8}\b/); // no Unix seconds
    const show = await run("devices", "show", "alice");
    expect(show.out).toMatch(/^state +revoked$/m);
    expect(show.out).toMatch(/^revoked at +\d{4}-\d\d-\d\dT/m);
    expect(show.out).toMatch(new RegExp(`^ +2 +\\d{4}-\\d\\d-\\d\\dT\\S+Z +12\\.50 CNY +${MERCHANT} \\(till-7\\) +settled`, "m"));
    expect(JSON.parse((await run("devices", "show", "alice", "--json")).out).device.state).toBe("revoked");
    expect((await run("devices", "list")).out).toMatch(/ revoked +CNY /);
    // CSV for a spreadsheet: plain decimals and a currency column, into a file
    const out = join(home, "settlement.csv");
    const w = await run("report", "--csv", "--out", out);
    expect([w.code, w.out.trim()]).toEqual([0, `wrote CSV to ${out}`]);
    const sheet = readFileSync(out, "utf8").split("\r\n");
    expect(sheet[0]).toBe("merchant,terminals,vouchers,settled,pending,held,currency");
    expect(sheet[1]).toBe(`${MERCHANT},till-7,2,72.50,0.00,0.00,CNY`);
    expect(sheet).toContain("loaded,100.00,CNY");
    const dcsv = (await run("devices", "show", "alice", "--csv")).out;
    expect(dcsv).toMatch(new RegExp(`^2,\\d{4}-\\d\\d-\\d\\dT\\S+Z,12\\.50,CNY,${MERCHANT},till-7,settled,`, "m"));
    expect((await run("report", "--csv", "--json")).code).toBe(2);
    expect(existsSync(out)).toBe(true);
  });

  it("personalize with initial keys: the GP defaults given explicitly work; other keys are refused (exit 5) and the device stays blank", async () => {
    const b = join(home, "keys.img");
    const wrong = await run("personalize", "--sim", b, "--create", "--account", "6222000011119001", "--key", "00112233445566778899aabbccddeeff");
    expect(wrong.code).toBe(5);
    expect(wrong.err.trim().split("\n")).toHaveLength(1);
    expect(wrong.err).toMatch(/refused the initial keys \(key version FF\).*--key-version/);
    expect((await run("card", "info", "--sim", b)).out).toMatch(/^lifecycle +blank/m);
    const ok = await run("personalize", "--sim", b, "--account", "6222000011119001", "--key-enc", "404142434445464748494a4b4c4d4e4f", "--key-mac", "404142434445464748494a4b4c4d4e4f", "--key-dek", "40 41 42 43 44 45 46 47 48 49 4A 4B 4C 4D 4E 4F", "--key-version", "FF");
    expect(ok.code, ok.err).toBe(0);
    for (const bad of [["--key", "abcd"], ["--key-enc", "404142434445464748494a4b4c4d4e4f"], ["--key", "404142434445464748494a4b4c4d4e4f", "--key-version", "300"], ["--max-auth-failures", "0"]]) {
      const r = await run("personalize", "--sim", b, "--account", "1", ...bad);
      expect([bad.join(" "), r.code]).toEqual([bad.join(" "), 2]);
    }
  });

  it("a batch stops after N devices in a row refuse the initial keys, says which rows were not attempted; a re-run with the right keys finishes it; --progress prompts, times and ETA", async () => {
    const dir = join(home, "batch-keys");
    mkdirSync(dir);
    const csvFile = join(home, "keys.csv");
    writeFileSync(csvFile, "account\n6222000000000001\n6222000000000002\n6222000000000003\n6222000000000004\n");
    for (let i = 1; i <= 4; i++) expect((await run("card", "info", "--sim", join(dir, `device-${i}.img`), "--create")).code).toBe(0);
    const report = join(home, "keys-report.json");
    const r = await run("personalize", csvFile, "--sim", dir, "--key", "00112233445566778899aabbccddeeff", "--max-auth-failures", "2", "--report", report, "--progress");
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/^wallet: personalize: stopped after 2 devices in a row refused the initial keys \(rows 1, 2\); rows 3 to 4 not attempted/m);
    const rep = JSON.parse(readFileSync(report, "utf8"));
    expect(rep).toMatchObject({ personalized: 0, failed: 2, notAttempted: 2, stopped: expect.stringMatching(/rows 3 to 4 not attempted/) });
    // devices 3 and 4 were never authenticated against
    for (const i of [3, 4]) expect((await run("card", "info", "--sim", join(dir, `device-${i}.img`))).out).toMatch(/^lifecycle +blank/m);
    const again = await run("personalize", csvFile, "--sim", dir, "--progress", "--report", report);
    expect(again.code, again.err).toBe(0);
    expect(JSON.parse(readFileSync(report, "utf8"))).toMatchObject({ personalized: 4, failed: 0, notAttempted: 0 });
    expect(again.err).toMatch(/^personalize: present card 1\/4 \(account \*{4}0001\)$/m);
    expect(again.err).toMatch(/^personalize: present card 4\/4 \(account \*{4}0004\)$/m);
    expect(again.err).toMatch(/^personalize: row 2\/4 \(account \*{4}0002\) personalized [0-9a-f]{16} in \d+\.\d s; 2 to go, ETA \d+:\d\d$/m);
    // several readers are for a batch; --readers takes "all"; both are checked before any device
    for (const bad of [["personalize", "--reader", "0", "--reader", "1", "--account", "1"], ["personalize", csvFile, "--readers", "some"], ["personalize", csvFile, "--readers", "all", "--reader", "0"]]) {
      const u = await run(...bad);
      expect([bad.join(" "), u.code, u.err.trim().split("\n").length]).toEqual([bad.join(" "), 2, 1]);
    }
    // without --progress (and no terminal) a batch that succeeds writes nothing on stderr
    const quiet = await run("personalize", csvFile, "--sim", dir);
    expect([quiet.code, quiet.err]).toEqual([0, ""]);
  });
});
