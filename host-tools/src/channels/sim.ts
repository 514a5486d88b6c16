// In-process channel to a simulated device (tests, the demo, `--sim IMAGE`): wearable-sim's
// InProcessTransport, the same APDU bytes and the same APDU path (serveApdu) as its real
// transports, without a socket. A device that does not answer (mute after a firmware trap,
// power cut mid-APDU) is a device error here as on every real link: nothing powers it back
// on behind the host's back. This module is the ONLY place host-tools touches the
// simulator, and only through its public entry (DESIGN.md §2).
import { createDevice, InProcessTransport, type Device, type DeviceOptions } from "offline-wallet/wearable-sim";
import { deviceError } from "../errors.ts";
import type { Channel } from "./channel.ts";

export class SimChannel implements Channel {
  readonly name: string;
  readonly transport: InProcessTransport;
  constructor(readonly device: Device) {
    this.name = `sim:${device.profile.name} ${device.serial}`;
    this.transport = new InProcessTransport(device);
  }

  /** A device with a file-backed flash image (kept between CLI runs), powered on. */
  static open(opts: DeviceOptions): SimChannel {
    const d = createDevice(opts);
    d.powerOn();
    return new SimChannel(d);
  }

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    let r: Uint8Array | undefined;
    try {
      r = this.transport.exchange(apdu);
    } catch (e) {
      throw deviceError(`${this.name}: ${(e as Error).message}`);
    }
    if (r === undefined) throw deviceError(`${this.name}: the device did not answer (${this.transport.active ? this.device.state : "channel closed"})`);
    return r;
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
