// HID channels (SPEC.md §6; host-tools/README.md "Choosing a device"): 64-byte CTAPHID-style reports carrying
// one APDU per MSG. Two pipes carry the same reports: node-hid for real USB devices, and
// UDP datagrams to the simulator's HID endpoint on loopback (this kernel has no uhid:
// TRAPS.md). The channel allocates its own channel id with INIT (8-byte nonce on the
// broadcast channel), then sends MSG and reassembles the answer with the protocol's
// HidReassembler; an ERROR answer is a device error naming the HID error code.
import { randomBytes } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import {
  HID_CID_BROADCAST, HID_CMD_ERROR, HID_CMD_INIT, HID_CMD_KEEPALIVE, HID_CMD_MSG, HID_INIT_NONCE_LEN, HID_REPORT_SIZE,
} from "../../../protocol/portable/hid.ts";
import { hidFragment, HidReassembler, type HidMessage } from "../../../protocol/src/hid.ts";
import { deviceError, usageError } from "../errors.ts";
import { loadOptional, withTimeout, type Channel } from "./channel.ts";

/** Something that moves whole 64-byte reports both ways. */
interface ReportPipe {
  send(report: Uint8Array): void;
  onReport(fn: (report: Uint8Array) => void): void;
  close(): Promise<void>;
}

const TIMEOUT_MS = 10_000; // a device that has not answered by then is gone (CTAPHID keeps busy devices alive with KEEPALIVE)

export class HidChannel implements Channel {
  private cid = HID_CID_BROADCAST;
  private waiter: ((m: HidMessage | Error) => void) | null = null;
  private reasm = new HidReassembler();

  private constructor(
    readonly name: string,
    private pipe: ReportPipe,
    private timeoutMs = TIMEOUT_MS,
  ) {
    pipe.onReport((r) => {
      let m: HidMessage | null;
      try {
        m = this.reasm.push(r);
      } catch (e) {
        return this.waiter?.(deviceError(`${this.name}: ${(e as Error).message}`));
      }
      if (!m || m.cid !== this.cid || m.cmd === HID_CMD_KEEPALIVE) return;
      this.waiter?.(m);
    });
  }

  private request(cmd: number, payload: Uint8Array): Promise<HidMessage> {
    const p = new Promise<HidMessage>((resolve, reject) => {
      this.waiter = (m) => {
        this.waiter = null;
        if (m instanceof Error) reject(m);
        else resolve(m);
      };
    });
    for (const r of hidFragment(this.cid, cmd, payload)) this.pipe.send(r);
    return withTimeout(p, this.timeoutMs, this.name);
  }

  private async init(): Promise<void> {
    const nonce = randomBytes(HID_INIT_NONCE_LEN);
    const m = await this.request(HID_CMD_INIT, nonce);
    if (m.cmd !== HID_CMD_INIT || !Buffer.from(m.payload.subarray(0, HID_INIT_NONCE_LEN)).equals(nonce)) throw deviceError(`${this.name}: bad INIT answer`);
    this.cid = new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(HID_INIT_NONCE_LEN);
  }

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    const m = await this.request(HID_CMD_MSG, apdu);
    if (m.cmd === HID_CMD_ERROR) throw deviceError(`${this.name}: HID error 0x${(m.payload[0] ?? 0).toString(16).padStart(2, "0")}`);
    if (m.cmd !== HID_CMD_MSG) throw deviceError(`${this.name}: unexpected HID command 0x${m.cmd.toString(16)}`);
    return m.payload;
  }

  close(): Promise<void> {
    return this.pipe.close();
  }

  /** The simulator's HID-over-UDP endpoint, "HOST:PORT" (loopback). */
  static async udp(endpoint: string, opts: { timeoutMs?: number } = {}): Promise<HidChannel> {
    const m = /^(?:udp:)?([\w.-]+):(\d+)$/.exec(endpoint);
    if (!m) throw usageError(`--hid udp:HOST:PORT expected, got "${endpoint}"`);
    const [, host, port] = m;
    const s: Socket = createSocket("udp4");
    await new Promise<void>((res) => s.bind(0, "127.0.0.1", () => res()));
    const pipe: ReportPipe = {
      send: (r) => s.send(r, Number(port), host),
      onReport: (fn) => s.on("message", (msg) => fn(new Uint8Array(msg))),
      close: () => new Promise((res) => s.close(() => res())),
    };
    const ch = new HidChannel(`hid-udp:${host}:${port}`, pipe, opts.timeoutMs);
    try {
      await ch.init();
    } catch (e) {
      await pipe.close();
      throw e;
    }
    return ch;
  }

  /** A real USB HID device through node-hid: a device path, or "VID:PID" in hex. */
  static async usb(spec: string): Promise<HidChannel> {
    type HidDevice = { write(d: number[]): number; on(ev: "data", l: (b: Buffer) => void): void; on(ev: "error", l: (e: Error) => void): void; close(): void };
    const HID = loadOptional<{ HID: new (...a: (string | number)[]) => HidDevice }>("node-hid", "apt-get install libusb-1.0-0 libudev1 && npm install");
    const vp = /^([0-9a-f]{4}):([0-9a-f]{4})$/i.exec(spec);
    let dev: HidDevice;
    try {
      dev = vp ? new HID.HID(parseInt(vp[1], 16), parseInt(vp[2], 16)) : new HID.HID(spec);
    } catch (e) {
      throw deviceError(`hid: cannot open ${spec} (${(e as Error).message})`);
    }
    let failed: Error | null = null;
    const pipe: ReportPipe = {
      // node-hid wants the report id first: 0 = the device has no numbered reports
      send: (r) => {
        if (failed) throw deviceError(`hid: ${spec}: ${failed.message}`);
        dev.write([0, ...r]);
      },
      onReport: (fn) => dev.on("data", (b) => b.length >= HID_REPORT_SIZE && fn(new Uint8Array(b.subarray(0, HID_REPORT_SIZE)))),
      close: async () => dev.close(),
    };
    dev.on("error", (e) => (failed = e));
    const ch = new HidChannel(`hid:${spec}`, pipe);
    await ch.init();
    return ch;
  }
}
