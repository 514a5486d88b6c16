// `npm run bench:crypto`: the firmware's crypto against the best available alternatives in
// one process (README "Benchmarks"). Elliptic curves here (build/crypto-ec-test.wasm: the
// firmware's sig.ts API with a static I/O area), symmetric rows from bench/crypto-sym.ts.
// Prints a table: operation, implementation, median ops/s, each implementation's ratio to
// node:crypto (median of the per-round ratios: the implementations of an operation run in
// interleaved rounds, measureGroup() of crypto-sym.ts), the firmware's ratio to each
// reference, and the wasm sizes; `--json` prints the same as JSON. Nothing here asserts a
// speed. Verification also runs on the host verifier build (build/verifier.wasm, SPEC §2)
// through its batch entry, BATCH signatures per call, as reconciliation calls it.
// References: node:crypto (OpenSSL 3; SM2 keys imported from DER so OpenSSL really runs
// SM2, see TRAPS.md), @noble/curves p256, sm-crypto (SM2, hash: true, default id).
import { generateKeyPairSync, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, randomBytes } from "node:crypto";
import { statSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { p256 } from "@noble/curves/p256";
import smCryptoLib from "sm-crypto";
import { EcWasm, SM2, P256, hex } from "../test/crypto-ec-harness.ts";
import { symBench, measureGroup, NODE, type Row, type Impl } from "./crypto-sym.ts";
import { WasmVerifier, HOST_VERIFIER_PATH, type SignedItem } from "offline-wallet/host-tools";


const FIRMWARE = "wasm";
const MSG_LEN = 100; // a voucher's Sig_structure is about this size

const HOST = "verifier.wasm batch";
const BATCH = 64;

function ecRows(): Row[] {
  const rows: Row[] = [];
  const group = (op: string, impls: Impl[]) => rows.push(...measureGroup(op, impls));
  const w = new EcWasm();
  const host = WasmVerifier.load(HOST_VERIFIER_PATH);
  const msg = randomBytes(MSG_LEN);
  const smCrypto = smCryptoLib.sm2;
  // BATCH signatures of one key over distinct messages, for the batch verifier
  const batchOf = (suite: number, priv: Uint8Array, pub: Uint8Array): SignedItem[] =>
    Array.from({ length: BATCH }, () => { const m = randomBytes(MSG_LEN); return { pub, msg: m, sig: w.sign(suite, priv, pub, m, randomBytes(32))! }; });
  const hostRow = (suite: "sm2" | "p256", items: SignedItem[]): Impl[] => {
    if (!host) return [];
    if (!host.verifyMany(suite, items).every(Boolean)) throw new Error("bench: verifier.wasm rejects a firmware signature");
    return [{ impl: HOST, fn: () => host.verifyMany(suite, items), per: items.length }];
  };

  // SM2
  const sm = w.keygen(SM2, randomBytes(40))!;
  const rnd = randomBytes(32);
  const smSig = w.sign(SM2, sm.priv, sm.pub, msg, rnd)!;
  const ossl = generateKeyPairSync("ec", { namedCurve: "SM2" });
  const osslPriv = createPrivateKey({ key: ossl.privateKey.export({ type: "pkcs8", format: "der" }), format: "der", type: "pkcs8" });
  const osslPub = createPublicKey({ key: ossl.publicKey.export({ type: "spki", format: "der" }), format: "der", type: "spki" });
  const osslSig = nodeSign("sm3", msg, osslPriv);
  const arr = Array.from(msg), privHex = hex(sm.priv), pubHex = hex(sm.pub), sigHex = hex(smSig);
  group("SM2 sign", [
    { impl: FIRMWARE, fn: () => w.sign(SM2, sm.priv, sm.pub, msg, rnd) },
    { impl: NODE, fn: () => nodeSign("sm3", msg, osslPriv) },
    { impl: "sm-crypto", fn: () => smCrypto.doSignature(arr, privHex, { hash: true, publicKey: pubHex, der: false }) },
  ]);
  group("SM2 verify", [
    { impl: FIRMWARE, fn: () => w.verify(SM2, sm.pub, msg, smSig) },
    ...hostRow("sm2", batchOf(SM2, sm.priv, sm.pub)),
    { impl: NODE, fn: () => nodeVerify("sm3", msg, osslPub, osslSig) },
    { impl: "sm-crypto", fn: () => smCrypto.doVerifySignature(arr, sigHex, pubHex, { hash: true, der: false }) },
  ]);

  // P-256
  const pk = w.keygen(P256, randomBytes(40))!;
  const pkSig = w.sign(P256, pk.priv, pk.pub, msg, rnd)!;
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ecSig = nodeSign("sha256", msg, { key: ec.privateKey, dsaEncoding: "ieee-p1363" });
  if (!p256.verify(pkSig, msg, pk.pub, { prehash: true, lowS: false })) throw new Error("bench: noble rejects the firmware signature");
  // noble hashes with SHA-256 itself (prehash), lowS off to accept OpenSSL-style signatures
  group("P-256 sign", [
    { impl: FIRMWARE, fn: () => w.sign(P256, pk.priv, pk.pub, msg, rnd) },
    { impl: NODE, fn: () => nodeSign("sha256", msg, { key: ec.privateKey, dsaEncoding: "ieee-p1363" }) },
    { impl: "@noble/curves", fn: () => p256.sign(msg, pk.priv, { prehash: true, lowS: false }) },
  ]);
  group("P-256 verify", [
    { impl: FIRMWARE, fn: () => w.verify(P256, pk.pub, msg, pkSig) },
    ...hostRow("p256", batchOf(P256, pk.priv, pk.pub)),
    { impl: NODE, fn: () => nodeVerify("sha256", msg, { key: ec.publicKey, dsaEncoding: "ieee-p1363" }, ecSig) },
    { impl: "@noble/curves", fn: () => p256.verify(pkSig, msg, pk.pub, { prehash: true, lowS: false }) },
  ]);
  return rows;
}

function size(rel: string): number | null {
  const p = fileURLToPath(new URL(rel, import.meta.url));
  return existsSync(p) ? statSync(p).size : null;
}

const rows = [...ecRows(), ...(await symBench())];
const sizes = {
  "firmware.wasm": size("../build/firmware.wasm"),
  "verifier.wasm": size("../build/verifier.wasm"),
  "crypto-ec-test.wasm": size("../build/crypto-ec-test.wasm"),
  "crypto-sym-test.wasm": size("../build/crypto-sym-test.wasm"),
};

// ratio of the firmware's rate to each other implementation of the same operation
const firmwareRate = new Map(rows.filter((r) => r.impl === FIRMWARE).map((r) => [r.op, r.opsPerSec]));
const withRatio = rows.map((r) => ({
  ...r,
  opsPerSec: Math.round(r.opsPerSec),
  vsNode: r.vsNode == null ? null : Number(r.vsNode.toFixed(2)),
  firmwareRatio: r.impl === FIRMWARE ? null : Number((firmwareRate.get(r.op)! / r.opsPerSec).toFixed(2)),
}));

if (process.argv.includes("--json")) {
  console.log(JSON.stringify({ rows: withRatio, wasmBytes: sizes }, null, 1));
} else {
  console.log("operation              implementation        ops/s (median)   vs node:crypto   firmware ratio");
  for (const r of withRatio) {
    const ratio = r.firmwareRatio === null ? "" : `${r.firmwareRatio.toFixed(2)}x`;
    const vs = r.vsNode === null ? "" : `${r.vsNode.toFixed(2)}x`;
    console.log(`${r.op.padEnd(22)} ${r.impl.padEnd(21)} ${String(r.opsPerSec).padStart(14)}   ${vs.padStart(14)}   ${ratio.padStart(14)}`);
  }
  for (const [f, b] of Object.entries(sizes)) console.log(`${f}: ${b === null ? "not built" : `${b} bytes`}`);
}
