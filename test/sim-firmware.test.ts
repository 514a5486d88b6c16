// wearable-sim with the real build/firmware.wasm (DESIGN.md §7): SELECT + GET STATUS in
// process, over HID-over-UDP with fragmented reports, and over a real pty (socat pair from
// the rig's test/support/pty.ts, opened with @serialport/stream); flash kept across power
// cycles; power cut at every flash op of a blank device's first boot, then restart.
import { describe, it, expect, afterEach } from "vitest";
import { createSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { SerialPortStream } from "@serialport/stream";
import { autoDetect } from "@serialport/bindings-cpp";
import { Device } from "../wearable-sim/src/device.ts";
import { createTransport } from "../wearable-sim/src/transports/index.ts";
import type { HidUdpTransport } from "../wearable-sim/src/transports/hid-udp.ts";
import { hidFragment, HidReassembler } from "../protocol/src/hid.ts";
import { serialEncode, SerialDecoder } from "../protocol/src/serial.ts";
import { HID_CID_BROADCAST, HID_CMD_INIT, HID_CMD_MSG, HID_INIT_NONCE_LEN } from "../protocol/portable/hid.ts";
import { SERIAL_TYPE_APDU_REQUEST, SERIAL_TYPE_APDU_RESPONSE } from "../protocol/portable/serial.ts";
import { SW_NO_ERROR } from "../protocol/portable/sw.ts";
import { PROTOCOL_REVISION } from "../protocol/portable/revision.ts";
import { GET_STATUS, SELECT_WALLET, parseSelect, parseStatus } from "../wearable-sim/test-fixtures/wallet-apdus.ts";
import { createPtyPair } from "./support/pty.ts";
import { Fleet } from "../wearable-sim/src/fleet.ts";
import { runScenario } from "../wearable-sim/src/scenario.ts";
import { readFileSync } from "node:fs";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** SELECT then GET STATUS through any APDU channel; checks both and returns the device id. */
async function selectAndStatus(send: (apdu: Uint8Array) => Promise<Uint8Array> | Uint8Array): Promise<string> {
  const sel = parseSelect(await send(SELECT_WALLET));
  expect(sel.sw).toBe(SW_NO_ERROR);
  expect(sel.revision).toBe(PROTOCOL_REVISION);
  const st = parseStatus(await send(GET_STATUS));
  expect(st.sw).toBe(SW_NO_ERROR);
  expect(st.deviceId).toBe(sel.deviceId);
  expect(st.storeState).toBe(0);
  return sel.deviceId;
}

describe("real firmware in the Device host", () => {
  it("SELECT + GET STATUS; the device id survives power cycles (flash kept, RAM lost)", async () => {
    const d = new Device({ profile: "card", seed: "fw-1" });
    d.powerOn();
    const id = await selectAndStatus((a) => d.transmit(a));
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    d.powerOff();
    d.powerOn();
    expect(await selectAndStatus((a) => d.transmit(a))).toBe(id);
    d.reset();
    expect(await selectAndStatus((a) => d.transmit(a))).toBe(id);
    expect(d.aborts).toBe(0);
    expect(d.violations).toBe(0);
  });

  it("power cut at every flash op of the first boot (3 tear modes): restart answers, state is stable", () => {
    // how many flash ops the first boot of a blank device does
    const probe = new Device({ profile: "card", seed: "fw-probe" });
    probe.powerOn();
    const ops = probe.flash.opCount;
    expect(ops).toBeGreaterThan(0);
    let tearPoints = 0;
    for (const mode of ["none", "full", "random"] as const) {
      for (let k = 1; k <= ops; k++) {
        const d = new Device({ profile: "card", seed: `fw-tear-${mode}-${k}` });
        d.cutPowerAfter(k, mode);
        expect(() => d.powerOn()).toThrow(/\(power-cut\)/);
        expect(d.state).toBe("off");
        tearPoints++;
        d.powerOn();
        const sel = parseSelect(d.transmit(SELECT_WALLET));
        expect(sel.sw).toBe(SW_NO_ERROR);
        expect(parseStatus(d.transmit(GET_STATUS)).storeState).toBe(0);
        // whatever the first boot left, from now on the identity is fixed
        d.powerOff();
        d.powerOn();
        expect(parseSelect(d.transmit(SELECT_WALLET)).deviceId).toBe(sel.deviceId);
        expect(d.aborts).toBe(0);
      }
    }
    expect(tearPoints).toBe(3 * ops);
  });
});

describe("real firmware over the transports", () => {
  it("HID over UDP: INIT, then SELECT + GET STATUS (the 60-byte response spans two reports)", async () => {
    const t = (await createTransport("hid-udp", new Device({ profile: "band", seed: "fw-hid" }))) as HidUdpTransport;
    await t.open();
    const sock = createSocket("udp4");
    cleanup.push(async () => {
      await new Promise<void>((r) => sock.close(() => r()));
      await t.close();
    });
    let ra = new HidReassembler();
    let pending: ((m: { cid: number; cmd: number; payload: Uint8Array }) => void) | undefined;
    sock.on("message", (m) => {
      const msg = ra.push(new Uint8Array(m));
      if (msg && pending) pending(msg);
    });
    const exchange = (cid: number, cmd: number, payload: Uint8Array) =>
      new Promise<{ cid: number; cmd: number; payload: Uint8Array }>((resolve) => {
        ra = new HidReassembler();
        pending = resolve;
        for (const r of hidFragment(cid, cmd, payload)) sock.send(r, t.udpPort, "127.0.0.1");
      });
    const init = await exchange(HID_CID_BROADCAST, HID_CMD_INIT, randomBytes(HID_INIT_NONCE_LEN));
    const cid = new DataView(init.payload.buffer, init.payload.byteOffset).getUint32(HID_INIT_NONCE_LEN);
    await selectAndStatus(async (a) => {
      const m = await exchange(cid, HID_CMD_MSG, a);
      expect(m.cmd).toBe(HID_CMD_MSG);
      return m.payload;
    });
    expect(t.core.stats.reportsOut).toBeGreaterThanOrEqual(4);
  });

  it("serial over the rig's socat pty pair: SELECT + GET STATUS", async () => {
    const pair = await createPtyPair();
    const t = await createTransport("serial", new Device({ profile: "watch", seed: "fw-serial" }), { ptyPath: pair.a });
    await t.open();
    expect(t.endpoint).toBe(pair.a);
    const port = new SerialPortStream({ binding: autoDetect(), path: pair.b, baudRate: 115200, autoOpen: false });
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    cleanup.push(async () => {
      await new Promise<void>((r) => port.close(() => r()));
      await t.close();
      await pair.close();
    });
    await new Promise<void>((r) => port.flush(() => r()));
    const dec = new SerialDecoder();
    let pending: ((p: Uint8Array) => void) | undefined;
    port.on("data", (c: Buffer) => {
      for (const f of dec.push(new Uint8Array(c))) if (f.type === SERIAL_TYPE_APDU_RESPONSE) pending?.(f.payload);
    });
    await selectAndStatus(
      (a) =>
        new Promise<Uint8Array>((resolve) => {
          pending = resolve;
          port.write(Buffer.from(serialEncode(SERIAL_TYPE_APDU_REQUEST, a)));
        }),
    );
  });
});

describe("real firmware scenario", () => {
  it("wearable-sim/scenarios/wallet-select-status.json: three devices run to completion", async () => {
    const sc = JSON.parse(readFileSync(new URL("../wearable-sim/scenarios/wallet-select-status.json", import.meta.url), "utf8"));
    const fleet = new Fleet({ seed: "fw-scenario" });
    const r = await runScenario(fleet, sc);
    await fleet.stop();
    expect(r.failures).toEqual([]);
    expect(new Set(r.events.filter((e) => e.type === "apdu").map((e) => e.serial)).size).toBe(3);
  });
});
