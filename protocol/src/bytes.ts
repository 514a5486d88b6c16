// Byte helpers of the host side (every part but the firmware, which has its own
// AssemblyScript): big-endian integers as the APDU layouts of SPEC §3.3 write them,
// concatenation and hex. One set, so no part writes its own.

/** u32 big-endian (the value taken modulo 2^32). */
export const u32 = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
};

/** u16 big-endian (the low 16 bits of the value). */
export const u16 = (v: number): Uint8Array => Uint8Array.of((v >> 8) & 0xff, v & 0xff);

/** The parts one after another, in a new array. */
export const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** Lower-case hex, no separators. */
export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** The bytes of a hex string (Buffer's reading: it stops at the first non-hex pair). */
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
