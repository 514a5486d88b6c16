// ISO/IEC 7816-4 §5.1 command/response APDU codec (protocol/src/apdu.ts): the seven cases,
// strict length checks against test/vectors/iso7816, and fast-check round trips.
import { hex as hexOf } from "../protocol/src/bytes.ts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SW_NO_ERROR, SW_WRONG_DATA } from "../protocol/portable/sw.ts";
import { checkResponse, encodeCommand, encodeResponse, parseCommand, parseResponse, type CommandApdu } from "../protocol/src/apdu.ts";
import { ApduFormatError } from "../protocol/src/errors.ts";
import { ApduError } from "../protocol/src/sw.ts";
import vec from "./vectors/iso7816/command-apdus.json" with { type: "json" };

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

describe("command APDU vectors (ISO 7816-4 §5.1)", () => {
  for (const v of vec.valid) {
    it(`case ${v.case}: ${v.hex}`, () => {
      const p = parseCommand(hex(v.hex));
      expect(p).toEqual({ cla: v.cla, ins: v.ins, p1: v.p1, p2: v.p2, data: hex(v.data), ne: v.ne, case: v.case });
      const c: CommandApdu = { cla: v.cla, ins: v.ins, p1: v.p1, p2: v.p2, data: hex(v.data), ne: v.ne };
      expect(hexOf(encodeCommand(c, "extended" in v && v.extended === true))).toBe(v.hex);
    });
  }
  for (const v of vec.invalid) {
    it(`rejects ${v.hex || "(empty)"}: ${v.why}`, () => {
      expect(() => parseCommand(hex(v.hex))).toThrow(ApduFormatError);
      expect(() => parseCommand(hex(v.hex))).toThrow(/^bad apdu: /);
    });
  }
});

describe("encodeCommand chooses the form and checks its arguments", () => {
  const base = { cla: 0x80, ins: 0x36, p1: 0, p2: 0 };
  it("goes extended when Nc > 255 or Ne > 256, both fields extended", () => {
    const big = encodeCommand({ ...base, data: new Uint8Array(256), ne: 0 });
    expect(hexOf(big.subarray(4, 7))).toBe("000100");
    expect(big.length).toBe(7 + 256);
    const le = encodeCommand({ ...base, data: new Uint8Array(1), ne: 257 });
    expect(hexOf(le)).toBe("80360000" + "000001" + "00" + "0101");
  });
  it("refuses out-of-range fields with RangeError", () => {
    expect(() => encodeCommand({ ...base, cla: 256, data: new Uint8Array(0), ne: 0 })).toThrow(RangeError);
    expect(() => encodeCommand({ ...base, data: new Uint8Array(65536), ne: 0 })).toThrow(/^bad apdu: Nc/);
    expect(() => encodeCommand({ ...base, data: new Uint8Array(0), ne: 65537 })).toThrow(/^bad apdu: Ne/);
  });
});

describe("response APDU", () => {
  it("splits data and SW1-SW2", () => {
    expect(parseResponse(hex("01029000"))).toEqual({ data: hex("0102"), sw: 0x9000 });
    expect(parseResponse(hex("6a80"))).toEqual({ data: new Uint8Array(0), sw: SW_WRONG_DATA });
    expect(() => parseResponse(hex("90"))).toThrow(/^bad apdu: response of 1 bytes/);
    expect(hexOf(encodeResponse(hex("aa"), SW_NO_ERROR))).toBe("aa9000");
  });
  it("checkResponse throws ApduError for another SW", () => {
    expect(checkResponse(hex("aa9000"))).toEqual(hex("aa"));
    try {
      checkResponse(hex("6a80"), "PAY");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ApduError);
      expect((e as ApduError).sw).toBe(SW_WRONG_DATA);
      expect((e as Error).message).toBe("apdu failed: PAY: 6A80 SW_WRONG_DATA");
    }
  });
});

describe("fast-check properties", () => {
  const cmd = fc.record({
    cla: fc.integer({ min: 0, max: 255 }),
    ins: fc.integer({ min: 0, max: 255 }),
    p1: fc.integer({ min: 0, max: 255 }),
    p2: fc.integer({ min: 0, max: 255 }),
    data: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 1000, maxLength: 66000 }).map((b) => b.subarray(0, 65535))),
    ne: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 256 }), fc.integer({ min: 1, max: 65536 })),
  });
  it("parse(encode(c)) = c in both forms", () => {
    fc.assert(
      fc.property(cmd, fc.boolean(), (c, ext) => {
        const p = parseCommand(encodeCommand(c, ext));
        expect({ ...p, case: undefined }).toEqual({ ...c, data: new Uint8Array(c.data), case: undefined });
      }),
      { numRuns: 300 },
    );
  });
  it("any byte string either fails with ApduFormatError or re-encodes to itself", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        let p;
        try {
          p = parseCommand(b);
        } catch (e) {
          expect(e).toBeInstanceOf(ApduFormatError);
          return;
        }
        expect(encodeCommand(p, p.case.endsWith("E"))).toEqual(b);
      }),
      { numRuns: 2000 },
    );
  });
  it("truncating or extending a valid command by one byte never parses to the same command", () => {
    fc.assert(
      fc.property(cmd, fc.boolean(), (c, ext) => {
        const b = encodeCommand(c, ext);
        for (const m of [b.subarray(0, b.length - 1), Uint8Array.of(...b, 0)]) {
          try {
            const p = parseCommand(m);
            expect(p.data.length !== c.data.length || p.ne !== c.ne).toBe(true);
          } catch (e) {
            expect(e).toBeInstanceOf(ApduFormatError);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
