// Serial transport: the device speaks the protocol's serial framing (SPEC.md §7,
// protocol/src/serial.ts) on a pty, as a wearable's debug/sync UART would (DESIGN.md
// §2). The device opens one end with @serialport/stream +
// @serialport/bindings-cpp; host software opens the other end, exactly as it would a
// USB-serial adapter. Without a given path the transport creates its own socat pair
// (`socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B`) and `endpoint` is the host's end.
//
// Frames the device answers: APDU_REQUEST -> APDU_RESPONSE, PING -> PONG (same payload),
// RESET -> power cycle then PONG (empty), unknown type -> ERROR BAD_TYPE, a dropped frame
// (bad COBS/CRC/length) -> ERROR BAD_FRAME. A device that stops answering (power cut,
// mute) sends nothing, like a UART whose device lost power.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SerialPortStream } from "@serialport/stream";
import { autoDetect } from "@serialport/bindings-cpp";
import { SerialDecoder, serialEncode } from "../../../protocol/src/serial.ts";
import {
  SERIAL_ERR_BAD_FRAME,
  SERIAL_ERR_BAD_TYPE,
  SERIAL_TYPE_APDU_REQUEST,
  SERIAL_TYPE_APDU_RESPONSE,
  SERIAL_TYPE_ERROR,
  SERIAL_TYPE_PING,
  SERIAL_TYPE_PONG,
  SERIAL_TYPE_RESET,
} from "../../../protocol/portable/serial.ts";
import type { Device } from "../device.ts";
import { serveApdu, type Transport, type TransportOptions } from "./transport.ts";

// a pty ignores the rate; real adapters of wearables run at this one
const BAUD_RATE = 115200;
const PTY_TIMEOUT_MS = 5000;

/** A socat pty pair: `device` end and `host` end link paths. */
async function socatPair(): Promise<{ device: string; host: string; dir: string; child: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), "wearable-sim-pty-"));
  const device = join(dir, "device");
  const host = join(dir, "host");
  const child = spawn("socat", [`pty,raw,echo=0,link=${device}`, `pty,raw,echo=0,link=${host}`], { stdio: "ignore" });
  let failed: Error | undefined;
  child.once("error", (e) => (failed = e));
  child.once("exit", (code) => (failed ??= new Error(`socat exited with ${code}`)));
  const end = Date.now() + PTY_TIMEOUT_MS;
  while (!(existsSync(device) && existsSync(host))) {
    if (failed || Date.now() > end) {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`serial: cannot create a pty pair (${failed?.message ?? "timeout"}); is socat installed?`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { device, host, dir, child };
}

export class SerialTransport implements Transport {
  readonly kind = "serial" as const;
  private port?: SerialPortStream;
  private pair?: { device: string; host: string; dir: string; child: ChildProcess };
  private decoder = new SerialDecoder();
  private readonly givenPath?: string;

  constructor(
    readonly device: Device,
    opts: TransportOptions = {},
  ) {
    this.givenPath = opts.ptyPath;
  }

  /** The path host software opens. */
  get endpoint(): string {
    return this.pair?.host ?? this.givenPath ?? "";
  }
  get active(): boolean {
    return this.port?.isOpen ?? false;
  }

  async open(): Promise<void> {
    if (this.port) return;
    let path = this.givenPath;
    if (!path) {
      this.pair = await socatPair();
      path = this.pair.device;
    }
    const port = new SerialPortStream({ binding: autoDetect(), path, baudRate: BAUD_RATE, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(new Error(`serial: cannot open ${path}: ${e.message}`)) : resolve())));
    // bytes written to the pty while nobody listened would reach us now: start clean
    await new Promise<void>((resolve) => port.flush(() => resolve()));
    this.decoder = new SerialDecoder();
    port.on("data", (chunk: Buffer) => this.receive(chunk));
    port.on("error", (e) => this.device.emit("transport-error", { serial: this.device.serial, kind: "serial", message: e.message }));
    this.port = port;
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    const pair = this.pair;
    this.pair = undefined;
    if (pair) {
      if (pair.child.exitCode === null) {
        const exited = new Promise((r) => pair.child.once("exit", r));
        pair.child.kill();
        await exited;
      }
      rmSync(pair.dir, { recursive: true, force: true });
    }
  }

  private send(type: number, payload: Uint8Array): void {
    this.port?.write(Buffer.from(serialEncode(type, payload)));
  }

  private receive(chunk: Buffer): void {
    const dropped = this.decoder.dropped;
    const frames = this.decoder.push(chunk);
    for (let i = dropped; i < this.decoder.dropped; i++) this.send(SERIAL_TYPE_ERROR, Uint8Array.of(SERIAL_ERR_BAD_FRAME));
    for (const f of frames) {
      switch (f.type) {
        case SERIAL_TYPE_APDU_REQUEST: {
          const r = serveApdu(this.device, f.payload);
          if (r) this.send(SERIAL_TYPE_APDU_RESPONSE, r);
          break;
        }
        case SERIAL_TYPE_PING:
          this.send(SERIAL_TYPE_PONG, f.payload);
          break;
        case SERIAL_TYPE_RESET:
          try {
            this.device.reset();
          } catch {
            // a failed power-on (power cut in reset, revision) leaves the device off: no answer
            break;
          }
          this.send(SERIAL_TYPE_PONG, new Uint8Array(0));
          break;
        default:
          this.send(SERIAL_TYPE_ERROR, Uint8Array.of(SERIAL_ERR_BAD_TYPE));
      }
    }
  }
}
