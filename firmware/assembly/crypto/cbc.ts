// CBC mode (NIST SP 800-38A §6.2) over the suite block cipher (block.ts): SM4-CBC or
// AES-128-CBC with a 16-byte key and IV, no padding (callers pad, e.g. ISO/IEC 9797-1 method 2
// in SCP03). src and dst may be the same buffer. Returns false, touching nothing, when len is
// not a non-negative multiple of 16. Never throws.
import { BLOCK_RK_SIZE, blockExpandKey, blockEncrypt, blockDecrypt, xor16 } from "./block";

const RK = memory.data(BLOCK_RK_SIZE, 8);
const CHAIN = memory.data(16, 8);
const SAVE = memory.data(16, 8);

export function cbcEncrypt(suite: u8, key16: usize, iv16: usize, src: usize, len: i32, dst: usize): bool {
  if (len < 0 || (len & 15) != 0) return false;
  blockExpandKey(suite, key16, RK);
  memory.copy(CHAIN, iv16, 16);
  for (let i: usize = 0; i < <usize>len; i += 16) {
    xor16(CHAIN, CHAIN, src + i);
    blockEncrypt(suite, RK, CHAIN, CHAIN);
    memory.copy(dst + i, CHAIN, 16);
  }
  memory.fill(RK, 0, BLOCK_RK_SIZE);
  return true;
}

export function cbcDecrypt(suite: u8, key16: usize, iv16: usize, src: usize, len: i32, dst: usize): bool {
  if (len < 0 || (len & 15) != 0) return false;
  blockExpandKey(suite, key16, RK);
  memory.copy(CHAIN, iv16, 16);
  for (let i: usize = 0; i < <usize>len; i += 16) {
    memory.copy(SAVE, src + i, 16); // keep C_i: dst may overwrite it
    blockDecrypt(suite, RK, SAVE, dst + i);
    xor16(dst + i, dst + i, CHAIN);
    memory.copy(CHAIN, SAVE, 16);
  }
  memory.fill(RK, 0, BLOCK_RK_SIZE);
  return true;
}
