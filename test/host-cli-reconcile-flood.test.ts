// `wallet reconcile` on a flood of fraud cases (SPEC §5.11 "Reading"): the report lists the
// first REPORTED_CASES cases and says how many more there are and where they all are; the
// ledger holds every one. Real CLI in-process (runCaptured) on a ledger that trusts a test
// issuer whose paper device signed the vouchers.
import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hex } from "../host-tools/src/docs.ts";
import { SqliteLedger } from "../host-tools/src/ledger/sqlite.ts";
import { POS_EXPORT_FORMAT, REPORTED_CASES } from "../host-tools/src/reconcile.ts";
import { runCaptured } from "../host-tools/src/run-captured.ts";
import { DEFAULT_LIMITS, PaperDevice } from "../host-tools/src/synthetic.ts";
import { issuer } from "./support/paper-files.ts";

describe("wallet reconcile: a flood of fraud cases", () => {
  it(`${REPORTED_CASES + 1} replays: ${REPORTED_CASES} case lines, one line counting the rest, every case in the ledger`, { timeout: 120_000 }, async () => {
    const home = mkdtempSync(join(tmpdir(), "cli-flood-"));
    const iss = issuer("p256");
    const d = PaperDevice.create(iss, { limits: { ...DEFAULT_LIMITS, maxCountSinceSync: 1_000_000, maxAmountSinceSync: 0xffffffff } });
    const l = SqliteLedger.open(join(home, "ledger.sqlite"));
    await l.putIssuerKeys([{ kid: hex(iss.kid), suite: "p256", pub: hex(iss.key!.pub), status: "active" }]);
    await l.putDevice(d.record());
    await l.close();
    // made out to merchant …b2, presented by merchant …b1: each one a replay
    const other = Buffer.from("00000000000000b2", "hex");
    const vouchers = Array.from({ length: REPORTED_CASES + 1 }, (_, i) => ({ cose: hex(d.pay(1, other, 1_750_000_000 + i)), receivedAt: "x" }));
    const file = join(home, "pos-flood.json");
    writeFileSync(file, JSON.stringify({ format: POS_EXPORT_FORMAT, version: 1, terminal: "t", merchant: "00000000000000b1", exportedAt: "x", vouchers }));
    const env = { ...process.env, WALLET_HOME: home, WALLET_PASSPHRASE: "flood test passphrase" };
    const r = await runCaptured(["reconcile", file], env);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split("\n");
    expect(lines.filter((x) => x.startsWith("FRAUD replay "))).toHaveLength(REPORTED_CASES);
    expect(lines).toContain(`… and 1 more new fraud cases (${REPORTED_CASES + 1} in all): \`wallet report\` lists every case`);
    const j = JSON.parse((await runCaptured(["report", "--json"], env)).out);
    expect(j.fraudCases).toHaveLength(REPORTED_CASES + 1);
    expect(j.summary.merchants).toEqual([expect.objectContaining({ payee: hex(other), vouchers: REPORTED_CASES + 1 })]);
  });
});
