// NOR flash model (wearable-sim/src/flash.ts): erase/program semantics, NOR violations,
// power cuts in the three tear modes, clone and file-backed images.
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NorFlash, NorViolation, PowerCut, seededRng, WORD_SIZE } from "../wearable-sim/src/flash.ts";

const small = (rng?: () => number) => new NorFlash({ pageSize: 64, pageCount: 4, rng });
const bytes = (...b: number[]) => Uint8Array.from(b);

describe("NorFlash semantics", () => {
  it("starts erased, programs by AND, erases a page to 0xFF", () => {
    const f = small();
    expect(f.bytes.length).toBe(256);
    expect(f.bytes.every((b) => b === 0xff)).toBe(true);
    f.program(70, bytes(0xf0, 0x0f));
    expect([...f.read(70, 2)]).toEqual([0xf0, 0x0f]);
    f.program(70, bytes(0x30, 0x0f)); // clears more bits of the first byte: legal
    expect([...f.read(70, 2)]).toEqual([0x30, 0x0f]);
    f.erase(1);
    expect([...f.read(64, 64)].every((b) => b === 0xff)).toBe(true);
    expect([...f.wear]).toEqual([0, 1, 0, 0]);
    expect(f.opCount).toBe(3);
  });

  it("flags a 0 → 1 attempt as NorViolation but still ANDs like the hardware", () => {
    const f = small();
    f.program(0, bytes(0x00));
    expect(() => f.program(0, bytes(0x01))).toThrow(NorViolation);
    expect(f.violations).toBe(1);
    expect(f.read(0, 1)[0]).toBe(0x00);
    const lax = new NorFlash({ pageSize: 64, pageCount: 1, strict: false });
    lax.program(1, bytes(0x0f));
    lax.program(1, bytes(0xf3));
    expect(lax.violations).toBe(1);
    expect(lax.read(1, 1)[0]).toBe(0x03);
  });

  it("re-programming the same value is legal (finishing a torn write)", () => {
    const f = small();
    f.program(4, bytes(0x5a, 0xa5));
    f.program(4, bytes(0x5a, 0xa5));
    expect(f.violations).toBe(0);
  });

  it("rejects programs across a page boundary and out-of-range ops", () => {
    const f = small();
    expect(() => f.program(62, bytes(0, 0, 0, 0))).toThrow(/crosses a page/);
    expect(() => f.read(250, 10)).toThrow(RangeError);
    expect(() => f.erase(4)).toThrow(RangeError);
  });
});

describe("NorFlash power cuts", () => {
  const data = new Uint8Array(16).fill(0x00);

  it("mode none: the torn op leaves nothing; later ops throw until power-on", () => {
    const f = small();
    f.armPowerCut(2, "none");
    f.program(0, bytes(0x11)); // op 1 passes
    expect(() => f.program(16, data)).toThrow(PowerCut);
    expect(f.bytes.subarray(16, 32).every((b) => b === 0xff)).toBe(true);
    expect(f.isOff).toBe(true);
    expect(() => f.erase(0)).toThrow(PowerCut);
    expect(() => f.read(0, 1)).toThrow(PowerCut);
    f.powerOn();
    expect(f.read(0, 1)[0]).toBe(0x11);
    f.erase(0); // works again
  });

  it("mode full: the torn op is fully applied and still throws", () => {
    const f = small();
    f.armPowerCut(1, "full");
    expect(() => f.program(16, data)).toThrow(PowerCut);
    expect(f.bytes.subarray(16, 32).every((b) => b === 0)).toBe(true);
  });

  it("mode random: only a subset of the intended bit-clears lands, never a bit the op did not clear", () => {
    const rng = seededRng(7);
    let partial = 0;
    for (let trial = 0; trial < 200; trial++) {
      const f = small(rng);
      f.program(0, bytes(0x0f)); // pre-existing zeros
      const want = Uint8Array.from({ length: 20 }, (_, i) => (i * 37) & 0xff);
      f.armPowerCut(1, "random");
      expect(() => f.program(8, want)).toThrow(PowerCut);
      const got = f.bytes.subarray(8, 28);
      for (let i = 0; i < want.length; i++) expect(got[i] & want[i]).toBe(want[i]); // got ⊇ want's ones
      if (got.some((b, i) => b !== want[i]) && got.some((b) => b !== 0xff)) partial++;
      expect(f.bytes[0]).toBe(0x0f);
      expect(f.bytes.subarray(28).every((b) => b === 0xff)).toBe(true);
    }
    expect(partial).toBeGreaterThan(50);
  });

  it("mode random on erase sets a random subset of bits, counted as wear", () => {
    const f = small(seededRng(3));
    f.program(64, new Uint8Array(64));
    f.armPowerCut(1, "random");
    expect(() => f.erase(1)).toThrow(PowerCut);
    const page = f.bytes.subarray(64, 128);
    expect(page.some((b) => b !== 0 && b !== 0xff)).toBe(true);
    expect(f.wear[1]).toBe(1);
  });

  it("disarm cancels a pending cut", () => {
    const f = small();
    f.armPowerCut(1, "none");
    f.disarm();
    f.program(0, bytes(0));
    expect(f.read(0, 1)[0]).toBe(0);
  });

  it("the torn-word unit is 4 bytes", () => {
    expect(WORD_SIZE).toBe(4);
  });
});

describe("NorFlash images", () => {
  it("clone copies bytes and wear, independently", () => {
    const f = small();
    f.program(3, bytes(0x42));
    f.erase(2);
    const c = f.clone();
    c.program(3, bytes(0x02));
    expect(f.read(3, 1)[0]).toBe(0x42);
    expect(c.read(3, 1)[0]).toBe(0x02);
    expect([...c.wear]).toEqual([...f.wear]);
  });

  it("file-backed image is created 0xFF, written through on every op, reloaded", () => {
    const path = join(mkdtempSync(join(tmpdir(), "nor-")), "flash.img");
    const f = new NorFlash({ pageSize: 64, pageCount: 4, path });
    expect(readFileSync(path).every((b) => b === 0xff)).toBe(true);
    f.program(65, bytes(0x12, 0x34));
    expect([...readFileSync(path).subarray(65, 67)]).toEqual([0x12, 0x34]);
    f.close();
    const g = new NorFlash({ pageSize: 64, pageCount: 4, path });
    expect([...g.read(65, 2)]).toEqual([0x12, 0x34]);
    g.erase(1);
    g.flush();
    expect(readFileSync(path)[65]).toBe(0xff);
    g.close();
  });
});
