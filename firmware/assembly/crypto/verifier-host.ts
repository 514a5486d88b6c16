// Entry of the host verifier build, build/verifier.wasm (SPEC §2, README "Benchmarks"): the firmware's own
// signature verification (sig.ts ecVerify, the same code firmware.wasm runs) compiled
// alone with `--use HOST_VERIFIER=1`, which widens the fixed-base window for G (point.ts),
// and more memory than a device has. Used only by hosts (host-tools/src/wasm-verifier.ts:
// reconciliation, POS, tests); firmware.wasm keeps its own verifier.
// Exports the single-signature API of SPEC §2 (crypto_buffer, sm2_verify, p256_verify)
// and a batch entry: many signatures per call, one call per slice of vouchers.
// Batch layout (mirrored in host-tools/src/wasm-verifier.ts): records packed from
// batch_buffer(), each  u32 msgLen (little-endian) || pub 04||x||y (65) || sig r||s (64) ||
// msg (msgLen) || zero padding to a multiple of 4 bytes; verify_batch writes one byte per
// record (1 valid, 0 invalid or malformed) from batch_results() and returns the number of
// valid ones. Consecutive records with the same public key share its decoding, SM2 Z_A and
// wNAF table (a device's vouchers come together in a slice). Public data only; never traps.
export { crypto_buffer, sm2_verify, p256_verify } from "./verifier";
import { SUITE_SM2_SM3_SM4, SUITE_P256_SHA256_AES128 } from "../../../protocol/portable/suite";
import { ecVerifyKeyed } from "./sig";

const BATCH_BYTES: u32 = 1 << 20;
const BATCH_MAX: u32 = 16384;
const BATCH_HEADER: u32 = 4 + 65 + 64;
const BATCH = memory.data(<i32>BATCH_BYTES, 16);
const RESULTS = memory.data(<i32>BATCH_MAX, 16);

export function batch_buffer(): usize { return BATCH; }
export function batch_capacity(): u32 { return BATCH_BYTES; }
export function batch_results(): usize { return RESULTS; }
export function batch_max(): u32 { return BATCH_MAX; }

// suite: SUITE_SM2_SM3_SM4 or SUITE_P256_SHA256_AES128 (protocol/portable/suite.ts)
export function verify_batch(suite: u32, count: u32): u32 {
  if (count > BATCH_MAX) count = BATCH_MAX;
  const known = suite == <u32>SUITE_SM2_SM3_SM4 || suite == <u32>SUITE_P256_SHA256_AES128;
  let off: u32 = 0, valid: u32 = 0, prev: usize = 0;
  for (let i: u32 = 0; i < count; i++) {
    let ok = false;
    if (known && off <= BATCH_BYTES - BATCH_HEADER) {
      const rec = BATCH + <usize>off;
      const len = load<u32>(rec);
      if (len <= BATCH_BYTES - BATCH_HEADER - off) {
        const same = prev != 0 && memory.compare(prev + 4, rec + 4, 65) == 0;
        ok = ecVerifyKeyed(<u8>suite, rec + 4, rec + <usize>BATCH_HEADER, <i32>len, rec + 69, same);
        prev = rec;
        off += (BATCH_HEADER + len + 3) & ~3;
      } else off = BATCH_BYTES; // a record past the end: this and the rest are invalid
    }
    store<u8>(RESULTS + <usize>i, ok ? 1 : 0);
    if (ok) valid++;
  }
  return valid;
}
