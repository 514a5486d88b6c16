// bench:reconcile's ceiling: the verifiers alone, exactly as reconciliation's workers call
// them (host-tools voucher-check.ts checkVouchers), without parsing, hashing or the ledger.
// SM2 through the host verifier (build/verifier.wasm): "batch", one verifyMany call per
// slice ordered by key, or "single", one call per voucher; P-256 through node:crypto
// (OpenSSL) voucher by voucher in both. Answers "ready" once loaded, then the number of
// signatures that verified for each batch it is sent.
import { parentPort, workerData } from "node:worker_threads";
import { hex, HOST_VERIFIER_PATH, verifyP256OpenSsl, WasmVerifier } from "offline-wallet/host-tools";

export interface RawItem { sm2: boolean; pub: Uint8Array; tbs: Uint8Array; sig: Uint8Array }
const { mode, slice } = workerData as { mode: "batch" | "single"; slice: number };
const wasm = WasmVerifier.load(HOST_VERIFIER_PATH);
if (!wasm?.batched) throw new Error(`bench: ${HOST_VERIFIER_PATH} is not built (npm run build:firmware)`);
/** P-256 exactly as reconciliation verifies it (host-tools sig.ts: OpenSSL, low-S, cached keys) */
const p256 = (it: RawItem): boolean => verifyP256OpenSsl(it.pub, it.tbs, it.sig);

parentPort!.on("message", (items: RawItem[]) => {
  let ok = 0;
  for (let i = 0; i < items.length; i += slice) {
    const part = items.slice(i, i + slice);
    const sm2 = part.filter((it) => it.sm2);
    for (const it of part) if (!it.sm2 && p256(it)) ok++;
    if (mode === "single") for (const it of sm2) ok += wasm.verify("sm2", it.pub, it.tbs, it.sig) ? 1 : 0;
    else {
      const byKey = sm2.map((it) => ({ it, k: hex(it.pub) })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
      for (const r of wasm.verifyMany("sm2", byKey.map(({ it }) => ({ pub: it.pub, msg: it.tbs, sig: it.sig })))) if (r) ok++;
    }
  }
  parentPort!.postMessage(ok);
});
parentPort!.postMessage("ready");
