// Commands that talk to a device (issue 6): personalize (single or batch), load,
// pos init | charge | export, transfer, sync, readers. Device flows live in flows.ts.
import { appendFileSync, chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureHome, register, type Ctx, type Values } from "../cli.ts";
import { CHANNEL_OPTIONS, channelSpec, openFromOptions, openSpec, withChannel, type Channel } from "../channels/index.ts";
import { dataError, usageError, WalletError } from "../errors.ts";
import { load, personalize, posCharge, posRecover, sync, transfer, type PersonalizeRequest, type PersonalizeResult } from "../flows.ts";
import { money, parseAmount, Progress } from "../format.ts";
import type { FormFactor } from "../ledger/ledger.ts";
import { PosOutbox } from "../pos-outbox.ts";
import { CURRENCY_CNY, DEFAULT_LIMITS } from "../synthetic.ts";
import { mustDevice, withLedger } from "./common.ts";
import { openKeystore, parseSuite } from "./issuer.ts";
import { LIMIT_OPTIONS } from "./limits.ts";

const amountArg = (s: string | undefined, what: string): number => {
  const v = s === undefined ? undefined : parseAmount(s);
  if (v === undefined || v === 0) throw usageError(`${what} must be a positive amount like 12.50, got "${s ?? ""}"`);
  return v;
};

type Row = Record<string, string | undefined>;

function request(row: Row, where: string): PersonalizeRequest {
  const bad = (m: string) => dataError(`${where}: ${m}`);
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
  const amt = (k: string, dflt: number) => {
    if (row[k] === undefined || row[k] === "") return dflt;
    const v = parseAmount(row[k]!);
    if (v === undefined) throw bad(`${k} "${row[k]}" is not an amount`);
    return v;
  };
  const int = (k: string, dflt: number) => {
    if (row[k] === undefined || row[k] === "") return dflt;
    if (!/^\d+$/.test(row[k]!)) throw bad(`${k} "${row[k]}" is not a whole number`);
    return Number(row[k]);
  };
  const limits = {
    cap: amt("cap", DEFAULT_LIMITS.cap), maxPayment: amt("max_payment", DEFAULT_LIMITS.maxPayment), noCvm: amt("no_cvm", DEFAULT_LIMITS.noCvm),
    maxCountSinceSync: int("max_count", DEFAULT_LIMITS.maxCountSinceSync), maxAmountSinceSync: amt("max_amount", DEFAULT_LIMITS.maxAmountSinceSync),
    syncInterval: int("sync_interval", DEFAULT_LIMITS.syncInterval),
  };
  if (limits.maxPayment > limits.cap) throw bad("max_payment is above the cap");
  const pin = row.pin?.trim() || undefined;
  if (pin && !/^\d{4,8}$/.test(pin)) throw bad("pin must be 4 to 8 digits");
  return { account, suite, formFactor: form, currency: int("currency", CURRENCY_CNY), limits, pin, alias: row.alias?.trim() || undefined };
}

const COLUMNS = ["account", "suite", "form", "cap", "max_payment", "no_cvm", "max_count", "max_amount", "sync_interval", "currency", "pin", "alias"];

/** Batch file: CSV with a header row (COLUMNS; account required), or a JSON array of objects. */
export function readBatch(path: string): PersonalizeRequest[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw dataError(`personalize: cannot read ${path}`);
  }
  const name = path.split("/").pop()!;
  if (path.endsWith(".json")) {
    let rows: unknown;
    try {
      rows = JSON.parse(text);
    } catch {
      throw dataError(`personalize: ${name} is not valid JSON`);
    }
    if (!Array.isArray(rows)) throw dataError(`personalize: ${name}: expected an array of devices`);
    return rows.map((r, i) => request(Object.fromEntries(Object.entries(r ?? {}).map(([k, v]) => [k, String(v)])), `${name} item ${i + 1}`));
  }
  const lines = text.split(/\r?\n/).map((l, i) => ({ l, n: i + 1 })).filter((x) => x.l.trim() && !x.l.startsWith("#"));
  if (!lines.length) throw dataError(`personalize: ${name} is empty`);
  const header = lines[0].l.split(",").map((h) => h.trim().toLowerCase());
  const unknown = header.filter((h) => !COLUMNS.includes(h));
  if (unknown.length) throw dataError(`personalize: ${name} line ${lines[0].n}: unknown column(s) ${unknown.join(", ")} (known: ${COLUMNS.join(", ")})`);
  if (!header.includes("account")) throw dataError(`personalize: ${name} line ${lines[0].n}: the header needs an "account" column`);
  return lines.slice(1).map(({ l, n }) => {
    const cells = l.split(",");
    if (cells.length !== header.length) throw dataError(`personalize: ${name} line ${n}: ${cells.length} fields, the header has ${header.length}`);
    return request(Object.fromEntries(header.map((h, i) => [h, cells[i].trim()])), `${name} line ${n}`);
  });
}

function mailerLine(r: { deviceId: string; pin: string; puk: string }, req: PersonalizeRequest): string {
  return `${r.deviceId},${req.alias ?? ""},${req.formFactor},****${req.account.replace(/\D/g, "").slice(-4)},${r.pin},${r.puk}\n`;
}

function writeMailer(path: string, line: string): void {
  if (!existsSync(path)) writeFileSync(path, "device,alias,form,account,pin,puk\n", { mode: 0o600 });
  chmodSync(path, 0o600);
  appendFileSync(path, line, { mode: 0o600 });
}

interface BatchState {
  rows: Record<string, { deviceId: string; status: "done" }>;
}

async function channelFor(ctx: Ctx, o: Values, batch: boolean, index: number, req: PersonalizeRequest): Promise<Channel> {
  // a batch with --sim DIR keeps one flash image per row: a re-run finds half-done devices
  if (o.sim !== undefined) return openSpec(`sim:${batch ? join(o.sim as string, `device-${index + 1}.img`) : o.sim},${req.formFactor}`, { trace: ctx.trace });
  return openFromOptions(o, ctx.trace);
}

register(
  {
    name: "personalize",
    summary: "personalize one device, or a batch from CSV/JSON (resumable, PIN mailer 0600, JSON report)",
    usage: "[BATCH.csv|BATCH.json] (--reader R | --hid H | --serial P | --sim IMAGE|DIR) [--account A --suite S --form F ...]",
    args: [0, 1],
    options: {
      ...CHANNEL_OPTIONS, ...LIMIT_OPTIONS, account: { type: "string" }, suite: { type: "string" }, form: { type: "string" }, pin: { type: "string" },
      alias: { type: "string" }, currency: { type: "string" }, "pin-mailer": { type: "string" }, report: { type: "string" }, state: { type: "string" },
    },
    examples: [
      "wallet personalize --reader 0 --account 6222020000001234 --suite sm2 --form card --cap 1000.00",
      "wallet personalize cards.csv --reader 'Virtual PCD 00 00' --pin-mailer pins.csv --report batch.json",
    ],
    async run(ctx, [batch], o) {
      ensureHome(ctx);
      const reqs = batch
        ? readBatch(batch)
        : [request({ account: o.account as string, suite: o.suite as string, form: o.form as string, pin: o.pin as string, alias: o.alias as string, currency: o.currency as string, cap: o.cap as string, max_payment: o["max-payment"] as string, no_cvm: o["no-cvm"] as string, max_count: o["max-count"] as string, max_amount: o["max-amount"] as string, sync_interval: o["sync-interval"] as string }, "personalize")];
      const ks = await openKeystore(ctx);
      const mailer = resolve((o["pin-mailer"] as string) ?? (batch ? `${batch}.pins.csv` : join(ctx.home, "pin-mailer.csv")));
      const statePath = batch ? resolve((o.state as string) ?? `${batch}.state.json`) : null;
      const state: BatchState = statePath && existsSync(statePath) ? JSON.parse(readFileSync(statePath, "utf8")) : { rows: {} };
      const progress = new Progress(reqs.length, "personalize");
      const results: object[] = [];
      await withLedger(ctx, async (ledger) => {
        for (let i = 0; i < reqs.length; i++) {
          const req = reqs[i];
          const key = `${i + 1}:${req.account}`;
          if (state.rows[key]?.status === "done") {
            results.push({ row: i + 1, account: req.account, status: "skipped", deviceId: state.rows[key].deviceId });
            progress.tick(i + 1, "skipped");
            continue;
          }
          try {
            const ch = await channelFor(ctx, o, !!batch, i, req);
            let r: PersonalizeResult;
            try {
              r = await personalize(ch, ks, ledger, req, { beforeFinalize: (x) => writeMailer(mailer, mailerLine(x, req)) });
            } finally {
              // one reader, many cards: the next row starts with the next card, done or failed
              if (batch && ch.waitRemoved) {
                if (!ctx.json) ctx.log(`personalize: row ${i + 1} finished, remove the card`);
                await ch.waitRemoved(10 * 60_000).catch(() => undefined);
              }
              await ch.close().catch(() => undefined);
            }
            state.rows[key] = { deviceId: r.deviceId, status: "done" };
            if (statePath) writeFileSync(statePath, JSON.stringify(state, null, 1));
            results.push({ row: i + 1, account: req.account, status: r.alreadyDone ? "already-personalized" : r.resumed ? "resumed" : "personalized", deviceId: r.deviceId, suite: r.suite, form: r.formFactor, token: r.token });
          } catch (e) {
            if (!batch) throw e;
            results.push({ row: i + 1, account: req.account, status: "failed", error: e instanceof WalletError || e instanceof Error ? e.message : String(e) });
            await ledger.audit("personalize-failed", { row: i + 1, error: String((e as Error).message) });
          }
          progress.tick(i + 1);
        }
      });
      const report = { pinMailer: mailer, personalized: results.filter((r) => (r as { status: string }).status !== "failed" && (r as { status: string }).status !== "skipped").length, failed: results.filter((r) => (r as { status: string }).status === "failed").length, devices: results };
      if (o.report) writeFileSync(o.report as string, JSON.stringify(report, null, 2) + "\n");
      const text = results.map((r) => Object.values(r).join("  ")).join("\n") + `\n${report.personalized} personalized, ${report.failed} failed; PINs in ${mailer} (mode 0600)`;
      return { data: report, text };
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
      const ks = await openKeystore(ctx);
      return withLedger(ctx, async (l) => {
        const d = await mustDevice(l, device);
        const r = await withChannel(await openFromOptions(o, ctx.trace), (ch) => load(ch, ks, l, amount, d.deviceId));
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
      let trust: { keys?: { kid: string; suite: "sm2" | "p256"; pub: string }[]; revoked?: string[]; revocationVersion?: number };
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
          merchant: String(o.merchant).toLowerCase(), terminal: (o.terminal as string) ?? "pos-1", currency: o.currency ? Number(o.currency) : CURRENCY_CNY,
          trusted: trust.keys.map(({ kid, suite, pub }) => ({ kid, suite, pub })), revoked: trust.revoked ?? [], revocationVersion: trust.revocationVersion ?? 0,
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
      const box = PosOutbox.open(resolve((o.outbox as string) ?? join(ctx.home, "pos-outbox.sqlite")), true);
      try {
        const cfg = box.config();
        if (o.currency && Number(o.currency) !== cfg.currency) throw usageError(`this terminal takes currency ${cfg.currency}`);
        if (process.stderr.isTTY) ctx.log(`waiting for a tap: ${money(amount)}`); // a prompt for a person, not for a log
        const p = await withChannel(await openFromOptions(o, ctx.trace), (ch) => posCharge(ch, cfg, amount, { pin: o.pin as string | undefined, journal: box }));
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
        const r = await withChannel(await openFromOptions(o, ctx.trace), (ch) => posRecover(ch, box.config(), box));
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
      const ks = await openKeystore(ctx);
      return withLedger(ctx, async (l) => {
        const r = await withChannel(await openFromOptions(o, ctx.trace), (ch) => sync(ch, ks, l));
        if (o.out) writeFileSync(o.out as string, r.log + "\n");
        const { log, ...data } = r;
        return {
          data,
          text: [
            ...r.earlierAcks.map((a) => `earlier acknowledgement of ${new Date(a.time * 1000).toISOString()}: ${a.state === "applied" ? "the device had applied it (its answer was lost)" : "never applied by the device"}`),
            `synced ${r.deviceId}: ${r.entries} log entries (${r.reconcile.newVouchers} new vouchers, ${r.reconcile.newFraudCases.length} fraud cases), acknowledged up to #${r.upToCounter}, revocation list v${r.revocationVersion}`,
            ...(r.locked ? [`device ${r.deviceId} is revoked: it received its own id in the block list and locked itself`] : []),
          ].join("\n"),
        };
      }, false);
    },
  },
  {
    name: "readers",
    summary: "list the PC/SC readers",
    usage: "",
    async run() {
      const { listReaders } = await import("../channels/pcsc.ts");
      const names = await listReaders();
      return { data: { readers: names }, text: names.length ? names.map((n, i) => `${i}  ${n}`).join("\n") : "no readers" };
    },
  },
);
