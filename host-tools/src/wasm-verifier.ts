// The firmware's own signature verifier, used on the host (SPEC §2: the module exports a
// signature verifier for the host; README "Benchmarks": the fastest correct verifier): an
// instance of build/verifier.wasm, the firmware's verification code built for hosts
// (firmware/assembly/crypto/verifier-host.ts: wider tables, a batch entry), or of
// build/firmware.wasm when that is all there is (its hardware imports are never called:
// verification touches only the crypto_buffer). For SM2 it is far faster than sm-crypto
// and, unlike node:crypto, uses the standard default user id.
// Single-signature layout: protocol/portable/crypto-verifier.ts (SPEC §2).
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { VERIFIER_BUFFER_SIZE, VERIFIER_MSG_OFFSET, VERIFIER_PUB_OFFSET, VERIFIER_SIG_OFFSET } from "../../protocol/portable/crypto-verifier.ts";
import { SUITE_SM2_SM3_SM4, SUITE_P256_SHA256_AES128 } from "../../protocol/portable/suite.ts";

interface VerifierExports {
  memory: WebAssembly.Memory;
  crypto_buffer(): number;
  sm2_verify(len: number): number;
  p256_verify(len: number): number;
  // build/verifier.wasm only
  batch_buffer?(): number;
  batch_capacity?(): number;
  batch_results?(): number;
  batch_max?(): number;
  verify_batch?(suite: number, count: number): number;
}

export type VerifierSuite = "sm2" | "p256";
export interface SignedItem { pub: Uint8Array; msg: Uint8Array; sig: Uint8Array }

export const HOST_VERIFIER_PATH = fileURLToPath(new URL("../../build/verifier.wasm", import.meta.url));
export const FIRMWARE_PATH = fileURLToPath(new URL("../../build/firmware.wasm", import.meta.url));
const MAX_MSG = VERIFIER_BUFFER_SIZE - VERIFIER_MSG_OFFSET;
// batch record: u32 msgLen LE || pub 65 || sig 64 || msg || pad to 4 (verifier-host.ts)
const BATCH_HEADER = 4 + 65 + 64;
const SUITE_ID = { sm2: SUITE_SM2_SM3_SM4, p256: SUITE_P256_SHA256_AES128 } as const;

export class WasmVerifier {
  readonly maxMessage = MAX_MSG;
  private constructor(private x: VerifierExports, readonly path: string) {}

  /** null when the module is not built or has no verifier exports. */
  static load(path = existsSync(HOST_VERIFIER_PATH) ? HOST_VERIFIER_PATH : FIRMWARE_PATH): WasmVerifier | null {
    if (!existsSync(path)) return null;
    const mod = new WebAssembly.Module(readFileSync(path));
    const imports: Record<string, Record<string, () => never>> = {};
    for (const i of WebAssembly.Module.imports(mod))
      if (i.kind === "function") (imports[i.module] ??= {})[i.name] = () => {
        throw new Error(`verifier: ${path} called ${i.module}.${i.name}`);
      };
    const x = new WebAssembly.Instance(mod, imports).exports as unknown as VerifierExports;
    return typeof x.sm2_verify === "function" && typeof x.crypto_buffer === "function" ? new WasmVerifier(x, path) : null;
  }

  /** true when the module has the batch entry (build/verifier.wasm) */
  get batched(): boolean { return typeof this.x.verify_batch === "function"; }

  /** false for any malformed input (the verifier never traps on public data). */
  verify(suite: VerifierSuite, pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
    if (pub.length !== 65 || sig.length !== 64 || msg.length > MAX_MSG) return false;
    const mem = new Uint8Array(this.x.memory.buffer);
    const base = this.x.crypto_buffer();
    mem.set(pub, base + VERIFIER_PUB_OFFSET);
    mem.set(sig, base + VERIFIER_SIG_OFFSET);
    mem.set(msg, base + VERIFIER_MSG_OFFSET);
    return (suite === "sm2" ? this.x.sm2_verify(msg.length) : this.x.p256_verify(msg.length)) === 1;
  }

  /** One result per item, in order: as many signatures per wasm call as the batch buffer
   * holds (a module without the batch entry falls back to one call per item). */
  verifyMany(suite: VerifierSuite, items: readonly SignedItem[]): boolean[] {
    const x = this.x;
    if (!x.verify_batch) return items.map((it) => this.verify(suite, it.pub, it.msg, it.sig));
    const out: boolean[] = new Array(items.length);
    const cap = x.batch_capacity!(), max = x.batch_max!(), buf = x.batch_buffer!(), res = x.batch_results!();
    let i = 0;
    while (i < items.length) {
      const mem = new Uint8Array(x.memory.buffer), dv = new DataView(x.memory.buffer);
      const first = i, slots: number[] = []; // slots[j]: item index of record j, or -1 (malformed, not sent)
      let off = 0;
      for (; i < items.length && slots.length < max; i++) {
        const it = items[i];
        if (it.pub.length !== 65 || it.sig.length !== 64) { out[i] = false; continue; }
        const size = (BATCH_HEADER + it.msg.length + 3) & ~3;
        if (off + size > cap) {
          if (off === 0) { out[i] = this.verify(suite, it.pub, it.msg, it.sig); continue; } // larger than the whole buffer
          break;
        }
        dv.setUint32(buf + off, it.msg.length, true);
        mem.set(it.pub, buf + off + 4);
        mem.set(it.sig, buf + off + 69);
        mem.set(it.msg, buf + off + BATCH_HEADER);
        off += size;
        slots.push(i);
      }
      if (slots.length) x.verify_batch(SUITE_ID[suite], slots.length);
      const r = new Uint8Array(x.memory.buffer, res, slots.length);
      slots.forEach((idx, j) => { out[idx] = r[j] === 1; });
      if (i === first) i++; // cannot happen (every item is placed or answered), but never loop
    }
    return out;
  }
}

let shared: WasmVerifier | null | undefined;
/** One verifier per thread, loaded on first use. */
export function wasmVerifier(): WasmVerifier | null {
  if (shared === undefined) shared = WasmVerifier.load();
  return shared;
}
