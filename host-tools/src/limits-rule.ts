// The one rule for limits a device can honour (SPEC §3.3 SET LIMITS and SYNC): the
// firmware refuses the same values with 6A80 in both commands; the host checks first so
// it never signs an acknowledgement the device must refuse.
import type { Limits } from "../../protocol/src/formats.ts";

/** Why a device holding `balance` cannot take these limits, or null when it can. */
export function limitsProblem(limits: Limits, balance: number): string | null {
  if (limits.cap < balance) return `cap ${limits.cap} is below the balance ${balance}`;
  if (limits.maxPayment > limits.cap) return `per-payment maximum ${limits.maxPayment} is above the cap ${limits.cap}`;
  return null;
}
