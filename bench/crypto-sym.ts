// Benchmark cases for the firmware's symmetric crypto (firmware/assembly/crypto/, via
// build/crypto-sym-test.wasm) against node:crypto (OpenSSL 3) and sm-crypto. bench/crypto.ts
// imports symBench(); run alone with `npx tsx bench/crypto-sym.ts [--json]`.
// Each figure is the median ops/s of several timed runs; the message is written into wasm
// memory once and the one-shot export is called, so a wasm op includes one JS->wasm call.
import { createHash, createCipheriv, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadSymWasmSync } from "../test/support/crypto-sym-wasm.ts";
import { SUITE_SM2_SM3_SM4, SUITE_P256_SHA256_AES128 } from "../protocol/portable/suite.ts";

export type Row = { op: string; impl: string; opsPerSec: number };

const RUNS = 7;
const RUN_MS = 150;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** median ops/s of RUNS runs of about RUN_MS each, after a warm-up */
export function measure(fn: () => void): number {
  let batch = 1;
  for (;;) {
    const t = performance.now();
    for (let i = 0; i < batch; i++) fn();
    const dt = performance.now() - t;
    if (dt > 20) { batch = Math.max(1, Math.round((batch * RUN_MS) / dt)); break; }
    batch *= 2;
  }
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    for (let i = 0; i < batch; i++) fn();
    rates.push((batch * 1000) / (performance.now() - t));
  }
  return median(rates);
}

export async function symBench(): Promise<Row[]> {
  const sm = createRequire(import.meta.url)("sm-crypto");
  const w = loadSymWasmSync();
  const { x } = w;
  const rows: Row[] = [];
  const add = (op: string, impl: string, fn: () => void) => rows.push({ op, impl, opsPerSec: measure(fn) });

  const msg = randomBytes(64), mp = w.put(msg), out = w.alloc(32);
  add("SM3 64 B", "wasm", () => x.sm3(mp, 64, out));
  add("SM3 64 B", "node:crypto", () => createHash("sm3").update(msg).digest());
  add("SHA-256 64 B", "wasm", () => x.sha256(mp, 64, out));
  add("SHA-256 64 B", "node:crypto", () => createHash("sha256").update(msg).digest());

  const N = 4096, key = randomBytes(16), iv = randomBytes(16), data = randomBytes(N);
  const kp = w.put(key), ivp = w.put(iv), src = w.put(data), dst = w.alloc(N);
  add("SM4-CBC 4 KiB", "wasm", () => x.cbcEncrypt(SUITE_SM2_SM3_SM4, kp, ivp, src, N, dst));
  const arr = Array.from(data), keyHex = key.toString("hex"), ivHex = iv.toString("hex");
  add("SM4-CBC 4 KiB", "sm-crypto", () => sm.sm4.encrypt(arr, keyHex, { mode: "cbc", iv: ivHex, padding: "none", output: "array" }));
  add("SM4-CBC 4 KiB", "node:crypto", () => createCipheriv("sm4-cbc", key, iv).setAutoPadding(false).update(data));
  // decryption (blocks are independent; the firmware still does one at a time, for size)
  const ct = Array.from(createCipheriv("sm4-cbc", key, iv).setAutoPadding(false).update(data));
  const ctp = w.put(Uint8Array.from(ct));
  add("SM4-CBC decrypt 4 KiB", "wasm", () => x.cbcDecrypt(SUITE_SM2_SM3_SM4, kp, ivp, ctp, N, dst));
  add("SM4-CBC decrypt 4 KiB", "sm-crypto", () => sm.sm4.decrypt(ct, keyHex, { mode: "cbc", iv: ivHex, padding: "none", output: "array" }));
  add("AES-128-CBC 4 KiB", "wasm", () => x.cbcEncrypt(SUITE_P256_SHA256_AES128, kp, ivp, src, N, dst));
  add("AES-128-CBC 4 KiB", "node:crypto", () => createCipheriv("aes-128-cbc", key, iv).setAutoPadding(false).update(data));
  return rows;
}

/** size of the test wasm holding only the symmetric primitives (+ SCP03 and test exports) */
export function symWasmBytes(): number {
  return statSync(fileURLToPath(new URL("../build/crypto-sym-test.wasm", import.meta.url))).size;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await symBench();
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify({ rows, wasmBytes: symWasmBytes() }, null, 1));
  } else {
    const wasm = new Map(rows.filter((r) => r.impl === "wasm").map((r) => [r.op, r.opsPerSec]));
    console.log("operation            implementation  ops/s (median)  wasm ratio");
    for (const r of rows) {
      const ratio = r.impl === "wasm" ? "" : `${(wasm.get(r.op)! / r.opsPerSec).toFixed(2)}x`;
      console.log(`${r.op.padEnd(20)} ${r.impl.padEnd(15)} ${Math.round(r.opsPerSec).toString().padStart(14)}  ${ratio}`);
    }
    console.log(`crypto-sym-test.wasm: ${symWasmBytes()} bytes`);
  }
}
