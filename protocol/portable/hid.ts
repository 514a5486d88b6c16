// portable: compiled by both asc (firmware) and tsc (host). Keep it typed integers only.
// USB HID framing of APDUs (SPEC.md §6), modelled on CTAPHID (FIDO CTAP 2.1 §11.2.4):
// 64-byte reports; an initialization packet  cid(4) | cmd|0x80 (1) | bcnt(2, big-endian) | data(57)
// and continuation packets                    cid(4) | seq(1, 0..127) | data(59).
// Command and error values are CTAPHID's, so standard tools can parse our traces.

export const HID_REPORT_SIZE: u32 = 64; // bytes per HID report (CTAP 2.1 §11.2.4)
export const HID_INIT_HEADER: u32 = 7; // cid(4) + cmd(1) + bcnt(2)
export const HID_CONT_HEADER: u32 = 5; // cid(4) + seq(1)
export const HID_INIT_DATA: u32 = 57; // HID_REPORT_SIZE - HID_INIT_HEADER
export const HID_CONT_DATA: u32 = 59; // HID_REPORT_SIZE - HID_CONT_HEADER
export const HID_MAX_SEQ: u8 = 127; // continuation seq runs 0..127 (bit 7 marks init packets)
export const HID_MAX_MESSAGE: u32 = 7609; // 57 + 128 * 59: the largest message one transaction can carry
export const HID_TYPE_INIT: u8 = 0x80; // bit 7 of byte 4: set = initialization packet

export const HID_CID_BROADCAST: u32 = 0xffffffff; // CTAP 2.1 §11.2.4: used only by INIT to get a channel
export const HID_CID_RESERVED: u32 = 0; // never allocated

// --- commands (value without the HID_TYPE_INIT bit; CTAP 2.1 §11.2.9) ---
export const HID_CMD_PING: u8 = 0x01; // echo the payload
export const HID_CMD_MSG: u8 = 0x03; // payload = one command APDU; answer = one response APDU (data || SW)
export const HID_CMD_INIT: u8 = 0x06; // allocate a channel: request nonce(8), answer HID_INIT_RESP_LEN bytes
export const HID_CMD_CANCEL: u8 = 0x11; // abort the pending request on this channel (no answer)
export const HID_CMD_KEEPALIVE: u8 = 0x3b; // device is still working (1 byte status)
export const HID_CMD_ERROR: u8 = 0x3f; // payload = one HID_ERR_* byte

// INIT answer: nonce(8) | new cid(4) | protocol version(1) | major(1) | minor(1) | build(1) | capabilities(1)
export const HID_INIT_NONCE_LEN: u32 = 8;
export const HID_INIT_RESP_LEN: u32 = 17;
export const HID_PROTOCOL_VERSION: u8 = 2; // CTAPHID protocol version
export const HID_CAPABILITY_NONE: u8 = 0; // no WINK, no CBOR, MSG supported (CTAP 2.1 §11.2.9.1.3)

// --- error codes, payload of HID_CMD_ERROR (CTAP 2.1 §11.2.9.1.6) ---
export const HID_ERR_INVALID_CMD: u8 = 0x01; // the command is not known
export const HID_ERR_INVALID_PAR: u8 = 0x02; // a parameter (e.g. INIT nonce length) is wrong
export const HID_ERR_INVALID_LEN: u8 = 0x03; // bcnt larger than HID_MAX_MESSAGE, or a short report
export const HID_ERR_INVALID_SEQ: u8 = 0x04; // continuation seq out of order
export const HID_ERR_MSG_TIMEOUT: u8 = 0x05; // a message was not completed within HID_MSG_TIMEOUT_MS
export const HID_ERR_CHANNEL_BUSY: u8 = 0x06; // another channel's transaction is in progress
export const HID_ERR_INVALID_CHANNEL: u8 = 0x0b; // cid 0, or broadcast with a command other than INIT
export const HID_ERR_OTHER: u8 = 0x7f;

export const HID_MSG_TIMEOUT_MS: u32 = 3000; // time allowed between the init packet and the last continuation
