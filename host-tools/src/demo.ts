// `npm run demo` (README "Two commands"): the end-to-end offline payment scenario, in-process,
// with no services: issuer init; personalize a card, a band and a watch (real
// firmware.wasm in simulated devices, over the same APDUs a reader carries); loads;
// offline payments at two POS terminals; a device-to-device transfer; a cloned card (its
// flash image copied) spends twice; sync and reconcile; the report shows the settlements
// and the caught clone. Prints each step; exits 0 when everything worked.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cloneDevice, createDevice } from "offline-wallet/wearable-sim";
import { SimChannel } from "./channels/sim.ts";
import { summaryText } from "./commands/common.ts";
import { hex } from "./docs.ts";
import { load, personalize, posCharge, sync, transfer, type PersonalizeRequest } from "./flows.ts";
import { money } from "./format.ts";
import { Keystore } from "./keystore.ts";
import { SqliteLedger } from "./ledger/sqlite.ts";
import { PosOutbox } from "./pos-outbox.ts";
import { reconcile } from "./reconcile.ts";
import { CURRENCY_CNY, DEFAULT_LIMITS } from "./synthetic.ts";

const say = (s: string) => process.stdout.write(s + "\n");
let n = 0;
const step = (s: string) => say(`\n[${++n}] ${s}`);

const dir = mkdtempSync(join(tmpdir(), "wallet-demo-"));
const t0 = Date.now();
try {
  step("issuer init: SM2 and P-256 issuer CA keys + SCP03 master keys, sealed with scrypt + AES-256-GCM");
  const ks = Keystore.create(join(dir, "keystore.json"), "demo passphrase");
  for (const k of ks.keys()) say(`    ${k.suite.padEnd(4)} issuer key ${k.kid} (${k.status})`);
  const ledger = SqliteLedger.open(join(dir, "ledger.sqlite"));
  await ledger.putIssuerKeys(ks.keys().map(({ kid, suite, pub, status }) => ({ kid, suite, pub, status })));
  await ledger.audit("issuer-init", { keys: ks.keys().map((k) => k.kid) });

  step("personalize a card (P-256), a band (SM2) and a watch (P-256) through SCP03");
  const dev = {
    card: createDevice({ profile: "card", seed: "demo-card" }),
    band: createDevice({ profile: "band", seed: "demo-band", autoConfirm: "accept" }),
    watch: createDevice({ profile: "watch", seed: "demo-watch", autoConfirm: "accept" }),
  };
  const ch = Object.fromEntries(Object.entries(dev).map(([k, d]) => (d.powerOn(), [k, new SimChannel(d)]))) as Record<keyof typeof dev, SimChannel>;
  const base = { currency: CURRENCY_CNY, limits: DEFAULT_LIMITS };
  const reqs: Record<keyof typeof dev, PersonalizeRequest> = {
    card: { ...base, account: "6222 0200 0000 0001", suite: "p256", formFactor: "card", pin: "1234", alias: "alice-card" },
    band: { ...base, account: "6222 0200 0000 0002", suite: "sm2", formFactor: "band", alias: "bob-band" },
    watch: { ...base, account: "6222 0200 0000 0003", suite: "p256", formFactor: "watch", alias: "carol-watch" },
  };
  const ids: Record<string, string> = {};
  for (const k of Object.keys(dev) as (keyof typeof dev)[]) {
    const r = await personalize(ch[k], ks, ledger, reqs[k]);
    ids[k] = r.deviceId;
    say(`    ${reqs[k].alias!.padEnd(12)} device ${r.deviceId}  ${r.suite}  token ${r.token.slice(0, 8)}…  PIN ${k === "card" ? "1234" : "(generated)"}  steps: ${r.steps.join(" → ")}`);
  }

  step("load value (issuer-signed load authorizations; the tool refuses anything above the cap)");
  for (const [k, amount] of [["card", 50_000], ["band", 30_000], ["watch", 20_000]] as const) {
    const r = await load(ch[k], ks, ledger, amount);
    say(`    ${reqs[k].alias!.padEnd(12)} +${money(amount)}  balance ${money(r.balance)}  (load seq ${r.seq})`);
  }
  try {
    await load(ch.card, ks, ledger, 60_000);
  } catch (e) {
    say(`    refused as expected: ${(e as Error).message}`);
  }

  step("offline payments at two POS terminals (no network: each verifies the voucher itself)");
  const trusted = ks.keys().map(({ kid, suite, pub }) => ({ kid, suite, pub }));
  const pos = {
    A: PosOutbox.open(join(dir, "pos-A.sqlite")),
    B: PosOutbox.open(join(dir, "pos-B.sqlite")),
  };
  pos.A.configure({ merchant: "00000000000000a1", terminal: "bakery-1", currency: CURRENCY_CNY, trusted, revoked: [], revocationVersion: 0 });
  pos.B.configure({ merchant: "00000000000000b2", terminal: "books-1", currency: CURRENCY_CNY, trusted, revoked: [], revocationVersion: 0 });
  const charge = async (who: keyof typeof dev | "clone", c: SimChannel, at: keyof typeof pos, amount: number, pin?: string) => {
    const p = await posCharge(c, pos[at].config(), amount, { pin, store: (x) => pos[at].store(x) });
    say(`    ${String(who).padEnd(12)} pays ${money(amount).padStart(7)} at POS ${at}: APPROVED  voucher #${p.counter} ${p.voucherHash.slice(0, 12)}…  balance ${money(p.balanceAfter)}${pin ? "  (PIN verified: above the no-CVM limit)" : ""}`);
    return p;
  };
  await charge("card", ch.card, "A", 1_250);
  await charge("band", ch.band, "B", 3_400);
  await charge("watch", ch.watch, "A", 990);
  await charge("card", ch.card, "B", 7_500, "1234"); // above the no-CVM limit: PIN
  await charge("band", ch.band, "A", 450);

  step("device-to-device: the watch pays the card 50.00 (tap two wallets)");
  const tr = await transfer(ch.watch, ch.card, 5_000, ledger);
  say(`    carol-watch ${tr.from} → alice-card ${tr.to}: received; card balance ${money(tr.receipt.balanceAfter)}, watch balance ${money(tr.payerBalance)}`);

  step("a cloned card: its flash image is copied into a second device, and both spend");
  const cloneDev = cloneDevice(dev.card, { seed: "demo-clone" });
  cloneDev.powerOn();
  const clone = new SimChannel(cloneDev);
  await charge("card", ch.card, "A", 2_000);
  await charge("clone", clone, "B", 9_000, "1234");
  say("    (both terminals approved offline: neither can know about the other)");

  step("sync the devices (read log → ledger, signed acknowledgement back) and upload the POS outboxes");
  for (const k of Object.keys(dev) as (keyof typeof dev)[]) {
    const r = await sync(ch[k], ks, ledger);
    say(`    ${reqs[k].alias!.padEnd(12)} ${r.entries} log entries, acknowledged up to voucher #${r.upToCounter}`);
  }
  const files = (["A", "B"] as const).map((k) => {
    const f = join(dir, `pos-${k}-export.json`);
    writeFileSync(f, JSON.stringify(pos[k].export()));
    return f;
  });

  step("reconcile the POS exports");
  const r = await reconcile(ledger, files); // paths: each file streamed (SPEC §5.11)
  say(`    ${r.newVouchers} new vouchers, ${r.duplicates} already known from device logs, ${r.rejected} rejected`);
  for (const c of r.newFraudCases) say(`    FRAUD ${c.kind}: device ${c.deviceId} counter ${c.counter} voucher ${(c.voucherHash ?? "").slice(0, 12)}…: ${c.detail}`);
  const again = await reconcile(ledger, files);
  say(`    re-import of the same files: ${again.newVouchers} new vouchers, ${again.newFraudCases.length} new cases (idempotent)`);

  step("report");
  say(summaryText(await ledger.summary()).replace(/^/gm, "    "));
  const audit = await ledger.verifyAudit();
  say(`\n    audit log: ${audit.ok ? "intact" : "BROKEN"}, ${audit.entries} entries`);
  const caught = (await ledger.fraudCases()).filter((c) => c.kind === "fork" && c.deviceId === ids.card).length;
  say(`\ndemo finished in ${((Date.now() - t0) / 1000).toFixed(1)} s: the clone of ${ids.card} was ${caught ? "CAUGHT" : "NOT caught"} (${caught} fork vouchers)`);
  for (const p of Object.values(pos)) p.close();
  await ledger.close();
  if (!caught || !audit.ok) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
void hex;
