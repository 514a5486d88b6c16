// Lost-answer sweep (DESIGN §8; SPEC §5.10): for every host flow (personalize, load, pos
// charge, transfer, sync) and every APDU exchange in it, the answer lost after the device
// processed the command, the card pulled before it, and a power cut at every flash
// operation the flow makes; then what an operator does (what the error says: re-run the
// command, tap again / `pos recover`, sync), some honest traffic, and a final sync of every
// device. After every case the ledger and the devices agree, value is conserved and honest
// traffic has no fraud case. Real firmware.wasm in simulated devices; real ledger and outbox.
import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LC_ACTIVE } from "../../protocol/portable/lifecycle.ts";
import { WalletCard } from "../../host-tools/src/card.ts";
import type { Channel } from "../../host-tools/src/channels/channel.ts";
import { Device } from "../../wearable-sim/src/index.ts";
import { SimChannel } from "../../host-tools/src/channels/sim.ts";
import { hex } from "../../host-tools/src/docs.ts";
import { deviceError } from "../../host-tools/src/errors.ts";
import { load, personalize, posCharge, posRecover, sync, transfer, type PersonalizeRequest } from "../../host-tools/src/flows.ts";
import { Keystore } from "../../host-tools/src/keystore.ts";
import { SqliteLedger } from "../../host-tools/src/ledger/sqlite.ts";
import { PosOutbox } from "../../host-tools/src/pos-outbox.ts";
import { parseInput, reconcile } from "../../host-tools/src/reconcile.ts";
import { CURRENCY_CNY, DEFAULT_LIMITS } from "../../host-tools/src/synthetic.ts";
import type { TearMode } from "../../wearable-sim/src/flash.ts";
import { figures, type Figure } from "./report.ts";

/** How the cut operation is left: not done, done, or half-written with random bits (wearable-sim flash.ts). */
const TEAR_MODES: TearMode[] = ["none", "full", "random"];

const dir = mkdtempSync(join(tmpdir(), "sweep-"));
const ks = Keystore.create(join(dir, "ks.json"), "sweep passphrase");
const trusted = ks.keys().map(({ kid, suite, pub }) => ({ kid, suite, pub }));
const MERCHANT = "00000000000000c1";
const LIMITS = { ...DEFAULT_LIMITS, maxCountSinceSync: 6 };
let n = 0;

/** Exchanges counted across the channels of one case; the k-th one (1-based) is lost. */
class Sweep {
  exchanges = 0;
  constructor(
    readonly lose: number = 0,
    readonly when: "before" | "after" = "after",
  ) {}
}

class SweepChannel implements Channel {
  constructor(
    private inner: SimChannel,
    private sweep: Sweep,
  ) {}
  get name() {
    return this.inner.name;
  }
  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    const k = ++this.sweep.exchanges;
    if (k === this.sweep.lose && this.sweep.when === "before") throw deviceError(`${this.name}: card removed (command not delivered)`);
    const r = await this.inner.transmit(apdu);
    if (k === this.sweep.lose) throw deviceError(`${this.name}: card removed (answer lost)`);
    return r;
  }
  close() {
    return this.inner.close();
  }
}

interface World {
  ledger: SqliteLedger;
  box: PosOutbox;
  a: { d: Device; ch: SimChannel; id: string };
  b: { d: Device; ch: SimChannel; id: string };
  reqA: PersonalizeRequest;
  reqB: PersonalizeRequest;
}

const cfg = (w: World) => w.box.config();
const req = (account: string, formFactor: "card" | "watch"): PersonalizeRequest => ({ account, suite: "p256", formFactor, currency: CURRENCY_CNY, limits: LIMITS, pin: "1234" });

function device(profile: "card" | "watch") {
  const d = new Device({ profile, seed: `sweep-${++n}`, autoConfirm: "accept" });
  d.powerOn();
  return { d, ch: new SimChannel(d), id: "" };
}

async function world(personalized: boolean): Promise<World> {
  const ledger = SqliteLedger.open(join(dir, `l${++n}.sqlite`));
  await ledger.putIssuerKeys(ks.keys().map(({ kid, suite, pub, status }) => ({ kid, suite, pub, status })));
  const box = PosOutbox.open(join(dir, `pos${n}.sqlite`));
  box.configure({ merchant: MERCHANT, terminal: "sweep", currency: CURRENCY_CNY, trusted, revoked: [], revocationVersion: 0 });
  const w: World = { ledger, box, a: device("card"), b: device("watch"), reqA: req(`acct-a-${n}`, "card"), reqB: req(`acct-b-${n}`, "watch") };
  if (personalized) {
    w.a.id = (await personalize(w.a.ch, ks, ledger, w.reqA)).deviceId;
    w.b.id = (await personalize(w.b.ch, ks, ledger, w.reqB)).deviceId;
    await load(w.a.ch, ks, ledger, 40_000);
    await load(w.b.ch, ks, ledger, 10_000);
    for (const amt of [700, 300, 1_000]) await posCharge(w.a.ch, cfg(w), amt, { journal: box });
  }
  return w;
}

type Flow = "personalize" | "load" | "pos charge" | "transfer" | "sync";
const FLOWS: Flow[] = ["personalize", "load", "pos charge", "transfer", "sync"];

/** The flow under test, over the given channels (sweep channels or power-cut devices). */
async function run(flow: Flow, w: World, ca: Channel, cb: Channel): Promise<void> {
  switch (flow) {
    case "personalize":
      w.a.id = (await personalize(ca, ks, w.ledger, w.reqA)).deviceId;
      return;
    case "load":
      await load(ca, ks, w.ledger, 5_000);
      return;
    case "pos charge":
      await posCharge(ca, cfg(w), 2_500, { journal: w.box });
      return;
    case "transfer":
      await transfer(ca, cb, 1_500, w.ledger);
      return;
    case "sync":
      await w.ledger.putDevice({ ...(await w.ledger.device(w.a.id))!, pendingLimits: { ...LIMITS, maxPayment: 15_000 } });
      await sync(ca, ks, w.ledger);
      return;
  }
}

/** What the operator does after the error the flow printed (its words say which). */
async function recover(flow: Flow, w: World, err: Error): Promise<void> {
  const m = err.message;
  switch (flow) {
    case "personalize":
    case "load":
    case "sync":
      return run(flow, w, w.a.ch, w.b.ch); // "run … again"
    case "pos charge":
      if (/Do not charge again/.test(m)) return void (await posRecover(w.a.ch, cfg(w), w.box)); // "tap again / pos recover"
      return run(flow, w, w.a.ch, w.b.ch); // declined: nothing was charged, the cashier tries again
    case "transfer":
      if (/nothing was paid/.test(m)) return run(flow, w, w.a.ch, w.b.ch);
      return; // "do not retry": the syncs below settle it
  }
}

const balanceOf = async (ch: SimChannel) => {
  const c = new WalletCard(ch);
  await c.select();
  return c.status();
};

/** Honest traffic after the recovery, then every device synced and the outbox reconciled; the invariants. */
async function finish(w: World): Promise<string[]> {
  const bad: string[] = [];
  if (w.a.id) {
    if ((await balanceOf(w.a.ch)).balance < 600) await load(w.a.ch, ks, w.ledger, 5_000);
    for (const amt of [200, 400]) await posCharge(w.a.ch, cfg(w), amt, { journal: w.box });
  }
  for (const x of [w.a, w.b]) if (x.id) await sync(x.ch, ks, w.ledger);
  const exp = w.box.export();
  await reconcile(w.ledger, [parseInput(`pos-${++n}.json`, JSON.stringify(exp))]);
  const s = await w.ledger.summary();
  let balances = 0;
  for (const x of [w.a, w.b]) {
    if (!x.id) continue;
    const st = await balanceOf(x.ch);
    if (st.lifecycle !== LC_ACTIVE) bad.push(`${x.id} lifecycle ${st.lifecycle}`);
    balances += st.balance;
    const loads = (await w.ledger.loads(x.id)).filter((l) => l.receipt).reduce((a, l) => a + l.amount, 0);
    const vouchers = await w.ledger.vouchersOf(x.id);
    const spent = vouchers.reduce((a, v) => a + v.amount, 0);
    const received = (await w.ledger.transfersTo(x.id)).filter((v) => v.claim === "received").reduce((a, v) => a + v.amount, 0);
    if (st.balance !== loads + received - spent) bad.push(`${x.id}: device balance ${st.balance} ≠ confirmed loads ${loads} + received ${received} − vouchers ${spent}`);
    const last = vouchers.reduce((a, v) => Math.max(a, v.counter), 0);
    if (last !== st.counter) bad.push(`${x.id}: ledger's last counter ${last} ≠ device counter ${st.counter}`);
    if ((await w.ledger.device(x.id))?.state !== "active") bad.push(`${x.id}: ledger state ${(await w.ledger.device(x.id))?.state}`);
  }
  if (balances + s.paidToMerchants + s.unclaimedTransfers + s.transfersInFlight !== s.loaded)
    bad.push(`value: Σ balances ${balances} + merchants ${s.paidToMerchants} + unclaimed ${s.unclaimedTransfers} + in flight ${s.transfersInFlight} ≠ Σ confirmed loads ${s.loaded}`);
  const cases = await w.ledger.fraudCases();
  if (cases.length) bad.push(`fraud cases on honest traffic: ${cases.map((c) => `${c.kind}#${c.counter}`).join(", ")}`);
  const stored = new Set(exp.vouchers.map((v) => v.cose));
  for (const x of [w.a, w.b]) for (const v of x.id ? await w.ledger.vouchersOf(x.id) : []) if (v.kind === 0 && v.payee === MERCHANT && !stored.has(hex(v.cose))) bad.push(`voucher #${v.counter} debited on ${x.id} missing from the outbox`);
  return bad;
}

interface Tally {
  cases: number;
  lostAfter: number;
  pulledBefore: number;
  powerCuts: number;
  violations: string[];
}

async function sweepFlow(flow: Flow, t: Tally): Promise<void> {
  const personalized = flow !== "personalize";
  // the clean run: how many exchanges the flow makes
  const clean = await world(personalized);
  const probe = new Sweep();
  await run(flow, clean, new SweepChannel(clean.a.ch, probe), new SweepChannel(clean.b.ch, probe));
  const v0 = await finish(clean);
  if (v0.length) t.violations.push(`${flow} clean: ${v0.join("; ")}`);
  const step = 1; // every exchange, in CI too (the whole sweep takes seconds)
  for (let k = 1; k <= probe.exchanges; k += step)
    for (const when of ["after", "before"] as const) {
      const w = await world(personalized);
      const sw = new Sweep(k, when);
      const where = `${flow}, exchange ${k}/${probe.exchanges} ${when === "after" ? "answer lost" : "card pulled before"}`;
      try {
        await run(flow, w, new SweepChannel(w.a.ch, sw), new SweepChannel(w.b.ch, sw));
      } catch (e) {
        try {
          await recover(flow, w, e as Error);
        } catch (e2) {
          t.violations.push(`${where}: recovery failed: ${(e2 as Error).message}`);
        }
      }
      const v = await finish(w).catch((e) => [`final: ${(e as Error).message}`]);
      if (v.length) t.violations.push(`${where}: ${v.join("; ")}`);
      t.cases++;
      if (when === "after") t.lostAfter++;
      else t.pulledBefore++;
    }
  // power cuts: after flash operation i of the flow, on each device it touches
  const sides: ("a" | "b")[] = flow === "transfer" ? ["a", "b"] : ["a"];
  for (const side of sides)
    for (const mode of TEAR_MODES)
    for (let i = 1; i <= 4000; i++) {
      const w = await world(personalized);
      const dev = w[side].d;
      const start = dev.flash.opCount;
      dev.cutPowerAfter(i, mode);
      try {
        await run(flow, w, w.a.ch, w.b.ch);
      } catch (e) {
        dev.disarmPowerCut();
        if (!dev.isOn) dev.powerOn();
        try {
          await recover(flow, w, e as Error);
        } catch (e2) {
          t.violations.push(`${flow}, power cut after flash op ${i} on ${side}: recovery failed: ${(e2 as Error).message}`);
        }
      }
      dev.disarmPowerCut();
      // the cut never fired: the flow made fewer than i flash operations, all of them swept
      if (dev.flash.opCount - start < i) break;
      const v = await finish(w).catch((e) => [`final: ${(e as Error).message}`]);
      if (v.length) t.violations.push(`${flow}, power cut (${mode}) after flash op ${i} on ${side}: ${v.join("; ")}`);
      if (dev.aborts) t.violations.push(`${flow}, power cut after flash op ${i}: ${dev.aborts} firmware aborts`);
      t.cases++;
      t.powerCuts++;
    }
}

describe("lost-answer sweep", () => {
  const tallies = new Map<Flow, Tally>();
  for (const flow of FLOWS)
    it(`${flow}: every exchange lost after / pulled before, every flash operation cut; ledger and devices agree`, async () => {
      const t: Tally = { cases: 0, lostAfter: 0, pulledBefore: 0, powerCuts: 0, violations: [] };
      tallies.set(flow, t);
      await sweepFlow(flow, t);
      expect(t.violations.slice(0, 10)).toEqual([]);
      expect(t.cases).toBeGreaterThan(0);
    }, 600_000);

  it("writes its figures", () => {
    const figs: Figure[] = [];
    let total = 0;
    let violations = 0;
    for (const [flow, t] of tallies) {
      total += t.cases;
      violations += t.violations.length;
      figs.push({ section: "Lost-answer sweep", name: `${flow}: cases (answer lost after / card pulled before / power cut at a flash operation)`, value: `${t.cases} (${t.lostAfter} / ${t.pulledBefore} / ${t.powerCuts})`, ok: t.cases > 0 });
      figs.push({ section: "Lost-answer sweep", name: `${flow}: violations (ledger ≠ device, value not conserved, fraud on honest traffic, voucher missing)`, value: t.violations.length, required: "0", ok: t.violations.length === 0 });
    }
    figs.push({ section: "Lost-answer sweep", name: "all flows: cases run / violations", value: `${total} / ${violations}`, required: "0 violations", ok: violations === 0 });
    figures("lost-answer-sweep", figs);
    expect(tallies.size).toBe(FLOWS.length);
  });
});
