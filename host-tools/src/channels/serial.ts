// Serial channel (SPEC.md §7; host-tools/README.md "Choosing a device"): one APDU per APDU_REQUEST frame
// (COBS + CRC-16), the answer in an APDU_RESPONSE frame; an ERROR frame is a device error.
// @serialport/stream with @serialport/bindings-cpp (optional dependencies). Works on a
// USB-serial adapter or a pty (open the path directly: SerialPort.list() never shows
// ptys, TRAPS.md). Input is flushed on open: a pty delivers bytes written before.
import { SERIAL_TYPE_APDU_REQUEST, SERIAL_TYPE_APDU_RESPONSE, SERIAL_TYPE_ERROR } from "../../../protocol/portable/serial.ts";
import { SerialDecoder, serialEncode, type SerialFrame } from "../../../protocol/src/serial.ts";
import { deviceError } from "../errors.ts";
import { loadOptional, withTimeout, type Channel } from "./channel.ts";

interface Port {
  isOpen: boolean;
  open(cb: (e: Error | null) => void): void;
  close(cb: () => void): void;
  flush(cb: () => void): void;
  write(b: Buffer): boolean;
  on(ev: "data", l: (b: Buffer) => void): void;
  on(ev: "error" | "close", l: (e?: Error) => void): void;
}

const INSTALL = "npm_config_nodedir=/usr npm install (it retries the optional @serialport/bindings-cpp binding)";

export class SerialChannel implements Channel {
  private decoder = new SerialDecoder();
  private waiter: ((f: SerialFrame | Error) => void) | null = null;
  private constructor(
    readonly name: string,
    private port: Port,
    private timeoutMs = 10_000,
  ) {
    port.on("data", (chunk) => {
      for (const f of this.decoder.push(new Uint8Array(chunk))) this.waiter?.(f);
    });
    port.on("close", () => this.waiter?.(deviceError(`${this.name}: port closed`)));
    port.on("error", (e) => this.waiter?.(deviceError(`${this.name}: ${e?.message}`)));
  }

  static async open(path: string, opts: { baudRate?: number; timeoutMs?: number } = {}): Promise<SerialChannel> {
    const baudRate = opts.baudRate ?? 115200;
    const { SerialPortStream } = loadOptional<{ SerialPortStream: new (o: object) => Port }>("@serialport/stream", INSTALL);
    const { autoDetect } = loadOptional<{ autoDetect: () => unknown }>("@serialport/bindings-cpp", INSTALL);
    const port = new SerialPortStream({ binding: autoDetect(), path, baudRate, autoOpen: false });
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(deviceError(`serial: cannot open ${path} (${e.message})`)) : res())));
    await new Promise<void>((res) => port.flush(() => res()));
    return new SerialChannel(`serial:${path}`, port, opts.timeoutMs);
  }

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    const p = new Promise<SerialFrame>((resolve, reject) => {
      this.waiter = (f) => {
        this.waiter = null;
        if (f instanceof Error) reject(f);
        else resolve(f);
      };
    });
    // a leading delimiter flushes any garbage the device has half-received
    this.port.write(Buffer.concat([Buffer.from([0]), Buffer.from(serialEncode(SERIAL_TYPE_APDU_REQUEST, apdu))]));
    const f = await withTimeout(p, this.timeoutMs, this.name);
    if (f.type === SERIAL_TYPE_ERROR) throw deviceError(`${this.name}: device reported serial error 0x${(f.payload[0] ?? 0).toString(16)}`);
    if (f.type !== SERIAL_TYPE_APDU_RESPONSE) throw deviceError(`${this.name}: unexpected frame type 0x${f.type.toString(16)}`);
    return f.payload;
  }

  async close(): Promise<void> {
    if (this.port.isOpen) await new Promise<void>((res) => this.port.close(() => res()));
  }
}
