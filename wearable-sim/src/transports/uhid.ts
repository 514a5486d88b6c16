// uhid transport: a real virtual USB HID device through the kernel's /dev/uhid
// (Documentation/hid/uhid.rst, include/uapi/linux/uhid.h), so node-hid finds the
// simulated wearable like a real one. Same reports and device behaviour as hid-udp
// (hid-core.ts). Only where /dev/uhid exists and can be opened: this machine's kernel
// has no uhid, so `uhidAvailable()` is false here and tests skip this transport, saying so.
//
// Wire format: every read/write is one `struct uhid_event` (packed): u32 type, then the
// union; we write UHID_CREATE2 and UHID_INPUT2, and read UHID_OUTPUT (host -> device report).
import { accessSync, constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { HID_REPORT_SIZE } from "../../../protocol/portable/hid.ts";
import type { Device } from "../device.ts";
import { HidDeviceCore } from "./hid-core.ts";
import type { Transport } from "./transport.ts";

export const UHID_PATH = "/dev/uhid";
// enum uhid_event_type (uhid.h)
const UHID_DESTROY = 1;
const UHID_OUTPUT = 6;
const UHID_CREATE2 = 11;
const UHID_INPUT2 = 12;
// sizes in uhid.h: name[128] phys[64] uniq[64] rd_size u16 bus u16 vendor product version country u32, rd_data[4096]
const UHID_DATA_MAX = 4096;
const CREATE2_SIZE = 128 + 64 + 64 + 2 + 2 + 4 * 4 + UHID_DATA_MAX;
const EVENT_SIZE = 4 + CREATE2_SIZE; // the union's largest member
const BUS_USB = 0x03; // linux/input.h
// pid.codes test VID/PID (0x1209:0x0001 is "pid.codes Test PID")
const VENDOR = 0x1209;
const PRODUCT = 0x0001;

// FIDO CTAPHID report descriptor (CTAP 2.1 §11.2.8.2): usage page 0xF1D0, 64-byte in/out reports
const REPORT_DESCRIPTOR = Uint8Array.of(
  0x06, 0xd0, 0xf1, 0x09, 0x01, 0xa1, 0x01,
  0x09, 0x20, 0x15, 0x00, 0x26, 0xff, 0x00, 0x75, 0x08, 0x95, HID_REPORT_SIZE, 0x81, 0x02,
  0x09, 0x21, 0x15, 0x00, 0x26, 0xff, 0x00, 0x75, 0x08, 0x95, HID_REPORT_SIZE, 0x91, 0x02,
  0xc0,
);

export function uhidAvailable(): boolean {
  try {
    accessSync(UHID_PATH, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export class UhidTransport implements Transport {
  readonly kind = "uhid" as const;
  private fh?: FileHandle;
  private reading?: Promise<void>;
  readonly core: HidDeviceCore;

  constructor(readonly device: Device) {
    this.core = new HidDeviceCore(device, (report) => void this.input(report));
  }

  get endpoint(): string {
    return `${UHID_PATH} (${VENDOR.toString(16)}:${PRODUCT.toString(16).padStart(4, "0")} "wearable-sim ${this.device.serial}")`;
  }
  get active(): boolean {
    return this.fh !== undefined;
  }

  async open(): Promise<void> {
    if (this.fh) return;
    if (!uhidAvailable()) throw new Error(`uhid: ${UHID_PATH} is absent or not writable (no uhid in this kernel); use the hid-udp transport`);
    this.fh = await open(UHID_PATH, "r+");
    const ev = Buffer.alloc(EVENT_SIZE);
    ev.writeUInt32LE(UHID_CREATE2, 0);
    let o = 4;
    ev.write(`wearable-sim ${this.device.profile.name}`, o, 127, "utf8");
    o += 128;
    ev.write(`wearable-sim/${this.device.serial}`, o, 63, "utf8");
    o += 64;
    ev.write(this.device.serial, o, 63, "utf8");
    o += 64;
    ev.writeUInt16LE(REPORT_DESCRIPTOR.length, o);
    ev.writeUInt16LE(BUS_USB, o + 2);
    ev.writeUInt32LE(VENDOR, o + 4);
    ev.writeUInt32LE(PRODUCT, o + 8);
    ev.writeUInt32LE(1, o + 12); // version
    ev.writeUInt32LE(0, o + 16); // country
    ev.set(REPORT_DESCRIPTOR, o + 20);
    await this.fh.write(ev);
    this.core.start();
    this.reading = this.readLoop(this.fh);
  }

  async close(): Promise<void> {
    const fh = this.fh;
    if (!fh) return;
    this.fh = undefined;
    this.core.stop();
    const ev = Buffer.alloc(EVENT_SIZE);
    ev.writeUInt32LE(UHID_DESTROY, 0);
    await fh.write(ev).catch(() => undefined);
    await fh.close();
    await this.reading?.catch(() => undefined);
  }

  private async readLoop(fh: FileHandle): Promise<void> {
    const buf = Buffer.alloc(EVENT_SIZE);
    while (this.fh === fh) {
      const { bytesRead } = await fh.read(buf, 0, EVENT_SIZE, null);
      if (bytesRead < 4 || buf.readUInt32LE(0) !== UHID_OUTPUT) continue;
      // uhid_output_req: data[UHID_DATA_MAX], u16 size, u8 rtype
      const size = buf.readUInt16LE(4 + UHID_DATA_MAX);
      let data = new Uint8Array(buf.subarray(4, 4 + Math.min(size, UHID_DATA_MAX)));
      // hidraw writes carry a leading report number 0 for devices without report ids
      if (data.length === HID_REPORT_SIZE + 1 && data[0] === 0) data = data.subarray(1);
      this.core.receive(data);
    }
  }

  private async input(report: Uint8Array): Promise<void> {
    if (!this.fh) return;
    // uhid_input2_req: u16 size, data[UHID_DATA_MAX]
    const ev = Buffer.alloc(EVENT_SIZE);
    ev.writeUInt32LE(UHID_INPUT2, 0);
    ev.writeUInt16LE(report.length, 4);
    ev.set(report, 6);
    await this.fh.write(ev);
  }
}
