// Deterministic CBOR (RFC 8949 §4.2), COSE_Sign1 (RFC 9052 §4.2/§4.4) and the five signed
// documents (SPEC.md §5): hand-written vectors, RFC 8949 Appendix A, cose-wg examples,
// strictness cases and fast-check round trips.
import { hex as hexOf } from "../protocol/src/bytes.ts";
import { createPublicKey, verify } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as K from "../protocol/portable/cbor-keys.ts";
import { COSE_ALG_ES256, COSE_ALG_SM2_SM3 } from "../protocol/portable/cose.ts";
import { Tag, cborDecodeStrict, cborEncode, type CborValue } from "../protocol/src/cbor.ts";
import { decodeSign1, encodeSign1, protectedHeader, sigStructure, signSign1, toBeSigned } from "../protocol/src/cose.ts";
import { FormatError } from "../protocol/src/errors.ts";
import * as F from "../protocol/src/formats.ts";
import docsVec from "./vectors/protocol/documents.json" with { type: "json" };
import rfc8949 from "./vectors/rfc8949/appendix-a.json" with { type: "json" };
import rfc9052 from "./vectors/rfc9052/cose-wg-examples.json" with { type: "json" };

const hex = (s: string | string[]): Uint8Array => new Uint8Array(Buffer.from([s].flat().join("").replace(/\s+/g, ""), "hex"));

const SCHEMAS: Record<string, F.Schema> = {
  certificate: F.CERT_SCHEMA,
  load: F.LOAD_SCHEMA,
  voucher: F.VOUCHER_SCHEMA,
  receipt: F.RECEIPT_SCHEMA,
  syncack: F.SYNCACK_SCHEMA,
};

/** JSON vector value -> document object: hex strings of byte fields become bytes. */
function fromJson(v: unknown, field = ""): unknown {
  if (typeof v === "string") return hex(v);
  if (Array.isArray(v)) return v.map((x) => fromJson(x, field));
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === "limits" ? x : fromJson(x, k)]));
  return v;
}

/** Decode -> plain CBOR model of a payload, for building mutated documents. */
const asMap = (b: Uint8Array): Map<number, CborValue> => cborDecodeStrict(b, "test") as Map<number, CborValue>;

describe("RFC 8949 Appendix A (deterministic subset)", () => {
  const value = (v: (typeof rfc8949.deterministic)[number]): CborValue => {
    const j = v as Record<string, unknown>;
    const conv = (x: unknown): CborValue => (Array.isArray(x) ? x.map(conv) : (x as number));
    let out: CborValue;
    if ("int" in j) out = j.int as number;
    else if ("bytes" in j) out = hex(j.bytes as string);
    else if ("array" in j) out = conv(j.array);
    else out = new Map((j.map as [number, number][]).map(([a, b]) => [a, b]));
    return "tag" in j ? new Tag(out, j.tag as number) : out;
  };
  for (const v of rfc8949.deterministic) {
    it(`encodes and decodes ${v.hex}`, () => {
      expect(hexOf(cborEncode(value(v)))).toBe(v.hex);
      expect(cborDecodeStrict(hex(v.hex), "x")).toEqual(value(v));
    });
  }
  for (const v of rfc8949.notDeterministic) {
    it(`rejects ${v.hex} (${v.why})`, () => {
      expect(() => cborDecodeStrict(hex(v.hex), "x")).toThrow(FormatError);
    });
  }
  it("rejects non-shortest heads, unsorted or duplicate keys, trailing bytes", () => {
    for (const h of ["1805", "190005", "1a00000005", "5801aa", "a2030401 02", "a2010201 03", "0000", "a10102 00"]) {
      expect(() => cborDecodeStrict(hex(h), "x"), h).toThrow(/^bad x: /);
    }
  });
  it("sorts integer keys by their encoding (RFC 8949 §4.2.1: 10 < 100 < -1)", () => {
    expect(hexOf(cborEncode(new Map<number, CborValue>([[-1, 0], [100, 0], [10, 0]])))).toBe("a30a00186400" + "2000");
    expect(hexOf(cborEncode(new Map<number, CborValue>([[-2, 0], [24, 0], [-1, 0], [0, 0]])))).toBe("a4" + "0000" + "181800" + "2000" + "2100");
  });
});

describe("signed documents: hand-written vectors (SPEC §5)", () => {
  docsVec.documents.forEach((v, i) => {
    const s = SCHEMAS[v.doc];
    it(`#${i} ${v.doc}: encode gives the vector bytes, decode gives the value`, () => {
      const obj = fromJson(v.value) as object;
      expect(hexOf(F.encodeDoc(s, obj))).toBe(hexOf(hex(v.hex)));
      expect(F.decodeDoc(s, hex(v.hex))).toEqual(obj);
    });
  });
  it("typed wrappers agree with the schema codec", () => {
    const [cert, load, voucher, receipt, , syncack] = docsVec.documents.map((v) => hex(v.hex));
    expect(F.encodeCert(F.decodeCert(cert))).toEqual(cert);
    expect(F.encodeLoad(F.decodeLoad(load))).toEqual(load);
    expect(F.encodeVoucher(F.decodeVoucher(voucher))).toEqual(voucher);
    expect(F.encodeReceipt(F.decodeReceipt(receipt))).toEqual(receipt);
    expect(F.encodeSyncAck(F.decodeSyncAck(syncack))).toEqual(syncack);
  });
  for (const v of docsVec.sign1) {
    it(`COSE_Sign1 alg ${v.alg}: bytes, Sig_structure, strict decode`, () => {
      const payload = hex(docsVec.documents[v.payloadOf].hex);
      const msg = { alg: v.alg, kid: hex(v.kid), payload, signature: hex(v.signature) };
      const want = hexOf(hex(v.hexPrefix)) + hexOf(payload) + hexOf(hex(v.hexSuffix));
      expect(hexOf(protectedHeader(v.alg))).toBe(v.protected);
      expect(hexOf(encodeSign1(msg))).toBe(want);
      expect(decodeSign1(hex(want))).toEqual(msg);
      expect(hexOf(toBeSigned(v.alg, payload))).toBe(hexOf(hex(v.sigStructurePrefix)) + hexOf(payload));
      expect(hexOf(signSign1(v.alg, msg.kid, payload, () => msg.signature))).toBe(want);
      const schema = SCHEMAS[docsVec.documents[v.payloadOf].doc];
      expect(F.decodeSigned(hex(want), schema).doc).toEqual(F.decodeDoc(schema, payload));
    });
  }
});

describe("RFC 9052 Sig_structure against cose-wg/Examples", () => {
  const jwk = { kty: "EC", crv: "P-256", x: rfc9052.key.x, y: rfc9052.key.y };
  const pub = createPublicKey({ key: jwk, format: "jwk" });
  const payload = new TextEncoder().encode(rfc9052.plaintext);
  for (const e of rfc9052.examples) {
    it(`${e.title}: ToBeSign matches, signature verifies over it, strict profile rejects the message`, () => {
      const tbs = sigStructure(hex(e.protected), payload);
      expect(hexOf(tbs)).toBe(e.toBeSign.toLowerCase());
      const msg = hex(e.cbor);
      const sig = msg.slice(msg.length - 64);
      expect(verify("sha256", tbs, { key: pub, dsaEncoding: "ieee-p1363" }, sig)).toBe(true);
      expect(() => decodeSign1(msg)).toThrow(/^bad cose: (protected header|kid)/);
    });
  }
});

describe("strict decoding", () => {
  const voucher = hex(docsVec.documents[2].hex);
  const expectBad = (b: Uint8Array, doc: string, re: RegExp): void => {
    let err: unknown;
    try {
      F.decodeDoc(SCHEMAS[doc], b);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toMatch(new RegExp(`^bad ${doc}: ` + re.source));
  };
  const mutate = (f: (m: Map<number, CborValue>) => void): Uint8Array => {
    const m = asMap(voucher);
    f(m);
    return cborEncode(m);
  };
  it("rejects non-canonical encodings of a valid voucher", () => {
    expectBad(hex(hexOf(voucher).replace("0207", "021807")), "voucher", /non-canonical/);
    const h = hexOf(voucher);
    // swap keys 0 and 1: same content, wrong order
    expectBad(hex("ac" + h.slice(6, 26) + "0003" + h.slice(26)), "voucher", /non-canonical/);
    expectBad(hex(h + "00"), "voucher", /cbor: /);
    expectBad(hex("bf" + h.slice(2) + "ff"), "voucher", /non-canonical/);
  });
  it("rejects missing, unknown and mistyped keys, oversize values, the wrong document type", () => {
    expectBad(mutate((m) => m.delete(K.VOUCHER_KEY_CHALLENGE)), "voucher", /missing key 6/);
    expectBad(mutate((m) => m.set(23, 0)), "voucher", /unknown key 23/);
    expectBad(mutate((m) => m.set(K.VOUCHER_KEY_AMOUNT, 2 ** 32)), "voucher", /amount 4294967296 out of range/);
    expectBad(mutate((m) => m.set(K.VOUCHER_KEY_AMOUNT, 0)), "voucher", /amount 0 out of range/);
    expectBad(mutate((m) => m.set(K.VOUCHER_KEY_AMOUNT, -5)), "voucher", /amount -5 out of range/);
    expectBad(mutate((m) => m.set(K.VOUCHER_KEY_AMOUNT, hex("01"))), "voucher", /amount is not a uint/);
    expectBad(mutate((m) => m.set(K.VOUCHER_KEY_PREV, new Uint8Array(33))), "voucher", /prev length 33, expected 32/);
    expectBad(mutate((m) => m.set(K.VOUCHER_KEY_DEVICE_ID, 7)), "voucher", /deviceId is not a byte string/);
    expectBad(mutate((m) => m.set(K.VOUCHER_KEY_KIND, 2)), "voucher", /kind 2 is not one of/);
    expectBad(mutate((m) => m.set(K.VOUCHER_KEY_TYPE, K.DOC_TYPE_RECEIPT)), "voucher", /document type 4, expected 3/);
    expectBad(voucher, "receipt", /document type 3, expected 4/);
    expectBad(cborEncode([1, 2]), "voucher", /payload is not a map/);
  });
  it("checks cross-field rules", () => {
    const cert = asMap(hex(docsVec.documents[0].hex));
    cert.set(K.CERT_KEY_NOT_AFTER, 1);
    expectBad(cborEncode(cert), "certificate", /notAfter before notBefore/);
    const lim = asMap(hex(docsVec.documents[0].hex));
    (lim.get(K.CERT_KEY_LIMITS) as Map<number, CborValue>).delete(K.LIMITS_KEY_NO_CVM);
    expectBad(cborEncode(lim), "certificate", /limits misses key 2/);
    const r = asMap(hex(docsVec.documents[3].hex));
    r.set(K.RECEIPT_KEY_KIND, K.RECEIPT_KIND_RECEIVE);
    expectBad(cborEncode(r), "receipt", /ref of a receive receipt/);
    const a = asMap(hex(docsVec.documents[5].hex));
    a.set(K.SYNCACK_KEY_BLOCK_LIST, Array.from({ length: 17 }, () => new Uint8Array(8)));
    expectBad(cborEncode(a), "syncack", /blockList has 17 entries/);
  });
  it("encode refuses bad arguments with RangeError and the same prefix", () => {
    const v = F.decodeVoucher(voucher);
    expect(() => F.encodeVoucher({ ...v, payeeId: new Uint8Array(7) })).toThrow(RangeError);
    expect(() => F.encodeVoucher({ ...v, amount: 1.5 })).toThrow(/^bad voucher: amount is not a uint/);
    expect(() => F.encodeVoucher({ ...v, counter: undefined as unknown as number })).toThrow(/^bad voucher: missing counter/);
  });
  it("COSE envelope: tag, shape, headers, kid, signature length, kid/payload binding", () => {
    const good = { alg: COSE_ALG_ES256, kid: hex("0102030405060708"), payload: voucher, signature: new Uint8Array(64) };
    const arr = (): CborValue[] => [protectedHeader(good.alg), new Map<number, CborValue>([[4, good.kid]]), voucher, good.signature];
    const bad = (v: CborValue, re: RegExp): void => expect(() => decodeSign1(cborEncode(v), "voucher")).toThrow(new RegExp("^bad voucher: " + re.source));
    bad(arr(), /not a COSE_Sign1/);
    bad(new Tag(arr(), 98), /not a COSE_Sign1/);
    bad(new Tag(arr().slice(0, 3), 18), /COSE_Sign1 is not an array of 4/);
    const withAlg = (alg: CborValue): CborValue[] => [cborEncode(new Map([[1, alg]])), ...arr().slice(1)];
    bad(new Tag(withAlg(-8), 18), /unknown alg -8/);
    bad(new Tag([cborEncode(new Map<number, CborValue>([[1, -7], [3, 0]])), ...arr().slice(1)], 18), /protected header/);
    bad(new Tag([protectedHeader(-7), new Map<number, CborValue>([[4, good.kid], [5, hex("00")]]), voucher, good.signature], 18), /unprotected/);
    bad(new Tag([protectedHeader(-7), new Map<number, CborValue>([[4, hex("0102")]]), voucher, good.signature], 18), /kid length 2/);
    bad(new Tag([...arr().slice(0, 3), new Uint8Array(63)], 18), /signature is not 64 bytes/);
    const otherKid = encodeSign1({ ...good, kid: hex("0102030405060709") });
    expect(() => F.decodeSigned(otherKid, F.VOUCHER_SCHEMA)).toThrow(/^bad voucher: kid does not match the payload's device id/);
    expect(() => F.decodeSigned(encodeSign1({ ...good, alg: COSE_ALG_SM2_SM3 }), F.LOAD_SCHEMA)).toThrow(/^bad load: document type 3/);
  });
});

describe("sync ack trusted-key update (SPEC §5.8)", () => {
  it("new kid and new key come together, round-trip, and sort after the issuer key id", () => {
    const base = { deviceId: new Uint8Array(8), upToCounter: 0, time: 1, revocationVersion: 0, blockList: [], issuerKeyId: Uint8Array.of(1, 2, 3, 4) };
    const pub = Uint8Array.of(4, ...new Uint8Array(64).fill(7));
    const b = F.encodeSyncAck({ ...base, newKid: Uint8Array.of(9, 9, 9, 9), newKey: pub });
    expect(F.decodeSyncAck(b)).toMatchObject({ newKid: Uint8Array.of(9, 9, 9, 9), newKey: pub });
    expect(Buffer.from(b).toString("hex")).toMatch(/07440102030408440909090909584104/);
    expect(() => F.encodeSyncAck({ ...base, newKid: Uint8Array.of(9, 9, 9, 9) })).toThrow(/^bad syncack: new issuer key id and public key come together/);
    expect(() => F.encodeSyncAck({ ...base, newKey: pub })).toThrow(/^bad syncack: new issuer key id and public key come together/);
  });
});

describe("maximum sizes (SPEC §5.9)", () => {
  it("every document at its largest fits DOC_MAX_COSE_LEN, sizes as documented", () => {
    const M = 0xffffffff;
    const b = (n: number): Uint8Array => new Uint8Array(n).fill(0xff);
    const lim = { cap: M, maxPayment: M, noCvm: M, maxCountSinceSync: M, maxAmountSinceSync: M, syncInterval: M };
    const sizes = [
      F.encodeCert({ deviceId: b(8), token: b(16), suite: 255, publicKey: Uint8Array.of(4, ...b(64)), formFactor: K.FORM_WATCH, currency: 999, limits: lim, notBefore: M, notAfter: M, issuerKeyId: b(8) }),
      F.encodeLoad({ deviceId: b(8), seq: M, amount: M, currency: 999, expiry: M, issuerKeyId: b(8) }),
      F.encodeVoucher({ deviceId: b(8), counter: M, amount: M, currency: 999, payeeId: b(8), challenge: b(16), time: M, prev: b(32), balanceAfter: M, certRef: b(8), kind: K.VOUCHER_KIND_D2D }),
      F.encodeReceipt({ deviceId: b(8), kind: K.RECEIPT_KIND_RECEIVE, ref: b(32), amount: M, currency: 999, balanceAfter: M, counter: M, time: M }),
      F.encodeSyncAck({ deviceId: b(8), upToCounter: M, time: M, revocationVersion: M, blockList: Array(16).fill(b(8)), limits: lim, issuerKeyId: b(8) }),
      F.encodeSyncAck({ deviceId: b(8), upToCounter: M, time: M, revocationVersion: M, blockList: Array(16).fill(b(8)), limits: lim, issuerKeyId: b(8), newKid: b(8), newKey: Uint8Array.of(4, ...b(64)) }),
    ].map((p) => encodeSign1({ alg: COSE_ALG_SM2_SM3, kid: b(8), payload: p, signature: b(64) }).length);
    expect(sizes).toEqual([257, 134, 205, 167, 314, 393]);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(K.DOC_MAX_COSE_LEN);
  });
});

// --- fast-check round trips: arbitrary documents generated from the field tables ---
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });
const limits = fc.record({
  cap: u32,
  maxPayment: u32,
  noCvm: u32,
  maxCountSinceSync: u32,
  maxAmountSinceSync: u32,
  syncInterval: u32,
});
const issuerKeyId = fc.uint8Array({ minLength: K.DOC_ISSUER_KEY_ID_MIN, maxLength: K.DOC_ISSUER_KEY_ID_MAX });
const currency = fc.integer({ min: 0, max: 999 });
const amount = fc.integer({ min: 1, max: 0xffffffff });
const ARB: Record<string, fc.Arbitrary<object>> = {
  certificate: fc
    .record({
      deviceId: bytes(8), token: bytes(16), suite: fc.integer({ min: 1, max: 255 }),
      publicKey: bytes(64).map((b) => Uint8Array.of(4, ...b)), formFactor: fc.constantFrom(K.FORM_CARD, K.FORM_BAND, K.FORM_WATCH),
      currency, limits, notBefore: u32, notAfter: u32, issuerKeyId,
    })
    .map((c) => ({ ...c, notAfter: Math.max(c.notBefore, c.notAfter) })),
  load: fc.record({ deviceId: bytes(8), seq: u32, amount, currency, expiry: u32, issuerKeyId }),
  voucher: fc.record({
    deviceId: bytes(8), counter: u32, amount, currency, payeeId: bytes(8), challenge: bytes(16), time: u32,
    prev: bytes(32), balanceAfter: u32, certRef: bytes(8), kind: fc.constantFrom(K.VOUCHER_KIND_POS, K.VOUCHER_KIND_D2D),
  }),
  receipt: fc
    .record({ deviceId: bytes(8), load: fc.boolean(), seq: u32, hash: bytes(32), amount, currency, balanceAfter: u32, counter: u32, time: u32 })
    .map(({ load, seq, hash, ...r }) => ({ ...r, kind: load ? K.RECEIPT_KIND_LOAD : K.RECEIPT_KIND_RECEIVE, ref: load ? seq : hash })),
  syncack: fc
    .record({
      deviceId: bytes(8), upToCounter: u32, time: u32, revocationVersion: u32,
      blockList: fc.array(bytes(8), { maxLength: 16 }), limits: fc.option(limits, { nil: undefined }), issuerKeyId,
    })
    .map((a) => (a.limits === undefined ? (({ limits: _l, ...rest }) => rest)(a) : a)),
};

describe("fast-check properties", () => {
  it("arbitrary or mutated bytes fail only with FormatError", () => {
    const cose = hex(docsVec.sign1[0].hexPrefix.join("") + docsVec.documents[2].hex.join("") + docsVec.sign1[0].hexSuffix.join(""));
    const inputs = fc.oneof(
      fc.uint8Array({ maxLength: 80 }),
      fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat({ max: 3 })).map(([at, x, cut]) => {
        const m = cose.slice(0, cose.length - cut);
        m[at % m.length] ^= x;
        return m;
      }),
    );
    fc.assert(
      fc.property(inputs, (b) => {
        for (const f of [() => decodeSign1(b), () => F.decodeSigned(b, F.VOUCHER_SCHEMA), () => F.decodeVoucher(b), () => cborDecodeStrict(b, "x")]) {
          try {
            f();
          } catch (e) {
            expect(e).toBeInstanceOf(FormatError);
          }
        }
      }),
      { numRuns: 1500 },
    );
  });
  for (const [doc, arb] of Object.entries(ARB)) {
    it(`${doc}: decode(encode(x)) = x, and inside COSE_Sign1`, () => {
      fc.assert(
        fc.property(arb, fc.constantFrom(COSE_ALG_ES256, COSE_ALG_SM2_SM3), bytes(64), (obj, alg, sig) => {
          const s = SCHEMAS[doc];
          const b = F.encodeDoc(s, obj);
          expect(F.decodeDoc(s, b)).toEqual(obj);
          const o = obj as { deviceId: Uint8Array; issuerKeyId?: Uint8Array };
          const cose = encodeSign1({ alg, kid: o.issuerKeyId ?? o.deviceId, payload: b, signature: sig });
          expect(F.decodeSigned(cose, s).doc).toEqual(obj);
        }),
        { numRuns: 150 },
      );
    });
    it(`${doc}: any one-byte change is rejected or is itself the canonical encoding`, () => {
      fc.assert(
        fc.property(arb, fc.nat(), fc.integer({ min: 1, max: 255 }), (obj, at, x) => {
          const s = SCHEMAS[doc];
          const b = F.encodeDoc(s, obj);
          const m = b.slice();
          m[at % m.length] ^= x;
          let d: object;
          try {
            d = F.decodeDoc(s, m);
          } catch (e) {
            expect(e).toBeInstanceOf(FormatError);
            return;
          }
          expect(F.encodeDoc(s, d)).toEqual(m);
        }),
        { numRuns: 300 },
      );
    });
  }
});
