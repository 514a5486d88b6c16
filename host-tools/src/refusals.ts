// What a device's refusal means and what to do next, in words (the CLI's error printer,
// cli-errors.ts): ISO 7816-4 status words (protocol/portable/sw.ts) and the applet's
// refusal reasons from GET STATUS (protocol/portable/limits.ts REASON_*, SPEC §3). One
// table, so every command says the same thing for the same refusal.
import * as SW from "../../protocol/portable/sw.ts";
import * as L from "../../protocol/portable/limits.ts";
import { swTriesLeft } from "../../protocol/src/sw.ts";

/** REASON_* → the refusal in words and the fix. */
export const REASON_TEXT: Record<number, string> = {
  [L.REASON_BALANCE]: "insufficient offline balance: load value first (`wallet load DEVICE AMOUNT`)",
  [L.REASON_MAX_PAYMENT]: "above the device's per-payment maximum: pay less, or raise it (`wallet devices limits DEVICE --max-payment A`, then `wallet sync`)",
  [L.REASON_COUNT_SINCE_SYNC]: "too many payments since the last sync: run `wallet sync`",
  [L.REASON_AMOUNT_SINCE_SYNC]: "too much paid since the last sync: run `wallet sync`",
  [L.REASON_SYNC_OVERDUE]: "sync overdue: run `wallet sync`",
  [L.REASON_LOG_FULL]: "log full: sync first (`wallet sync`)",
  [L.REASON_CAP]: "the balance would exceed the device's cap: load less, or raise the cap (`wallet devices limits DEVICE --cap A`, then `wallet sync`)",
  [L.REASON_EXPIRED]: "the authorization has expired: run the command again",
  [L.REASON_REPLAY]: "not fresh (a replayed load, sync or challenge): run the command again",
  [L.REASON_FOREIGN]: "the document names another device or payee: present the right device",
  [L.REASON_SIGNATURE]: "a signature or certificate did not verify: check the issuer keys (`wallet issuer show`)",
  [L.REASON_BLOCKED]: "the payer is on the block list",
  [L.REASON_HOLDER]: "holder verification missing or refused: give the PIN (`--pin`) or confirm on the device",
  [L.REASON_CURRENCY]: "the device holds another currency",
  [L.REASON_TIME]: "the time is before the latest the device has seen, or outside its certificate: check this computer's clock",
  [L.REASON_CORRUPT]: "the device's stored state failed its integrity check: take the device out of service",
  [L.REASON_FORMAT]: "the device did not accept the document's format: update host-tools or the firmware",
  [L.REASON_ISSUER_KEY]: "the device does not know the issuer key: sync it (`wallet sync`) or re-personalize",
};

/** The next step for a status word (and the device's REASON_* when known), or undefined. */
export function refusalHint(sw: number, reason?: number): string | undefined {
  const tries = swTriesLeft(sw);
  if (tries !== null) return tries === 0 ? "wrong PIN, no tries left: PIN blocked, unblock it with the PUK (`wallet pin unblock`)" : `wrong PIN, ${tries} ${tries === 1 ? "try" : "tries"} left`;
  if (reason !== undefined && REASON_TEXT[reason]) return REASON_TEXT[reason];
  switch (sw) {
    case SW.SW_AUTH_METHOD_BLOCKED:
      return "PIN blocked: unblock with the PUK (`wallet pin unblock`)";
    case SW.SW_NOT_ENOUGH_MEMORY:
      return "log full: sync first (`wallet sync`)";
    default:
      return undefined;
  }
}

/** REASON_* by name ("REASON_SYNC_OVERDUE" → 5), for messages that carry the name. */
export function reasonByName(name: string): number | undefined {
  const v = (L as Record<string, unknown>)[name];
  return name.startsWith("REASON_") && typeof v === "number" ? v : undefined;
}

/**
 * A device refusal as the device explains it: after a status word that has a REASON_*
 * (6985, 6A84, 6A80, 6984, 6A88, 6982), the reason from GET STATUS, read on the same
 * channel. Returns undefined when there is none (or the device cannot tell).
 */
export async function askReason(status: () => Promise<{ lastReason: number }>): Promise<number | undefined> {
  try {
    const r = (await status()).lastReason;
    return r ? r : undefined;
  } catch {
    return undefined;
  }
}

export const SW_WITH_REASON = new Set<number>([
  SW.SW_CONDITIONS_NOT_SATISFIED, SW.SW_NOT_ENOUGH_MEMORY, SW.SW_WRONG_DATA, SW.SW_DATA_INVALID, SW.SW_REFERENCED_DATA_NOT_FOUND,
  SW.SW_SECURITY_STATUS_NOT_SATISFIED,
]);
