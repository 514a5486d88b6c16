// The fast voucher reader (host-tools/src/fast-voucher.ts) against the protocol's strict
// decoder (protocol/src/formats.ts decodeSigned): on valid vouchers and on fast-check
// mutations of them (bit flips, truncations, insertions, non-shortest heads) both accept
// exactly the same byte strings, decode the same fields, and the spliced Sig_structure
// equals toBeSigned(alg, payload).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { COSE_ALG_ES256, COSE_ALG_SM2_SM3 } from "../protocol/portable/cose.ts";
import { encodeSign1, toBeSigned } from "../protocol/src/cose.ts";
import { decodeSigned, encodeVoucher, VOUCHER_SCHEMA, type Voucher } from "../protocol/src/formats.ts";
import { parseVoucherFast } from "../host-tools/src/fast-voucher.ts";

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const u32 = fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 70_000 }), fc.integer({ min: 0, max: 0xffffffff }));
const voucherArb = fc.record({
  deviceId: bytes(8), counter: u32, amount: u32.map((x) => Math.max(1, x)), currency: fc.integer({ min: 0, max: 999 }), payeeId: bytes(8),
  challenge: bytes(16), time: u32, prev: bytes(32), balanceAfter: u32, certRef: bytes(8), kind: fc.constantFrom(0, 1),
});
const coseArb = fc.tuple(voucherArb, fc.constantFrom(COSE_ALG_ES256, COSE_ALG_SM2_SM3), bytes(64)).map(([v, alg, sig]) =>
  encodeSign1({ alg, kid: v.deviceId, payload: encodeVoucher(v as Voucher), signature: sig }),
);

function protocolAccepts(b: Uint8Array): ReturnType<typeof decodeSigned<Voucher>> | null {
  try {
    return decodeSigned<Voucher>(b, VOUCHER_SCHEMA);
  } catch {
    return null;
  }
}

function agree(b: Uint8Array): boolean {
  const slow = protocolAccepts(b);
  const fast = parseVoucherFast(b);
  expect(fast === null, `fast ${fast ? "accepted" : "rejected"}, protocol ${slow ? "accepted" : "rejected"}: ${Buffer.from(b).toString("hex")}`).toBe(slow === null);
  if (fast && slow) {
    expect(fast.doc).toEqual(slow.doc);
    expect(fast.alg).toBe(slow.sign1.alg);
    expect(Buffer.from(fast.tbs).equals(Buffer.from(toBeSigned(slow.sign1.alg, slow.sign1.payload)))).toBe(true);
  }
  return true;
}

describe("fast voucher reader agrees with the protocol decoder", () => {
  it("valid vouchers", () => {
    fc.assert(fc.property(coseArb, (b) => agree(b) && parseVoucherFast(b) !== null), { numRuns: 500 });
  });

  it("bit flips", () => {
    fc.assert(fc.property(coseArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (b, i, bit) => {
      const m = Uint8Array.from(b);
      m[i % m.length] ^= 1 << bit;
      return agree(m);
    }), { numRuns: 3000 });
  });

  it("truncations, insertions and byte replacements", () => {
    fc.assert(fc.property(coseArb, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("cut", "insert", "set"), (b, i, x, op) => {
      const at = i % b.length;
      const m = op === "cut" ? b.subarray(0, at) : op === "insert" ? Uint8Array.from([...b.subarray(0, at), x, ...b.subarray(at)]) : Uint8Array.from(b);
      if (op === "set") m[at] = x;
      return agree(m);
    }), { numRuns: 3000 });
  });

  it("non-shortest integer heads and trailing bytes are refused by both", () => {
    fc.assert(fc.property(coseArb, (b) => {
      const s = decodeSigned<Voucher>(b, VOUCHER_SCHEMA).sign1;
      // the payload ends with key 0b (kind) and a one-byte uint: widen it to 18 xx (same value)
      const wide = Uint8Array.from([...s.payload.subarray(0, -1), 0x18, s.payload[s.payload.length - 1]]);
      const m = encodeSign1({ ...s, payload: wide });
      agree(m);
      expect(parseVoucherFast(m)).toBeNull();
      agree(Uint8Array.from([...b, 0x00]));
      agree(Uint8Array.from([0xd8, 0x12, ...b.subarray(1)])); // tag 18 with a 1-byte head
      return true;
    }), { numRuns: 200 });
  });
});
