// The demo's ledger (host-tools/src/demo.ts, steps 1-8), built the same way into a given
// home folder without printing: issuer keys, a card / band / watch personalized and loaded,
// five POS payments at two terminals, a watch → card transfer, a cloned card spending
// (the fork), syncs, and the reconciliation of both POS exports. For the report tests.
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { Device } from "../../wearable-sim/src/index.ts";
import { SimChannel } from "../../host-tools/src/channels/sim.ts";
import { load, personalize, posCharge, sync, transfer, type PersonalizeRequest } from "../../host-tools/src/flows.ts";
import { Keystore } from "../../host-tools/src/keystore.ts";
import { SqliteLedger } from "../../host-tools/src/ledger/sqlite.ts";
import { PosOutbox } from "../../host-tools/src/pos-outbox.ts";
import { parseInput, reconcile } from "../../host-tools/src/reconcile.ts";
import { CURRENCY_CNY, DEFAULT_LIMITS } from "../../host-tools/src/synthetic.ts";

export interface DemoLedger {
  ledgerPath: string;
  ids: Record<"card" | "band" | "watch", string>;
}

export async function buildDemoLedger(home: string): Promise<DemoLedger> {
  const ks = Keystore.create(join(home, "keystore.json"), "demo passphrase");
  const ledgerPath = join(home, "ledger.sqlite");
  const ledger = SqliteLedger.open(ledgerPath);
  await ledger.putIssuerKeys(ks.keys().map(({ kid, suite, pub, status }) => ({ kid, suite, pub, status })));
  await ledger.audit("issuer-init", { keys: ks.keys().map((k) => k.kid) });
  const dev = {
    card: new Device({ profile: "card", seed: "demo-card" }),
    band: new Device({ profile: "band", seed: "demo-band", autoConfirm: "accept" }),
    watch: new Device({ profile: "watch", seed: "demo-watch", autoConfirm: "accept" }),
  };
  const ch = Object.fromEntries(Object.entries(dev).map(([k, d]) => (d.powerOn(), [k, new SimChannel(d)]))) as Record<keyof typeof dev, SimChannel>;
  const base = { currency: CURRENCY_CNY, limits: DEFAULT_LIMITS };
  const reqs: Record<keyof typeof dev, PersonalizeRequest> = {
    card: { ...base, account: "6222 0200 0000 0001", suite: "p256", formFactor: "card", pin: "1234", alias: "alice-card" },
    band: { ...base, account: "6222 0200 0000 0002", suite: "sm2", formFactor: "band", alias: "bob-band" },
    watch: { ...base, account: "6222 0200 0000 0003", suite: "p256", formFactor: "watch", alias: "carol-watch" },
  };
  const ids = {} as DemoLedger["ids"];
  for (const k of Object.keys(dev) as (keyof typeof dev)[]) ids[k] = (await personalize(ch[k], ks, ledger, reqs[k])).deviceId;
  for (const [k, amount] of [["card", 50_000], ["band", 30_000], ["watch", 20_000]] as const) await load(ch[k], ks, ledger, amount);

  const trusted = ks.keys().map(({ kid, suite, pub }) => ({ kid, suite, pub }));
  const pos = { A: PosOutbox.open(join(home, "pos-A.sqlite")), B: PosOutbox.open(join(home, "pos-B.sqlite")) };
  pos.A.configure({ merchant: "00000000000000a1", terminal: "bakery-1", currency: CURRENCY_CNY, trusted, revoked: [], revocationVersion: 0 });
  pos.B.configure({ merchant: "00000000000000b2", terminal: "books-1", currency: CURRENCY_CNY, trusted, revoked: [], revocationVersion: 0 });
  const charge = (c: SimChannel, at: keyof typeof pos, amount: number, pin?: string) => posCharge(c, pos[at].config(), amount, { pin, store: (x) => pos[at].store(x) });
  await charge(ch.card, "A", 1_250);
  await charge(ch.band, "B", 3_400);
  await charge(ch.watch, "A", 990);
  await charge(ch.card, "B", 7_500, "1234");
  await charge(ch.band, "A", 450);
  await transfer(ch.watch, ch.card, 5_000, ledger);

  const cloneDev = new Device({ profile: "card", seed: "demo-clone", flash: dev.card.flash.clone() });
  cloneDev.powerOn();
  const clone = new SimChannel(cloneDev);
  await charge(ch.card, "A", 2_000);
  await charge(clone, "B", 9_000, "1234");

  for (const k of Object.keys(dev) as (keyof typeof dev)[]) await sync(ch[k], ks, ledger);
  const files = (["A", "B"] as const).map((k) => {
    const f = join(home, `pos-${k}-export.json`);
    writeFileSync(f, JSON.stringify(pos[k].export()));
    return f;
  });
  await reconcile(ledger, files.map((f) => parseInput(f)));
  for (const p of Object.values(pos)) p.close();
  await ledger.close();
  return { ledgerPath, ids };
}
