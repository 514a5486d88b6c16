// Differential, part of the 10,000-case runs of issue 3 (see crypto-ec-diff.ts): SM2: firmware signs, sm-crypto verifies (cases 6668-10000)
import { describe, it, expect } from "vitest";
import { EcWasm } from "./crypto-ec-harness.ts";
import { sm2FirmwareToSmCrypto } from "./crypto-ec-diff.ts";

describe("SM2: firmware signs, sm-crypto verifies (cases 6668-10000)", () => {
  it("3333 seeded cases agree, corruptions rejected by both sides", () => {
    const r = sm2FirmwareToSmCrypto(new EcWasm(), "sm2-fw-c", 3333);
    expect(r.failures.slice(0, 10)).toEqual([]);
    expect(r.cases).toBe(3333);
  }, 600_000);
});
