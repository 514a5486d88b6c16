// Issuer keystore (DESIGN.md §6, §9): sealing,
// wrong passphrase, tampering with the clear public part, rotation keeping two keys.
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keystore } from "../host-tools/src/keystore.ts";
import { WalletError, EXIT_AUTH } from "../host-tools/src/errors.ts";
import { signRaw, verifyRaw, keyId } from "../host-tools/src/sig.ts";

const dir = mkdtempSync(join(tmpdir(), "host-ks-"));
const PASS = "a long enough passphrase";

describe("keystore", () => {
  it("creates one active key per suite, file mode 0600, secrets not in clear", () => {
    const path = join(dir, "a.json");
    const ks = Keystore.create(path, PASS);
    expect(ks.keys().map((k) => [k.suite, k.status])).toEqual([["sm2", "active"], ["p256", "active"]]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const raw = readFileSync(path, "utf8");
    for (const s of ["sm2", "p256"] as const) {
      const { key } = ks.signingKey(s);
      expect(raw).not.toContain(Buffer.from(key.priv).toString("hex"));
      expect(raw).not.toContain(Buffer.from(ks.scpMasterKeys(s).enc).toString("hex"));
    }
  });

  it("reopens with the passphrase; the keys sign and verify in both suites", () => {
    const path = join(dir, "b.json");
    Keystore.create(path, PASS);
    const ks = Keystore.open(path, PASS);
    for (const s of ["sm2", "p256"] as const) {
      const { kid, key } = ks.signingKey(s);
      expect(Buffer.from(kid)).toEqual(Buffer.from(keyId(key.pub)));
      const msg = new TextEncoder().encode("load 1000");
      const sig = signRaw(s, key, msg);
      expect(sig.length).toBe(64);
      expect(verifyRaw(s, key.pub, msg, sig)).toBe(true);
      sig[5] ^= 1;
      expect(verifyRaw(s, key.pub, msg, sig)).toBe(false);
    }
  });

  it("wrong passphrase is one clear auth error", () => {
    const path = join(dir, "c.json");
    Keystore.create(path, PASS);
    let err: unknown;
    try {
      Keystore.open(path, "not the passphrase");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WalletError);
    expect((err as WalletError).exitCode).toBe(EXIT_AUTH);
    expect((err as WalletError).message).toMatch(/^keystore: wrong passphrase/);
  });

  it("a modified public part (swapped key) makes unlocking fail", () => {
    const path = join(dir, "d.json");
    Keystore.create(path, PASS);
    const f = JSON.parse(readFileSync(path, "utf8"));
    f.public.keys[0].status = "retired";
    writeFileSync(path, JSON.stringify(f));
    expect(() => Keystore.open(path, PASS)).toThrow(/wrong passphrase .*modified/);
  });

  it("rotation makes a new active key and keeps the old ones trusted until retired", () => {
    const path = join(dir, "e.json");
    const ks = Keystore.create(path, PASS);
    const first = ks.signingKey("p256").kid;
    ks.rotate(["p256"]);
    const second = ks.signingKey("p256").kid;
    expect(Buffer.from(second)).not.toEqual(Buffer.from(first));
    expect(ks.trusted("p256").map((k) => k.status)).toEqual(["active", "trusted"]);
    ks.rotate(["p256"]);
    const again = Keystore.open(path, PASS);
    const p = again.keys().filter((k) => k.suite === "p256");
    expect(p.map((k) => k.status)).toEqual(["trusted", "trusted", "active"]);
    // newest first after the active one: what a new device's two slots get
    expect(again.trusted("p256").map((k) => k.kid)).toEqual([p[2].kid, p[1].kid, p[0].kid]);
    expect(() => again.retire(p[2].kid)).toThrow(/active p256 key: rotate first/);
    expect(again.retire(p[0].kid)).toMatchObject({ status: "retired", retiredAt: expect.any(String) });
    expect(again.trustedKeyById(p[0].kid)).toBeNull();
    expect(Keystore.open(path, PASS).keys().filter((k) => k.suite === "p256").map((k) => k.status)).toEqual(["retired", "trusted", "active"]);
    expect(again.trusted("sm2")).toHaveLength(1); // other suite untouched
  });

  it("a keystore written with the old state name \"previous\" opens with it read as \"trusted\"", () => {
    const path = join(dir, "e2.json");
    const ks = Keystore.create(path, PASS);
    ks.rotate(["p256"]);
    // re-seal the file as the old code wrote it: status "previous" in the (authenticated) public part
    const f = JSON.parse(readFileSync(path, "utf8"));
    f.public.keys.forEach((k: { status: string }) => { if (k.status === "trusted") k.status = "previous"; });
    (ks as unknown as { pub: unknown }).pub = f.public;
    ks.save();
    expect(Keystore.readPublic(path).map((k) => k.status)).not.toContain("previous");
    expect(Keystore.open(path, PASS).trusted("p256").map((k) => k.status)).toEqual(["active", "trusted"]);
  });

  it("refuses to overwrite an existing keystore and short passphrases", () => {
    const path = join(dir, "f.json");
    Keystore.create(path, PASS);
    expect(() => Keystore.create(path, PASS)).toThrow(/already exists/);
    expect(() => Keystore.create(join(dir, "g.json"), "short")).toThrow(/at least 8/);
  });
});

describe("host verifiers", () => {
  it("the firmware's SM2 verifier agrees with sm-crypto on good and bad signatures", async () => {
    const { generateKeyPair, signRaw, verifySm2Reference } = await import("../host-tools/src/sig.ts");
    const { wasmVerifier } = await import("../host-tools/src/wasm-verifier.ts");
    const w = wasmVerifier();
    expect(w).not.toBeNull();
    const kp = generateKeyPair("sm2");
    for (let i = 0; i < 10; i++) {
      const msg = new TextEncoder().encode(`voucher ${i}`);
      const sig = signRaw("sm2", kp, msg);
      if (i % 2) sig[i] ^= 0x10;
      expect(w!.verify("sm2", kp.pub, msg, sig)).toBe(verifySm2Reference(kp.pub, msg, sig));
      expect(w!.verify("sm2", kp.pub, msg, sig)).toBe(i % 2 === 0);
    }
  });
});
