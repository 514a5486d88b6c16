// Limit options shared by `personalize` and `devices limits` (DESIGN.md §4): amounts in
// currency units with two decimals ("500.00"), counts and seconds as whole numbers.
import type { Values } from "../cli.ts";
import { usageError } from "../errors.ts";
import { parseAmount } from "../format.ts";
import type { Limits } from "../ledger/ledger.ts";

export const LIMIT_OPTIONS = {
  cap: { type: "string" }, "max-payment": { type: "string" }, "no-cvm": { type: "string" }, "max-count": { type: "string" },
  "max-amount": { type: "string" }, "sync-interval": { type: "string" },
} as const;

const AMOUNTS: [keyof typeof LIMIT_OPTIONS, keyof Limits][] = [["cap", "cap"], ["max-payment", "maxPayment"], ["no-cvm", "noCvm"], ["max-amount", "maxAmountSinceSync"]];
const COUNTS: [keyof typeof LIMIT_OPTIONS, keyof Limits][] = [["max-count", "maxCountSinceSync"], ["sync-interval", "syncInterval"]];

/** `base` with the limits given as options replaced. */
export function limitsFrom(o: Values, base: Limits): Limits {
  const out = { ...base };
  for (const [opt, key] of AMOUNTS) {
    if (o[opt] === undefined) continue;
    const v = parseAmount(String(o[opt]));
    if (v === undefined) throw usageError(`--${opt} must be an amount like 500.00`);
    out[key] = v;
  }
  for (const [opt, key] of COUNTS) {
    if (o[opt] === undefined) continue;
    if (!/^\d+$/.test(String(o[opt]))) throw usageError(`--${opt} must be a whole number`);
    out[key] = Number(o[opt]);
  }
  return out;
}
