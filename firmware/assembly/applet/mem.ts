// Static RAM of the wallet applet and small byte helpers (AssemblyScript only).
// Everything lives in fixed `memory.data` blocks reserved at compile time: the firmware
// allocates nothing after reset (--runtime stub never frees; TRAPS.md), so the peak memory
// is the sum of these blocks plus the crypto's own tables and is known at build time.
import { APDU_MAX_DATA, APDU_MAX_RESPONSE } from "../../../protocol/portable/apdu";
import { NVM_MAX_VALUE } from "../../../protocol/portable/nvm";

// I/O buffer shared with the host (SPEC §2 io_buffer / io_capacity): a command APDU comes
// in, the response goes out. Room for an extended APDU carrying APDU_MAX_DATA bytes plus
// secure-messaging padding and MAC, or a response piece of up to APDU_MAX_RESPONSE + SW.
export const IO_CAPACITY: i32 = <i32>APDU_MAX_DATA + 64;
export const IO_BUF: usize = memory.data(IO_CAPACITY);

// Command data after chaining and unwrapping (handlers read it here).
export const CMD_BUF: usize = memory.data(<i32>APDU_MAX_DATA + 32);
// Whole response data of the last command (handlers write it here; served in pieces).
export const RESP_CAP: i32 = <i32>APDU_MAX_RESPONSE + 32;
export const RESP_BUF: usize = memory.data(RESP_CAP);

// Scratch for building documents: a payload, a Sig_structure, a log entry.
export const DOC_CAP: i32 = NVM_MAX_VALUE;
export const PAYLOAD_BUF: usize = memory.data(DOC_CAP);
export const TBS_BUF: usize = memory.data(DOC_CAP + 64);
export const ENTRY_BUF: usize = memory.data(DOC_CAP + 16);
export const TMP: usize = memory.data(256); // small temporaries (hashes, seeds, keys)

// --- byte helpers (big-endian, as every APDU and CBOR integer is) ---
export function rd16(p: usize): u32 {
  return (<u32>load<u8>(p) << 8) | <u32>load<u8>(p + 1);
}
export function rd32(p: usize): u32 {
  return bswap<u32>(load<u32>(p));
}
export function wr16(p: usize, v: u32): void {
  store<u8>(p, <u8>(v >> 8));
  store<u8>(p + 1, <u8>v);
}
export function wr32(p: usize, v: u32): void {
  store<u32>(p, bswap<u32>(v));
}
/** Byte equality without early exit (PINs, MACs, challenges). */
export function ctEqual(a: usize, b: usize, n: i32): bool {
  let d: u32 = 0;
  for (let i = 0; i < n; i++) d |= <u32>(load<u8>(a + <usize>i) ^ load<u8>(b + <usize>i));
  return d == 0;
}
export function max32(a: u32, b: u32): u32 {
  return a > b ? a : b;
}
