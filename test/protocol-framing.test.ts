// HID (CTAPHID-style, SPEC.md §6) and serial (COBS + CRC-16/CCITT-FALSE, SPEC.md §7)
// framing: COBS and CRC vectors, reassembly errors, resynchronisation, fast-check round trips.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as H from "../protocol/portable/hid.ts";
import * as S from "../protocol/portable/serial.ts";
import { crc16 } from "../protocol/src/crc.ts";
import { FramingError } from "../protocol/src/errors.ts";
import { HidError, HidReassembler, encodeHidInitResponse, hidFragment, parseHidInitResponse } from "../protocol/src/hid.ts";
import { SerialDecoder, cobsDecode, cobsEncode, serialEncode } from "../protocol/src/serial.ts";
import vec from "./vectors/protocol/cobs-crc.json" with { type: "json" };

/** "11 22", "01..fe" (inclusive byte run) -> bytes */
function bytesOf(parts: string[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    const m = /^([0-9a-f]{2})\.\.([0-9a-f]{2})$/.exec(p);
    if (m) for (let b = parseInt(m[1], 16); b <= parseInt(m[2], 16); b++) out.push(b);
    else out.push(...Buffer.from(p.replace(/\s+/g, ""), "hex"));
  }
  return Uint8Array.from(out);
}

describe("CRC-16/CCITT-FALSE", () => {
  for (const v of vec.crc16) {
    it(`crc16("${v.ascii}") = ${v.crc}`, () => {
      expect(crc16(new TextEncoder().encode(v.ascii)).toString(16).padStart(4, "0")).toBe(v.crc);
    });
  }
  it("is incremental", () => {
    const d = new TextEncoder().encode("123456789");
    expect(crc16(d.subarray(4), crc16(d.subarray(0, 4)))).toBe(0x29b1);
  });
});

describe("COBS (Wikipedia examples)", () => {
  vec.cobs.forEach((v, i) => {
    it(`example ${i + 1}`, () => {
      const dec = bytesOf(v.decoded);
      const enc = bytesOf(v.encoded);
      expect(Buffer.from(cobsEncode(dec)).toString("hex")).toBe(Buffer.from(enc.subarray(0, enc.length - 1)).toString("hex"));
      expect(cobsDecode(enc.subarray(0, enc.length - 1))).toEqual(dec);
    });
  });
  it("rejects a block running past the end and zero bytes", () => {
    expect(() => cobsDecode(Uint8Array.of(0x05, 0x11, 0x22))).toThrow(/^bad serial: COBS block runs past/);
    expect(() => cobsDecode(Uint8Array.of(0x03, 0x11, 0x00))).toThrow(/^bad serial: zero byte/);
  });
  it("round trips and never emits 0x00", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), (b) => {
        const e = cobsEncode(b);
        expect(e.includes(0)).toBe(false);
        expect(e.length).toBeLessThanOrEqual(b.length + Math.ceil(b.length / 254) + 1);
        expect(cobsDecode(e)).toEqual(b);
      }),
      { numRuns: 300 },
    );
  });
});

describe("serial frames", () => {
  const apdu = Uint8Array.of(0x00, 0xa4, 0x04, 0x00);
  it("has the SPEC §7 layout", () => {
    const f = serialEncode(S.SERIAL_TYPE_APDU_REQUEST, apdu);
    const raw = cobsDecode(f.subarray(0, f.length - 1));
    expect(f[f.length - 1]).toBe(S.SERIAL_DELIMITER);
    expect(Array.from(raw.subarray(0, 7))).toEqual([S.SERIAL_TYPE_APDU_REQUEST, 0, 4, 0x00, 0xa4, 0x04, 0x00]);
    expect((raw[7] << 8) | raw[8]).toBe(crc16(raw.subarray(0, 7)));
  });
  it("decodes frames split at every byte boundary", () => {
    const wire = Uint8Array.of(...serialEncode(S.SERIAL_TYPE_APDU_REQUEST, apdu), ...serialEncode(S.SERIAL_TYPE_ERROR, Uint8Array.of(S.SERIAL_ERR_BUSY)));
    for (let cut = 0; cut <= wire.length; cut++) {
      const d = new SerialDecoder();
      const got = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))];
      expect(got).toEqual([
        { type: S.SERIAL_TYPE_APDU_REQUEST, payload: apdu },
        { type: S.SERIAL_TYPE_ERROR, payload: Uint8Array.of(S.SERIAL_ERR_BUSY) },
      ]);
      expect(d.dropped).toBe(0);
    }
  });
  it("drops and counts bad CRC, bad length, bad COBS and over-long frames, then resynchronises", () => {
    const good = serialEncode(S.SERIAL_TYPE_PING, Uint8Array.of(1, 2, 3));
    const badCrc = good.slice();
    badCrc[badCrc.length - 2] ^= 0x01;
    const d = new SerialDecoder(16);
    const tooLong = serialEncode(S.SERIAL_TYPE_PING, new Uint8Array(17).fill(7));
    const noise = Uint8Array.of(0x05, 0x11, 0x00); // COBS block past the end
    const short = Uint8Array.of(0x02, 0x01, 0x00); // decodes to 1 byte
    const runaway = new Uint8Array(100).fill(0x42); // no delimiter for longer than any frame
    const out = d.push(Uint8Array.of(...badCrc, ...tooLong, ...noise, ...short, ...runaway, 0x00, 0x00, ...good));
    expect(out).toEqual([{ type: S.SERIAL_TYPE_PING, payload: Uint8Array.of(1, 2, 3) }]);
    expect(d.dropped).toBe(5);
    expect(d.lastError).toBeInstanceOf(FramingError);
  });
  it("refuses bad arguments", () => {
    expect(() => serialEncode(256, apdu)).toThrow(RangeError);
    expect(() => serialEncode(1, new Uint8Array(S.SERIAL_MAX_PAYLOAD + 1))).toThrow(/^bad serial: payload/);
  });
  it("fast-check: any frames survive arbitrary chunking and garbage before a 0x00", () => {
    const frame = fc.record({ type: fc.integer({ min: 0, max: 255 }), payload: fc.uint8Array({ maxLength: 600 }) });
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 6 }), fc.uint8Array({ maxLength: 50 }), fc.array(fc.nat(), { maxLength: 8 }), (frames, garbage, cuts) => {
        const wire = Uint8Array.of(...garbage, 0x00, ...frames.flatMap((f) => [...serialEncode(f.type, f.payload)]));
        const d = new SerialDecoder();
        const at = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const got = [];
        let prev = 0;
        for (const c of [...at, wire.length]) {
          got.push(...d.push(wire.subarray(prev, c)));
          prev = c;
        }
        // garbage may itself contain a valid-looking frame only with a correct CRC: compare the tail
        expect(got.slice(got.length - frames.length)).toEqual(frames);
      }),
      { numRuns: 200 },
    );
  });
});

describe("HID framing (CTAPHID-style)", () => {
  const CID = 0x01020304;
  const msg = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 1) & 0xff);
  it("fragments into 64-byte init + continuation reports", () => {
    const r = hidFragment(CID, H.HID_CMD_MSG, msg(200));
    expect(r.length).toBe(1 + Math.ceil((200 - H.HID_INIT_DATA) / H.HID_CONT_DATA));
    for (const x of r) expect(x.length).toBe(H.HID_REPORT_SIZE);
    expect(Array.from(r[0].subarray(0, 7))).toEqual([1, 2, 3, 4, H.HID_CMD_MSG | H.HID_TYPE_INIT, 0, 200]);
    expect(Array.from(r[1].subarray(0, 5))).toEqual([1, 2, 3, 4, 0]);
    expect(r[2][4]).toBe(1);
    expect(hidFragment(CID, H.HID_CMD_PING, new Uint8Array(0)).length).toBe(1);
    expect(hidFragment(CID, H.HID_CMD_MSG, msg(H.HID_MAX_MESSAGE)).length).toBe(1 + H.HID_MAX_SEQ + 1);
    expect(() => hidFragment(CID, H.HID_CMD_MSG, msg(H.HID_MAX_MESSAGE + 1))).toThrow(/^bad hid: message/);
    expect(() => hidFragment(CID, 0x80, msg(1))).toThrow(RangeError);
  });
  it("reassembles, and reports errors with the CTAPHID code and channel", () => {
    const err = (f: () => unknown): HidError => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(HidError);
        expect((e as Error).message).toMatch(/^bad hid: /);
        return e as HidError;
      }
      throw new Error("expected a HidError");
    };
    const a = new HidReassembler();
    const r = hidFragment(CID, H.HID_CMD_MSG, msg(130));
    expect(a.push(r[0])).toBeNull();
    expect(a.busyCid).toBe(CID);
    // another channel while busy
    const other = hidFragment(0x0a0b0c0d, H.HID_CMD_MSG, msg(3));
    const e1 = err(() => a.push(other[0]));
    expect([e1.code, e1.cid]).toEqual([H.HID_ERR_CHANNEL_BUSY, 0x0a0b0c0d]);
    expect(a.push(r[1])).toBeNull();
    expect(a.push(r[2])).toEqual({ cid: CID, cmd: H.HID_CMD_MSG, payload: msg(130) });
    // wrong sequence aborts the message
    expect(a.push(r[0])).toBeNull();
    expect(err(() => a.push(r[2])).code).toBe(H.HID_ERR_INVALID_SEQ);
    expect(a.busyCid).toBeNull();
    // stray continuation is ignored
    expect(a.push(r[1])).toBeNull();
    // overlong bcnt, short report, channel 0, broadcast without INIT
    const big = hidFragment(CID, H.HID_CMD_MSG, msg(1))[0];
    big[5] = 0xff;
    expect(err(() => a.push(big)).code).toBe(H.HID_ERR_INVALID_LEN);
    expect(err(() => a.push(new Uint8Array(63))).code).toBe(H.HID_ERR_INVALID_LEN);
    expect(err(() => a.push(hidFragment(0, H.HID_CMD_MSG, msg(1))[0])).code).toBe(H.HID_ERR_INVALID_CHANNEL);
    expect(err(() => a.push(hidFragment(H.HID_CID_BROADCAST, H.HID_CMD_MSG, msg(1))[0])).code).toBe(H.HID_ERR_INVALID_CHANNEL);
    const init = hidFragment(H.HID_CID_BROADCAST, H.HID_CMD_INIT, msg(H.HID_INIT_NONCE_LEN))[0];
    expect(a.push(init)).toEqual({ cid: H.HID_CID_BROADCAST, cmd: H.HID_CMD_INIT, payload: msg(8) });
    // an init packet other than INIT in the middle of a message
    expect(a.push(r[0])).toBeNull();
    expect(err(() => a.push(hidFragment(CID, H.HID_CMD_PING, msg(1))[0])).code).toBe(H.HID_ERR_INVALID_SEQ);
    // INIT on the busy channel resynchronises it
    expect(a.push(r[0])).toBeNull();
    expect(a.push(hidFragment(CID, H.HID_CMD_INIT, msg(8))[0])).toEqual({ cid: CID, cmd: H.HID_CMD_INIT, payload: msg(8) });
    expect(a.busyCid).toBeNull();
  });
  it("INIT answer layout", () => {
    const nonce = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    const b = encodeHidInitResponse(nonce, 0xcafe0001, { major: 1, minor: 2, build: 3 });
    expect(Buffer.from(b).toString("hex")).toBe("0102030405060708" + "cafe0001" + "02" + "010203" + "00");
    expect(parseHidInitResponse(b)).toEqual({ nonce, cid: 0xcafe0001, version: H.HID_PROTOCOL_VERSION, major: 1, minor: 2, build: 3, capabilities: 0 });
    expect(() => parseHidInitResponse(b.subarray(1))).toThrow(/^bad hid: INIT answer/);
    expect(() => encodeHidInitResponse(nonce.subarray(1), 1)).toThrow(RangeError);
  });
  it("times out a message that is not completed", () => {
    let now = 1000;
    const a = new HidReassembler({ timeoutMs: 500, now: () => now });
    const r = hidFragment(CID, H.HID_CMD_MSG, msg(100));
    a.push(r[0]);
    now += 400;
    expect(a.poll()).toBeNull();
    now += 200;
    const e = a.poll();
    expect([e?.code, e?.cid]).toEqual([H.HID_ERR_MSG_TIMEOUT, CID]);
    expect(a.busyCid).toBeNull();
    expect(a.push(r[1])).toBeNull(); // the late continuation is stray now
  });
  it("fast-check: reassemble(fragment(m)) = m for any size up to the maximum", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0xfffffffe }), fc.integer({ min: 0, max: 0x7f }), fc.uint8Array({ maxLength: H.HID_MAX_MESSAGE }), (cid, cmd, payload) => {
        const a = new HidReassembler();
        const reports = hidFragment(cid, cmd, payload);
        reports.slice(0, -1).forEach((r) => expect(a.push(r)).toBeNull());
        expect(a.push(reports[reports.length - 1])).toEqual({ cid, cmd, payload });
      }),
      { numRuns: 100 },
    );
  });
});
