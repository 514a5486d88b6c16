// portable: compiled by both asc (firmware) and tsc (host). Keep it typed integers only.
// Non-volatile memory: default flash geometry, the record store's on-flash format numbers
// and error codes, and the table of record ids (SPEC.md §8 "Flash record formats").
//
// Record ids are an append-only table, grouped in disjoint families NVM_<FAMILY>_FIRST..
// _LAST (a test proves the ranges are disjoint and inside 1..NVM_ID_LIMIT-1). Never renumber
// or reuse an id: retire it by a comment. Each id says what its absence means. Every `u16`
// constant here other than the family bounds, NVM_ID_LIMIT and NVM_LOG_CAPACITY is a record id
// (test/store-nvm-ids.test.ts checks each against the families).

// ---- Geometry (SPEC §2 flash_page_size / flash_page_count; the simulator's default) ----
export const NVM_PAGE_SIZE: u32 = 2048; // bytes per erase page
export const NVM_PAGE_COUNT: u32 = 32; // 64 KiB of flash

// ---- Record store format (SPEC §8) ----
export const NVM_WORD: u32 = 4; // alignment of every entry; also the torn-write unit assumed
export const NVM_PAGE_MAGIC: u32 = 0x31525453; // "STR1" little-endian, first word of a page header
export const NVM_PAGE_HEADER_SIZE: u32 = 24; // magic, seq, erase count, CRC, end marker, reserved
export const NVM_ENTRY_HEADER_SIZE: u32 = 8; // id u16, len u16, kind u8, 3 bytes 0xFF
export const NVM_ENTRY_TRAILER_SIZE: u32 = 4; // CRC-32 over header and value
export const NVM_MAX_VALUE: i32 = 512; // largest record value in bytes
export const NVM_MAX_TX_RECORDS: i32 = 16; // records in one transaction
export const NVM_TX_BUFFER_SIZE: i32 = 2048; // bytes of values buffered by one transaction
export const NVM_RESERVED_PAGES: u32 = 3; // pages kept out of the capacity so GC always fits
export const NVM_ID_LIMIT: u16 = 0x200; // record ids are 1..NVM_ID_LIMIT-1

// Entry kinds (byte 4 of an entry header)
export const NVM_KIND_PUT: u8 = 0x01; // a record value (id, len, value)
export const NVM_KIND_DELETE: u8 = 0x02; // id is absent from here on; len 0
export const NVM_KIND_COMMIT: u8 = 0x03; // commits the last `id` uncommitted entries; len 0
export const NVM_KIND_GC: u8 = 0x04; // value u32: pages with seq below it are dead (compacted)

// Store results (storeMount / txCommit; 0 = ok). Reported by the applet when it refuses.
export const NVM_OK: i32 = 0;
export const NVM_ERR_GEOMETRY: i32 = 1; // page size / count unusable
export const NVM_ERR_CORRUPT: i32 = 2; // an entry or page header failed its integrity check
export const NVM_ERR_MISSING_PAGE: i32 = 3; // a page of the live sequence is missing
export const NVM_ERR_TX_LOG: i32 = 4; // a commit names more entries than precede it
export const NVM_ERR_FULL: i32 = 5; // txCommit: not enough room (nothing written)
export const NVM_ERR_TOO_BIG: i32 = 6; // value or transaction too large (nothing written)
export const NVM_ERR_BAD_ID: i32 = 7; // id 0 or >= NVM_ID_LIMIT
export const NVM_ERR_NO_TX: i32 = 8; // txCommit without txBegin
export const NVM_ERR_NOT_MOUNTED: i32 = 9; // store used before a successful storeMount
export const NVM_ERR_WEAR: i32 = 10; // GC could not make progress (store full of live data)

// ---- Record ids: families (ranges reserved for the applet; individual ids added by it) ----
export const NVM_CONFIG_FIRST: u16 = 0x001; // lifecycle state, device id, suite, token, limits ...
export const NVM_CONFIG_LAST: u16 = 0x01f;
export const NVM_KEYS_FIRST: u16 = 0x020; // device key pair, SCP03 static keys
export const NVM_KEYS_LAST: u16 = 0x02f;
export const NVM_PIN_FIRST: u16 = 0x030; // PIN / PUK values and try counters
export const NVM_PIN_LAST: u16 = 0x03f;
export const NVM_WALLET_FIRST: u16 = 0x040; // wallet state: balance, counter, chain hash, since-sync totals
export const NVM_WALLET_LAST: u16 = 0x04f;
export const NVM_CHALLENGE_FIRST: u16 = 0x050; // single-use challenges (GET CHALLENGE / RECEIVE)
export const NVM_CHALLENGE_LAST: u16 = 0x05f;
export const NVM_ISSUER_FIRST: u16 = 0x060; // trusted issuer public keys with key ids
export const NVM_ISSUER_LAST: u16 = 0x06f;
export const NVM_CERT_FIRST: u16 = 0x070; // issuer-signed device certificate
export const NVM_CERT_LAST: u16 = 0x07f;
export const NVM_MISC_FIRST: u16 = 0x080; // block list, revocation version, other applet state
export const NVM_MISC_LAST: u16 = 0x0ff;
export const NVM_LOG_FIRST: u16 = 0x100; // voucher / receipt / load log entries (a ring of ids)
export const NVM_LOG_LAST: u16 = 0x1ff;
export const NVM_LOG_CAPACITY: u16 = 64; // log entries kept until a sync acknowledges them
export const NVM_LOG_ENTRY_MAX: i32 = 300; // bytes per log entry

// ---- Record ids of the wallet applet (firmware/assembly/applet/state.ts; layouts in SPEC §3.4) ----
export const NVM_LIFECYCLE: u16 = 0x001; // u8 LC_*; absent = blank device (first power-on creates it)
export const NVM_DEVICE_ID: u16 = 0x002; // [8] chip identity drawn from TRNG at first power-on
export const NVM_IDENTITY: u16 = 0x003; // SET IDENTITY data (suite, form, currency, token); absent = not set
export const NVM_LIMITS: u16 = 0x004; // LIMIT_COUNT x u32 big-endian; absent = not set
export const NVM_DEVICE_KEY: u16 = 0x020; // private [32] || public [65]; absent = no key pair
export const NVM_SCP_KEYS: u16 = 0x021; // KVN u8 || ENC [16] || MAC [16] || DEK [16]; absent = GP default keys
export const NVM_PIN: u16 = 0x030; // PIN block [8] || tries left u8; absent = no PIN set
export const NVM_PUK: u16 = 0x031; // PUK block [8] || tries left u8; absent = no PUK set
export const NVM_WALLET: u16 = 0x040; // wallet state (balance, counter, chain hash, ...); absent = not finalized
export const NVM_ISSUER_KEY_0: u16 = 0x060; // kid len u8 || kid [8] || public key [65]; absent = slot empty
export const NVM_ISSUER_KEY_1: u16 = 0x061; // same, second trusted issuer key (rotation)
export const NVM_CERT: u16 = 0x070; // device certificate COSE bytes; absent = none
export const NVM_BLOCK_LIST: u16 = 0x080; // n u8 || n x device id [8] from the last sync ack; absent = empty
// log entry of ring slot s (0 <= s < NVM_LOG_CAPACITY) is id NVM_LOG_FIRST + s
