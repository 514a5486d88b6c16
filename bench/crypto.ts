// `npm run bench:crypto`: the firmware's crypto against the best available alternatives in
// one process (README "Benchmarks"). Elliptic curves here (build/crypto-ec-test.wasm: the
// firmware's sig.ts API with a static I/O area), symmetric rows from bench/crypto-sym.ts.
// Prints a table: operation, implementation, median ops/s, ratio of the firmware to each
// reference, and the wasm sizes; `--json` prints the same as JSON. Figures are medians of
// several timed runs (measure() of crypto-sym.ts); nothing here asserts a speed.
// References: node:crypto (OpenSSL 3; SM2 keys imported from DER so OpenSSL really runs
// SM2, see TRAPS.md), @noble/curves p256, sm-crypto (SM2, hash: true, default id).
import { generateKeyPairSync, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, randomBytes } from "node:crypto";
import { statSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { p256 } from "@noble/curves/p256";
import smCryptoLib from "sm-crypto";
import { EcWasm, SM2, P256, hex } from "../test/crypto-ec-harness.ts";
import { symBench, measure, type Row } from "./crypto-sym.ts";


const FIRMWARE = "wasm";
const MSG_LEN = 100; // a voucher's Sig_structure is about this size

function ecRows(measure: (fn: () => void) => number): Row[] {
  const rows: Row[] = [];
  const add = (op: string, impl: string, fn: () => void) => rows.push({ op, impl, opsPerSec: measure(fn) });
  const w = new EcWasm();
  const msg = randomBytes(MSG_LEN);
  const smCrypto = smCryptoLib.sm2;

  // SM2
  const sm = w.keygen(SM2, randomBytes(40))!;
  const rnd = randomBytes(32);
  const smSig = w.sign(SM2, sm.priv, sm.pub, msg, rnd)!;
  add("SM2 sign", FIRMWARE, () => w.sign(SM2, sm.priv, sm.pub, msg, rnd));
  add("SM2 verify", FIRMWARE, () => w.verify(SM2, sm.pub, msg, smSig));
  const ossl = generateKeyPairSync("ec", { namedCurve: "SM2" });
  const osslPriv = createPrivateKey({ key: ossl.privateKey.export({ type: "pkcs8", format: "der" }), format: "der", type: "pkcs8" });
  const osslPub = createPublicKey({ key: ossl.publicKey.export({ type: "spki", format: "der" }), format: "der", type: "spki" });
  const osslSig = nodeSign("sm3", msg, osslPriv);
  add("SM2 sign", "node:crypto", () => nodeSign("sm3", msg, osslPriv));
  add("SM2 verify", "node:crypto", () => nodeVerify("sm3", msg, osslPub, osslSig));
  const arr = Array.from(msg), privHex = hex(sm.priv), pubHex = hex(sm.pub), sigHex = hex(smSig);
  add("SM2 sign", "sm-crypto", () => smCrypto.doSignature(arr, privHex, { hash: true, publicKey: pubHex, der: false }));
  add("SM2 verify", "sm-crypto", () => smCrypto.doVerifySignature(arr, sigHex, pubHex, { hash: true, der: false }));

  // P-256
  const pk = w.keygen(P256, randomBytes(40))!;
  const pkSig = w.sign(P256, pk.priv, pk.pub, msg, rnd)!;
  add("P-256 sign", FIRMWARE, () => w.sign(P256, pk.priv, pk.pub, msg, rnd));
  add("P-256 verify", FIRMWARE, () => w.verify(P256, pk.pub, msg, pkSig));
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ecSig = nodeSign("sha256", msg, { key: ec.privateKey, dsaEncoding: "ieee-p1363" });
  add("P-256 sign", "node:crypto", () => nodeSign("sha256", msg, { key: ec.privateKey, dsaEncoding: "ieee-p1363" }));
  add("P-256 verify", "node:crypto", () => nodeVerify("sha256", msg, { key: ec.publicKey, dsaEncoding: "ieee-p1363" }, ecSig));
  // noble hashes with SHA-256 itself (prehash), lowS off to accept OpenSSL-style signatures
  add("P-256 sign", "@noble/curves", () => p256.sign(msg, pk.priv, { prehash: true, lowS: false }));
  add("P-256 verify", "@noble/curves", () => p256.verify(pkSig, msg, pk.pub, { prehash: true, lowS: false }));
  if (!p256.verify(pkSig, msg, pk.pub, { prehash: true, lowS: false })) throw new Error("bench: noble rejects the firmware signature");
  return rows;
}

function size(rel: string): number | null {
  const p = fileURLToPath(new URL(rel, import.meta.url));
  return existsSync(p) ? statSync(p).size : null;
}

const rows = [...ecRows(measure), ...(await symBench())];
const sizes = {
  "firmware.wasm": size("../build/firmware.wasm"),
  "crypto-ec-test.wasm": size("../build/crypto-ec-test.wasm"),
  "crypto-sym-test.wasm": size("../build/crypto-sym-test.wasm"),
};

// ratio of the firmware's rate to each other implementation of the same operation
const firmwareRate = new Map(rows.filter((r) => r.impl === FIRMWARE).map((r) => [r.op, r.opsPerSec]));
const withRatio = rows.map((r) => ({
  ...r,
  opsPerSec: Math.round(r.opsPerSec),
  firmwareRatio: r.impl === FIRMWARE ? null : Number((firmwareRate.get(r.op)! / r.opsPerSec).toFixed(2)),
}));

if (process.argv.includes("--json")) {
  console.log(JSON.stringify({ rows: withRatio, wasmBytes: sizes }, null, 1));
} else {
  console.log("operation              implementation   ops/s (median)   firmware ratio");
  for (const r of withRatio) {
    const ratio = r.firmwareRatio === null ? "" : `${r.firmwareRatio.toFixed(2)}x`;
    console.log(`${r.op.padEnd(22)} ${r.impl.padEnd(16)} ${String(r.opsPerSec).padStart(14)}   ${ratio}`);
  }
  for (const [f, b] of Object.entries(sizes)) console.log(`${f}: ${b === null ? "not built" : `${b} bytes`}`);
}
