// The one interface every simulator transport implements, and the APDU path they share
// (DESIGN.md §2; the speculos model: HID, NFC and raw APDU servers share one small interface
// and bind to loopback). A leaf: each transport module imports it, and index.ts, which picks
// a transport by kind, imports the transports.
import { Device, DeviceOffError } from "../device.ts";

/** "inprocess" is for code in the same process (InProcessTransport); the others are what host software outside it reaches. */
export type TransportKind = "pcsc" | "serial" | "hid-udp" | "uhid" | "inprocess";
/** The kinds a fleet device can be started with (outside software reaches them). */
export const TRANSPORT_KINDS: readonly TransportKind[] = ["pcsc", "serial", "hid-udp", "uhid"];

export interface Transport {
  readonly kind: TransportKind;
  readonly device: Device;
  /** where host software finds the device: "vpcd slot 1 (port 35964)", a pty path, "127.0.0.1:PORT" */
  readonly endpoint: string;
  /** true while host software can reach the device (card in the field, port open) */
  readonly active: boolean;
  /** true once host software can see the device (pcsc: pcscd read its ATR after the insert; others: while active) */
  readonly visible?: boolean;
  /** make the device reachable (pcsc: insert the card into the reader) */
  open(): Promise<void>;
  /** make it unreachable (pcsc: remove the card) */
  close(): Promise<void>;
}

export interface TransportOptions {
  /** pcsc: reader slot (0 = "… 00 00") or TCP port of vpcd */
  slot?: number;
  /** pcsc: vpcd base port (default: env WALLET_VPCD_PORT, else 35963) */
  vpcdBasePort?: number;
  /** serial: the pty path the device opens; absent: the transport creates a socat pair */
  ptyPath?: string;
  /** hid-udp: UDP port on 127.0.0.1 (0 = any free port) */
  udpPort?: number;
}

/**
 * The APDU path shared by every transport: powers the device up when a host talks to it
 * (a reader powers a card before the first command), transmits, and returns undefined when
 * the device cannot answer (power cut mid-APDU, mute after a trap): the transport then
 * does what the real link does when a device vanishes.
 */
export function serveApdu(device: Device, command: Uint8Array): Uint8Array | undefined {
  try {
    if (device.state === "off") device.powerOn();
    return device.transmit(command);
  } catch (e) {
    if (e instanceof DeviceOffError) return undefined;
    throw e;
  }
}
