// Limit options shared by `personalize` and `devices limits` (DESIGN.md §4): amounts in
// currency units with two decimals ("500.00"), counts and seconds as whole numbers.
import type { Values } from "./command.ts";
import type { Limits } from "../ledger/ledger.ts";
import { parseAmountArg, parseNumber, RANGES } from "./numbers.ts";

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
    out[key] = parseAmountArg(String(o[opt]), `--${opt}`, { min: 0 });
  }
  for (const [opt, key] of COUNTS) {
    if (o[opt] === undefined) continue;
    out[key] = parseNumber(String(o[opt]), `--${opt}`, opt === "sync-interval" ? RANGES.seconds : RANGES.count);
  }
  return out;
}
