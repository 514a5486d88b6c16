// wearable-sim transports that need no system service (DESIGN.md §2, §7): HID reports
// over UDP on loopback (SPEC §6, with fragmented reports), the serial framing over a
// real pty (SPEC §7; socat pair, opened with @serialport/stream), and uhid (skipped,
// saying so, where /dev/uhid is absent). Devices run the echo test firmware.
import { describe, it, expect, afterEach } from "vitest";
import { createSocket, type Socket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { SerialPortStream } from "@serialport/stream";
import { autoDetect } from "@serialport/bindings-cpp";
import { Device } from "../wearable-sim/src/device.ts";
import { HidUdpTransport } from "../wearable-sim/src/transports/hid-udp.ts";
import { SerialTransport } from "../wearable-sim/src/transports/serial.ts";
import { uhidAvailable, UHID_PATH } from "../wearable-sim/src/transports/uhid.ts";
import { createTransport, type Transport } from "../wearable-sim/src/transports/index.ts";
import { hidFragment, HidReassembler } from "../protocol/src/hid.ts";
import { serialEncode, SerialDecoder, type SerialFrame } from "../protocol/src/serial.ts";
import {
  HID_CID_BROADCAST,
  HID_CMD_ERROR,
  HID_CMD_INIT,
  HID_CMD_MSG,
  HID_CMD_PING,
  HID_ERR_INVALID_CMD,
  HID_ERR_INVALID_SEQ,
  HID_INIT_NONCE_LEN,
  HID_REPORT_SIZE,
} from "../protocol/portable/hid.ts";
import {
  SERIAL_ERR_BAD_FRAME,
  SERIAL_TYPE_APDU_REQUEST,
  SERIAL_TYPE_APDU_RESPONSE,
  SERIAL_TYPE_ERROR,
  SERIAL_TYPE_PING,
  SERIAL_TYPE_PONG,
  SERIAL_TYPE_RESET,
} from "../protocol/portable/serial.ts";
import { ECHO_FIRMWARE, ECHO_GEOMETRY, echoApdu, be32, readU32, statusWord } from "../wearable-sim/test-fixtures/echo-client.ts";

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});


const echoDevice = (profile: "card" | "band" | "watch" = "band") => new Device({ firmware: ECHO_FIRMWARE, ...ECHO_GEOMETRY, profile });

async function started<T extends Transport>(t: T): Promise<T> {
  await t.open();
  open.push(t);
  return t;
}

/** A minimal host: HID reports over UDP, reassembled with the protocol's codec. */
class HidUdpHost {
  private sock: Socket;
  private queue: Uint8Array[] = [];
  private waiters: ((r: Uint8Array) => void)[] = [];
  constructor(private readonly port: number) {
    this.sock = createSocket("udp4");
    this.sock.on("message", (m) => {
      const r = new Uint8Array(m);
      const w = this.waiters.shift();
      if (w) w(r);
      else this.queue.push(r);
    });
    open.push({ close: () => new Promise<void>((res) => this.sock.close(() => res())) });
  }
  sendReports(reports: Uint8Array[]): void {
    for (const r of reports) this.sock.send(r, this.port, "127.0.0.1");
  }
  nextReport(timeoutMs = 3000): Promise<Uint8Array> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const w = (r: Uint8Array) => (clearTimeout(t), resolve(r));
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error("hid host: no report"));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
  /** Reads reports until one message is complete (the device side reassembler works for the host too). */
  async message() {
    const ra = new HidReassembler();
    for (;;) {
      const m = ra.push(await this.nextReport());
      if (m) return m;
    }
  }
  async init(): Promise<number> {
    const nonce = randomBytes(HID_INIT_NONCE_LEN);
    this.sendReports(hidFragment(HID_CID_BROADCAST, HID_CMD_INIT, nonce));
    const m = await this.message();
    expect(m.cid).toBe(HID_CID_BROADCAST);
    expect(m.cmd).toBe(HID_CMD_INIT);
    expect(Buffer.from(m.payload.subarray(0, 8)).equals(nonce)).toBe(true);
    return new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(8);
  }
  async apdu(cid: number, cmd: Uint8Array): Promise<Uint8Array> {
    this.sendReports(hidFragment(cid, HID_CMD_MSG, cmd));
    const m = await this.message();
    expect(m.cid).toBe(cid);
    expect(m.cmd).toBe(HID_CMD_MSG);
    return m.payload;
  }
}

describe("HID over UDP (SPEC §6)", () => {
  it("INIT allocates a channel; MSG carries APDUs; long messages fragment both ways", async () => {
    const t = await started(new HidUdpTransport(echoDevice()));
    expect(t.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    const host = new HidUdpHost(t.udpPort);
    const cid = await host.init();
    expect(cid).not.toBe(HID_CID_BROADCAST);
    expect(cid).not.toBe(0);
    // 250 data bytes: a 255-byte command APDU spans 5 reports, the 252-byte response 5 more
    const data = randomBytes(250);
    const r = await host.apdu(cid, echoApdu(0x01, 0, data));
    expect(statusWord(r)).toBe(0x9000);
    expect(Buffer.from(r.subarray(0, -2)).equals(data)).toBe(true);
    expect(hidFragment(cid, HID_CMD_MSG, echoApdu(0x01, 0, data)).length).toBeGreaterThan(4);
    expect(t.core.stats.reportsIn).toBeGreaterThanOrEqual(6);
    expect(t.core.stats.reportsOut).toBeGreaterThanOrEqual(6);
    // the device state persists across messages
    await host.apdu(cid, echoApdu(0x06, 0, be32(31337)));
    expect(readU32(await host.apdu(cid, echoApdu(0x07)))).toBe(31337);
  });

  it("PING echoes; unknown command and out-of-order continuation are answered with ERROR", async () => {
    const t = await started(new HidUdpTransport(echoDevice()));
    const host = new HidUdpHost(t.udpPort);
    const cid = await host.init();
    const ping = randomBytes(100);
    host.sendReports(hidFragment(cid, HID_CMD_PING, ping));
    const pong = await host.message();
    expect(pong.cmd).toBe(HID_CMD_PING);
    expect(Buffer.from(pong.payload).equals(ping)).toBe(true);

    host.sendReports(hidFragment(cid, 0x55, new Uint8Array(0)));
    const e1 = await host.message();
    expect([e1.cmd, e1.payload[0]]).toEqual([HID_CMD_ERROR, HID_ERR_INVALID_CMD]);

    const reports = hidFragment(cid, HID_CMD_MSG, echoApdu(0x01, 0, randomBytes(200)));
    reports[2][4] = 7; // wrong continuation seq
    host.sendReports(reports);
    const e2 = await host.message();
    expect([e2.cmd, e2.payload[0]]).toEqual([HID_CMD_ERROR, HID_ERR_INVALID_SEQ]);
    // and the channel still works afterwards
    expect(statusWord(await host.apdu(cid, echoApdu(0x01, 0, Uint8Array.of(1))))).toBe(0x9000);
  });

  it("a power cut during a MSG: no answer; the next MSG powers the device up from flash", async () => {
    const d = echoDevice();
    const t = await started(new HidUdpTransport(d));
    const host = new HidUdpHost(t.udpPort);
    const cid = await host.init();
    await host.apdu(cid, echoApdu(0x06, 0, be32(1)));
    d.cutPowerAfter(3, "full");
    host.sendReports(hidFragment(cid, HID_CMD_MSG, echoApdu(0x06, 0, be32(2))));
    await expect(host.nextReport(300)).rejects.toThrow(/no report/);
    expect(d.state).toBe("off");
    // "full": the commit byte was written, so the new value is there
    expect(readU32(await host.apdu(cid, echoApdu(0x07)))).toBe(2);
  });
});

describe("serial over a real pty (SPEC §7)", () => {
  async function hostPort(path: string) {
    const port = new SerialPortStream({ binding: autoDetect(), path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    await new Promise<void>((res) => port.flush(() => res()));
    open.push({ close: () => new Promise<void>((res) => (port.isOpen ? port.close(() => res()) : res())) });
    const dec = new SerialDecoder();
    const frames: SerialFrame[] = [];
    const waiters: (() => void)[] = [];
    port.on("data", (c: Buffer) => {
      frames.push(...dec.push(new Uint8Array(c)));
      while (waiters.length) waiters.shift()!();
    });
    const next = async (timeoutMs = 3000): Promise<SerialFrame> => {
      const end = Date.now() + timeoutMs;
      while (!frames.length) {
        if (Date.now() > end) throw new Error("serial host: no frame");
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
      return frames.shift()!;
    };
    const request = async (type: number, payload: Uint8Array) => {
      port.write(Buffer.from(serialEncode(type, payload)));
      return next();
    };
    return { port, next, request };
  }

  it("APDUs, PING, RESET and a bad frame through the simulator's own socat pair", async () => {
    const d = echoDevice("watch");
    const t = await started((await createTransport("serial", d)) as SerialTransport);
    expect(t.endpoint).toMatch(/host$/);
    const host = await hostPort(t.endpoint);
    const data = randomBytes(200);
    const r = await host.request(SERIAL_TYPE_APDU_REQUEST, echoApdu(0x01, 0, data));
    expect(r.type).toBe(SERIAL_TYPE_APDU_RESPONSE);
    expect(Buffer.from(r.payload.subarray(0, -2)).equals(data)).toBe(true);
    expect(statusWord(r.payload)).toBe(0x9000);

    const pong = await host.request(SERIAL_TYPE_PING, Uint8Array.of(0, 1, 2, 0));
    expect([pong.type, ...pong.payload]).toEqual([SERIAL_TYPE_PONG, 0, 1, 2, 0]);

    await host.request(SERIAL_TYPE_APDU_REQUEST, echoApdu(0x06, 0, be32(555)));
    const reset = await host.request(SERIAL_TYPE_RESET, new Uint8Array(0));
    expect([reset.type, reset.payload.length]).toEqual([SERIAL_TYPE_PONG, 0]);
    expect(readU32((await host.request(SERIAL_TYPE_APDU_REQUEST, echoApdu(0x07))).payload)).toBe(555);

    // corrupt one byte inside a frame: the device answers ERROR BAD_FRAME and keeps going
    const bad = serialEncode(SERIAL_TYPE_APDU_REQUEST, echoApdu(0x07));
    bad[3] ^= 0x40;
    host.port.write(Buffer.from(bad));
    const err = await host.next();
    expect([err.type, ...err.payload]).toEqual([SERIAL_TYPE_ERROR, SERIAL_ERR_BAD_FRAME]);
    expect(statusWord((await host.request(SERIAL_TYPE_APDU_REQUEST, echoApdu(0x07))).payload)).toBe(0x9000);
  });
});

describe("uhid (real virtual HID device)", () => {
  it.skipIf(!uhidAvailable())(`creates a HID device node-hid can find (skipped: ${UHID_PATH} absent, no uhid in this kernel)`, async () => {
    const t = await started(await createTransport("uhid", echoDevice()));
    expect(t.active).toBe(true);
  });
  it("without /dev/uhid, opening fails with one clear line", async () => {
    if (uhidAvailable()) return;
    const t = await createTransport("uhid", echoDevice());
    await expect(t.open()).rejects.toThrow(/^uhid: \/dev\/uhid is absent/);
  });
});

describe("HID report size", () => {
  it("every report the device sends is exactly one 64-byte report", async () => {
    const t = await started(new HidUdpTransport(echoDevice()));
    const host = new HidUdpHost(t.udpPort);
    const cid = await host.init();
    host.sendReports(hidFragment(cid, HID_CMD_MSG, echoApdu(0x01, 0, randomBytes(120))));
    for (let i = 0; i < 3; i++) expect((await host.nextReport()).length).toBe(HID_REPORT_SIZE);
  });
});
