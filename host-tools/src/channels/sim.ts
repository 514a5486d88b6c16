// In-process channel to a wearable-sim Device (tests, the demo, `--sim IMAGE`): the same
// APDU bytes a reader would carry, without a transport. This module is the ONLY place
// host-tools touches the simulator (issue 6 "Channels").
import { Device, type DeviceOptions } from "../../../wearable-sim/src/device.ts";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { deviceError } from "../errors.ts";
import type { Channel } from "./channel.ts";

export { Device };
export type SimDevice = Device;

export class SimChannel implements Channel {
  readonly name: string;
  constructor(readonly device: Device) {
    this.name = `sim:${device.profile.name} ${device.serial}`;
  }

  /** A device with a file-backed flash image (kept between CLI runs), powered on. */
  static open(opts: DeviceOptions): SimChannel {
    if (opts.imagePath) mkdirSync(dirname(opts.imagePath), { recursive: true });
    const d = new Device(opts);
    d.powerOn();
    return new SimChannel(d);
  }

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    if (!this.device.isOn) this.device.powerOn();
    try {
      return this.device.transmit(apdu);
    } catch (e) {
      throw deviceError(`${this.name}: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    this.device.flash.flush();
  }
}
