// Serial framing (SPEC.md §7): COBS( type | len(2) | payload | crc16(2) ) 0x00, constants in
// protocol/portable/serial.ts. COBS (Cheshire & Baker 1999) removes every 0x00 from the
// frame, so 0x00 marks frame ends unambiguously and a receiver resynchronises at the next
// 0x00 after any garbage: bad COBS, bad length or bad CRC drops only that frame.
import {
  SERIAL_CRC_LEN,
  SERIAL_DELIMITER,
  SERIAL_HEADER_LEN,
  SERIAL_MAX_PAYLOAD,
} from "../portable/serial.ts";
import { crc16 } from "./crc.ts";
import { FramingError } from "./errors.ts";

export interface SerialFrame {
  type: number;
  payload: Uint8Array;
}

const COBS_BLOCK = 0xff; // a code byte of 0xFF: 254 data bytes and no implied zero

/** COBS-encode (no delimiter appended). Output has no 0x00 byte. */
export function cobsEncode(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length + Math.ceil(src.length / 254) + 1);
  let codeAt = 0;
  let o = 1;
  let code = 1;
  for (let i = 0; i < src.length; i++) {
    if (src[i] === 0) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
      continue;
    }
    out[o++] = src[i];
    if (++code === COBS_BLOCK) {
      out[codeAt] = code;
      code = 1;
      // a full block at the very end needs no further code byte (COBS paper, Wikipedia examples)
      if (i === src.length - 1) return out.slice(0, o);
      codeAt = o++;
    }
  }
  out[codeAt] = code;
  return out.slice(0, o);
}

/** COBS-decode one frame body (without the delimiter); throws FramingError on malformed input. */
export function cobsDecode(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length);
  let o = 0;
  let i = 0;
  while (i < src.length) {
    const code = src[i++];
    if (code === 0) throw new FramingError("bad serial: zero byte inside a COBS frame");
    const end = i + code - 1;
    if (end > src.length) throw new FramingError("bad serial: COBS block runs past the frame end");
    for (; i < end; i++) {
      if (src[i] === 0) throw new FramingError("bad serial: zero byte inside a COBS frame");
      out[o++] = src[i];
    }
    // every block but a full one implies a zero, except at the very end of the frame
    if (code !== COBS_BLOCK && i < src.length) out[o++] = 0;
  }
  return out.slice(0, o);
}

/** One frame ready for the wire, delimiter included. */
export function serialEncode(type: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) throw new RangeError(`bad serial: type ${type} is not a byte`);
  if (payload.length > SERIAL_MAX_PAYLOAD) throw new RangeError(`bad serial: payload ${payload.length} > ${SERIAL_MAX_PAYLOAD}`);
  const raw = new Uint8Array(SERIAL_HEADER_LEN + payload.length + SERIAL_CRC_LEN);
  raw[0] = type;
  raw[1] = payload.length >> 8;
  raw[2] = payload.length & 0xff;
  raw.set(payload, SERIAL_HEADER_LEN);
  const crc = crc16(raw.subarray(0, SERIAL_HEADER_LEN + payload.length));
  raw[raw.length - 2] = crc >> 8;
  raw[raw.length - 1] = crc & 0xff;
  const body = cobsEncode(raw);
  const out = new Uint8Array(body.length + 1);
  out.set(body);
  out[body.length] = SERIAL_DELIMITER;
  return out;
}

/** Parse one de-delimited COBS body into a frame, or throw FramingError. */
export function serialParse(body: Uint8Array, maxPayload: number = SERIAL_MAX_PAYLOAD): SerialFrame {
  const raw = cobsDecode(body);
  if (raw.length < SERIAL_HEADER_LEN + SERIAL_CRC_LEN) throw new FramingError(`bad serial: frame of ${raw.length} bytes is too short`);
  const len = (raw[1] << 8) | raw[2];
  if (len > maxPayload) throw new FramingError(`bad serial: payload length ${len} > ${maxPayload}`);
  if (raw.length !== SERIAL_HEADER_LEN + len + SERIAL_CRC_LEN) throw new FramingError(`bad serial: length ${len} does not match the frame`);
  const crc = (raw[raw.length - 2] << 8) | raw[raw.length - 1];
  if (crc16(raw.subarray(0, raw.length - SERIAL_CRC_LEN)) !== crc) throw new FramingError("bad serial: crc mismatch");
  return { type: raw[0], payload: raw.slice(SERIAL_HEADER_LEN, SERIAL_HEADER_LEN + len) };
}

/**
 * Incremental receiver: push any chunk of bytes, get the complete good frames.
 * Bad frames are dropped and counted (`dropped`, `lastError`); an over-long run of
 * bytes without a delimiter is discarded up to the next 0x00. Empty frames (0x00 0x00)
 * are ignored, so a sender may prefix 0x00 to flush a receiver's garbage.
 */
export class SerialDecoder {
  dropped = 0;
  lastError: FramingError | null = null;
  private readonly maxPayload: number;
  private readonly maxBody: number;
  private buf: Uint8Array;
  private len = 0;
  private overflow = false;

  constructor(maxPayload: number = SERIAL_MAX_PAYLOAD) {
    this.maxPayload = maxPayload;
    const raw = SERIAL_HEADER_LEN + maxPayload + SERIAL_CRC_LEN;
    this.maxBody = raw + Math.ceil(raw / 254) + 1;
    this.buf = new Uint8Array(Math.min(this.maxBody, 1024));
  }

  push(chunk: Uint8Array): SerialFrame[] {
    const frames: SerialFrame[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b !== SERIAL_DELIMITER) {
        if (this.overflow) continue;
        if (this.len === this.maxBody) {
          this.overflow = true;
          continue;
        }
        if (this.len === this.buf.length) {
          const bigger = new Uint8Array(Math.min(this.maxBody, this.buf.length * 2));
          bigger.set(this.buf);
          this.buf = bigger;
        }
        this.buf[this.len++] = b;
        continue;
      }
      if (this.overflow) this.drop(new FramingError(`bad serial: frame longer than ${this.maxBody} bytes`));
      else if (this.len > 0) {
        try {
          frames.push(serialParse(this.buf.subarray(0, this.len), this.maxPayload));
        } catch (e) {
          this.drop(e as FramingError);
        }
      }
      this.len = 0;
      this.overflow = false;
    }
    return frames;
  }

  private drop(e: FramingError): void {
    this.dropped++;
    this.lastError = e;
  }
}
