// Reconciliation (DESIGN §4, §6, §8; SPEC §5.10): imports POS exports and device logs
// into the ledger in one transaction, and re-judges every device the import touches.
// The parts: the exchange formats (exchange.ts), the verifier pool (verifier-pool.ts),
// the verdict, a pure function of all evidence (verdict.ts), and this orchestration:
// parse, check signatures, store the evidence, gather each touched device's evidence,
// judge, and write what changed. Importing the same files again changes nothing, and
// importing files in any order or split ends in the same ledger. Two things are judged
// here, per file: a POS export's vouchers must be made out to its merchant (else
// `replay`: the voucher still settles once, to its payee), and a voucher that fails its
// checks is rejected (`tampered` when it names a known device, unless its signed part is
// that of a known voucher: then it is a re-presentation with altered signature bytes).
import { existsSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { DOC_TYPE_RECEIPT, RECEIPT_KIND_LOAD, VOUCHER_KIND_D2D } from "../../protocol/portable/cbor-keys.ts";
import { CERT_SCHEMA, RECEIPT_SCHEMA, decodeSigned, peekSign1, type DeviceCert, type Limits, type Receipt } from "../../protocol/src/formats.ts";
import { certRefOf, hex, verifySigned, type TrustedKey } from "./docs.ts";
import { BATCH, openInput, type InputFile, type InputHeader, type InputStream } from "./exchange.ts";
import type { DeviceRecord, DeviceRows, FraudCase, Ledger, ReceiptRecord, Submission, VoucherRecord, VoucherStatusChange } from "./ledger/ledger.ts";
import { isHighS, toLowS } from "./sig.ts";
import { judgeDevice, type DeviceEvidence } from "./verdict.ts";
import { validityProblem } from "./trust.ts";
import { VerifierPool, WORKER_THRESHOLD, type Chunk } from "./verifier-pool.ts";
import { checkVoucher, checkVouchers, deviceKeyOf, signedPartId, toFacts, type DeviceCertInput, type DeviceKey, type VerifyMode } from "./voucher-check.ts";

export { DEVICE_LOG_FORMAT, POS_EXPORT_FORMAT, openInput, parseInput, type DeviceLog, type InputFile, type InputStream, type PosExport } from "./exchange.ts";
export { VerifierPool, WORKER_THRESHOLD } from "./verifier-pool.ts";

/** The fraud kinds the verdict gives (verdict.ts); replay and tampered are judged per file here. */
const VERDICT_KINDS = new Set<FraudCase["kind"]>(["fork", "chain-break", "over-limit", "revoked", "unissued-load", "bad-receipt"]);

/** Batches read ahead of the one being written: the workers always have the next one (SPEC §5.11 "Reading"). */
const INFLIGHT = 1;

/** A file already in memory, handed on in the same batches as a streamed one. */
function inMemory(f: InputFile): InputStream {
  return {
    name: f.name, hash: f.hash, kind: f.kind, presenter: f.presenter, count: f.coses.length,
    async *documents() {
      for (let i = 0; i < f.coses.length; i += BATCH) yield f.coses.slice(i, i + BATCH);
    },
  };
}

/** Rejected documents read back at a time, once every good voucher of an import is in. */
const REJECT_PAGE = 1000;
/** What a reject's reason says when it is a known voucher with altered signature bytes. */
const TWIN_NOTE = "altered signature bytes of voucher";

const twinReason = (reason: string, hash: string) => `${reason} (${TWIN_NOTE} ${hash}: presented again, not a new voucher)`;
const TWIN_CLOSED = "the voucher itself arrived: the document was it with altered signature bytes";

/** Fraud cases a result lists (opened, closed): the first ones; it counts them all, and the
 * ledger holds them all (`wallet report`). A flood of replays or forgeries opens a case per
 * document: what reconciliation holds in memory does not grow with them (SPEC §5.11 "Reading"). */
export const REPORTED_CASES = 1000;
/** Ids of devices not ours that an import's key book remembers at most (looked up again after). */
const ABSENT_KEPT = 10_000;
/** What a reject's reason says when a genuine voucher was refused by the trust rules (not a forgery). */
const POLICY_NOTE = "refused by the trust rules";
const POLICY_CLOSED = "the voucher itself arrived: a genuine voucher refused by the trust rules, the document was it with altered signature bytes";

/** Certificates checked between two turns of the event loop (≈ 80 µs each). */
const CERT_STEP = 100;

/** The issuer keys the ledger trusts, as the certificate checks take them. */
const trustedKeys = async (ledger: Ledger): Promise<TrustedKey[]> =>
  (await ledger.issuerKeys()).map((k) => ({ kid: k.kid, suite: k.suite, pub: k.pub, status: k.status, compromisedAt: k.revokedAt ?? null }));

/** What a registered device's certificate check takes (null: no certificate registered). */
function certInputOf(d: DeviceRecord): DeviceCertInput | null {
  if (!d.cert || !d.pub) return null;
  return { deviceId: d.deviceId, suite: d.suite, pub: d.pub, cert: d.cert, registeredAt: d.personalizedAt ? Math.floor(Date.parse(d.personalizedAt) / 1000) : null };
}

/** Trusted issuer keys and the registered devices with a certificate: what `deviceKeys` checks. */
async function certInputs(ledger: Ledger): Promise<{ trusted: TrustedKey[]; devices: DeviceCertInput[] }> {
  const devices = (await ledger.devices()).map(certInputOf).filter((d): d is DeviceCertInput => d !== null);
  return { trusted: await trustedKeys(ledger), devices };
}

/** Device keys for voucher checks: each registered certificate chain-checked once. */
export async function deviceKeys(ledger: Ledger): Promise<Map<string, DeviceKey>> {
  const { trusted, devices } = await certInputs(ledger);
  return new Map(devices.map((d) => [d.deviceId, deviceKeyOf(d, trusted)]));
}

export interface ReconcileResult {
  files: { name: string; kind: string; vouchers: number; alreadyImported: boolean }[];
  newVouchers: number;
  duplicates: number;
  rejected: number;
  receipts: number;
  /** the first REPORTED_CASES cases opened; newFraudCaseCount counts them all */
  newFraudCases: FraudCase[];
  newFraudCaseCount: number;
  /** cases judged on part of the evidence that the whole no longer gives (the first REPORTED_CASES) */
  closedFraudCases: FraudCase[];
  closedFraudCaseCount: number;
  /** counter ranges [from, to] not seen yet, per device */
  pendingGaps: { deviceId: string; ranges: [number, number][] }[];
  /** loads confirmed by a receipt in a device log during this import */
  confirmedLoads: { deviceId: string; seq: number }[];
  /** main thread: parsing and dispatching files, waiting for the workers' checks, ledger writes */
  timings: { parseMs: number; waitMs: number; writeMs: number; evaluateMs: number };
}

/** Imports `inputs` into the ledger in one transaction and re-evaluates the devices touched. */
/** A file to import: parsed already, or a path parsed inside the transaction (overlapping the checks). */
export type Source = InputFile | string;

export interface ReconcileOptions {
  workers?: number;
  keys?: Map<string, DeviceKey>;
  pool?: VerifierPool;
  /** devices judged again even if no file touches them (new evidence outside files: an ack settled) */
  judge?: string[];
  /** SM2 signatures: one host-verifier call per slice (default) or one per voucher (bench:reconcile's comparison) */
  verify?: VerifyMode;
}

export async function reconcile(ledger: Ledger, sources: Source[], opts: ReconcileOptions = {}): Promise<ReconcileResult> {
  // a voucher takes ≈ 500 bytes of an export file: enough to decide on workers before parsing
  const known = sources.reduce((a, f) => a + (typeof f !== "string" ? f.coses.length : existsSync(f) ? statSync(f).size / 500 : 0), 0);
  const n = opts.workers ?? (known >= WORKER_THRESHOLD ? availableParallelism() : 0);
  const pool = opts.pool ?? (n > 0 ? new VerifierPool(n, undefined, opts.verify) : undefined);
  try {
    return await reconcileWith(ledger, sources, opts.keys, pool, opts.judge ?? [], opts.verify ?? "batch");
  } finally {
    if (pool && !opts.pool) await pool.close();
  }
}

async function reconcileWith(ledger: Ledger, sources: Source[], knownKeys: Map<string, DeviceKey> | undefined, pool: VerifierPool | undefined, judge: string[], mode: VerifyMode): Promise<ReconcileResult> {
  return ledger.transaction(async () => {
    const t0 = performance.now();
    // the keys of the devices this import names, each looked up and its certificate checked
    // once, when first named (inside the transaction: a retry starts again)
    const book = new KeyBook(ledger, pool, knownKeys);
    await book.open();
    const keyOf = book.get;
    // A and B, per batch of documents (SPEC §5.11 "Reading": files are streamed): each file is
    // checked whole first (openInput), then read again batch by batch; a batch's vouchers go
    // to the workers at once and the next batch is read while they verify (device logs carry
    // receipts too: only vouchers are checked); results are written batch by batch as they
    // arrive (new vouchers go in as "settled"; C corrects the few that are not). A file that
    // fails its checks throws: the transaction rolls back, nothing of the import is applied.
    const files: ReconcileResult["files"] = [];
    const imported: InputHeader[] = [];
    const inflight: { file: InputHeader; coses: Uint8Array[]; receipts: Uint8Array[]; chunks: Chunk[] }[] = [];
    let parseMs = 0;
    const touched = new Set<string>(judge);
    const newCases: FraudCase[] = [];
    const closedCases: FraudCase[] = [];
    let newCaseCount = 0;
    let closedCaseCount = 0;
    const opened = (c: FraudCase) => void (newCaseCount++ < REPORTED_CASES && newCases.push(c));
    const closed = (c: FraudCase) => void (closedCaseCount++ < REPORTED_CASES && closedCases.push(c));
    let inserted = 0;
    let good = 0;
    let waitMs = 0;
    // who presented what: kept where it is evidence (a replay, a rejected voucher), written
    // batch by batch; the import of every file is recorded in `imports` and the audit log
    const subs: Submission[] = [];
    // Rejected documents go into the ledger as their batch is written, with the reason the
    // check gave, and are read back page by page once every good voucher is in (below): what
    // reconciliation holds in memory does not grow with the number of rejects (SPEC §5.11
    // "Reading"). Genuine vouchers refused by the trust rules (trust.ts: the certificate was
    // not valid at the voucher's time) are not forgeries: no fraud case; their reason says so
    // (POLICY_NOTE), and it is believed only where the signature verifies.
    let rejected = 0;
    const reject = async (r: { hash: string; deviceId: string | null; reason: string }, cose: Uint8Array, file: InputHeader): Promise<number> => {
      subs.push({ voucherHash: r.hash, source: file.name, presenter: file.presenter });
      const n = await ledger.addRejected([{ hash: r.hash, deviceId: r.deviceId, reason: r.reason, cose, source: file.name }]);
      rejected += n;
      return n;
    };
    const openCase = async (c: FraudCase) => void ((await ledger.openFraudCase(c)) && opened(c));
    /** closes the `tampered` case open for the document `hash` of `deviceId`, if any */
    const closeTampered = async (deviceId: string, hash: string, why: string) => {
      for (const c of await ledger.fraudCases({ deviceId }))
        if (c.kind === "tampered" && c.voucherHash === hash) (await ledger.closeFraudCase(c.id!, why), closed(c));
    };
    let receipts = 0;
    /** B for one batch: its checks' results, written */
    const write = async ({ file, coses, receipts: receiptCoses, chunks }: (typeof inflight)[number]) => {
      // a POS export's vouchers must be made out to its merchant (else: replay)
      const merchant = file.kind === "pos-export" ? file.presenter.slice("merchant:".length) : null;
      for (const { start, results: pending } of chunks) {
        const tw = performance.now();
        const results = await pending;
        waitMs += performance.now() - tw;
        // a document refused for naming a device not looked up yet (the batch's triage did not
        // see it): the device is looked up now, and where it is ours the document checked again
        const unseen = new Set<string>();
        for (const r of results) if (!r.ok && r.deviceId !== null && !book.looked(r.deviceId)) unseen.add(r.deviceId);
        if (unseen.size) await book.want(unseen), await book.check();
        const recs: VoucherRecord[] = [];
        for (let j = 0; j < results.length; j++) {
          const i = start + j;
          const id = results[j].deviceId;
          const again = id !== null && (book.recheck.has(id) || (unseen.has(id) && keyOf(id) !== undefined));
          const r = again ? toFacts(checkVoucher(coses[i], keyOf)) : results[j];
          if (!r.ok) {
            await reject(r, coses[i], file);
            continue;
          }
          const k = keyOf(r.deviceId);
          const invalid = k?.validUntil !== undefined ? validityProblem(k.validFrom!, k.validUntil, r.time) : null;
          if (invalid) {
            const refusal = { hash: r.hash, deviceId: r.deviceId, reason: `voucher #${r.counter}: ${invalid} (${POLICY_NOTE})`, cose: coses[i], source: file.name };
            // its signed part rejected before with other signature bytes (this import or an
            // earlier one): the record becomes the genuine voucher's, and the tampered case the
            // altered bytes opened is closed (either order of arrival ends in the same verdict)
            if (!(await reject(refusal, coses[i], file)))
              for (const x of await ledger.rejectedAmong([r.hash]))
                if (!isPolicyReason(x.reason)) await ledger.replaceRejected(refusal), await closeTampered(r.deviceId, r.hash, POLICY_CLOSED);
            continue;
          }
          // the worker's flat facts become the record in place (no copy per voucher)
          const v = r as unknown as VoucherRecord;
          v.cose = coses[i];
          v.status = "settled";
          v.reason = null;
          v.claim = null;
          recs.push(v);
          touched.add(v.deviceId);
          if (v.kind === VOUCHER_KIND_D2D) touched.add(v.payee);
          if (merchant !== null && v.payee !== merchant) {
            subs.push({ voucherHash: r.hash, source: file.name, presenter: file.presenter });
            await openCase({ kind: "replay", deviceId: r.deviceId, counter: v.counter, voucherHash: r.hash, detail: `presented by ${file.presenter} in ${file.name}, made out to ${v.payee}` });
          }
        }
        good += recs.length;
        inserted += await ledger.addVouchers(recs);
        // a document rejected before (this import or an earlier one) with the signed part of
        // one of these vouchers was that voucher with altered signature bytes: noted as such,
        // and a tampered case an earlier import opened for it is closed (either order of
        // arrival ends in the same verdict)
        for (const x of await ledger.rejectedAmong(recs.map((v) => v.hash))) {
          if (x.reason.includes(TWIN_NOTE)) continue;
          await ledger.setRejectedReason(x.hash, twinReason(x.reason, x.hash));
          if (x.deviceId) await closeTampered(x.deviceId, x.hash, TWIN_CLOSED);
        }
      }
      // receipts: device-signed, checked against the registered device key
      const recs: ReceiptRecord[] = [];
      for (const cose of receiptCoses) {
        const r = checkReceipt(cose, keyOf);
        if (typeof r === "string") {
          await reject({ hash: signedPartId(cose), deviceId: null, reason: r }, cose, file);
          continue;
        }
        r.source = file.name;
        recs.push(r);
        touched.add(r.deviceId);
      }
      receipts += await ledger.addReceipts(recs);
      await ledger.addSubmissions(subs.splice(0));
    };
    for (const src of sources) {
      let tp = performance.now();
      const f = typeof src === "string" ? await openInput(src) : inMemory(src);
      parseMs += performance.now() - tp;
      // claimed, not just looked up: a concurrent import of the same file (another process,
      // PostgreSQL) is waited for here, then this one skips it (the imports table's key)
      const already = imported.some((b) => b.hash === f.hash) || !(await ledger.claimImport(f.hash, f.name, f.kind));
      files.push({ name: f.name, kind: f.kind, vouchers: f.count, alreadyImported: already });
      if (already) continue;
      imported.push(f);
      tp = performance.now();
      for await (const docs of f.documents()) {
        // the batch's triage (SPEC §5.10): receipts told from vouchers in device logs, and the
        // devices it names (each document's kid) looked up before its checks are posted
        const coses: Uint8Array[] = [];
        const receipts: Uint8Array[] = [];
        const named = new Set<string>();
        for (const c of docs) {
          const p = peekSign1(c);
          if (p) named.add(hex(p.kid));
          (f.kind === "device-log" && p?.docType === DOC_TYPE_RECEIPT ? receipts : coses).push(c);
        }
        parseMs += performance.now() - tp;
        await book.want(named);
        if (!pool) await book.check();
        tp = performance.now();
        const chunks = pool ? pool.submit(coses) : [{ start: 0, results: Promise.resolve(checkVouchers(coses, keyOf, mode).map(toFacts)) }];
        inflight.push({ file: f, coses, receipts, chunks });
        parseMs += performance.now() - tp;
        // let the event loop run: workers' answers are taken (and their next slices posted)
        // only there; the certificates of the devices new in the batch are checked meanwhile,
        // before any of its results is used
        if (pool) await new Promise(setImmediate);
        await book.check();
        // one batch being verified while this one is read: memory stays at a few batches
        while (inflight.length > INFLIGHT) await write(inflight.shift()!);
        tp = performance.now();
      }
      parseMs += performance.now() - tp;
    }
    await book.check();
    while (inflight.length) await write(inflight.shift()!);
    // the rejects of this import, read back after every good voucher is in: altered signature
    // bytes over the signed part of a known voucher are that voucher presented again, not a
    // new document; any other reject naming a device of ours is a tampered document
    if (rejected) {
      const presenter = new Map(imported.map((f) => [f.name, f.presenter]));
      const names = [...presenter.keys()];
      for (let after = "", page: Awaited<ReturnType<Ledger["rejectedFrom"]>>; (page = await ledger.rejectedFrom(names, after, REJECT_PAGE)).length; after = page[page.length - 1].hash) {
        // the devices the page names, looked up together (most were, when their batch was written)
        await book.want(page.flatMap((r) => (r.deviceId ? [r.deviceId] : [])));
        await book.check();
        for (const r of page) {
          if (r.reason.includes(TWIN_NOTE)) continue; // judged already (a file of the same name)
          // the twin of a valid voucher, in whichever order the two arrive: known by its signed
          // part, or its s is high and the low-S form verifies (SPEC §5.1, §5.10)
          const k = r.deviceId ? keyOf(r.deviceId) : undefined;
          if ((await ledger.voucher(r.hash)) !== null || isHighSTwin(r.cose, keyOf)) {
            await ledger.setRejectedReason(r.hash, twinReason(r.reason, r.hash));
            continue;
          }
          if (k && !k.certPolicy && !isPolicyRefusal(r, keyOf))
            await openCase({ kind: "tampered", deviceId: r.deviceId!, counter: null, voucherHash: r.hash, detail: `${r.reason} (presented by ${presenter.get(r.source)} in ${r.source})` });
        }
      }
    }
    // C: each touched device judged over all its evidence; only what changed is written
    const t2 = performance.now();
    const pendingGaps: ReconcileResult["pendingGaps"] = [];
    const confirmedLoads: ReconcileResult["confirmedLoads"] = [];
    // every device judged here is ours to the end of the transaction: a concurrent import
    // touching one waits, and judges it after this commits, over all the evidence
    const judged = [...touched].sort();
    await ledger.lockDevices(judged);
    for (let k = 0; k < judged.length; k += EVIDENCE_BATCH) {
      // read in batches where a query is a round trip (PostgreSQL); the status changes of a
      // batch are written together: no device's verdict reads another's statuses
      const ids = judged.slice(k, k + EVIDENCE_BATCH);
      const many = ledger.evidenceMany ? await ledger.evidenceMany(ids) : null;
      const changes: VoucherStatusChange[] = [];
      for (const id of ids) {
        let rows: DeviceRows | undefined;
        if (many) rows = many.get(id);
        else {
          const dev = await ledger.device(id);
          rows = dev ? await deviceRowsOf(ledger, dev) : undefined;
        }
        if (!rows) continue; // a payee id that is not a device of ours (a merchant)
        const ev = evidenceFrom(rows);
        const verdict = judgeDevice(ev);
        for (const v of ev.vouchers) {
          const s = verdict.status.get(v.hash)!;
          if (s.status !== v.status || s.reason !== v.reason) changes.push({ deviceId: id, hash: v.hash, status: s.status, reason: s.reason });
        }
        for (const v of ev.incoming) {
          const c = verdict.claims.get(v.hash) ?? null;
          if (c !== (v.claim ?? null)) await ledger.setVoucherClaim(v.hash, c);
        }
        for (const l of ev.loads) {
          const r = verdict.confirmedLoads.get(l.seq);
          if (r && !l.receipt) {
            await ledger.addLoad({ ...l, receipt: r.cose });
            confirmedLoads.push({ deviceId: id, seq: l.seq });
          }
        }
        // the ledger holds exactly the verdict's cases for the device: a case judged on part of
        // the evidence that the whole no longer gives is closed (replay and tampered are judged
        // per file, not by the verdict, and stay)
        const key = (c: FraudCase) => `${c.kind}|${c.counter}|${c.voucherHash}`;
        const given = new Set(verdict.cases.map(key));
        for (const c of rows.cases)
          if (VERDICT_KINDS.has(c.kind) && !given.has(key(c))) (await ledger.closeFraudCase(c.id!, "no longer given by the evidence"), closed(c));
        for (const c of verdict.cases) await openCase(c);
        if (verdict.gaps.length) pendingGaps.push({ deviceId: id, ranges: verdict.gaps });
      }
      await ledger.setVoucherStatuses(changes);
    }
    await ledger.addSubmissions(subs);
    for (const file of imported) await ledger.addImport(file.hash, file.name, file.kind, { entries: file.count });
    const result: ReconcileResult = {
      files, newVouchers: inserted, duplicates: good - inserted, rejected, receipts, newFraudCases: newCases, newFraudCaseCount: newCaseCount,
      closedFraudCases: closedCases, closedFraudCaseCount: closedCaseCount, pendingGaps, confirmedLoads,
      timings: { parseMs: Math.round(parseMs), waitMs: Math.round(waitMs), writeMs: Math.round(performance.now() - t0 - parseMs - waitMs), evaluateMs: Math.round(performance.now() - t2) },
    };
    if (imported.length)
      await ledger.audit("reconcile", {
        files: imported.map((file) => ({ name: file.name, sha256: file.hash })), newVouchers: inserted, rejected,
        fraudCases: newCases.map((c) => `${c.kind} ${c.deviceId}#${c.counter ?? "-"}`), fraudCaseCount: newCaseCount,
      });
    return result;
  }, { retryConflicts: true }); // the function has no effect outside the ledger: it may run again
}

/** Everything the ledger holds that bears on one device's verdict (verdict.ts). Archived
 * vouchers are evidence as hot ones are (SPEC §5.13): their stubs carry what the verdict reads,
 * so a fork, replay or re-presentation against an archived voucher is judged as against a hot one. */
export async function evidenceOf(ledger: Ledger, dev: DeviceRecord): Promise<DeviceEvidence> {
  return evidenceFrom(await deviceRowsOf(ledger, dev));
}

/** Devices whose evidence is read together (Ledger.evidenceMany): a few queries per batch, not per
 * device; the batch's rows are held at once (200 devices of 100 vouchers: 20,000 rows). */
const EVIDENCE_BATCH = 200;

/** What reconciliation reads of one device, by the single-device reads (Ledger.evidenceMany gives the same for many). */
export async function deviceRowsOf(ledger: Ledger, dev: DeviceRecord): Promise<DeviceRows> {
  const id = dev.deviceId;
  return {
    device: dev, archived: await ledger.archivedOf(id), vouchers: await ledger.vouchersOf(id, { cose: false }), acks: await ledger.syncAcks(id),
    receipts: await ledger.receiptsOf(id), loads: await ledger.loads(id), incoming: await ledger.transfersTo(id), cases: await ledger.fraudCases({ deviceId: id }),
  };
}

function evidenceFrom(r: DeviceRows): DeviceEvidence {
  const dev = r.device;
  return {
    deviceId: dev.deviceId, baseLimits: baseLimitsOf(dev), revokedAt: dev.revoked ? dev.revokedAt : null,
    vouchers: [...r.archived, ...r.vouchers], acks: r.acks, receipts: r.receipts, loads: r.loads, incoming: r.incoming,
  };
}

/** The limits a device was personalized with: its certificate's (the registry's current ones otherwise). */
export function baseLimitsOf(dev: DeviceRecord): Limits {
  if (dev.cert) {
    try {
      return decodeSigned<DeviceCert>(dev.cert, CERT_SCHEMA).doc.limits;
    } catch {
      // a registry certificate that does not decode fails every voucher check anyway
    }
  }
  return dev.limits;
}

/** A receipt from a device log: strict decoding and the device's signature, or why not. */
export function checkReceipt(cose: Uint8Array, lookup: (deviceId: string) => DeviceKey | undefined): ReceiptRecord | string {
  let s;
  try {
    s = decodeSigned<Receipt>(cose, RECEIPT_SCHEMA);
  } catch (e) {
    return (e as Error).message;
  }
  const deviceId = hex(s.doc.deviceId);
  const k = lookup(deviceId);
  if (!k) return `bad receipt: unknown device ${deviceId}`;
  if (k.certError) return k.certError;
  if (!verifySigned(s, k.suite, Buffer.from(k.pub, "hex"))) return "bad receipt: signature does not verify";
  const d = s.doc;
  return {
    hash: signedPartId(cose), deviceId, kind: d.kind, ref: d.kind === RECEIPT_KIND_LOAD ? String(d.ref) : hex(d.ref as Uint8Array), amount: d.amount,
    currency: d.currency, counter: d.counter, time: d.time, balanceAfter: d.balanceAfter, cose, source: "",
  };
}

/** A P-256 voucher whose signature is the high-S twin of a valid one (anyone can make it from the voucher). */
function isHighSTwin(cose: Uint8Array, lookup: (deviceId: string) => DeviceKey | undefined): boolean {
  if (cose.length < 66) return false;
  const sig = cose.subarray(cose.length - 64);
  if (!isHighS(sig)) return false;
  const low = cose.slice();
  low.set(toLowS(sig), cose.length - 64);
  return checkVoucher(low, lookup).ok;
}

/** A reject that says it is a genuine voucher refused by the trust rules, and is: its signature verifies. */
function isPolicyRefusal(r: { reason: string; cose: Uint8Array }, lookup: (deviceId: string) => DeviceKey | undefined): boolean {
  return isPolicyReason(r.reason) && checkVoucher(r.cose, lookup).ok;
}
const isPolicyReason = (reason: string) => reason.endsWith(`(${POLICY_NOTE})`);

/**
 * The device keys of one import (SPEC §5.10): a device is looked up in the registry when the
 * import first names it, and its certificate chain-checked then, once; a device the import
 * does not name is never read, so the work of an import does not grow with the registry.
 * With workers, a device's key goes to them when it is looked up, before its certificate is
 * checked ("provisional"): the checks run here while the workers verify, and every voucher
 * of a device whose certificate then fails is checked again here (`recheck`), so the outcome
 * and the reason given are exactly those of checking first. What the book holds grows with
 * the devices of ours named, and by at most ABSENT_KEPT ids of devices that are not (a file
 * of forgeries naming a new device each cannot make it grow: SPEC §5.11 "Reading").
 */
class KeyBook {
  private keys = new Map<string, DeviceKey>();
  private unchecked: DeviceCertInput[] = [];
  private pending = new Set<string>(); // looked up, certificate not checked yet
  private absent = new Set<string>(); // looked up, not a device of ours with a certificate
  private trusted: TrustedKey[] = [];
  private readonly fixed: boolean;
  /** devices whose provisional key did not stand: their certificate failed */
  readonly recheck = new Set<string>();
  constructor(private ledger: Ledger, private pool: VerifierPool | undefined, known?: Map<string, DeviceKey>) {
    this.fixed = known !== undefined;
    if (known) (this.keys = known), pool?.setKeys(known);
    else pool?.setKeys(new Map());
  }
  async open(): Promise<void> {
    if (!this.fixed) this.trusted = await trustedKeys(this.ledger);
  }
  /** The key of a device looked up already (undefined: not ours with a certificate, or not looked up yet). */
  readonly get = (deviceId: string): DeviceKey | undefined => this.keys.get(deviceId);
  looked(deviceId: string): boolean {
    return this.fixed || this.keys.has(deviceId) || this.absent.has(deviceId);
  }
  /** Looks up the devices among `ids` not looked up yet, in one registry read. */
  async want(ids: Iterable<string>): Promise<void> {
    if (this.fixed) return;
    const missing: string[] = [];
    for (const id of ids) if (!this.keys.has(id) && !this.pending.has(id) && !this.absent.has(id)) missing.push(id);
    if (!missing.length) return;
    const fresh: [string, DeviceKey][] = [];
    for (const d of await this.ledger.devicesAmong(missing)) {
      const input = certInputOf(d);
      if (!input || this.keys.has(d.deviceId) || this.pending.has(d.deviceId)) continue;
      this.pending.add(d.deviceId);
      this.unchecked.push(input);
      const k: DeviceKey = { suite: input.suite, pub: input.pub, certRef: hex(certRefOf(input.suite, input.cert)) };
      // without workers a key is used only once checked (check())
      if (this.pool) this.keys.set(d.deviceId, k), fresh.push([d.deviceId, k]);
    }
    if (fresh.length) this.pool!.addKeys(fresh);
    for (const id of missing) {
      if (this.keys.has(id) || this.pending.has(id)) continue;
      if (this.absent.size >= ABSENT_KEPT) {
        // the older half goes (a Set iterates in insertion order): the batch at hand stays
        let drop = ABSENT_KEPT / 2;
        for (const old of this.absent) {
          if (drop-- === 0) break;
          this.absent.delete(old);
        }
      }
      this.absent.add(id);
    }
  }
  /** The certificate checks of the devices looked up since the last, in steps so workers keep getting slices. */
  async check(): Promise<void> {
    const todo = this.unchecked.splice(0);
    this.pending.clear();
    for (let i = 0; i < todo.length; i++) {
      const k = deviceKeyOf(todo[i], this.trusted);
      this.keys.set(todo[i].deviceId, k);
      if (k.certError && this.pool) this.recheck.add(todo[i].deviceId);
      if (i % CERT_STEP === CERT_STEP - 1) await new Promise(setImmediate);
    }
  }
}
