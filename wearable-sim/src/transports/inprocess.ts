// The in-process transport (DESIGN.md §2: "tests that need speed may use an in-process
// transport that carries the same bytes"): a Device reached by a function call instead of
// a socket, over the same APDU path as every other transport (serveApdu), so it powers an
// off device up as a reader does and leaves a mute device mute, as every real link does.
import type { Device } from "../device.ts";
import { serveApdu, type Transport } from "./transport.ts";

export class InProcessTransport implements Transport {
  readonly kind = "inprocess" as const;
  readonly endpoint = "in-process";
  private open_ = true;

  /** Open from the start: there is no field to enter nor a port to bind. */
  constructor(readonly device: Device) {}

  get active(): boolean {
    return this.open_;
  }

  async open(): Promise<void> {
    this.open_ = true;
  }

  /** Ends the link; a file-backed device's flash image is written out. */
  async close(): Promise<void> {
    this.open_ = false;
    this.device.flash.flush();
  }

  /** One APDU: the response, or undefined when the device does not answer (closed, off mid-APDU, mute). */
  exchange(command: Uint8Array): Uint8Array | undefined {
    if (!this.open_) return undefined;
    return serveApdu(this.device, command);
  }
}
