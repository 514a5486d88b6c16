// portable: compiled by both asc (firmware) and tsc (host). Keep it typed integers only.
// APDU command numbers of the wallet applet (SPEC.md §3): CLA bytes, INS codes, P1/P2
// values, the AID, and the fixed layouts of the SELECT and GET STATUS responses.
// ISO/IEC 7816-4:2020 §5 (command-response pairs) for the interindustry commands,
// GlobalPlatform Card Spec v2.3 §11 and Amendment D for INITIALIZE UPDATE,
// EXTERNAL AUTHENTICATE and PUT KEY; everything with CLA 80/84 is proprietary.
// Every INS is unique across the whole applet (not only per CLA), so a command is known
// by its INS alone; the firmware then checks the CLA. Append-only: never renumber.

// --- AID (ISO/IEC 7816-5: first nibble F = proprietary, unregistered) ---
// AID = AID_HI (4 bytes, big-endian) || AID_LO (4 bytes, big-endian): F0 57 41 4C 4C 45 54 01
export const AID_LEN: u8 = 8;
export const AID_HI: u32 = 0xf057414c; // F0 'W' 'A' 'L'
export const AID_LO: u32 = 0x4c455401; // 'L' 'E' 'T' version 01

// --- CLA (ISO/IEC 7816-4 §5.4.1) ---
export const CLA_ISO: u8 = 0x00; // interindustry, no secure messaging
export const CLA_PROPRIETARY: u8 = 0x80; // proprietary (GP and wallet commands)
export const CLA_SECURE_MESSAGING: u8 = 0x04; // b3: SM with authenticated header (GP SCP03 C-MAC)
export const CLA_CHAINING: u8 = 0x10; // b5: command chaining, more blocks follow (§5.3.3)
export const CLA_GP_SECURE: u8 = 0x84; // CLA_PROPRIETARY | CLA_SECURE_MESSAGING

// --- interindustry commands (CLA 00, or 04 inside the secure channel) ---
export const INS_SELECT: u8 = 0xa4; // ISO 7816-4 §11.2.2
export const INS_GET_RESPONSE: u8 = 0xc0; // ISO 7816-4 §11.7.1
export const INS_GET_CHALLENGE: u8 = 0x84; // ISO 7816-4 §11.5.3
export const INS_VERIFY: u8 = 0x20; // ISO 7816-4 §11.5.6
export const INS_CHANGE_REFERENCE_DATA: u8 = 0x24; // ISO 7816-4 §11.5.7
export const INS_RESET_RETRY_COUNTER: u8 = 0x2c; // ISO 7816-4 §11.5.10

// --- GlobalPlatform secure channel and key management (CLA 80 / 84) ---
export const INS_INITIALIZE_UPDATE: u8 = 0x50; // GP Amd D §7.1.1, CLA 80
export const INS_EXTERNAL_AUTHENTICATE: u8 = 0x82; // GP Amd D §7.1.2, CLA 84
export const INS_PUT_KEY: u8 = 0xd8; // GP Card Spec §11.8, CLA 84

// --- personalization (CLA 84: inside the secure channel only) ---
export const INS_SET_IDENTITY: u8 = 0x10; // suite, form factor, currency, token
export const INS_SET_LIMITS: u8 = 0x12; // the six LIMIT_* values
export const INS_PUT_ISSUER_KEY: u8 = 0x14; // trusted issuer public key in slot P1
export const INS_PUT_CERTIFICATE: u8 = 0x16; // issuer-signed device certificate (COSE_Sign1)
export const INS_SET_PIN: u8 = 0x18; // holder PIN, PIN_TRIES tries
export const INS_SET_PUK: u8 = 0x1a; // unblocking key, PUK_TRIES tries
export const INS_FINALIZE: u8 = 0x1c; // PERSONALIZING -> ACTIVE
export const INS_GENERATE_KEY: u8 = 0x46; // device key pair, generated on the device
export const INS_GET_PUBLIC_KEY: u8 = 0x48; // 04 || x || y (CLA 80 or 84)

// --- wallet (CLA 80, or 84 inside the secure channel) ---
export const INS_GET_STATUS: u8 = 0x30;
export const INS_GET_CERTIFICATE: u8 = 0x32;
export const INS_LOAD: u8 = 0x34;
export const INS_PAY: u8 = 0x36;
export const INS_RECEIVE: u8 = 0x38;
export const INS_READ_LOG: u8 = 0x3a;
export const INS_SYNC: u8 = 0x3c;

// --- administration (CLA 84: inside the secure channel only) ---
export const INS_LOCK: u8 = 0x5a; // ACTIVE -> LOCKED
export const INS_UNLOCK: u8 = 0x5c; // LOCKED -> ACTIVE
export const INS_TERMINATE: u8 = 0x5e; // any state but TERMINATED -> TERMINATED (irreversible)

// --- P1/P2 values ---
export const P1_SELECT_BY_AID: u8 = 0x04; // ISO 7816-4 Table 63: select by DF name
export const P2_SELECT_FIRST: u8 = 0x00; // first or only occurrence, return FCI-less data
export const P2_PIN: u8 = 0x81; // VERIFY / CHANGE / RESET RETRY reference: the holder PIN (ISO 7816-4 Table 65, specific)
export const P2_PUK: u8 = 0x82; // VERIFY reference: the PUK (only to read its tries: empty data)
export const P1_CHANGE_REFERENCE_DATA_OLD_NEW: u8 = 0x00; // data = old PIN block || new PIN block
export const P1_RESET_RETRY_COUNTER_NEW_PIN: u8 = 0x00; // data = PUK block || new PIN block
export const P1_RESET_RETRY_COUNTER_ONLY: u8 = 0x01; // data = PUK block (tries restored, PIN kept)
export const P1_PAY_POS: u8 = 0x00; // voucher to a merchant POS (VOUCHER_KIND_POS)
export const P1_PAY_DEVICE: u8 = 0x01; // voucher to another device (VOUCHER_KIND_D2D)
export const P2_PUT_KEY_MULTIPLE: u8 = 0x81; // GP §11.8.2.2: key id 1, several keys (ENC, MAC, DEK)
export const P1_PUT_ISSUER_KEY_SLOT_0: u8 = 0x00;
export const P1_PUT_ISSUER_KEY_SLOT_1: u8 = 0x01;
export const P2_NONE: u8 = 0x00;

// --- data layouts ---
export const PIN_BLOCK_LEN: u8 = 8; // ASCII digits '0'..'9', right-padded with 0xFF
export const PIN_MIN_DIGITS: u8 = 4;
export const PIN_MAX_DIGITS: u8 = 8;
export const PUK_DIGITS: u8 = 8; // a PUK uses the whole block
export const PIN_TRIES: u8 = 3; // SPEC §3.3 VERIFY: 3 PIN tries
export const PUK_TRIES: u8 = 5; // SPEC §3.3 VERIFY with P2_PUK: 5 PUK tries
export const CHALLENGE_LEN: u8 = 16; // GET CHALLENGE response, = DOC_CHALLENGE_LEN
export const GP_KEY_TYPE_AES: u8 = 0x88; // GP Card Spec Table 11-16 (also used for SM4 keys)
export const GP_KEY_LEN: u8 = 16; // AES-128 / SM4 key bytes
export const GP_KCV_LEN: u8 = 3; // key check value: first 3 bytes of E(key, 01 x 16) (GP Amd D §7.5)
export const SCP_DEFAULT_KVN: u8 = 0xff; // key version of the GP default (test) keys 40..4F

// SELECT response (SELECT_RESP_LEN bytes): revision u32 | lifecycle u8 | suite u8 |
// form factor u8 | device id [8]
export const SELECT_OFF_REVISION: u8 = 0;
export const SELECT_OFF_LIFECYCLE: u8 = 4;
export const SELECT_OFF_SUITE: u8 = 5;
export const SELECT_OFF_FORM_FACTOR: u8 = 6;
export const SELECT_OFF_DEVICE_ID: u8 = 7;
export const SELECT_RESP_LEN: u8 = 15;

// GET STATUS response (STATUS_RESP_LEN bytes, all integers big-endian)
export const STATUS_OFF_LIFECYCLE: u8 = 0; // u8 LC_*
export const STATUS_OFF_SUITE: u8 = 1; // u8 SUITE_* (0 = not set)
export const STATUS_OFF_FORM_FACTOR: u8 = 2; // u8 FORM_* (0 = not set)
export const STATUS_OFF_FLAGS: u8 = 3; // u8 STATUS_FLAG_*
export const STATUS_OFF_PIN_TRIES: u8 = 4; // u8 remaining PIN tries
export const STATUS_OFF_PUK_TRIES: u8 = 5; // u8 remaining PUK tries
export const STATUS_OFF_DEVICE_ID: u8 = 6; // [8]
export const STATUS_OFF_BALANCE: u8 = 14; // u32
export const STATUS_OFF_CAP: u8 = 18; // u32
export const STATUS_OFF_COUNTER: u8 = 22; // u32 last voucher counter (0 = none yet)
export const STATUS_OFF_REMAINING_PAYMENTS: u8 = 26; // u32 payments left before a sync is needed
export const STATUS_OFF_REMAINING_AMOUNT: u8 = 30; // u32 amount left before a sync is needed
export const STATUS_OFF_LATEST_TIME: u8 = 34; // u32 latest time seen (Unix s)
export const STATUS_OFF_SYNC_DEADLINE: u8 = 38; // u32 Unix s after which PAY is refused (0 = none)
export const STATUS_OFF_LOG_COUNT: u8 = 42; // u16 unsynced log entries
export const STATUS_OFF_LOG_CAPACITY: u8 = 44; // u16
export const STATUS_OFF_LOAD_SEQ: u8 = 46; // u32 last accepted load sequence
export const STATUS_OFF_REVOCATION_VERSION: u8 = 50; // u32 from the last sync acknowledgement
export const STATUS_OFF_CURRENCY: u8 = 54; // u16 ISO 4217 numeric
export const STATUS_OFF_LAST_REASON: u8 = 56; // u8 REASON_* of the last refused command (limits.ts)
export const STATUS_OFF_STORE_STATE: u8 = 57; // u8 0 = ok, else the store's mount error
export const STATUS_OFF_LAST_ACK_TIME: u8 = 58; // u32 time of the last applied sync acknowledgement (0 = none): which ack the device applied
export const STATUS_RESP_LEN: u8 = 62;

export const STATUS_FLAG_PIN_VERIFIED: u8 = 0x01; // PIN verified in this session
export const STATUS_FLAG_PIN_BLOCKED: u8 = 0x02;
export const STATUS_FLAG_PUK_BLOCKED: u8 = 0x04;
export const STATUS_FLAG_CHANNEL_OPEN: u8 = 0x08; // SCP03 session authenticated
export const STATUS_FLAG_HAS_KEY: u8 = 0x10; // device key pair generated
export const STATUS_FLAG_HAS_CERT: u8 = 0x20; // certificate stored
export const STATUS_FLAG_CORRUPT: u8 = 0x40; // stored state failed its integrity check: value commands refused
export const STATUS_FLAG_LOG_FULL: u8 = 0x80; // PAY refused until SYNC

// I/O sizes
export const APDU_MAX_DATA: u16 = 1024; // largest command data field after chaining / unwrapping
export const APDU_MAX_RESPONSE: u16 = 1024; // largest response data (served with 61xx / extended Le)
// SET IDENTITY data (IDENTITY_DATA_LEN bytes): suite u8 | form factor u8 | currency u16 | token [16]
export const IDENTITY_DATA_LEN: u8 = 20;
// PAY data (PAY_DATA_LEN bytes): amount u32 | currency u16 | payee id [8] | challenge [16] | time u32
export const PAY_DATA_LEN: u8 = 34;
// hw `confirm` (SPEC §2) kinds: what the wearable asks its holder to approve
export const CONFIRM_KIND_PAY: u32 = 1; // a payment of `amount` above the no-CVM limit
export const CONFIRM_TIMEOUT_MS: u32 = 30000;
