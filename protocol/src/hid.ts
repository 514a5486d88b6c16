// USB HID framing of APDUs, CTAPHID-style (SPEC.md §6; constants and layout in
// protocol/portable/hid.ts, after FIDO CTAP 2.1 §11.2.4). A message is one init packet
// and up to 128 continuation packets, each one 64-byte report. The reassembler follows
// CTAPHID's rules: one transaction at a time; another channel's packets meanwhile are
// answered CHANNEL_BUSY; out-of-order seq aborts; an INIT on the busy channel resyncs it.
import {
  HID_CID_BROADCAST,
  HID_CID_RESERVED,
  HID_CAPABILITY_NONE,
  HID_CMD_INIT,
  HID_CONT_DATA,
  HID_CONT_HEADER,
  HID_ERR_CHANNEL_BUSY,
  HID_ERR_INVALID_CHANNEL,
  HID_ERR_INVALID_PAR,
  HID_ERR_INVALID_LEN,
  HID_ERR_INVALID_SEQ,
  HID_ERR_MSG_TIMEOUT,
  HID_INIT_DATA,
  HID_INIT_HEADER,
  HID_INIT_NONCE_LEN,
  HID_INIT_RESP_LEN,
  HID_MAX_MESSAGE,
  HID_MAX_SEQ,
  HID_MSG_TIMEOUT_MS,
  HID_PROTOCOL_VERSION,
  HID_REPORT_SIZE,
  HID_TYPE_INIT,
} from "../portable/hid.ts";
import { FramingError } from "./errors.ts";

export interface HidMessage {
  cid: number;
  /** command without the HID_TYPE_INIT bit (HID_CMD_*) */
  cmd: number;
  payload: Uint8Array;
}

/** A reassembly error, with the channel to answer HID_CMD_ERROR on and the HID_ERR_* code. */
export class HidError extends FramingError {
  readonly cid: number;
  constructor(message: string, code: number, cid: number) {
    super(`bad hid: ${message}`, code);
    this.name = "HidError";
    this.cid = cid;
  }
}

function putCid(r: Uint8Array, cid: number): void {
  new DataView(r.buffer, r.byteOffset).setUint32(0, cid >>> 0);
}

function getCid(r: Uint8Array): number {
  return new DataView(r.buffer, r.byteOffset).getUint32(0);
}

/** Split one message into 64-byte reports (zero-padded). */
export function hidFragment(cid: number, cmd: number, payload: Uint8Array): Uint8Array[] {
  if (!Number.isInteger(cid) || cid < 0 || cid > 0xffffffff) throw new RangeError(`bad hid: cid ${cid} is not 32 bits`);
  if (!Number.isInteger(cmd) || cmd < 0 || cmd >= HID_TYPE_INIT) throw new RangeError(`bad hid: cmd ${cmd} is not 0..127`);
  if (payload.length > HID_MAX_MESSAGE) throw new RangeError(`bad hid: message of ${payload.length} bytes > ${HID_MAX_MESSAGE}`);
  const reports: Uint8Array[] = [];
  const init = new Uint8Array(HID_REPORT_SIZE);
  putCid(init, cid);
  init[4] = cmd | HID_TYPE_INIT;
  init[5] = payload.length >> 8;
  init[6] = payload.length & 0xff;
  init.set(payload.subarray(0, HID_INIT_DATA), HID_INIT_HEADER);
  reports.push(init);
  for (let off = HID_INIT_DATA, seq = 0; off < payload.length; off += HID_CONT_DATA, seq++) {
    const r = new Uint8Array(HID_REPORT_SIZE);
    putCid(r, cid);
    r[4] = seq;
    r.set(payload.subarray(off, off + HID_CONT_DATA), HID_CONT_HEADER);
    reports.push(r);
  }
  return reports;
}

interface Pending {
  cid: number;
  cmd: number;
  buf: Uint8Array;
  got: number;
  seq: number;
  started: number;
}

/**
 * Incremental reassembly on the device side. `push` returns a complete message, or null
 * while one is in progress (or for an ignored stray continuation), and throws HidError
 * for a packet that must be answered with HID_CMD_ERROR on `err.cid`.
 */
export class HidReassembler {
  private pending: Pending | null = null;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(opts: { timeoutMs?: number; now?: () => number } = {}) {
    this.timeoutMs = opts.timeoutMs ?? HID_MSG_TIMEOUT_MS;
    this.now = opts.now ?? Date.now;
  }

  /** The channel whose transaction is in progress, or null. */
  get busyCid(): number | null {
    return this.pending?.cid ?? null;
  }

  /** Call on a timer: a transaction older than the timeout is dropped and reported once. */
  poll(): HidError | null {
    const p = this.pending;
    if (p === null || this.now() - p.started <= this.timeoutMs) return null;
    this.pending = null;
    return new HidError("message timed out", HID_ERR_MSG_TIMEOUT, p.cid);
  }

  push(report: Uint8Array): HidMessage | null {
    if (report.length !== HID_REPORT_SIZE) throw new HidError(`report of ${report.length} bytes, expected ${HID_REPORT_SIZE}`, HID_ERR_INVALID_LEN, report.length >= 4 ? getCid(report) : HID_CID_BROADCAST);
    this.poll(); // an expired transaction no longer blocks other channels
    const cid = getCid(report);
    if (cid === HID_CID_RESERVED) throw new HidError("channel 0 is reserved", HID_ERR_INVALID_CHANNEL, cid);
    const p = this.pending;
    if (report[4] & HID_TYPE_INIT) {
      const cmd = report[4] & ~HID_TYPE_INIT;
      if (cid === HID_CID_BROADCAST && cmd !== HID_CMD_INIT) throw new HidError("broadcast channel takes only INIT", HID_ERR_INVALID_CHANNEL, cid);
      if (p !== null && p.cid !== cid) throw new HidError(`channel busy with ${p.cid.toString(16)}`, HID_ERR_CHANNEL_BUSY, cid);
      if (p !== null && cmd !== HID_CMD_INIT) {
        this.pending = null;
        throw new HidError("init packet in the middle of a message", HID_ERR_INVALID_SEQ, cid);
      }
      // an INIT on the busy channel aborts its transaction and starts over (CTAP 2.1 §11.2.9.1.3)
      const bcnt = (report[5] << 8) | report[6];
      if (bcnt > HID_MAX_MESSAGE) {
        this.pending = null;
        throw new HidError(`message length ${bcnt} > ${HID_MAX_MESSAGE}`, HID_ERR_INVALID_LEN, cid);
      }
      const buf = new Uint8Array(bcnt);
      const n = Math.min(bcnt, HID_INIT_DATA);
      buf.set(report.subarray(HID_INIT_HEADER, HID_INIT_HEADER + n));
      if (n === bcnt) {
        this.pending = null;
        return { cid, cmd, payload: buf };
      }
      this.pending = { cid, cmd, buf, got: n, seq: 0, started: this.now() };
      return null;
    }
    const seq = report[4];
    if (p === null) return null; // stray continuation: ignored, as CTAPHID does
    if (p.cid !== cid) throw new HidError(`channel busy with ${p.cid.toString(16)}`, HID_ERR_CHANNEL_BUSY, cid);
    if (seq !== p.seq || seq > HID_MAX_SEQ) {
      this.pending = null;
      throw new HidError(`continuation seq ${seq}, expected ${p.seq}`, HID_ERR_INVALID_SEQ, cid);
    }
    const n = Math.min(p.buf.length - p.got, HID_CONT_DATA);
    p.buf.set(report.subarray(HID_CONT_HEADER, HID_CONT_HEADER + n), p.got);
    p.got += n;
    p.seq++;
    if (p.got < p.buf.length) return null;
    this.pending = null;
    return { cid, cmd: p.cmd, payload: p.buf };
  }
}

/** The INIT answer payload (SPEC §6): nonce(8) | cid(4) | version | major | minor | build | capabilities. */
export interface HidInitResponse {
  nonce: Uint8Array;
  cid: number;
  version: number;
  major: number;
  minor: number;
  build: number;
  capabilities: number;
}

export function encodeHidInitResponse(nonce: Uint8Array, cid: number, device: { major?: number; minor?: number; build?: number } = {}): Uint8Array {
  if (nonce.length !== HID_INIT_NONCE_LEN) throw new RangeError(`bad hid: INIT nonce of ${nonce.length} bytes`);
  const out = new Uint8Array(HID_INIT_RESP_LEN);
  out.set(nonce);
  new DataView(out.buffer).setUint32(HID_INIT_NONCE_LEN, cid >>> 0);
  out.set([HID_PROTOCOL_VERSION, device.major ?? 0, device.minor ?? 0, device.build ?? 0, HID_CAPABILITY_NONE], HID_INIT_NONCE_LEN + 4);
  return out;
}

export function parseHidInitResponse(b: Uint8Array): HidInitResponse {
  if (b.length !== HID_INIT_RESP_LEN) throw new HidError(`INIT answer of ${b.length} bytes, expected ${HID_INIT_RESP_LEN}`, HID_ERR_INVALID_PAR, HID_CID_BROADCAST);
  const o = HID_INIT_NONCE_LEN;
  return {
    nonce: b.slice(0, o),
    cid: new DataView(b.buffer, b.byteOffset).getUint32(o),
    version: b[o + 4],
    major: b[o + 5],
    minor: b[o + 6],
    build: b[o + 7],
    capabilities: b[o + 8],
  };
}
