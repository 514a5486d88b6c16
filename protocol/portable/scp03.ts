// portable: compiled by both asc (firmware) and tsc (host). Keep it typed integers only.
// GlobalPlatform SCP03 numbers (GP Card Spec v2.3 Amendment D, v1.1.x/1.2), used by
// firmware/assembly/scp03.ts (card side) and protocol/src/scp03.ts (host side). The same
// construction runs over SM4 for SUITE_SM2_SM3_SM4 devices (SPEC §9 "SCP03 construction").
// INS codes and CLA bits live in apdu.ts.

// Key information, byte 2 of INITIALIZE UPDATE's key info (Amd D §7.1.1.6): SCP identifier
export const SCP03_ID: u8 = 0x03;
// "i" parameter bits (Amd D §5.1)
export const SCP03_I_PSEUDO_RANDOM: u8 = 0x10; // card challenge from a counter (else random)
export const SCP03_I_RMAC: u8 = 0x20; // R-MAC supported
export const SCP03_I_RENC: u8 = 0x40; // R-ENCRYPTION supported
// what this card announces: random challenge, R-MAC and R-ENC supported
export const SCP03_I_PARAM: u8 = 0x60;

// Security level, P1 of EXTERNAL AUTHENTICATE (Amd D §7.1.2.1, Table 7-4)
export const SCP03_SL_CMAC: u8 = 0x01;
export const SCP03_SL_CDEC: u8 = 0x02;
export const SCP03_SL_RMAC: u8 = 0x10;
export const SCP03_SL_RENC: u8 = 0x20;
// every protection at once (33): the level the personalization flow opens, so keys and PINs
// travel encrypted and every answer is authenticated (SPEC §9 "Channel use")
export const SCP03_SL_FULL: u8 = SCP03_SL_CMAC | SCP03_SL_CDEC | SCP03_SL_RMAC | SCP03_SL_RENC;

// Data derivation constants (Amd D §6.2.2, Table 6-1), the byte after 11 zero bytes of the KDF label
export const SCP03_DC_CARD_CRYPTOGRAM: u8 = 0x00;
export const SCP03_DC_HOST_CRYPTOGRAM: u8 = 0x01;
export const SCP03_DC_CARD_CHALLENGE: u8 = 0x02;
export const SCP03_DC_S_ENC: u8 = 0x04;
export const SCP03_DC_S_MAC: u8 = 0x06;
export const SCP03_DC_S_RMAC: u8 = 0x07;

// Lengths (S8 mode, Amd D §6.2): challenges, cryptograms and the truncated C-MAC / R-MAC
export const SCP03_CHALLENGE_LEN: u8 = 8;
export const SCP03_CRYPTOGRAM_LEN: u8 = 8;
export const SCP03_MAC_LEN: u8 = 8;
export const SCP03_DIV_DATA_LEN: u8 = 10; // key diversification data (Amd D §7.1.1.6)
// INITIALIZE UPDATE response: div data (10) | key info (3) | card challenge (8) | card cryptogram (8)
export const SCP03_INIT_UPDATE_RESP_LEN: u8 = 29;
// Amd D §6.2.7: the response ICV block has its most significant byte set to 0x80
export const SCP03_ICV_RESPONSE_MARK: u8 = 0x80;

// Per-device static key diversification (this project, SPEC §9 "SCP03 construction"): the
// SCP03 KDF above keyed by the issuer's master key, with these private-use constants (GP
// defines only 00..07), L = 128 and the device serial as context.
export const SCP03_DC_DIVERSIFY_ENC: u8 = 0x81;
export const SCP03_DC_DIVERSIFY_MAC: u8 = 0x82;
export const SCP03_DC_DIVERSIFY_DEK: u8 = 0x83;
