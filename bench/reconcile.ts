// bench:reconcile (README "Benchmarks"; host-tools/README "PostgreSQL"):
//   npm run bench:reconcile -- [--ledger sqlite|postgres|both] [--suite p256|sm2|mixed]
//                              [--vouchers 100000] [--devices 1000] [--workers N] [--json]
// N vouchers from host-side paper devices (protocol document codecs; P-256 signed by
// node:crypto, SM2 by the firmware's signer; mixed: 80% of the devices, so of the vouchers, SM2), written
// as 10 POS export files, reconciled into a fresh ledger of each kind asked for. Side by
// side in one run, on the same worker threads:
//  - raw: the verifier alone, the ceiling: node:crypto / OpenSSL ECDSA for P-256 and the
//    firmware's WASM verifier (build/firmware.wasm) for SM2, exactly what reconcile's
//    workers call (sig.ts verifyRaw), over each voucher's Sig_structure with the device key;
//  - full: `reconcile` (file parsing, strict decoding, cert-ref and signature checks in
//    workers, ledger inserts, per-device chain / fork / limit evaluation, audit entry),
//    pipelined: the main thread parses file k+1 and writes file k-1 while workers check k.
// PostgreSQL: a private cluster (test/support/postgres.ts; root needed) unless
// WALLET_BENCH_PG_URL names a server (a database is created on it per run).
// Targets: full ≥ 0.85x raw throughput; peak RSS ≤ 300 MB above the workload; 10x the
// vouchers ≤ 10.5x the time. RSS is sampled every 20 ms (main thread + workers: one
// process); the workload the bench itself holds is subtracted. The PostgreSQL server's own
// memory and CPU are not in these figures (it runs on the same cores: its CPU time is in
// the wall-clock ones).
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { decodeSign1, toBeSigned } from "../protocol/src/cose.ts";
import {
  DEFAULT_LIMITS, generateKeyPair, hex, keyId, loadPostgresLedger, PaperDevice, POS_EXPORT_FORMAT, reconcile, SqliteLedger,
  type Ledger, type RawSigner, type SuiteName,
} from "offline-wallet/host-tools";
import { arg } from "./host-bench-util.ts";
import { EcWasm, SM2 } from "../test/crypto-ec-harness.ts";
import type { RawItem } from "./raw-verify-body.ts";

const JSON_OUT = process.argv.includes("--json");
const N = arg("--vouchers", 100_000);
const DEVICES = arg("--devices", 1_000);
const WORKERS = arg("--workers", availableParallelism());
const FILES = 10;
const RATIO_TARGET = 0.85;
const SCALING_TARGET = 10.5;
const log = (s: string) => JSON_OUT || process.stderr.write(s + "\n");

function choice<T extends string>(name: string, allowed: readonly T[], dflt: T): T {
  const i = process.argv.indexOf(name);
  const v = (i >= 0 ? process.argv[i + 1] : dflt) as T;
  if (!allowed.includes(v)) throw new RangeError(`bench: ${name} must be one of ${allowed.join(", ")}`);
  return v;
}
type LedgerKind = "sqlite" | "postgres";
const LEDGER = choice("--ledger", ["sqlite", "postgres", "both"] as const, "sqlite");
const SUITE = choice("--suite", ["p256", "sm2", "mixed"] as const, "p256");
const LEDGERS: LedgerKind[] = LEDGER === "both" ? ["sqlite", "postgres"] : [LEDGER];

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);

const issuers = Object.fromEntries((["p256", "sm2"] as const).map((s) => {
  const key = generateKeyPair(s);
  return [s, { suite: s, key, kid: keyId(key.pub) }];
})) as Record<SuiteName, { suite: SuiteName; key: ReturnType<typeof generateKeyPair>; kid: Uint8Array }>;

/** The workload's SM2 vouchers are signed by the firmware's own signer (build/crypto-ec-test.wasm,
 * hedged nonces): sm-crypto signs a few dozen a second, too slow for a million vouchers. Verified
 * by the same code either way; the crypto tests check it against sm-crypto and OpenSSL. */
const ec = new EcWasm();
const sm2Signer: RawSigner = (_suite, key, tbs) => ec.sign(SM2, key.priv, key.pub, tbs, randomBytes(32)) ?? (() => { throw new Error("bench: SM2 signing failed"); })();

/** mixed: 4 of every 5 devices SM2 */
const suiteOf = (i: number): SuiteName => (SUITE === "mixed" ? (i % 5 === 4 ? "p256" : "sm2") : SUITE);

interface Workload {
  devices: PaperDevice[];
  files: string[];
  raw: RawItem[];
}

function workload(n: number, nDevices: number, dir: string, tag: string): Workload {
  // honest traffic: limits that allow every device's share of payments without a sync
  const limits = { ...DEFAULT_LIMITS, maxCountSinceSync: 1_000_000, maxAmountSinceSync: 0xffffffff };
  const devices = Array.from({ length: nDevices }, (_, i) => {
    const s = suiteOf(i);
    return PaperDevice.create(issuers[s], { suite: s, limits, signer: s === "sm2" ? sm2Signer : undefined });
  });
  const merchants = Array.from({ length: FILES }, (_, i) => Buffer.from((0xa0 + i).toString(16).padStart(16, "0"), "hex"));
  const perFile: string[][] = merchants.map(() => []);
  // the raw items in the order reconciliation meets them (file by file): its slices then hold
  // the same devices, so the verifier's per-key reuse is the same on both sides
  const rawPerFile: RawItem[][] = merchants.map(() => []);
  const T = 1_750_000_000;
  for (let i = 0; i < n; i++) {
    // every file holds vouchers of every device (a merchant sees many devices, each a few
    // times): i % nDevices would give each file only the devices ≡ its index mod FILES, and
    // slices full of repeated keys that a bank's exports do not have
    const d = devices[Math.floor(i / FILES) % nDevices];
    const m = i % FILES;
    const cose = d.pay(1 + (i % 50), merchants[m], T + i);
    perFile[m].push(hex(cose));
    const s = decodeSign1(cose);
    rawPerFile[m].push({ sm2: d.suite === "sm2", pub: d.key.pub, tbs: toBeSigned(s.alg, s.payload), sig: s.signature });
  }
  const raw = rawPerFile.flat();
  const files = perFile.map((vs, m) => {
    const f = join(dir, `pos-${tag}-${m}.json`);
    writeFileSync(f, JSON.stringify({ format: POS_EXPORT_FORMAT, version: 1, terminal: `t${m}`, merchant: hex(merchants[m]), exportedAt: "x", vouchers: vs.map((cose) => ({ cose, receivedAt: "x" })) }));
    return f;
  });
  return { devices, files, raw };
}

type VerifyMode = "batch" | "single";
/** Reconciliation's slice (host-tools verifier-pool.ts): the raw workers batch SM2 the same way. */
const SLICE = 500;

/** The verifiers alone, on the same number of worker threads (raw-verify-body.ts): OpenSSL
 * for P-256, the host WASM verifier for SM2, in one batch call per slice or one call per voucher. */
async function rawRate(items: RawItem[], mode: VerifyMode): Promise<number> {
  const workers = Array.from({ length: WORKERS }, () => new Worker(new URL("./raw-verify-worker.mjs", import.meta.url), { workerData: { mode, slice: SLICE } }));
  await Promise.all(workers.map((w) => new Promise((res, rej) => (w.once("message", res), w.once("error", rej)))));
  const slice = Math.ceil(items.length / WORKERS);
  const t = performance.now();
  const oks = await Promise.all(workers.map((w, i) => new Promise<number>((res) => (w.once("message", res), w.postMessage(items.slice(i * slice, (i + 1) * slice))))));
  const ms = performance.now() - t;
  await Promise.all(workers.map((w) => w.terminate()));
  if (oks.reduce((a, b) => a + b, 0) !== items.length) throw new Error("bench: raw verification failed some vouchers");
  return (items.length / ms) * 1000;
}

// ---------------------------------------------------------------------------
// Ledgers

interface PgServer { url: string; stop(): Promise<void>; create(name: string): Promise<string> }
let pgServer: PgServer | undefined;

async function postgresServer(): Promise<PgServer> {
  if (pgServer) return pgServer;
  const { startPostgres, withDatabase } = await import("../test/support/postgres.ts");
  const external = process.env.WALLET_BENCH_PG_URL;
  let url: string;
  let stop = async () => {};
  if (external) url = external;
  else {
    const c = await startPostgres({ db: "bench", log });
    if (typeof c === "string") throw new Error(`bench: --ledger postgres needs a private cluster (${c}) or WALLET_BENCH_PG_URL`);
    url = c.url;
    stop = c.stop;
  }
  const { PostgresLedger } = await loadPostgresLedger();
  const admin = await PostgresLedger.open(url);
  pgServer = {
    url,
    stop: async () => {
      await admin.close();
      await stop();
    },
    create: async (name) => {
      await admin.exec(`DROP DATABASE IF EXISTS ${name}`);
      await admin.exec(`CREATE DATABASE ${name}`);
      return withDatabase(url, name);
    },
  };
  return pgServer;
}

let runNo = 0;
async function openLedger(kind: LedgerKind, dir: string): Promise<Ledger> {
  runNo++;
  if (kind === "sqlite") return SqliteLedger.open(join(dir, `ledger-${runNo}.sqlite`));
  const s = await postgresServer();
  const { PostgresLedger } = await loadPostgresLedger();
  return PostgresLedger.open(await s.create(`bench_${process.pid}_${runNo}`));
}

interface Full { ms: number; rate: number; fraud: number; settled: number; parseMs: number; waitMs: number; writeMs: number; evaluateMs: number }

async function fullRun(kind: LedgerKind, w: Workload, dir: string, n: number, verify: VerifyMode = "batch"): Promise<Full> {
  const ledger = await openLedger(kind, dir);
  await ledger.putIssuerKeys((["p256", "sm2"] as const).map((s) => ({ kid: hex(issuers[s].kid), suite: s, pub: hex(issuers[s].key.pub), status: "active" })));
  await ledger.transaction(async () => {
    for (const d of w.devices) await ledger.putDevice(d.record());
  });
  const t = performance.now();
  // file paths: reconcile parses each file while the workers check the previous one
  const r = await reconcile(ledger, w.files, { workers: WORKERS, verify });
  const ms = performance.now() - t;
  const sum = await ledger.summary();
  await ledger.close();
  if (r.newVouchers !== n || r.rejected || sum.fraudCases) throw new Error(`bench: reconciled ${r.newVouchers}/${n}, rejected ${r.rejected}, fraud cases ${sum.fraudCases} (honest traffic: expected none)`);
  return { ms, rate: (n / ms) * 1000, fraud: sum.fraudCases, settled: sum.merchants.reduce((a, m) => a + m.settled, 0), ...r.timings };
}

// ---------------------------------------------------------------------------

const verifierName = { p256: "node:crypto (OpenSSL) ECDSA P-256", sm2: "host WASM SM2 (build/verifier.wasm)", mixed: "80% host WASM SM2 + 20% OpenSSL P-256" }[SUITE];
/** SM2 suites also run with one verifier call per voucher: the gain of the batch entry */
const COMPARE_SINGLE = SUITE !== "p256";
const dir = mkdtempSync(join(tmpdir(), "bench-reconcile-"));
try {
  log(`generating ${N} ${SUITE} vouchers from ${DEVICES} devices (+ a ${N / 10} run for the scaling check)…`);
  const small = workload(Math.floor(N / 10), Math.max(1, Math.floor(DEVICES / 10)), dir, "small");
  const smallN = small.raw.length;
  small.raw.length = 0;
  const big = workload(N, DEVICES, dir, "big");
  const rawBefore = await rawRate(big.raw, "batch");
  let rawSingle = COMPARE_SINGLE ? await rawRate(big.raw, "single") : 0;
  const per: Record<string, ReturnType<typeof figures>> = {};
  function figures(kind: LedgerKind, full: Full, smallMs: number, raw: number, base: number, peak: number) {
    return {
      ledger: kind, rawVerifyPerSec: Math.round(raw), reconcilePerSec: Math.round(full.rate), ratio: +(full.rate / raw).toFixed(3),
      perCorePerSec: Math.round(full.rate / WORKERS), reconcileMs: Math.round(full.ms), smallRunMs: Math.round(smallMs), scaling10x: +(full.ms / smallMs).toFixed(2),
      peakRssMiB: Math.round((peak - base) / 2 ** 20), processPeakRssMiB: Math.round(peak / 2 ** 20), fraudCases: full.fraud,
      mainThread: { parseMs: full.parseMs, waitForWorkersMs: full.waitMs, ledgerMs: full.writeMs, ofWhichDeviceEvaluationMs: full.evaluateMs },
    };
  }
  let raw = rawBefore;
  const singles: Partial<Record<LedgerKind, { reconcilePerSec: number; ratioToItsRaw: number; batchGain: number }>> = {};
  for (const kind of LEDGERS) {
    log(`${kind}: small run (${smallN})…`);
    const smallRes = await fullRun(kind, small, dir, smallN);
    // the workload itself (files' vouchers, signing keys, raw items) is the bench's, not
    // reconciliation's: report the peak above the RSS right before the run, and the total
    const base = process.memoryUsage().rss;
    peakRss = base;
    log(`${kind}: full run (${N})…`);
    const full = await fullRun(kind, big, dir, N);
    const peak = peakRss;
    raw = Math.max(raw, await rawRate(big.raw, "batch")); // again after: the machine's state on both sides
    per[kind] = figures(kind, full, smallRes.ms, raw, base, peak);
    if (COMPARE_SINGLE) {
      log(`${kind}: full run (${N}), SM2 one verifier call per voucher…`);
      const single = await fullRun(kind, big, dir, N, "single");
      rawSingle = Math.max(rawSingle, await rawRate(big.raw, "single"));
      singles[kind] = { reconcilePerSec: Math.round(single.rate), ratioToItsRaw: +(single.rate / rawSingle).toFixed(3), batchGain: +(full.rate / single.rate).toFixed(3) };
    }
  }
  // every ledger's ratio against the best raw rate measured in the whole run
  for (const k of LEDGERS) Object.assign(per[k], { rawVerifyPerSec: Math.round(raw), ratio: +(per[k].reconcilePerSec / raw).toFixed(3) });
  clearInterval(sampler);
  const result = {
    vouchers: N, devices: DEVICES, workers: WORKERS, suite: SUITE, verifier: verifierName, ratioTarget: RATIO_TARGET, scalingTarget: SCALING_TARGET, rssTargetMiB: 300,
    ledgers: per, ...(COMPARE_SINGLE ? { rawSingleVerifyPerSec: Math.round(rawSingle), single: singles } : {}),
  };
  if (JSON_OUT) process.stdout.write(JSON.stringify(result) + "\n");
  else {
    const cols = LEDGERS;
    const row = (label: string, f: (k: LedgerKind) => string, note = "") => console.log(`${label.padEnd(44)} ${cols.map((k) => f(k).padStart(22)).join(" ")}  ${note}`);
    console.log(`bench:reconcile — ${N} ${SUITE} vouchers, ${DEVICES} devices, ${WORKERS} worker threads, verifier ${verifierName}`);
    row("", (k) => k);
    row("raw verify (verifier alone)", () => `${result.ledgers[cols[0]].rawVerifyPerSec} /s`);
    row("reconcile (parse+verify+ledger+chains)", (k) => `${per[k].reconcilePerSec} /s`);
    row("  ratio to raw", (k) => `${per[k].ratio}x`, `target ≥ ${RATIO_TARGET}`);
    row("  per core", (k) => `${per[k].perCorePerSec} /s`);
    if (COMPARE_SINGLE) {
      row("SM2 one call per voucher: raw verify", () => `${Math.round(rawSingle)} /s`);
      row("  reconcile", (k) => `${singles[k]!.reconcilePerSec} /s`);
      row("  ratio to its raw", (k) => `${singles[k]!.ratioToItsRaw}x`);
      row("reconcile gain of the batch entry", (k) => `${singles[k]!.batchGain}x`, "batch / one call per voucher");
    }
    row(`time ${N} vs ${N / 10} vouchers`, (k) => `${per[k].reconcileMs} / ${per[k].smallRunMs} ms`);
    row("  scaling", (k) => `${per[k].scaling10x}x`, `target ≤ ${SCALING_TARGET}`);
    row("peak RSS above the workload", (k) => `${per[k].peakRssMiB} MiB`, "target ≤ 300");
    row("  whole bench process", (k) => `${per[k].processPeakRssMiB} MiB`);
    row("main thread: parse / wait / ledger (ms)", (k) => `${per[k].mainThread.parseMs}/${per[k].mainThread.waitForWorkersMs}/${per[k].mainThread.ledgerMs}`);
    row("  of which device evaluation (ms)", (k) => `${per[k].mainThread.ofWhichDeviceEvaluationMs}`);
    const best = Math.max(...cols.map((k) => per[k].perCorePerSec));
    console.log(`note: ${best} ${SUITE} vouchers/s per core at best here; 100 million offline vouchers a day (1157/s on average, say 5x at peak: 5787/s) need ≈ ${Math.ceil(5787 / best)} such cores for reconciliation (plus the database server's).`);
  }
} finally {
  clearInterval(sampler);
  await pgServer?.stop();
  rmSync(dir, { recursive: true, force: true });
}
