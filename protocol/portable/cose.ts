// portable: compiled by both asc (firmware) and tsc (host). Keep it typed integers only.
// COSE_Sign1 constants (RFC 9052 §4.2, RFC 9053, IANA "COSE Algorithms"; SPEC.md §5).
// Every signed document is 18([protected: bstr .cbor {1: alg}, unprotected: {4: kid},
// payload: bstr, signature: bstr 64]) with the signature raw r || s (RFC 9053 §2.1).

export const COSE_TAG_SIGN1: u32 = 18; // RFC 9052 §4.2: CBOR tag of COSE_Sign1
export const COSE_HDR_ALG: u8 = 1; // RFC 9052 §3.1 Table 3: header label "alg"
export const COSE_HDR_KID: u8 = 4; // RFC 9052 §3.1 Table 3: header label "kid"
// RFC 9053 §2.1: ECDSA w/ SHA-256 on P-256 (IANA COSE Algorithms, value -7)
export const COSE_ALG_ES256: i32 = -7;
// SM2 signature with SM3 over Z_A (default user id "1234567812345678", GB/T 32918.2).
// No IANA code point exists; RFC 9052 §16.4 reserves values below -65536 for private
// use. -65601 is this project's choice; it is never sent outside the bank's system.
export const COSE_ALG_SM2_SM3: i32 = -65601;
export const COSE_SIGNATURE_LEN: u32 = 64; // raw r || s, 32 bytes each (P-256 and SM2)
