// Host side of the protocol package: codecs for APDUs, status words, deterministic CBOR,
// COSE_Sign1 and the five signed documents, HID and serial framing (SPEC.md §3-§7).
// Protocol numbers themselves live in protocol/portable/*.ts; import those directly.
export * from "./errors.ts";
export * from "./sw.ts";
export * from "./apdu.ts";
export * from "./cbor.ts";
export * from "./cose.ts";
export * from "./formats.ts";
export * from "./crc.ts";
export * from "./serial.ts";
export * from "./hid.ts";
