// portable: compiled by both asc (firmware) and tsc (host). Keep it typed integers only.
// Per-device limits (DESIGN.md §4, SPEC.md §3) and the refusal reasons the applet reports
// in GET STATUS (STATUS_OFF_LAST_REASON) next to the ISO status word of a refused command.
// The LIMIT_* ids are the order of the u32 values in SET LIMITS and equal the keys of the
// CBOR limits map (cbor-keys.ts LIMITS_KEY_*). Append-only: never renumber.

export const LIMIT_CAP: u8 = 0; // maximum balance
export const LIMIT_MAX_PAYMENT: u8 = 1; // maximum amount of one voucher
export const LIMIT_NO_CVM: u8 = 2; // amounts above need holder verification (PIN / button)
export const LIMIT_MAX_COUNT_SINCE_SYNC: u8 = 3; // vouchers allowed between two syncs
export const LIMIT_MAX_AMOUNT_SINCE_SYNC: u8 = 4; // total paid allowed between two syncs
export const LIMIT_SYNC_INTERVAL: u8 = 5; // seconds after the last sync before PAY is refused (0 = no deadline)
export const LIMIT_COUNT: u8 = 6; // SET LIMITS data = LIMIT_COUNT x u32 big-endian

// Refusal reasons (GET STATUS byte STATUS_OFF_LAST_REASON; reset to NONE by a success).
export const REASON_NONE: u8 = 0;
export const REASON_BALANCE: u8 = 1; // PAY: amount > balance (SW 6985)
export const REASON_MAX_PAYMENT: u8 = 2; // PAY: amount > LIMIT_MAX_PAYMENT (6985)
export const REASON_COUNT_SINCE_SYNC: u8 = 3; // PAY: too many payments since sync (6985)
export const REASON_AMOUNT_SINCE_SYNC: u8 = 4; // PAY: too much paid since sync (6985)
export const REASON_SYNC_OVERDUE: u8 = 5; // PAY: sync deadline passed (6985)
export const REASON_LOG_FULL: u8 = 6; // PAY/LOAD/RECEIVE: log full, SYNC first (6A84)
export const REASON_CAP: u8 = 7; // LOAD/RECEIVE: balance + amount > cap (6985)
export const REASON_EXPIRED: u8 = 8; // LOAD: expiry < latest time seen (6985)
export const REASON_REPLAY: u8 = 9; // LOAD seq / SYNC time not fresh, RECEIVE challenge not current (6985)
export const REASON_FOREIGN: u8 = 10; // document names another device / payee (6A80)
export const REASON_SIGNATURE: u8 = 11; // signature or certificate check failed (6984)
export const REASON_BLOCKED: u8 = 12; // RECEIVE: payer on the block list (6985)
export const REASON_HOLDER: u8 = 13; // PAY: holder verification missing or refused (6982)
export const REASON_CURRENCY: u8 = 14; // currency differs from the device's (6A80)
export const REASON_TIME: u8 = 15; // time before the latest time seen / outside certificate validity (6A80)
export const REASON_CORRUPT: u8 = 16; // stored state failed its integrity check (6581)
export const REASON_FORMAT: u8 = 17; // malformed CBOR / COSE / wrong document type (6A80)
export const REASON_ISSUER_KEY: u8 = 18; // unknown issuer key id (6A88)
