// Cold archives of the ledger (SPEC §5.13; DESIGN §9 "cold archives keep chains verifiable";
// host-tools/README.md "Ledger archives"). `wallet ledger archive` moves settled, fraud-free
// vouchers signed before a cut out of the hot `vouchers` table into gzip files named by
// the SHA-256 of their bytes, with a manifest signed by the bank's active P-256 issuer key;
// `wallet ledger verify-archive` checks such a directory on its own.
//
// What is archived, per device: the longest run of its chain after what is archived already
// (counters k+1, k+2, …) whose vouchers are each alone at their counter, settled, in no open
// fraud case, signed before the cut, and (device-to-device) claimed or unclaimed: the
// archived part of a chain is always a prefix 1..k, so its head (counter k, chain hash) is
// where the hot chain continues. A stub of each archived voucher stays in the ledger
// (ledger.ts `archivedOf`): the verdict (verdict.ts, unchanged) sees it as evidence, so a
// fork, replay or re-presentation against an archived voucher is judged as against a hot one.
//
// Crash safety: the run is recorded (`writing`) before any file is written; files and then
// the manifest go to temporary names, are fsynced and renamed (and the directory fsynced);
// only then one transaction checks that the ledger still holds the same candidates, keeps
// the stubs, deletes the hot rows, marks the run `committed` and appends the audit entry.
// A run interrupted before that transaction is resumed by running the command again with
// the same directory: it rewrites the files from the ledger and commits; nothing is lost or
// archived twice.
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { VOUCHER_KIND_D2D } from "../../protocol/portable/cbor-keys.ts";
import { decodeSigned, VOUCHER_SCHEMA, type Voucher } from "../../protocol/src/formats.ts";
import { hex, suiteOfAlg, unhex, type Signer } from "./docs.ts";
import { dataError, notFound, refused, storageError } from "./errors.ts";
import type { ArchiveRecord, Ledger, VoucherRecord } from "./ledger/ledger.ts";
import { signRaw, suiteHash, verifyRaw, type SuiteName } from "./sig.ts";

export const ARCHIVE_MANIFEST_FORMAT = "offline-wallet-ledger-archive";
export const ARCHIVE_FILE_FORMAT = "offline-wallet-ledger-archive-file";
export const MANIFEST_FILE = "manifest.json";
/** Signed bytes = this context ‖ JSON of the manifest: never a COSE Sig_structure (SPEC §5.13). */
export const MANIFEST_CONTEXT = "offline-wallet-ledger-archive-manifest/1\n";
/** The issuer key suite that signs manifests: P-256, the one a bank keeps in its HSM (SPEC §5.13). */
export const MANIFEST_SUITE: SuiteName = "p256";
/** Vouchers per archive file (≈ 200 KiB gzip for 10,000). */
export const FILE_VOUCHERS = 10_000;
const FILE_NAME = /^[0-9a-f]{64}\.gz$/;
const TMP_PREFIX = ".archive-tmp-";
const ZERO = "0".repeat(64);

export interface ManifestRange {
  deviceId: string;
  from: number;
  to: number;
}

export interface ManifestFile {
  name: string;
  sha256: string;
  size: number;
  vouchers: number;
  ranges: ManifestRange[];
}

export interface ManifestDevice {
  deviceId: string;
  suite: SuiteName;
  from: number;
  to: number;
  vouchers: number;
  /** chain hash the first archived voucher links to: 32 zero bytes (counter 1) or the previous archive's head */
  linksTo: string;
  /** the last archived voucher: where the device's hot chain continues */
  head: { counter: number; chainHash: string };
}

export interface Manifest {
  format: typeof ARCHIVE_MANIFEST_FORMAT;
  version: 1;
  archiveId: string;
  createdAt: string;
  /** vouchers signed before this Unix time were candidates */
  before: number;
  compression: "gzip";
  vouchers: number;
  files: ManifestFile[];
  devices: ManifestDevice[];
}

export interface SignedManifest {
  manifest: Manifest;
  signature: { suite: SuiteName; kid: string; sig: string };
}

/** One device's part of an archive: a run of its chain, oldest first. */
export interface DeviceCut {
  deviceId: string;
  suite: SuiteName;
  linksTo: string;
  vouchers: VoucherRecord[];
}

const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

/** The bytes the manifest signature covers. */
export const manifestTbs = (m: Manifest): Buffer => Buffer.from(MANIFEST_CONTEXT + JSON.stringify(m), "utf8");

/** Archivable on its own: settled, in no open case, before the cut, a transfer's claim decided. */
function archivable(v: VoucherRecord, before: number, inCase: Set<string>): boolean {
  return v.status === "settled" && v.time < before && !inCase.has(v.hash) && (v.kind !== VOUCHER_KIND_D2D || v.claim === "received" || v.claim === "unclaimed");
}

/** What an archive before `before` would take, per device (all devices, or `only`). */
export async function archiveCandidates(ledger: Ledger, before: number, only?: readonly string[]): Promise<DeviceCut[]> {
  const inCase = new Set((await ledger.fraudCases()).map((c) => c.voucherHash).filter((h): h is string => h !== null));
  const want = only ? new Set(only) : null;
  const out: DeviceCut[] = [];
  for (const d of await ledger.devices()) {
    if (want && !want.has(d.deviceId)) continue;
    const last = (await ledger.archivedOf(d.deviceId)).at(-1);
    let counter = last?.counter ?? 0;
    let link = last?.chainHash ?? ZERO;
    const linksTo = link;
    const byCounter = new Map<number, VoucherRecord[]>();
    for (const v of await ledger.vouchersOf(d.deviceId)) byCounter.set(v.counter, [...(byCounter.get(v.counter) ?? []), v]);
    const take: VoucherRecord[] = [];
    for (;;) {
      const g = byCounter.get(counter + 1);
      if (!g || g.length !== 1 || g[0].prev !== link || !archivable(g[0], before, inCase)) break;
      take.push(g[0]);
      counter++;
      link = g[0].chainHash;
    }
    if (take.length) out.push({ deviceId: d.deviceId, suite: d.suite, linksTo, vouchers: take });
  }
  return out;
}

/** Writes `bytes` as dir/name: a temporary name, fsync, rename, fsync of the directory. */
function writeDurable(dir: string, name: string, bytes: Uint8Array): void {
  const tmp = join(dir, `${TMP_PREFIX}${randomBytes(6).toString("hex")}`);
  const fd = openSync(tmp, "w", 0o600);
  try {
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
  const dfd = openSync(dir, "r");
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** Creates DIR if needed and proves it writable (one line when not). */
export function prepareArchiveDir(dir: string): string {
  const abs = resolve(dir);
  try {
    if (existsSync(abs) && !statSync(abs).isDirectory()) throw storageError(`ledger archive: --out ${abs} is not a directory`);
    mkdirSync(abs, { recursive: true, mode: 0o700 });
    const probe = join(abs, `${TMP_PREFIX}probe-${process.pid}`);
    writeFileSync(probe, "");
    unlinkSync(probe);
  } catch (e) {
    if ((e as { exitCode?: number }).exitCode !== undefined) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    throw storageError(`ledger archive: --out ${abs} is not writable (${code})`);
  }
  return abs;
}

const readManifest = (dir: string): SignedManifest | null => {
  const p = join(dir, MANIFEST_FILE);
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, "utf8")) as SignedManifest;
  } catch {
    return null;
  }
};

/** The interrupted run of this ledger that wrote into DIR, if any; refuses a DIR that holds anything else. */
/** The run into `dir` that was recorded and never committed (`writing`), if any. */
export async function interruptedRun(ledger: Ledger, dir: string, runs?: readonly ArchiveRecord[]): Promise<ArchiveRecord | undefined> {
  return (runs ?? (await ledger.archives())).find((a) => a.dir === dir && a.state === "writing");
}

async function resumable(ledger: Ledger, dir: string): Promise<ArchiveRecord | undefined> {
  for (const n of readdirSync(dir)) if (n.startsWith(TMP_PREFIX)) unlinkSync(join(dir, n)); // half-written by a crash
  const runs = await ledger.archives();
  const m = readManifest(dir);
  const mine = await interruptedRun(ledger, dir, runs);
  if (mine && (!m || m.manifest?.archiveId === mine.id)) return mine;
  const entries = readdirSync(dir);
  if (!entries.length) return undefined;
  const id = m?.manifest?.archiveId;
  const done = id ? runs.find((a) => a.id === id && a.state === "committed") : undefined;
  if (done) throw refused(`ledger archive: ${dir} already holds archive ${id} (committed ${done.committedAt}); archive into a new directory`);
  throw refused(`ledger archive: ${dir} is not empty and holds no interrupted archive of this ledger; archive into a new, empty directory`);
}

function rangesOf(vs: readonly VoucherRecord[]): ManifestRange[] {
  const out: ManifestRange[] = [];
  for (const v of vs) {
    const r = out.at(-1);
    if (r && r.deviceId === v.deviceId && r.to + 1 === v.counter) r.to = v.counter;
    else out.push({ deviceId: v.deviceId, from: v.counter, to: v.counter });
  }
  return out;
}

export function signManifest(m: Manifest, s: Signer): SignedManifest {
  const tbs = manifestTbs(m);
  if (!s.sign && !s.key) throw new TypeError("signer: neither a key nor a sign function");
  const sig = s.sign ? s.sign(tbs) : signRaw(s.suite, s.key!, tbs);
  return { manifest: m, signature: { suite: s.suite, kid: hex(s.kid), sig: hex(sig) } };
}

export interface ArchiveOptions {
  before: number;
  dir: string;
  signer: Signer;
  /** vouchers per file (default FILE_VOUCHERS) */
  perFile?: number;
}

/** Files and a signed manifest in DIR, durable, the hot tables untouched (null: nothing to archive). */
export interface WrittenArchive {
  record: ArchiveRecord;
  manifest: Manifest;
  cuts: DeviceCut[];
  signer: Signer;
}

/** Step 1 of an archive: the files and the manifest, durable in DIR; the ledger records the run as `writing`. */
export async function writeArchive(ledger: Ledger, o: ArchiveOptions): Promise<WrittenArchive | null> {
  const dir = prepareArchiveDir(o.dir);
  const prior = await resumable(ledger, dir);
  const cuts = await archiveCandidates(ledger, o.before);
  if (!cuts.length) {
    // an interrupted run with nothing left to move (another archive took its vouchers since):
    // it moved nothing, so it is forgotten rather than listed as waiting to be resumed
    if (prior) await ledger.transaction(() => ledger.dropArchiveRun(prior.id));
    return null;
  }
  const createdAt = new Date().toISOString();
  const record: ArchiveRecord = { id: prior?.id ?? randomBytes(16).toString("hex"), state: "writing", dir, before: o.before, createdAt };
  await ledger.transaction(() => ledger.putArchive(record));
  const flat = cuts.flatMap((c) => c.vouchers);
  const per = o.perFile ?? FILE_VOUCHERS;
  const files: ManifestFile[] = [];
  for (let i = 0; i < flat.length; i += per) {
    const part = flat.slice(i, i + per);
    const doc = { format: ARCHIVE_FILE_FORMAT, version: 1, vouchers: part.map((v) => ({ cose: hex(v.cose), status: v.status, claim: v.claim ?? null })) };
    const bytes = gzipSync(JSON.stringify(doc) + "\n", { level: 9 });
    const sha = sha256(bytes);
    writeDurable(dir, `${sha}.gz`, bytes);
    files.push({ name: `${sha}.gz`, sha256: sha, size: bytes.length, vouchers: part.length, ranges: rangesOf(part) });
  }
  const manifest: Manifest = {
    format: ARCHIVE_MANIFEST_FORMAT, version: 1, archiveId: record.id, createdAt, before: o.before, compression: "gzip", vouchers: flat.length, files,
    devices: cuts.map((c) => {
      const last = c.vouchers.at(-1)!;
      return { deviceId: c.deviceId, suite: c.suite, from: c.vouchers[0].counter, to: last.counter, vouchers: c.vouchers.length, linksTo: c.linksTo, head: { counter: last.counter, chainHash: last.chainHash } };
    }),
  };
  const bytes = Buffer.from(JSON.stringify(signManifest(manifest, o.signer), null, 1) + "\n", "utf8");
  writeDurable(dir, MANIFEST_FILE, bytes);
  // an interrupted earlier attempt of this run may have left files this one does not list
  const listed = new Set(files.map((f) => f.name));
  if (prior) for (const n of readdirSync(dir)) if (FILE_NAME.test(n) && !listed.has(n)) unlinkSync(join(dir, n));
  return { record: { ...record, files: files.length, vouchers: flat.length, manifestSha256: sha256(bytes) }, manifest, cuts, signer: o.signer };
}

/** Step 2: one transaction moves exactly the written vouchers out of the hot table (or nothing). */
export async function commitArchive(ledger: Ledger, w: WrittenArchive): Promise<ArchiveRecord> {
  const ids = w.cuts.map((c) => c.deviceId).sort();
  return ledger.transaction(async () => {
    await ledger.lockArchive();
    await ledger.lockDevices(ids);
    const now = new Map((await archiveCandidates(ledger, w.record.before, ids)).map((c) => [c.deviceId, c]));
    for (const c of w.cuts) {
      const n = now.get(c.deviceId);
      if (!n || n.linksTo !== c.linksTo || c.vouchers.some((v, i) => n.vouchers[i]?.hash !== v.hash))
        throw refused(`ledger archive: the ledger changed while the archive was written (device ${c.deviceId}); run the same command again: it rewrites ${w.record.dir}`);
    }
    const refs = w.cuts.flatMap((c) => c.vouchers.map((v) => ({ deviceId: v.deviceId, hash: v.hash })));
    const moved = await ledger.archiveVouchers(w.record.id, refs);
    if (moved !== refs.length) throw new Error(`ledger archive: moved ${moved} of ${refs.length} vouchers`); // checked above: a bug
    const done: ArchiveRecord = { ...w.record, state: "committed", committedAt: new Date().toISOString() };
    await ledger.putArchive(done);
    await ledger.audit("ledger-archive", {
      // the manifest's hash binds its files and every device's head to the audit chain
      archiveId: done.id, manifestSha256: done.manifestSha256, before: done.before, dir: done.dir, vouchers: moved, files: w.manifest.files.length,
      devices: w.manifest.devices.length, signedBy: hex(w.signer.kid),
    });
    return done;
  });
}

/** `wallet ledger archive`: write, then commit (null: nothing to archive). */
export async function archiveLedger(ledger: Ledger, o: ArchiveOptions): Promise<{ record: ArchiveRecord; manifest: Manifest } | null> {
  const w = await writeArchive(ledger, o);
  if (!w) return null;
  return { record: await commitArchive(ledger, w), manifest: w.manifest };
}

/** A public key that may have signed a manifest (keystore.ts IssuerKeyPublic). */
export interface ManifestKey {
  kid: string;
  suite: SuiteName;
  pub: string;
  status: string;
}

export interface ArchiveCheck {
  problems: string[];
  files: number;
  vouchers: number;
  devices: number;
  manifest: Manifest;
}

const isHex = (s: unknown): s is string => typeof s === "string" && /^([0-9a-f]{2})+$/.test(s);

/** `wallet ledger verify-archive`: every check of SPEC §5.13, one line per problem found. */
export function verifyArchive(dirArg: string, keys: readonly ManifestKey[]): ArchiveCheck {
  const dir = resolve(dirArg);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw notFound(`verify-archive: ${dir} is not a directory`);
  if (!existsSync(join(dir, MANIFEST_FILE))) throw dataError(`verify-archive: ${dir} is not a ledger archive (no ${MANIFEST_FILE})`);
  const signed = readManifest(dir);
  const m = signed?.manifest;
  if (!m || m.format !== ARCHIVE_MANIFEST_FORMAT || m.version !== 1 || !Array.isArray(m.files) || !Array.isArray(m.devices))
    throw dataError(`verify-archive: ${join(dir, MANIFEST_FILE)} is not a version 1 ${ARCHIVE_MANIFEST_FORMAT} manifest`);
  const problems: string[] = [];
  const p = (s: string) => problems.push(s);

  const sg = signed!.signature;
  const key = keys.find((k) => k.kid === sg?.kid);
  if (!sg || !isHex(sg.sig)) p("manifest: no signature");
  else if (!key) p(`manifest: signed by key ${sg.kid}, which the keystore does not hold (another bank's archive, or the wrong keystore)`);
  else if (key.status === "compromised") p(`manifest: signed by key ${key.kid}, revoked as compromised: not trusted`);
  else if (key.suite !== sg.suite || !verifyRaw(key.suite, unhex(key.pub), manifestTbs(m), unhex(sg.sig)))
    p(`manifest: signature does not verify under key ${key.kid} (the manifest was edited, or another key signed it)`);

  // files: hash, size, strict decoding; the chain links each voucher makes, per device
  type Link = { counter: number; prev: string; chainHash: string; suite: SuiteName | undefined };
  const links = new Map<string, Link[]>();
  const incomplete = new Set<string>(); // devices with a part in a file that could not be read
  const listed = new Set<string>();
  let vouchers = 0;
  for (const f of m.files) {
    listed.add(f.name);
    const lose = () => (f.ranges ?? []).forEach((r) => incomplete.add(r.deviceId));
    if (typeof f.name !== "string" || !FILE_NAME.test(f.name)) (p(`file ${f.name}: not a content-addressed name (<sha256>.gz)`), lose());
    else if (!existsSync(join(dir, f.name))) (p(`file ${f.name}: missing`), lose());
    else {
      const bytes = readFileSync(join(dir, f.name));
      const sha = sha256(bytes);
      if (bytes.length !== f.size) (p(`file ${f.name}: ${bytes.length} bytes, the manifest says ${f.size}`), lose());
      else if (sha !== f.sha256 || `${sha}.gz` !== f.name) (p(`file ${f.name}: content hash ${sha} does not match its name and the manifest (the file was modified)`), lose());
      else {
        let doc: { format?: string; version?: number; vouchers?: { cose?: unknown }[] };
        try {
          doc = JSON.parse(gunzipSync(bytes).toString("utf8"));
        } catch (e) {
          p(`file ${f.name}: does not decompress to an archive file (${(e as Error).message})`);
          lose();
          continue;
        }
        if (doc?.format !== ARCHIVE_FILE_FORMAT || doc.version !== 1 || !Array.isArray(doc.vouchers)) {
          p(`file ${f.name}: not a version 1 ${ARCHIVE_FILE_FORMAT} file`);
          lose();
          continue;
        }
        const seen: VoucherRecord[] = [];
        doc.vouchers.forEach((e, i) => {
          if (!isHex(e?.cose)) return void (p(`file ${f.name} voucher ${i + 1}: cose is not lower-case hex`), lose());
          const cose = unhex(e.cose);
          let s;
          try {
            s = decodeSigned<Voucher>(cose, VOUCHER_SCHEMA);
          } catch (err) {
            return void (p(`file ${f.name} voucher ${i + 1}: ${(err as Error).message}`), lose());
          }
          const suite = suiteOfAlg(s.sign1.alg);
          const deviceId = hex(s.doc.deviceId);
          const l: Link = { counter: s.doc.counter, prev: hex(s.doc.prev), chainHash: suite ? hex(suiteHash(suite, cose)) : "", suite };
          links.set(deviceId, [...(links.get(deviceId) ?? []), l]);
          seen.push({ deviceId, counter: l.counter } as VoucherRecord);
        });
        vouchers += doc.vouchers.length;
        if (doc.vouchers.length !== f.vouchers) p(`file ${f.name}: ${doc.vouchers.length} vouchers, the manifest says ${f.vouchers}`);
        const got = JSON.stringify(rangesOf(seen));
        if (seen.length === doc.vouchers.length && got !== JSON.stringify(f.ranges)) p(`file ${f.name}: covers ${got}, the manifest says ${JSON.stringify(f.ranges)}`);
      }
    }
  }
  for (const n of readdirSync(dir)) if (FILE_NAME.test(n) && !listed.has(n)) p(`file ${n}: in ${dir} but not in the manifest`);

  // chains: each device's vouchers link from the manifest's linksTo to its head, no counter missing
  for (const d of m.devices) {
    const vs = (links.get(d.deviceId) ?? []).sort((a, b) => a.counter - b.counter);
    links.delete(d.deviceId);
    if (incomplete.has(d.deviceId)) continue; // its file's problem is reported above
    let prev = d.linksTo;
    let expect = d.from;
    let broken = false;
    for (const v of vs) {
      const what = `device ${d.deviceId}: voucher ${v.counter}`;
      if (v.counter !== expect) p(`device ${d.deviceId}: counter ${v.counter} where ${expect} was expected (a voucher is missing or repeated)`);
      else if (v.suite !== d.suite) p(`${what} is signed with suite ${v.suite ?? "unknown"}, the manifest says ${d.suite}`);
      else if (v.prev !== prev) p(`${what} does not link to ${expect === d.from ? "the chain head the manifest names before it" : `voucher ${expect - 1}`}`);
      else {
        prev = v.chainHash;
        expect++;
        continue;
      }
      broken = true;
      break;
    }
    if (broken) continue;
    if (expect - 1 !== d.to || vs.length !== d.vouchers) p(`device ${d.deviceId}: the files hold counters ${d.from}..${expect - 1}, the manifest says ${d.from}..${d.to}`);
    else if (d.head?.counter !== d.to || d.head?.chainHash !== prev) p(`device ${d.deviceId}: the chain ends at ${expect - 1}:${prev}, the manifest's head is ${d.head?.counter}:${d.head?.chainHash}`);
  }
  for (const id of links.keys()) p(`device ${id}: vouchers in the files that the manifest does not list`);
  if (vouchers !== m.vouchers && !problems.length) p(`manifest: ${m.vouchers} vouchers listed, the files hold ${vouchers}`);
  return { problems, files: m.files.length, vouchers, devices: m.devices.length, manifest: m };
}
