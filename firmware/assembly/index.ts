// firmware.wasm entry point: the wallet applet. Exports are re-exported from the
// parts that own them (hardware interface, APDU dispatch, crypto verifier).
// SPEC §2: reset, io_buffer, io_capacity, apdu, protocol_revision (+ the crypto verifier).
import { PROTOCOL_REVISION } from "../../protocol/portable/revision";
import { apduEntry, appletReset, ioBuffer, ioCapacity } from "./applet/dispatch";

export function protocol_revision(): u32 {
  return PROTOCOL_REVISION;
}
/** Power-on: rebuild every bit of state from flash; returns 0, or the store error. */
export function reset(): u32 {
  return appletReset();
}
export function io_buffer(): usize {
  return ioBuffer();
}
export function io_capacity(): u32 {
  return ioCapacity();
}
/** Command APDU of `len` bytes in the I/O buffer in; data || SW1 || SW2 out (its length). */
export function apdu(len: u32): u32 {
  return apduEntry(len);
}
export * from "./crypto/verifier";
