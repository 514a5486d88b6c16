// Test-only entry (build/crypto-sym-test.wasm): exports the symmetric primitives of
// firmware/assembly/crypto/ plus a static scratch area the tests write inputs into.
// Not part of firmware.wasm.
export { SM3_CTX_SIZE, sm3Init, sm3Update, sm3Final, sm3 } from "./sm3";
export { SHA256_CTX_SIZE, sha256Init, sha256Update, sha256Final, sha256 } from "./sha256";
import { sm3 } from "./sm3";
import { sha256 } from "./sha256";

// count messages of len bytes each, packed at src; digests packed at dst (32 bytes each).
// Many hashes per call, so a bench of short messages does not measure the call (SPEC §2, README "Benchmarks").
export function sm3Many(src: usize, len: i32, count: i32, dst: usize): void {
  for (let i = 0; i < count; i++) sm3(src + <usize>(i * len), len, dst + <usize>(i * 32));
}
export function sha256Many(src: usize, len: i32, count: i32, dst: usize): void {
  for (let i = 0; i < count; i++) sha256(src + <usize>(i * len), len, dst + <usize>(i * 32));
}
export { HASH_CTX_SIZE, hashInit, hashUpdate, hashFinal, hashOnce } from "./hash";
export { HMAC_CTX_SIZE, hmacInit, hmacUpdate, hmacFinal, hmac } from "./hmac";

const SCRATCH_SIZE: i32 = 64 * 1024;
const SCRATCH = memory.data(SCRATCH_SIZE, 16);
export function scratch(): usize { return SCRATCH; }
export function scratchSize(): i32 { return SCRATCH_SIZE; }
export { SM4_RK_SIZE, sm4ExpandKey, sm4EncryptBlock, sm4DecryptBlock } from "./sm4";
export { AES_RK_SIZE, aesExpandKey, aesEncryptBlock, aesDecryptBlock } from "./aes";
export { cbcEncrypt, cbcDecrypt } from "./cbc";
export { CMAC_CTX_SIZE, cmacInit, cmacUpdate, cmacFinal, cmac } from "./cmac";
export { scp03Kdf } from "./kdf";
export {
  scpReset, scpInitializeUpdate, scpExternalAuthenticate, scpIsOpen, scpLevel, scpUnwrap, scpWrap,
  scpDecryptKeyData, scpKeyCheckValue,
} from "../scp03";
