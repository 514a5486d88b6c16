// Crash safety of `wallet reconcile` (reliability report section "Crash safety"): the real
// CLI (host-tools/bin/wallet.js) imports a set of POS exports into a ledger whose devices are
// registered, and is killed with SIGKILL at random moments, then re-run to completion; its
// ledger must end with the content hash (test/support/ledger-hash.ts) of one clean run, no
// voucher lost or duplicated, and an audit chain that `wallet audit verify` accepts. Two
// concurrent `wallet reconcile` processes on one ledger must end as one process does.
// Vouchers: host-signed PaperDevice chains (host-tools/src/synthetic.ts, as bench/reconcile.ts),
// honest traffic plus a fork (cloned device), tampered vouchers and a cross-merchant replay,
// so that vouchers, fraud cases, rejections and submissions all carry rows.
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hex } from "../../host-tools/src/docs.ts";
import { SqliteLedger } from "../../host-tools/src/ledger/sqlite.ts";
import { POS_EXPORT_FORMAT } from "../../host-tools/src/reconcile.ts";
import { generateKeyPair, keyId } from "../../host-tools/src/sig.ts";
import { DEFAULT_LIMITS, PaperDevice } from "../../host-tools/src/synthetic.ts";
import { ledgerContent } from "../support/ledger-hash.ts";
import { count, figures, FULL } from "./report.ts";
import { Rng } from "./apdu-fuzz-engine.ts";

const VOUCHERS = count(10_000, 100_000);
const DEVICES = count(100, 300);
const FILES = 10;
/** kill chains: each ledger is killed KILLS_PER_CHAIN times in a row (every re-run killed again), then run to completion */
const CHAINS = count(2, 50);
const KILLS_PER_CHAIN = 4;
const ROOT = join(import.meta.dirname, "../..");
const WALLET = join(ROOT, "host-tools/bin/wallet.js");

const dir = mkdtempSync(join(tmpdir(), "crash-safety-"));
const template = join(dir, "template.sqlite");
const files: string[] = [];
const rng = new Rng(0xc0ffee);

interface Run {
  code: number | null;
  signal: string | null;
  out: string;
  err: string;
  ms: number;
}

/** `wallet ARGS --home HOME`; SIGKILL after killAfterMs when given. */
function wallet(home: string, args: string[], killAfterMs?: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [WALLET, ...args, "--home", home], {
      cwd: ROOT, env: { ...process.env, WALLET_PASSPHRASE: "crash safety passphrase", WALLET_HOME: home }, stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => p.kill("SIGKILL"), killAfterMs);
    p.on("error", reject);
    p.on("exit", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, out, err, ms: performance.now() - t0 });
    });
  });
}
const reconcileArgs = () => ["reconcile", ...files, "--json"];

/** A fresh home whose ledger is the template (devices and issuer key registered). */
function freshHome(name: string): string {
  const h = join(dir, name);
  mkdirSync(h, { recursive: true });
  copyFileSync(template, join(h, "ledger.sqlite"));
  return h;
}

function voucherRows(home: string): Map<string, number> {
  const db = new Database(join(home, "ledger.sqlite"), { readonly: true });
  try {
    const m = new Map<string, number>();
    for (const r of db.prepare("SELECT device_id || ':' || counter || ':' || hash AS k FROM vouchers").all() as { k: string }[]) m.set(r.k, (m.get(r.k) ?? 0) + 1);
    return m;
  } finally {
    db.close();
  }
}

let clean: { hash: string; tables: Record<string, { rows: number; hash: string }>; vouchers: Map<string, number>; ms: number };

beforeAll(async () => {
  // the workload: honest chains, a fork, tampered vouchers, a replay in another merchant's export
  const issuerKey = generateKeyPair("p256");
  const issuer = { suite: "p256" as const, key: issuerKey, kid: keyId(issuerKey.pub) };
  const limits = { ...DEFAULT_LIMITS, maxCountSinceSync: 1_000_000, maxAmountSinceSync: 0xffffffff };
  const devices = Array.from({ length: DEVICES }, () => PaperDevice.create(issuer, { limits }));
  const merchants = Array.from({ length: FILES }, (_, i) => (0xa0 + i).toString(16).padStart(16, "0"));
  const perFile: string[][] = merchants.map(() => []);
  const T = 1_750_000_000;
  const fork = devices[0].clone();
  for (let i = 0; i < VOUCHERS; i++) {
    const d = devices[i % DEVICES];
    const m = i % FILES;
    let cose = d.pay(1 + (i % 50), Buffer.from(merchants[m], "hex"), T + i);
    if (i % 997 === 13) {
      cose = cose.slice();
      cose[cose.length - 5] ^= 0x40; // tampered signature: rejected, a `tampered` case for a known device
    }
    perFile[m].push(hex(cose));
    if (i % 1_999 === 7) perFile[(m + 1) % FILES].push(hex(cose)); // presented by a merchant it is not made out to
  }
  // the clone of device 0 spends its copied state again: same counters, other vouchers
  for (let k = 0; k < 3; k++) perFile[k].push(hex(fork.pay(7 + k, Buffer.from(merchants[k], "hex"), T + 10 + k)));
  for (let m = 0; m < FILES; m++) {
    const f = join(dir, `pos-${m}.json`);
    writeFileSync(f, JSON.stringify({ format: POS_EXPORT_FORMAT, version: 1, terminal: `t${m}`, merchant: merchants[m], exportedAt: "2025-01-01T00:00:00Z", vouchers: perFile[m].map((cose) => ({ cose, receivedAt: "2025-01-01T00:00:00Z" })) }));
    files.push(f);
  }
  const l = SqliteLedger.open(template);
  await l.putIssuerKeys([{ kid: hex(issuer.kid), suite: "p256", pub: hex(issuer.key.pub), status: "active" }]);
  await l.transaction(async () => {
    for (const d of devices) await l.putDevice(d.record());
  });
  await l.close();
  // the clean single run every other ledger is compared with
  const home = freshHome("clean");
  const r = await wallet(home, reconcileArgs());
  expect(r.code, r.err).toBe(0);
  const c = ledgerContent(join(home, "ledger.sqlite"));
  clean = { ...c, vouchers: voucherRows(home), ms: r.ms };
  expect(c.tables.vouchers.rows).toBeGreaterThan(VOUCHERS * 0.99);
  expect(c.tables.fraud_cases.rows).toBeGreaterThan(0);
  expect(c.tables.rejected.rows).toBeGreaterThan(0);
}, 3_600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Lost and duplicated vouchers of a ledger against the clean run. */
function compareVouchers(home: string): { lost: number; duplicated: number } {
  const v = voucherRows(home);
  let lost = 0;
  let duplicated = 0;
  for (const [k, n] of clean.vouchers) lost += Math.max(0, n - (v.get(k) ?? 0));
  for (const [k, n] of v) duplicated += Math.max(0, n - (clean.vouchers.get(k) ?? 0));
  // keys are device:counter:hash, so a second voucher for a counter the clean run settled once shows up here too
  return { lost, duplicated };
}

describe("Crash safety of wallet reconcile", () => {
  const S = "Crash safety";
  const figs: Parameters<typeof figures>[1] = [];
  afterAll(() => figures("crash-safety", figs));

  it(`SIGKILL at ${CHAINS * KILLS_PER_CHAIN} random points, re-run to completion: the clean run's ledger`, async () => {
    const t0 = performance.now();
    let killPoints = 0;
    let finishedBeforeKill = 0;
    let differed = 0;
    let lost = 0;
    let duplicated = 0;
    let auditBad = 0;
    let rerunFailed = 0;
    const problems: string[] = [];
    for (let c = 0; c < CHAINS; c++) {
      const home = freshHome(`chain-${c}`);
      for (let k = 0; k < KILLS_PER_CHAIN; k++) {
        // within the middle 80% of the clean run's time: a run a little faster than the clean
        // one (warm caches) would otherwise often finish before a kill near its end
        const at = Math.round(clean.ms * 0.1) + rng.int(Math.max(1, Math.round(clean.ms * 0.8)));
        const r = await wallet(home, reconcileArgs(), at);
        if (r.signal === "SIGKILL") killPoints++;
        else {
          finishedBeforeKill++;
          if (r.code !== 0) {
            rerunFailed++;
            problems.push(`chain ${c} kill ${k} at ${at} ms: exit ${r.code}: ${r.err.trim().split("\n").at(-1)}`);
          }
        }
      }
      const done = await wallet(home, reconcileArgs());
      if (done.code !== 0) {
        rerunFailed++;
        problems.push(`chain ${c}: final run exit ${done.code}: ${done.err.trim().split("\n").at(-1)}`);
        continue;
      }
      const got = ledgerContent(join(home, "ledger.sqlite"));
      if (got.hash !== clean.hash) {
        differed++;
        const which = Object.keys(got.tables).filter((t) => got.tables[t].hash !== clean.tables[t].hash).map((t) => `${t} ${got.tables[t].rows}/${clean.tables[t].rows}`);
        problems.push(`chain ${c}: ledger differs from the clean run in ${which.join(", ")}`);
      }
      const v = compareVouchers(home);
      lost += v.lost;
      duplicated += v.duplicated;
      const audit = await wallet(home, ["audit", "verify", "--json"]);
      if (audit.code !== 0 || !JSON.parse(audit.out).ok) {
        auditBad++;
        problems.push(`chain ${c}: audit verify exit ${audit.code}: ${audit.out.slice(0, 200)} ${audit.err.slice(0, 200)}`);
      }
      rmSync(home, { recursive: true, force: true });
    }
    const ms = performance.now() - t0;
    console.log(`crash-safety: ${JSON.stringify({ vouchers: VOUCHERS, devices: DEVICES, cleanMs: Math.round(clean.ms), killPoints, finishedBeforeKill, differed, lost, duplicated, auditBad, rerunFailed, ms: Math.round(ms), tables: Object.fromEntries(Object.entries(clean.tables).map(([t, x]) => [t, x.rows])) })}`);
    figs.push(
      { section: S, name: `POS export set (vouchers in ${FILES} files / devices)`, value: `${VOUCHERS.toLocaleString("en-US")} / ${DEVICES}`, ok: true },
      { section: S, name: "clean single run (s)", value: +(clean.ms / 1000).toFixed(1), ok: true },
      { section: S, name: "kill points (SIGKILL mid-run; runs that finished first not counted)", value: killPoints, required: FULL ? "≥ 200" : undefined, ok: killPoints >= (FULL ? 200 : 1) },
      { section: S, name: "runs whose ledger hash differed from the clean run", value: differed, required: "0", ok: differed === 0 },
      { section: S, name: "vouchers lost", value: lost, required: "0", ok: lost === 0 },
      { section: S, name: "vouchers duplicated", value: duplicated, required: "0", ok: duplicated === 0 },
      { section: S, name: "re-runs that failed after a kill", value: rerunFailed, required: "0", ok: rerunFailed === 0 },
      { section: S, name: "audit chains `wallet audit verify` refused", value: auditBad, required: "0", ok: auditBad === 0 },
    );
    expect(problems).toEqual([]);
    expect(killPoints).toBeGreaterThan(0);
  }, 6 * 3_600_000);

  it("two concurrent wallet reconcile processes on one ledger end as one process does", async () => {
    const home = freshHome("concurrent");
    const [a, b] = await Promise.all([wallet(home, reconcileArgs()), wallet(home, reconcileArgs())]);
    const locked = [a, b].filter((r) => r.code !== 0 && /database is locked|SQLITE_BUSY/i.test(r.err + r.out));
    const otherFailures = [a, b].filter((r) => r.code !== 0 && !locked.includes(r));
    let retried = 0;
    for (const _ of locked) {
      const r = await wallet(home, reconcileArgs());
      expect(r.code, r.err).toBe(0);
      retried++;
    }
    const got = ledgerContent(join(home, "ledger.sqlite"));
    const v = compareVouchers(home);
    const audit = await wallet(home, ["audit", "verify", "--json"]);
    const equal = got.hash === clean.hash;
    console.log(`crash-safety concurrent: ${JSON.stringify({ codes: [a.code, b.code], ms: [Math.round(a.ms), Math.round(b.ms)], locked: locked.length, retried, equal, errs: [a, b].map((r) => r.err.split("\n").find((x) => /error/i.test(x)) ?? "") })}`);
    figs.push(
      { section: S, name: "concurrent imports equal to one process (content hash)", value: equal ? "yes" : "no", required: "yes", ok: equal },
      { section: S, name: "concurrent imports that failed with \"database is locked\" and needed a retry", value: retried, ok: true },
      { section: S, name: "concurrent imports that failed otherwise", value: otherFailures.length, required: "0", ok: otherFailures.length === 0 },
    );
    expect(otherFailures.map((r) => r.err), "other failures").toEqual([]);
    expect(equal).toBe(true);
    expect(v).toEqual({ lost: 0, duplicated: 0 });
    expect(audit.code, audit.err).toBe(0);
  }, 3_600_000);
});
