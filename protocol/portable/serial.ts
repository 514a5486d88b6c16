// portable: compiled by both asc (firmware) and tsc (host). Keep it typed integers only.
// Serial (UART / pty) framing of APDUs (SPEC.md §7). A frame on the wire is
//   COBS( type(1) | len(2, big-endian) | payload(len) | crc(2, big-endian) ) 0x00
// COBS: Cheshire & Baker, "Consistent Overhead Byte Stuffing", IEEE/ACM ToN 7(2), 1999.
// crc = CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0) over
// type | len | payload; check value of "123456789" is 0x29B1.

export const SERIAL_DELIMITER: u8 = 0x00; // ends every frame; never appears inside a COBS block
export const SERIAL_HEADER_LEN: u32 = 3; // type(1) + len(2)
export const SERIAL_CRC_LEN: u32 = 2;
export const SERIAL_MAX_PAYLOAD: u32 = 65535; // len is 16 bits
export const SERIAL_CRC_INIT: u16 = 0xffff; // CRC-16/CCITT-FALSE parameters
export const SERIAL_CRC_POLY: u16 = 0x1021;

// --- frame types ---
export const SERIAL_TYPE_APDU_REQUEST: u8 = 0x01; // host -> device: one command APDU
export const SERIAL_TYPE_APDU_RESPONSE: u8 = 0x02; // device -> host: one response APDU (data || SW)
export const SERIAL_TYPE_PING: u8 = 0x03; // host -> device: any payload, echoed by PONG
export const SERIAL_TYPE_PONG: u8 = 0x04; // device -> host
export const SERIAL_TYPE_RESET: u8 = 0x05; // host -> device: power cycle (answered by a PONG with the empty payload)
export const SERIAL_TYPE_ERROR: u8 = 0x7f; // either way: payload = one SERIAL_ERR_* byte

// --- error codes, payload of SERIAL_TYPE_ERROR ---
export const SERIAL_ERR_BAD_FRAME: u8 = 0x01; // CRC, COBS or length check failed (frame dropped)
export const SERIAL_ERR_BAD_TYPE: u8 = 0x02; // unknown frame type
export const SERIAL_ERR_TOO_LONG: u8 = 0x03; // payload larger than the device accepts
export const SERIAL_ERR_BUSY: u8 = 0x04; // a request is still being processed
