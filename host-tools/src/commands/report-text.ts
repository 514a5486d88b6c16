// The text and CSV of `wallet report`, `wallet reconcile`'s summary and `wallet devices
// show|list` (host-tools/README.md "Commands"): amounts right-aligned with their currency code, ISO 8601 times,
// terminal names beside merchant ids where a POS outbox names them, and a revoked device
// shown as revoked whatever its lifecycle state. (The HTML report is elsewhere.)
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Ctx, Output, Values } from "./command.ts";
import { usageError } from "../errors.ts";
import { csv, currencyCode, isoAny, isoTime, money, table } from "../format.ts";
import type { DeviceRecord, FraudCase, LedgerSummary, LoadRecord, VoucherRecord } from "../ledger/ledger.ts";
import { PosOutbox } from "../pos-outbox.ts";

export const OUTPUT_OPTIONS = { csv: { type: "boolean", default: false }, out: { type: "string" } } as const;
export const OUTPUT_HELP = {
  csv: "print CSV (RFC 4180, one header row per table, amounts as plain decimals with a currency column) for a spreadsheet",
  out: "write the text (or with --csv the CSV) to this file instead of stdout",
};

/** What a device's state is for a person: revoked wins over the lifecycle the ledger last saw. */
export const deviceState = (d: Pick<DeviceRecord, "state" | "revoked">) => (d.revoked ? "revoked" : d.state);

/** The currency of the ledger's devices: one code when they agree, else "" (amounts then carry none). */
export function ledgerCurrency(devices: Pick<DeviceRecord, "currency">[]): string {
  const set = new Set(devices.map((d) => d.currency));
  return set.size === 1 ? currencyCode([...set][0]) : "";
}

/**
 * Terminal names by merchant id, from the POS outboxes this operator has: every
 * HOME/pos-outbox*.sqlite and each --outbox FILE. A merchant no outbox names has none.
 */
export function terminalNames(ctx: Ctx, outboxes: string[] = []): Map<string, string[]> {
  const files = new Set(outboxes.map((f) => resolve(f)));
  if (existsSync(ctx.home)) for (const f of readdirSync(ctx.home)) if (/^pos-outbox.*\.sqlite$/.test(f)) files.add(join(ctx.home, f));
  const out = new Map<string, string[]>();
  for (const f of files) {
    if (!existsSync(f)) continue;
    let box: PosOutbox | undefined;
    try {
      box = PosOutbox.open(f, true);
      const s = box.settings();
      const names = out.get(s.merchant) ?? [];
      if (!names.includes(s.terminal)) names.push(s.terminal);
      out.set(s.merchant, names);
    } catch {
      // an outbox that is not configured or not readable names no terminal
    } finally {
      box?.close();
    }
  }
  return out;
}

const withCode = (minor: number, code: string) => (code ? `${money(minor)} ${code}` : money(minor));

export interface ReportTables {
  currency: string;
  merchants: Record<string, unknown>[];
  devices: Record<string, unknown>[];
  fraud: Record<string, unknown>[];
  totals: Record<string, unknown>[];
}

export function reportTables(s: LedgerSummary, cases: FraudCase[], devices: DeviceRecord[], terminals: Map<string, string[]>, forCsv: boolean): ReportTables {
  const currency = ledgerCurrency(devices);
  const amt = (v: number) => (forCsv ? money(v) : withCode(v, currency));
  const byId = new Map(devices.map((d) => [d.deviceId, d]));
  return {
    currency,
    merchants: s.merchants.map((m) => ({
      merchant: m.payee, terminals: (terminals.get(m.payee) ?? []).join(" "), vouchers: m.vouchers, settled: amt(m.settled), pending: amt(m.pending), held: amt(m.held), currency,
    })),
    devices: s.devices.map((d) => ({
      device: d.deviceId, alias: d.alias ?? "", state: byId.get(d.deviceId) ? deviceState(byId.get(d.deviceId)!) : d.revoked ? "revoked" : "",
      loaded: amt(d.loaded), spent: amt(d.spent), received: amt(d.received), vouchers: d.vouchers, pending: d.pending, fraud: d.fraud,
      lastSync: isoAny(byId.get(d.deviceId)?.lastSync) || (forCsv ? "" : "never"), currency,
    })),
    fraud: cases.map((c) => ({ id: c.id ?? "", kind: c.kind, device: c.deviceId, counter: c.counter ?? "", opened: isoAny(c.openedAt), detail: c.detail })),
    totals: [
      ["loaded", s.loaded], ["spent at merchants", s.paidToMerchants], ["settled to merchants", s.settledToMerchants], ["held for fraud", s.heldForFraud],
      ["unclaimed transfers", s.unclaimedTransfers], ["transfers in flight", s.transfersInFlight], ["pending loads", s.pendingLoads], ["in circulation", s.inCirculation],
    ].map(([k, v]) => ({ total: k, amount: amt(v as number), currency })).concat([{ total: "fraud cases", amount: String(s.fraudCases), currency: "" }, { total: "rejected vouchers", amount: String(s.rejected), currency: "" }]),
  };
}

export function reportText(t: ReportTables): string {
  return [
    "Settlements per merchant",
    t.merchants.length ? table(t.merchants, ["merchant", "terminals", "vouchers", "settled", "pending", "held"]) : "no merchants",
    "",
    "Devices",
    t.devices.length ? table(t.devices, ["device", "alias", "state", "loaded", "spent", "received", "vouchers", "pending", "fraud", "lastSync"], ["device", "alias", "state", "loaded", "spent", "received", "vouchers", "pending", "fraud", "last sync"]) : "no devices",
    "",
    "Totals",
    table(t.totals, ["total", "amount"], ["", "amount"]),
    "",
    t.fraud.length ? `Fraud cases\n${table(t.fraud, ["id", "kind", "device", "counter", "opened", "detail"])}` : "no fraud cases",
  ].join("\n");
}

export function reportCsv(t: ReportTables): string {
  return [
    csv(t.merchants, ["merchant", "terminals", "vouchers", "settled", "pending", "held", "currency"]),
    csv(t.devices, ["device", "alias", "state", "loaded", "spent", "received", "vouchers", "pending", "fraud", "lastSync", "currency"]),
    csv(t.totals, ["total", "amount", "currency"]),
    csv(t.fraud, ["id", "kind", "device", "counter", "opened", "detail"]),
  ].join("\r\n");
}

/** devices show: the registry entry, loads, vouchers and fraud cases of one device. */
export function deviceTables(d: DeviceRecord, loads: (Omit<LoadRecord, "auth" | "receipt"> & { confirmed?: boolean })[], vouchers: Omit<VoucherRecord, "cose">[], cases: FraudCase[], terminals: Map<string, string[]>, forCsv: boolean) {
  const code = currencyCode(d.currency);
  const amt = (v: number) => (forCsv ? money(v) : `${money(v)} ${code}`);
  const payee = (p: string) => (terminals.get(p)?.length ? `${p} (${terminals.get(p)!.join(", ")})` : p);
  const lim = d.limits;
  return {
    fields: [
      ["device", d.deviceId], ["alias", d.alias ?? ""], ["state", deviceState(d)], ["form", d.formFactor], ["suite", d.suite], ["currency", code],
      ["token", d.token], ["personalized", isoAny(d.personalizedAt)], ["last sync", isoAny(d.lastSync) || "never"],
      ...(d.revoked ? [["revoked at", isoAny(d.revokedAt)]] : []),
      ["cap", amt(lim.cap)], ["max payment", amt(lim.maxPayment)], ["no-PIN limit", amt(lim.noCvm)],
      ["between syncs", `${lim.maxCountSinceSync} payments, ${amt(lim.maxAmountSinceSync)}`], ["sync interval", `${lim.syncInterval} s`],
      ["loads", `${loads.filter((l) => !l.voided).length}, ${amt(loads.filter((l) => !l.voided).reduce((a, x) => a + x.amount, 0))} (void ones not counted)`],
      ["vouchers", `${vouchers.length} (${vouchers.filter((v) => v.status === "settled").length} settled, ${vouchers.filter((v) => v.status === "pending").length} pending, ${vouchers.filter((v) => v.status === "fraud").length} fraud)`],
    ].map(([k, v]) => ({ field: k, value: v })),
    loads: loads.map((l) => ({ seq: l.seq, amount: amt(l.amount), issued: isoAny(l.issuedAt), expiry: isoTime(l.expiry), state: l.confirmed ? "confirmed" : l.voided ? "void" : l.expiry < Date.now() / 1000 ? "expired" : "pending (run `wallet load` with the device)", currency: code })),
    vouchers: vouchers.map((v) => ({ counter: v.counter, time: isoTime(v.time), amount: amt(v.amount), payee: forCsv ? v.payee : payee(v.payee), terminal: (terminals.get(v.payee) ?? []).join(" "), status: v.status, balanceAfter: amt(v.balanceAfter), currency: code })),
    fraud: cases.map((c) => ({ id: c.id ?? "", kind: c.kind, counter: c.counter ?? "", opened: isoAny(c.openedAt), detail: c.detail })),
  };
}

export function deviceText(t: ReturnType<typeof deviceTables>): string {
  const w = Math.max(...t.fields.map((f) => String(f.field).length));
  return [
    ...t.fields.map((f) => `${String(f.field).padEnd(w)}  ${f.value}`),
    ...(t.loads.length ? ["", "Loads", table(t.loads, ["seq", "amount", "issued", "expiry", "state"])] : []),
    ...(t.vouchers.length ? ["", "Vouchers", table(t.vouchers, ["counter", "time", "amount", "payee", "status", "balanceAfter"], ["counter", "time", "amount", "payee", "status", "balance after"])] : []),
    ...(t.fraud.length ? ["", "Fraud cases", table(t.fraud, ["id", "kind", "counter", "opened", "detail"])] : []),
  ].join("\n");
}

export function deviceCsv(t: ReturnType<typeof deviceTables>): string {
  return [csv(t.fields, ["field", "value"]), csv(t.loads, ["seq", "amount", "currency", "issued", "expiry", "state"]), csv(t.vouchers, ["counter", "time", "amount", "currency", "payee", "terminal", "status", "balanceAfter"]), csv(t.fraud, ["id", "kind", "counter", "opened", "detail"])].join("\r\n");
}

/**
 * --csv / --out: the output as text or CSV, on stdout or in a file (then stdout says where).
 * --json wins over --csv (one JSON document, as everywhere).
 */
export function emit(ctx: Ctx, o: Values, data: unknown, text: () => string, csvText: () => string): Output {
  if (o.csv && ctx.json) throw usageError("--csv and --json: choose one");
  const body = o.csv ? csvText() : text();
  if (typeof o.out === "string") {
    writeFileSync(o.out, body.endsWith("\n") ? body : body + "\n");
    return { data: { ...(data as object), file: resolve(o.out) }, text: `wrote ${o.csv ? "CSV" : "the report"} to ${resolve(o.out)}` };
  }
  return { data, text: body };
}
