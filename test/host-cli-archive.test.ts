// `wallet ledger archive` and `wallet ledger verify-archive` (SPEC §5.13; host-tools/README.md
// "Ledger archives"): bad input is one line and its exit code; an archive of the CLI's own
// ledger, signed by the keystore's P-256 key, verifies; a modified file does not.
import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCaptured } from "../host-tools/src/run-captured.ts";
import { SqliteLedger } from "../host-tools/src/ledger/sqlite.ts";
import { parseInput, reconcile, POS_EXPORT_FORMAT } from "../host-tools/src/reconcile.ts";
import { PaperDevice } from "../host-tools/src/synthetic.ts";
import { generateKeyPair, keyId } from "../host-tools/src/sig.ts";
import { hex } from "../host-tools/src/docs.ts";

const home = mkdtempSync(join(tmpdir(), "host-cli-archive-"));
const env = { ...process.env, WALLET_PASSPHRASE: "cli archive passphrase", WALLET_HOME: home };
const run = (...argv: string[]) => runCaptured(argv, env);
const T = 1_750_000_000;

function oneLine(err: string): string {
  const lines = err.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(err).not.toMatch(/\n\s+at /);
  return lines[0];
}

describe("wallet ledger archive / verify-archive", () => {
  beforeAll(async () => {
    expect((await run("issuer", "init")).code).toBe(0);
    // two settled vouchers of a device under a test CA the ledger trusts
    const key = generateKeyPair("p256");
    const ca = { suite: "p256" as const, key, kid: keyId(key.pub) };
    const d = PaperDevice.create(ca);
    const l = SqliteLedger.open(join(home, "ledger.sqlite"));
    await l.putIssuerKeys([{ kid: hex(ca.kid), suite: "p256", pub: hex(key.pub), status: "active" }]);
    await l.putDevice(d.record());
    const coses = [d.pay(100, Buffer.alloc(8, 1), T), d.pay(200, Buffer.alloc(8, 1), T + 1)];
    await reconcile(l, [parseInput("pos.json", JSON.stringify({ format: POS_EXPORT_FORMAT, version: 1, terminal: "t", merchant: "01".repeat(8), exportedAt: "x", vouchers: coses.map((c) => ({ cose: hex(c), receivedAt: "x" })) }))]);
    await l.close();
  });

  it("bad input: one line and a non-zero exit", async () => {
    const out = join(home, "a1");
    const file = join(home, "plain-file");
    writeFileSync(file, "x");
    const cases: [string[], number, RegExp][] = [
      [["ledger", "archive", "--out", out], 2, /^wallet: usage: ledger archive needs --before DATE/],
      [["ledger", "archive", "--before", "2026-02-30", "--out", out], 2, /^wallet: usage: --before "2026-02-30" is not a date: give YYYY-MM-DD/],
      [["ledger", "archive", "--before", "last week", "--out", out], 2, /is not a date/],
      [["ledger", "archive", "--before", "2026-01-01"], 2, /^wallet: usage: ledger archive needs --out DIR$/],
      [["ledger", "archive", "--before", "2026-01-01", "--out", out, "--per-file", "0"], 2, /--per-file must be a whole number from 1 to 1000000/],
      [["ledger", "archive", "--before", "2026-01-01", "--out", file], 8, /^wallet: ledger archive: --out .*plain-file is not a directory$/],
      [["ledger", "archive", "--before", "2026-01-01", "--out", join(file, "sub")], 8, /^wallet: ledger archive: --out .*plain-file\/sub is not writable \(ENOTDIR\)$/],
      [["ledger", "verify-archive", home], 4, /^wallet: verify-archive: .* is not a ledger archive \(no manifest\.json\)$/],
      [["ledger", "verify-archive", join(home, "nowhere")], 6, /^wallet: verify-archive: .*nowhere is not a directory$/],
      [["ledger", "verify-archive"], 2, /^wallet: usage: wallet ledger verify-archive DIR/],
    ];
    for (const [argv, code, msg] of cases) {
      const r = await run(...argv);
      expect(r.code, argv.join(" ")).toBe(code);
      expect(oneLine(r.err), argv.join(" ")).toMatch(msg);
    }
    // nothing was written by a refused command
    expect(readdirSync(home)).not.toContain("a1");
  });

  it("--help says what DATE is", async () => {
    const r = await run("ledger", "archive", "--help");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/YYYY-MM-DD \(00:00 UTC\).*Unix seconds/);
    expect((await run("ledger", "verify-archive", "--help")).code).toBe(0);
  });

  it("ledger archives: none; then a run interrupted before it moved anything, with the command that resumes it", async () => {
    const none = await run("ledger", "archives");
    expect([none.code, none.out.trim()]).toEqual([0, "no archives: `wallet ledger archive --before DATE --out DIR` makes one"]);
    // what `ledger archive` records before it writes a file: a crash right after leaves this
    const l = SqliteLedger.open(join(home, "ledger.sqlite"));
    await l.putArchive({ id: "ab".repeat(16), state: "writing", dir: join(home, "archive-1"), before: T + 100, createdAt: "2026-12-01T00:00:00.000Z" });
    await l.close();
    const r = await run("ledger", "archives");
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(`${"ab".repeat(16)}  INTERRUPTED (started 2026-12-01T00:00:00.000Z, nothing moved yet)  before ${new Date((T + 100) * 1000).toISOString()}  ${join(home, "archive-1")}: run \`wallet ledger archive --before ${T + 100} --out ${join(home, "archive-1")}\` to resume it`);
  });

  it("archives (resuming the interrupted run), verifies, and reports a modified file", async () => {
    const dir = join(home, "archive-1");
    const a = await run("ledger", "archive", "--before", String(T + 100), "--out", dir);
    expect(a.code, a.err).toBe(0);
    expect(a.out).toMatch(/^archived 2 vouchers of 1 devices into 1 files in /);
    const v = await run("ledger", "verify-archive", dir);
    expect([v.code, v.out.trim()]).toEqual([0, expect.stringMatching(/^ok: 1 files, 2 vouchers, 1 devices \(archive [0-9a-f]{32}\)$/)]);
    expect((await run("audit", "verify")).code).toBe(0);
    const listed = await run("ledger", "archives");
    expect(listed.code).toBe(0);
    expect(listed.out.trim()).toMatch(new RegExp(`^${"ab".repeat(16)}  committed \\S+  2 vouchers before ${new Date((T + 100) * 1000).toISOString()} in 1 files  ${dir}  manifest sha256 [0-9a-f]{64}$`));
    expect(JSON.parse((await run("ledger", "archives", "--json")).out).archives).toMatchObject([{ state: "committed", vouchers: 2, files: 1, dir }]);
    const again = await run("ledger", "archive", "--before", "2030-01-01", "--out", join(home, "archive-2"));
    expect([again.code, again.out.trim()]).toEqual([0, "nothing to archive: no settled, fraud-free voucher signed before 2030-01-01T00:00:00.000Z"]);
    // a flipped byte: the problem on stdout, one line on stderr, exit 4
    const name = readdirSync(dir).find((f) => f.endsWith(".gz"))!;
    const bytes = readFileSync(join(dir, name));
    bytes[10] ^= 0x80;
    writeFileSync(join(dir, name), bytes);
    const bad = await run("ledger", "verify-archive", dir);
    expect(bad.code).toBe(4);
    expect(bad.out.trim()).toMatch(new RegExp(`^file ${name}: content hash [0-9a-f]{64} does not match its name and the manifest \\(the file was modified\\)$`));
    expect(oneLine(bad.err)).toBe(`wallet: verify-archive: 1 problem in ${dir}`);
    const json = JSON.parse((await run("ledger", "verify-archive", dir, "--json")).out);
    expect(json).toMatchObject({ ok: false, exitCode: 4, problems: [expect.stringMatching(/^file /)] });
  });

  it("resuming an interrupted run whose vouchers another archive took since: nothing to move, and the run is no longer listed as waiting", async () => {
    const dir = join(home, "archive-3");
    const l = SqliteLedger.open(join(home, "ledger.sqlite"));
    await l.putArchive({ id: "cd".repeat(16), state: "writing", dir, before: T + 100, createdAt: "2026-12-01T00:00:00.000Z" });
    await l.close();
    expect((await run("ledger", "archives")).out).toMatch(/INTERRUPTED/);
    const r = await run("ledger", "archive", "--before", String(T + 100), "--out", dir);
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim()).toBe(`nothing to archive: no settled, fraud-free voucher signed before ${new Date((T + 100) * 1000).toISOString()}; the interrupted run ${"cd".repeat(16)} in ${dir} is dropped (it moved nothing; files it left there are not in force and may be deleted)`);
    const listed = (await run("ledger", "archives")).out.trim().split("\n");
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatch(/^[0-9a-f]{32}  committed /);
  });
});
