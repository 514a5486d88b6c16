// Text output helpers for the CLI: aligned tables, money, a progress bar on stderr.

const AMOUNT = /^-?\d+(?:\.\d{2})?(?: [A-Z0-9]{3})?$/;

/** CSV (RFC 4180): a header row, then one row per record; a field with , " or a newline is quoted. */
export function csv(rows: Record<string, unknown>[], cols: string[]): string {
  const cell = (v: unknown) => {
    const s = v === undefined || v === null ? "" : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.join(","), ...rows.map((r) => cols.map((c) => cell(r[c])).join(","))].join("\r\n") + "\r\n";
}

/** A time from the ledger (ISO string, Unix seconds or null) as ISO 8601 UTC without milliseconds. */
export function isoAny(t: string | number | null | undefined): string {
  if (t === null || t === undefined || t === "") return "";
  if (typeof t === "number" || /^\d+$/.test(t)) return isoTime(Number(t));
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Left-aligned text columns, right-aligned numbers; `cols` picks and orders the keys. */
export function table(rows: Record<string, unknown>[], cols: string[], headers: string[] = cols): string {
  const cells = rows.map((r) => cols.map((c) => (r[c] === undefined || r[c] === null ? "" : String(r[c]))));
  const widths = cols.map((_, i) => Math.max(headers[i].length, ...cells.map((row) => row[i].length)));
  // numbers and amounts ("12.50", "12.50 CNY") are right-aligned, so their decimal points line up
  const numeric = cols.map((c) => rows.length > 0 && rows.every((r) => typeof r[c] === "number" || r[c] === undefined || r[c] === null || r[c] === "" || (typeof r[c] === "string" && AMOUNT.test(r[c] as string))));
  const line = (vals: string[]) => vals.map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

/** Minor units → "12.34" (two decimals: every currency in this system uses cents). */
export function money(minor: number): string {
  const neg = minor < 0;
  const a = Math.abs(minor);
  return `${neg ? "-" : ""}${Math.floor(a / 100)}.${String(a % 100).padStart(2, "0")}`;
}

/** ISO 4217 alphabetic codes of the numeric codes this system meets (others print as the number). */
export const CURRENCIES: Record<number, string> = {
  156: "CNY", 344: "HKD", 446: "MOP", 840: "USD", 978: "EUR", 826: "GBP", 392: "JPY", 410: "KRW", 702: "SGD", 756: "CHF", 36: "AUD", 124: "CAD", 901: "TWD",
};

/** "CNY" for 156; the number itself when the code is not in the table. */
export const currencyCode = (n: number): string => CURRENCIES[n] ?? String(n).padStart(3, "0");

/** "1234.50 CNY": an amount with its currency code. */
export const moneyIn = (minor: number, currency: number): string => `${money(minor)} ${currencyCode(currency)}`;

/** Unix seconds → "2026-12-01T22:00:00Z" (ISO 8601, UTC); "" for 0 or absent. */
export const isoTime = (t: number | null | undefined): string => (t ? new Date(t * 1000).toISOString().replace(/\.000Z$/, "Z") : "");

/** Parses "12.34" or "1234c"? No: amounts are decimal with ≤ 2 places, returned in minor units. */
export function parseAmount(s: string): number | undefined {
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(s.trim());
  if (!m) return undefined;
  const v = Number(m[1]) * 100 + Number((m[2] ?? "").padEnd(2, "0"));
  return v > 0xffffffff ? undefined : v;
}

/** A one-line progress bar on stderr (only on a terminal, so logs and tests stay clean). */
export class Progress {
  private last = 0;
  constructor(
    private total: number,
    private label: string,
    private enabled = !!process.stderr.isTTY,
  ) {}
  tick(done: number, note = ""): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (done < this.total && now - this.last < 100) return;
    this.last = now;
    const w = 30;
    const filled = this.total ? Math.round((done / this.total) * w) : w;
    process.stderr.write(`\r${this.label} [${"#".repeat(filled)}${".".repeat(w - filled)}] ${done}/${this.total} ${note}`.padEnd(79));
    if (done >= this.total) process.stderr.write("\n");
  }
}
