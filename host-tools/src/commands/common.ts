// Shared pieces of the CLI commands: opening the ledger, device lookup, report text.
import { existsSync } from "node:fs";
import { ensureHome, type Ctx } from "./command.ts";
import { notFound } from "../errors.ts";
import { money, table } from "../format.ts";
import type { DeviceRecord, Ledger, LedgerSummary } from "../ledger/ledger.ts";
import { lockTimeoutMs, SqliteLedger } from "../ledger/sqlite.ts";

/**
 * Opens the ledger: a SQLite file, or a PostgreSQL server when --ledger / WALLET_LEDGER is
 * a postgres:// URL (host-tools/README.md; the pg client is loaded only then). Only the
 * commands that create state (`issuer init`) pass `create`: for every other command a
 * missing ledger is a mistyped --home or --ledger, and making a fresh empty one there
 * would hide it (exit 6, not found).
 */
export async function openLedger(ctx: Ctx, create = false): Promise<Ledger> {
  const lockMs = lockTimeoutMs(ctx.env);
  if (isPostgresUrl(ctx.ledgerPath)) {
    const { PostgresLedger, checkPostgresUrl } = await import("../ledger/postgres.ts");
    return PostgresLedger.open(checkPostgresUrl(ctx.ledgerPath), { create, lockTimeoutMs: lockMs });
  }
  if (!create && !existsSync(ctx.ledgerPath)) throw notFound(`ledger: ${ctx.ledgerPath} not found (wrong --home? \`wallet issuer init\` creates it)`);
  if (create) ensureHome(ctx);
  return SqliteLedger.open(ctx.ledgerPath, { lockTimeoutMs: lockMs });
}

const isPostgresUrl = (s: string) => /^postgres(ql)?:\/\//i.test(s);

export async function withLedger<T>(ctx: Ctx, fn: (l: Ledger) => Promise<T>, create = false): Promise<T> {
  const l = await openLedger(ctx, create);
  try {
    return await fn(l);
  } finally {
    await l.close();
  }
}

export async function mustDevice(l: Ledger, key: string): Promise<DeviceRecord> {
  const d = await l.device(key);
  if (!d) throw notFound(`unknown device "${key}" (see \`wallet devices list\`)`);
  return d;
}

export { numberOption, parseAmountArg, parseNumber, RANGES } from "./numbers.ts";

export const deviceName = (d: { deviceId: string; alias: string | null }) => (d.alias ? `${d.alias} (${d.deviceId})` : d.deviceId);

export function summaryText(s: LedgerSummary): string {
  const out = [
    "Settlements per merchant",
    table(s.merchants.map((m) => ({ merchant: m.payee, vouchers: m.vouchers, settled: money(m.settled), pending: money(m.pending), held: money(m.held) })), ["merchant", "vouchers", "settled", "pending", "held"]),
    "",
    "Devices",
    table(
      s.devices.map((d) => ({ device: deviceName(d), loaded: money(d.loaded), spent: money(d.spent), received: money(d.received), vouchers: d.vouchers, pending: d.pending, fraud: d.fraud, revoked: d.revoked ? "yes" : "" })),
      ["device", "loaded", "spent", "received", "vouchers", "pending", "fraud", "revoked"],
    ),
    "",
    `fraud cases: ${s.fraudCases}   rejected vouchers: ${s.rejected}   loaded (confirmed by the devices): ${money(s.loaded)}   spent at merchants: ${money(s.paidToMerchants)} (settled ${money(s.settledToMerchants)}, held for fraud ${money(s.heldForFraud)})`,
    `transfers unclaimed (credited to the payee's account): ${money(s.unclaimedTransfers)}   in flight: ${money(s.transfersInFlight)}   loads issued, not yet confirmed: ${money(s.pendingLoads)}   offline value on devices: ${money(s.inCirculation)}`,
  ];
  return out.join("\n");
}
