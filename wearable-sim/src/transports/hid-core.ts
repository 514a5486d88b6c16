// The device side of the protocol's HID framing (SPEC.md §6, protocol/src/hid.ts), shared
// by the HID transports (hid-udp.ts, uhid.ts): reassembly, channels and commands.
// Behaviour (CTAP 2.1 §11.2.9): INIT on the broadcast channel allocates a channel (answer:
// nonce | cid | version | major | minor | build | capabilities, on broadcast); INIT on an
// allocated channel resyncs it; MSG carries one APDU and is answered with one response APDU;
// PING echoes; CANCEL gets no answer; anything else is ERROR INVALID_CMD; framing errors
// are answered ERROR with the reassembler's code on the offending channel. A device that
// stops answering (power cut, mute) sends nothing, as a USB device that lost power would.
import { randomInt } from "node:crypto";
import { HidError, HidReassembler, hidFragment, type HidMessage } from "../../../protocol/src/hid.ts";
import {
  HID_CAPABILITY_NONE,
  HID_CID_BROADCAST,
  HID_CMD_CANCEL,
  HID_CMD_ERROR,
  HID_CMD_INIT,
  HID_CMD_MSG,
  HID_CMD_PING,
  HID_ERR_INVALID_CMD,
  HID_ERR_INVALID_PAR,
  HID_ERR_OTHER,
  HID_INIT_NONCE_LEN,
  HID_INIT_RESP_LEN,
  HID_PROTOCOL_VERSION,
} from "../../../protocol/portable/hid.ts";
import { PROTOCOL_REVISION } from "../../../protocol/portable/revision.ts";
import type { Device } from "../device.ts";
import { serveApdu } from "./transport.ts";

// how often an unfinished message is checked against HID_MSG_TIMEOUT_MS
const POLL_MS = 250;

/** One HID function of a device; `out(report, cid)` puts a 64-byte report on the wire. */
export class HidDeviceCore {
  private reassembler = new HidReassembler();
  private readonly channels = new Set<number>();
  private timer?: NodeJS.Timeout;
  /** reports received and sent, for tests and diagnostics */
  readonly stats = { reportsIn: 0, reportsOut: 0, errors: 0 };

  constructor(
    private readonly device: Device,
    private readonly out: (report: Uint8Array, cid: number) => void,
  ) {}

  start(): void {
    this.reassembler = new HidReassembler();
    this.timer = setInterval(() => {
      const e = this.reassembler.poll();
      if (e) this.error(e.cid, e.code ?? HID_ERR_OTHER);
    }, POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.channels.clear();
  }

  /** Feeds one report from the host; returns the channel it was for (for reply routing). */
  receive(report: Uint8Array): void {
    this.stats.reportsIn++;
    let msg: HidMessage | null;
    try {
      msg = this.reassembler.push(report);
    } catch (e) {
      if (!(e instanceof HidError)) throw e;
      return this.error(e.cid, e.code ?? HID_ERR_OTHER);
    }
    if (msg) this.handle(msg);
  }

  private send(cid: number, cmd: number, payload: Uint8Array): void {
    for (const r of hidFragment(cid, cmd, payload)) {
      this.stats.reportsOut++;
      this.out(r, cid);
    }
  }

  private error(cid: number, code: number): void {
    this.stats.errors++;
    this.send(cid, HID_CMD_ERROR, Uint8Array.of(code));
  }

  private handle({ cid, cmd, payload }: HidMessage): void {
    switch (cmd) {
      case HID_CMD_INIT:
        return this.init(cid, payload);
      case HID_CMD_MSG: {
        if (!this.channels.has(cid)) return this.error(cid, HID_ERR_INVALID_PAR);
        const r = serveApdu(this.device, payload);
        if (r) this.send(cid, HID_CMD_MSG, r);
        return;
      }
      case HID_CMD_PING:
        return this.send(cid, HID_CMD_PING, payload);
      case HID_CMD_CANCEL:
        return;
      default:
        return this.error(cid, HID_ERR_INVALID_CMD);
    }
  }

  /** CTAP 2.1 §11.2.9.1.3: allocate (broadcast) or resync (own channel). */
  private init(cid: number, nonce: Uint8Array): void {
    if (nonce.length !== HID_INIT_NONCE_LEN) return this.error(cid, HID_ERR_INVALID_PAR);
    let newCid = cid;
    if (cid === HID_CID_BROADCAST) {
      do newCid = randomInt(1, 0xffffffff);
      while (this.channels.has(newCid));
    }
    this.channels.add(newCid);
    const resp = new Uint8Array(HID_INIT_RESP_LEN);
    resp.set(nonce);
    new DataView(resp.buffer).setUint32(HID_INIT_NONCE_LEN, newCid);
    // version | major | minor | build | capabilities; the device version is the protocol revision
    resp.set([HID_PROTOCOL_VERSION, PROTOCOL_REVISION & 0xff, 0, 0, HID_CAPABILITY_NONE], HID_INIT_NONCE_LEN + 4);
    this.send(cid, HID_CMD_INIT, resp);
  }
}

/** The channel id of a report (its first 4 bytes, big-endian), or undefined if too short. */
export function reportCid(report: Uint8Array): number | undefined {
  return report.length >= 4 ? new DataView(report.buffer, report.byteOffset).getUint32(0) : undefined;
}
