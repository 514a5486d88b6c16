// The five signed documents' payload maps (SPEC.md §5.2-§5.7): device certificate, load
// authorization, payment voucher, receipt, sync acknowledgement. Keys and sizes come from
// protocol/portable/cbor-keys.ts; each document is described once by a field table below
// and one generic encoder/decoder walks it, so the host cannot drift from the key table.
// Decoding is strict and one pass of cbor.ts's CborReader over the bytes, driven by the
// same tables (no cbor-x, no re-encoding): non-canonical CBOR, unknown or missing keys,
// wrong types, oversize values or a wrong document type are FormatError("bad <doc>: ..."). Encoding checks the
// same rules and throws RangeError("bad <doc>: ...") for a bad argument.
import * as K from "../portable/cbor-keys.ts";
import { COSE_HDR_KID, COSE_TAG_SIGN1 } from "../portable/cose.ts";
import { CborReader, MAJOR_ARRAY, MAJOR_BSTR, MAJOR_MAP, MAJOR_NINT, MAJOR_TAG, MAJOR_UINT, bytesEqual, cborEncode, type CborValue } from "./cbor.ts";
import { readSign1, spliceToBeSigned, type Sign1 } from "./cose.ts";
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

function checkUintField(ty: Extract<FieldType, { t: "uint" }>, v: unknown, what: string, fail: Fail): number {
  const n = checkUint(v, what, fail, ty.min, ty.max);
  if (ty.oneOf && !ty.oneOf.includes(n)) fail(`${what} ${n} is not one of ${ty.oneOf.join(", ")}`);
  return n;
}

function checkLen(n: number, what: string, fail: Fail, min: number, max: number): void {
  if (n < min || n > max) fail(`${what} length ${n}, expected ${min === max ? min : `${min}..${max}`}`);
}

function checkBstr(v: unknown, what: string, fail: Fail, min: number, max: number): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(`${what} is not a byte string`);
  checkLen((v as Uint8Array).length, what, fail, min, max);
  return v as Uint8Array;
}

/** A field as the encoder checks it: value -> CBOR. */
function toCbor(f: Field, v: unknown, fail: Fail): CborValue {
  const ty = f.type;
  switch (ty.t) {
    case "uint":
      return checkUintField(ty, v, f.name, fail);
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
      if (typeof v !== "object" || v === null) fail(`${f.name} is not an object`);
      const o = v as Record<string, unknown>;
      return new Map(LIMIT_FIELDS.map(([k, n]) => [k, checkUint(o[n], `${f.name}.${n}`, fail)]));
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
    m.set(f.key, toCbor(f, o[f.name], fail));
  }
  s.check?.(o, fail);
  return cborEncode(m);
}

// --- decoding: one pass of the strict reader (cbor.ts CborReader) driven by the tables ---

/** One key of a map as the reader expects it; `name` "" for the document type (key 0). */
interface Slot {
  key: number;
  name: string;
  /** the name in messages: "amount", "limits.cap" */
  label: string;
  type: FieldType | { t: "doctype"; docType: number };
  optional: boolean;
  /** the limits map's own slots (type limits) */
  inner?: MapPlan;
}
interface MapPlan {
  /** ascending keys (RFC 8949 §4.2.1 order: all keys here are uints) */
  slots: Slot[];
  unknown: (k: number) => string;
  missing: (s: Slot) => string;
}
interface Plan {
  map: MapPlan;
  fail: Fail;
  s: Schema;
}

const plans = new WeakMap<Schema, Plan>();

function ascending(slots: Slot[]): Slot[] {
  return slots.sort((a, b) => a.key - b.key);
}

function planOf(s: Schema): Plan {
  let p = plans.get(s);
  if (p) return p;
  const doc = s.doc;
  const fail: Fail = (m) => {
    throw new FormatError(`bad ${doc}: ${m}`);
  };
  const slot = (f: Field): Slot => {
    const sl: Slot = { key: f.key, name: f.name, label: f.name, type: f.type, optional: !!f.optional };
    if (f.type.t === "limits") {
      const name = f.name;
      sl.inner = {
        slots: ascending(LIMIT_FIELDS.map(([key, n]) => ({ key, name: n, label: `${name}.${n}`, type: { t: "uint" }, optional: false }))),
        unknown: (k) => `${name} has unknown key ${k}`,
        missing: (m) => `${name} misses key ${m.key} (${m.name})`,
      };
    }
    return sl;
  };
  const typeSlot: Slot = { key: 0, name: "", label: "document type", type: { t: "doctype", docType: s.docType }, optional: false };
  p = {
    s,
    fail,
    map: {
      slots: ascending([typeSlot, ...s.fields.map(slot)]),
      unknown: (k) => `unknown key ${k}`,
      missing: (m) => (m.key === 0 ? `document type missing, expected ${s.docType}` : `missing key ${m.key} (${m.name})`),
    },
  };
  plans.set(s, p);
  return p;
}

/**
 * The entries of a map whose head (`n` entries) was just read: keys must ascend without
 * duplicates, each must be one of the plan's and every non-optional one must be there.
 * A missing key is reported after the map, so a misplaced key is reported as the order
 * violation it is.
 */
function readEntries(r: CborReader, n: number, m: MapPlan, copy: boolean, fail: Fail, o: Record<string, unknown>): void {
  const slots = m.slots;
  let si = 0;
  let last = -1;
  let missing: Slot | undefined;
  for (let i = 0; i < n; i++) {
    const k = r.head();
    if (r.major !== MAJOR_UINT) {
      if (r.major === MAJOR_NINT) fail(m.unknown(r.intOf(k)));
      r.fail("map key is not an integer");
    }
    if (k <= last) r.fail(`non-canonical encoding: map key ${k} after ${last} (keys ascend, no duplicates)`);
    last = k;
    while (si < slots.length && slots[si].key < k) {
      if (!missing && !slots[si].optional) missing = slots[si];
      si++;
    }
    if (si === slots.length || slots[si].key !== k) fail(m.unknown(k));
    const sl = slots[si++];
    const v = readValue(r, sl, copy, fail);
    if (sl.name) o[sl.name] = v;
  }
  for (; si < slots.length && !missing; si++) if (!slots[si].optional) missing = slots[si];
  if (missing) fail(m.missing(missing));
}

function readValue(r: CborReader, sl: Slot, copy: boolean, fail: Fail): unknown {
  const ty = sl.type;
  const a = r.head();
  const major = r.major;
  const int = major === MAJOR_UINT || major === MAJOR_NINT;
  switch (ty.t) {
    case "doctype":
      if (major !== MAJOR_UINT || a !== ty.docType) fail(`document type ${int ? r.intOf(a) : "(not an integer)"}, expected ${ty.docType}`);
      return a;
    case "uint":
      if (!int) fail(`${sl.label} is not a uint`);
      return checkUintField(ty, r.intOf(a), sl.label, fail);
    case "bstr":
      if (major !== MAJOR_BSTR) fail(`${sl.label} is not a byte string`);
      checkLen(a, sl.label, fail, ty.min, ty.max);
      return r.take(a, copy);
    case "ref":
      if (int) return checkUint(r.intOf(a), sl.label, fail);
      if (major !== MAJOR_BSTR) fail(`${sl.label} is not a byte string`);
      checkLen(a, sl.label, fail, K.DOC_HASH_LEN, K.DOC_HASH_LEN);
      return r.take(a, copy);
    case "ids": {
      if (major !== MAJOR_ARRAY) fail(`${sl.label} is not an array`);
      if (a > K.DOC_BLOCK_LIST_MAX) fail(`${sl.label} has ${a} entries, at most ${K.DOC_BLOCK_LIST_MAX}`);
      const out: Uint8Array[] = [];
      for (let i = 0; i < a; i++) {
        const n = r.head();
        if (r.major !== MAJOR_BSTR) fail(`${sl.label}[${i}] is not a byte string`);
        checkLen(n, `${sl.label}[${i}]`, fail, K.DOC_DEVICE_ID_LEN, K.DOC_DEVICE_ID_LEN);
        out.push(r.take(n, copy));
      }
      return out;
    }
    case "limits": {
      if (major !== MAJOR_MAP) fail(`${sl.label} is not a map`);
      const o: Record<string, unknown> = {};
      readEntries(r, a, sl.inner!, copy, fail, o);
      return o;
    }
  }
}

/** The payload map from `r.p` to `r.end`, checked against the schema (SPEC §5.2-§5.8). */
function readDoc<T>(r: CborReader, p: Plan, copy: boolean): T {
  const n = r.head();
  if (r.major !== MAJOR_MAP) p.fail("payload is not a map");
  const o: Record<string, unknown> = {};
  readEntries(r, n, p.map, copy, p.fail, o);
  r.done();
  p.s.check?.(o, p.fail);
  return o as T;
}

/** Strictly decode a document payload map (byte strings are copies). */
export function decodeDoc<T>(s: Schema, bytes: Uint8Array): T {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`bad ${s.doc}: expected a Uint8Array`);
  return readDoc<T>(new CborReader(bytes, s.doc), planOf(s), true);
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

/** A decoded signed document: the COSE envelope, its decoded payload and what was signed. */
export interface Signed<T> {
  sign1: Sign1;
  doc: T;
  /** the Sig_structure bytes (RFC 9052 §4.4) the signature covers, spliced from the input */
  tbs: Uint8Array;
}

/**
 * Strictly decode a COSE_Sign1 and its payload with the document's schema in one pass of
 * the strict reader, e.g. `decodeSigned<Voucher>(bytes, VOUCHER_SCHEMA)`. The signature is
 * NOT verified here: verify `sign1.signature` over `tbs`. The kid must be the payload's
 * issuer key id (issuer-signed documents) or its device id (device-signed ones).
 * `views`: byte strings (also in `doc`) are views into `bytes`, not copies, and `tbs` a view
 * into a shared slab: for callers that neither keep nor reuse the input buffer
 * (reconciliation's hot path, host-tools voucher-check.ts).
 */
export function decodeSigned<T>(bytes: Uint8Array, s: Schema, views = false): Signed<T> {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`bad ${s.doc}: expected a Uint8Array`);
  const r = new CborReader(bytes, s.doc);
  const e = readSign1(r, !views);
  r.p = e.payBody;
  r.end = e.payEnd;
  const d = readDoc<T & { deviceId: Uint8Array; issuerKeyId?: Uint8Array }>(r, planOf(s), !views);
  const expected = d.issuerKeyId ?? d.deviceId;
  if (!bytesEqual(expected, e.kid)) {
    throw new FormatError(`bad ${s.doc}: kid does not match the payload's ${d.issuerKeyId ? "issuer key id" : "device id"}`);
  }
  return { sign1: { alg: e.alg, kid: e.kid, payload: e.payload, signature: e.signature }, doc: d, tbs: spliceToBeSigned(bytes, e, views) };
}

/**
 * The kid (unprotected header) and document type (payload key 0) of a COSE_Sign1, or null
 * when the bytes do not read as one up to there. Only the envelope's shape is read (headers'
 * contents and the signature are not checked): a triage, not a check; decodeSigned checks
 * (and requires a device-signed document's kid to be its payload's device id).
 */
export function peekSign1(cose: Uint8Array): { kid: Uint8Array; docType: number } | null {
  const r = new CborReader(cose, "cose");
  try {
    want(r, MAJOR_TAG, COSE_TAG_SIGN1);
    want(r, MAJOR_ARRAY, 4);
    r.take(want(r, MAJOR_BSTR), false);
    want(r, MAJOR_MAP, 1);
    want(r, MAJOR_UINT, COSE_HDR_KID);
    const kid = r.take(want(r, MAJOR_BSTR), false);
    r.end = want(r, MAJOR_BSTR) + r.p;
    want(r, MAJOR_MAP);
    want(r, MAJOR_UINT, 0);
    return { kid, docType: want(r, MAJOR_UINT) };
  } catch (e) {
    if (e instanceof FormatError) return null;
    throw e;
  }
}

/** The document type of a COSE_Sign1 (peekSign1), or null: tells receipts from vouchers in device logs. */
export const peekDocType = (cose: Uint8Array): number | null => peekSign1(cose)?.docType ?? null;

/** One head of this major type (and argument): its argument. */
function want(r: CborReader, major: number, arg?: number): number {
  const v = r.head();
  if (r.major !== major || (arg !== undefined && v !== arg)) r.fail("not a COSE_Sign1 document");
  return v;
}
