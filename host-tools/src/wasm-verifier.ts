// The firmware's own signature verifier, used on the host (SPEC §2: the module exports a
// signature verifier for the host; README "Benchmarks": the fastest correct verifier): an
// instance of build/firmware.wasm whose hardware imports are never called (verification
// touches only the crypto_buffer). For SM2 it is ~60x faster than sm-crypto and, unlike
// node:crypto, uses the standard default user id. Layout: protocol/portable/crypto-verifier.ts.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { VERIFIER_BUFFER_SIZE, VERIFIER_MSG_OFFSET, VERIFIER_PUB_OFFSET, VERIFIER_SIG_OFFSET } from "../../protocol/portable/crypto-verifier.ts";

interface VerifierExports {
  memory: WebAssembly.Memory;
  crypto_buffer(): number;
  sm2_verify(len: number): number;
  p256_verify(len: number): number;
}

export const FIRMWARE_PATH = fileURLToPath(new URL("../../build/firmware.wasm", import.meta.url));
const MAX_MSG = VERIFIER_BUFFER_SIZE - VERIFIER_MSG_OFFSET;

export class WasmVerifier {
  readonly maxMessage = MAX_MSG;
  private constructor(private x: VerifierExports) {}

  /** null when the firmware is not built or has no verifier exports. */
  static load(path = FIRMWARE_PATH): WasmVerifier | null {
    if (!existsSync(path)) return null;
    const mod = new WebAssembly.Module(readFileSync(path));
    const imports: Record<string, Record<string, () => never>> = {};
    for (const i of WebAssembly.Module.imports(mod))
      if (i.kind === "function") (imports[i.module] ??= {})[i.name] = () => {
        throw new Error(`verifier: firmware called ${i.module}.${i.name}`);
      };
    const x = new WebAssembly.Instance(mod, imports).exports as unknown as VerifierExports;
    return typeof x.sm2_verify === "function" && typeof x.crypto_buffer === "function" ? new WasmVerifier(x) : null;
  }

  /** false for any malformed input (the firmware never traps on public data). */
  verify(suite: "sm2" | "p256", pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
    if (pub.length !== 65 || sig.length !== 64 || msg.length > MAX_MSG) return false;
    const mem = new Uint8Array(this.x.memory.buffer);
    const base = this.x.crypto_buffer();
    mem.set(pub, base + VERIFIER_PUB_OFFSET);
    mem.set(sig, base + VERIFIER_SIG_OFFSET);
    mem.set(msg, base + VERIFIER_MSG_OFFSET);
    return (suite === "sm2" ? this.x.sm2_verify(msg.length) : this.x.p256_verify(msg.length)) === 1;
  }
}

let shared: WasmVerifier | null | undefined;
/** One verifier per thread, loaded on first use. */
export function wasmVerifier(): WasmVerifier | null {
  if (shared === undefined) shared = WasmVerifier.load();
  return shared;
}
