// The exchange formats of reconciliation (SPEC §5.11): a POS outbox export (`wallet pos
// export`) and a device log (`wallet sync --out`), both JSON holding hex COSE documents.
// Files are streamed, never read whole (SPEC §5.11 "Reading"): `openInput` reads a file
// once to check it completely (strict JSON, the header fields in any key order, every
// document hex) and hash it, then `documents()` reads it again and yields its documents in
// bounded batches, checking that the bytes are those of the first pass. `parseInput` is the
// same scanner over bytes already in memory (a device log read by `wallet sync`). Any defect
// is one data error naming the file and the byte offset (and line) where it was found.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { basename } from "node:path";
import { dataError } from "./errors.ts";

export const POS_EXPORT_FORMAT = "offline-wallet-pos-export";
export const DEVICE_LOG_FORMAT = "offline-wallet-device-log";

/** A POS outbox export (`wallet pos export`). */
export interface PosExport {
  format: typeof POS_EXPORT_FORMAT;
  version: 1;
  terminal: string;
  merchant: string; // hex payee id (8 bytes)
  exportedAt: string;
  vouchers: { cose: string; receivedAt: string }[];
}

/** A device's log as read by `wallet sync` (vouchers and receipts, hex COSE). */
export interface DeviceLog {
  format: typeof DEVICE_LOG_FORMAT;
  version: 1;
  deviceId: string;
  readAt: string;
  entries: string[];
}

/** What a file is, known from its header (SPEC §5.11). */
export interface InputHeader {
  name: string;
  /** SHA-256 of the file's bytes: its identity in the ledger's imports */
  hash: string;
  kind: "pos-export" | "device-log";
  presenter: string; // "merchant:<id>" or "device:<id>"
  /** documents in the file (vouchers, or a device log's entries) */
  count: number;
}

/** A file held in memory with all its documents. */
export interface InputFile extends InputHeader {
  coses: Uint8Array[];
}

/** A file on disk, checked whole; `documents()` reads it again in batches of at most `BATCH` documents. */
export interface InputStream extends InputHeader {
  documents(): AsyncIterable<Uint8Array[]>;
}

/** Documents handed on at a time while streaming (SPEC §5.11 "Reading"). */
export const BATCH = 5000;
/** Bytes read from disk at a time. */
const CHUNK = 1 << 20;
/** The longest single JSON token (string, number) accepted: no field of the format comes near. */
export const MAX_TOKEN = 1 << 20;
/** Decoded documents share buffers of this size (one allocation per slab, not per document). */
const SLAB = 1 << 18;

const bad = (name: string, m: string) => dataError(`reconcile: ${name}: ${m}`);

// --- the scanner -----------------------------------------------------------------------
// A strict JSON tokenizer and grammar (RFC 8259, exactly what JSON.parse accepts) with an
// explicit stack, fed chunk by chunk: a token cut by a chunk's end is scanned again with the
// next chunk. The header keys are kept wherever they come; the document lists ("vouchers",
// "entries": which one counts is known only with "format") are checked element by element,
// their first defect recorded; the list that counts is decoded when asked (`decode`).

const enum Tok { None, ObjOpen, ObjClose, ArrOpen, ArrClose, Colon, Comma, Str, Prim }
const enum Role { Skip, Top, List, Item }
const enum St { Value, KeyOrEnd, Key, Colon, CommaOrEnd, ValueOrEnd }

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) HEX["0123456789abcdef".charCodeAt(i)] = i;
const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;
const ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);

interface Frame { obj: boolean; st: St; role: Role; key: string | null; seen?: Set<string> }
interface ListStats { count: number; error: string | null }
/** A header value: a string or number as JSON.parse gives it, or OTHER for anything else. */
const OTHER = Symbol("not a string or number");
type HeaderValue = string | number | boolean | null | typeof OTHER;
const utf8 = (buf: Uint8Array, s: number, e: number) => Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString("utf8");
const COSE_KEY = Buffer.from('"cose"');
/** An element's key: only "cose" matters (compared as bytes; parsed only when it holds escapes). */
function itemKey(buf: Uint8Array, s: number, e: number): string {
  if (e - s === COSE_KEY.length && buf[s + 1] === 0x63 && buf[s + 2] === 0x6f && buf[s + 3] === 0x73 && buf[s + 4] === 0x65) return "cose";
  for (let i = s; i < e; i++) if (buf[i] === 0x5c) return JSON.parse(utf8(buf, s, e)) as string;
  return "";
}
const HEADER_KEYS = new Set(["format", "version", "merchant", "deviceId"]);
const LIST_KEYS = new Set(["vouchers", "entries"]);

class Scanner {
  private stack: Frame[] = [];
  private done = false; // the top-level value is complete
  private started = false;
  /** file offset of the current chunk's first byte, and newlines before it */
  private base = 0;
  private lines = 1;
  readonly header = new Map<string, HeaderValue>();
  readonly lists = new Map<string, ListStats>();
  /** the element of a list being scanned: its index, its "cose" string (byte range) or the defect */
  private item: { i: number; cose: 0 | 1 | 2 } | null = null; // "cose": 0 not seen, 1 hex, 2 anything else
  private slab = Buffer.allocUnsafe(0);
  private slabUsed = 0;
  /** decoded documents of the list `decode` names (pass 2) */
  readonly out: Uint8Array[] = [];
  constructor(private name: string, private decode: string | null = null) {}

  private syntax(p: number, what: string): never {
    throw bad(this.name, `not valid JSON at byte ${this.base + p} (line ${this.lines}): ${what} (corrupted or truncated export?)`);
  }

  /** Scans `buf` from its start; returns where an unfinished token begins (buf.length: none). */
  feed(buf: Buffer, final: boolean): number {
    let p = 0;
    const n = buf.length;
    for (;;) {
      // whitespace
      while (p < n) {
        const c = buf[p];
        if (c === 0x20 || c === 0x09 || c === 0x0d) p++;
        else if (c === 0x0a) p++, this.lines++; // newlines occur only here (never inside a token)
        else break;
      }
      if (p >= n) break;
      if (this.done) this.syntax(p, "more after the end of the top-level value");
      const c = buf[p];
      let tok: Tok;
      let end = p + 1;
      let hex = false;
      if (c === 0x7b) tok = Tok.ObjOpen;
      else if (c === 0x7d) tok = Tok.ObjClose;
      else if (c === 0x5b) tok = Tok.ArrOpen;
      else if (c === 0x5d) tok = Tok.ArrClose;
      else if (c === 0x3a) tok = Tok.Colon;
      else if (c === 0x2c) tok = Tok.Comma;
      else if (c === 0x22) {
        // a string: its end, and whether it is lowercase hex of even, non-zero length (the
        // common case first: up to the next quote, every byte a hex digit)
        let i = p + 1;
        hex = true;
        const q = buf.indexOf(0x22, i);
        if (q > 0) {
          while (i < q && HEX[buf[i]] >= 0) i++;
          if (i === q) hex = true;
          else (hex = false), (i = p + 1);
        }
        if (i !== q) for (;;) {
          if (i >= n) {
            if (i - p > MAX_TOKEN) this.syntax(p, `a string longer than ${MAX_TOKEN} bytes`);
            return final ? this.syntax(n, "the file ends inside a string") : p;
          }
          const b = buf[i];
          if (b === 0x22) break;
          if (b === 0x5c) {
            hex = false;
            if (i + 1 >= n) {
              if (final) this.syntax(n, "the file ends inside a string");
              return p;
            }
            const e = buf[i + 1];
            if (e === 0x75) {
              if (i + 6 > n) {
                if (final) this.syntax(n, "the file ends inside a string");
                return p;
              }
              for (let k = i + 2; k < i + 6; k++) if (!((buf[k] >= 0x30 && buf[k] <= 0x39) || ((buf[k] | 0x20) >= 0x61 && (buf[k] | 0x20) <= 0x66))) this.syntax(k, "a bad \\u escape");
              i += 6;
            } else if (ESCAPES.has(e)) i += 2;
            else this.syntax(i, "a bad escape in a string");
            continue;
          }
          if (b < 0x20) this.syntax(i, "a control character in a string");
          if (HEX[b] < 0) hex = false;
          i++;
        }
        end = i + 1;
        if (hex && ((end - p) & 1 || end - p === 2)) hex = false; // odd number of digits, or empty
        tok = Tok.Str;
      } else if (c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e) {
        let i = p + 1;
        while (i < n && ((buf[i] >= 0x30 && buf[i] <= 0x39) || (buf[i] >= 0x61 && buf[i] <= 0x7a) || buf[i] === 0x2b || buf[i] === 0x2d || buf[i] === 0x2e || buf[i] === 0x45)) i++;
        if (i >= n && !final) {
          if (i - p > MAX_TOKEN) this.syntax(p, `a number longer than ${MAX_TOKEN} bytes`);
          return p;
        }
        const t = Buffer.from(buf.buffer, buf.byteOffset + p, i - p).toString("latin1");
        if (t !== "true" && t !== "false" && t !== "null" && !NUMBER.test(t)) this.syntax(p, `"${t.slice(0, 20)}" is not a JSON value`);
        end = i;
        tok = Tok.Prim;
      } else this.syntax(p, `unexpected character ${JSON.stringify(String.fromCharCode(c))}`);
      this.token(tok, buf, p, end, hex);
      p = end;
    }
    return n;
  }

  /** At the end of the file: the top-level value must be complete. */
  finish(buf: Buffer): void {
    if (!this.done) this.syntax(buf.length, this.started ? "the file ends before the top-level value does" : "the file holds no JSON value");
  }

  /** Moves the chunk window on: `consumed` bytes of the last chunk are behind. */
  advance(consumed: number): void {
    this.base += consumed;
  }

  private token(tok: Tok, buf: Buffer, p: number, end: number, hex: boolean): void {
    const top = this.stack[this.stack.length - 1];
    if (!top) {
      if (this.started) this.syntax(p, "more after the end of the top-level value");
      this.started = true;
      if (tok === Tok.ObjOpen) this.stack.push({ obj: true, st: St.KeyOrEnd, role: Role.Top, key: null, seen: new Set() });
      else if (tok === Tok.ArrOpen) this.stack.push({ obj: false, st: St.ValueOrEnd, role: Role.Skip, key: null });
      else if (tok === Tok.Str || tok === Tok.Prim) this.done = true;
      else this.syntax(p, "expected a value");
      return;
    }
    if (top.st === St.CommaOrEnd) {
      if (tok === (top.obj ? Tok.ObjClose : Tok.ArrClose)) return this.close();
      if (tok !== Tok.Comma) this.syntax(p, top.obj ? "expected ',' or '}'" : "expected ',' or ']'");
      top.st = top.obj ? St.Key : St.Value;
      return;
    }
    if (top.obj) {
      switch (top.st) {
        case St.KeyOrEnd:
        case St.Key:
          if (tok === Tok.ObjClose && top.st === St.KeyOrEnd) return this.close();
          if (tok !== Tok.Str) this.syntax(p, top.st === St.Key ? "expected a key after ','" : "expected a key or '}'");
          top.key = top.role === Role.Skip ? null : top.role === Role.Item ? itemKey(buf, p, end) : (JSON.parse(utf8(buf, p, end)) as string);
          if (top.role === Role.Top && (HEADER_KEYS.has(top.key!) || LIST_KEYS.has(top.key!))) {
            if (top.seen!.has(top.key!)) throw bad(this.name, `key "${top.key}" appears twice (at byte ${this.base + p})`);
            top.seen!.add(top.key!);
          }
          top.st = St.Colon;
          return;
        case St.Colon:
          if (tok !== Tok.Colon) this.syntax(p, "expected ':'");
          top.st = St.Value;
          return;
        case St.Value:
          top.st = St.CommaOrEnd;
          return this.value(top, tok, buf, p, end, hex);
      }
    } else {
      switch (top.st) {
        case St.ValueOrEnd:
        case St.Value:
          if (tok === Tok.ArrClose && top.st === St.ValueOrEnd) return this.close();
          top.st = St.CommaOrEnd;
          return this.value(top, tok, buf, p, end, hex);
      }
    }
    this.syntax(p, "unexpected token");
  }

  /** A value starts (or is) `tok`, inside `parent`. */
  private value(parent: Frame, tok: Tok, buf: Buffer, p: number, end: number, hex: boolean): void {
    let role = Role.Skip;
    if (parent.role === Role.Top) {
      const k = parent.key!;
      if (HEADER_KEYS.has(k)) this.header.set(k, tok === Tok.Str || tok === Tok.Prim ? JSON.parse(utf8(buf, p, end)) : OTHER);
      else if (LIST_KEYS.has(k)) {
        if (tok === Tok.ArrOpen) {
          this.lists.set(k, { count: 0, error: null });
          role = Role.List;
        } else this.lists.set(k, { count: 0, error: `${k} is not a list` });
      }
    } else if (parent.role === Role.List) {
      const k = this.stack[this.stack.length - 2].key!;
      const l = this.lists.get(k)!;
      const i = l.count++;
      if (tok === Tok.Str) {
        if (!hex) l.error ??= `${k}[${i}] is not hex COSE`;
        else if (this.decode === k) this.emit(buf, p + 1, end - 1);
      } else if (tok === Tok.ObjOpen) {
        role = Role.Item;
        this.item = { i, cose: 0 };
      } else l.error ??= `${k}[${i}] is not hex COSE`;
    } else if (parent.role === Role.Item && parent.key === "cose") {
      const it = this.item!;
      const k = this.stack[this.stack.length - 3].key!;
      if (it.cose !== 0) throw bad(this.name, `${k}[${it.i}] has "cose" twice (at byte ${this.base + p})`);
      it.cose = tok === Tok.Str && hex ? 1 : 2;
      // decoded now: the chunk holding it may be gone when the element ends
      if (it.cose === 1 && this.decode === k) this.emit(buf, p + 1, end - 1);
    }
    if (tok === Tok.ObjOpen) this.stack.push({ obj: true, st: St.KeyOrEnd, role, key: null });
    else if (tok === Tok.ArrOpen) this.stack.push({ obj: false, st: St.ValueOrEnd, role, key: null });
    else if (tok !== Tok.Str && tok !== Tok.Prim) this.syntax(p, "expected a value");
  }

  private close(): void {
    const f = this.stack.pop()!;
    if (f.role === Role.Item) {
      const k = this.stack[this.stack.length - 2].key!;
      if (this.item!.cose !== 1) this.lists.get(k)!.error ??= `${k}[${this.item!.i}] is not hex COSE`;
      this.item = null;
    }
    if (this.stack.length === 0) this.done = true;
  }

  /** Decodes the hex digits buf[s…e) as the next document. */
  private emit(buf: Buffer, s: number, e: number): void {
    const len = (e - s) >> 1;
    if (this.slabUsed + len > this.slab.length) {
      this.slab = Buffer.allocUnsafe(Math.max(SLAB, len));
      this.slabUsed = 0;
    }
    const o = this.slabUsed;
    const out = this.slab;
    out.write(buf.toString("latin1", s, e), o, len, "hex"); // checked as lowercase hex already
    this.out.push(out.subarray(o, o + len));
    this.slabUsed += len;
  }

  /** The file's header and the list that counts, or the defect (the checks of SPEC §5.11, in order). */
  result(hash: string): InputHeader & { list: string } {
    const h = this.header;
    const name = this.name;
    const listOf = (k: string): number => {
      const l = this.lists.get(k);
      if (!l) throw bad(name, `${k} is not a list`);
      if (l.error) throw bad(name, l.error);
      return l.count;
    };
    if (h.get("format") === POS_EXPORT_FORMAT && h.get("version") === 1) {
      const m = h.get("merchant");
      if (typeof m !== "string" || !/^[0-9a-f]{16}$/.test(m)) throw bad(name, "merchant is not an 8-byte hex id");
      return { name, hash, kind: "pos-export", presenter: `merchant:${m}`, count: listOf("vouchers"), list: "vouchers" };
    }
    if (h.get("format") === DEVICE_LOG_FORMAT && h.get("version") === 1) {
      const d = h.get("deviceId");
      if (typeof d !== "string" || !/^[0-9a-f]{16}$/.test(d)) throw bad(name, "deviceId is not an 8-byte hex id");
      return { name, hash, kind: "device-log", presenter: `device:${d}`, count: listOf("entries"), list: "entries" };
    }
    throw bad(name, `not a ${POS_EXPORT_FORMAT} or ${DEVICE_LOG_FORMAT} version 1 file`);
  }
}

// --- reading -----------------------------------------------------------------------------

/**
 * Validates one file held in memory (`text`; without it the file at `path` is read whole: for
 * small files only, reconciliation streams with `openInput`) and decodes all its documents; any
 * defect is a data error naming the file.
 */
export function parseInput(path: string, text?: string | Uint8Array): InputFile {
  const name = basename(path);
  let raw: Buffer;
  try {
    raw = typeof text === "string" ? Buffer.from(text) : text ? Buffer.from(text.buffer, text.byteOffset, text.byteLength) : readFileSync(path);
  } catch {
    throw dataError(`reconcile: cannot read ${path}`);
  }
  const hash = createHash("sha256").update(raw).digest("hex");
  const probe = new Scanner(name);
  probe.feed(raw, true);
  probe.finish(raw);
  const { list, ...head } = probe.result(hash);
  const s = new Scanner(name, list);
  s.feed(raw, true);
  return { ...head, coses: s.out };
}

/**
 * One pass over the file at `path`, chunk by chunk into `scan`, yielding after each chunk (the
 * event loop turns at every read: the verifier pool's workers are fed meanwhile); the file's
 * SHA-256 is left in `out.hash` at the end.
 */
async function* scanFile(path: string, scan: Scanner, out: { hash?: string }, chunk: number): AsyncGenerator<void> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch {
    throw dataError(`reconcile: cannot read ${path}`);
  }
  try {
    const sha = createHash("sha256");
    let carry: Uint8Array = Buffer.alloc(0);
    for (;;) {
      const buf = Buffer.allocUnsafe(carry.length + chunk);
      buf.set(carry, 0);
      let got: number;
      try {
        got = (await fh.read(buf, carry.length, chunk, null)).bytesRead;
      } catch {
        throw dataError(`reconcile: cannot read ${path}`);
      }
      sha.update(buf.subarray(carry.length, carry.length + got));
      const data = buf.subarray(0, carry.length + got);
      const final = got === 0;
      const stop = scan.feed(data, final);
      if (final) {
        scan.finish(data);
        break;
      }
      scan.advance(stop);
      carry = data.subarray(stop);
      yield;
    }
    out.hash = sha.digest("hex");
  } finally {
    await fh.close();
  }
}

/**
 * Checks the file at `path` whole (first pass: syntax, header, every document's hex, hash) and
 * returns its header with `documents()`, which reads the file again (`chunk` bytes at a time) and
 * yields its documents in batches of at most `batch`; bytes that differ from the first pass's are a data error (the
 * file changed while being imported). Memory: one chunk and one batch, whatever the file's size.
 */
export async function openInput(path: string, { batch = BATCH, chunk = CHUNK }: { batch?: number; chunk?: number } = {}): Promise<InputStream> {
  const name = basename(path);
  const probe = new Scanner(name);
  const first: { hash?: string } = {};
  for await (const _ of scanFile(path, probe, first, chunk));
  const { list, ...head } = probe.result(first.hash!);
  return {
    ...head,
    async *documents() {
      const s = new Scanner(name, list);
      const again: { hash?: string } = {};
      for await (const _ of scanFile(path, s, again, chunk)) while (s.out.length >= batch) yield s.out.splice(0, batch);
      if (again.hash !== first.hash) throw bad(name, "the file changed while it was being imported");
      while (s.out.length) yield s.out.splice(0, batch);
    },
  };
}
