// Crash safety of `wallet pos charge` (DESIGN §8; SPEC §5.10): the real CLI on a simulated
// card kept in a flash image file, killed with SIGKILL at random points around PAY (the
// moment the card commits and the voucher exists only in the process); then `wallet pos
// recover`, as the error or the next tap would. Every voucher the card made out to this
// merchant must be in the outbox: 0 debited on the card and missing after recovery.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SqliteLedger } from "../../host-tools/src/ledger/sqlite.ts";
import { runCaptured } from "../../host-tools/src/run-captured.ts";
import { count, figures } from "./report.ts";

const home = mkdtempSync(join(tmpdir(), "pos-crash-"));
const env = { ...process.env, WALLET_PASSPHRASE: "pos crash passphrase", WALLET_HOME: home };
const img = join(home, "card.img");
const MERCHANT = "00000000000000d1";
const WALLET = join(import.meta.dirname, "../../host-tools/bin/wallet.js");

async function ok(...argv: string[]) {
  const r = await runCaptured([...argv, "--json"], env);
  expect(r.code, `${argv.join(" ")}: ${r.err}`).toBe(0);
  return JSON.parse(r.out);
}

/** `pos charge` with --trace; SIGKILL `delayMs` after the PAY command leaves (or at a random moment if it never does). */
function chargeAndKill(delayMs: number): Promise<{ killed: boolean; afterPay: boolean }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [WALLET, "pos", "charge", "1.00", "--sim", img, "--trace"], { env, stdio: ["ignore", "ignore", "pipe"] });
    let afterPay = false;
    let killed = false;
    let err = "";
    p.stderr.on("data", (b: Buffer) => {
      err += b.toString();
      if (!afterPay && /> \S+.* 80360000/.test(err)) {
        afterPay = true;
        setTimeout(() => ((killed = p.kill("SIGKILL")), undefined), delayMs);
      }
    });
    p.on("exit", () => resolve({ killed, afterPay }));
  });
}

describe("crash safety of pos charge", () => {
  it("kill -9 around PAY: 0 vouchers debited on the card and missing after pos recover", async () => {
    await ok("issuer", "init");
    await ok("personalize", "--sim", img, "--create", "--profile", "card", "--account", "6222-crash", "--suite", "p256", "--form", "card", "--pin", "2468", "--alias", "crash");
    await ok("issuer", "export-public", "--out", join(home, "trust.json"));
    await ok("pos", "init", "--merchant", MERCHANT, "--trust", join(home, "trust.json"), "--terminal", "crash-1");
    const kills = count(12, 200);
    let landed = 0;
    let recovered = 0;
    let missing = 0;
    let loaded = 0;
    void loaded;
    for (let i = 0; i < kills; i++) {
      if (i % 40 === 0) {
        // room under the limits: value, and a sync (the log holds 64 entries)
        if (i) await ok("sync", "--sim", img);
        await ok("load", "crash", "40.00", "--sim", img);
        loaded += 4_000;
      }
      // kill points from the moment PAY leaves the host up to its answer and the outbox write
      const r = await chargeAndKill(Math.random() < 0.5 ? Math.floor(Math.random() * 8) : Math.floor(Math.random() * 60));
      if (r.killed) landed++;
      const rec = await ok("pos", "recover", "--sim", img);
      recovered += rec.recovered.length;
    }
    // the whole truth: sync the card's log into the ledger and compare it with the outbox
    await ok("sync", "--sim", img);
    await ok("pos", "export", "--out", join(home, "export.json"));
    const exported = new Set((JSON.parse(readFileSync(join(home, "export.json"), "utf8")).vouchers as { cose: string }[]).map((v) => v.cose));
    const rc = await ok("reconcile", join(home, "export.json"));
    const show = await ok("devices", "show", "crash");
    const toMerchant = (show.vouchers as { counter: number; payee: string; hash: string; kind: number }[]).filter((v) => v.kind === 0 && v.payee === MERCHANT);
    const ledger = SqliteLedger.open(join(home, "ledger.sqlite"));
    for (const v of toMerchant) if (!exported.has(Buffer.from((await ledger.voucher(v.hash))!.cose).toString("hex"))) missing++;
    const open = (await ledger.fraudCases()).length;
    await ledger.close();
    figures("pos-crash", [
      { section: "Crash safety", name: "pos charge: kill -9 points after PAY left the host (half 0–8 ms later, half 0–60 ms)", value: `${landed} of ${kills} runs`, ok: landed > 0 },
      { section: "Crash safety", name: "pos charge: vouchers on the card to this merchant / recovered into the outbox by pos recover", value: `${toMerchant.length} / ${recovered}`, ok: true },
      { section: "Crash safety", name: "pos charge: vouchers debited on the card and missing after pos recover", value: missing, required: "0", ok: missing === 0 },
      { section: "Crash safety", name: "pos charge: fraud cases after reconciling the outbox", value: open, required: "0", ok: open === 0 },
    ]);
    expect(rc.result.rejected).toBe(0);
    expect(open).toBe(0);
    expect(landed).toBeGreaterThan(0);
    expect(missing).toBe(0);
    expect(loaded).toBeGreaterThan(0);
  }, 1_800_000);
});
