// Differential, part of the 10,000-case runs of issue 3 (see crypto-ec-diff.ts): SM2: sm-crypto signs, firmware verifies (cases 5001-10000)
import { describe, it, expect } from "vitest";
import { EcWasm } from "./crypto-ec-harness.ts";
import { sm2SmCryptoToFirmware } from "./crypto-ec-diff.ts";

describe("SM2: sm-crypto signs, firmware verifies (cases 5001-10000)", () => {
  it("5000 seeded cases agree, corruptions rejected by both sides", () => {
    const r = sm2SmCryptoToFirmware(new EcWasm(), "sm2-ref-b", 5000);
    expect(r.failures.slice(0, 10)).toEqual([]);
    expect(r.cases).toBe(5000);
  }, 600_000);
});
