// The five signed documents' payload maps (SPEC.md §5.2-§5.7): device certificate, load
// authorization, payment voucher, receipt, sync acknowledgement. Keys and sizes come from
// protocol/portable/cbor-keys.ts; each document is described once by a field table below
// and one generic encoder/decoder walks it, so the host cannot drift from the key table.
// Decoding is strict: non-canonical CBOR, unknown or missing keys, wrong types, oversize
// values or a wrong document type are FormatError("bad <doc>: ..."). Encoding checks the
// same rules and throws RangeError("bad <doc>: ...") for a bad argument.
import * as K from "../portable/cbor-keys.ts";
import { cborDecodeStrict, cborEncode, type CborValue } from "./cbor.ts";
import { decodeSign1, type Sign1 } from "./cose.ts";
import { FormatError } from "./errors.ts";

export interface Limits {
  cap: number;
  maxPayment: number;
  noCvm: number;
  maxCountSinceSync: number;
  maxAmountSinceSync: number;
  syncInterval: number;
}
export interface DeviceCert {
  deviceId: Uint8Array;
  token: Uint8Array;
  suite: number;
  publicKey: Uint8Array;
  formFactor: number;
  currency: number;
  limits: Limits;
  notBefore: number;
  notAfter: number;
  issuerKeyId: Uint8Array;
}
export interface LoadAuth {
  deviceId: Uint8Array;
  seq: number;
  amount: number;
  currency: number;
  expiry: number;
  issuerKeyId: Uint8Array;
}
export interface Voucher {
  deviceId: Uint8Array;
  counter: number;
  amount: number;
  currency: number;
  payeeId: Uint8Array;
  challenge: Uint8Array;
  time: number;
  prev: Uint8Array;
  balanceAfter: number;
  certRef: Uint8Array;
  kind: number;
}
export interface Receipt {
  deviceId: Uint8Array;
  kind: number;
  /** RECEIPT_KIND_LOAD: the load sequence (uint); RECEIPT_KIND_RECEIVE: the voucher hash (32 bytes) */
  ref: number | Uint8Array;
  amount: number;
  currency: number;
  balanceAfter: number;
  counter: number;
  time: number;
}
export interface SyncAck {
  deviceId: Uint8Array;
  upToCounter: number;
  time: number;
  revocationVersion: number;
  blockList: Uint8Array[];
  /** new limits; absent = keep the current ones */
  limits?: Limits;
  issuerKeyId: Uint8Array;
  /** trusted-key update (SPEC §5.8): both or neither; absent = keep the device's issuer keys */
  newKid?: Uint8Array;
  newKey?: Uint8Array;
}

const U32_MAX = 0xffffffff; // SPEC §5: amounts, counters and times are uint < 2^32

type Fail = (m: string) => never;
type FieldType =
  | { t: "uint"; min?: number; max?: number; oneOf?: readonly number[] }
  | { t: "bstr"; min: number; max: number }
  | { t: "ids" } // array of device ids, at most DOC_BLOCK_LIST_MAX
  | { t: "limits" }
  | { t: "ref" }; // receipt ref: uint or 32-byte hash, checked against kind below
interface Field {
  key: number;
  name: string;
  type: FieldType;
  optional?: boolean;
}
export interface Schema {
  doc: string;
  docType: number;
  fields: readonly Field[];
  /** cross-field rules, run after every field checked */
  check?: (o: Record<string, unknown>, fail: Fail) => void;
}

const uint = (extra: Omit<Extract<FieldType, { t: "uint" }>, "t"> = {}): FieldType => ({ t: "uint", ...extra });
const bstr = (min: number, max = min): FieldType => ({ t: "bstr", min, max });
const DEVICE_ID = bstr(K.DOC_DEVICE_ID_LEN);
const ISSUER_KEY_ID = bstr(K.DOC_ISSUER_KEY_ID_MIN, K.DOC_ISSUER_KEY_ID_MAX);
const CURRENCY = uint({ max: 999 }); // ISO 4217 numeric codes are three digits

const LIMIT_FIELDS: readonly [number, keyof Limits][] = [
  [K.LIMITS_KEY_CAP, "cap"],
  [K.LIMITS_KEY_MAX_PAYMENT, "maxPayment"],
  [K.LIMITS_KEY_NO_CVM, "noCvm"],
  [K.LIMITS_KEY_MAX_COUNT_SINCE_SYNC, "maxCountSinceSync"],
  [K.LIMITS_KEY_MAX_AMOUNT_SINCE_SYNC, "maxAmountSinceSync"],
  [K.LIMITS_KEY_SYNC_INTERVAL, "syncInterval"],
];

export const CERT_SCHEMA: Schema = {
  doc: "certificate",
  docType: K.DOC_TYPE_CERT,
  fields: [
    { key: K.CERT_KEY_DEVICE_ID, name: "deviceId", type: DEVICE_ID },
    { key: K.CERT_KEY_TOKEN, name: "token", type: bstr(K.DOC_TOKEN_LEN) },
    { key: K.CERT_KEY_SUITE, name: "suite", type: uint({ min: 1, max: 0xff }) },
    { key: K.CERT_KEY_PUBLIC_KEY, name: "publicKey", type: bstr(K.DOC_PUBLIC_KEY_LEN) },
    { key: K.CERT_KEY_FORM_FACTOR, name: "formFactor", type: uint({ oneOf: [K.FORM_CARD, K.FORM_BAND, K.FORM_WATCH] }) },
    { key: K.CERT_KEY_CURRENCY, name: "currency", type: CURRENCY },
    { key: K.CERT_KEY_LIMITS, name: "limits", type: { t: "limits" } },
    { key: K.CERT_KEY_NOT_BEFORE, name: "notBefore", type: uint() },
    { key: K.CERT_KEY_NOT_AFTER, name: "notAfter", type: uint() },
    { key: K.CERT_KEY_ISSUER_KEY_ID, name: "issuerKeyId", type: ISSUER_KEY_ID },
  ],
  check: (o, fail) => {
    if ((o.notAfter as number) < (o.notBefore as number)) fail("notAfter before notBefore");
    if ((o.publicKey as Uint8Array)[0] !== 0x04) fail("publicKey is not an uncompressed point");
  },
};

export const LOAD_SCHEMA: Schema = {
  doc: "load",
  docType: K.DOC_TYPE_LOAD,
  fields: [
    { key: K.LOAD_KEY_DEVICE_ID, name: "deviceId", type: DEVICE_ID },
    { key: K.LOAD_KEY_SEQ, name: "seq", type: uint() },
    { key: K.LOAD_KEY_AMOUNT, name: "amount", type: uint({ min: 1 }) },
    { key: K.LOAD_KEY_CURRENCY, name: "currency", type: CURRENCY },
    { key: K.LOAD_KEY_EXPIRY, name: "expiry", type: uint() },
    { key: K.LOAD_KEY_ISSUER_KEY_ID, name: "issuerKeyId", type: ISSUER_KEY_ID },
  ],
};

export const VOUCHER_SCHEMA: Schema = {
  doc: "voucher",
  docType: K.DOC_TYPE_VOUCHER,
  fields: [
    { key: K.VOUCHER_KEY_DEVICE_ID, name: "deviceId", type: DEVICE_ID },
    { key: K.VOUCHER_KEY_COUNTER, name: "counter", type: uint() },
    { key: K.VOUCHER_KEY_AMOUNT, name: "amount", type: uint({ min: 1 }) },
    { key: K.VOUCHER_KEY_CURRENCY, name: "currency", type: CURRENCY },
    { key: K.VOUCHER_KEY_PAYEE_ID, name: "payeeId", type: bstr(K.DOC_PAYEE_ID_LEN) },
    { key: K.VOUCHER_KEY_CHALLENGE, name: "challenge", type: bstr(K.DOC_CHALLENGE_LEN) },
    { key: K.VOUCHER_KEY_TIME, name: "time", type: uint() },
    { key: K.VOUCHER_KEY_PREV, name: "prev", type: bstr(K.DOC_HASH_LEN) },
    { key: K.VOUCHER_KEY_BALANCE_AFTER, name: "balanceAfter", type: uint() },
    { key: K.VOUCHER_KEY_CERT_REF, name: "certRef", type: bstr(K.DOC_CERT_REF_LEN) },
    { key: K.VOUCHER_KEY_KIND, name: "kind", type: uint({ oneOf: [K.VOUCHER_KIND_POS, K.VOUCHER_KIND_D2D] }) },
  ],
};

export const RECEIPT_SCHEMA: Schema = {
  doc: "receipt",
  docType: K.DOC_TYPE_RECEIPT,
  fields: [
    { key: K.RECEIPT_KEY_DEVICE_ID, name: "deviceId", type: DEVICE_ID },
    { key: K.RECEIPT_KEY_KIND, name: "kind", type: uint({ oneOf: [K.RECEIPT_KIND_LOAD, K.RECEIPT_KIND_RECEIVE] }) },
    { key: K.RECEIPT_KEY_REF, name: "ref", type: { t: "ref" } },
    { key: K.RECEIPT_KEY_AMOUNT, name: "amount", type: uint({ min: 1 }) },
    { key: K.RECEIPT_KEY_CURRENCY, name: "currency", type: CURRENCY },
    { key: K.RECEIPT_KEY_BALANCE_AFTER, name: "balanceAfter", type: uint() },
    { key: K.RECEIPT_KEY_COUNTER, name: "counter", type: uint() },
    { key: K.RECEIPT_KEY_TIME, name: "time", type: uint() },
  ],
  check: (o, fail) => {
    const load = o.kind === K.RECEIPT_KIND_LOAD;
    const ref = o.ref;
    if (load && !(typeof ref === "number" && Number.isInteger(ref) && ref >= 0 && ref <= U32_MAX)) fail("ref of a load receipt is not a uint32 load seq");
    if (!load && !(ref instanceof Uint8Array && ref.length === K.DOC_HASH_LEN)) fail("ref of a receive receipt is not a 32-byte hash");
  },
};

export const SYNCACK_SCHEMA: Schema = {
  doc: "syncack",
  docType: K.DOC_TYPE_SYNCACK,
  fields: [
    { key: K.SYNCACK_KEY_DEVICE_ID, name: "deviceId", type: DEVICE_ID },
    { key: K.SYNCACK_KEY_UP_TO_COUNTER, name: "upToCounter", type: uint() },
    { key: K.SYNCACK_KEY_TIME, name: "time", type: uint() },
    { key: K.SYNCACK_KEY_REVOCATION_VERSION, name: "revocationVersion", type: uint() },
    { key: K.SYNCACK_KEY_BLOCK_LIST, name: "blockList", type: { t: "ids" } },
    { key: K.SYNCACK_KEY_LIMITS, name: "limits", type: { t: "limits" }, optional: true },
    { key: K.SYNCACK_KEY_ISSUER_KEY_ID, name: "issuerKeyId", type: ISSUER_KEY_ID },
    { key: K.SYNCACK_KEY_NEW_KID, name: "newKid", type: ISSUER_KEY_ID, optional: true },
    { key: K.SYNCACK_KEY_NEW_KEY, name: "newKey", type: bstr(K.DOC_PUBLIC_KEY_LEN), optional: true },
  ],
  check: (o, fail) => {
    if ((o.newKid === undefined) !== (o.newKey === undefined)) fail("new issuer key id and public key come together");
  },
};

function checkUint(v: unknown, what: string, fail: Fail, min = 0, max = U32_MAX): number {
  if (typeof v !== "number" || !Number.isInteger(v)) fail(`${what} is not a uint`);
  const n = v as number;
  if (n < min || n > max) fail(`${what} ${n} out of range ${min}..${max}`);
  return n;
}

function checkBstr(v: unknown, what: string, fail: Fail, min: number, max: number): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(`${what} is not a byte string`);
  const b = v as Uint8Array;
  if (b.length < min || b.length > max) fail(`${what} length ${b.length}, expected ${min === max ? min : `${min}..${max}`}`);
  return b;
}

/** value -> CBOR (encode) or CBOR -> value (decode); both check the same rules. */
function convert(f: Field, v: unknown, fail: Fail, dir: "enc" | "dec"): unknown {
  const ty = f.type;
  switch (ty.t) {
    case "uint": {
      const n = checkUint(v, f.name, fail, ty.min, ty.max);
      if (ty.oneOf && !ty.oneOf.includes(n)) fail(`${f.name} ${n} is not one of ${ty.oneOf.join(", ")}`);
      return n;
    }
    case "bstr":
      return checkBstr(v, f.name, fail, ty.min, ty.max);
    case "ref":
      return typeof v === "number" ? checkUint(v, f.name, fail) : checkBstr(v, f.name, fail, K.DOC_HASH_LEN, K.DOC_HASH_LEN);
    case "ids": {
      if (!Array.isArray(v)) fail(`${f.name} is not an array`);
      const a = v as unknown[];
      if (a.length > K.DOC_BLOCK_LIST_MAX) fail(`${f.name} has ${a.length} entries, at most ${K.DOC_BLOCK_LIST_MAX}`);
      return a.map((x, i) => checkBstr(x, `${f.name}[${i}]`, fail, K.DOC_DEVICE_ID_LEN, K.DOC_DEVICE_ID_LEN));
    }
    case "limits": {
      if (dir === "enc") {
        if (typeof v !== "object" || v === null) fail(`${f.name} is not an object`);
        const o = v as Record<string, unknown>;
        return new Map(LIMIT_FIELDS.map(([k, n]) => [k, checkUint(o[n], `${f.name}.${n}`, fail)]));
      }
      if (!(v instanceof Map)) fail(`${f.name} is not a map`);
      const m = v as Map<number, unknown>;
      for (const k of m.keys()) if (!LIMIT_FIELDS.some(([lk]) => lk === k)) fail(`${f.name} has unknown key ${k}`);
      const out: Record<string, number> = {};
      for (const [k, n] of LIMIT_FIELDS) {
        if (!m.has(k)) fail(`${f.name} misses key ${k} (${n})`);
        out[n] = checkUint(m.get(k), `${f.name}.${n}`, fail);
      }
      return out;
    }
  }
}

/** Encode a document payload map (the COSE_Sign1 payload). */
export function encodeDoc(s: Schema, obj: object): Uint8Array {
  const fail: Fail = (m) => {
    throw new RangeError(`bad ${s.doc}: ${m}`);
  };
  const o = obj as Record<string, unknown>;
  const m = new Map<number, CborValue>([[0, s.docType]]);
  for (const f of s.fields) {
    if (o[f.name] === undefined) {
      if (f.optional) continue;
      fail(`missing ${f.name}`);
    }
    m.set(f.key, convert(f, o[f.name], fail, "enc") as CborValue);
  }
  s.check?.(o, fail);
  return cborEncode(m);
}

/** Strictly decode a document payload map. */
export function decodeDoc<T>(s: Schema, bytes: Uint8Array): T {
  const fail: Fail = (m) => {
    throw new FormatError(`bad ${s.doc}: ${m}`);
  };
  const v = cborDecodeStrict(bytes, s.doc);
  if (!(v instanceof Map)) fail("payload is not a map");
  const m = v as Map<number, CborValue>;
  const type = m.get(0);
  if (type !== s.docType) fail(`document type ${String(type)}, expected ${s.docType}`);
  for (const k of m.keys()) if (k !== 0 && !s.fields.some((f) => f.key === k)) fail(`unknown key ${k}`);
  const o: Record<string, unknown> = {};
  for (const f of s.fields) {
    if (!m.has(f.key)) {
      if (f.optional) continue;
      fail(`missing key ${f.key} (${f.name})`);
    }
    o[f.name] = convert(f, m.get(f.key), fail, "dec");
  }
  s.check?.(o, fail);
  return o as T;
}

export const encodeCert = (c: DeviceCert): Uint8Array => encodeDoc(CERT_SCHEMA, c);
export const decodeCert = (b: Uint8Array): DeviceCert => decodeDoc(CERT_SCHEMA, b);
export const encodeLoad = (l: LoadAuth): Uint8Array => encodeDoc(LOAD_SCHEMA, l);
export const decodeLoad = (b: Uint8Array): LoadAuth => decodeDoc(LOAD_SCHEMA, b);
export const encodeVoucher = (v: Voucher): Uint8Array => encodeDoc(VOUCHER_SCHEMA, v);
export const decodeVoucher = (b: Uint8Array): Voucher => decodeDoc(VOUCHER_SCHEMA, b);
export const encodeReceipt = (r: Receipt): Uint8Array => encodeDoc(RECEIPT_SCHEMA, r);
export const decodeReceipt = (b: Uint8Array): Receipt => decodeDoc(RECEIPT_SCHEMA, b);
export const encodeSyncAck = (a: SyncAck): Uint8Array => encodeDoc(SYNCACK_SCHEMA, a);
export const decodeSyncAck = (b: Uint8Array): SyncAck => decodeDoc(SYNCACK_SCHEMA, b);

/** A decoded signed document: the COSE envelope plus its decoded payload. */
export interface Signed<T> {
  sign1: Sign1;
  doc: T;
}

/**
 * Strictly decode a COSE_Sign1 and its payload with the document's schema, e.g.
 * `decodeSigned<Voucher>(bytes, VOUCHER_SCHEMA)`. The signature is NOT verified here:
 * verify `sign1.signature` over `toBeSigned(sign1.alg, sign1.payload)`. The kid must be the
 * payload's issuer key id (issuer-signed documents) or its device id (device-signed ones).
 */
export function decodeSigned<T>(bytes: Uint8Array, s: Schema): Signed<T> {
  const sign1 = decodeSign1(bytes, s.doc);
  const d = decodeDoc<T>(s, sign1.payload) as T & { deviceId: Uint8Array; issuerKeyId?: Uint8Array };
  const expected = d.issuerKeyId ?? d.deviceId;
  if (expected.length !== sign1.kid.length || expected.some((x, i) => x !== sign1.kid[i])) {
    throw new FormatError(`bad ${s.doc}: kid does not match the payload's ${d.issuerKeyId ? "issuer key id" : "device id"}`);
  }
  return { sign1, doc: d };
}
