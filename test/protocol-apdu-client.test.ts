// The shared APDU client (protocol/src/apdu-client.ts, SPEC §3.1): the same exchange under
// the sync and the async driver, GET RESPONSE collection, command chaining vs extended
// APDUs, the secure channel over the collected response, and the errors it raises.
import { describe, expect, it } from "vitest";
import * as A from "../protocol/portable/apdu.ts";
import { command, layers, raw, ResponseError, runAsync, runSync, withGetResponse, type ApduWrapper } from "../protocol/src/apdu-client.ts";
import { cat, hex } from "../protocol/src/bytes.ts";
import { WalletCard } from "../host-tools/src/card.ts";
import type { Channel } from "../host-tools/src/channels/channel.ts";

/** A scripted device: answers in order, records what it was sent. */
function scripted(answers: string[]) {
  const sent: string[] = [];
  const transmit = (apdu: Uint8Array): Uint8Array => {
    sent.push(hex(apdu));
    const a = answers.shift();
    if (a === undefined) throw new Error("scripted device: no more answers");
    return new Uint8Array(Buffer.from(a, "hex"));
  };
  return { sent, transmit };
}

const GET_RESPONSE = (le: number) => hex(Uint8Array.of(A.CLA_ISO, A.INS_GET_RESPONSE, 0, 0, le));

describe("drivers", () => {
  it("runSync and runAsync send the same APDUs and return the same answer", async () => {
    const answers = ["aabb6102", "ccdd6100", "ee9000"];
    const s = scripted([...answers]);
    const a = scripted([...answers]);
    const c = { cla: A.CLA_PROPRIETARY, ins: A.INS_GET_STATUS, ne: 256 };
    const rs = runSync(command(layers(), c), s.transmit);
    const ra = await runAsync(command(layers(), c), async (x) => a.transmit(x));
    expect(hex(rs.data)).toBe("aabbccddee");
    expect(rs.sw).toBe(0x9000);
    expect(ra).toEqual(rs);
    expect(a.sent).toEqual(s.sent);
    expect(s.sent.slice(1)).toEqual([GET_RESPONSE(2), GET_RESPONSE(0)]); // 6100: Le 00 = 256
  });

  it("a transmit failure propagates unchanged (it is no ResponseError)", async () => {
    const boom = new Error("reader gone");
    await expect(runAsync(raw(Uint8Array.of(0, 0xa4, 4, 0)), async () => { throw boom; })).rejects.toBe(boom);
  });
});

describe("layers", () => {
  it("an answer shorter than a status word is a ResponseError", () => {
    expect(() => runSync(raw(Uint8Array.of(0x80, 0xca, 0, 0)), () => Uint8Array.of(0x90))).toThrow(ResponseError);
  });

  it("GET RESPONSE stops at the first status word other than 61xx and keeps it", () => {
    const s = scripted(["01616104", "026a83"]);
    const r = runSync(withGetResponse(raw)(Uint8Array.of(0x80, 0xca, 0, 0)), s.transmit);
    expect(hex(r.data)).toBe("016102");
    expect(r.sw).toBe(0x6a83);
  });

  it("the secure channel wraps the command with the plain CLA and unwraps the whole collected response once", () => {
    const seen: { wrapped: string[]; unwrapped: string[] } = { wrapped: [], unwrapped: [] };
    const w: ApduWrapper = {
      wrap: (a) => (seen.wrapped.push(hex(a)), cat(Uint8Array.of(a[0] | A.CLA_SECURE_MESSAGING), a.subarray(1))),
      unwrap: (r) => (seen.unwrapped.push(hex(r)), r.subarray(1)), // drops a one-byte "MAC"
    };
    const s = scripted(["ff01026101", "039000"]);
    const r = runSync(command(layers(w), { cla: A.CLA_GP_SECURE, ins: A.INS_GET_STATUS, ne: 256 }), s.transmit);
    expect(seen.wrapped).toEqual([hex(Uint8Array.of(A.CLA_PROPRIETARY, A.INS_GET_STATUS, 0, 0, 0))]);
    expect(seen.unwrapped).toEqual(["ff0102039000"]);
    expect(hex(r.data)).toBe("010203");
    expect(s.sent[1]).toBe(GET_RESPONSE(1)); // GET RESPONSE itself travels unwrapped
  });

  it("an unwrap failure is a ResponseError carrying the wrapper's message", () => {
    const w: ApduWrapper = { wrap: (a) => a, unwrap: () => { throw new Error("scp03: R-MAC mismatch; session closed"); } };
    const s = scripted(["9000"]);
    expect(() => runSync(command(layers(w), { cla: A.CLA_PROPRIETARY, ins: 1 }), s.transmit)).toThrow(/^scp03: R-MAC mismatch/);
  });
});

describe("long data", () => {
  const data = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff);

  it("chain: blocks of 255 with CLA bit 0x10 on all but the last, Le only on the last", () => {
    const s = scripted(["9000", "9000", "aa9000"]);
    const r = runSync(command(layers(), { cla: A.CLA_PROPRIETARY, ins: A.INS_PUT_CERTIFICATE, data, ne: 256 }, "chain"), s.transmit);
    expect(s.sent.map((x) => [x.slice(0, 2), x.length / 2])).toEqual([["90", 5 + 255], ["90", 5 + 255], ["80", 5 + 90 + 1]]);
    expect(hex(r.data)).toBe("aa");
  });

  it("chain: a block not answered 9000 ends the chain with that answer", () => {
    const s = scripted(["6a80"]);
    const r = runSync(command(layers(), { cla: A.CLA_PROPRIETARY, ins: A.INS_PUT_CERTIFICATE, data }, "chain"), s.transmit);
    expect(r.sw).toBe(0x6a80);
    expect(s.sent.length).toBe(1);
  });

  it("extended: one APDU with a 3-byte Lc and Le 65536", () => {
    const s = scripted(["9000"]);
    runSync(command(layers(), { cla: A.CLA_PROPRIETARY, ins: A.INS_PUT_CERTIFICATE, data, ne: 256 }, "extended"), s.transmit);
    expect(s.sent.length).toBe(1);
    expect(s.sent[0].slice(0, 14)).toBe("80" + hex(Uint8Array.of(A.INS_PUT_CERTIFICATE)) + "0000000258");
    expect(s.sent[0].slice(-4)).toBe("0000");
  });
});

describe("the host card over the shared client", () => {
  const channel = (answers: string[]): Channel => {
    const s = scripted(answers);
    return { name: "test-reader", transmit: async (a: Uint8Array) => s.transmit(a), close: async () => {} };
  };
  it("a status word other than 9000 is an ApduError naming the command", async () => {
    await expect(new WalletCard(channel(["6985"])).getCertificate()).rejects.toThrow("apdu failed: GET CERTIFICATE: 6985 SW_CONDITIONS_NOT_SATISFIED");
  });
  it("an answer without a status word is a device error naming the channel", async () => {
    await expect(new WalletCard(channel(["90"])).getCertificate()).rejects.toThrow("test-reader: response without a status word");
  });
});

describe("byte helpers (protocol/src/bytes.ts)", () => {
  it("u32 and u16 are big-endian and wrap; cat joins in order; hex and unhex are inverse", async () => {
    const { u16, u32, unhex } = await import("../protocol/src/bytes.ts");
    expect(hex(u32(0x01020304))).toBe("01020304");
    expect(hex(u32(-1))).toBe("ffffffff");
    expect(hex(u16(0x1_0203))).toBe("0203");
    expect(hex(cat(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3)))).toBe("010203");
    expect(unhex("00ff10")).toEqual(Uint8Array.of(0, 0xff, 0x10));
  });
});
