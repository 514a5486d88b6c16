// Reconciliation (issue 6 "reconcile FILES…"; DESIGN.md §4, §6): imports POS exports and
// device logs into the ledger, checks every voucher, settles payer → payee, and opens
// fraud cases. One call = one ledger transaction: a failure leaves the ledger as it was.
//
// Decisions are a pure function of everything the ledger holds for a device
// (`evaluateDevice`), recomputed for every device a batch touches. So importing the same
// files again changes nothing, and importing files in any order ends in the same state:
//  - fork: two different valid vouchers with the same device and counter (a clone or a
//    rolled-back flash image): all of them are fraud, none settles;
//  - chain-break: a voucher whose prev is not the hash of the voucher before it;
//  - over-limit: above the certificate's per-payment maximum, or the count / amount
//    allowed since the last sync acknowledgement;
//  - revoked: signed at or after the device's revocation time;
//  - replay: a voucher presented by a merchant it was not made out to (it still settles
//    to its rightful payee, at most once: its hash is its identity);
//  - tampered: fails decoding, the certificate chain, the cert ref or the signature (a
//    rejected voucher; a fraud case when it names a known device);
//  - gap: counter c-1 not seen yet: the voucher is pending, not fraud, until it arrives.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename } from "node:path";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { DOC_TYPE_RECEIPT } from "../../protocol/portable/cbor-keys.ts";
import { peekDocType } from "./fast-voucher.ts";
import { reconcileWorkerUrl } from "./worker-bundle.ts";
import { certRefOf, hex, type TrustedKey } from "./docs.ts";
import { dataError } from "./errors.ts";
import type { DeviceRecord, FraudCase, Ledger, Submission, SyncAck, VoucherRecord, VoucherStatus } from "./ledger/ledger.ts";
import { checkVoucher, deviceKeyOf, toFacts, unpackChecks, type Checked, type PackedChecks, type DeviceCertInput, type DeviceKey } from "./voucher-check.ts";

export const POS_EXPORT_FORMAT = "offline-wallet-pos-export";
export const DEVICE_LOG_FORMAT = "offline-wallet-device-log";

/** A POS outbox export (`wallet pos export`). */
export interface PosExport {
  format: typeof POS_EXPORT_FORMAT;
  version: 1;
  terminal: string;
  merchant: string; // hex payee id (8 bytes)
  exportedAt: string;
  vouchers: { cose: string; receivedAt: string }[];
}

/** A device's log as read by `wallet sync` (vouchers and receipts, hex COSE). */
export interface DeviceLog {
  format: typeof DEVICE_LOG_FORMAT;
  version: 1;
  deviceId: string;
  readAt: string;
  entries: string[];
}

export interface InputFile {
  name: string;
  hash: string;
  kind: "pos-export" | "device-log";
  presenter: string; // "merchant:<id>" or "device:<id>"
  coses: Uint8Array[];
}

/** Reads and validates one input file; any defect is a data error naming the file. */
export function parseInput(path: string, text?: string): InputFile {
  const name = basename(path);
  let raw: Buffer;
  try {
    raw = text !== undefined ? Buffer.from(text) : readFileSync(path);
  } catch {
    throw dataError(`reconcile: cannot read ${path}`);
  }
  const bad = (m: string) => dataError(`reconcile: ${name}: ${m}`);
  let j: any;
  try {
    j = JSON.parse(raw.toString("utf8"));
  } catch {
    throw bad("not valid JSON (corrupted or truncated export?)");
  }
  const hash = createHash("sha256").update(raw).digest("hex");
  const hexList = (a: unknown, what: string): Uint8Array[] => {
    if (!Array.isArray(a)) throw bad(`${what} is not a list`);
    const strs = a.map((x, i) => {
      const s = typeof x === "string" ? x : x?.cose;
      if (typeof s !== "string" || s.length === 0 || s.length % 2) throw bad(`${what}[${i}] is not hex COSE`);
      return s;
    });
    // all of a file's documents decoded into one buffer (one allocation, not one per
    // voucher); a string is lowercase hex exactly when it decodes completely and encodes
    // back to itself (Buffer's hex decoder stops at the first non-hex digit; this is
    // cheaper than a regular expression over every character)
    const all = Buffer.allocUnsafe(strs.reduce((n, s) => n + s.length / 2, 0));
    let o = 0;
    return strs.map((s, i) => {
      const n = s.length / 2;
      if (all.write(s, o, n, "hex") !== n || all.toString("hex", o, o + n) !== s) throw bad(`${what}[${i}] is not hex COSE`);
      return all.subarray(o, (o += n));
    });
  };
  if (j?.format === POS_EXPORT_FORMAT && j.version === 1) {
    if (typeof j.merchant !== "string" || !/^[0-9a-f]{16}$/.test(j.merchant)) throw bad("merchant is not an 8-byte hex id");
    return { name, hash, kind: "pos-export", presenter: `merchant:${j.merchant}`, coses: hexList(j.vouchers, "vouchers") };
  }
  if (j?.format === DEVICE_LOG_FORMAT && j.version === 1) {
    if (typeof j.deviceId !== "string" || !/^[0-9a-f]{16}$/.test(j.deviceId)) throw bad("deviceId is not an 8-byte hex id");
    return { name, hash, kind: "device-log", presenter: `device:${j.deviceId}`, coses: hexList(j.entries, "entries") };
  }
  throw bad(`not a ${POS_EXPORT_FORMAT} or ${DEVICE_LOG_FORMAT} version 1 file`);
}

/** Trusted issuer keys and the registered devices with a certificate: what `deviceKeys` checks. */
async function certInputs(ledger: Ledger): Promise<{ trusted: TrustedKey[]; devices: DeviceCertInput[] }> {
  const trusted: TrustedKey[] = (await ledger.issuerKeys()).map((k) => ({ kid: k.kid, suite: k.suite, pub: k.pub }));
  const devices: DeviceCertInput[] = [];
  for (const d of await ledger.devices()) if (d.cert && d.pub) devices.push({ deviceId: d.deviceId, suite: d.suite, pub: d.pub, cert: d.cert });
  return { trusted, devices };
}

/** Device keys for voucher checks: each registered certificate chain-checked once. */
export async function deviceKeys(ledger: Ledger): Promise<Map<string, DeviceKey>> {
  const { trusted, devices } = await certInputs(ledger);
  return new Map(devices.map((d) => [d.deviceId, deviceKeyOf(d, trusted)]));
}

type Check = Checked;

/** Certificates checked between two turns of the event loop (≈ 80 µs each). */
const CERT_STEP = 100;

/** Batches at least this large are checked in worker threads (smaller ones are not worth the start-up). */
export const WORKER_THRESHOLD = 2000;

/** One slice of a batch, checked by one worker: the results of coses[start…]. */
export interface Chunk {
  start: number;
  results: Promise<Check[]>;
}

/** Slices a worker holds at once: it starts the next while the main thread is busy (writing, parsing) and has not answered yet. */
const WORKER_DEPTH = 3;

/**
 * Worker threads that check vouchers (and device certificates). `submit` queues a batch
 * as slices; each worker holds up to WORKER_DEPTH of them, so workers never wait for the
 * main thread between slices, while the main thread parses the next file or writes the
 * results of the slices already checked. Start it early: workers load their module
 * while the caller does other work. A worker answers its messages in order, so each
 * keeps a FIFO of the replies it owes.
 */
export class VerifierPool {
  private workers: Worker[];
  private owed = new Map<Worker, { resolve: (m: any) => void; reject: (e: unknown) => void }[]>();
  private queue: { coses: Uint8Array[]; resolve: (r: Check[]) => void; reject: (e: unknown) => void }[] = [];
  private keysSent?: Map<string, DeviceKey>;
  constructor(n: number, private slice = 500) {
    const url = reconcileWorkerUrl();
    this.workers = Array.from({ length: n }, () => {
      const w = new Worker(url);
      const owed: { resolve: (m: any) => void; reject: (e: unknown) => void }[] = [];
      this.owed.set(w, owed);
      w.on("message", (m) => {
        owed.shift()!.resolve(m);
        this.pump();
      });
      w.on("error", (e) => {
        for (const o of owed.splice(0)) o.reject(e);
      });
      return w;
    });
  }
  private ask<T>(w: Worker, msg: unknown, transfer?: ArrayBuffer[]): Promise<T> {
    return new Promise((resolve, reject) => {
      this.owed.get(w)!.push({ resolve, reject });
      w.postMessage(msg, transfer);
    });
  }
  setKeys(keys: Map<string, DeviceKey>): void {
    if (this.keysSent === keys) return;
    for (const w of this.workers) w.postMessage({ keys: [...keys.entries()] });
    this.keysSent = keys;
  }
  /** The batch's checks, slice by slice in order. */
  submit(coses: Uint8Array[]): Chunk[] {
    const chunks: Chunk[] = [];
    for (let i = 0; i < coses.length; i += this.slice) {
      const part = coses.slice(i, i + this.slice);
      chunks.push({ start: i, results: new Promise((resolve, reject) => this.queue.push({ coses: part, resolve, reject })) });
    }
    this.pump();
    return chunks;
  }
  private pump(): void {
    while (this.queue.length) {
      // the worker owing the fewest answers, if it has room
      let w: Worker | undefined;
      for (const x of this.workers) if (this.owed.get(x)!.length < WORKER_DEPTH && (!w || this.owed.get(x)!.length < this.owed.get(w)!.length)) w = x;
      if (!w) return;
      const s = this.queue.shift()!;
      // one buffer per slice, transferred (not cloned): cheaper than 500 small arrays
      const ends = new Uint32Array(s.coses.length);
      let n = 0;
      for (let i = 0; i < s.coses.length; i++) ends[i] = n += s.coses[i].length;
      const buf = new Uint8Array(n);
      for (let i = 0, o = 0; i < s.coses.length; o = ends[i++]) buf.set(s.coses[i], o);
      this.ask<{ packed: PackedChecks }>(w, { buf, ends }, [buf.buffer, ends.buffer]).then((m) => s.resolve(unpackChecks(m.packed)), s.reject);
    }
  }
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

export interface Evaluation {
  status: Map<string, { status: VoucherStatus; reason: string | null }>;
  cases: FraudCase[];
  gaps: number[]; // counters not seen below the highest one
}

/** The deterministic verdict on one device's vouchers (see the file header). */
export function evaluateDevice(dev: DeviceRecord, vouchers: VoucherRecord[], acks: SyncAck[]): Evaluation {
  const status: Evaluation["status"] = new Map();
  const cases: FraudCase[] = [];
  const fraud = (v: VoucherRecord, kind: FraudCase["kind"], detail: string) => {
    if (!status.has(v.hash) || status.get(v.hash)!.status !== "fraud") status.set(v.hash, { status: "fraud", reason: kind });
    cases.push({ kind, deviceId: dev.deviceId, counter: v.counter, voucherHash: v.hash, detail });
  };
  const byCounter = new Map<number, VoucherRecord[]>();
  for (const v of vouchers) (byCounter.get(v.counter) ?? byCounter.set(v.counter, []).get(v.counter)!).push(v);
  const counters = [...byCounter.keys()].sort((a, b) => a - b);
  const ackCounters = acks.map((a) => a.upToCounter).sort((a, b) => a - b);
  const gaps: number[] = [];
  const max = counters.length ? counters[counters.length - 1] : 0;
  for (let c = 1; c < max; c++) if (!byCounter.has(c)) gaps.push(c);
  // prefix sums over counters (a fork counts once, at its largest amount) for O(1) windows
  const idx = new Map(counters.map((c, i) => [c, i]));
  const prefix = [0];
  for (const c of counters) {
    const g = byCounter.get(c)!;
    prefix.push(prefix[prefix.length - 1] + (g.length === 1 ? g[0].amount : Math.max(...g.map((x) => x.amount))));
  }

  for (const c of counters) {
    const group = byCounter.get(c)!;
    if (group.length > 1) {
      for (const v of group) fraud(v, "fork", `${group.length} different vouchers with counter ${c}: cloned device or rolled-back flash`);
      continue;
    }
    const v = group[0];
    if (dev.revoked && dev.revokedAt !== null && v.time >= dev.revokedAt) fraud(v, "revoked", `signed at ${v.time}, device revoked at ${dev.revokedAt}`);
    if (v.amount > dev.limits.maxPayment) fraud(v, "over-limit", `amount ${v.amount} > per-payment maximum ${dev.limits.maxPayment}`);
    // since-sync window: the vouchers after the last acknowledged counter below c
    const below = lowerBound(ackCounters, c); // acks with upToCounter < c
    const from = below > 0 ? ackCounters[below - 1] : 0;
    const at = idx.get(c)!;
    const start = upperBound(counters, from); // first index with counter > from
    const count = at + 1 - start;
    const sum = prefix[at + 1] - prefix[start];
    if (count > dev.limits.maxCountSinceSync) fraud(v, "over-limit", `${count} payments since the last sync > ${dev.limits.maxCountSinceSync}`);
    else if (sum > dev.limits.maxAmountSinceSync) fraud(v, "over-limit", `${sum} paid since the last sync > ${dev.limits.maxAmountSinceSync}`);
    if (c === 1 || !byCounter.has(c - 1)) {
      if (c === 1 && !/^0+$/.test(v.prev)) fraud(v, "chain-break", "first voucher does not start the chain");
    } else if (!byCounter.get(c - 1)!.some((p) => p.chainHash === v.prev)) {
      fraud(v, "chain-break", `prev does not match the voucher with counter ${c - 1}`);
    }
    if (!status.has(v.hash)) {
      const linked = c === 1 || byCounter.has(c - 1);
      status.set(v.hash, linked ? SETTLED : { status: "pending", reason: `gap: counter ${c - 1} not seen yet` });
    }
  }
  return { status, cases, gaps };
}

/** The verdict of most vouchers: one shared (read-only) object, not one per voucher. */
const SETTLED: { status: VoucherStatus; reason: string | null } = Object.freeze({ status: "settled", reason: null });

/** Index of the first element of sorted `a` not less than x. */
function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element of sorted `a` greater than x. */
function upperBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface ReconcileResult {
  files: { name: string; kind: string; vouchers: number; alreadyImported: boolean }[];
  newVouchers: number;
  duplicates: number;
  rejected: number;
  receipts: number;
  newFraudCases: FraudCase[];
  pendingGaps: { deviceId: string; counters: number[] }[];
  /** main thread: parsing and dispatching files, waiting for the workers' checks, ledger writes */
  timings: { parseMs: number; waitMs: number; writeMs: number; evaluateMs: number };
}

/** Imports `inputs` into the ledger in one transaction and re-evaluates the devices touched. */
/** A file to import: parsed already, or a path parsed inside the transaction (overlapping the checks). */
export type Source = InputFile | string;

export async function reconcile(ledger: Ledger, sources: Source[], opts: { workers?: number; keys?: Map<string, DeviceKey>; pool?: VerifierPool } = {}): Promise<ReconcileResult> {
  // a voucher takes ≈ 500 bytes of an export file: enough to decide on workers before parsing
  const known = sources.reduce((a, f) => a + (typeof f !== "string" ? f.coses.length : existsSync(f) ? statSync(f).size / 500 : 0), 0);
  const n = opts.workers ?? (known >= WORKER_THRESHOLD ? availableParallelism() : 0);
  const pool = opts.pool ?? (n > 0 ? new VerifierPool(n) : undefined);
  try {
    return await reconcileWith(ledger, sources, opts.keys, pool);
  } finally {
    if (pool && !opts.pool) await pool.close();
  }
}

async function reconcileWith(ledger: Ledger, sources: Source[], knownKeys: Map<string, DeviceKey> | undefined, pool: VerifierPool | undefined): Promise<ReconcileResult> {
  // Certificates are checked here, once each (in workers every isolate would compile the
  // strict CBOR decoder again). With workers, that overlaps their first slices: they start
  // with the registered keys as if every certificate were good ("provisional"), and every
  // voucher of a device whose certificate then fails is checked again here with the real
  // verdict, so the outcome (and the reason given) is exactly that of checking after.
  let keys: Map<string, DeviceKey>;
  let certInput: Awaited<ReturnType<typeof certInputs>> | undefined;
  if (knownKeys) pool?.setKeys((keys = knownKeys));
  else if (pool) {
    certInput = await certInputs(ledger);
    keys = new Map(certInput.devices.map((d) => [d.deviceId, { suite: d.suite, pub: d.pub, certRef: hex(certRefOf(d.suite, d.cert)) }]));
    pool.setKeys(keys);
  } else keys = await deviceKeys(ledger);
  let recheck = new Set<string>(); // devices whose provisional results do not stand
  /** The real certificate checks, in steps so workers keep getting slices. */
  const checkCerts = async () => {
    if (!certInput) return;
    const { trusted, devices } = certInput;
    certInput = undefined;
    const real = new Map<string, DeviceKey>();
    for (let i = 0; i < devices.length; i++) {
      real.set(devices[i].deviceId, deviceKeyOf(devices[i], trusted));
      if (i % CERT_STEP === CERT_STEP - 1) await new Promise(setImmediate);
    }
    keys = real;
    recheck = new Set([...real].filter(([, k]) => k.certError).map(([id]) => id));
  };
  return ledger.transaction(async () => {
    const t0 = performance.now();
    // A: parse each file and hand its vouchers to the workers at once; the next file is
    // parsed while they verify (device logs carry receipts too: only vouchers are checked)
    const files: ReconcileResult["files"] = [];
    const batches: { file: InputFile; coses: Uint8Array[]; chunks: Chunk[] }[] = [];
    let receipts = 0;
    for (const src of sources) {
      const f = typeof src === "string" ? parseInput(src) : src;
      const already = (await ledger.hasImport(f.hash)) || batches.some((b) => b.file.hash === f.hash);
      files.push({ name: f.name, kind: f.kind, vouchers: f.coses.length, alreadyImported: already });
      if (already) continue;
      const coses = f.coses.filter((c) => !isReceipt(c));
      receipts += f.coses.length - coses.length;
      const chunks = pool ? pool.submit(coses) : [{ start: 0, results: Promise.resolve(coses.map((c) => toFacts(checkVoucher(c, (id) => keys.get(id))))) }];
      batches.push({ file: f, coses, chunks });
      // let the event loop run between files: workers' answers are taken (and their next
      // slices posted) only there, and parsing all files takes longer than their queues
      if (pool) await new Promise(setImmediate);
      await checkCerts();
    }
    await checkCerts();
    const t1 = performance.now();
    // B: results slice by slice, written as they arrive (new vouchers go in as "settled";
    // C corrects the few that are not)
    // per touched device: what the ledger held before this import (read while the workers
    // still check later files) and what this import brings
    const perDevice = new Map<string, { dev: DeviceRecord; all: VoucherRecord[]; hashes: Set<string>; acks: SyncAck[] }>();
    const newCases: FraudCase[] = [];
    let rejected = 0;
    let inserted = 0;
    let good = 0;
    let waitMs = 0;
    // who presented what: kept where it is evidence (a replay, a rejected voucher); the
    // import of every file is recorded in `imports` and the audit log
    const subs: Submission[] = [];
    const openCase = async (c: FraudCase) => void ((await ledger.openFraudCase(c)) && newCases.push(c));
    for (const { file, coses, chunks } of batches) for (const { start, results: pending } of chunks) {
      // a POS export's vouchers must be made out to its merchant (else: replay)
      const merchant = file.kind === "pos-export" ? file.presenter.slice("merchant:".length) : null;
      const tw = performance.now();
      const results = await pending;
      waitMs += performance.now() - tw;
      const recs: VoucherRecord[] = [];
      for (let j = 0; j < results.length; j++) {
        const i = start + j;
        const r = results[j].deviceId !== null && recheck.has(results[j].deviceId!) ? toFacts(checkVoucher(coses[i], (id) => keys.get(id))) : results[j];
        if (!r.ok) {
          subs.push({ voucherHash: r.hash, source: file.name, presenter: file.presenter });
          rejected += await ledger.addRejected([{ hash: r.hash, deviceId: r.deviceId, reason: r.reason, cose: coses[i], source: file.name }]);
          if (r.deviceId && keys.has(r.deviceId)) await openCase({ kind: "tampered", deviceId: r.deviceId, counter: null, voucherHash: r.hash, detail: r.reason });
          continue;
        }
        // the worker's flat facts become the record in place (no copy per voucher); for
        // P-256 the chain hash is the voucher hash: one string kept, not two equal ones
        const v = r as unknown as VoucherRecord;
        v.cose = coses[i];
        v.status = "settled";
        v.reason = null;
        if (v.chainHash === v.hash) v.chainHash = v.hash;
        const rec = v;
        recs.push(rec);
        let d = perDevice.get(r.deviceId);
        if (!d) {
          const all = await ledger.vouchersOf(r.deviceId, { cose: false });
          d = { dev: (await ledger.device(r.deviceId))!, all, hashes: new Set(all.map((x) => x.hash)), acks: await ledger.syncAcks(r.deviceId) };
          perDevice.set(r.deviceId, d);
        }
        if (!d.hashes.has(rec.hash)) (d.hashes.add(rec.hash), d.all.push(rec)); // as written: "settled"
        if (merchant !== null && v.payee !== merchant) {
          subs.push({ voucherHash: r.hash, source: file.name, presenter: file.presenter });
          await openCase({ kind: "replay", deviceId: r.deviceId, counter: v.counter, voucherHash: r.hash, detail: `presented by ${file.presenter} in ${file.name}, made out to ${v.payee}` });
        }
      }
      good += recs.length;
      inserted += await ledger.addVouchers(recs);
    }
    // C: each touched device judged over everything it now has; new vouchers went in as
    // "settled", so only the others (and old ones whose verdict changed) are written
    const t2 = performance.now();
    const pendingGaps: ReconcileResult["pendingGaps"] = [];
    for (const id of [...perDevice.keys()].sort()) {
      const { dev, all, acks } = perDevice.get(id)!;
      const ev = evaluateDevice(dev, all, acks);
      for (const v of all) {
        const s = ev.status.get(v.hash)!;
        if (s.status !== v.status || s.reason !== v.reason) await ledger.setVoucherStatus(v.hash, s.status, s.reason);
      }
      for (const c of ev.cases) await openCase(c);
      if (ev.gaps.length) pendingGaps.push({ deviceId: id, counters: ev.gaps });
    }
    await ledger.addSubmissions(subs);
    for (const { file } of batches) await ledger.addImport(file.hash, file.name, file.kind, { entries: file.coses.length });
    const result: ReconcileResult = {
      files, newVouchers: inserted, duplicates: good - inserted, rejected, receipts, newFraudCases: newCases, pendingGaps,
      timings: { parseMs: Math.round(t1 - t0), waitMs: Math.round(waitMs), writeMs: Math.round(performance.now() - t1 - waitMs), evaluateMs: Math.round(performance.now() - t2) },
    };
    if (batches.length)
      await ledger.audit("reconcile", {
        files: batches.map(({ file }) => ({ name: file.name, sha256: file.hash })), newVouchers: inserted, rejected,
        fraudCases: newCases.map((c) => `${c.kind} ${c.deviceId}#${c.counter ?? "-"}`),
      });
    return result;
  });
}

/** Receipts travel in device logs beside vouchers; the payload's type key tells them apart. */
const isReceipt = (cose: Uint8Array): boolean => peekDocType(cose) === DOC_TYPE_RECEIPT;
