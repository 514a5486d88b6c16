// Record store (SPEC §8) under power cuts: for every flash op k of a transaction (including
// the compactions it triggers) and each tear mode (none / full / random bits), cut power, power
// on, and check that the store holds exactly the old or the new state (never a mix), stays
// writable, and that a cut during the recovery itself is harmless too.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { NorFlash, PowerCut, seededRng, type TearMode } from "../wearable-sim/src/flash.ts";
import { StoreWasm, newFlash, type TxOp } from "./support/store-wasm.ts";
import { StoreModel, sameRecords } from "./support/store-model.ts";
import {
  NVM_CONFIG_FIRST, NVM_LOG_CAPACITY, NVM_LOG_ENTRY_MAX, NVM_LOG_FIRST, NVM_OK, NVM_WALLET_FIRST,
} from "../protocol/portable/nvm.ts";

const MODES: TearMode[] = ["none", "full", "random"];
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed * 13) & 0xff);

let tearPoints = 0;

/** Ops a transaction takes on a copy of `flash` (no cut). */
function opsOf(flash: NorFlash, ops: TxOp[]): number {
  const s = new StoreWasm(flash.clone());
  expect(s.mount()).toBe(NVM_OK);
  const before = s.flash.opCount;
  expect(s.commit(ops)).toBe(NVM_OK);
  return s.flash.opCount - before;
}

/** State after a cut must be old or new; returns which. */
function checkOldOrNew(s: StoreWasm, old: StoreModel, next: StoreModel, what: string): "old" | "new" | "same" {
  const got = s.dump();
  const isOld = sameRecords(got, old.records);
  const isNew = sameRecords(got, next.records);
  expect(isOld || isNew, `${what}: state is neither old nor new`).toBe(true);
  return isOld && isNew ? "same" : isNew ? "new" : "old";
}

/** Tears `ops` at every op k in every mode, starting from `flash` (state = model). */
function tearEveryOp(flash: NorFlash, model: StoreModel, ops: TxOp[], rng: () => number, label: string): void {
  const next = model.clone();
  expect(next.commit(ops)).toBe(NVM_OK);
  const k = opsOf(flash, ops);
  for (let cut = 1; cut <= k; cut++) {
    for (const mode of MODES) {
      const what = `${label} cut ${cut}/${k} ${mode}`;
      const f = flash.clone();
      f.rng = rng;
      const s = new StoreWasm(f);
      expect(s.mount()).toBe(NVM_OK);
      f.armPowerCut(cut, mode);
      expect(() => s.commit(ops), what).toThrow(PowerCut);
      tearPoints++;
      // first power-on: its own recovery writes may be cut as well
      const torn = f.clone();
      const mountOps = f.opCount;
      expect(s.powerOn(), what).toBe(NVM_OK);
      const seen = checkOldOrNew(s, model, next, what);
      if (mode === "none" && seen !== "same") expect(seen, `${what}: nothing written yet the tx committed`).toBe(cut > k ? "new" : "old");
      if (f.opCount > mountOps) {
        // recovery wrote something (a seal): cut that too, on a fresh copy of the torn image
        const g = torn;
        g.rng = rng;
        const recovered = new StoreWasm(g);
        g.armPowerCut(1, "random");
        expect(() => recovered.mount()).toThrow(PowerCut);
        tearPoints++;
        expect(recovered.powerOn(), `${what} + cut in recovery`).toBe(NVM_OK);
        expect(checkOldOrNew(recovered, model, next, `${what} + cut in recovery`)).toBe(seen);
      }
      // a second power-on changes nothing, and the store still takes writes
      expect(s.powerOn()).toBe(NVM_OK);
      expect(checkOldOrNew(s, model, next, what)).toBe(seen);
      const after = (seen === "new" ? next : model).clone();
      const follow: TxOp[] = [{ id: 0x1fe, value: bytes(20, cut) }];
      expect(after.commit(follow)).toBe(NVM_OK);
      expect(s.commit(follow), what).toBe(NVM_OK);
      s.powerOn();
      expect(sameRecords(s.dump(), after.records), `${what}: follow-up tx`).toBe(true);
    }
  }
}

// A wallet-like workload: config records once, then payments (state + log entry), PIN tries,
// and syncs that delete log entries. Small flash (8 pages) so that compaction runs often.
function walletTx(i: number): TxOp[] {
  if (i < 3) return [{ id: 1 + i, value: bytes(40 + i * 60, i) }, { id: 0x20 + i, value: bytes(65, i) }];
  if (i % 9 === 0) return Array.from({ length: 6 }, (_, j) => ({ id: 0x100 + ((i + j) % 16) })); // sync prunes the log
  if (i % 5 === 0) return [{ id: 0x30, value: bytes(4, i) }]; // PIN try counter
  return [
    { id: 0x40, value: bytes(96, i) }, // wallet state
    { id: 0x100 + (i % 16), value: bytes(280 + (i % 20), i) }, // log entry
  ];
}

describe("tearing: every op of every transaction", () => {
  it("wallet workload on 8 pages, 3 tear modes, with compactions", () => {
    const rng = seededRng(11);
    const flash = newFlash(8, 2048, rng);
    const s = new StoreWasm(flash);
    expect(s.mount()).toBe(NVM_OK);
    const model = new StoreModel(s.capacity());
    const before = tearPoints;
    let compactions = 0;
    for (let i = 0; i < 200; i++) {
      const ops = walletTx(i);
      const head = s.raw.storeHeadSeq();
      tearEveryOp(flash, model, ops, rng, `tx ${i}`);
      expect(s.commit(ops)).toBe(NVM_OK);
      expect(model.commit(ops)).toBe(NVM_OK);
      if (s.raw.storeHeadSeq() !== head) compactions++;
    }
    expect(compactions).toBeGreaterThan(20);
    console.log(`store tearing (every op): ${tearPoints - before} tear points, ${compactions} transactions with compaction`);
  });
});

describe("tearing: default geometry with the applet's full log", () => {
  it("32 pages, 64 log entries of NVM_LOG_ENTRY_MAX bytes, payments torn at every op through compactions", () => {
    const rng = seededRng(5);
    const flash = newFlash(undefined, undefined, rng);
    const s = new StoreWasm(flash);
    expect(s.mount()).toBe(NVM_OK);
    const model = new StoreModel(s.capacity());
    const run = (ops: TxOp[]) => {
      expect(model.commit(ops)).toBe(NVM_OK);
      expect(s.commit(ops)).toBe(NVM_OK);
    };
    for (let i = 0; i < 15; i++) run([{ id: NVM_CONFIG_FIRST + i, value: bytes(30 + i * 10, i) }]);
    for (let i = 0; i < NVM_LOG_CAPACITY; i++) run([{ id: NVM_LOG_FIRST + i, value: bytes(NVM_LOG_ENTRY_MAX, i) }]);
    const payment = (i: number): TxOp[] => [
      { id: NVM_WALLET_FIRST, value: bytes(120, i) },
      { id: NVM_LOG_FIRST + (i % NVM_LOG_CAPACITY), value: bytes(NVM_LOG_ENTRY_MAX, i + 3) },
    ];
    let i = 0;
    while (s.raw.storeHeadSeq() === 1) run(payment(i++)); // until the first compaction
    const before = tearPoints;
    const head = s.raw.storeHeadSeq();
    for (const end = i + 24; i < end; i++) {
      tearEveryOp(flash, model, payment(i), rng, `payment ${i}`);
      run(payment(i));
    }
    expect(s.raw.storeHeadSeq() - head).toBeGreaterThanOrEqual(3); // compactions were torn too
    console.log(`store tearing (default geometry, full log): ${tearPoints - before} tear points`);
  });
});

const opArb = fc.record({
  id: fc.integer({ min: 1, max: 40 }),
  len: fc.oneof(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 100, max: 512 })),
  del: fc.boolean(),
});
const txArb = fc.array(opArb, { minLength: 1, maxLength: 5 });
type GenTx = { id: number; len: number; del: boolean }[];

/** Runs `step` for each generated transaction on a fresh 6-page store with its model. */
function runSequence(txs: GenTx[], seed: number, step: (ctx: { s: StoreWasm; model: StoreModel; rng: () => number }, ops: TxOp[], n: number) => void) {
  const rng = seededRng(seed);
  const s = new StoreWasm(newFlash(6, 2048, rng));
  expect(s.mount()).toBe(NVM_OK);
  const ctx = { s, model: new StoreModel(s.capacity()), rng };
  txs.forEach((tx, n) => step(ctx, tx.map((o) => ({ id: o.id, value: o.del ? undefined : bytes(o.len, n + o.id) })), n));
  return ctx;
}

describe("tearing: every op of random transaction sequences", () => {
  it("random sequences on 6 pages, each transaction torn at every op in 3 modes", () => {
    const before = tearPoints;
    fc.assert(
      fc.property(fc.array(txArb, { minLength: 3, maxLength: 25 }), fc.integer({ min: 1, max: 2 ** 31 }), (txs, seed) => {
        runSequence(txs, seed, ({ s, model, rng }, ops, n) => {
          if (model.clone().commit(ops) !== NVM_OK) return; // refusals write nothing (store-model.test)
          tearEveryOp(s.flash, model, ops, rng, `tx ${n}`);
          expect(s.commit(ops)).toBe(NVM_OK);
          model.commit(ops);
        });
      }),
      { numRuns: 12, seed: 1717 },
    );
    console.log(`store tearing (every op, random sequences): ${tearPoints - before} tear points`);
  });
});

describe("tearing: random cuts in random transaction sequences", () => {
  it("several cuts per run, store keeps matching the model", () => {
    let points = 0;
    fc.assert(
      fc.property(fc.array(txArb, { minLength: 5, maxLength: 40 }), fc.integer({ min: 1, max: 2 ** 31 }), (txs, seed) => {
        const { s, model } = runSequence(txs, seed, ({ s, model, rng }, ops, n) => {
          const flash = s.flash;
          const next = model.clone();
          const want = next.commit(ops);
          const cut = rng() < 0.4;
          if (cut) flash.armPowerCut(1 + Math.floor(rng() * 6), MODES[Math.floor(rng() * 3)]);
          let got: number | "cut";
          try {
            got = s.commit(ops);
          } catch (e) {
            if (!(e instanceof PowerCut)) throw e;
            got = "cut";
          }
          if (got === "cut") {
            points++;
            expect(s.powerOn()).toBe(NVM_OK);
            if (checkOldOrNew(s, model, next, `tx ${n}`) === "new") model.commit(ops);
          } else {
            flash.disarm();
            expect(got).toBe(want);
            if (got === NVM_OK) model.commit(ops);
          }
          expect(sameRecords(s.dump(1, 64), model.records)).toBe(true);
        });
        expect(s.powerOn()).toBe(NVM_OK);
        expect(sameRecords(s.dump(1, 64), model.records)).toBe(true);
      }),
      { numRuns: 150, seed: 4242 },
    );
    tearPoints += points;
    console.log(`store tearing (random): ${points} tear points; total so far ${tearPoints}`);
  });
});
