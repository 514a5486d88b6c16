// ISO/IEC 7816-4 command and response APDUs (§5.1 command-response pairs, §5.2 syntax;
// SPEC.md §3). Command: CLA INS P1 P2 [Lc data] [Le]. Short fields: Lc 1 byte (1..255),
// Le 1 byte (00 = 256). Extended fields: a 00 byte then Lc 2 bytes (1..65535) and/or
// Le 2 bytes (0000 = 65536; in case 4E, Le has no leading 00). Nc = data length, Ne =
// expected response length (0 here means no Le field). Parsing is strict: every length
// inconsistent with the byte count is an ApduFormatError("bad apdu: ...").
import { ApduFormatError } from "./errors.ts";
import { ApduError } from "./sw.ts";
import { SW_NO_ERROR } from "../portable/sw.ts";

export type ApduCase = "1" | "2S" | "3S" | "4S" | "2E" | "3E" | "4E";

export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  /** command data, Nc = data.length (0..65535) */
  data: Uint8Array;
  /** Ne: maximum response data length expected, 0 = no Le field (1..65536 otherwise) */
  ne: number;
}

export interface ParsedCommand extends CommandApdu {
  case: ApduCase;
}

export interface ResponseApdu {
  data: Uint8Array;
  sw: number;
}

const SHORT_NC_MAX = 255;
const SHORT_NE_MAX = 256;
const EXT_NC_MAX = 65535;
const EXT_NE_MAX = 65536;

function bad(m: string): never {
  throw new ApduFormatError(`bad apdu: ${m}`);
}

function byte(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`bad apdu: ${name} ${v} is not a byte`);
  return v;
}

/**
 * Encode a command APDU. Short form when Nc <= 255 and Ne <= 256, unless `extended`
 * is set; otherwise extended (ISO 7816-4 §5.1: Lc and Le are both short or both extended).
 */
export function encodeCommand(c: CommandApdu, extended = false): Uint8Array {
  const data = c.data ?? new Uint8Array(0);
  const nc = data.length;
  const ne = c.ne ?? 0;
  if (nc > EXT_NC_MAX) throw new RangeError(`bad apdu: Nc ${nc} > ${EXT_NC_MAX}`);
  if (!Number.isInteger(ne) || ne < 0 || ne > EXT_NE_MAX) throw new RangeError(`bad apdu: Ne ${ne} out of range 0..${EXT_NE_MAX}`);
  const ext = extended || nc > SHORT_NC_MAX || ne > SHORT_NE_MAX;
  const head = [byte(c.cla, "CLA"), byte(c.ins, "INS"), byte(c.p1, "P1"), byte(c.p2, "P2")];
  const out: number[] = head;
  if (!ext) {
    if (nc > 0) out.push(nc, ...data);
    if (ne > 0) out.push(ne & 0xff); // 256 -> 00
  } else if (nc === 0 && ne === 0) {
    // case 1 has no length field to extend
  } else {
    out.push(0x00);
    if (nc > 0) out.push(nc >> 8, nc & 0xff, ...data);
    if (ne > 0) out.push((ne >> 8) & 0xff, ne & 0xff); // 65536 -> 0000
  }
  return Uint8Array.from(out);
}

/** Strictly parse a command APDU, telling which ISO case it is. */
export function parseCommand(b: Uint8Array): ParsedCommand {
  const n = b.length;
  if (n < 4) bad(`${n} bytes, a command has at least 4`);
  const base = { cla: b[0], ins: b[1], p1: b[2], p2: b[3] };
  if (n === 4) return { ...base, data: new Uint8Array(0), ne: 0, case: "1" };
  if (n === 5) return { ...base, data: new Uint8Array(0), ne: b[4] || SHORT_NE_MAX, case: "2S" };
  if (b[4] !== 0) {
    const nc = b[4];
    const data = b.slice(5, 5 + nc);
    if (n === 5 + nc) return { ...base, data, ne: 0, case: "3S" };
    if (n === 6 + nc) return { ...base, data, ne: b[5 + nc] || SHORT_NE_MAX, case: "4S" };
    bad(`short Lc ${nc} inconsistent with ${n} bytes`);
  }
  // b[4] == 0: extended length (a short Lc of 0 does not exist)
  if (n === 6) bad("6 bytes: Lc 00 is not a short length and too short for an extended one");
  if (n === 7) return { ...base, data: new Uint8Array(0), ne: ((b[5] << 8) | b[6]) || EXT_NE_MAX, case: "2E" };
  const nc = (b[5] << 8) | b[6];
  if (nc === 0) bad(`extended Lc 0000 with ${n} bytes`);
  const data = b.slice(7, 7 + nc);
  if (n === 7 + nc) return { ...base, data, ne: 0, case: "3E" };
  if (n === 9 + nc) return { ...base, data, ne: ((b[7 + nc] << 8) | b[8 + nc]) || EXT_NE_MAX, case: "4E" };
  bad(`extended Lc ${nc} inconsistent with ${n} bytes`);
}

export function encodeResponse(data: Uint8Array, sw: number): Uint8Array {
  if (!Number.isInteger(sw) || sw < 0 || sw > 0xffff) throw new RangeError(`bad apdu: sw ${sw} is not 16 bits`);
  const out = new Uint8Array(data.length + 2);
  out.set(data);
  out[data.length] = sw >> 8;
  out[data.length + 1] = sw & 0xff;
  return out;
}

/** Parse a response APDU: data || SW1 SW2 (ISO 7816-4 §5.1: SW1-SW2 is mandatory). */
export function parseResponse(b: Uint8Array): ResponseApdu {
  if (b.length < 2) bad(`response of ${b.length} bytes, SW1-SW2 missing`);
  return { data: b.slice(0, b.length - 2), sw: (b[b.length - 2] << 8) | b[b.length - 1] };
}

/** The response data when the SW is `expected` (9000 by default), else throw ApduError. */
export function checkResponse(b: Uint8Array, context?: string, expected: number = SW_NO_ERROR): Uint8Array {
  const r = parseResponse(b);
  if (r.sw !== expected) throw new ApduError(r.sw, context);
  return r.data;
}
