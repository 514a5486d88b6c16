// The `wallet` CLI (DESIGN.md §6; README "The `wallet` CLI"): every user mistake
// is one line on stderr and its exit code; --json errors are one JSON document; every
// command answers --help. Runs main() in-process with stdout/stderr captured.
import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCaptured } from "../host-tools/src/run-captured.ts";

const home = mkdtempSync(join(tmpdir(), "host-cli-"));
const env = { ...process.env, WALLET_PASSPHRASE: "cli test passphrase", WALLET_HOME: home };

const run = (...argv: string[]) => runCaptured(argv, env);

function oneLine(err: string): string {
  const lines = err.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(err).not.toMatch(/\n\s+at /); // no stack trace
  return lines[0];
}

describe("wallet CLI", () => {
  beforeAll(async () => {
    expect((await run("issuer", "init")).code).toBe(0);
  });

  it("--help on the top level and on every command", async () => {
    const top = await run("--help");
    expect(top.code).toBe(0);
    const names = [...top.out.matchAll(/^ {2}(\S+(?: \S+)?)\s{2,}/gm)].map((m) => m[1]).filter((n) => !n.startsWith("-"));
    expect(names).toEqual(expect.arrayContaining(["issuer init", "personalize", "load", "pos charge", "pos export", "transfer", "sync", "reconcile", "devices revoke", "audit verify"]));
    for (const n of names) {
      const r = await run(...n.split(" "), "--help");
      expect(r.code, n).toBe(0);
      expect(r.out).toContain(`wallet ${n}`);
    }
  });

  it("usage mistakes exit 2 with one line", async () => {
    for (const argv of [["frobnicate"], ["issuer"], ["devices", "show"], ["issuer", "show", "--bogus"], ["load", "x", "abc", "--sim", "y"], ["load", "x", "1.00"]]) {
      const r = await run(...argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(oneLine(r.err)).toMatch(/^wallet: usage: /);
    }
  });

  it("wrong passphrase exits 5", async () => {
    const { code, out, err } = await runCaptured(["issuer", "rotate", "--json"], { ...env, WALLET_PASSPHRASE: "not the one at all" });
    expect(code).toBe(5);
    expect(oneLine(err)).toMatch(/^wallet: keystore: wrong passphrase/);
    expect(JSON.parse(out)).toMatchObject({ ok: false, exitCode: 5 });
  });

  it("unknown device exits 6", async () => {
    const r = await run("devices", "show", "no-such-card");
    expect(r.code).toBe(6);
    expect(oneLine(r.err)).toBe('wallet: unknown device "no-such-card" (see `wallet devices list`)');
    const r2 = await run("load", "no-such-card", "10.00", "--sim", join(home, "x.img"));
    expect(r2.code).toBe(6);
  });

  it("corrupted export exits 4 and changes nothing", async () => {
    const f = join(home, "broken.json");
    writeFileSync(f, '{"format":"offline-wallet-pos-export","version":1,"merch');
    const before = await run("report", "--json");
    const r = await run("reconcile", f);
    expect(r.code).toBe(4);
    expect(oneLine(r.err)).toMatch(/^wallet: reconcile: broken.json: not valid JSON/);
    expect((await run("report", "--json")).out).toBe(before.out);
  });

  it("malformed batch CSV exits 4 naming the line", async () => {
    const cases: [string, RegExp][] = [
      ["account,suite,form\n1111,p256,card\n2222,p256\n", /line 3: 2 fields, the header has 3/],
      ["account,colour\n1,red\n", /unknown column\(s\) colour/],
      ["account,suite\n1,rsa\n", /line 2: unknown suite "rsa"/],
      ["account,form,cap,max_payment\n1,card,10.00,20.00\n", /max_payment is above the cap/],
      ["account,pin\n1,12\n", /pin must be 4 to 8 digits/],
    ];
    for (const [text, msg] of cases) {
      const f = join(home, `batch-${Math.random().toString(36).slice(2)}.csv`);
      writeFileSync(f, text);
      const r = await run("personalize", f, "--sim", join(home, "batch"));
      expect(r.code, text).toBe(4);
      expect(oneLine(r.err)).toMatch(msg);
    }
  });

  it("--json on success is one JSON document; audit verify passes", async () => {
    const r = await run("issuer", "show", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.ok).toBe(true);
    expect(j.keys.map((k: { suite: string }) => k.suite)).toEqual(["sm2", "p256"]);
    const a = await run("audit", "verify", "--json");
    expect(JSON.parse(a.out)).toMatchObject({ ok: true, entries: 1 });
  });
});
