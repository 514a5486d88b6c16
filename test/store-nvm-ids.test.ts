// protocol/portable/nvm.ts record-id table (SPEC §8): every NVM_<FAMILY>_FIRST/_LAST pair is a
// valid range inside 1..NVM_ID_LIMIT-1, no two families overlap, every single record id (a
// u16 const) lies in exactly one family, and the geometry holds the applet's worst case.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import * as nvm from "../protocol/portable/nvm.ts";

const table = nvm as unknown as Record<string, number>;
const families = Object.keys(table)
  .filter((k) => k.endsWith("_FIRST"))
  .map((k) => {
    const name = k.slice(0, -"_FIRST".length);
    return { name, first: table[k], last: table[`${name}_LAST`] };
  });

describe("NVM record id table", () => {
  it("families are well-formed and inside the id space", () => {
    expect(families.length).toBeGreaterThanOrEqual(9);
    for (const f of families) {
      expect(f.last, `${f.name}_LAST`).toBeTypeOf("number");
      expect(f.first, f.name).toBeGreaterThanOrEqual(1);
      expect(f.last, f.name).toBeGreaterThanOrEqual(f.first);
      expect(f.last, f.name).toBeLessThan(nvm.NVM_ID_LIMIT);
    }
  });

  it("families are pairwise disjoint", () => {
    for (const a of families)
      for (const b of families) if (a !== b) expect(a.last < b.first || b.last < a.first, `${a.name} overlaps ${b.name}`).toBe(true);
  });

  it("single record ids (every other u16 const) each fall in exactly one family and are distinct", () => {
    // nvm.ts convention: a `u16` constant is a record id unless it is a family bound,
    // NVM_ID_LIMIT or NVM_LOG_CAPACITY. Read from the source: types are gone at run time.
    const src = readFileSync(new URL("../protocol/portable/nvm.ts", import.meta.url), "utf8");
    const names = [...src.matchAll(/export const (NVM_\w+): u16 =/g)]
      .map((m) => m[1])
      .filter((k) => !/_(FIRST|LAST)$/.test(k) && k !== "NVM_ID_LIMIT" && k !== "NVM_LOG_CAPACITY");
    const seen = new Map<number, string>();
    for (const k of names) {
      const v = table[k];
      expect(v, k).toBeTypeOf("number");
      expect(seen.has(v), `${k} reuses ${seen.get(v)}`).toBe(false);
      seen.set(v, k);
      expect(families.filter((f) => v >= f.first && v <= f.last).length, k).toBe(1);
    }
  });

  it("the log ring fits its family and the default flash holds the applet's worst case", () => {
    expect(nvm.NVM_LOG_FIRST + nvm.NVM_LOG_CAPACITY - 1).toBeLessThanOrEqual(nvm.NVM_LOG_LAST);
    expect(nvm.NVM_LOG_ENTRY_MAX).toBeLessThanOrEqual(nvm.NVM_MAX_VALUE);
    const entry = (n: number) => nvm.NVM_ENTRY_HEADER_SIZE + ((n + 3) & ~3) + nvm.NVM_ENTRY_TRAILER_SIZE;
    const pageData = nvm.NVM_PAGE_SIZE - nvm.NVM_PAGE_HEADER_SIZE;
    const capacity = (nvm.NVM_PAGE_COUNT - nvm.NVM_RESERVED_PAGES) * (pageData - entry(nvm.NVM_MAX_VALUE));
    // a full log plus 32 records of the maximum size (config, keys, PIN, wallet state, certificate ...)
    const worst = nvm.NVM_LOG_CAPACITY * entry(nvm.NVM_LOG_ENTRY_MAX) + 32 * entry(nvm.NVM_MAX_VALUE);
    expect(worst).toBeLessThan(capacity);
  });
});
