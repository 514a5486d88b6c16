// Record store (SPEC §8) against its reference model (test/support/store-model.ts): random
// transaction sequences (puts, replaces, deletes, oversized and over-capacity transactions)
// must give the same result codes and the same records, before and after power-on.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { StoreWasm, newFlash, type TxOp } from "./support/store-wasm.ts";
import { StoreModel, sameRecords } from "./support/store-model.ts";
import { NVM_ID_LIMIT, NVM_MAX_VALUE, NVM_OK } from "../protocol/portable/nvm.ts";

const opArb = fc.record({
  id: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: NVM_ID_LIMIT })),
  len: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 200, max: NVM_MAX_VALUE }), fc.constant(NVM_MAX_VALUE + 1)),
  del: fc.boolean(),
  fill: fc.integer({ min: 0, max: 255 }),
});
const txArb = fc.array(opArb, { minLength: 0, maxLength: 6 });

function toOps(tx: { id: number; len: number; del: boolean; fill: number }[]): TxOp[] {
  return tx.map((o) => ({ id: o.id, value: o.del ? undefined : Uint8Array.from({ length: o.len }, (_, i) => (o.fill + i) & 0xff) }));
}

describe("record store vs reference model", () => {
  for (const pages of [5, 8, 32]) {
    it(`${pages} pages: same results and records for random transaction sequences`, () => {
      let full = 0;
      let ok = 0;
      fc.assert(
        fc.property(fc.array(txArb, { minLength: 1, maxLength: pages * 6 }), (txs) => {
          const s = new StoreWasm(newFlash(pages));
          expect(s.mount()).toBe(NVM_OK);
          const model = new StoreModel(s.capacity());
          for (const tx of txs) {
            const ops = toOps(tx);
            const want = model.commit(ops);
            expect(s.commit(ops)).toBe(want);
            if (want === NVM_OK) ok++;
            else full++;
            expect(s.liveBytes()).toBe(model.liveBytes());
          }
          expect(sameRecords(s.dump(), model.records)).toBe(true);
          expect(s.powerOn()).toBe(NVM_OK);
          expect(sameRecords(s.dump(), model.records)).toBe(true);
          expect(s.liveBytes()).toBe(model.liveBytes());
        }),
        { numRuns: pages === 32 ? 40 : 120, seed: 77 + pages },
      );
      expect(ok).toBeGreaterThan(100);
      expect(full).toBeGreaterThan(10); // refusals were exercised too
    });
  }

  it("a store kept near capacity never refuses a transaction the model accepts", () => {
    // the hard case for compaction: live data close to storeCapacity, pages almost all live
    for (const pages of [5, 6, 8]) {
      const s = new StoreWasm(newFlash(pages));
      s.mount();
      const model = new StoreModel(s.capacity());
      let rng = 12345;
      let peak = 0;
      let refused = 0;
      const next = () => (rng = (rng * 1103515245 + 12345) >>> 0) / 2 ** 32;
      for (let i = 0; i < 3000; i++) {
        const id = 1 + Math.floor(next() * pages * 8);
        const len = next() < 0.5 ? Math.floor(next() * NVM_MAX_VALUE) : Math.floor(next() * 40);
        const ops: TxOp[] = [{ id, value: new Uint8Array(len).fill(i & 0xff) }];
        const want = model.commit(ops);
        expect(s.commit(ops), `pages ${pages} step ${i}`).toBe(want);
        if (want !== NVM_OK) refused++;
        peak = Math.max(peak, model.liveBytes() / s.capacity());
      }
      expect(peak).toBeGreaterThan(0.95);
      expect(refused).toBeGreaterThan(0);
      expect(s.raw.storeHeadSeq()).toBeGreaterThan(100); // compacted many times
      expect(s.powerOn()).toBe(NVM_OK);
      expect(sameRecords(s.dump(), model.records)).toBe(true);
    }
  });
});
