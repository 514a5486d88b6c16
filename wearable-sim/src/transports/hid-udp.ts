// HID-over-UDP transport: the device's 64-byte CTAPHID-style reports (SPEC.md §6) carried
// one report per UDP datagram on 127.0.0.1, as Trezor's emulator does, because this
// kernel cannot create virtual USB HID devices (TRAPS.md "Serial and HID"). Host tools use
// this endpoint for simulated wearables and node-hid for real ones; the report bytes are
// the same. Device behaviour: hid-core.ts. Replies go to the address the channel's last
// packet came from (an allocated channel inherits the address of its INIT).
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { HID_CID_BROADCAST } from "../../../protocol/portable/hid.ts";
import type { Device } from "../device.ts";
import { HidDeviceCore, reportCid } from "./hid-core.ts";
import type { Transport, TransportOptions } from "./transport.ts";

const LOOPBACK = "127.0.0.1";

export class HidUdpTransport implements Transport {
  readonly kind = "hid-udp" as const;
  private socket?: Socket;
  private port = 0;
  private readonly wantedPort: number;
  private readonly peers = new Map<number, RemoteInfo>();
  private lastInitPeer?: RemoteInfo;
  readonly core: HidDeviceCore;

  constructor(
    readonly device: Device,
    opts: TransportOptions = {},
  ) {
    this.wantedPort = opts.udpPort ?? 0;
    this.core = new HidDeviceCore(device, (report, cid) => this.out(report, cid));
  }

  get endpoint(): string {
    return `${LOOPBACK}:${this.port}`;
  }
  get udpPort(): number {
    return this.port;
  }
  get active(): boolean {
    return this.socket !== undefined;
  }

  async open(): Promise<void> {
    if (this.socket) return;
    const s = createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      s.once("error", (e) => reject(new Error(`hid-udp: cannot bind ${LOOPBACK}:${this.wantedPort} (${e.message})`)));
      s.bind(this.wantedPort, LOOPBACK, () => resolve());
    });
    s.on("error", (e) => this.device.emit("transport-error", { serial: this.device.serial, kind: "hid-udp", message: e.message }));
    s.on("message", (msg, rinfo) => {
      const report = new Uint8Array(msg);
      const cid = reportCid(report);
      if (cid !== undefined) this.peers.set(cid, rinfo);
      if (cid === HID_CID_BROADCAST) this.lastInitPeer = rinfo;
      this.core.receive(report);
    });
    this.port = s.address().port;
    this.socket = s;
    this.core.start();
  }

  async close(): Promise<void> {
    this.core.stop();
    const s = this.socket;
    this.socket = undefined;
    this.peers.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private out(report: Uint8Array, cid: number): void {
    // a channel just allocated by INIT has not sent anything yet: it lives at the INIT's address
    const peer = this.peers.get(cid) ?? this.lastInitPeer;
    if (!peer || !this.socket) return;
    if (!this.peers.has(cid)) this.peers.set(cid, peer);
    this.socket.send(report, peer.port, peer.address);
  }
}
