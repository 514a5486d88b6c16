// Suite-generic hash: SM3 for SUITE_SM2_SM3_SM4, SHA-256 for SUITE_P256_SHA256_AES128
// (protocol/portable/suite.ts). Both give 32 bytes and share the context layout of _md.ts.
// An unknown suite falls back to SHA-256 rather than trapping; callers validate suites
// at personalization.
import { SUITE_SM2_SM3_SM4 } from "../../../protocol/portable/suite";
import { MD_CTX_SIZE } from "./_md";
import { sm3Init, sm3Update, sm3Final, sm3 } from "./sm3";
import { sha256Init, sha256Update, sha256Final, sha256 } from "./sha256";

export const HASH_CTX_SIZE: i32 = MD_CTX_SIZE; // = max(SM3_CTX_SIZE, SHA256_CTX_SIZE)
export const HASH_LEN: i32 = 32;
export const HASH_BLOCK: i32 = 64;

export function hashInit(suite: u8, ctx: usize): void {
  if (suite == SUITE_SM2_SM3_SM4) sm3Init(ctx); else sha256Init(ctx);
}
export function hashUpdate(suite: u8, ctx: usize, data: usize, len: i32): void {
  if (suite == SUITE_SM2_SM3_SM4) sm3Update(ctx, data, len); else sha256Update(ctx, data, len);
}
export function hashFinal(suite: u8, ctx: usize, out32: usize): void {
  if (suite == SUITE_SM2_SM3_SM4) sm3Final(ctx, out32); else sha256Final(ctx, out32);
}
export function hashOnce(suite: u8, data: usize, len: i32, out32: usize): void {
  if (suite == SUITE_SM2_SM3_SM4) sm3(data, len, out32); else sha256(data, len, out32);
}
