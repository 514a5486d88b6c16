// Text output helpers for the CLI: aligned tables, money, a progress bar on stderr.

/** Left-aligned text columns, right-aligned numbers; `cols` picks and orders the keys. */
export function table(rows: Record<string, unknown>[], cols: string[], headers: string[] = cols): string {
  const cells = rows.map((r) => cols.map((c) => (r[c] === undefined || r[c] === null ? "" : String(r[c]))));
  const widths = cols.map((_, i) => Math.max(headers[i].length, ...cells.map((row) => row[i].length)));
  const numeric = cols.map((c) => rows.length > 0 && rows.every((r) => typeof r[c] === "number" || r[c] === undefined || r[c] === null));
  const line = (vals: string[]) => vals.map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

/** Minor units → "12.34" (two decimals: every currency in this system uses cents). */
export function money(minor: number): string {
  const neg = minor < 0;
  const a = Math.abs(minor);
  return `${neg ? "-" : ""}${Math.floor(a / 100)}.${String(a % 100).padStart(2, "0")}`;
}

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
