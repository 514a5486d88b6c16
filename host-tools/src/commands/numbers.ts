// Every number the `wallet` CLI takes (options, arguments, batch-file cells) is parsed and
// range-checked here, so that "abc", "1e3", "-1" or "5000 workers" are one clear line
// before anything is opened or touched. Amounts are decimal currency units with at most
// two places, held in minor units (u32 on the device, SPEC §3); counts and seconds are
// whole numbers (u32 unless said otherwise).
import { availableParallelism } from "node:os";
import { usageError, type WalletError } from "../errors.ts";
import { CURRENCIES, money, parseAmount } from "../format.ts";

export const U32_MAX = 0xffff_ffff;

export interface NumberSpec {
  min: number;
  max: number;
  /** whole numbers only (default true) */
  integer?: boolean;
  /** shown after the range: "seconds", "workers" */
  unit?: string;
}

/** The ranges of the CLI's numbers, by kind: the `--help` texts quote them. */
export const RANGES = {
  workers: { min: 1, max: Math.max(16, 4 * availableParallelism()), unit: "worker threads" },
  waitSeconds: { min: 0.1, max: 3600, integer: false, unit: "seconds" },
  currency: { min: 1, max: 999, unit: "(ISO 4217 numeric code)" },
  authFailures: { min: 1, max: 9 },
  count: { min: 0, max: U32_MAX },
  seconds: { min: 0, max: U32_MAX, unit: "seconds" },
  port: { min: 1, max: 65535 },
} satisfies Record<string, NumberSpec>;

type MakeError = (msg: string) => WalletError;

function rangeText(s: NumberSpec): string {
  return `${s.integer === false ? "a number" : "a whole number"} from ${s.min} to ${s.max}${s.unit ? ` ${s.unit}` : ""}`;
}

/**
 * `raw` as a number in `spec`'s range, or `err` (a usage error by default) naming `what`
 * ("--workers", "cells.csv line 3: currency") and the range.
 */
export function parseNumber(raw: string, what: string, spec: NumberSpec, err: MakeError = usageError): number {
  const s = raw.trim();
  const ok = spec.integer === false ? /^\d+(\.\d+)?$/.test(s) : /^\d+$/.test(s);
  const v = ok ? Number(s) : NaN;
  if (!Number.isFinite(v) || v < spec.min || v > spec.max) throw err(`${what} must be ${rangeText(spec)}, got "${raw}"`);
  return v;
}

/** A currency: its ISO 4217 numeric code ("156") or alphabetic code ("CNY", any case). */
export function parseCurrency(raw: string, what: string, err: MakeError = usageError): number {
  const alpha = raw.trim().toUpperCase();
  if (/^[A-Z]{3}$/.test(alpha)) {
    const hit = Object.entries(CURRENCIES).find(([, c]) => c === alpha);
    if (hit) return Number(hit[0]);
    throw err(`${what}: unknown currency "${raw}" (give the ISO 4217 numeric code, e.g. 156 for CNY)`);
  }
  return parseNumber(raw, what, RANGES.currency, err);
}

/** An option's value through parseNumber; `dflt` when the option was not given. */
export function numberOption<D extends number | undefined>(o: Record<string, unknown>, key: string, spec: NumberSpec, dflt: D): number | D {
  const raw = o[key];
  if (raw === undefined) return dflt;
  return parseNumber(String(raw), `--${key}`, spec);
}

/** An amount ("12.50", minor units out), from `min` (default 0.01) up to the u32 maximum. */
export function parseAmountArg(raw: string | undefined, what: string, opts: { min?: number; err?: MakeError } = {}): number {
  const min = opts.min ?? 1;
  const v = raw === undefined ? undefined : parseAmount(raw);
  if (v === undefined || v < min)
    throw (opts.err ?? usageError)(`${what} must be an amount like 12.50 (${money(min)} to ${money(U32_MAX)}), got "${raw ?? ""}"`);
  return v;
}
