// `wallet reconcile`, `wallet report`, `wallet audit verify`, `wallet ledger archive | archives | verify-archive`,
// `wallet devices …` (host-tools/README.md "Commands").
import { existsSync } from "node:fs";
import { register } from "./command.ts";
import { EXIT_DATA, notFound, refused, usageError } from "../errors.ts";
import { numberOption, RANGES } from "./numbers.ts";
import { DEFAULT_LIMITS } from "../synthetic.ts";
import { LIMIT_OPTIONS, limitsFrom } from "./limits.ts";
import { csv, currencyCode, isoAny, table } from "../format.ts";
import { deviceCsv, deviceState, deviceTables, deviceText, emit, OUTPUT_HELP, OUTPUT_OPTIONS, reportCsv, reportTables, reportText, terminalNames } from "./report-text.ts";
import { reconcile } from "../reconcile.ts";
import { writeReportPage } from "../report-html.ts";
import { deviceName, mustDevice, summaryText, withLedger } from "./common.ts";
import type { ArchiveRecord, DeviceRecord } from "../ledger/ledger.ts";
import { archiveLedger, interruptedRun, MANIFEST_SUITE, prepareArchiveDir, verifyArchive } from "../archive.ts";
import { Keystore } from "../keystore.ts";
import { openKeystore } from "./issuer.ts";

/** --before: an ISO date (YYYY-MM-DD, 00:00 UTC), an ISO time with zone (…T12:00:00Z), or Unix seconds. */
export function parseBefore(v: unknown): number {
  if (typeof v !== "string" || v === "") throw usageError("ledger archive needs --before DATE (YYYY-MM-DD, an ISO time with Z or an offset, or Unix seconds)");
  if (/^\d{1,12}$/.test(v)) return Number(v);
  const day = /^\d{4}-\d{2}-\d{2}$/.test(v);
  const time = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v);
  const ms = day ? Date.parse(`${v}T00:00:00Z`) : time ? Date.parse(v) : NaN;
  // Date.parse rolls 2026-02-30 over to March: a day must come back as written
  if (!Number.isFinite(ms) || ms < 0 || (day && new Date(ms).toISOString().slice(0, 10) !== v))
    throw usageError(`--before "${v}" is not a date: give YYYY-MM-DD (00:00 UTC), an ISO time such as 2026-01-31T18:00:00Z, or Unix seconds`);
  return Math.floor(ms / 1000);
}

const devRow = (d: DeviceRecord) => ({
  device: d.deviceId, alias: d.alias ?? "", form: d.formFactor, suite: d.suite, state: deviceState(d), currency: currencyCode(d.currency), token: d.token.slice(0, 8) + "…",
  lastSync: isoAny(d.lastSync) || "never", revoked: d.revoked ? `yes (${isoAny(d.revokedAt)})` : "",
});
const publicDevice = ({ cert, ...d }: DeviceRecord) => ({ ...d, hasCert: !!cert });

register(
  {
    name: "reconcile",
    summary: "import POS exports and device logs, settle payer → payee, open fraud cases, print the report",
    usage: "FILE...",
    args: [1, 1000],
    options: { workers: { type: "string" } },
    examples: ["wallet reconcile pos-shop1.json pos-shop2.json log-alice.json", "wallet reconcile exports/*.json --json"],
    async run(ctx, files, o) {
      const workers = numberOption(o, "workers", RANGES.workers, undefined);
      const missing = files.filter((f) => !existsSync(f));
      if (missing.length) throw notFound(`reconcile: ${missing.length === 1 ? "file" : "files"} not found: ${missing.join(", ")}`);
      // each file is parsed inside the import's transaction: a bad one rolls everything back
      return withLedger(ctx, async (l) => {
        const r = await reconcile(l, files, { workers });
        const s = await l.summary();
        const lines = [
          `imported ${r.files.filter((f) => !f.alreadyImported).length} file(s) (${r.files.filter((f) => f.alreadyImported).length} already imported): ${r.newVouchers} new vouchers, ${r.duplicates} already known, ${r.rejected} rejected, ${r.receipts} receipts`,
          ...r.newFraudCases.map((c) => `FRAUD ${c.kind} device ${c.deviceId}${c.counter !== null ? ` counter ${c.counter}` : ""}${c.voucherHash ? ` voucher ${c.voucherHash.slice(0, 12)}…` : ""}: ${c.detail}`),
          ...(r.newFraudCaseCount > r.newFraudCases.length ? [`… and ${r.newFraudCaseCount - r.newFraudCases.length} more new fraud cases (${r.newFraudCaseCount} in all): \`wallet report\` lists every case`] : []),
          ...r.pendingGaps.map((g) => `pending: device ${g.deviceId} counters ${g.ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(",")} not seen yet`),
          ...r.confirmedLoads.map((c) => `confirmed: load seq ${c.seq} of device ${c.deviceId} (its receipt was in the device log)`),
          "",
          summaryText(s),
        ];
        return { data: { result: r, summary: s }, text: lines.join("\n") };
      }, false);
    },
  },
  {
    name: "report",
    summary: "settlements per merchant (with terminal names) and per device, fraud cases, offline value in circulation; --csv for a spreadsheet, --html for a page with charts",
    usage: "[--csv] [--out FILE] [--outbox FILE]... [--html FILE]",
    options: { ...OUTPUT_OPTIONS, outbox: { type: "string", multiple: true }, html: { type: "string" } },
    optionHelp: {
      ...OUTPUT_HELP, outbox: "a POS outbox whose terminal name to show beside its merchant id (repeatable; HOME/pos-outbox*.sqlite are read anyway)",
      html: "also write the report to FILE as one self-contained page with charts (opens with no network)",
    },
    examples: ["wallet report", "wallet report --csv --out settlement-2026-12-01.csv", "wallet report --html settlement.html"],
    async run(ctx, _a, o) {
      if (o.csv && ctx.json) throw usageError("--csv and --json: choose one");
      if (typeof o.html === "string") await writeReportPage(ctx, o.html); // one self-contained page with charts (report-html.ts)
      return withLedger(ctx, async (l) => {
        const s = await l.summary();
        const cases = await l.fraudCases();
        const terminals = terminalNames(ctx, (o.outbox as string[] | undefined) ?? []);
        const devices = await l.devices();
        return emit(ctx, o, { summary: s, fraudCases: cases, terminals: Object.fromEntries(terminals) }, () => reportText(reportTables(s, cases, devices, terminals, false)), () => reportCsv(reportTables(s, cases, devices, terminals, true)));
      }, false);
    },
  },
  {
    name: "audit verify",
    summary: "check the ledger's hash-chained audit log",
    usage: "",
    async run(ctx) {
      return withLedger(ctx, async (l) => {
        const v = await l.verifyAudit();
        if (!v.ok) throw refused(`audit: log broken at entry ${v.firstBad}: ${v.reason}`);
        return { data: v, text: `audit log intact: ${v.entries} entries, head ${v.head}` };
      }, false);
    },
  },
  {
    name: "ledger archive",
    summary: "move settled, fraud-free vouchers signed before DATE into signed, compressed, content-addressed archive files (the ledger keeps a stub of each)",
    usage: "--before DATE --out DIR [--per-file N]",
    options: { before: { type: "string" }, out: { type: "string" }, "per-file": { type: "string" } },
    optionHelp: {
      before: "archive vouchers whose time is before DATE: YYYY-MM-DD (00:00 UTC), an ISO time with Z or an offset (2026-01-31T18:00:00Z), or Unix seconds",
      out: "directory for the archive files and manifest.json (created; must be empty, or hold this ledger's interrupted archive, which is resumed)",
      "per-file": "vouchers per archive file, 1 to 1000000 (default 10000)",
    },
    examples: ["wallet ledger archive --before 2026-01-01 --out /archive/ledger-2025", "wallet ledger archive --before 1767225600 --out /archive/2025 --json"],
    async run(ctx, _a, o) {
      const before = parseBefore(o.before);
      if (typeof o.out !== "string" || o.out === "") throw usageError("ledger archive needs --out DIR");
      const perFile = numberOption(o, "per-file", { min: 1, max: 1_000_000, unit: "vouchers" }, undefined);
      const dir = prepareArchiveDir(o.out);
      return withLedger(ctx, async (l) => {
        const pending = await interruptedRun(l, dir);
        const ks = await openKeystore(ctx);
        let r;
        try {
          r = await archiveLedger(l, { before, dir, signer: ks.signer(MANIFEST_SUITE), perFile });
        } finally {
          ks.close();
        }
        const when = new Date(before * 1000).toISOString();
        if (!r) {
          const dropped = pending ? `; the interrupted run ${pending.id} in ${dir} is dropped (it moved nothing; files it left there are not in force and may be deleted)` : "";
          return { data: { archived: 0, before, dir, ...(pending ? { droppedRun: pending.id } : {}) }, text: `nothing to archive: no settled, fraud-free voucher signed before ${when}${dropped}` };
        }
        const m = r.manifest;
        return {
          data: { archived: m.vouchers, before, dir, archive: r.record, manifest: m },
          text: [
            `archived ${m.vouchers} vouchers of ${m.devices.length} devices into ${m.files.length} files in ${dir} (archive ${r.record.id}, manifest sha256 ${r.record.manifestSha256})`,
            ...m.devices.map((d) => `  ${d.deviceId}: counters ${d.from}-${d.to}, head ${d.head.chainHash.slice(0, 16)}…`),
          ].join("\n"),
        };
      }, false);
    },
  },
  {
    name: "ledger archives",
    summary: "the ledger's archive runs: when, what, where; an interrupted one says how to resume it",
    usage: "",
    examples: ["wallet ledger archives", "wallet ledger archives --json"],
    async run(ctx) {
      return withLedger(ctx, async (l) => {
        const as = await l.archives();
        if (!as.length) return { data: { archives: [] }, text: "no archives: `wallet ledger archive --before DATE --out DIR` makes one" };
        const iso = (t: number) => new Date(t * 1000).toISOString();
        const line = (a: ArchiveRecord) =>
          a.state === "committed"
            ? `${a.id}  committed ${a.committedAt}  ${a.vouchers} vouchers before ${iso(a.before)} in ${a.files} files  ${a.dir}  manifest sha256 ${a.manifestSha256}`
            : `${a.id}  INTERRUPTED (started ${a.createdAt}, nothing moved yet)  before ${iso(a.before)}  ${a.dir}: run \`wallet ledger archive --before ${a.before} --out ${a.dir}\` to resume it`;
        return { data: { archives: as }, text: as.map(line).join("\n") };
      }, false);
    },
  },
  {
    name: "ledger verify-archive",
    summary: "check an archive directory: manifest signature, every file's hash and size, every voucher's encoding, each device's chain and head",
    usage: "DIR",
    args: [1, 1],
    examples: ["wallet ledger verify-archive /archive/ledger-2025"],
    async run(ctx, [dir]) {
      // the keystore's public part (no passphrase): the keys that may have signed the manifest
      const c = verifyArchive(dir, Keystore.readPublic(ctx.keystorePath));
      const data = { ok: !c.problems.length, files: c.files, vouchers: c.vouchers, devices: c.devices, problems: c.problems, archiveId: c.manifest.archiveId };
      if (!c.problems.length) return { data, text: `ok: ${c.files} files, ${c.vouchers} vouchers, ${c.devices} devices (archive ${c.manifest.archiveId})` };
      return { data, text: c.problems.join("\n"), exitCode: EXIT_DATA, error: `verify-archive: ${c.problems.length} problem${c.problems.length === 1 ? "" : "s"} in ${dir}` };
    },
  },
  {
    name: "devices list",
    summary: "the device registry (--csv for a spreadsheet)",
    usage: "[--csv] [--out FILE]",
    options: OUTPUT_OPTIONS,
    optionHelp: OUTPUT_HELP,
    async run(ctx, _a, o) {
      return withLedger(ctx, async (l) => {
        const ds = await l.devices();
        const cols = ["device", "alias", "form", "suite", "state", "currency", "token", "lastSync", "revoked"];
        return emit(ctx, o, { devices: ds.map(publicDevice), revocationVersion: await l.revocationVersion() }, () => (ds.length ? table(ds.map(devRow), cols) : "no devices"), () => csv(ds.map((d) => ({ ...devRow(d), token: d.token })), cols));
      }, false);
    },
  },
  {
    name: "devices show",
    summary: "one device: registry entry, limits, loads, vouchers (ISO times, payee terminal names) and fraud cases; --csv for a spreadsheet",
    usage: "DEVICE [--csv] [--out FILE]",
    args: [1, 1],
    options: { ...OUTPUT_OPTIONS, outbox: { type: "string", multiple: true } },
    optionHelp: { ...OUTPUT_HELP, outbox: "a POS outbox whose terminal name to show beside its merchant id (repeatable; HOME/pos-outbox*.sqlite are read anyway)" },
    examples: ["wallet devices show alice", "wallet devices show alice --csv --out alice.csv"],
    async run(ctx, [key], o) {
      if (o.csv && ctx.json) throw usageError("--csv and --json: choose one");
      return withLedger(ctx, async (l) => {
        const d = await mustDevice(l, key);
        const vouchers = (await l.vouchersOf(d.deviceId)).map(({ cose, ...v }) => v);
        const loads = (await l.loads(d.deviceId)).map(({ auth, receipt, ...x }) => ({ ...x, confirmed: !!receipt }));
        const cases = (await l.fraudCases()).filter((c) => c.deviceId === d.deviceId);
        const terminals = terminalNames(ctx, (o.outbox as string[] | undefined) ?? []);
        const t = (forCsv: boolean) => deviceTables(d, loads, vouchers, cases, terminals, forCsv);
        return emit(ctx, o, { device: { ...publicDevice(d), state: deviceState(d) }, loads, vouchers, fraudCases: cases }, () => deviceText(t(false)), () => deviceCsv(t(true)));
      }, false);
    },
  },
  {
    name: "devices alias",
    summary: "name a device (or clear the name with --clear)",
    usage: "DEVICE [ALIAS] [--clear]",
    args: [1, 2],
    options: { clear: { type: "boolean", default: false } },
    async run(ctx, [key, alias], o) {
      return withLedger(ctx, async (l) => {
        const d = await mustDevice(l, key);
        const value = o.clear ? null : alias;
        if (value === undefined) throw refused("devices alias: give an ALIAS or --clear");
        if (value && (await l.device(value)) && (await l.device(value))!.deviceId !== d.deviceId) throw refused(`devices alias: "${value}" already names another device`);
        await l.transaction(async () => {
          await l.setAlias(d.deviceId, value);
          await l.audit("device-alias", { deviceId: d.deviceId, alias: value });
        });
        return { data: { deviceId: d.deviceId, alias: value }, text: `${d.deviceId} alias ${value ?? "(cleared)"}` };
      }, false);
    },
  },
  {
    name: "devices limits",
    summary: "change a device's limits; the next `wallet sync` delivers them in the signed acknowledgement",
    usage: "DEVICE [--cap A] [--max-payment A] [--no-cvm A] [--max-count N] [--max-amount A] [--sync-interval S]",
    args: [1, 1],
    options: LIMIT_OPTIONS,
    examples: ["wallet devices limits alice-card --cap 2000.00 --max-payment 300.00"],
    async run(ctx, [key], o) {
      limitsFrom(o, DEFAULT_LIMITS); // bad numbers are usage errors before any lookup
      return withLedger(ctx, async (l) => {
        const d = await mustDevice(l, key);
        const base = d.pendingLimits ?? d.limits;
        const next = limitsFrom(o, base);
        if (next.maxPayment > next.cap) throw usageError("--max-payment is above the cap");
        await l.transaction(async () => {
          await l.putDevice({ ...d, pendingLimits: next });
          await l.audit("device-limits", { deviceId: d.deviceId, limits: next });
        });
        return { data: { deviceId: d.deviceId, pendingLimits: next }, text: `${deviceName(d)}: new limits ${JSON.stringify(next)} go out with the next sync` };
      }, false);
    },
  },
  ...(["revoke", "unrevoke"] as const).map((verb) => ({
    name: `devices ${verb}`,
    summary: verb === "revoke" ? "block a device: raises the revocation-list version POS terminals and devices receive" : "lift a revocation (raises the version too)",
    usage: "DEVICE",
    args: [1, 1] as [number, number],
    async run(ctx: Parameters<typeof withLedger>[0], [key]: string[]) {
      return withLedger(ctx, async (l) => {
        const d = await mustDevice(l, key);
        const version = await l.transaction(async () => {
          const v = await l.setRevoked(d.deviceId, verb === "revoke", Math.floor(Date.now() / 1000));
          await l.audit(`device-${verb}`, { deviceId: d.deviceId, revocationVersion: v });
          return v;
        });
        return { data: { deviceId: d.deviceId, revoked: verb === "revoke", revocationVersion: version }, text: `${deviceName(d)} ${verb}d; revocation-list version ${version}` };
      }, false);
    },
  })),
);
