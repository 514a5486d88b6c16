// PC/SC transport: a simulated device as a card in a vpcd reader slot of pcscd
// (DESIGN.md §2, PC/SC). Host software sees it through pcsclite exactly as a card
// on a real reader. Built on VpcdCard (vpcd.ts, the vsmartcard virtual-reader protocol).
//
// Mapping to the physical world:
//   open()/insert(slot)  the device enters the reader's field (TCP connect to vpcd)
//   close()              the device leaves the field: connection closed, device unpowered
//   vpcd power on/off/reset   Device.powerOn / powerOff / reset (RAM lost, flash kept)
// A device that stops answering in the middle of an APDU (power cut at a flash op, mute
// after a trap) is removed from the reader: vpcd has no timeout, so staying connected
// and silent would stall the reader; removal is what a host sees when a card is pulled.
import { VpcdCard } from "./vpcd.ts";
import type { Device } from "../device.ts";
import { serveApdu, type Transport, type TransportOptions } from "./transport.ts";

/**
 * vpcd reader names end in " 00 0n" for slot n of the first reader.conf entry; a further
 * entry e (its own FRIENDLYNAME "Virtual PCD e", as the test rig writes it) has slots 2e, 2e+1.
 */
export function slotOfReader(reader: string): number {
  const m = /(?:\s(\d{1,2}))?\s(\d\d) (\d\d)\s*$/.exec(reader);
  if (!m) throw new RangeError(`pcsc: cannot tell the vpcd slot of reader "${reader}" (expected a name ending "00 0n")`);
  return 2 * Number(m[1] ?? 0) + Number(m[2]) * 2 + Number(m[3]);
}

export class PcscTransport implements Transport {
  readonly kind = "pcsc" as const;
  private readonly card: VpcdCard;
  private slot: number;
  private atrsAtInsert = 0;

  constructor(
    readonly device: Device,
    opts: TransportOptions = {},
  ) {
    this.slot = opts.slot ?? 0;
    this.card = new VpcdCard(
      {
        atr: () => device.atr,
        apdu: (cmd) => this.apdu(cmd),
        powerOn: () => device.powerOn(),
        powerOff: () => device.powerOff(),
        reset: () => device.reset(),
      },
      { basePort: opts.vpcdBasePort, onError: (e) => device.emit("transport-error", { serial: device.serial, kind: "pcsc", message: String(e) }) },
    );
  }

  get endpoint(): string {
    return `vpcd slot ${this.slot} (port ${this.card.portOf(this.slot)})`;
  }
  get active(): boolean {
    return this.card.connected;
  }
  /** pcscd has read the ATR since the last insert: the reader shows the card as present */
  get visible(): boolean {
    return this.card.connected && this.card.stats.atrs > this.atrsAtInsert;
  }
  get vpcdStats() {
    return this.card.stats;
  }

  open(): Promise<void> {
    return this.insert(this.slot);
  }

  /** Taps the device on a reader: removes it from any other slot, then inserts it into `slot`. */
  async insert(slot: number): Promise<void> {
    if (this.card.connected) await this.close();
    this.slot = slot;
    this.atrsAtInsert = this.card.stats.atrs;
    await this.card.connect(slot);
    this.device.emit("field", { serial: this.device.serial, present: true, endpoint: this.endpoint });
    const closed = this.card.closed;
    void closed.then(() => this.left());
  }

  async close(): Promise<void> {
    await this.card.close();
  }

  // Leaving the field (our close, or pcscd dropping the connection) cuts the device's supply.
  private left(): void {
    this.device.powerOff();
    this.device.emit("field", { serial: this.device.serial, present: false, endpoint: this.endpoint });
  }

  private apdu(cmd: Uint8Array): Uint8Array {
    const r = serveApdu(this.device, cmd);
    if (r) return r;
    void this.card.close();
    throw new Error(`pcsc: device ${this.device.serial} stopped answering; removed from the reader`);
  }
}
