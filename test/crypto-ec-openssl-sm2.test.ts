// A third, independent SM2 implementation: the OpenSSL 3 command line verifies the
// firmware's SM2 signatures with the default user id (GB/T 32918.2 Z_A over
// "1234567812345678"), which node:crypto cannot (its SM2 uses an empty id, TRAPS.md).
// Signatures go to OpenSSL DER-encoded (SEC 1 §C.5 Ecdsa-Sig-Value), keys as SPKI.
import { describe, it, expect, beforeAll } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicKey } from "node:crypto";
import { EcWasm, SM2 } from "./crypto-ec-harness.ts";
import { SeededBytes } from "./crypto-ec-diff.ts";

// SubjectPublicKeyInfo prefix for an SM2 key (id-ecPublicKey, curve 1.2.156.10197.1.301)
const SPKI_SM2 = Buffer.from("3059301306072a8648ce3d020106082a811ccf5501822d034200", "hex");
const derInt = (b: Uint8Array) => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = Buffer.from(b.subarray(i));
  const body = v[0] & 0x80 ? Buffer.concat([Buffer.of(0), v]) : v;
  return Buffer.concat([Buffer.of(0x02, body.length), body]);
};
const derSig = (sig: Uint8Array) => {
  const body = Buffer.concat([derInt(sig.subarray(0, 32)), derInt(sig.subarray(32))]);
  return Buffer.concat([Buffer.of(0x30, body.length), body]);
};

let w: EcWasm;
let dir: string;
beforeAll(() => {
  w = new EcWasm();
  dir = mkdtempSync(join(tmpdir(), "ec-openssl-"));
  return () => rmSync(dir, { recursive: true, force: true });
});

function opensslVerifies(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  const pem = createPublicKey({ key: Buffer.concat([SPKI_SM2, pub]), format: "der", type: "spki" }).export({ type: "spki", format: "pem" });
  writeFileSync(join(dir, "pub.pem"), pem);
  writeFileSync(join(dir, "msg"), msg);
  writeFileSync(join(dir, "sig"), derSig(sig));
  const r = spawnSync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", join(dir, "pub.pem"), "-rawin", "-digest", "sm3",
    "-pkeyopt", "distid:1234567812345678", "-in", join(dir, "msg"), "-sigfile", join(dir, "sig")], { encoding: "utf8" });
  return r.status === 0 && /Signature Verified Successfully/.test(r.stdout);
}

describe("firmware SM2 signatures verify with the OpenSSL CLI (default user id)", () => {
  it("openssl is there", () => {
    expect(execFileSync("openssl", ["version"], { encoding: "utf8" })).toMatch(/^OpenSSL 3/);
  });
  it("40 seeded signatures verify, altered messages do not", () => {
    const rnd = new SeededBytes("openssl-sm2");
    for (let i = 0; i < 40; i++) {
      const kp = w.keygen(SM2, rnd.take(40))!;
      const msg = rnd.take(1 + rnd.int(300));
      const sig = w.sign(SM2, kp.priv, kp.pub, msg, rnd.take(32))!;
      expect(opensslVerifies(kp.pub, msg, sig), `case ${i}`).toBe(true);
      if (i % 4 === 0) {
        const bad = Uint8Array.from(msg); bad[0] ^= 1;
        expect(opensslVerifies(kp.pub, bad, sig), `altered case ${i}`).toBe(false);
      }
    }
  });
});
