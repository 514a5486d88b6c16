// portable: compiled by both asc (firmware) and tsc (host). Keep it typed integers only.
// Applet lifecycle (DESIGN.md §3, SPEC.md §3.1) and THE table of which command each state
// allows. The firmware checks it in exactly one place (applet/dispatch.ts: lcAllows);
// host tools and tests read the same masks. Append-only: never renumber.
//
//   MANUFACTURED --PUT KEY--> PERSONALIZING --FINALIZE--> ACTIVE <--LOCK/UNLOCK--> LOCKED
//   every state but TERMINATED --TERMINATE--> TERMINATED

export const LC_MANUFACTURED: u8 = 1; // blank applet, GP default keys; only the key change is possible
export const LC_PERSONALIZING: u8 = 2; // diversified SCP keys set; personalization steps
export const LC_ACTIVE: u8 = 3; // in service
export const LC_LOCKED: u8 = 4; // issuer lock: no value moves, sync and log still work
export const LC_TERMINATED: u8 = 5; // end of life: only status and log read-out

// Command indices: bit positions in the LC_ALLOW_* masks. One per INS (apdu.ts).
export const CMD_SELECT: u8 = 0;
export const CMD_GET_RESPONSE: u8 = 1;
export const CMD_GET_STATUS: u8 = 2;
export const CMD_INITIALIZE_UPDATE: u8 = 3;
export const CMD_EXTERNAL_AUTHENTICATE: u8 = 4;
export const CMD_PUT_KEY: u8 = 5;
export const CMD_SET_IDENTITY: u8 = 6;
export const CMD_SET_LIMITS: u8 = 7;
export const CMD_PUT_ISSUER_KEY: u8 = 8;
export const CMD_GENERATE_KEY: u8 = 9;
export const CMD_GET_PUBLIC_KEY: u8 = 10;
export const CMD_PUT_CERTIFICATE: u8 = 11;
export const CMD_GET_CERTIFICATE: u8 = 12;
export const CMD_SET_PIN: u8 = 13;
export const CMD_SET_PUK: u8 = 14;
export const CMD_FINALIZE: u8 = 15;
export const CMD_VERIFY: u8 = 16;
export const CMD_CHANGE_REFERENCE_DATA: u8 = 17;
export const CMD_RESET_RETRY_COUNTER: u8 = 18;
export const CMD_GET_CHALLENGE: u8 = 19;
export const CMD_LOAD: u8 = 20;
export const CMD_PAY: u8 = 21;
export const CMD_RECEIVE: u8 = 22;
export const CMD_READ_LOG: u8 = 23;
export const CMD_SYNC: u8 = 24;
export const CMD_LOCK: u8 = 25;
export const CMD_UNLOCK: u8 = 26;
export const CMD_TERMINATE: u8 = 27;
export const CMD_COUNT: u8 = 28;

// Commands that need an authenticated SCP03 channel (CLA 84 with a valid C-MAC), in any
// state: personalization and administration (SPEC §9).
export const CMD_NEEDS_CHANNEL: u32 =
  (1 << CMD_PUT_KEY) | (1 << CMD_SET_IDENTITY) | (1 << CMD_SET_LIMITS) | (1 << CMD_PUT_ISSUER_KEY) |
  (1 << CMD_GENERATE_KEY) | (1 << CMD_PUT_CERTIFICATE) | (1 << CMD_SET_PIN) | (1 << CMD_SET_PUK) |
  (1 << CMD_FINALIZE) | (1 << CMD_LOCK) | (1 << CMD_UNLOCK) | (1 << CMD_TERMINATE);

// Always allowed (session plumbing and read-outs that every state answers).
const LC_BASE: u32 =
  (1 << CMD_SELECT) | (1 << CMD_GET_RESPONSE) | (1 << CMD_GET_STATUS);
const LC_CHANNEL: u32 = (1 << CMD_INITIALIZE_UPDATE) | (1 << CMD_EXTERNAL_AUTHENTICATE) | (1 << CMD_PUT_KEY);

// THE state x command table: bit CMD_x set = command allowed in that state.
export const LC_ALLOW_MANUFACTURED: u32 = LC_BASE | LC_CHANNEL;
export const LC_ALLOW_PERSONALIZING: u32 =
  LC_BASE | LC_CHANNEL | (1 << CMD_SET_IDENTITY) | (1 << CMD_SET_LIMITS) | (1 << CMD_PUT_ISSUER_KEY) |
  (1 << CMD_GENERATE_KEY) | (1 << CMD_GET_PUBLIC_KEY) | (1 << CMD_PUT_CERTIFICATE) |
  (1 << CMD_GET_CERTIFICATE) | (1 << CMD_SET_PIN) | (1 << CMD_SET_PUK) | (1 << CMD_FINALIZE) |
  (1 << CMD_TERMINATE);
export const LC_ALLOW_ACTIVE: u32 =
  LC_BASE | LC_CHANNEL | (1 << CMD_SET_LIMITS) | (1 << CMD_PUT_ISSUER_KEY) | (1 << CMD_GET_PUBLIC_KEY) |
  (1 << CMD_GET_CERTIFICATE) | (1 << CMD_VERIFY) | (1 << CMD_CHANGE_REFERENCE_DATA) |
  (1 << CMD_RESET_RETRY_COUNTER) | (1 << CMD_GET_CHALLENGE) | (1 << CMD_LOAD) | (1 << CMD_PAY) |
  (1 << CMD_RECEIVE) | (1 << CMD_READ_LOG) | (1 << CMD_SYNC) | (1 << CMD_LOCK) | (1 << CMD_TERMINATE);
export const LC_ALLOW_LOCKED: u32 =
  LC_BASE | LC_CHANNEL | (1 << CMD_GET_PUBLIC_KEY) | (1 << CMD_GET_CERTIFICATE) | (1 << CMD_READ_LOG) |
  (1 << CMD_SYNC) | (1 << CMD_UNLOCK) | (1 << CMD_TERMINATE);
// A terminated device still hands over its unsynced log so no value is lost.
export const LC_ALLOW_TERMINATED: u32 = LC_BASE | (1 << CMD_GET_CERTIFICATE) | (1 << CMD_READ_LOG);
