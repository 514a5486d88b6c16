// Loads build/crypto-sym-test.wasm (firmware/assembly/crypto/test-sym.ts) for the symmetric
// crypto and SCP03 tests, with a bump allocator over the module's static scratch area so
// tests can place inputs in linear memory and read outputs back. Builds the wasm if missing.
import { readFileSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { randomFillSync } from "node:crypto";
import { partialHw, wasmImports, type HwImports } from "../../protocol/src/hw.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WASM = `${ROOT}build/crypto-sym-test.wasm`;

type Fn = (...args: number[]) => number;
export type SymExports = Record<string, Fn> & { memory: WebAssembly.Memory };

export interface SymWasm {
  x: SymExports;
  /** constant exported as a wasm global (e.g. SM3_CTX_SIZE) */
  k(name: string): number;
  /** copy bytes into scratch, return their address */
  put(bytes: Uint8Array): number;
  /** reserve n zeroed scratch bytes */
  alloc(n: number): number;
  get(ptr: number, len: number): Uint8Array;
  /** forget all scratch allocations */
  reset(): void;
  /** replace the TRNG behind the `hw.random` import (SPEC §2); null = node:crypto random bytes */
  setRandom(fill: ((out: Uint8Array) => void) | null): void;
}

export function loadSymWasmSync(): SymWasm {
  if (!existsSync(WASM)) {
    const r = spawnSync(process.execPath, [`${ROOT}scripts/build-firmware.mjs`], { cwd: ROOT, stdio: "inherit" });
    if (r.status !== 0) throw new Error("crypto-sym-wasm: firmware build failed");
  }
  const mod = new WebAssembly.Module(readFileSync(WASM));
  let fill: ((out: Uint8Array) => void) | null = null;
  // only `random` of the hardware interface is used (scp03.ts card challenge)
  const hw: HwImports = partialHw("crypto-sym-wasm", {
    random(dst: number, len: number) {
      const out = new Uint8Array(x.memory.buffer, dst >>> 0, len >>> 0);
      if (fill) fill(out); else randomFillSync(out);
    },
  });
  const inst = new WebAssembly.Instance(mod, wasmImports({ hw }));
  const x = inst.exports as unknown as SymExports;
  const base = x.scratch() >>> 0;
  const size = x.scratchSize();
  let top = base;
  const mem = () => new Uint8Array(x.memory.buffer);
  const alloc = (n: number) => {
    const p = top;
    top += (n + 15) & ~15;
    if (top > base + size) throw new RangeError("crypto-sym-wasm: scratch exhausted");
    mem().fill(0, p, p + n);
    return p;
  };
  return {
    x,
    k: (name) => ((inst.exports[name] as WebAssembly.Global).value as number),
    put(bytes) {
      const p = alloc(bytes.length);
      mem().set(bytes, p);
      return p;
    },
    alloc,
    get: (ptr, len) => mem().slice(ptr, ptr + len),
    reset() { top = base; },
    setRandom(f) { fill = f; },
  };
}

export { hex, unhex } from "../../protocol/src/bytes.ts";
