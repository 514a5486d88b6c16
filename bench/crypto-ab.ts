// `npx tsx bench/crypto-ab.ts A.wasm B.wasm [...]`: the same EC operations on two or more
// builds of the firmware's crypto in one process, in interleaved rounds (measureGroup of
// crypto-sym.ts), so a change is judged against its baseline under the same machine load
// (README "Benchmarks"). Either every file is a crypto-ec-test build (test-ec.ts: sign and
// verify rows) or all are host verifier builds (verifier-host.ts: batch verify rows). Prints each
// build's median ops/s and its median per-round ratio to the first file. Nothing asserts
// a speed.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { EcWasm, SM2, P256 } from "../test/crypto-ec-harness.ts";
import { measureGroup, NODE, type Impl } from "./crypto-sym.ts";
import { WasmVerifier, type SignedItem } from "offline-wallet/host-tools";

const BATCH = 64;
const MSG_LEN = 100;
const paths = process.argv.slice(2);
if (paths.length < 2 || paths.some((p) => !existsSync(p))) {
  console.error("usage: npx tsx bench/crypto-ab.ts A.wasm B.wasm [...] (existing files; the first is the baseline)");
  process.exit(2);
}
// the signer: the first crypto-ec-test build given, else build/crypto-ec-test.wasm
const load = (p: string): EcWasm | WasmVerifier => {
  try { return new EcWasm(p); } catch { return WasmVerifier.load(p) ?? (() => { throw new Error(`crypto-ab: ${p} is neither build`); })(); }
};
const builds = paths.map(load);
if (!builds.every((b) => b instanceof EcWasm) && !builds.every((b) => b instanceof WasmVerifier)) {
  console.error("crypto-ab: give builds of one kind (all crypto-ec-test builds or all host verifier builds)");
  process.exit(2);
}
const signer = builds.find((b): b is EcWasm => b instanceof EcWasm) ?? new EcWasm();
const msg = randomBytes(MSG_LEN), rnd = randomBytes(32);
// measureGroup's ratios are to the implementation named NODE: here that is the baseline
const name = (i: number) => (i === 0 ? NODE : paths[i]);
const report = (rows: ReturnType<typeof measureGroup>) => {
  for (const r of rows) {
    const vs = r.vsNode == null ? "baseline" : `${r.vsNode.toFixed(3)}x`;
    console.log(`${r.op.padEnd(14)} ${(r.impl === NODE ? paths[0] : r.impl).padEnd(44)} ${String(Math.round(r.opsPerSec)).padStart(8)}  ${vs}`);
  }
};
for (const [label, suite, id] of [["SM2", SM2, "sm2"], ["P-256", P256, "p256"]] as const) {
  const k = signer.keygen(suite, randomBytes(40))!;
  const sig = signer.sign(suite, k.priv, k.pub, msg, rnd)!;
  const items: SignedItem[] = Array.from({ length: BATCH }, () => {
    const m = randomBytes(MSG_LEN);
    return { pub: k.pub, msg: m, sig: signer.sign(suite, k.priv, k.pub, m, randomBytes(32))! };
  });
  const signs: Impl[] = [], verifies: Impl[] = [];
  builds.forEach((b, i) => {
    if (b instanceof EcWasm) {
      if (!signer.verify(suite, k.pub, msg, b.sign(suite, k.priv, k.pub, msg, rnd)!)) throw new Error(`crypto-ab: ${paths[i]} signs wrongly`);
      if (!b.verify(suite, k.pub, msg, sig)) throw new Error(`crypto-ab: ${paths[i]} rejects a signature`);
      signs.push({ impl: name(i), fn: () => b.sign(suite, k.priv, k.pub, msg, rnd) });
      verifies.push({ impl: name(i), fn: () => b.verify(suite, k.pub, msg, sig) });
    } else {
      if (!b.verifyMany(id, items).every(Boolean)) throw new Error(`crypto-ab: ${paths[i]} rejects a signature`);
      verifies.push({ impl: name(i), fn: () => b.verifyMany(id, items), per: BATCH });
    }
  });
  if (signs.length > 1) report(measureGroup(`${label} sign`, signs));
  if (verifies.length > 1) report(measureGroup(`${label} verify`, verifies));
}
