// KDF in counter mode (NIST SP 800-108 §5.1) with CMAC as PRF, in the exact layout of
// GlobalPlatform Card Spec v2.3 Amendment D (SCP03) §6.2.2 "Data derivation scheme":
//   label (11 bytes 0x00 || derivation constant) || 0x00 separation indicator ||
//   L (2 bytes, big-endian, output length in bits) || i (1 byte counter, from 1) || context
// K(i) = CMAC(key, that data); output = K(1) || K(2) || ..., truncated to L bits.
// The same construction runs over SM4-CMAC for suite 1. Never throws.
import { CMAC_CTX_SIZE, cmacInit, cmacUpdate, cmacFinal } from "./cmac";

// SCP03 derivation constants: protocol/portable/scp03.ts (SCP03_DC_*)

const CTX = memory.data(CMAC_CTX_SIZE, 8);
const HDR = memory.data(16, 8);
const K = memory.data(16, 8);

export function scp03Kdf(suite: u8, key16: usize, derivationConstant: u8, context: usize, contextLen: i32,
  outBits: u16, out: usize): void {
  memory.fill(HDR, 0, 16);
  store<u8>(HDR, derivationConstant, 11);
  // HDR[12] = 0x00 separation indicator
  store<u8>(HDR, <u8>(outBits >> 8), 13);
  store<u8>(HDR, <u8>outBits, 14);
  const outLen = (<i32>outBits + 7) >> 3;
  let i: i32 = 1;
  for (let done = 0; done < outLen; done += 16, i++) {
    store<u8>(HDR, <u8>i, 15);
    cmacInit(suite, CTX, key16);
    cmacUpdate(CTX, HDR, 16);
    cmacUpdate(CTX, context, contextLen);
    cmacFinal(CTX, K);
    memory.copy(out + <usize>done, K, <usize>min(16, outLen - done));
  }
  memory.fill(CTX, 0, CMAC_CTX_SIZE);
  memory.fill(K, 0, 16);
}
