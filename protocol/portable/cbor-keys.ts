// portable: compiled by both asc (firmware) and tsc (host). Keep it typed integers only.
// CBOR map keys, document type values and field sizes of the five signed documents
// (SPEC.md §5). Each document is a COSE_Sign1 (RFC 9052 §4.2, see cose.ts) whose payload
// is a deterministically encoded CBOR map (RFC 8949 §4.2.1) with small unsigned integer
// keys 0..23, so every key encodes as one byte and the canonical key order is plain
// ascending order. Every key listed is REQUIRED unless its comment says optional; no other
// key is allowed. Values are only: uint (< 2^32), bstr (fixed or bounded length), array
// of bstr, or a map of uint -> uint (LIMITS_KEY_*). Key 0 of every document is its type
// (DOC_TYPE_*), so that no document can be taken for another.
// Append-only: never renumber; retire a key by prefixing its name with `_`.

// --- document types: value of key 0 in every payload map ---
export const DOC_TYPE_CERT: u8 = 1; // device certificate (issuer-signed)
export const DOC_TYPE_LOAD: u8 = 2; // load authorization (issuer-signed)
export const DOC_TYPE_VOUCHER: u8 = 3; // payment voucher (device-signed)
export const DOC_TYPE_RECEIPT: u8 = 4; // receipt for a load or a receive (device-signed)
export const DOC_TYPE_SYNCACK: u8 = 5; // sync acknowledgement (issuer-signed)

// --- field sizes (bytes), shared by all documents ---
export const DOC_DEVICE_ID_LEN: u32 = 8; // device id (also the payee id of a device)
export const DOC_TOKEN_LEN: u32 = 16; // account surrogate; the account number never leaves the bank
export const DOC_PUBLIC_KEY_LEN: u32 = 65; // SEC1 uncompressed point 04 || x || y (P-256 and SM2)
export const DOC_ISSUER_KEY_ID_MIN: u32 = 4; // issuer key id, bounded length
export const DOC_ISSUER_KEY_ID_MAX: u32 = 8;
export const DOC_PAYEE_ID_LEN: u32 = 8; // merchant id or payee device id
export const DOC_CHALLENGE_LEN: u32 = 16; // POS / payee nonce bound into the voucher
export const DOC_HASH_LEN: u32 = 32; // SHA-256 or SM3 (the device's suite) of COSE bytes
export const DOC_CERT_REF_LEN: u32 = 8; // first 8 bytes of the hash of the certificate's COSE bytes
export const DOC_BLOCK_LIST_MAX: u32 = 16; // device ids per sync acknowledgement
// Largest COSE_Sign1 of any document with every field at its maximum (SPEC §5.9: sync ack 393
// with a trusted-key update, certificate 257, voucher 205, receipt 167, load 134 bytes);
// firmware buffers can be sized by it.
export const DOC_MAX_COSE_LEN: u32 = 400;

// --- form factors (CERT_KEY_FORM_FACTOR) ---
export const FORM_CARD: u8 = 1; // contactless card: no clock, no button
export const FORM_BAND: u8 = 2; // wrist band: button
export const FORM_WATCH: u8 = 3; // watch: clock, button, PIN pad

// --- limits map (CERT_KEY_LIMITS, SYNCACK_KEY_LIMITS): uint -> uint, all six keys required ---
export const LIMITS_KEY_CAP: u8 = 0; // maximum balance (minor units)
export const LIMITS_KEY_MAX_PAYMENT: u8 = 1; // maximum amount of one voucher
export const LIMITS_KEY_NO_CVM: u8 = 2; // amounts above this need holder verification (PIN / button)
export const LIMITS_KEY_MAX_COUNT_SINCE_SYNC: u8 = 3; // maximum number of vouchers since the last sync
export const LIMITS_KEY_MAX_AMOUNT_SINCE_SYNC: u8 = 4; // maximum total paid since the last sync
export const LIMITS_KEY_SYNC_INTERVAL: u8 = 5; // seconds after the last sync before paying is refused

// --- device certificate payload (issuer-signed; kid = issuer key id) ---
export const CERT_KEY_TYPE: u8 = 0; // uint = DOC_TYPE_CERT
export const CERT_KEY_DEVICE_ID: u8 = 1; // bstr DOC_DEVICE_ID_LEN
export const CERT_KEY_TOKEN: u8 = 2; // bstr DOC_TOKEN_LEN
export const CERT_KEY_SUITE: u8 = 3; // uint SUITE_* (suite.ts)
export const CERT_KEY_PUBLIC_KEY: u8 = 4; // bstr DOC_PUBLIC_KEY_LEN
export const CERT_KEY_FORM_FACTOR: u8 = 5; // uint FORM_*
export const CERT_KEY_CURRENCY: u8 = 6; // uint ISO 4217 numeric code the limits and balance are in
export const CERT_KEY_LIMITS: u8 = 7; // map LIMITS_KEY_* -> uint
export const CERT_KEY_NOT_BEFORE: u8 = 8; // uint Unix seconds
export const CERT_KEY_NOT_AFTER: u8 = 9; // uint Unix seconds, >= not-before
export const CERT_KEY_ISSUER_KEY_ID: u8 = 10; // bstr DOC_ISSUER_KEY_ID_MIN..MAX

// --- load authorization payload (issuer-signed; kid = issuer key id) ---
export const LOAD_KEY_TYPE: u8 = 0; // uint = DOC_TYPE_LOAD
export const LOAD_KEY_DEVICE_ID: u8 = 1; // bstr DOC_DEVICE_ID_LEN
export const LOAD_KEY_SEQ: u8 = 2; // uint load sequence, strictly increasing per device
export const LOAD_KEY_AMOUNT: u8 = 3; // uint minor units, > 0
export const LOAD_KEY_CURRENCY: u8 = 4; // uint ISO 4217 numeric
export const LOAD_KEY_EXPIRY: u8 = 5; // uint Unix seconds
export const LOAD_KEY_ISSUER_KEY_ID: u8 = 6; // bstr DOC_ISSUER_KEY_ID_MIN..MAX

// --- payment voucher payload (device-signed; kid = device id) ---
export const VOUCHER_KEY_TYPE: u8 = 0; // uint = DOC_TYPE_VOUCHER
export const VOUCHER_KEY_DEVICE_ID: u8 = 1; // bstr DOC_DEVICE_ID_LEN (payer)
export const VOUCHER_KEY_COUNTER: u8 = 2; // uint, strictly increasing per device
export const VOUCHER_KEY_AMOUNT: u8 = 3; // uint minor units, > 0
export const VOUCHER_KEY_CURRENCY: u8 = 4; // uint ISO 4217 numeric
export const VOUCHER_KEY_PAYEE_ID: u8 = 5; // bstr DOC_PAYEE_ID_LEN
export const VOUCHER_KEY_CHALLENGE: u8 = 6; // bstr DOC_CHALLENGE_LEN
export const VOUCHER_KEY_TIME: u8 = 7; // uint Unix seconds as the device saw it (POS time)
export const VOUCHER_KEY_PREV: u8 = 8; // bstr DOC_HASH_LEN: hash of the previous voucher's COSE bytes, zeros for the first
export const VOUCHER_KEY_BALANCE_AFTER: u8 = 9; // uint balance after this payment
export const VOUCHER_KEY_CERT_REF: u8 = 10; // bstr DOC_CERT_REF_LEN
export const VOUCHER_KEY_KIND: u8 = 11; // uint VOUCHER_KIND_*
export const VOUCHER_KIND_POS: u8 = 0; // payment to a merchant's POS
export const VOUCHER_KIND_D2D: u8 = 1; // device-to-device payment

// --- receipt payload (device-signed; kid = device id) ---
export const RECEIPT_KEY_TYPE: u8 = 0; // uint = DOC_TYPE_RECEIPT
export const RECEIPT_KEY_DEVICE_ID: u8 = 1; // bstr DOC_DEVICE_ID_LEN (the device whose balance grew)
export const RECEIPT_KEY_KIND: u8 = 2; // uint RECEIPT_KIND_*
export const RECEIPT_KEY_REF: u8 = 3; // LOAD: uint load seq; RECEIVE: bstr DOC_HASH_LEN hash of the voucher's COSE bytes
export const RECEIPT_KEY_AMOUNT: u8 = 4; // uint minor units
export const RECEIPT_KEY_CURRENCY: u8 = 5; // uint ISO 4217 numeric
export const RECEIPT_KEY_BALANCE_AFTER: u8 = 6; // uint
export const RECEIPT_KEY_COUNTER: u8 = 7; // uint device counter at the time of the receipt
export const RECEIPT_KEY_TIME: u8 = 8; // uint Unix seconds as the device saw it
export const RECEIPT_KIND_LOAD: u8 = 0; // value came from a load authorization
export const RECEIPT_KIND_RECEIVE: u8 = 1; // value came from another device's voucher

// --- sync acknowledgement payload (issuer-signed; kid = issuer key id) ---
export const SYNCACK_KEY_TYPE: u8 = 0; // uint = DOC_TYPE_SYNCACK
export const SYNCACK_KEY_DEVICE_ID: u8 = 1; // bstr DOC_DEVICE_ID_LEN
export const SYNCACK_KEY_UP_TO_COUNTER: u8 = 2; // uint: vouchers up to this counter are accounted for
export const SYNCACK_KEY_TIME: u8 = 3; // uint Unix seconds (issuer time)
export const SYNCACK_KEY_REVOCATION_VERSION: u8 = 4; // uint revocation-list version
export const SYNCACK_KEY_BLOCK_LIST: u8 = 5; // array of bstr DOC_DEVICE_ID_LEN, at most DOC_BLOCK_LIST_MAX
export const SYNCACK_KEY_LIMITS: u8 = 6; // OPTIONAL map LIMITS_KEY_* -> uint (new limits)
export const SYNCACK_KEY_ISSUER_KEY_ID: u8 = 7; // bstr DOC_ISSUER_KEY_ID_MIN..MAX
// OPTIONAL trusted-key update (SPEC §5.8): both present or both absent. The device
// installs the new issuer key, in the same transaction as the rest of the ack, into the slot
// holding the same kid, else an empty slot, else the slot NOT holding the ack's signing key.
export const SYNCACK_KEY_NEW_KID: u8 = 8; // bstr DOC_ISSUER_KEY_ID_MIN..MAX: id of the key to trust
export const SYNCACK_KEY_NEW_KEY: u8 = 9; // bstr DOC_PUBLIC_KEY_LEN: its public key, a point of the device's suite
