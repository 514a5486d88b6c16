// bench:reconcile (README "Benchmarks"): `npm run bench:reconcile [-- --json] [--vouchers 100000] [--devices 1000] [--workers N]`.
// 100,000 P-256 vouchers from 1,000 host-side paper devices (protocol document codecs,
// node:crypto signatures), written as 10 POS export files, reconciled into a fresh SQLite
// ledger. Side by side in one run, on the same worker threads:
//  - raw: the verifier alone (node:crypto / OpenSSL ECDSA verify of each voucher's
//    Sig_structure with the device key), the ceiling;
//  - full: `reconcile` (file parsing, strict decoding, cert-ref and signature checks in
//    workers, SQLite inserts, per-device chain / fork / limit evaluation, audit entry),
//    pipelined: the main thread parses file k+1 and writes file k-1 while workers check k.
// Targets: full ≥ 0.8x raw throughput; peak RSS ≤ 300 MB; 10x the vouchers ≤ 11x the time.
// RSS is sampled every 20 ms (main thread + workers: one process); the workload the bench
// itself holds is subtracted.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { decodeSign1, toBeSigned } from "../protocol/src/cose.ts";
import { DEFAULT_LIMITS, generateKeyPair, hex, keyId, PaperDevice, POS_EXPORT_FORMAT, reconcile, SqliteLedger } from "../host-tools/src/index.ts";
import { arg } from "./host-bench-util.ts";

const JSON_OUT = process.argv.includes("--json");
const N = arg("--vouchers", 100_000);
const DEVICES = arg("--devices", 1_000);
const WORKERS = arg("--workers", availableParallelism());
const FILES = 10;
const log = (s: string) => JSON_OUT || process.stderr.write(s + "\n");

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);

const issuerKey = generateKeyPair("p256");
const issuer = { suite: "p256" as const, key: issuerKey, kid: keyId(issuerKey.pub) };

interface Workload {
  devices: PaperDevice[];
  files: string[];
  raw: { pub: Uint8Array; tbs: Uint8Array; sig: Uint8Array }[];
}

function workload(n: number, nDevices: number, dir: string): Workload {
  // honest traffic: limits that allow every device's share of payments without a sync
  const limits = { ...DEFAULT_LIMITS, maxCountSinceSync: 1_000_000, maxAmountSinceSync: 0xffffffff };
  const devices = Array.from({ length: nDevices }, () => PaperDevice.create(issuer, { limits }));
  const merchants = Array.from({ length: FILES }, (_, i) => Buffer.from((0xa0 + i).toString(16).padStart(16, "0"), "hex"));
  const perFile: string[][] = merchants.map(() => []);
  const raw: Workload["raw"] = [];
  const T = 1_750_000_000;
  for (let i = 0; i < n; i++) {
    const d = devices[i % nDevices];
    const m = i % FILES;
    const cose = d.pay(1 + (i % 50), merchants[m], T + i);
    perFile[m].push(hex(cose));
    const s = decodeSign1(cose);
    raw.push({ pub: d.key.pub, tbs: toBeSigned(s.alg, s.payload), sig: s.signature });
  }
  const files = perFile.map((vs, m) => {
    const f = join(dir, `pos-${m}.json`);
    writeFileSync(f, JSON.stringify({ format: POS_EXPORT_FORMAT, version: 1, terminal: `t${m}`, merchant: hex(merchants[m]), exportedAt: "x", vouchers: vs.map((cose) => ({ cose, receivedAt: "x" })) }));
    return f;
  });
  return { devices, files, raw };
}

/** The verifier alone, on the same number of worker threads. */
async function rawRate(items: Workload["raw"]): Promise<number> {
  const body = `
    const { parentPort } = require("node:worker_threads");
    const { createPublicKey, verify } = require("node:crypto");
    const keys = new Map();
    parentPort.on("message", (batch) => {
      let ok = 0;
      for (const { pub, tbs, sig } of batch) {
        const id = Buffer.from(pub).toString("hex");
        let k = keys.get(id);
        if (!k) { k = createPublicKey({ key: { kty: "EC", crv: "P-256", x: Buffer.from(pub.subarray(1, 33)).toString("base64url"), y: Buffer.from(pub.subarray(33)).toString("base64url") }, format: "jwk" }); keys.set(id, k); }
        if (verify("sha256", tbs, { key: k, dsaEncoding: "ieee-p1363" }, sig)) ok++;
      }
      parentPort.postMessage(ok);
    });`;
  const workers = Array.from({ length: WORKERS }, () => new Worker(body, { eval: true }));
  const slice = Math.ceil(items.length / WORKERS);
  const t = performance.now();
  const oks = await Promise.all(workers.map((w, i) => new Promise<number>((res) => (w.once("message", res), w.postMessage(items.slice(i * slice, (i + 1) * slice))))));
  const ms = performance.now() - t;
  await Promise.all(workers.map((w) => w.terminate()));
  if (oks.reduce((a, b) => a + b, 0) !== items.length) throw new Error("bench: raw verification failed some vouchers");
  return (items.length / ms) * 1000;
}

async function fullRun(w: Workload, dir: string): Promise<{ ms: number; rate: number; fraud: number; settled: number; parseMs: number; waitMs: number; writeMs: number; evaluateMs: number }> {
  const ledger = SqliteLedger.open(join(dir, `ledger-${w.raw.length}.sqlite`));
  await ledger.putIssuerKeys([{ kid: hex(issuer.kid), suite: "p256", pub: hex(issuer.key.pub), status: "active" }]);
  await ledger.transaction(async () => {
    for (const d of w.devices) await ledger.putDevice(d.record());
  });
  const t = performance.now();
  // file paths: reconcile parses each file while the workers check the previous one
  const r = await reconcile(ledger, w.files, { workers: WORKERS });
  const ms = performance.now() - t;
  const sum = await ledger.summary();
  await ledger.close();
  if (r.newVouchers !== w.raw.length || r.rejected || sum.fraudCases) throw new Error(`bench: reconciled ${r.newVouchers}/${w.raw.length}, rejected ${r.rejected}, fraud cases ${sum.fraudCases} (honest traffic: expected none)`);
  return { ms, rate: (w.raw.length / ms) * 1000, fraud: sum.fraudCases, settled: sum.merchants.reduce((a, m) => a + m.settled, 0), ...r.timings };
}

const dir = mkdtempSync(join(tmpdir(), "bench-reconcile-"));
try {
  log(`generating ${N} vouchers from ${DEVICES} devices (+ a ${N / 10} run for the scaling check)…`);
  const small = workload(Math.floor(N / 10), Math.max(1, Math.floor(DEVICES / 10)), join(dir));
  const smallRes = await fullRun(small, dir);
  small.raw.length = 0;
  const big = workload(N, DEVICES, dir);
  const raw1 = await rawRate(big.raw);
  // the workload itself (files' vouchers, signing keys, raw items) is the bench's, not
  // reconciliation's: report the peak above the RSS right before the run, and the total
  const baseRss = process.memoryUsage().rss;
  peakRss = baseRss;
  const full = await fullRun(big, dir);
  const raw2 = await rawRate(big.raw); // again after: the machine's state on both sides
  const raw = Math.max(raw1, raw2);
  clearInterval(sampler);
  const result = {
    vouchers: N, devices: DEVICES, workers: WORKERS, verifier: "node:crypto (OpenSSL) ECDSA P-256",
    rawVerifyPerSec: Math.round(raw), reconcilePerSec: Math.round(full.rate), ratio: +(full.rate / raw).toFixed(3), ratioTarget: 0.8,
    reconcileMs: Math.round(full.ms), smallRunMs: Math.round(smallRes.ms), scaling10x: +(full.ms / smallRes.ms).toFixed(2), scalingTarget: 11,
    peakRssMiB: Math.round((peakRss - baseRss) / 2 ** 20), processPeakRssMiB: Math.round(peakRss / 2 ** 20), rssTargetMiB: 300, fraudCases: full.fraud,
    mainThread: { parseMs: full.parseMs, waitForWorkersMs: full.waitMs, sqliteMs: full.writeMs, ofWhichDeviceEvaluationMs: full.evaluateMs },
  };
  if (JSON_OUT) process.stdout.write(JSON.stringify(result) + "\n");
  else {
    const rows: [string, string, string][] = [
      ["raw verify (verifier alone)", `${result.rawVerifyPerSec} /s`, ""],
      ["reconcile (parse+verify+SQLite+chains)", `${result.reconcilePerSec} /s`, `${result.ratio}x raw (target ≥ 0.8)`],
      [`time ${N} vs ${N / 10} vouchers`, `${result.reconcileMs} / ${result.smallRunMs} ms`, `${result.scaling10x}x (target ≤ 11)`],
      ["peak RSS of reconcile (above the workload)", `${result.peakRssMiB} MiB`, `target ≤ 300 (whole bench process ${result.processPeakRssMiB} MiB)`],
      ["  main thread: parse / wait for workers / SQLite", `${result.mainThread.parseMs} / ${result.mainThread.waitForWorkersMs} / ${result.mainThread.sqliteMs} ms`, `(device evaluation ${result.mainThread.ofWhichDeviceEvaluationMs} ms)`],
    ];
    console.log(`bench:reconcile — ${N} vouchers, ${DEVICES} devices, ${WORKERS} worker threads, verifier ${result.verifier}`);
    for (const [a, b, c] of rows) console.log(`${a.padEnd(42)} ${b.padStart(16)}  ${c}`);
  }
} finally {
  clearInterval(sampler);
  rmSync(dir, { recursive: true, force: true });
}
