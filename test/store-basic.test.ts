// Record store (SPEC §8) basics on the real wasm: put/get/delete, persistence across power-on,
// admission errors, capacity, and that corruption is reported instead of guessed around.
import { describe, expect, it } from "vitest";
import { StoreWasm, newFlash } from "./support/store-wasm.ts";
import {
  NVM_ERR_BAD_ID, NVM_ERR_CORRUPT, NVM_ERR_FULL, NVM_ERR_NO_TX, NVM_ERR_TOO_BIG, NVM_ID_LIMIT,
  NVM_MAX_TX_RECORDS, NVM_MAX_VALUE, NVM_OK, NVM_PAGE_HEADER_SIZE,
} from "../protocol/portable/nvm.ts";

const val = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe("record store basics", () => {
  it("mounts blank flash as an empty store and exports STORE_MAX_VALUE", () => {
    const s = new StoreWasm(newFlash());
    expect(s.mount()).toBe(NVM_OK);
    expect(s.get(1)).toBeUndefined();
    expect(s.maxValue).toBe(NVM_MAX_VALUE);
    expect(s.freeBytes()).toBe(s.capacity());
    expect(s.flash.opCount).toBe(0); // mounting blank flash writes nothing
  });

  it("puts, replaces, deletes, and keeps it all across power-on", () => {
    const s = new StoreWasm(newFlash());
    s.mount();
    expect(s.commit([{ id: 1, value: val(10) }, { id: 2, value: val(0) }, { id: 0x1ff, value: val(512) }])).toBe(NVM_OK);
    expect(s.get(1)).toEqual(val(10));
    expect(s.get(2)).toEqual(new Uint8Array(0));
    expect(s.commit([{ id: 1, value: val(3, 9) }, { id: 2 }])).toBe(NVM_OK);
    expect(s.powerOn()).toBe(NVM_OK);
    expect(s.get(1)).toEqual(val(3, 9));
    expect(s.get(2)).toBeUndefined();
    expect(s.get(0x1ff)).toEqual(val(512));
  });

  it("the last write of an id within one transaction wins", () => {
    const s = new StoreWasm(newFlash());
    s.mount();
    expect(s.commit([{ id: 5, value: val(4, 1) }, { id: 5, value: val(6, 2) }, { id: 6, value: val(1) }, { id: 6 }])).toBe(NVM_OK);
    s.powerOn();
    expect(s.get(5)).toEqual(val(6, 2));
    expect(s.get(6)).toBeUndefined();
  });

  it("refuses bad ids, oversized values and transactions, with nothing written", () => {
    const s = new StoreWasm(newFlash());
    s.mount();
    expect(s.commit([{ id: 1, value: val(1) }, { id: 0, value: val(1) }])).toBe(NVM_ERR_BAD_ID);
    expect(s.commit([{ id: NVM_ID_LIMIT, value: val(1) }])).toBe(NVM_ERR_BAD_ID);
    expect(s.commit([{ id: 1, value: val(NVM_MAX_VALUE + 1) }])).toBe(NVM_ERR_TOO_BIG);
    const many = Array.from({ length: NVM_MAX_TX_RECORDS + 1 }, (_, i) => ({ id: i + 1, value: val(1) }));
    expect(s.commit(many)).toBe(NVM_ERR_TOO_BIG);
    const big = Array.from({ length: 5 }, (_, i) => ({ id: i + 1, value: val(500) }));
    expect(s.commit(big)).toBe(NVM_ERR_TOO_BIG); // > NVM_TX_BUFFER_SIZE
    expect(s.flash.opCount).toBe(0);
    expect(s.raw.txCommit()).toBe(NVM_ERR_NO_TX);
    expect(s.get(1)).toBeUndefined();
  });

  it("fills to capacity, then refuses with FULL and keeps the old state", () => {
    const s = new StoreWasm(newFlash(8));
    s.mount();
    let id = 1;
    for (;;) {
      const r = s.commit([{ id, value: val(300, id) }]);
      if (r !== NVM_OK) {
        expect(r).toBe(NVM_ERR_FULL);
        break;
      }
      id++;
    }
    expect(s.freeBytes()).toBeLessThan(312);
    s.powerOn();
    for (let i = 1; i < id; i++) expect(s.get(i)).toEqual(val(300, i));
    expect(s.get(id)).toBeUndefined();
    // deleting makes room again
    expect(s.commit([{ id: 1 }, { id: 2 }])).toBe(NVM_OK);
    expect(s.commit([{ id, value: val(300, id) }])).toBe(NVM_OK);
  });
});

describe("corruption is detected", () => {
  function filled() {
    const s = new StoreWasm(newFlash(8));
    s.mount();
    for (let i = 1; i <= 12; i++) expect(s.commit([{ id: i, value: val(40, i) }, { id: 100 + i, value: val(8, i) }])).toBe(NVM_OK);
    return s;
  }

  it("a flipped bit in any committed entry of a closed page, or in a page header, fails the mount", () => {
    // page 0 holds the oldest records, all committed; flip each byte of its first 200 bytes
    let detected = 0;
    for (let off = 0; off < 200; off++) {
      const s = filled();
      if (off >= 16 && off < NVM_PAGE_HEADER_SIZE) continue; // end marker + reserved: not data
      s.flash.flipBit(off, off % 8);
      const r = s.powerOn();
      expect(r, `flip at ${off}`).not.toBe(NVM_OK);
      detected++;
    }
    expect(detected).toBeGreaterThan(180);
  });

  it("a flipped bit in a committed value in the tail page is CORRUPT, not a torn write", () => {
    const s = filled();
    const tail = s.raw.storeTailSeq();
    expect(tail).toBe(1); // everything fits one page here
    s.flash.flipBit(NVM_PAGE_HEADER_SIZE + 8 + 3, 2); // first record's value
    expect(s.powerOn()).toBe(NVM_ERR_CORRUPT);
    expect(s.get(1)).toBeUndefined(); // an unmounted store serves nothing
  });

  it("an entry that rots after mount is caught when read; the store then refuses reads and writes", () => {
    const s = filled();
    expect(s.get(3)).toEqual(val(40, 3));
    const ptr = s.raw.buf();
    // record 3 is the 5th entry of page 0: each tx is two records + COMMIT (12 + 52, 12 + 8, 12)
    const off = NVM_PAGE_HEADER_SIZE + 2 * (52 + 20 + 12) + 8 + 5;
    s.flash.flipBit(off, 1);
    const corrupt = s.raw.STORE_GET_CORRUPT.value as number;
    expect(corrupt).toBe(-2);
    expect(s.raw.storeGet(3, ptr, 64)).toBe(corrupt);
    expect(s.raw.storeGet(4, ptr, 64)).toBe(corrupt);
    expect(s.raw.storeStatus()).toBe(NVM_ERR_CORRUPT);
    expect(s.commit([{ id: 9, value: val(1) }])).toBe(NVM_ERR_CORRUPT);
    expect(s.powerOn()).toBe(NVM_ERR_CORRUPT);
  });
});
