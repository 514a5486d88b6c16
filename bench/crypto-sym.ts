// Benchmark cases for the firmware's symmetric crypto (firmware/assembly/crypto/, via
// build/crypto-sym-test.wasm) against node:crypto (OpenSSL 3) and sm-crypto. bench/crypto.ts
// imports symBench(); run alone with `npx tsx bench/crypto-sym.ts [--json]`.
// Each figure is the median ops/s of several timed runs; the message is written into wasm
// memory once and the one-shot export is called, so a wasm op includes one JS->wasm call.
// The implementations of one operation are timed in interleaved rounds (measureGroup), so
// a load change on the machine hits all of them alike, and each ratio to node:crypto is
// the median of the per-round ratios. Time is the process's CPU time (process.cpuUsage):
// every implementation here runs on the calling thread, and on a shared, loaded machine
// CPU time, unlike wall time, does not count the time other processes hold the cores.
// The "×N" rows hash N short messages per wasm call
// (sm3Many/sha256Many) against a loop of N node:crypto one-shot hash() calls (SPEC §2, README "Benchmarks"),
// so neither side's per-call cost decides the ratio.
import { createHash, createCipheriv, randomBytes, hash as nodeHash } from "node:crypto";
import { createRequire } from "node:module";
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadSymWasmSync } from "../test/support/crypto-sym-wasm.ts";
import { SUITE_SM2_SM3_SM4, SUITE_P256_SHA256_AES128 } from "../protocol/portable/suite.ts";

export type Row = { op: string; impl: string; opsPerSec: number; vsNode?: number | null };
export const NODE = "node:crypto";

const RUNS = 9;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** One implementation of an operation: `fn` does `per` operations (default 1). */
export type Impl = { impl: string; fn: () => void; per?: number };
const ROUND_MS = 40;
/** process CPU time in ms (user + system) */
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
/** Times the implementations of one operation in RUNS interleaved rounds after a warm-up;
 * median ops/s each, and the median per-round ratio to node:crypto when it is among them. */
export function measureGroup(op: string, impls: Impl[]): Row[] {
  const batches = impls.map(({ fn }) => {
    let batch = 1;
    for (;;) {
      const t = cpuMs();
      for (let i = 0; i < batch; i++) fn();
      const dt = cpuMs() - t;
      if (dt > 15) return Math.max(1, Math.round((batch * ROUND_MS) / dt));
      batch *= 2;
    }
  });
  const rates = impls.map(() => [] as number[]);
  for (let r = 0; r < RUNS; r++) {
    impls.forEach(({ fn, per = 1 }, j) => {
      const t = cpuMs();
      for (let i = 0; i < batches[j]; i++) fn();
      rates[j].push((batches[j] * per * 1000) / (cpuMs() - t));
    });
  }
  const ref = impls.findIndex((i) => i.impl === NODE);
  return impls.map(({ impl }, j) => ({
    op, impl, opsPerSec: median(rates[j]),
    vsNode: ref < 0 || j === ref ? null : median(rates[j].map((x, r) => x / rates[ref][r])),
  }));
}

export async function symBench(): Promise<Row[]> {
  const sm = createRequire(import.meta.url)("sm-crypto");
  const w = loadSymWasmSync();
  const { x } = w;
  const rows: Row[] = [];

  const msg = randomBytes(64), mp = w.put(msg), out = w.alloc(32);
  const group = (op: string, impls: Impl[]) => rows.push(...measureGroup(op, impls));
  group("SM3 64 B", [
    { impl: "wasm", fn: () => x.sm3(mp, 64, out) },
    { impl: NODE, fn: () => createHash("sm3").update(msg).digest() },
  ]);
  group("SHA-256 64 B", [
    { impl: "wasm", fn: () => x.sha256(mp, 64, out) },
    { impl: NODE, fn: () => createHash("sha256").update(msg).digest() },
  ]);
  // batch interface on both sides: MANY messages per wasm call, a loop of one-shot hash()
  const MANY = 256, msgs = Array.from({ length: MANY }, () => randomBytes(64));
  const mmp = w.put(Buffer.concat(msgs)), mout = w.alloc(32 * MANY);
  for (const [op, name, many] of [["SM3 64 B", "sm3", x.sm3Many], ["SHA-256 64 B", "sha256", x.sha256Many]] as const) {
    group(`${op} ×${MANY}`, [
      { impl: "wasm", fn: () => many(mmp, 64, MANY, mout), per: MANY },
      { impl: NODE, fn: () => { for (const m of msgs) nodeHash(name, m, "buffer"); }, per: MANY },
    ]);
  }

  const N = 4096, key = randomBytes(16), iv = randomBytes(16), data = randomBytes(N);
  const kp = w.put(key), ivp = w.put(iv), src = w.put(data), dst = w.alloc(N);
  const arr = Array.from(data), keyHex = key.toString("hex"), ivHex = iv.toString("hex");
  group("SM4-CBC 4 KiB", [
    { impl: "wasm", fn: () => x.cbcEncrypt(SUITE_SM2_SM3_SM4, kp, ivp, src, N, dst) },
    { impl: "sm-crypto", fn: () => sm.sm4.encrypt(arr, keyHex, { mode: "cbc", iv: ivHex, padding: "none", output: "array" }) },
    { impl: NODE, fn: () => createCipheriv("sm4-cbc", key, iv).setAutoPadding(false).update(data) },
  ]);
  // decryption (blocks are independent; the firmware still does one at a time, for size)
  const ct = Array.from(createCipheriv("sm4-cbc", key, iv).setAutoPadding(false).update(data));
  const ctp = w.put(Uint8Array.from(ct));
  group("SM4-CBC decrypt 4 KiB", [
    { impl: "wasm", fn: () => x.cbcDecrypt(SUITE_SM2_SM3_SM4, kp, ivp, ctp, N, dst) },
    { impl: "sm-crypto", fn: () => sm.sm4.decrypt(ct, keyHex, { mode: "cbc", iv: ivHex, padding: "none", output: "array" }) },
  ]);
  group("AES-128-CBC 4 KiB", [
    { impl: "wasm", fn: () => x.cbcEncrypt(SUITE_P256_SHA256_AES128, kp, ivp, src, N, dst) },
    { impl: NODE, fn: () => createCipheriv("aes-128-cbc", key, iv).setAutoPadding(false).update(data) },
  ]);
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
    console.log("operation            implementation  ops/s (median)  wasm ratio  vs node:crypto");
    for (const r of rows) {
      const ratio = r.impl === "wasm" ? "" : `${(wasm.get(r.op)! / r.opsPerSec).toFixed(2)}x`;
      const vs = r.vsNode == null ? "" : `${r.vsNode.toFixed(2)}x`;
      console.log(`${r.op.padEnd(20)} ${r.impl.padEnd(15)} ${Math.round(r.opsPerSec).toString().padStart(14)}  ${ratio.padStart(10)}  ${vs.padStart(14)}`);
    }
    console.log(`crypto-sym-test.wasm: ${symWasmBytes()} bytes`);
  }
}
