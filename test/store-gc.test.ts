// Record store (SPEC §8) compaction under churn with the default geometry (NVM_PAGE_SIZE ×
// NVM_PAGE_COUNT) and the applet's sizing: ~15 config records, a full log of NVM_LOG_CAPACITY
// entries of NVM_LOG_ENTRY_MAX bytes, and thousands of wallet-state / PIN-try updates. Checks
// the state against the model, that wear is spread evenly over all pages, and reports the
// write cost per payment.
import { describe, expect, it } from "vitest";
import { StoreWasm, newFlash, type TxOp } from "./support/store-wasm.ts";
import { StoreModel, sameRecords } from "./support/store-model.ts";
import {
  NVM_CONFIG_FIRST, NVM_LOG_CAPACITY, NVM_LOG_ENTRY_MAX, NVM_LOG_FIRST, NVM_OK, NVM_PIN_FIRST,
  NVM_WALLET_FIRST,
} from "../protocol/portable/nvm.ts";

const fill = (n: number, b: number) => new Uint8Array(n).fill(b & 0xff);

describe("compaction under churn", () => {
  it("5000 payments with a full log: model-exact, wear spread, space reported", () => {
    const s = new StoreWasm(newFlash());
    expect(s.mount()).toBe(NVM_OK);
    const model = new StoreModel(s.capacity());
    const run = (ops: TxOp[]) => {
      expect(model.commit(ops)).toBe(NVM_OK);
      expect(s.commit(ops)).toBe(NVM_OK);
    };
    for (let i = 0; i < 15; i++) run([{ id: NVM_CONFIG_FIRST + i, value: fill(i === 14 ? 500 : 24 + i * 8, i) }]);
    for (let i = 0; i < NVM_LOG_CAPACITY; i++) run([{ id: NVM_LOG_FIRST + i, value: fill(NVM_LOG_ENTRY_MAX, i) }]);
    const fullLogFree = s.freeBytes();
    expect(fullLogFree).toBeGreaterThan(4096); // headroom beyond the applet's worst case
    const opsBefore = s.flash.opCount;
    const payments = 5000;
    for (let i = 0; i < payments; i++) {
      // a payment rewrites the wallet state and replaces the oldest log entry (sync + pay)
      run([
        { id: NVM_WALLET_FIRST, value: fill(120, i) },
        { id: NVM_LOG_FIRST + (i % NVM_LOG_CAPACITY), value: fill(NVM_LOG_ENTRY_MAX, i + 7) },
      ]);
      if (i % 4 === 0) run([{ id: NVM_PIN_FIRST, value: fill(4, i) }]);
    }
    const perPayment = (s.flash.opCount - opsBefore) / payments;
    expect(s.powerOn()).toBe(NVM_OK);
    expect(sameRecords(s.dump(), model.records)).toBe(true);
    const wear = [...s.flash.wear];
    const min = Math.min(...wear);
    const max = Math.max(...wear);
    expect(min).toBeGreaterThan(20);
    expect(max - min).toBeLessThanOrEqual(2); // cyclic page order: every page erased in turn
    console.log(
      `store churn: ${payments} payments, ${perPayment.toFixed(2)} flash ops/payment, erases/page ${min}..${max}, ` +
        `free with full log ${fullLogFree} of ${s.capacity()} bytes`,
    );
  });
});
