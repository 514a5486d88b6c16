// The limits a device can honour (SPEC §3.3 SET LIMITS and SYNC), on the host: the same
// rule as the firmware's one check (firmware/assembly/applet/state.ts limitsHonourable),
// so the issuer refuses before sending what the device would answer with 6A80.
//   - cap ≥ the device's current balance (a cap below it could never be met);
//   - max payment ≤ cap.
// Other relations (no-CVM, the since-sync totals above the cap or the max payment) only
// make a limit inert; the device accepts them, and so does this rule.
import type { Limits } from "../../protocol/src/formats.ts";

const U32_MAX = 0xffffffff;
// every field once (the compiler checks none is missing); the wire order is perso.ts LIMIT_ORDER
const FIELDS = Object.keys({
  cap: 0, maxPayment: 0, noCvm: 0, maxCountSinceSync: 0, maxAmountSinceSync: 0, syncInterval: 0,
} satisfies Record<keyof Limits, 0>) as (keyof Limits)[];

/** Why the device would refuse `limits` at `balance` (SET LIMITS or a SYNC ack's new limits), or null. */
export function limitsProblem(limits: Limits, balance: number): string | null {
  for (const k of FIELDS) {
    const v = limits[k];
    if (!Number.isInteger(v) || v < 0 || v > U32_MAX) return `limits: ${k} ${v} is not an integer 0..${U32_MAX}`;
  }
  if (limits.cap < balance) return `limits: cap ${limits.cap} is below the balance ${balance}`;
  if (limits.maxPayment > limits.cap) return `limits: max payment ${limits.maxPayment} is above the cap ${limits.cap}`;
  return null;
}
