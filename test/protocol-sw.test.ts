// ISO 7816-4 status-word table (protocol/portable/sw.ts, protocol/src/sw.ts; SPEC.md §4).
import { describe, expect, it } from "vitest";
import * as SW from "../protocol/portable/sw.ts";
import { ApduError, SW_NAMES, swIsSuccess, swName, swTriesLeft } from "../protocol/src/sw.ts";

describe("status words (ISO 7816-4 Tables 5/6)", () => {
  it("names every SW_ export with its own name, values unique", () => {
    const exported = Object.entries(SW).filter(([k]) => k.startsWith("SW_"));
    expect(exported.length).toBeGreaterThan(20);
    for (const [name, value] of exported) {
      expect(SW_NAMES.get(value as number)).toBe(name);
      if (!/_00$|_BASE$/.test(name)) expect(swName(value as number)).toBe(name);
    }
    expect(new Set(exported.map(([, v]) => v)).size).toBe(exported.length);
  });
  it("has the ISO values the brief fixes", () => {
    expect(SW.SW_NO_ERROR).toBe(0x9000);
    expect(SW.SW_WRONG_LENGTH).toBe(0x6700);
    expect(SW.SW_SECURITY_STATUS_NOT_SATISFIED).toBe(0x6982);
    expect(SW.SW_AUTH_METHOD_BLOCKED).toBe(0x6983);
    expect(SW.SW_CONDITIONS_NOT_SATISFIED).toBe(0x6985);
    expect(SW.SW_WRONG_DATA).toBe(0x6a80);
    expect(SW.SW_FILE_NOT_FOUND).toBe(0x6a82);
    expect(SW.SW_INS_NOT_SUPPORTED).toBe(0x6d00);
    expect(SW.SW_CLA_NOT_SUPPORTED).toBe(0x6e00);
    expect(SW.SW_UNKNOWN).toBe(0x6f00);
  });
  it("names the families with their SW2 count", () => {
    expect(swName(0x6100)).toBe("SW_BYTES_REMAINING_00");
    expect(swName(0x611a)).toBe("SW_BYTES_REMAINING_1A");
    expect(swName(0x6c10)).toBe("SW_CORRECT_LENGTH_10");
    expect(swName(0x63c2)).toBe("SW_VERIFY_FAIL_2");
    expect(swName(0x63c0)).toBe("SW_VERIFY_FAIL_0");
    expect(swTriesLeft(0x63c3)).toBe(3);
    expect(swTriesLeft(0x6983)).toBeNull();
    expect(swName(0x6a8f)).toBe("SW_6A8F");
    expect(() => swName(0x10000)).toThrow(/^bad sw:/);
    expect(swIsSuccess(0x9000) && swIsSuccess(0x6104) && !swIsSuccess(0x6a82)).toBe(true);
  });
  it("ApduError carries sw and name", () => {
    const e = new ApduError(0x6982, "VERIFY");
    expect(e).toBeInstanceOf(Error);
    expect(e.sw).toBe(0x6982);
    expect(e.swName).toBe("SW_SECURITY_STATUS_NOT_SATISFIED");
    expect(e.message).toBe("apdu failed: VERIFY: 6982 SW_SECURITY_STATUS_NOT_SATISFIED");
  });
});
