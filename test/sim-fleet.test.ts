// wearable-sim Fleet and scenario scripts (wearable-sim/README.md "Commands", "Scenarios": start, list, press, power
// cut, reset, run SCENARIO.json with three devices), in process on the echo firmware.
import { describe, it, expect } from "vitest";
import { readFileSync, mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Fleet, traceLine, type FleetEvent } from "../wearable-sim/src/fleet.ts";
import { runScenario, validateScenario } from "../wearable-sim/src/scenario.ts";
import { ECHO_FIRMWARE, ECHO_GEOMETRY, echoApdu, be32, readU32 } from "../wearable-sim/test-fixtures/echo-client.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const newFleet = (extra: object = {}) => new Fleet({ firmware: ECHO_FIRMWARE, ...ECHO_GEOMETRY, ...extra });


describe("Fleet", () => {
  it("starts devices, names them, lists them; seeded serials are reproducible", async () => {
    const a = newFleet({ seed: "fleet-seed" });
    await a.start({ profile: "card", count: 3 });
    await a.start({ profile: "watch", name: "w" });
    const b = newFleet({ seed: "fleet-seed" });
    await b.start({ profile: "card", count: 3 });
    const la = a.list();
    expect(la).toHaveLength(4);
    expect(la.slice(0, 3).map((d) => d.serial)).toEqual(b.list().map((d) => d.serial));
    expect(la[3]).toMatchObject({ name: "w", profile: "watch", state: "off", active: false });
    expect(a.get("w").device.serial).toBe(la[3].serial);
    expect(a.get("#1").device.serial).toBe(la[1].serial);
    expect(() => a.get("nope")).toThrow(/fleet: no single device/);
    await a.stop();
    await b.stop();
  });

  it("verbs: apdu powers a device up, press, power cut, reset; events and trace lines", async () => {
    const f = newFleet();
    const [d] = await f.start({ profile: "band" });
    const events: FleetEvent[] = [];
    f.on("event", (e: FleetEvent) => events.push(e));
    expect(readU32(f.apdu(d.serial, echoApdu(0x05))!)).toBe(1);
    f.press(d.serial);
    expect(f.apdu(d.serial, echoApdu(0x04, 1, be32(9)))![0]).toBe(1);
    f.apdu(d.serial, echoApdu(0x06, 0, be32(1)));
    f.powerCut(d.serial, 1, "none");
    expect(f.apdu(d.serial, echoApdu(0x06, 0, be32(2)))).toBeUndefined();
    expect(d.state).toBe("off");
    f.reset(d.serial);
    expect(readU32(f.apdu(d.serial, echoApdu(0x07))!)).toBe(1);
    const types = events.map((e) => e.type);
    expect(types).toContain("apdu");
    expect(types).toContain("confirm");
    expect(events.filter((e) => e.type === "power").map((e) => e.cause)).toEqual(["on", "power-cut", "on"]);
    const lines = events.map(traceLine);
    expect(lines.find((l) => l.includes(" APDU 80050000 -> 000000019000"))).toContain(d.serial);
    expect(lines.some((l) => /POWER off \(power-cut\)/.test(l))).toBe(true);
    await f.stop();
  });

  it("file-backed images survive a new fleet (same seed = same serials)", async () => {
    const imageDir = mkdtempSync(join(tmpdir(), "sim-fleet-"));
    const f1 = newFleet({ seed: "img", imageDir });
    const [d1] = await f1.start();
    f1.apdu(d1.serial, echoApdu(0x06, 0, be32(4242)));
    f1.apdu(d1.serial, echoApdu(0x05));
    await f1.stop();
    expect(existsSync(join(imageDir, `${d1.serial}.img`))).toBe(true);
    const f2 = newFleet({ seed: "img", imageDir });
    const [d2] = await f2.start();
    expect(d2.serial).toBe(d1.serial);
    expect(readU32(f2.apdu(d2.serial, echoApdu(0x07))!)).toBe(4242);
    expect(readU32(f2.apdu(d2.serial, echoApdu(0x0b))!)).toBe(1);
    await f2.stop();
  });
});

describe("Fleet scale", () => {
  it("1,000 powered cards in one process share one module and stay under 1 GiB", async () => {
    const f = newFleet({ seed: "scale" });
    const devices = await f.start({ profile: "card", count: 1000 });
    for (const d of devices) d.powerOn();
    expect(new Set(devices.map((d) => d.module)).size).toBe(1);
    expect(devices.every((d) => d.isOn)).toBe(true);
    expect(process.memoryUsage().rss).toBeLessThan(1024 ** 3);
    await f.stop();
  });
});

describe("scenario", () => {
  it("the three-device example runs to completion and its events check out", async () => {
    const sc = JSON.parse(readFileSync(join(ROOT, "wearable-sim/scenarios/three-devices-echo.json"), "utf8"));
    const f = newFleet({ seed: "scenario" });
    const r = await runScenario(f, sc);
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.steps).toHaveLength(sc.steps.length);
    expect(new Set(r.events.map((e) => e.serial)).size).toBe(3);
    await f.stop();
  });

  it("a failing expectation stops the run and is reported", async () => {
    const f = newFleet();
    const r = await runScenario(f, {
      devices: [{ name: "x" }],
      steps: [{ apdu: "x", hex: "80010000", expect: { sw: "6d00" } }, { press: "x" }],
      expectEvents: [{ type: "display", min: 1 }],
    });
    expect(r.ok).toBe(false);
    expect(r.steps).toHaveLength(1);
    expect(r.failures[0]).toMatch(/step 0 \(apdu\): expected SW 6d00, got 9000/);
    expect(r.failures[1]).toMatch(/expected at least 1 display/);
    await f.stop();
  });

  it("an abort fails a scenario that does not expect it", async () => {
    const f = newFleet();
    const r = await runScenario(f, { devices: [{ name: "x" }], steps: [{ apdu: "x", hex: "80080000", expect: { noAnswer: true } }] });
    expect(r.failures.some((m) => m.startsWith("unexpected fault"))).toBe(true);
    await f.stop();
  });

  it("rejects malformed scenarios with one clear message", () => {
    expect(() => validateScenario({})).toThrow(/scenario: expected an object with a steps array/);
    expect(() => validateScenario({ steps: [{ press: "a", wait: 1 }] })).toThrow(/scenario: step 0 must have exactly one verb/);
    expect(() => validateScenario({ steps: [], devices: [{}] })).toThrow(/scenario: device 0 needs a name/);
  });
});
