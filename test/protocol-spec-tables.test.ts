// SPEC.md §10 (the number tables) is generated from protocol/portable/ by
// scripts/gen-spec-tables.ts: this test fails when a constant changed and SPEC was not
// regenerated, so the contract cannot drift from the code on any number.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generate } from "../scripts/gen-spec-tables.ts";
import * as A from "../protocol/portable/apdu.ts";

describe("SPEC §10 numbers", () => {
  it("is what scripts/gen-spec-tables.ts writes from protocol/portable/ (run it after changing a constant)", async () => {
    expect(readFileSync(join(import.meta.dirname, "../protocol/SPEC.md"), "utf8") === (await generate())).toBe(true);
  });
  it("names every GET STATUS offset with its value", () => {
    const spec = readFileSync(join(import.meta.dirname, "../protocol/SPEC.md"), "utf8");
    for (const [k, v] of Object.entries(A)) if (k.startsWith("STATUS_OFF_")) expect(spec).toMatch(new RegExp(`\\| \`${k}\` \\| ${v}\\b`));
  });
});
