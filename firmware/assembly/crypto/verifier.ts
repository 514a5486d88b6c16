// The firmware's signature verifier exported to the host (SPEC §2: the
// module's exports), e.g. for reconciliation. Public data only: keys and
// signatures in, a yes/no out. Layout of the buffer: protocol/portable/crypto-verifier.ts.
// Returns 1 for a valid signature, 0 otherwise (malformed input included); never traps.
import {
  VERIFIER_PUB_OFFSET, VERIFIER_SIG_OFFSET, VERIFIER_MSG_OFFSET, VERIFIER_BUFFER_SIZE,
} from "../../../protocol/portable/crypto-verifier";
import { SUITE_SM2_SM3_SM4, SUITE_P256_SHA256_AES128 } from "../../../protocol/portable/suite";
import { ecVerify } from "./sig";

const BUF = memory.data(<i32>VERIFIER_BUFFER_SIZE, 16);

function verify(suite: u8, msgLen: u32): u32 {
  if (msgLen > VERIFIER_BUFFER_SIZE - VERIFIER_MSG_OFFSET) return 0;
  const ok = ecVerify(suite, BUF + VERIFIER_PUB_OFFSET, BUF + VERIFIER_MSG_OFFSET, <i32>msgLen, BUF + VERIFIER_SIG_OFFSET);
  return ok ? 1 : 0;
}

export function crypto_buffer(): usize { return BUF; }
export function sm2_verify(msgLen: u32): u32 { return verify(SUITE_SM2_SM3_SM4, msgLen); }
export function p256_verify(msgLen: u32): u32 { return verify(SUITE_P256_SHA256_AES128, msgLen); }
