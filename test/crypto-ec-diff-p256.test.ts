// Differential, part of the 10,000-case runs of issue 3 (see crypto-ec-diff.ts): P-256: firmware and OpenSSL (node:crypto, ieee-p1363) both ways
import { describe, it, expect } from "vitest";
import { EcWasm } from "./crypto-ec-harness.ts";
import { p256BothWays } from "./crypto-ec-diff.ts";

describe("P-256: firmware and OpenSSL (node:crypto, ieee-p1363) both ways", () => {
  it("10000 seeded cases agree, corruptions rejected by both sides", () => {
    const r = p256BothWays(new EcWasm(), "p256", 10000);
    expect(r.failures.slice(0, 10)).toEqual([]);
    expect(r.cases).toBe(20000);
  }, 600_000);
});
