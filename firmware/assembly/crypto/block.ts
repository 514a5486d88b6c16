// Suite-generic 128-bit block cipher with a 16-byte key: SM4 for SUITE_SM2_SM3_SM4, AES-128
// for SUITE_P256_SHA256_AES128 (protocol/portable/suite.ts). Used by CBC, CMAC, the SCP03 KDF
// and the secure channel. Raw pointers, never throws.
import { SUITE_SM2_SM3_SM4 } from "../../../protocol/portable/suite";
import { SM4_RK_SIZE, sm4ExpandKey, sm4EncryptBlock, sm4DecryptBlock } from "./sm4";
import { AES_RK_SIZE, aesExpandKey, aesEncryptBlock, aesDecryptBlock } from "./aes";

// round keys of either cipher fit in this many bytes
export const BLOCK_RK_SIZE: i32 = AES_RK_SIZE > SM4_RK_SIZE ? AES_RK_SIZE : SM4_RK_SIZE;

export function blockExpandKey(suite: u8, key16: usize, rk: usize): void {
  if (suite == SUITE_SM2_SM3_SM4) sm4ExpandKey(key16, rk); else aesExpandKey(key16, rk);
}
export function blockEncrypt(suite: u8, rk: usize, in16: usize, out16: usize): void {
  if (suite == SUITE_SM2_SM3_SM4) sm4EncryptBlock(rk, in16, out16); else aesEncryptBlock(rk, in16, out16);
}
export function blockDecrypt(suite: u8, rk: usize, in16: usize, out16: usize): void {
  if (suite == SUITE_SM2_SM3_SM4) sm4DecryptBlock(rk, in16, out16); else aesDecryptBlock(rk, in16, out16);
}

// 16-byte XOR: dst = a ^ b (any of them may alias)
export function xor16(dst: usize, a: usize, b: usize): void {
  store<u64>(dst, load<u64>(a) ^ load<u64>(b));
  store<u64>(dst, load<u64>(a, 8) ^ load<u64>(b, 8), 8);
}
