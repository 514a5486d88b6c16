// Commands that talk to a device (host-tools/README.md "Commands"): personalize (single or batch), load,
// pos init | charge | export, transfer, sync, readers. Device flows live in flows.ts.
import { posTrust } from "../trust.ts";
import { appendFileSync, chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ensureHome, register, type Ctx, type Values } from "./command.ts";
import { openSpec, withChannel, type Channel, type OpenOptions } from "../channels/index.ts";
import { CHANNEL_OPTIONS, channelSpec, openFromOptions, openOptions } from "./channel-options.ts";
import type { ScpKeys } from "../../../protocol/src/scp03.ts";
import * as A from "../../../protocol/portable/apdu.ts";
import { dataError, deviceError, EXIT_AUTH, EXIT_INTERNAL, EXIT_STORAGE, notFound, refused, usageError, WalletError } from "../errors.ts";
import { load, personalize, posCharge, posRecover, sync, transfer, type PersonalizeRequest, type PersonalizeResult } from "../flows.ts";
import { csv, currencyCode, isoAny, money, Progress, table } from "../format.ts";
import { emit } from "./report-text.ts";
import type { FormFactor, Ledger } from "../ledger/ledger.ts";
import { PosOutbox } from "../pos-outbox.ts";
import { CURRENCY_CNY, DEFAULT_LIMITS } from "../synthetic.ts";
import { mustDevice, withLedger } from "./common.ts";
import { openKeystore, parseSuite } from "./issuer.ts";
import { LIMIT_OPTIONS } from "./limits.ts";
import { numberOption, parseAmountArg as amountArg, parseCurrency, parseNumber, RANGES } from "./numbers.ts";
import { cliError } from "../cli-errors.ts";
import { ApduError, swTriesLeft } from "../../../protocol/src/sw.ts";
import { SW_AUTH_METHOD_BLOCKED } from "../../../protocol/portable/sw.ts";
import { WalletCard } from "../card.ts";
import { askReason, SW_WITH_REASON } from "../refusals.ts";

/**
 * withChannel, and a refused command explained by the device itself: its REASON_* from
 * GET STATUS is attached to the status word for the error printer (cli-errors.ts).
 */
async function onDevice<T>(ch: Channel, fn: (ch: Channel) => Promise<T>): Promise<T> {
  return withChannel(ch, async (c) => {
    try {
      return await fn(c);
    } catch (e) {
      if (e instanceof ApduError && SW_WITH_REASON.has(e.sw)) {
        const reason = await askReason(() => new WalletCard(c).status());
        if (reason) Object.assign(e, { reason });
      }
      throw e;
    }
  });
}

type Row = Record<string, string | undefined>;

/** One device to personalize; bad values are data errors (batch file) or usage errors (options). */
function request(row: Row, where: string, mk: (m: string) => WalletError = dataError): PersonalizeRequest {
  const bad = (m: string) => mk(`${where}: ${m}`);
  const account = row.account?.trim();
  if (!account) throw bad("account is missing");
  let suite;
  try {
    suite = parseSuite(row.suite ?? "p256");
  } catch {
    throw bad(`unknown suite "${row.suite}" (sm2 or p256)`);
  }
  const form = (row.form ?? "card").trim() as FormFactor;
  if (!["card", "band", "watch"].includes(form)) throw bad(`unknown form factor "${row.form}" (card, band or watch)`);
  const amt = (k: string, dflt: number) => (row[k] === undefined || row[k] === "" ? dflt : amountArg(row[k], k, { min: 0, err: bad }));
  const int = (k: string, dflt: number, spec = RANGES.count) => (row[k] === undefined || row[k] === "" ? dflt : parseNumber(row[k]!, k, spec, bad));
  const limits = {
    cap: amt("cap", DEFAULT_LIMITS.cap), maxPayment: amt("max_payment", DEFAULT_LIMITS.maxPayment), noCvm: amt("no_cvm", DEFAULT_LIMITS.noCvm),
    maxCountSinceSync: int("max_count", DEFAULT_LIMITS.maxCountSinceSync), maxAmountSinceSync: amt("max_amount", DEFAULT_LIMITS.maxAmountSinceSync),
    syncInterval: int("sync_interval", DEFAULT_LIMITS.syncInterval, RANGES.seconds),
  };
  if (limits.maxPayment > limits.cap) throw bad("max_payment is above the cap");
  const pin = row.pin?.trim() || undefined;
  if (pin && !/^\d{4,8}$/.test(pin)) throw bad("pin must be 4 to 8 digits");
  return { account, suite, formFactor: form, currency: row.currency === undefined || row.currency === "" ? CURRENCY_CNY : parseCurrency(row.currency, "currency", bad), limits, pin, alias: row.alias?.trim() || undefined };
}

const COLUMNS = ["account", "suite", "form", "cap", "max_payment", "no_cvm", "max_count", "max_amount", "sync_interval", "currency", "pin", "alias"];

/**
 * Batch file: CSV with a header row (COLUMNS; account required), or a JSON array of objects.
 * Every row is checked before the first card is touched; all bad rows are reported at once.
 */
export function readBatch(path: string): PersonalizeRequest[] {
  const name = path.split("/").pop()!;
  if (!existsSync(path)) throw notFound(`personalize: batch file ${path} not found`);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw dataError(`personalize: cannot read ${path} (${(e as Error).message})`);
  }
  const rows: { where: string; row: () => Row }[] = [];
  if (path.endsWith(".json")) {
    let items: unknown;
    try {
      items = JSON.parse(text);
    } catch {
      throw dataError(`personalize: ${name} is not valid JSON`);
    }
    if (!Array.isArray(items)) throw dataError(`personalize: ${name}: expected an array of devices`);
    items.forEach((r, i) => rows.push({ where: `item ${i + 1}`, row: () => Object.fromEntries(Object.entries(r ?? {}).map(([k, v]) => [k, String(v)])) }));
  } else {
    const lines = text.split(/\r?\n/).map((l, i) => ({ l, n: i + 1 })).filter((x) => x.l.trim() && !x.l.startsWith("#"));
    if (!lines.length) throw dataError(`personalize: ${name} is empty`);
    const header = lines[0].l.split(",").map((h) => h.trim().toLowerCase());
    const unknown = header.filter((h) => !COLUMNS.includes(h));
    if (unknown.length) throw dataError(`personalize: ${name} line ${lines[0].n}: unknown column(s) ${unknown.join(", ")} (known: ${COLUMNS.join(", ")})`);
    if (!header.includes("account")) throw dataError(`personalize: ${name} line ${lines[0].n}: the header needs an "account" column`);
    for (const { l, n } of lines.slice(1))
      rows.push({
        where: `line ${n}`,
        row: () => {
          const cells = l.split(",");
          if (cells.length !== header.length) throw dataError(`${cells.length} fields, the header has ${header.length}`);
          return Object.fromEntries(header.map((h, i) => [h, cells[i].trim()]));
        },
      });
  }
  if (!rows.length) throw dataError(`personalize: ${name} has no devices`);
  const out: PersonalizeRequest[] = [];
  const bad: string[] = [];
  for (const { where, row } of rows) {
    try {
      out.push(request(row(), where));
    } catch (e) {
      if (!(e instanceof WalletError)) throw e;
      bad.push(e.message.startsWith(where) ? e.message : `${where}: ${e.message}`);
    }
  }
  if (bad.length) throw dataError(`personalize: ${name}: ${bad.length} bad ${bad.length === 1 ? "row" : "rows"}, no device touched: ${bad.join("; ")}`);
  return out;
}

function mailerLine(r: { deviceId: string; pin: string; puk: string }, req: PersonalizeRequest): string {
  return `${r.deviceId},${req.alias ?? ""},${req.formFactor},****${req.account.replace(/\D/g, "").slice(-4)},${r.pin},${r.puk}\n`;
}

function writeMailer(path: string, line: string): void {
  if (!existsSync(path)) writeFileSync(path, "device,alias,form,account,pin,puk\n", { mode: 0o600 });
  chmodSync(path, 0o600);
  appendFileSync(path, line, { mode: 0o600 });
}

interface RowResult {
  row: number;
  account: string;
  status: "personalized" | "resumed" | "already-personalized" | "skipped" | "failed";
  deviceId?: string;
  suite?: string;
  form?: string;
  token?: string;
  error?: string;
  exitCode?: number;
  /** how long the row took, ms */
  ms?: number;
  /** the reader it was personalized on, when there were several */
  reader?: string;
}

interface BatchState {
  rows: Record<string, { deviceId: string; status: "done" }>;
}

async function channelFor(ctx: Ctx, o: Values, batch: boolean, index: number, req: PersonalizeRequest, onEvent?: OpenOptions["onEvent"]): Promise<Channel> {
  // a batch with --sim DIR keeps one flash image per row: a re-run finds half-done devices
  if (o.sim !== undefined) return openSpec(`sim:${batch ? join(o.sim as string, `device-${index + 1}.img`) : o.sim},${req.formFactor}`, openOptions(o, ctx.trace));
  return openSpec(channelSpec(o), { ...openOptions(o, ctx.trace), onEvent });
}

const HEX16 = /^[0-9a-fA-F]{32}$/;

/**
 * The keys a blank device holds, as `gp` takes them: --key (all three), or --key-enc,
 * --key-mac and --key-dek, and --key-version (hex or decimal, default FF: the GP test keys).
 * Undefined: the GlobalPlatform default keys 40..4F.
 */
export function initialKeys(o: Values): { keys: ScpKeys; keyVersion: number } | undefined {
  const one = (k: string) => {
    const v = o[k] as string | undefined;
    if (v === undefined) return undefined;
    const h = v.replace(/[\s:]/g, "");
    if (!HEX16.test(h)) throw usageError(`--${k} must be a 16-byte AES key: 32 hex digits`);
    return Uint8Array.from(Buffer.from(h, "hex"));
  };
  const base = one("key");
  const enc = one("key-enc");
  const mac = one("key-mac");
  const dek = one("key-dek");
  const kv = o["key-version"] as string | undefined;
  if (!base && !enc && !mac && !dek && kv === undefined) return undefined;
  if (!base && (!enc || !mac || !dek)) throw usageError("give --key, or all three of --key-enc, --key-mac and --key-dek");
  let keyVersion = A.SCP_DEFAULT_KVN;
  if (kv !== undefined) {
    const m = /^(?:0x)?([0-9a-fA-F]{1,2})$/.exec(kv.trim());
    keyVersion = /^\d+$/.test(kv.trim()) ? Number(kv) : m ? parseInt(m[1], 16) : NaN;
    if (!Number.isInteger(keyVersion) || keyVersion < 1 || keyVersion > 255) throw usageError(`--key-version must be 1 to 255 (or hex 01 to FF), got "${kv}"`);
  }
  return { keys: { enc: enc ?? base!, mac: mac ?? base!, dek: dek ?? base! }, keyVersion };
}

/**
 * The ledger for several stations at once: one transaction at a time (a station's
 * transaction waits for another's to end instead of joining it).
 */
function serialTransactions(l: Ledger): Ledger {
  let chain: Promise<unknown> = Promise.resolve();
  return new Proxy(l, {
    get(target, prop, recv) {
      if (prop === "transaction")
        return <T>(fn: () => Promise<T>): Promise<T> => {
          const run = chain.then(() => target.transaction(fn));
          chain = run.catch(() => undefined);
          return run;
        };
      const v = Reflect.get(target, prop, recv);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

const last4 = (account: string) => `****${account.replace(/\D/g, "").slice(-4)}`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const clock = (ms: number) => {
  const t = Math.round(ms / 1000);
  return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, "0")}`;
};

register(
  {
    name: "personalize",
    summary: "personalize one device, or a batch from CSV/JSON (resumable, PIN mailer 0600, JSON report)",
    usage: "[BATCH.csv|BATCH.json] (--reader R | --hid H | --serial P | --sim IMAGE|DIR) [--account A --suite S --form F ...]",
    args: [0, 1],
    options: {
      ...CHANNEL_OPTIONS, reader: { type: "string", multiple: true }, readers: { type: "string" }, ...LIMIT_OPTIONS, account: { type: "string" }, suite: { type: "string" }, form: { type: "string" }, pin: { type: "string" },
      alias: { type: "string" }, currency: { type: "string" }, "pin-mailer": { type: "string" }, report: { type: "string" }, state: { type: "string" },
      key: { type: "string" }, "key-enc": { type: "string" }, "key-mac": { type: "string" }, "key-dek": { type: "string" }, "key-version": { type: "string" },
      "max-auth-failures": { type: "string" }, progress: { type: "boolean", default: false },
    },
    optionHelp: {
      key: "the blank devices' initial SCP03 key (ENC = MAC = DEK), 32 hex digits (default the GlobalPlatform test key 404142…4F)",
      "key-enc": "the initial ENC key, 32 hex digits (with --key-mac and --key-dek, or overriding --key)",
      "key-mac": "the initial MAC key, 32 hex digits",
      "key-dek": "the initial DEK key (encrypts the new keys in PUT KEY), 32 hex digits",
      "key-version": "key version of the initial keys, 1 to 255 or hex 01 to FF (default FF, the GP test keys)",
      reader: "PC/SC reader: its name, a prefix of it, or its index in `wallet readers`; repeat it to personalize a batch on several readers at once (one card in each)",
      readers: "all: personalize a batch on every reader pcscd lists, one card in each at once",
      "max-auth-failures": `a batch stops after this many devices in a row refuse the initial keys, ${RANGES.authFailures.min} to ${RANGES.authFailures.max} (default 3; a card locks after about 10 failed mutual authentications)`,
      progress: "batch: print prompts (\"present card 3/20 (account ****0003)\"), card inserted/removed events, per-card time and an ETA on stderr (default: only when stderr is a terminal)",
    },
    examples: [
      "wallet personalize --reader 0 --account 6222020000001234 --suite sm2 --form card --cap 1000.00",
      "wallet personalize cards.csv --reader 'Virtual PCD 00 00' --pin-mailer pins.csv --report batch.json",
      "wallet personalize cards.csv --reader 0 --key-enc 1111…11 --key-mac 2222…22 --key-dek 3333…33 --key-version 01 --max-auth-failures 2",
    ],
    async run(ctx, [batch], o) {
      // everything that can be wrong with the command line or the batch file is found
      // before the keystore is unlocked and before the first device is touched
      // --reader may be repeated (several readers, one card in each at once), or --readers all
      const given = (o.reader as string[] | undefined) ?? [];
      if (o.readers !== undefined && o.readers !== "all") throw usageError(`--readers takes "all" (or repeat --reader NAME|INDEX), got "${o.readers}"`);
      if ((given.length > 1 || o.readers !== undefined) && !batch) throw usageError("several readers personalize a batch: give a BATCH.csv");
      if (o.readers !== undefined && given.length) throw usageError("--readers all or --reader NAME…: choose one");
      const oneChannel: Values = { ...o, reader: o.readers !== undefined ? "0" : given[0] };
      channelSpec(oneChannel);
      openOptions(o, ctx.trace);
      const init = initialKeys(o);
      const maxAuthFailures = numberOption(o, "max-auth-failures", RANGES.authFailures, 3);
      const chatty = !!o.progress || !!process.stderr.isTTY;
      const reqs = batch
        ? readBatch(batch)
        : [request({ account: o.account as string, suite: o.suite as string, form: o.form as string, pin: o.pin as string, alias: o.alias as string, currency: o.currency as string, cap: o.cap as string, max_payment: o["max-payment"] as string, no_cvm: o["no-cvm"] as string, max_count: o["max-count"] as string, max_amount: o["max-amount"] as string, sync_interval: o["sync-interval"] as string }, "personalize", usageError)];
      const ks = await openKeystore(ctx);
      const mailer = resolve((o["pin-mailer"] as string) ?? (batch ? `${batch}.pins.csv` : join(ctx.home, "pin-mailer.csv")));
      // the PIN mailer is written just before FINALIZE: a directory that is not there must
      // be found now, not with a card half-personalized in the reader
      if (!existsSync(dirname(mailer))) throw notFound(`personalize: the PIN mailer's directory ${dirname(mailer)} does not exist`);
      const statePath = batch ? resolve((o.state as string) ?? `${batch}.state.json`) : null;
      let readers: string[] = given;
      if (o.readers === "all" || given.length > 1) {
        const { readerStatus, pickReader } = await import("../channels/pcsc.ts");
        const names = (await readerStatus()).map((r) => r.name);
        readers = o.readers === "all" ? names : [...new Set(given.map((g) => pickReader(names, g)))];
        if (!readers.length) throw deviceError("personalize: --readers all: pcscd lists no readers");
      }
      let state: BatchState = { rows: {} };
      if (statePath && existsSync(statePath)) {
        try {
          state = JSON.parse(readFileSync(statePath, "utf8"));
        } catch {
          throw dataError(`personalize: state file ${statePath} is not valid JSON (remove it to start the batch over)`);
        }
      }
      const progress = new Progress(reqs.length, "personalize", !chatty && !!process.stderr.isTTY);
      const results: RowResult[] = [];
      let firstFailure: WalletError | undefined;
      let authFailuresInARow = 0;
      let stopped: string | undefined;
      const say = (line: string) => chatty && batch && ctx.log(`personalize: ${line}`);
      const onEvent: OpenOptions["onEvent"] = (e) => say(`${e.reader}: card ${e.event}${e.atr ? ` (ATR ${e.atr})` : ""}`);
      const todo = reqs.filter((r, i) => state.rows[`${i + 1}:${r.account}`]?.status !== "done").length;
      let doneMs = 0;
      let doneCards = 0;
      // stations: one per reader with --reader R1 --reader R2 … or --readers all (a card in
      // each at once), else the one channel. Each takes the next row in batch order when it
      // is free; the state file, the PIN mailer and the report stay in row order
      const stations: (string | undefined)[] = readers.length > 1 ? readers : [undefined];
      const openRow = (i: number, req: PersonalizeRequest, reader: string | undefined) =>
        reader === undefined ? channelFor(ctx, oneChannel, !!batch, i, req, onEvent) : openSpec(`reader:${reader}`, { ...openOptions(o, ctx.trace), onEvent });
      const at = (reader: string | undefined) => (reader === undefined ? "" : `${reader}: `);
      let next = 0;
      let abort: unknown;
      await withLedger(ctx, async (rawLedger) => {
        const ledger = stations.length > 1 ? serialTransactions(rawLedger) : rawLedger;
        const station = async (reader: string | undefined) => {
          while (!stopped && abort === undefined && next < reqs.length) {
            const i = next++;
            const req = reqs[i];
            const key = `${i + 1}:${req.account}`;
            if (state.rows[key]?.status === "done") {
              results.push({ row: i + 1, account: req.account, status: "skipped", deviceId: state.rows[key].deviceId });
              say(`row ${i + 1}/${reqs.length} (account ${last4(req.account)}) done in an earlier run: skipped`);
              progress.tick(results.length, "skipped");
              continue;
            }
            say(`${at(reader)}present card ${i + 1}/${reqs.length} (account ${last4(req.account)})`);
            // a channel that cannot be opened (no PC/SC service, no such reader, no card in
            // time, a missing image) stops the batch: the rows done so far are in the state
            // file, and a re-run goes on from there
            let ch: Channel;
            try {
              ch = await openRow(i, req, reader);
            } catch (e) {
              abort ??= e;
              return;
            }
            const t0 = Date.now();
            let res: RowResult;
            try {
              const r = await personalize(ch, ks, ledger, req, { beforeFinalize: (x) => writeMailer(mailer, mailerLine(x, req)), initialKeys: init });
              state.rows[key] = { deviceId: r.deviceId, status: "done" };
              if (statePath) writeFileSync(statePath, JSON.stringify(state, null, 1));
              res = { row: i + 1, account: req.account, status: r.resumed ? "resumed" : r.alreadyDone ? "already-personalized" : "personalized", deviceId: r.deviceId, suite: r.suite, form: r.formFactor, token: r.token, ...(reader ? { reader } : {}) };
              authFailuresInARow = 0;
            } catch (e) {
              const we = cliError(e);
              // one device failing is this row's problem; a broken ledger or a bug is everyone's
              if (!batch || we.exitCode === EXIT_STORAGE || we.exitCode === EXIT_INTERNAL) {
                await ch.close().catch(() => undefined);
                abort ??= e;
                return;
              }
              firstFailure ??= we;
              res = { row: i + 1, account: req.account, status: "failed", error: we.message, exitCode: we.exitCode, ...(reader ? { reader } : {}) };
              await ledger.audit("personalize-failed", { row: i + 1, error: we.message });
              authFailuresInARow = (e as { authFailure?: boolean }).authFailure ? authFailuresInARow + 1 : 0;
            }
            const ms = Date.now() - t0;
            res.ms = ms;
            results.push(res);
            doneMs += ms;
            doneCards++;
            const left = todo - doneCards;
            say(
              `${at(reader)}row ${i + 1}/${reqs.length} (account ${last4(req.account)}) ${res.status === "failed" ? `FAILED (${res.error})` : res.status}${res.deviceId ? ` ${res.deviceId}` : ""} in ${secs(ms)}` +
                (left > 0 ? `; ${left} to go, ETA ${clock(((doneMs / doneCards) * left) / stations.length)}` : ""),
            );
            if (authFailuresInARow >= maxAuthFailures && next < reqs.length && !stopped) {
              // cards lock after about 10 failed mutual authentications: do not burn a stack of them
              const fails = [...results].filter((r) => r.status === "failed").slice(-authFailuresInARow).map((r) => r.row).sort((x, y) => x - y);
              stopped = `stopped after ${authFailuresInARow} devices in a row refused the initial keys (rows ${fails.join(", ")}); rows ${next + 1} to ${reqs.length} not attempted: check --key/--key-version and re-run (finished rows are skipped)`;
            }
            // one reader, many cards: the next row starts with the next card, done or failed
            if (batch && ch.waitRemoved && !stopped) {
              if (!ctx.json && !chatty) ctx.log(`personalize: ${at(reader)}row ${i + 1} ${res.status === "failed" ? `FAILED (${res.error})` : res.status}; remove the card`);
              else say(`${at(reader)}remove the card`);
              await ch.waitRemoved(10 * 60_000).catch(() => undefined);
            }
            await ch.close().catch(() => undefined);
            progress.tick(results.length);
          }
        };
        await Promise.all(stations.map(station));
        if (abort !== undefined) throw abort;
      });
      results.sort((x, y) => x.row - y.row);
      const count = (...st: RowResult["status"][]) => results.filter((r) => st.includes(r.status)).length;
      const report = {
        pinMailer: mailer, personalized: count("personalized"), resumed: count("resumed"), skipped: count("skipped", "already-personalized"), failed: count("failed"),
        notAttempted: reqs.length - results.length, ...(stopped ? { stopped } : {}), devices: results,
      };
      if (o.report) writeFileSync(o.report as string, JSON.stringify(report, null, 2) + "\n");
      const text =
        results.map(({ ms, ...r }) => Object.values(r).join("  ") + (ms !== undefined ? `  (${secs(ms)})` : "")).join("\n") +
        `\n${report.personalized} personalized, ${report.resumed} resumed, ${report.skipped} skipped, ${report.failed} failed${report.notAttempted ? `, ${report.notAttempted} not attempted` : ""}; PINs in ${mailer} (mode 0600)`;
      if (stopped) return { data: report, text, exitCode: EXIT_AUTH, error: `personalize: ${stopped}` };
      if (!firstFailure) return { data: report, text };
      // a batch with failed rows exits non-zero: the code of its first failed row
      const failedRows = results.filter((r) => r.status === "failed").map((r) => r.row);
      return { data: report, text, exitCode: firstFailure.exitCode, error: `personalize: ${failedRows.length} of ${results.length} rows failed (rows ${failedRows.join(", ")}); first: ${firstFailure.message}` };
    },
  },
  {
    name: "load",
    summary: "load value onto a device with an issuer-signed authorization (refused above the cap)",
    usage: "DEVICE AMOUNT (--reader R | --hid H | --serial P | --sim IMAGE)",
    args: [2, 2],
    options: CHANNEL_OPTIONS,
    examples: ["wallet load alice-card 200.00 --reader 0"],
    async run(ctx, [device, amountS], o) {
      const amount = amountArg(amountS, "AMOUNT");
      channelSpec(o); // usage errors before any unlock or lookup
      openOptions(o, ctx.trace);
      const ks = await openKeystore(ctx);
      return withLedger(ctx, async (l) => {
        const d = await mustDevice(l, device);
        const r = await onDevice(await openFromOptions(o, ctx.trace), (ch) => load(ch, ks, l, amount, d.deviceId));
        const lines = r.settled.map((x) => (x.state === "confirmed" ? `earlier load seq ${x.seq} of ${money(x.amount)}: the device had applied it (its answer was lost); confirmed` : `earlier load seq ${x.seq} of ${money(x.amount)}: never applied by the device; void`));
        lines.push(
          r.outcome === "earlier-applied"
            ? `not loaded again: the earlier load of ${money(amount)} (seq ${r.seq}) is on ${r.deviceId}: balance ${money(r.balance)}`
            : `${r.outcome === "redelivered" ? "delivered the earlier, unapplied authorization:" : "loaded"} ${money(amount)} onto ${r.deviceId}: balance ${money(r.balance)} (load seq ${r.seq})`,
        );
        return { data: { deviceId: r.deviceId, seq: r.seq, amount, balance: r.balance, outcome: r.outcome, settled: r.settled }, text: lines.join("\n") };
      }, false);
    },
  },
  {
    name: "pos init",
    summary: "configure a POS terminal's outbox: merchant id, currency, trusted issuer keys, revocation list",
    usage: "--merchant HEX16 --trust ISSUER-PUBLIC.json [--terminal NAME] [--currency 156] [--outbox FILE]",
    options: { merchant: { type: "string" }, trust: { type: "string" }, terminal: { type: "string" }, currency: { type: "string" }, outbox: { type: "string" } },
    async run(ctx, _a, o) {
      if (!o.merchant || !o.trust) throw usageError("pos init needs --merchant HEX16 and --trust FILE (from `wallet issuer export-public`)");
      if (!/^[0-9a-f]{16}$/i.test(String(o.merchant))) throw usageError(`--merchant must be 16 hex digits, got "${o.merchant}"`);
      const currency = o.currency === undefined ? CURRENCY_CNY : parseCurrency(String(o.currency), "--currency");
      if (!existsSync(o.trust as string)) throw notFound(`pos: trust file ${o.trust} not found (write it with \`wallet issuer export-public --out FILE\`)`);
      let trust: { keys?: { kid: string; suite: "sm2" | "p256"; pub: string; status?: string }[]; revoked?: string[]; revocationVersion?: number };
      try {
        trust = JSON.parse(readFileSync(o.trust as string, "utf8"));
      } catch {
        throw dataError(`pos: cannot read trust file ${o.trust}`);
      }
      if (!Array.isArray(trust.keys) || !trust.keys.length) throw dataError(`pos: ${o.trust} has no issuer keys`);
      ensureHome(ctx);
      const path = resolve((o.outbox as string) ?? join(ctx.home, "pos-outbox.sqlite"));
      const box = PosOutbox.open(path);
      try {
        box.configure({
          merchant: String(o.merchant).toLowerCase(), terminal: (o.terminal as string) ?? "pos-1", currency,
          trusted: posTrust(trust.keys, []).trusted, revoked: trust.revoked ?? [], revocationVersion: trust.revocationVersion ?? 0,
        });
        return { data: { outbox: path, ...box.settings() }, text: `POS ${box.settings().terminal} for merchant ${box.settings().merchant}: ${trust.keys.length} trusted keys, ${(trust.revoked ?? []).length} revoked devices` };
      } finally {
        box.close();
      }
    },
  },
  {
    name: "pos charge",
    summary: "take a payment: waits for a tap, PAY, verifies the voucher offline, stores it, then approves",
    usage: "AMOUNT (--reader R | --hid H | --serial P | --sim IMAGE) [--pin PIN] [--outbox FILE]",
    args: [1, 1],
    options: { ...CHANNEL_OPTIONS, pin: { type: "string" }, outbox: { type: "string" }, currency: { type: "string" } },
    examples: ["wallet pos charge 12.50 --reader 0"],
    async run(ctx, [amountS], o) {
      const amount = amountArg(amountS, "AMOUNT");
      channelSpec(o);
      openOptions(o, ctx.trace);
      const box = PosOutbox.open(resolve((o.outbox as string) ?? join(ctx.home, "pos-outbox.sqlite")), true);
      try {
        const cfg = box.config();
        if (o.currency !== undefined && parseCurrency(String(o.currency), "--currency") !== cfg.currency) throw usageError(`this terminal takes currency ${cfg.currency}`);
        if (process.stderr.isTTY) ctx.log(`waiting for a tap: ${money(amount)}`); // a prompt for a person, not for a log
        const p = await onDevice(await openFromOptions(o, ctx.trace), (ch) => posCharge(ch, cfg, amount, { pin: o.pin as string | undefined, journal: box }));
        const receipt = [
          ...p.recovered.map((x) => `RECOVERED an earlier payment of this card: ${money(x.amount)} voucher #${x.counter} (its answer was lost; now stored)`),
          `APPROVED  ${money(amount)} (currency ${p.currency})`,
          `merchant  ${box.settings().merchant}  terminal ${box.settings().terminal}`,
          `payer     ${p.deviceId}  voucher #${p.counter}`,
          `voucher   ${p.voucherHash}`,
          `time      ${new Date(p.time * 1000).toISOString()}`,
        ].join("\n");
        const { voucher, cert, recovered, ...data } = p;
        return { data: { ...data, voucher, recovered: recovered.map((x) => ({ counter: x.counter, amount: x.amount, voucherHash: x.voucherHash })) }, text: receipt };
      } finally {
        box.close();
      }
    },
  },
  {
    name: "pos recover",
    summary: "read a card's log and store every voucher made out to this terminal's merchant that the outbox lacks (after a crash, a full disk or a lost answer)",
    usage: "(--reader R | --hid H | --serial P | --sim IMAGE) [--outbox FILE]",
    options: { ...CHANNEL_OPTIONS, outbox: { type: "string" } },
    examples: ["wallet pos recover --reader 0"],
    async run(ctx, _a, o) {
      channelSpec(o);
      const box = PosOutbox.open(resolve((o.outbox as string) ?? join(ctx.home, "pos-outbox.sqlite")), true);
      try {
        const r = await onDevice(await openFromOptions(o, ctx.trace), (ch) => posRecover(ch, box.config(), box));
        const lines = r.recovered.map((x) => `recovered voucher #${x.counter} of ${r.deviceId}: ${money(x.amount)} (${x.voucherHash})`);
        lines.push(r.recovered.length ? `${r.recovered.length} voucher(s) recovered into the outbox` : `nothing to recover: every voucher of ${r.deviceId} to this merchant is in the outbox`);
        return { data: { deviceId: r.deviceId, recovered: r.recovered.map((x) => ({ counter: x.counter, amount: x.amount, voucherHash: x.voucherHash })) }, text: lines.join("\n") };
      } finally {
        box.close();
      }
    },
  },
  {
    name: "pos export",
    summary: "write the POS outbox as a file for upload (exporting twice is harmless)",
    usage: "[--out FILE] [--outbox FILE]",
    options: { out: { type: "string" }, outbox: { type: "string" } },
    async run(ctx, _a, o) {
      const box = PosOutbox.open(resolve((o.outbox as string) ?? join(ctx.home, "pos-outbox.sqlite")), true);
      try {
        const exp = box.export();
        const out = resolve((o.out as string) ?? join(ctx.home, `pos-export-${exp.terminal}-${Date.now()}.json`));
        writeFileSync(out, JSON.stringify(exp) + "\n");
        return { data: { file: out, vouchers: exp.vouchers.length }, text: `wrote ${exp.vouchers.length} vouchers to ${out}` };
      } finally {
        box.close();
      }
    },
  },
  {
    name: "pos summary",
    summary: "end-of-day totals per terminal: payments, takings, not yet exported, last export (one or more outboxes)",
    usage: "[--outbox FILE]... [--day YYYY-MM-DD|all] [--csv] [--out FILE]",
    options: { outbox: { type: "string", multiple: true }, day: { type: "string" }, csv: { type: "boolean", default: false }, out: { type: "string" } },
    optionHelp: {
      outbox: "a terminal's POS outbox (repeatable; default HOME/pos-outbox.sqlite and every HOME/pos-outbox*.sqlite)",
      day: "the day to total, YYYY-MM-DD in UTC, or all (default today, UTC)",
      csv: "print CSV for a spreadsheet (amounts as plain decimals with a currency column)",
      out: "write the summary to this file instead of stdout",
    },
    examples: ["wallet pos summary", "wallet pos summary --outbox till-1.sqlite --outbox till-2.sqlite --day 2026-12-01 --csv --out takings.csv"],
    async run(ctx, _a, o) {
      const day = o.day === undefined ? new Date().toISOString().slice(0, 10) : String(o.day);
      if (day !== "all" && !(/^\d{4}-\d{2}-\d{2}$/.test(day) && !Number.isNaN(Date.parse(day)))) throw usageError(`--day must be YYYY-MM-DD or all, got "${day}"`);
      let files = (o.outbox as string[] | undefined)?.map((f) => resolve(f));
      if (!files) {
        files = existsSync(ctx.home) ? readdirSync(ctx.home).filter((f) => /^pos-outbox.*\.sqlite$/.test(f)).map((f) => join(ctx.home, f)) : [];
        if (!files.length) throw notFound(`pos summary: no POS outbox in ${ctx.home} (wrong --home? \`wallet pos init\` creates one; or give --outbox FILE)`);
      }
      const rows = files.map((f) => {
        if (!existsSync(f)) throw notFound(`pos summary: outbox ${f} not found`);
        const box = PosOutbox.open(f, true);
        try {
          const s = box.settings();
          const t = box.takings(day === "all" ? undefined : day);
          return { terminal: s.terminal, merchant: s.merchant, currency: s.currency, outbox: f, ...t };
        } finally {
          box.close();
        }
      });
      const code = (n: number) => currencyCode(n);
      const totals = new Map<number, { payments: number; amount: number }>();
      for (const r of rows) {
        const t = totals.get(r.currency) ?? { payments: 0, amount: 0 };
        totals.set(r.currency, { payments: t.payments + r.payments, amount: t.amount + r.amount });
      }
      const view = rows.map((r) => ({ terminal: r.terminal, merchant: r.merchant, payments: r.payments, takings: `${money(r.amount)} ${code(r.currency)}`, unexported: r.unexported, lastExport: isoAny(r.lastExport) || "never" }));
      const text = () =>
        [
          `POS takings ${day === "all" ? "(all days)" : `on ${day} (UTC)`}`,
          table(view, ["terminal", "merchant", "payments", "takings", "unexported", "lastExport"], ["terminal", "merchant", "payments", "takings", "not exported", "last export"]),
          ...[...totals].map(([c, t]) => `total: ${t.payments} payments, ${money(t.amount)} ${code(c)}`),
          ...(rows.some((r) => r.unexported) ? ["some payments are not exported yet: run `wallet pos export` on those terminals"] : []),
        ].join("\n");
      const csvText = () => csv(rows.map((r) => ({ day, terminal: r.terminal, merchant: r.merchant, payments: r.payments, takings: money(r.amount), currency: code(r.currency), unexported: r.unexported, lastExport: isoAny(r.lastExport) })), ["day", "terminal", "merchant", "payments", "takings", "currency", "unexported", "lastExport"]);
      const data = { day, terminals: rows.map(({ outbox, ...r }) => ({ ...r, outbox, lastExport: isoAny(r.lastExport) || null })), totals: [...totals].map(([c, t]) => ({ currency: c, currencyCode: code(c), ...t })) };
      return emit(ctx, o, data, text, csvText);
    },
  },
  {
    name: "transfer",
    summary: "device-to-device payment between two devices",
    usage: "AMOUNT --from SPEC --to SPEC   (SPEC: reader:NAME | hid:udp:HOST:PORT | serial:PATH | sim:IMAGE)",
    args: [1, 1],
    options: { from: { type: "string" }, to: { type: "string" } },
    examples: ["wallet transfer 20.00 --from 'reader:Virtual PCD 00 00' --to 'reader:Virtual PCD 00 01'"],
    async run(ctx, [amountS], o) {
      const amount = amountArg(amountS, "AMOUNT");
      if (!o.from || !o.to) throw usageError("transfer needs --from SPEC and --to SPEC");
      return withLedger(ctx, async (l) => {
        const from = await openSpec(o.from as string, { trace: ctx.trace });
        try {
          const r = await withChannel(await openSpec(o.to as string, { trace: ctx.trace }), (to) => transfer(from, to, amount, l));
          return { data: { from: r.from, to: r.to, amount, payeeBalance: r.receipt.balanceAfter, payerBalance: r.payerBalance }, text: `${r.from} paid ${money(amount)} to ${r.to}: payee balance ${money(r.receipt.balanceAfter)}, payer balance ${money(r.payerBalance)}` };
        } finally {
          await from.close();
        }
      }, false);
    },
  },
  {
    name: "sync",
    summary: "read a device's log into the ledger and write back the signed acknowledgement (block list, limits)",
    usage: "(--reader R | --hid H | --serial P | --sim IMAGE) [--out LOG.json]",
    options: { ...CHANNEL_OPTIONS, out: { type: "string" } },
    async run(ctx, _a, o) {
      channelSpec(o);
      openOptions(o, ctx.trace);
      const ks = await openKeystore(ctx);
      return withLedger(ctx, async (l) => {
        const r = await onDevice(await openFromOptions(o, ctx.trace), (ch) => sync(ch, ks, l));
        if (o.out) writeFileSync(o.out as string, r.log + "\n");
        const { log, ...data } = r;
        return {
          data,
          text: [
            ...r.earlierAcks.map((a) => `earlier acknowledgement of ${new Date(a.time * 1000).toISOString()}: ${a.state === "applied" ? "the device had applied it (its answer was lost)" : "never applied by the device"}`),
            `synced ${r.deviceId}: ${r.entries} log entries (${r.reconcile.newVouchers} new vouchers, ${r.reconcile.newFraudCaseCount} fraud cases), acknowledged up to #${r.upToCounter}, revocation list v${r.revocationVersion}`,
            ...(r.locked ? [`device ${r.deviceId} is revoked: it received its own id in the block list and locked itself`] : []),
          ].join("\n"),
        };
      }, false);
    },
  },
  {
    name: "pin unblock",
    summary: "unblock a device's PIN with its PUK (from the PIN mailer), optionally setting a new PIN",
    usage: "--puk PUK [--new-pin PIN] (--reader R | --hid H | --serial P | --sim IMAGE)",
    options: { ...CHANNEL_OPTIONS, puk: { type: "string" }, "new-pin": { type: "string" } },
    examples: ["wallet pin unblock --reader 0 --puk 12345678 --new-pin 2468"],
    async run(ctx, _a, o) {
      channelSpec(o);
      openOptions(o, ctx.trace);
      const digits = (v: unknown, what: string) => {
        if (typeof v !== "string" || !/^\d{4,8}$/.test(v)) throw usageError(`${what} must be 4 to 8 digits`);
        return v;
      };
      const puk = digits(o.puk, "--puk");
      const pin = o["new-pin"] === undefined ? undefined : digits(o["new-pin"], "--new-pin");
      return withChannel(await openFromOptions(o, ctx.trace), async (ch) => {
        const card = new WalletCard(ch);
        const { deviceId } = await card.select();
        try {
          await card.resetRetryCounter(puk, pin);
        } catch (e) {
          // the PUK's own tries: 63Cx here is about the PUK, not the PIN
          if (e instanceof ApduError && swTriesLeft(e.sw) !== null) throw refused(`pin unblock: wrong PUK, ${swTriesLeft(e.sw)} tries left`);
          if (e instanceof ApduError && e.sw === SW_AUTH_METHOD_BLOCKED) throw refused("pin unblock: PUK blocked: the device must go back to the issuer");
          throw e;
        }
        const id = Buffer.from(deviceId).toString("hex");
        return { data: { deviceId: id, newPin: pin !== undefined }, text: `${id}: PIN unblocked${pin !== undefined ? " and changed" : ""}` };
      });
    },
  },
  {
    name: "readers",
    summary: "list the PC/SC readers: index, name, card present and its ATR (like `opensc-tool -l`)",
    usage: "",
    examples: ["wallet readers", "wallet readers --json"],
    async run() {
      const { readerStatus } = await import("../channels/pcsc.ts");
      const rs = await readerStatus();
      const text = rs.length
        ? table(rs.map((r, i) => ({ nr: String(i), card: r.present ? (r.exclusive ? "in use" : "yes") : "no", name: r.name, atr: r.atr.replace(/(..)(?!$)/g, "$1:") })), ["nr", "card", "name", "atr"], ["#", "card", "reader", "ATR"])
        : "no readers";
      return { data: { readers: rs.map((r) => r.name), status: rs }, text };
    },
  },
);
