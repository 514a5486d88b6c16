// The strict reader (protocol/src/cbor.ts CborReader, driven by the document tables in
// protocol/src/formats.ts; SPEC §5.1, §5.2) against an independent oracle: cbor-x decodes
// leniently, the document encoder re-encodes, and a byte string is acceptable iff it is
// exactly that re-encoding. For all five schemas, over random documents and mutations:
// - the canonical encodings are accepted (and decode to the document, with the spliced
//   Sig_structure equal to toBeSigned), in copy and view mode alike;
// - the same values encoded with one non-shortest head, one indefinite length, two map
//   keys swapped or one key repeated are refused;
// - unknown, missing, retyped and out-of-range entries, trailing bytes, bit flips,
//   truncations and insertions: accepted exactly when the oracle accepts.
// Every refusal is FormatError("bad <doc>: ...").
import { Decoder, Tag } from "cbor-x";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as K from "../protocol/portable/cbor-keys.ts";
import { COSE_ALG_ES256, COSE_ALG_SM2_SM3, COSE_HDR_ALG, COSE_HDR_KID, COSE_TAG_SIGN1 } from "../protocol/portable/cose.ts";
import { cborDecodeStrict, cborEncode, type CborValue } from "../protocol/src/cbor.ts";
import { COSE_ALGS, encodeSign1, toBeSigned } from "../protocol/src/cose.ts";
import { FormatError } from "../protocol/src/errors.ts";
import * as F from "../protocol/src/formats.ts";

const SCHEMAS = [F.CERT_SCHEMA, F.LOAD_SCHEMA, F.VOUCHER_SCHEMA, F.RECEIPT_SCHEMA, F.SYNCACK_SCHEMA];
const LIMITS: [number, string][] = [
  [K.LIMITS_KEY_CAP, "cap"], [K.LIMITS_KEY_MAX_PAYMENT, "maxPayment"], [K.LIMITS_KEY_NO_CVM, "noCvm"],
  [K.LIMITS_KEY_MAX_COUNT_SINCE_SYNC, "maxCountSinceSync"], [K.LIMITS_KEY_MAX_AMOUNT_SINCE_SYNC, "maxAmountSinceSync"], [K.LIMITS_KEY_SYNC_INTERVAL, "syncInterval"],
];
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// --- random documents, generated from the field tables ---
const u32 = fc.oneof(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 70_000 }), fc.integer({ min: 0, max: 0xffffffff }));
const bytes = (min: number, max = min) => fc.uint8Array({ minLength: min, maxLength: max });

function fieldArb(t: F.Schema["fields"][number]["type"]): fc.Arbitrary<unknown> {
  switch (t.t) {
    case "uint":
      return t.oneOf ? fc.constantFrom(...t.oneOf) : fc.oneof(u32, fc.integer({ min: 0, max: 0xffffffff })).map((x) => Math.min(t.max ?? 0xffffffff, Math.max(t.min ?? 0, x)));
    case "bstr":
      return bytes(t.min, t.max);
    case "ids":
      return fc.array(bytes(K.DOC_DEVICE_ID_LEN), { maxLength: K.DOC_BLOCK_LIST_MAX });
    case "limits":
      return fc.record(Object.fromEntries(LIMITS.map(([, n]) => [n, u32])));
    case "ref":
      return fc.oneof(u32, bytes(K.DOC_HASH_LEN));
  }
}

/** The cross-field rules (the schemas' `check`), made to hold. */
function fixup(s: F.Schema, o: Record<string, unknown>): Record<string, unknown> {
  if (s === F.CERT_SCHEMA) {
    (o.publicKey as Uint8Array)[0] = 0x04;
    o.notAfter = Math.max(o.notAfter as number, o.notBefore as number);
  }
  if (s === F.RECEIPT_SCHEMA) o.kind = typeof o.ref === "number" ? K.RECEIPT_KIND_LOAD : K.RECEIPT_KIND_RECEIVE;
  if (s === F.SYNCACK_SCHEMA && (o.newKid === undefined) !== (o.newKey === undefined)) delete o.newKid, delete o.newKey;
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

const docArb = (s: F.Schema) =>
  fc.record(Object.fromEntries(s.fields.map((f) => [f.name, f.optional ? fc.option(fieldArb(f.type), { nil: undefined }) : fieldArb(f.type)]))).map((o) => fixup(s, o as Record<string, unknown>));

// --- a free encoder: the same value, canonical or with one chosen fault ---
type Node =
  | { k: "int"; v: number }
  | { k: "bytes"; v: Uint8Array }
  | { k: "array"; v: Node[] }
  | { k: "map"; v: [number, Node][] }
  | { k: "tag"; tag: number; v: Node }
  | { k: "cbor"; v: Node }; // a byte string holding an encoded node
type Fault = "widen" | "indefinite" | "swap" | "duplicate";

function nodeOf(v: unknown): Node {
  if (typeof v === "number") return { k: "int", v };
  if (v instanceof Uint8Array) return { k: "bytes", v };
  if (Array.isArray(v)) return { k: "array", v: v.map(nodeOf) };
  return { k: "map", v: LIMITS.map(([key, n]) => [key, nodeOf((v as Record<string, unknown>)[n])]) };
}
const docNode = (s: F.Schema, o: Record<string, unknown>): Node => ({
  k: "map",
  v: [[0, { k: "int", v: s.docType }], ...s.fields.filter((f) => o[f.name] !== undefined).map((f): [number, Node] => [f.key, nodeOf(o[f.name])])],
});
const coseNode = (alg: number, kid: Uint8Array, payload: Node, sig: Uint8Array): Node => ({
  k: "tag",
  tag: COSE_TAG_SIGN1,
  v: { k: "array", v: [{ k: "cbor", v: { k: "map", v: [[COSE_HDR_ALG, { k: "int", v: alg }]] } }, { k: "map", v: [[COSE_HDR_KID, { k: "bytes", v: kid }]] }, { k: "cbor", v: payload }, { k: "bytes", v: sig }] },
});

function countNodes(n: Node): number {
  switch (n.k) {
    case "array":
      return 1 + n.v.reduce((a, x) => a + countNodes(x), 0);
    case "map":
      return 1 + n.v.reduce((a, [, x]) => a + 1 + countNodes(x), 0);
    case "tag":
    case "cbor":
      return 1 + countNodes(n.v);
    default:
      return 1;
  }
}

/** Encode `n`; the item numbered `site` (pre-order, map keys counted) gets `fault` if it applies. */
function freeEncode(n: Node, site: number, fault: Fault): { bytes: Uint8Array; faulty: boolean } {
  const out: number[] = [];
  let i = 0;
  let faulty = false;
  const head = (major: number, arg: number, widen: boolean, sink: number[]) => {
    const sizes = [0, 1, 2, 4, 8].filter((z) => (z === 0 ? arg < 24 : arg < 2 ** (8 * z)));
    const size = widen && sizes.length > 1 ? sizes[1] : sizes[0];
    if (widen && sizes.length > 1) faulty = true;
    if (size === 0) return sink.push((major << 5) | arg);
    sink.push((major << 5) | { 1: 24, 2: 25, 4: 26, 8: 27 }[size]!);
    for (let b = size - 1; b >= 0; b--) sink.push(Math.floor(arg / 2 ** (8 * b)) % 256);
  };
  const int = (v: number, widen: boolean, sink: number[]) => (v >= 0 ? head(0, v, widen, sink) : head(1, -1 - v, widen, sink));
  const emit = (n: Node, sink: number[]): void => {
    const here = i++ === site;
    const widen = here && fault === "widen";
    const indef = here && fault === "indefinite";
    switch (n.k) {
      case "int":
        return void int(n.v, widen, sink);
      case "bytes":
      case "cbor": {
        let body: number[] = [...(n.k === "bytes" ? n.v : [])];
        if (n.k === "cbor") emit(n.v, (body = []));
        if (indef) {
          faulty = true;
          sink.push(0x5f);
          head(2, body.length, false, sink);
          return void sink.push(...body, 0xff);
        }
        head(2, body.length, widen, sink);
        return void sink.push(...body);
      }
      case "array":
        if (indef) (faulty = true), sink.push(0x9f);
        else head(4, n.v.length, widen, sink);
        for (const x of n.v) emit(x, sink);
        if (indef) sink.push(0xff);
        return;
      case "map": {
        let e = n.v;
        if (here && fault === "swap" && e.length >= 2) (faulty = true), (e = [e[1], e[0], ...e.slice(2)]);
        if (here && fault === "duplicate" && e.length >= 1) (faulty = true), (e = [...e, e[e.length - 1]]);
        if (indef) (faulty = true), sink.push(0xbf);
        else head(5, e.length, widen, sink);
        for (const [k, x] of e) {
          const keyHere = i++ === site;
          int(k, keyHere && fault === "widen", sink);
          emit(x, sink);
        }
        if (indef) sink.push(0xff);
        return;
      }
      case "tag":
        head(6, n.tag, widen, sink);
        return emit(n.v, sink);
    }
  };
  emit(n, out);
  return { bytes: Uint8Array.from(out), faulty };
}

// --- the oracle: cbor-x decodes leniently, the encoders decide ---
const lenient = new Decoder({ useRecords: false, mapsAsObjects: false, bundleStrings: false } as never);

function lenientDecode(b: Uint8Array): unknown {
  try {
    return lenient.decode(Uint8Array.from(b));
  } catch {
    return undefined;
  }
}

/** The document object of a leniently decoded payload map, or null when it is no document of `s`. */
function docOf(s: F.Schema, m: unknown): Record<string, unknown> | null {
  if (!(m instanceof Map) || m.get(0) !== s.docType) return null;
  const o: Record<string, unknown> = {};
  for (const [k, v] of m) {
    if (k === 0) continue;
    const f = s.fields.find((x) => x.key === k);
    if (!f) return null;
    if (f.type.t === "limits") {
      if (!(v instanceof Map) || v.size !== LIMITS.length || !LIMITS.every(([lk]) => v.has(lk))) return null;
      o[f.name] = Object.fromEntries(LIMITS.map(([lk, n]) => [n, v.get(lk)]));
    } else o[f.name] = v;
  }
  return o;
}

/** The document the bytes are the canonical COSE_Sign1 of, or null (undefined: not even CBOR of a COSE shape). */
function oracle(s: F.Schema, b: Uint8Array): Record<string, unknown> | null {
  const t = lenientDecode(b);
  if (!(t instanceof Tag) || t.tag !== COSE_TAG_SIGN1 || !Array.isArray(t.value) || t.value.length !== 4) return null;
  const [prot, unprot, payload, sig] = t.value as unknown[];
  if (!(prot instanceof Uint8Array) || !(payload instanceof Uint8Array) || !(unprot instanceof Map)) return null;
  const ph = lenientDecode(prot);
  if (!(ph instanceof Map) || ph.size !== 1 || !COSE_ALGS.includes(ph.get(COSE_HDR_ALG))) return null;
  if (unprot.size !== 1 || !unprot.has(COSE_HDR_KID)) return null;
  const o = docOf(s, lenientDecode(payload));
  if (!o) return null;
  try {
    const again = encodeSign1({ alg: ph.get(COSE_HDR_ALG), kid: unprot.get(COSE_HDR_KID), payload: F.encodeDoc(s, o), signature: sig as Uint8Array });
    const id = (o.issuerKeyId ?? o.deviceId) as Uint8Array;
    return toHex(again) === toHex(b) && toHex(id) === toHex(unprot.get(COSE_HDR_KID)) ? o : null;
  } catch {
    return null;
  }
}

function read(s: F.Schema, b: Uint8Array, views: boolean): F.Signed<Record<string, unknown>> | FormatError {
  try {
    return F.decodeSigned<Record<string, unknown>>(b, s, views);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    expect(e.message.startsWith(`bad ${s.doc}: `), e.message).toBe(true);
    return e;
  }
}

/** The reader accepts `b` exactly when the oracle does, with the same document; returns whether it did. */
function agree(s: F.Schema, b: Uint8Array): boolean {
  const want = oracle(s, b);
  const got = read(s, b, false);
  const why = got instanceof FormatError ? got.message : "accepted";
  expect(got instanceof FormatError, `${s.doc} ${toHex(b)}: reader ${why}, oracle ${want ? "accepts" : "refuses"}`).toBe(want === null);
  const view = read(s, b, true);
  expect(view instanceof FormatError ? view.message : view.doc).toEqual(got instanceof FormatError ? got.message : got.doc);
  if (!(got instanceof FormatError)) {
    expect(got.doc).toEqual(want);
    expect(toHex(got.tbs)).toBe(toHex(toBeSigned(got.sign1.alg, got.sign1.payload)));
  }
  return !(got instanceof FormatError);
}

const sig = bytes(64);
const alg = fc.constantFrom(COSE_ALG_ES256, COSE_ALG_SM2_SM3);
const FAULTS: Fault[] = ["widen", "indefinite", "swap", "duplicate"];

describe.each(SCHEMAS.map((s) => [s.doc, s] as const))("strict reader vs cbor-x + encoder: %s", (_doc, s) => {
  const cose = fc.tuple(docArb(s), alg, sig).map(([o, a, g]) => ({ o, a, g, node: docNode(s, o), kid: (o.issuerKeyId ?? o.deviceId) as Uint8Array }));

  it("accepts the canonical encodings, and nothing else of the same value", () => {
    fc.assert(
      fc.property(cose, fc.nat(), fc.constantFrom(...FAULTS), ({ o, a, g, node, kid }, site, fault) => {
        const whole = coseNode(a, kid, node, g);
        const canonical = encodeSign1({ alg: a, kid, payload: F.encodeDoc(s, o), signature: g });
        expect(toHex(freeEncode(whole, -1, "widen").bytes)).toBe(toHex(canonical));
        expect(agree(s, canonical)).toBe(true);
        const { bytes: b, faulty } = freeEncode(whole, site % countNodes(whole), fault);
        // the fault changes the encoding, not the value: cbor-x (no indefinite byte strings)
        // reads the same tag 18 array
        if (fault === "widen" || fault === "swap") expect(lenientDecode(b)).toBeInstanceOf(Tag);
        expect(agree(s, b)).toBe(!faulty);
        // the headers are exactly {1: alg} and {4: kid}: a repeated key there is a wrong header
        if (faulty) expect(() => F.decodeSigned(b, s)).toThrow(fault === "duplicate" ? /non-canonical encoding: map key|header is not/ : fault === "swap" ? /non-canonical encoding: map key/ : /non-canonical encoding/);
      }),
      { numRuns: 400 },
    );
  });

  it("payload alone (decodeDoc): canonical accepted, faults refused", () => {
    fc.assert(
      fc.property(cose, fc.nat(), fc.constantFrom(...FAULTS), ({ o, node }, site, fault) => {
        expect(F.decodeDoc(s, F.encodeDoc(s, o))).toEqual(o);
        const { bytes: b, faulty } = freeEncode(node, site % countNodes(node), fault);
        if (faulty) expect(() => F.decodeDoc(s, b)).toThrow(new RegExp(`^bad ${s.doc}: non-canonical encoding`));
        else expect(F.decodeDoc(s, b)).toEqual(o);
      }),
      { numRuns: 200 },
    );
  });

  it("unknown, missing, retyped and out-of-range entries: as the oracle says", () => {
    const value = fc.oneof(
      fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((v): Node => ({ k: "int", v })),
      u32.map((v): Node => ({ k: "int", v })),
      bytes(0, 40).map((v): Node => ({ k: "bytes", v })),
      fc.array(bytes(8), { maxLength: 3 }).map((v): Node => ({ k: "array", v: v.map((x) => ({ k: "bytes", v: x })) })),
      fc.constant<Node>({ k: "map", v: [[0, { k: "int", v: 1 }]] }),
    );
    const mutation = fc.oneof(
      fc.record({ op: fc.constant("drop" as const), at: fc.nat() }),
      fc.record({ op: fc.constant("set" as const), at: fc.nat(), value }),
      fc.record({ op: fc.constant("add" as const), key: fc.integer({ min: -4, max: 30 }), value }),
    );
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(cose, mutation, ({ a, g, node, kid }, mu) => {
        const e = [...(node as Extract<Node, { k: "map" }>).v];
        if (mu.op === "drop") e.splice(mu.at % e.length, 1);
        else if (mu.op === "set") e[mu.at % e.length] = [e[mu.at % e.length][0], mu.value];
        else if (!e.some(([k]) => k === mu.key)) e.push([mu.key, mu.value]);
        // canonical order, so only the content is at fault
        e.sort(([x], [y]) => (x >= 0 !== y >= 0 ? (x >= 0 ? -1 : 1) : x >= 0 ? x - y : y - x));
        const b = freeEncode(coseNode(a, kid, { k: "map", v: e }, g), -1, "widen").bytes;
        if (agree(s, b)) accepted++;
        else refused++;
      }),
      { numRuns: 600 },
    );
    expect(refused).toBeGreaterThan(100);
    expect(accepted).toBeGreaterThan(0);
  });

  it("trailing bytes, bit flips, truncations, insertions: as the oracle says", () => {
    fc.assert(
      fc.property(cose, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("trail", "flip", "cut", "insert"), ({ o, a, g, kid }, at, x, op) => {
        const b = encodeSign1({ alg: a, kid, payload: F.encodeDoc(s, o), signature: g });
        const i = at % b.length;
        const m =
          op === "trail" ? Uint8Array.from([...b, x]) :
          op === "cut" ? b.subarray(0, i) :
          op === "insert" ? Uint8Array.from([...b.subarray(0, i), x, ...b.subarray(i)]) :
          Uint8Array.from(b, (y, j) => (j === i ? y ^ (1 << x % 8) : y));
        const ok = agree(s, m);
        if (op === "trail" || op === "cut") expect(ok).toBe(false);
      }),
      { numRuns: 1500 },
    );
  });
});

describe("generic items (cborDecodeStrict) vs cbor-x", () => {
  const leaf = fc.oneof(
    fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }).map((v): Node => ({ k: "int", v })),
    fc.integer({ min: -30, max: 300 }).map((v): Node => ({ k: "int", v })),
    bytes(0, 30).map((v): Node => ({ k: "bytes", v })),
  );
  const tree = fc.letrec<{ node: Node }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      fc.array(tie("node"), { maxLength: 4 }).map((v): Node => ({ k: "array", v })),
      fc.uniqueArray(fc.tuple(fc.integer({ min: -30, max: 300 }), tie("node")), { selector: ([k]) => k, maxLength: 4 }).map((v): Node => ({
        k: "map",
        v: v.sort(([x], [y]) => (x >= 0 !== y >= 0 ? (x >= 0 ? -1 : 1) : x >= 0 ? x - y : y - x)),
      })),
      // tags cbor-x gives no meaning to (0, 1 are dates for it, 2, 3 bignums, 64.. typed arrays)
      fc.tuple(fc.constantFrom(6, 17, 18, 23, 98, 300, 1000, 70_000), tie("node")).map(([tag, v]): Node => ({ k: "tag", tag, v })),
    ),
  })).node;
  const valueOf = (n: Node): CborValue =>
    n.k === "int" || n.k === "bytes" ? n.v : n.k === "array" ? n.v.map(valueOf) : n.k === "map" ? new Map(n.v.map(([k, x]) => [k, valueOf(x)])) : n.k === "tag" ? new Tag(valueOf(n.v), n.tag) : valueOf(n.v);

  it("canonical: the encoder's bytes; decoded equal to what cbor-x decodes; every fault refused", () => {
    fc.assert(
      fc.property(tree, fc.nat(), fc.constantFrom(...FAULTS), (n, site, fault) => {
        const b = freeEncode(n, -1, "widen").bytes;
        expect(toHex(b)).toBe(toHex(cborEncode(valueOf(n))));
        const v = cborDecodeStrict(b, "x");
        expect(v).toEqual(valueOf(n));
        // cbor-x gives integers of 8-byte heads as BigInt
        const plain = (x: unknown): unknown =>
          typeof x === "bigint" ? Number(x) : Array.isArray(x) ? x.map(plain) : x instanceof Map ? new Map([...x].map(([k, y]) => [k, plain(y)])) : x instanceof Tag ? new Tag(plain(x.value), x.tag) : x;
        expect(plain(lenientDecode(b))).toEqual(v);
        const { bytes: m, faulty } = freeEncode(n, site % countNodes(n), fault);
        if (faulty) expect(() => cborDecodeStrict(m, "x")).toThrow(/^bad x: non-canonical encoding/);
        else expect(cborDecodeStrict(m, "x")).toEqual(v);
        expect(() => cborDecodeStrict(Uint8Array.from([...b, 0]), "x")).toThrow(/^bad x: cbor: 1 trailing byte/);
      }),
      { numRuns: 500 },
    );
  });

  it("peekDocType names each document's type and nothing for other bytes", () => {
    fc.assert(
      fc.property(fc.constantFrom(...SCHEMAS).chain((s) => fc.tuple(fc.constant(s), docArb(s), alg, sig)), fc.uint8Array({ maxLength: 40 }), ([s, o, a, g], junk) => {
        const kid = (o.issuerKeyId ?? o.deviceId) as Uint8Array;
        expect(F.peekDocType(encodeSign1({ alg: a, kid, payload: F.encodeDoc(s, o), signature: g }))).toBe(s.docType);
        const p = F.peekDocType(junk);
        if (p !== null) expect(junk[0]).toBe(0xd2);
      }),
      { numRuns: 300 },
    );
  });
});
