// Packed worker results (host-tools/src/voucher-check.ts packChecks / unpackChecks;
// host-tools/README.md "Reconciliation rules"): what the main thread rebuilds from a worker's packed slice must equal what
// `toFacts` makes of the same checks — accepted vouchers of both suites (P-256: chain hash
// = voucher hash; SM2: its own SM3 chain hash), rejects with and without a device, in place.
import { describe, expect, it } from "vitest";
import { keyId, generateKeyPair } from "../host-tools/src/sig.ts";
import { PaperDevice } from "../host-tools/src/synthetic.ts";
import { checkVoucher, checkVouchers, packChecks, toFacts, unpackChecks, type DeviceKey } from "../host-tools/src/voucher-check.ts";
import { wasmVerifier } from "../host-tools/src/wasm-verifier.ts";

describe("packed voucher checks", () => {
  it("unpack(pack(checks)) equals toFacts of each check, in order", () => {
    const keys = new Map<string, DeviceKey>();
    const coses: Uint8Array[] = [];
    const payee = Buffer.from("00000000000000a1", "hex");
    for (const suite of ["p256", "sm2"] as const) {
      const key = generateKeyPair(suite);
      const issuer = { suite, key, kid: keyId(key.pub) };
      const d = PaperDevice.create(issuer);
      const r = d.record();
      keys.set(r.deviceId, { suite, pub: r.pub!, certRef: r.certRef! });
      for (let i = 0; i < 3; i++) coses.push(d.pay(10 + i, payee, 1_750_000_000 + i));
    }
    const unknown = PaperDevice.create({ suite: "p256", key: generateKeyPair("p256"), kid: keyId(generateKeyPair("p256").pub) });
    coses.splice(2, 0, unknown.pay(5, payee, 1_750_000_000)); // rejected: unknown device
    coses.push(Uint8Array.of(0xd2, 0x84)); // rejected: not decodable
    const flipped = Uint8Array.from(coses[0]);
    flipped[flipped.length - 1] ^= 1; // rejected: signature
    coses.splice(4, 0, flipped);
    const checks = coses.map((c) => checkVoucher(c, (id) => keys.get(id)));
    expect(checks.filter((c) => c.ok)).toHaveLength(6);
    // identity is the signed part, the chain hash covers the whole COSE (SPEC §5.10): never equal
    expect(checks.filter((c) => c.ok && c.chainHash !== c.hash)).toHaveLength(6);
    const expected = checks.map(toFacts);
    const got = unpackChecks(structuredClone(packChecks(checks)));
    expect(got).toEqual(expected);
    for (let i = 0; i < got.length; i++) expect(Object.keys(got[i])).toEqual(Object.keys(expected[i]));
  });

  it("an empty slice and an all-rejected slice", () => {
    expect(unpackChecks(packChecks([]))).toEqual([]);
    const bad = [Uint8Array.of(0), Uint8Array.of(0xd2)].map((c) => checkVoucher(c, () => undefined));
    expect(unpackChecks(packChecks(bad))).toEqual(bad.map(toFacts));
  });

  it("a slice checked in one SM2 batch call equals each voucher checked alone, in order", () => {
    // build/verifier.wasm has the batch entry: vouchers of several SM2 devices interleaved
    // (the batch orders them by key), a forged one per device, a P-256 one among them
    expect(wasmVerifier()?.batched).toBe(true);
    const keys = new Map<string, DeviceKey>();
    const payee = Buffer.from("00000000000000a2", "hex");
    const devices = (["sm2", "sm2", "p256", "sm2"] as const).map((suite) => {
      const key = generateKeyPair(suite);
      const d = PaperDevice.create({ suite, key, kid: keyId(key.pub) });
      const r = d.record();
      keys.set(r.deviceId, { suite, pub: r.pub!, certRef: r.certRef! });
      return d;
    });
    const coses: Uint8Array[] = [];
    for (let i = 0; i < 5; i++) for (const d of devices) coses.push(d.pay(1 + i, payee, 1_750_000_000 + i));
    for (const k of [1, 6, 8, 15]) {
      const forged = Uint8Array.from(coses[k]);
      forged[forged.length - 3] ^= 0x10; // inside s: the signature no longer verifies
      coses[k] = forged;
    }
    const alone = coses.map((c) => checkVoucher(c, (id) => keys.get(id)));
    expect(alone.filter((c) => !c.ok).map((c) => (c.ok ? "" : c.reason))).toEqual(Array(4).fill("bad voucher: signature does not verify"));
    expect(checkVouchers(coses, (id) => keys.get(id), "batch")).toEqual(alone);
    expect(checkVouchers(coses, (id) => keys.get(id), "single")).toEqual(alone);
  });
});
