// `wallet report --html FILE` (README "The `wallet` CLI"): the settlement report as ONE self-contained page
// that opens from a file with no network: per-merchant settled / pending / held (bar
// chart), offline value in circulation over time with its loads, spends and syncs (line
// chart), fraud cases with the vouchers they name, and the device table with a search box.
// Chart.js (pinned, a dependency) is inlined from node_modules; the ledger's numbers are
// embedded as JSON. Amounts are minor units, shown right-aligned with their currency.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { VOUCHER_KIND_D2D } from "../../protocol/portable/cbor-keys.ts";
import type { FraudCase, Ledger, VoucherRecord } from "./ledger/ledger.ts";
import type { Ctx } from "./commands/command.ts";
import { withLedger } from "./commands/common.ts";
import { notFound, storageError, usageError } from "./errors.ts";

const CURRENCIES: Record<number, string> = { 156: "CNY", 978: "EUR", 840: "USD", 826: "GBP", 392: "JPY", 344: "HKD" };
export const currencyCode = (n: number | undefined) => (n === undefined ? "" : (CURRENCIES[n] ?? String(n)));

/** minor units -> "CNY 1,234.56": the same text whatever the machine's locale */
export function amountText(minor: number, currency?: number): string {
  const neg = minor < 0;
  const a = Math.abs(minor);
  const units = String(Math.floor(a / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const code = currencyCode(currency);
  return `${code ? `${code} ` : ""}${neg ? "−" : ""}${units}.${String(a % 100).padStart(2, "0")}`;
}

export interface CirculationPoint {
  /** Unix seconds */
  time: number;
  kind: "load" | "spend" | "sync";
  deviceId: string;
  amount: number;
  /** offline value on the devices after this event */
  inCirculation: number;
}

export interface ReportData {
  generatedAt: string;
  currency: number | undefined;
  totals: { loaded: number; paidToMerchants: number; settled: number; held: number; inCirculation: number; pendingLoads: number; fraudCases: number; rejected: number };
  merchants: { payee: string; vouchers: number; settled: number; pending: number; held: number }[];
  circulation: CirculationPoint[];
  fraud: (FraudCase & { vouchers: (Pick<VoucherRecord, "hash" | "counter" | "amount" | "payee" | "status" | "time"> & { role: "named" | "same counter" })[] })[];
  devices: {
    deviceId: string;
    alias: string;
    formFactor: string;
    suite: string;
    state: string;
    lastSync: string;
    revoked: boolean;
    loaded: number;
    spent: number;
    received: number;
    vouchers: number;
    pending: number;
    fraud: number;
  }[];
}

const isoSeconds = (s: string | null | undefined) => (s ? Math.floor(Date.parse(s) / 1000) : NaN);

/** Everything the page shows, read from the ledger (no side effects). */
export async function reportData(l: Ledger, now = new Date()): Promise<ReportData> {
  const s = await l.summary();
  const devices = await l.devices();
  const byId = new Map(s.devices.map((d) => [d.deviceId, d]));
  const currency = devices[0]?.currency;

  // circulation: confirmed loads add value, vouchers at merchants take it away (a
  // device-to-device payment moves value between devices: circulation is unchanged), syncs are marks
  type Ev = Omit<CirculationPoint, "inCirculation"> & { order: number };
  const evs: Ev[] = [];
  const allVouchers: VoucherRecord[] = [];
  for (const d of devices) {
    const vs = await l.vouchersOf(d.deviceId, { cose: false });
    allVouchers.push(...vs);
    for (const v of vs) if (v.kind !== VOUCHER_KIND_D2D) evs.push({ time: v.time, kind: "spend", deviceId: d.deviceId, amount: v.amount, order: 1 });
    for (const a of await l.syncAcks(d.deviceId)) if (a.state !== "void") evs.push({ time: a.time, kind: "sync", deviceId: d.deviceId, amount: 0, order: 2 });
  }
  for (const ld of await l.loads()) {
    if (!ld.receipt) continue;
    const t = isoSeconds(ld.issuedAt);
    evs.push({ time: Number.isFinite(t) ? t : 0, kind: "load", deviceId: ld.deviceId, amount: ld.amount, order: 0 });
  }
  evs.sort((a, b) => a.time - b.time || a.order - b.order);
  let value = 0;
  const circulation = evs.map(({ order: _o, ...e }) => {
    value += e.kind === "load" ? e.amount : e.kind === "spend" ? -e.amount : 0;
    return { ...e, inCirculation: value };
  });

  const cases = await l.fraudCases();
  const fraud = cases.map((c) => {
    // the voucher the case names first, then the others of its device with the same counter (a fork's other branch)
    const named = allVouchers.filter((v) => v.deviceId === c.deviceId && ((c.voucherHash && v.hash === c.voucherHash) || (c.counter !== null && v.counter === c.counter)));
    named.sort((a, b) => Number(b.hash === c.voucherHash) - Number(a.hash === c.voucherHash) || a.time - b.time);
    return { ...c, vouchers: named.map(({ hash, counter, amount, payee, status, time }) => ({ hash, counter, amount, payee, status, time, role: hash === c.voucherHash ? ("named" as const) : ("same counter" as const) })) };
  });

  return {
    generatedAt: now.toISOString().replace(/\.\d+Z$/, "Z"),
    currency,
    totals: {
      loaded: s.loaded,
      paidToMerchants: s.paidToMerchants,
      settled: s.settledToMerchants,
      held: s.heldForFraud,
      inCirculation: s.inCirculation,
      pendingLoads: s.pendingLoads,
      fraudCases: s.fraudCases,
      rejected: s.rejected,
    },
    merchants: s.merchants,
    circulation,
    fraud,
    devices: devices.map((d) => {
      const x = byId.get(d.deviceId);
      return {
        deviceId: d.deviceId,
        alias: d.alias ?? "",
        formFactor: d.formFactor,
        suite: d.suite,
        state: d.state,
        lastSync: d.lastSync ?? "never",
        revoked: d.revoked,
        loaded: x?.loaded ?? 0,
        spent: x?.spent ?? 0,
        received: x?.received ?? 0,
        vouchers: x?.vouchers ?? 0,
        pending: x?.pending ?? 0,
        fraud: x?.fraud ?? 0,
      };
    }),
  };
}

function chartJs(): string {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve("chart.js"));
  return readFileSync(join(dir, "chart.umd.min.js"), "utf8");
}

/** JSON safe inside <script>: every "<" escaped, so no "</script" or "<!--" can end or bend it */
const jsonSafe = (s: string) => s.replace(/</g, "\\u003c");
/** code inlined in <script>: refused (not bent) if it could end the element */
function scriptSafe(s: string): string {
  if (/<\/script|<!--/i.test(s)) throw new Error("report: inlined script contains </script or <!--");
  return s;
}
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

const STYLE = `
* { box-sizing: border-box; animation: none !important; transition: none !important; }
body { margin: 0; padding: 16px 24px; font: 13px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1c2330; background: #f4f5f7; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 0 0 8px; }
.sub { color: #5a6372; margin-bottom: 14px; }
.tiles { display: flex; gap: 10px; flex-wrap: wrap; margin-bottom: 14px; }
.tile { background: #fff; border: 1px solid #d3d7de; border-radius: 6px; padding: 8px 12px; min-width: 150px; }
.tile .k { color: #5a6372; font-size: 11px; text-transform: uppercase; letter-spacing: .5px; }
.tile .v { font-size: 16px; font-weight: bold; text-align: right; font-family: "DejaVu Sans Mono", monospace; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
.panel { background: #fff; border: 1px solid #d3d7de; border-radius: 6px; padding: 12px; margin-bottom: 14px; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eceef1; text-align: left; white-space: nowrap; }
th { background: #f0f2f5; font-weight: bold; }
td.num, th.num { text-align: right; font-family: "DejaVu Sans Mono", monospace; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 11px; }
.fraud { color: #8c1c1c; font-weight: bold; } .muted { color: #7a8292; }
input[type=search] { font: inherit; padding: 3px 6px; width: 260px; margin-bottom: 8px; }
canvas { display: block; }
`;

const CLIENT = `
const data = JSON.parse(document.getElementById("report-data").textContent);
const CUR = ${JSON.stringify(CURRENCIES)};
const code = data.currency === undefined ? "" : (CUR[data.currency] || String(data.currency));
const amt = (m) => { const a = Math.abs(m); return (code ? code + " " : "") + (m < 0 ? "\\u2212" : "") + String(Math.floor(a / 100)).replace(/\\B(?=(\\d{3})+(?!\\d))/g, ",") + "." + String(a % 100).padStart(2, "0"); };
const el = (tag, attrs, ...kids) => { const e = document.createElement(tag); for (const [k, v] of Object.entries(attrs || {})) { if (k === "class") e.className = v; else e.setAttribute(k, v); } for (const c of kids) e.append(c instanceof Node ? c : document.createTextNode(String(c))); return e; };
Chart.defaults.font.family = '"DejaVu Sans", "Liberation Sans", Arial, sans-serif';
Chart.defaults.animation = false;
Chart.defaults.devicePixelRatio = 1;
const money = { callback: (v) => amt(Math.round(v)) };
const bar = new Chart(document.getElementById("merchants-chart"), {
  type: "bar",
  data: {
    labels: data.merchants.map((m) => m.payee),
    datasets: [
      { label: "settled", data: data.merchants.map((m) => m.settled), backgroundColor: "#2e7d4f" },
      { label: "pending", data: data.merchants.map((m) => m.pending), backgroundColor: "#d59b2a" },
      { label: "held (fraud)", data: data.merchants.map((m) => m.held), backgroundColor: "#b23b3b" },
    ],
  },
  options: { responsive: false, scales: { y: { beginAtZero: true, ticks: money } }, plugins: { tooltip: { callbacks: { label: (c) => c.dataset.label + ": " + amt(c.raw) } } } },
});
const pts = data.circulation;
const t0 = pts.length ? pts[0].time : 0;
const label = (p, i) => "#" + (i + 1) + " " + new Date(p.time * 1000).toISOString().slice(11, 19);
const line = new Chart(document.getElementById("circulation-chart"), {
  type: "line",
  data: {
    labels: pts.map(label),
    datasets: [
      { label: "in circulation", data: pts.map((p) => p.inCirculation), borderColor: "#244a8f", backgroundColor: "#244a8f", stepped: true, pointRadius: 0, borderWidth: 2 },
      { label: "loads", data: pts.map((p) => (p.kind === "load" ? p.inCirculation : null)), showLine: false, pointStyle: "triangle", pointRadius: 6, borderColor: "#2e7d4f", backgroundColor: "#2e7d4f" },
      { label: "spends", data: pts.map((p) => (p.kind === "spend" ? p.inCirculation : null)), showLine: false, pointStyle: "rectRot", pointRadius: 5, borderColor: "#b23b3b", backgroundColor: "#b23b3b" },
      { label: "syncs", data: pts.map((p) => (p.kind === "sync" ? p.inCirculation : null)), showLine: false, pointStyle: "circle", pointRadius: 5, borderColor: "#6b4fa0", backgroundColor: "#fff", borderWidth: 2 },
    ],
  },
  options: { responsive: false, scales: { y: { beginAtZero: true, ticks: money }, x: { title: { display: true, text: "events in time order (UTC)" }, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 6 } } },
    plugins: { tooltip: { callbacks: { label: (c) => c.dataset.label + ": " + amt(c.raw) + " (" + pts[c.dataIndex].kind + " " + pts[c.dataIndex].deviceId + (pts[c.dataIndex].amount ? " " + amt(pts[c.dataIndex].amount) : "") + ")" } } } },
});
window.reportCharts = { bar, line };

const fraudBody = document.getElementById("fraud-body");
for (const c of data.fraud) {
  const vs = c.vouchers.length ? c.vouchers : [null];
  vs.forEach((v, i) => fraudBody.append(el("tr", { "data-kind": c.kind },
    el("td", { class: "fraud" }, i ? "" : c.kind), el("td", {}, i ? "" : el("code", {}, c.deviceId)), el("td", { class: "num" }, i || c.counter === null ? "" : c.counter),
    el("td", {}, v ? el("code", { title: v.hash }, v.hash.slice(0, 16) + "\\u2026") : el("span", { class: "muted" }, "no voucher")), el("td", { class: "muted" }, v ? v.role : ""),
    el("td", { class: "num" }, v ? v.counter : ""), el("td", { class: "num" }, v ? amt(v.amount) : ""), el("td", {}, v ? el("code", {}, v.payee) : ""), el("td", {}, v ? v.status : ""),
    el("td", { class: "detail" }, i ? "" : c.detail))));
}
if (!data.fraud.length) fraudBody.append(el("tr", {}, el("td", { colspan: "10", class: "muted" }, "no fraud cases")));

const devBody = document.getElementById("devices-body");
for (const d of data.devices) {
  devBody.append(el("tr", { "data-search": [d.deviceId, d.alias, d.formFactor, d.suite, d.state].join(" ").toLowerCase() },
    el("td", {}, el("code", {}, d.deviceId)), el("td", {}, d.alias), el("td", {}, d.formFactor), el("td", {}, d.suite), el("td", {}, d.state + (d.revoked ? " (revoked)" : "")),
    el("td", { class: "num" }, amt(d.loaded)), el("td", { class: "num" }, amt(d.spent)), el("td", { class: "num" }, amt(d.received)), el("td", { class: "num" }, d.vouchers),
    el("td", { class: "num" }, d.pending), el("td", { class: d.fraud ? "num fraud" : "num" }, d.fraud), el("td", {}, d.lastSync)));
}
const search = document.getElementById("device-search");
const count = document.getElementById("device-count");
const apply = () => { const q = search.value.trim().toLowerCase(); let n = 0; for (const tr of devBody.rows) { const hit = !q || tr.dataset.search.includes(q); tr.hidden = !hit; n += hit; } count.textContent = n + " of " + data.devices.length + " devices"; };
search.addEventListener("input", apply);
apply();

const mBody = document.getElementById("merchants-body");
for (const m of data.merchants) mBody.append(el("tr", {}, el("td", {}, el("code", {}, m.payee)), el("td", { class: "num" }, m.vouchers), el("td", { class: "num" }, amt(m.settled)), el("td", { class: "num" }, amt(m.pending)), el("td", { class: "num" }, amt(m.held))));
`;

/** The page. `now` fixes the "generated at" line (tests, repeatable output). */
export async function reportHtml(l: Ledger, opts: { now?: Date; title?: string } = {}): Promise<string> {
  const data = await reportData(l, opts.now);
  const title = opts.title ?? "Offline wallet — settlement report";
  const t = data.totals;
  const tile = (k: string, v: string) => `<div class="tile"><div class="k">${esc(k)}</div><div class="v">${esc(v)}</div></div>`;
  const cur = data.currency;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body>
<h1>${esc(title)}</h1>
<div class="sub">ledger <code>${esc(l.path)}</code> · generated ${esc(data.generatedAt)} · amounts in ${esc(currencyCode(cur) || "minor units")}</div>
<div class="tiles">
${tile("loaded", amountText(t.loaded, cur))}${tile("paid to merchants", amountText(t.paidToMerchants, cur))}${tile("settled", amountText(t.settled, cur))}${tile("held for fraud", amountText(t.held, cur))}${tile("in circulation", amountText(t.inCirculation, cur))}${tile("pending loads", amountText(t.pendingLoads, cur))}${tile("fraud cases", String(t.fraudCases))}${tile("rejected vouchers", String(t.rejected))}
</div>
<div class="grid">
<section class="panel" id="merchants"><h2>Per merchant: settled / pending / held</h2><canvas id="merchants-chart" width="620" height="280"></canvas>
<table><thead><tr><th>merchant</th><th class="num">vouchers</th><th class="num">settled</th><th class="num">pending</th><th class="num">held</th></tr></thead><tbody id="merchants-body"></tbody></table></section>
<section class="panel" id="circulation"><h2>Offline value in circulation (loads, spends, syncs)</h2><canvas id="circulation-chart" width="620" height="280"></canvas>
<div class="muted">${data.circulation.length} events: ${data.circulation.filter((p) => p.kind === "load").length} loads, ${data.circulation.filter((p) => p.kind === "spend").length} spends at merchants, ${data.circulation.filter((p) => p.kind === "sync").length} syncs</div></section>
</div>
<section class="panel" id="fraud"><h2>Fraud cases and the vouchers they name</h2>
<table><thead><tr><th>case</th><th>device</th><th class="num">counter</th><th>voucher</th><th></th><th class="num">#</th><th class="num">amount</th><th>payee</th><th>status</th><th>detail</th></tr></thead><tbody id="fraud-body"></tbody></table></section>
<section class="panel" id="devices"><h2>Devices</h2><input type="search" id="device-search" placeholder="search id, alias, form, suite, state"> <span id="device-count" class="muted"></span>
<table><thead><tr><th>device</th><th>alias</th><th>form</th><th>suite</th><th>state</th><th class="num">loaded</th><th class="num">spent</th><th class="num">received</th><th class="num">vouchers</th><th class="num">pending</th><th class="num">fraud</th><th>last sync</th></tr></thead><tbody id="devices-body"></tbody></table></section>
<script type="application/json" id="report-data">${jsonSafe(JSON.stringify(data))}</script>
<script>${scriptSafe(chartJs())}</script>
<script>${scriptSafe(CLIENT)}</script>
</body></html>
`;
}

export async function writeReportHtml(l: Ledger, file: string, opts: { now?: Date } = {}): Promise<number> {
  const html = await reportHtml(l, opts);
  try {
    writeFileSync(file, html);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    if (code === "ENOENT") throw notFound(`report: cannot write ${file}: its directory does not exist`);
    throw storageError(`report: cannot write ${file} (${code || (e as Error).message})`);
  }
  return Buffer.byteLength(html);
}

/** `wallet report --html FILE`: writes the page; the text report still goes to stdout, this note to stderr. */
export async function writeReportPage(ctx: Ctx, file: string): Promise<void> {
  if (!file) throw usageError("--html needs a FILE");
  const bytes = await withLedger(ctx, (l) => writeReportHtml(l, file), false);
  ctx.log(`report: page written to ${file} (${bytes} bytes, self-contained)`);
}
