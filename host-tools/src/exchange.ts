// The exchange formats of reconciliation (SPEC §5.11): a POS outbox export (`wallet pos
// export`) and a device log (`wallet sync --out`), both JSON holding hex COSE documents.
// `parseInput` reads and validates one file; any defect is a data error naming the file.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
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

export interface InputFile {
  name: string;
  hash: string;
  kind: "pos-export" | "device-log";
  presenter: string; // "merchant:<id>" or "device:<id>"
  coses: Uint8Array[];
}

/** Reads and validates one input file; any defect is a data error naming the file. */
export function parseInput(path: string, text?: string): InputFile {
  const name = basename(path);
  let raw: Buffer;
  try {
    raw = text !== undefined ? Buffer.from(text) : readFileSync(path);
  } catch {
    throw dataError(`reconcile: cannot read ${path}`);
  }
  const bad = (m: string) => dataError(`reconcile: ${name}: ${m}`);
  let j: any;
  try {
    j = JSON.parse(raw.toString("utf8"));
  } catch {
    throw bad("not valid JSON (corrupted or truncated export?)");
  }
  const hash = createHash("sha256").update(raw).digest("hex");
  const hexList = (a: unknown, what: string): Uint8Array[] => {
    if (!Array.isArray(a)) throw bad(`${what} is not a list`);
    const strs = a.map((x, i) => {
      const s = typeof x === "string" ? x : x?.cose;
      if (typeof s !== "string" || s.length === 0 || s.length % 2) throw bad(`${what}[${i}] is not hex COSE`);
      return s;
    });
    // all of a file's documents decoded into one buffer (one allocation, not one per
    // voucher); a string is lowercase hex exactly when it decodes completely and encodes
    // back to itself (Buffer's hex decoder stops at the first non-hex digit; this is
    // cheaper than a regular expression over every character)
    const all = Buffer.allocUnsafe(strs.reduce((n, s) => n + s.length / 2, 0));
    let o = 0;
    return strs.map((s, i) => {
      const n = s.length / 2;
      if (all.write(s, o, n, "hex") !== n || all.toString("hex", o, o + n) !== s) throw bad(`${what}[${i}] is not hex COSE`);
      return all.subarray(o, (o += n));
    });
  };
  if (j?.format === POS_EXPORT_FORMAT && j.version === 1) {
    if (typeof j.merchant !== "string" || !/^[0-9a-f]{16}$/.test(j.merchant)) throw bad("merchant is not an 8-byte hex id");
    return { name, hash, kind: "pos-export", presenter: `merchant:${j.merchant}`, coses: hexList(j.vouchers, "vouchers") };
  }
  if (j?.format === DEVICE_LOG_FORMAT && j.version === 1) {
    if (typeof j.deviceId !== "string" || !/^[0-9a-f]{16}$/.test(j.deviceId)) throw bad("deviceId is not an 8-byte hex id");
    return { name, hash, kind: "device-log", presenter: `device:${j.deviceId}`, coses: hexList(j.entries, "entries") };
  }
  throw bad(`not a ${POS_EXPORT_FORMAT} or ${DEVICE_LOG_FORMAT} version 1 file`);
}
