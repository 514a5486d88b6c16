// portable: compiled by both asc (firmware) and tsc (host). Keep it typed integers only.
// Crypto suite ids, chosen per device at personalization (DESIGN.md §3).
// The id also selects the hash (SM3 / SHA-256) and the 128-bit block cipher (SM4 / AES-128)
// used by HMAC, CBC, CMAC, the SCP03 KDF and the secure channel.

// SM2 (GB/T 32918) + SM3 (GB/T 32905) + SM4 (GB/T 32907)
export const SUITE_SM2_SM3_SM4: u8 = 1;
// ECDSA P-256 (FIPS 186-4) + SHA-256 (FIPS 180-4) + AES-128 (FIPS 197)
export const SUITE_P256_SHA256_AES128: u8 = 2;
