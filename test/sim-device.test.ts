// wearable-sim Device host (SPEC §2 hardware interface; wearable-sim/README.md "Device model"), run
// against the test-only echo firmware (wearable-sim/test-fixtures/echo-firmware.ts).
import { describe, it, expect } from "vitest";
import { mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ECHO_FIRMWARE as ECHO, ECHO_GEOMETRY as GEOM, echoApdu, be32, statusWord as sw, readU32 as u32 } from "../wearable-sim/test-fixtures/echo-client.ts";
import { Device, DeviceOffError, RevisionMismatchError, loadFirmware, type FaultEvent, type PowerEvent } from "../wearable-sim/src/device.ts";
import { PROFILES, parseAtr } from "../wearable-sim/src/profiles.ts";
import { PROTOCOL_REVISION } from "../protocol/portable/revision.ts";


function echoDevice(opts: Partial<ConstructorParameters<typeof Device>[0]> = {}): Device {
  const d = new Device({ firmware: ECHO, ...GEOM, ...opts });
  d.powerOn();
  return d;
}
const store = (d: Device, v: number) => d.transmit(echoApdu(0x06, 0, be32(v)));
const load = (d: Device) => {
  const r = d.transmit(echoApdu(0x07));
  expect(sw(r)).toBe(0x9000);
  return { value: u32(r, 0), seq: u32(r, 4) };
};


describe("profiles: ATR per ISO 7816-3", () => {
  it("every ATR parses, has a valid TCK and names the product in its historical bytes", () => {
    for (const p of Object.values(PROFILES)) {
      for (const atr of [p.atr, p.contactAtr].filter((a): a is Uint8Array => !!a)) {
        const parsed = parseAtr(atr);
        expect(parsed.protocols).toContain(1);
        expect(parsed.historical[0]).toBe(0x80);
        const name = Buffer.from(parsed.historical.subarray(2)).toString("ascii");
        expect(name.toLowerCase()).toContain(p.name);
      }
    }
  });
  it("rejects a corrupted TCK", () => {
    const bad = PROFILES.card.atr.slice();
    bad[bad.length - 1] ^= 1;
    expect(() => parseAtr(bad)).toThrow(/atr: bad TCK/);
  });
  it("card has no clock/button, watch has a display", () => {
    expect([PROFILES.card.clock, PROFILES.card.button, PROFILES.card.display]).toEqual([false, false, false]);
    expect([PROFILES.band.clock, PROFILES.band.button, PROFILES.band.display]).toEqual([true, true, false]);
    expect([PROFILES.watch.clock, PROFILES.watch.button, PROFILES.watch.display]).toEqual([true, true, true]);
  });
});

describe("Device with the echo firmware", () => {
  it("shares one compiled module across devices", () => {
    const a = new Device({ firmware: ECHO, ...GEOM });
    const b = new Device({ firmware: ECHO, ...GEOM });
    expect(a.module).toBe(b.module);
    expect(a.module).toBe(loadFirmware(ECHO));
    expect(a.serial).toMatch(/^[0-9a-f]{16}$/);
    expect(a.serial).not.toBe(b.serial);
  });

  it("transmits an APDU and emits an apdu event", () => {
    const d = echoDevice();
    const seen: unknown[] = [];
    d.on("apdu", (e) => seen.push(e));
    const r = d.transmit(echoApdu(0x01, 0, Uint8Array.of(1, 2, 3)));
    expect([...r]).toEqual([1, 2, 3, 0x90, 0x00]);
    expect(sw(d.transmit(Uint8Array.of(0x00, 0xa4, 0, 0)))).toBe(0x6e00);
    expect(seen).toHaveLength(2);
    expect(d.apduCount).toBe(2);
  });

  it("answers 6700 to a command longer than the I/O buffer", () => {
    const d = echoDevice();
    expect(sw(d.transmit(new Uint8Array(5000)))).toBe(0x6700);
  });

  it("refuses to transmit while off", () => {
    const d = new Device({ firmware: ECHO, ...GEOM });
    expect(() => d.transmit(echoApdu(0x07))).toThrow(DeviceOffError);
    d.powerOn();
    d.powerOff();
    expect(() => d.transmit(echoApdu(0x07))).toThrow(/device off: .* \(off\)/);
  });

  it("TRNG is deterministic with a seed, per serial, and random without", () => {
    const rand = (d: Device) => Buffer.from(d.transmit(echoApdu(0x02, 32)).subarray(0, 32)).toString("hex");
    const a = rand(echoDevice({ seed: "s1", serial: "0000000000000001" }));
    const a2 = rand(echoDevice({ seed: "s1", serial: "0000000000000001" }));
    const b = rand(echoDevice({ seed: "s1", serial: "0000000000000002" }));
    const c = rand(echoDevice({ seed: "s2", serial: "0000000000000001" }));
    const r1 = rand(echoDevice());
    const r2 = rand(echoDevice());
    expect(a).toBe(a2);
    expect(new Set([a, b, c, r1, r2]).size).toBe(5);
  });

  it("monotonic counter survives power cycles and, file-backed, a new Device object", () => {
    const dir = mkdtempSync(join(tmpdir(), "sim-dev-"));
    const imagePath = join(dir, "dev.img");
    const d = echoDevice({ imagePath, serial: "00000000000000aa" });
    expect(u32(d.transmit(echoApdu(0x05)))).toBe(1);
    expect(u32(d.transmit(echoApdu(0x05)))).toBe(2);
    d.powerOff();
    d.powerOn();
    expect(u32(d.transmit(echoApdu(0x0b)))).toBe(2);
    expect(u32(d.transmit(echoApdu(0x05)))).toBe(3);
    store(d, 77);
    d.powerOff();
    expect(existsSync(`${imagePath}.counter`)).toBe(true);
    const again = echoDevice({ imagePath, serial: "00000000000000aa" });
    expect(u32(again.transmit(echoApdu(0x05)))).toBe(4);
    expect(load(again).value).toBe(77);
  });

  it("power-on keeps flash and loses RAM", () => {
    const d = echoDevice();
    store(d, 5);
    store(d, 6);
    expect(load(d)).toEqual({ value: 6, seq: 2 });
    const events: PowerEvent[] = [];
    d.on("power", (e: PowerEvent) => events.push(e));
    d.reset();
    expect(load(d)).toEqual({ value: 6, seq: 2 });
    expect(events.map((e) => e.cause)).toEqual(["reset", "on"]);
  });

  it("clock per profile: card 0, band real, frozen and skewed by fault injection", () => {
    const clock = (d: Device) => u32(d.transmit(echoApdu(0x03)));
    expect(clock(echoDevice({ profile: "card" }))).toBe(0);
    const band = echoDevice({ profile: "band" });
    const now = Math.floor(Date.now() / 1000);
    expect(Math.abs(clock(band) - now)).toBeLessThan(5);
    band.freezeClock(1_700_000_000);
    expect(clock(band)).toBe(1_700_000_000);
    band.skewClock(-3600);
    expect(Math.abs(clock(band) - (now - 3600))).toBeLessThan(5);
  });

  it("button: card has none, band consumes an armed press, watch displays the amount", () => {
    const ask = (d: Device, amount: number) => d.transmit(echoApdu(0x04, 7, be32(amount)))[0] << 24 >> 24;
    expect(ask(echoDevice({ profile: "card" }), 100)).toBe(-1);
    const band = echoDevice({ profile: "band" });
    expect(ask(band, 100)).toBe(0);
    band.press();
    expect(ask(band, 100)).toBe(1);
    expect(ask(band, 100)).toBe(0);
    band.autoConfirm = "accept";
    expect(ask(band, 100)).toBe(1);

    const watch = echoDevice({ profile: "watch" });
    const shown: unknown[] = [];
    watch.on("display", (e) => shown.push(e));
    watch.press();
    expect(ask(watch, 12345)).toBe(1);
    expect(shown).toEqual([{ serial: watch.serial, kind: 7, amount: 12345, timeoutMs: expect.any(Number) }]);
    expect(ask(band, 1)).toBe(1);
    // an armed refusal drops armed presses and beats autoConfirm accept, once
    band.press();
    band.refuse();
    expect(band.armedPresses).toBe(0);
    expect(ask(band, 1)).toBe(0);
    expect(ask(band, 1)).toBe(1);
  });

  it("an abort makes the device mute, is counted and seen as a fault; power-on restarts from flash", () => {
    const d = echoDevice();
    store(d, 42);
    const faults: FaultEvent[] = [];
    d.on("fault", (e: FaultEvent) => faults.push(e));
    expect(() => d.transmit(echoApdu(0x08))).toThrow(/\(mute\)/);
    expect(d.state).toBe("mute");
    expect(d.aborts).toBe(1);
    expect(faults[0].kind).toBe("abort");
    expect(faults[0].message).toContain("echo: abort requested");
    expect(() => d.transmit(echoApdu(0x07))).toThrow(DeviceOffError);
    d.powerOn();
    expect(load(d).value).toBe(42);
  });

  it("reports a NOR violation (0 -> 1 programming) as a violation", () => {
    const d = echoDevice();
    const seen: unknown[] = [];
    d.on("violation", (e) => seen.push(e));
    try {
      d.transmit(echoApdu(0x09));
    } catch (e) {
      expect(e).toBeInstanceOf(DeviceOffError);
    }
    expect(d.violations).toBeGreaterThan(0);
    expect(seen.length).toBeGreaterThan(0);
  });

  it("refuses firmware whose protocol revision differs", () => {
    // a minimal module exporting only protocol_revision() = 999
    const bytes = Uint8Array.from([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
      0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: () -> i32
      0x03, 0x02, 0x01, 0x00, // function 0 has type 0
      0x07, 0x15, 0x01, 0x11, ...Buffer.from("protocol_revision"), 0x00, 0x00, // export
      0x0a, 0x07, 0x01, 0x05, 0x00, 0x41, 0xe7, 0x07, 0x0b, // code: i32.const 999
    ]);
    expect(PROTOCOL_REVISION).not.toBe(999);
    const d = new Device({ firmware: new WebAssembly.Module(bytes), ...GEOM });
    expect(() => d.powerOn()).toThrow(RevisionMismatchError);
    expect(d.state).toBe("off");
  });
});

describe("Device power cuts (tearing)", () => {
  for (const mode of ["none", "full", "random"] as const) {
    it(`cut at every flash op of a store, mode ${mode}: after restart the state is old or new`, () => {
      // ops of one STORE: erase + program record + program commit byte
      let cuts = 0;
      for (let k = 1; k <= 3; k++) {
        const d = echoDevice({ seed: `tear-${mode}-${k}` });
        store(d, 100);
        d.cutPowerAfter(k, mode);
        expect(() => store(d, 200)).toThrow(/\(power-cut\)/);
        expect(d.state).toBe("off");
        cuts++;
        d.disarmPowerCut();
        d.powerOn();
        const { value } = load(d);
        expect([100, 200]).toContain(value);
        if (mode === "none") expect(value).toBe(100);
        store(d, 300);
        expect(load(d).value).toBe(300);
        expect(d.aborts).toBe(0);
      }
      expect(cuts).toBe(3);
    });
  }
});
