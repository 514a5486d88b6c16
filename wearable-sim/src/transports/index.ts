// The simulator's transports, chosen by kind (DESIGN.md §2); the interface they all
// implement and the APDU path they share are transport.ts. A transport makes one Device
// reachable by real host software:
//   pcsc     a card in a vpcd reader slot of pcscd (pcsc.ts, over VpcdCard in vpcd.ts)
//   serial   the protocol's serial frames on a pty (serial.ts)
//   hid-udp  the protocol's 64-byte HID reports over UDP on 127.0.0.1 (hid-udp.ts)
//   uhid     a real virtual HID device through /dev/uhid, where the kernel has one (uhid.ts)
// Only transport modules import device libraries (node:net, node:dgram, @serialport/*).
import type { Device } from "../device.ts";

export { serveApdu, TRANSPORT_KINDS, type Transport, type TransportKind, type TransportOptions } from "./transport.ts";
import type { Transport, TransportKind, TransportOptions } from "./transport.ts";
import { TRANSPORT_KINDS } from "./transport.ts";

export async function createTransport(kind: TransportKind, device: Device, opts: TransportOptions = {}): Promise<Transport> {
  switch (kind) {
    case "pcsc": {
      const { PcscTransport } = await import("./pcsc.ts");
      return new PcscTransport(device, opts);
    }
    case "serial": {
      const { SerialTransport } = await import("./serial.ts");
      return new SerialTransport(device, opts);
    }
    case "hid-udp": {
      const { HidUdpTransport } = await import("./hid-udp.ts");
      return new HidUdpTransport(device, opts);
    }
    case "uhid": {
      const { UhidTransport } = await import("./uhid.ts");
      return new UhidTransport(device);
    }
    case "inprocess": {
      const { InProcessTransport } = await import("./inprocess.ts");
      return new InProcessTransport(device);
    }
  }
  throw new TypeError(`transport: unknown kind "${kind as string}" (${TRANSPORT_KINDS.join(", ")})`);
}
