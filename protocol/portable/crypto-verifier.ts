// portable: compiled by both asc (firmware) and tsc (host). Keep it typed integers only.
// Layout of the firmware's crypto verifier buffer (firmware/assembly/crypto/verifier.ts,
// SPEC.md §2 "crypto verifier"): the host writes the public key, the signature and the
// message at these offsets of crypto_buffer(), then calls sm2_verify / p256_verify(msgLen).
export const VERIFIER_PUB_OFFSET: u32 = 0;     // 65 bytes, 04 || x || y (SEC 1 §2.3.3)
export const VERIFIER_SIG_OFFSET: u32 = 80;    // 64 bytes, r || s
export const VERIFIER_MSG_OFFSET: u32 = 144;   // message bytes
export const VERIFIER_BUFFER_SIZE: u32 = 2048; // total; messages up to SIZE - MSG_OFFSET
