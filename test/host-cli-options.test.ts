// The `wallet` CLI's command line (host-tools/README.md "exit codes"): every number is
// parsed and range-checked in one place (commands/numbers.ts) before anything is opened;
// a command that needs existing state refuses when it is missing (exit 6) instead of
// creating it; typos get "did you mean"; --version; --help explains every option.
import { beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCaptured } from "../host-tools/src/run-captured.ts";
import { commands, optionHelpText, GLOBAL_OPTIONS } from "../host-tools/src/cli.ts";
import { parseNumber, RANGES } from "../host-tools/src/commands/numbers.ts";
import { refusalHint } from "../host-tools/src/refusals.ts";
import { REASON_LOG_FULL, REASON_SYNC_OVERDUE } from "../protocol/portable/limits.ts";

const home = mkdtempSync(join(tmpdir(), "host-cli-opts-"));
const env = { ...process.env, WALLET_PASSPHRASE: "options test passphrase", WALLET_HOME: home };
const run = (...argv: string[]) => runCaptured(argv, env);

function oneLine(err: string): string {
  const lines = err.trimEnd().split("\n");
  expect(lines, err).toHaveLength(1);
  return lines[0];
}

describe("numbers: parsed and range-checked in one place", () => {
  beforeAll(async () => {
    expect((await run("issuer", "init")).code).toBe(0);
    writeFileSync(join(home, "empty-export.json"), "{}");
  });

  it("parseNumber: whole numbers in range, a clear message otherwise", () => {
    expect(parseNumber("4", "--workers", RANGES.workers)).toBe(4);
    expect(parseNumber("2.5", "--wait", RANGES.waitSeconds)).toBe(2.5);
    for (const bad of ["abc", "", "1e3", "-1", "0x10", "5000", "0", "2.5", " 7x"])
      expect(() => parseNumber(bad, "--workers", RANGES.workers), bad).toThrow(/^usage: --workers must be a whole number from 1 to \d+ worker threads, got/);
    expect(() => parseNumber("4294967296", "max_count", RANGES.count)).toThrow(/from 0 to 4294967295/);
    expect(() => parseNumber("1000", "currency", RANGES.currency)).toThrow(/from 1 to 999/);
  });

  const cases: [string, string[], RegExp][] = [
    ["workers not a number", ["reconcile", "x.json", "--workers", "abc"], /--workers must be a whole number/],
    ["workers that run away", ["reconcile", "x.json", "--workers", "5000"], /--workers must be a whole number from 1 to/],
    ["workers zero", ["reconcile", "x.json", "--workers", "0"], /--workers/],
    ["wait not a number", ["sync", "--sim", "x.img", "--wait", "soon"], /--wait must be a number from 0.1 to 3600 seconds/],
    ["wait negative", ["load", "alice", "1.00", "--reader", "0", "--wait", "-3"], /--wait/],
    ["amount with an exponent", ["load", "alice", "1e3", "--sim", "x.img"], /AMOUNT must be an amount like 12.50/],
    ["amount above u32", ["pos", "charge", "99999999.99", "--sim", "x.img"], /AMOUNT must be an amount/],
    ["currency out of range", ["pos", "init", "--merchant", "00000000000000a1", "--trust", "t.json", "--currency", "1000"], /--currency must be a whole number from 1 to 999/],
    ["merchant not hex", ["pos", "init", "--merchant", "shop", "--trust", "t.json"], /--merchant must be 16 hex digits/],
    ["count above u32", ["devices", "limits", "alice", "--max-count", "4294967296"], /--max-count must be a whole number from 0 to 4294967295/],
    ["seconds negative", ["devices", "limits", "alice", "--sync-interval", "-1"], /--sync-interval/],
    ["limit amount", ["devices", "limits", "alice", "--cap", "lots"], /--cap must be an amount/],
    ["hid port", ["sync", "--hid", "udp:127.0.0.1:70000"], /port must be a whole number from 1 to 65535/],
    ["personalize currency", ["personalize", "--sim", "x.img", "--account", "1", "--currency", "1000"], /currency must be a whole number from 1 to 999/],
  ];
  for (const [what, argv, msg] of cases)
    it(`${what}: usage error, exit 2, one line`, async () => {
      const r = await run(...argv);
      expect(r.code, r.err).toBe(2);
      expect(oneLine(r.err)).toMatch(msg);
    });
});

describe("missing state is not found (exit 6), never created", () => {
  it("reconcile with a mistyped --home refuses and creates nothing", async () => {
    const f = join(home, "empty-export.json");
    writeFileSync(f, "{}");
    const wrong = join(home, "no-such-home");
    const r = await run("reconcile", f, "--home", wrong);
    expect(r.code, r.err).toBe(6);
    expect(oneLine(r.err)).toMatch(/ledger: .*no-such-home\/ledger.sqlite not found/);
    expect(existsSync(wrong)).toBe(false);
  });

  it("every ledger command with a mistyped --home is exit 6", async () => {
    const wrong = join(home, "typo");
    for (const argv of [["report"], ["devices", "list"], ["audit", "verify"], ["devices", "show", "x"]]) {
      const r = await run(...argv, "--home", wrong);
      expect(r.code, argv.join(" ")).toBe(6);
    }
    expect(existsSync(wrong)).toBe(false);
  });

  it("reconcile names every missing input file (exit 6), before opening the ledger", async () => {
    const r = await run("reconcile", join(home, "a.json"), join(home, "b.json"));
    expect(r.code).toBe(6);
    expect(oneLine(r.err)).toMatch(/files not found: .*a\.json, .*b\.json/);
  });

  it("--sim with a missing image is exit 6; --create makes the blank device", async () => {
    const img = join(home, "nope.img");
    const r = await run("sync", "--sim", img);
    expect(r.code, r.err).toBe(6);
    expect(oneLine(r.err)).toMatch(/sim: .*nope\.img not found \(give --create/);
    expect(existsSync(img)).toBe(false);
    const p = await run("personalize", "--sim", img, "--create", "--account", "6222-create", "--json");
    expect(p.code, p.err).toBe(0);
    expect(existsSync(img)).toBe(true);
  });

  it("a missing batch file or trust file is exit 6", async () => {
    expect((await run("personalize", join(home, "nope.csv"), "--sim", join(home, "d"))).code).toBe(6);
    expect((await run("pos", "init", "--merchant", "00000000000000a1", "--trust", join(home, "nope.json"))).code).toBe(6);
  });
});

describe("typos, --version, --help", () => {
  it("did you mean: commands, subcommands, options", async () => {
    const cases: [string[], RegExp][] = [
      [["personlize"], /unknown command "personlize"; did you mean `wallet personalize`\?/],
      [["devices", "lst"], /unknown command "devices lst"; did you mean `wallet devices list`\?/],
      [["devces", "list"], /did you mean `wallet devices list`\?/],
      [["load", "alice", "1.00", "--reder", "0"], /unknown option --reder; did you mean --reader\?/],
      [["reconcile", "x", "--wrokers", "2"], /did you mean --workers\?/],
      [["frobnicate"], /^wallet: usage: unknown command "frobnicate" \(see/],
    ];
    for (const [argv, msg] of cases) {
      const r = await run(...argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(oneLine(r.err)).toMatch(msg);
    }
  });

  it("--version", async () => {
    const r = await run("--version");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^wallet \(host-tools\) \d+\.\d+\.\d+\n$/);
  });

  it("--help describes every option of every command", async () => {
    for (const c of await commands()) {
      for (const k of [...Object.keys(c.options ?? {}), ...Object.keys(GLOBAL_OPTIONS)]) expect(optionHelpText(c, k), `${c.name} --${k}`).toBeTruthy();
      const r = await run(...c.name.split(" "), "--help");
      for (const k of Object.keys(c.options ?? {})) expect(r.out, `${c.name} --${k}`).toMatch(new RegExp(`--${k}\\b.*\\S{3,}`));
    }
    expect((await run("reconcile", "--help")).out).toMatch(/--workers VALUE +worker threads that verify signatures, 1 to \d+/);
    expect((await run("sync", "--help")).out).toMatch(/--wait VALUE +seconds .*\(default 10\)/);
  });
});

describe("device refusals in words, with the next step", () => {
  it("63Cx, 6983 and REASON_*", () => {
    expect(refusalHint(0x63c2)).toBe("wrong PIN, 2 tries left");
    expect(refusalHint(0x63c1)).toBe("wrong PIN, 1 try left");
    expect(refusalHint(0x6983)).toMatch(/^PIN blocked: unblock with the PUK/);
    expect(refusalHint(0x6985, REASON_SYNC_OVERDUE)).toBe("sync overdue: run `wallet sync`");
    expect(refusalHint(0x6a84, REASON_LOG_FULL)).toMatch(/^log full: sync first/);
    expect(refusalHint(0x6a82)).toBeUndefined();
  });

  it("a wrong PIN at the POS says how many tries are left", async () => {
    const img = join(home, "pin.img");
    expect((await run("personalize", "--sim", img, "--create", "--account", "6222-pin", "--pin", "2468", "--alias", "pin")).code).toBe(0);
    expect((await run("load", "pin", "100.00", "--sim", img)).code).toBe(0);
    expect((await run("issuer", "export-public", "--out", join(home, "trust.json"))).code).toBe(0);
    expect((await run("pos", "init", "--merchant", "00000000000000e1", "--trust", join(home, "trust.json"))).code).toBe(0);
    const r = await run("pos", "charge", "60.00", "--sim", img, "--pin", "0000");
    expect(r.code, r.err).toBe(3);
    expect(oneLine(r.err)).toMatch(/63C2 .*: wrong PIN, 2 tries left$/i);
  });

  it("a PIN blocked after three wrong tries: the hint names `wallet pin unblock`, which works", async () => {
    const img = join(home, "blk.img");
    expect((await run("personalize", "--sim", img, "--create", "--account", "6222-blk", "--pin", "1357", "--alias", "blk")).code).toBe(0);
    expect((await run("load", "blk", "100.00", "--sim", img)).code).toBe(0);
    for (const left of [2, 1, 0]) expect((await run("pos", "charge", "60.00", "--sim", img, "--pin", "0000")).err).toMatch(left ? `wrong PIN, ${left} ${left === 1 ? "try" : "tries"} left` : /no tries left: PIN blocked/);
    const r = await run("pos", "charge", "60.00", "--sim", img, "--pin", "1357");
    expect(r.code).toBe(3);
    expect(oneLine(r.err)).toMatch(/6983 .*: PIN blocked: unblock with the PUK \(`wallet pin unblock`\)$/);
    const puk = readFileSync(join(home, "pin-mailer.csv"), "utf8").trim().split("\n").find((l) => l.includes(",blk,"))!.split(",").at(-1)!;
    const bad = await run("pin", "unblock", "--sim", img, "--puk", puk === "00000000" ? "11111111" : "00000000");
    expect(bad.code).toBe(7);
    expect(oneLine(bad.err)).toMatch(/wrong PUK, 4 tries left/);
    expect((await run("pin", "unblock", "--sim", img, "--puk", puk, "--new-pin", "2580")).code).toBe(0);
    expect((await run("pos", "charge", "60.00", "--sim", img, "--pin", "2580")).code).toBe(0);
  });

  it("a sync deadline passed: the device's reason in words, and the fix", async () => {
    const img = join(home, "pin.img");
    expect((await run("devices", "limits", "pin", "--sync-interval", "1")).code).toBe(0);
    expect((await run("sync", "--sim", img)).code).toBe(0); // delivers the 1 s interval
    await new Promise((r) => setTimeout(r, 2100));
    const r = await run("pos", "charge", "1.00", "--sim", img);
    expect(r.code, r.err).toBe(7);
    expect(oneLine(r.err)).toMatch(/REASON_SYNC_OVERDUE\): sync overdue: run `wallet sync`$/);
  });
});
