// Host side of the test-only echo firmware (echo-firmware.ts, the same directory): its
// file and APDU builders, shared by the simulator's tests and benchmarks.
import { fileURLToPath } from "node:url";

export const ECHO_FIRMWARE = fileURLToPath(new URL("../../build/echo-firmware.wasm", import.meta.url));
/** small flash geometry: the echo firmware uses two pages, violations go to the last one */
export const ECHO_GEOMETRY = { pageSize: 256, pageCount: 8 } as const;

// INS values of echo-firmware.ts (CLA 0x80)
export const ECHO_INS = {
  echo: 0x01,
  random: 0x02,
  clock: 0x03,
  confirm: 0x04,
  counterIncrement: 0x05,
  store: 0x06,
  load: 0x07,
  abort: 0x08,
  violate: 0x09,
  geometry: 0x0a,
  counterRead: 0x0b,
} as const;

export function echoApdu(ins: number, p1 = 0, data?: Uint8Array): Uint8Array {
  return data ? Uint8Array.from([0x80, ins, p1, 0, data.length, ...data]) : Uint8Array.of(0x80, ins, p1, 0);
}
export const be32 = (v: number) => Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
export const statusWord = (r: Uint8Array) => (r[r.length - 2] << 8) | r[r.length - 1];
export const readU32 = (r: Uint8Array, at = 0) => new DataView(r.buffer, r.byteOffset).getUint32(at);
