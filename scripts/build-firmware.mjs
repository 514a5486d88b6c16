// Builds the AssemblyScript firmware with asc, using asconfig.json's targets.
// Each entry of TARGETS is one module; later work adds entries (for example an
// instrumented crypto build). A target is rebuilt only when a source is newer.
// Then the reconciliation worker bundle (scripts/build-worker.mjs), also when stale.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { buildWorkerBundle, WORKER_OUT } from "./build-worker.mjs";

const ROOT = new URL("..", import.meta.url).pathname;

export const TARGETS = [
  // release firmware: what ships in every card and wearable
  { entry: "firmware/assembly/index.ts", target: "release", out: "build/firmware.wasm" },
  // host-only: the signature verifier alone (SPEC §2 verifier API plus a batch entry), with
  // larger tables and memory than the firmware can afford; host-tools/src/wasm-verifier.ts
  { entry: "firmware/assembly/crypto/verifier-host.ts", target: "host", out: "build/verifier.wasm", flags: ["--use", "HOST_VERIFIER=1"] },
  // test-only: the symmetric crypto primitives and SCP03 with their raw exports (test/crypto-sym*, test/scp03*)
  { entry: "firmware/assembly/crypto/test-sym.ts", target: "release", out: "build/crypto-sym-test.wasm" },
  // test-only: elliptic-curve crypto with raw exports (test/crypto-ec*, bench/crypto.ts)
  { entry: "firmware/assembly/crypto/test-ec.ts", target: "release", out: "build/crypto-ec-test.wasm" },
  // test-only: the same, instrumented to hash its field-operation schedule (test/crypto-ct*)
  { entry: "firmware/assembly/crypto/test-ec.ts", target: "release", out: "build/crypto-ec-trace.wasm", flags: ["--use", "EC_TRACE=1"] },
  // test-only echo firmware: the wearable-sim Device tests run against it (SPEC §2 imports)
  { entry: "wearable-sim/test-fixtures/echo-firmware.ts", target: "release", out: "build/echo-firmware.wasm" },
  // test-only: the flash record store with raw exports (test/store-*, test/support/store-wasm.ts)
  { entry: "firmware/assembly/store/test-store.ts", target: "release", out: "build/store-test.wasm", textFile: "build/store-test.wat" },
];

function newestSource(dirs) {
  let t = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith(".ts") || p.endsWith(".json") || p.endsWith(".mjs")) t = Math.max(t, statSync(p).mtimeMs);
    }
  };
  for (const d of dirs) if (existsSync(join(ROOT, d))) walk(join(ROOT, d));
  for (const f of ["asconfig.json", "scripts/build-firmware.mjs"]) t = Math.max(t, statSync(join(ROOT, f)).mtimeMs);
  return t;
}

const force = process.argv.includes("--force");
// --release: only what ships (build/firmware.wasm) and the host verifier the CLIs use
// (build/verifier.wasm), for the demo and the CLIs; tests build all
const only = process.argv.includes("--release") ? TARGETS.slice(0, 2) : TARGETS;
const src = newestSource(["firmware/assembly", "protocol/portable", "wearable-sim/test-fixtures"]);
mkdirSync(join(ROOT, "build"), { recursive: true });
const asc = join(ROOT, "node_modules/assemblyscript/bin/asc.js");
for (const t of only) {
  const out = join(ROOT, t.out);
  if (!force && existsSync(out) && statSync(out).mtimeMs > src) continue;
  const args = [asc, t.entry, "--config", "asconfig.json", "--target", t.target, "--outFile", t.out, ...(t.flags ?? [])];
  if (t.textFile) args.push("--textFile", t.textFile);
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`build-firmware: asc failed for ${t.entry} (${t.target})`);
    process.exit(1);
  }
  console.error(`build-firmware: ${t.out} ${statSync(out).size} bytes`);
}
if (buildWorkerBundle(ROOT, force)) console.error(`build-firmware: ${WORKER_OUT} ${statSync(join(ROOT, WORKER_OUT)).size} bytes`);
