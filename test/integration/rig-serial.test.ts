// The real serial path (DESIGN.md §7: a real pty; test/rig/README.md): a socat pty pair carrying serial frames
// (SPEC.md §7, protocol/src/serial.ts: COBS, length, CRC-16) both ways, through
// @serialport/stream with the native @serialport/bindings-cpp, as the host tools and
// the simulator's serial transport will use them.
import { createRequire } from "node:module";
import { afterEach, describe, expect, it } from "vitest";
import type { SerialPortStream as SerialPortStreamT } from "@serialport/stream";
import type { autoDetect as autoDetectT } from "@serialport/bindings-cpp";
import { SERIAL_TYPE_APDU_REQUEST, SERIAL_TYPE_APDU_RESPONSE } from "../../protocol/portable/serial.ts";
import { SerialDecoder, serialEncode, type SerialFrame } from "../../protocol/src/serial.ts";
import { createPtyPair, type PtyPair } from "../support/pty.ts";

const require = createRequire(import.meta.url);
const { SerialPortStream } = require("@serialport/stream") as { SerialPortStream: typeof SerialPortStreamT };
const { autoDetect } = require("@serialport/bindings-cpp") as { autoDetect: typeof autoDetectT };
type Port = InstanceType<typeof SerialPortStreamT>;

const binding = autoDetect();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * Opens a pty link path as a serial port and flushes it. bindings-cpp's open already
 * does tcflush(TCIOFLUSH); the explicit flush keeps that guarantee if the binding changes
 * (stale bytes from an earlier writer would otherwise be read as a frame, TRAPS.md).
 */
async function open(path: string): Promise<Port> {
  const port = new SerialPortStream({ binding, path, baudRate: 115200, autoOpen: false });
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
  await new Promise<void>((res, rej) => port.flush((e) => (e ? rej(e) : res())));
  cleanups.push(() => new Promise<void>((res) => (port.isOpen ? port.close(() => res()) : res())));
  return port;
}

async function pair(): Promise<PtyPair> {
  const p = await createPtyPair();
  cleanups.push(p.close);
  return p;
}

/** Collects exactly n bytes from a port. */
function readBytes(port: Port, n: number, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const t = setTimeout(() => done(new Error(`serial: got ${got} of ${n} bytes`)), timeoutMs);
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) done();
    };
    const done = (e?: Error) => {
      clearTimeout(t);
      port.off("data", onData);
      if (e) reject(e);
      else resolve(Buffer.concat(chunks));
    };
    port.on("data", onData);
  });
}

/** Collects n decoded frames from a port. */
function readFrames(port: Port, dec: SerialDecoder, n: number, timeoutMs = 10_000): Promise<SerialFrame[]> {
  return new Promise((resolve, reject) => {
    const frames: SerialFrame[] = [];
    const t = setTimeout(() => done(new Error(`serial: got ${frames.length} of ${n} frames (dropped ${dec.dropped})`)), timeoutMs);
    const onData = (c: Buffer) => {
      frames.push(...dec.push(c));
      if (frames.length >= n) done();
    };
    const done = (e?: Error) => {
      clearTimeout(t);
      port.off("data", onData);
      if (e) reject(e);
      else resolve(frames);
    };
    port.on("data", onData);
  });
}

const write = (port: Port, data: Uint8Array) => new Promise<void>((res, rej) => port.write(Buffer.from(data), (e) => (e ? rej(e) : port.drain(() => res()))));

describe("rig: socat pty pair with @serialport/stream", () => {
  it("carries every byte value both ways", async () => {
    const p = await pair();
    const [a, b] = [await open(p.a), await open(p.b)];
    const all = Uint8Array.from({ length: 512 }, (_, k) => k & 0xff);
    const atB = readBytes(b, all.length);
    await write(a, all);
    expect([...(await atB)]).toEqual([...all]);
    const back = all.slice().reverse();
    const atA = readBytes(a, back.length);
    await write(b, back);
    expect([...(await atA)]).toEqual([...back]);
  });

  it("carries APDU frames (SPEC §7) host → device and responses back, resynchronising after line noise", async () => {
    const p = await pair();
    const [host, device] = [await open(p.a), await open(p.b)];
    const apdus = [
      Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x02, 0x00, 0x00), // zero bytes inside: COBS must hide them
      Uint8Array.from({ length: 3000 }, (_, k) => (k * 7) & 0xff), // longer than the 254-byte COBS block
      Uint8Array.of(0x80, 0x50, 0x00, 0x00),
    ];
    // device side: answer each request with its payload reversed + 9000
    const devDec = new SerialDecoder();
    const requests = readFrames(device, devDec, apdus.length);
    // line noise before the first frame: the decoder drops it at the next 0x00
    await write(host, Uint8Array.of(0x13, 0x37, 0xff, 0x00));
    for (const apdu of apdus) await write(host, serialEncode(SERIAL_TYPE_APDU_REQUEST, apdu));
    const got = await requests;
    expect(got.map((f) => f.type)).toEqual(apdus.map(() => SERIAL_TYPE_APDU_REQUEST));
    expect(got.map((f) => [...f.payload])).toEqual(apdus.map((x) => [...x]));
    expect(devDec.dropped).toBe(1);

    const hostDec = new SerialDecoder();
    const responses = readFrames(host, hostDec, got.length);
    for (const f of got) await write(device, serialEncode(SERIAL_TYPE_APDU_RESPONSE, Uint8Array.from([...f.payload].reverse().concat([0x90, 0x00]))));
    const res = await responses;
    expect(res.map((f) => f.type)).toEqual(apdus.map(() => SERIAL_TYPE_APDU_RESPONSE));
    expect(res.map((f) => [...f.payload])).toEqual(apdus.map((x) => [...x].reverse().concat([0x90, 0x00])));
    expect(hostDec.dropped).toBe(0);
  });
});
