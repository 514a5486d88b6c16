// Dual control (host-tools/src/custody.ts): `wallet issuer init
// --custodians 3 --threshold 2` writes three share files, mode 0600; a command that unlocks the
// keystore refuses K−1 shares (and a share given twice, and a share of another keystore) and
// works with any K of them. Also with the keys in a PKCS#11 token (SoftHSM2).
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { runCaptured } from "../host-tools/src/run-captured.ts";
import { initTestToken } from "./support/softhsm.ts";

const token = initTestToken("custody-ca");

function cli(home: string, extra: NodeJS.ProcessEnv = {}) {
  const env = { ...process.env, WALLET_HOME: home, WALLET_PASSPHRASE: "", ...extra };
  return {
    run: (shares: string[], ...argv: string[]) => runCaptured(argv, { ...env, WALLET_SHARES: shares.join(delimiter) }),
  };
}

describe("K-of-N custodians", () => {
  it("init writes N share files 0600; K−1 shares, a repeated share or a foreign one fail; any K succeed", async () => {
    const home = mkdtempSync(join(tmpdir(), "custody-"));
    const { run } = cli(home);
    const init = await run([], "issuer", "init", "--custodians", "3", "--threshold", "2", "--json");
    expect(init.code, init.err).toBe(0);
    const files: string[] = JSON.parse(init.out).shares;
    expect(files).toHaveLength(3);
    for (const f of files) expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(init.out).toMatch(/dual control: 2 of 3 custodian shares unlock the keystore/);
    // the passphrase is no shortcut: without shares nothing unlocks
    const none = await runCaptured(["issuer", "rotate"], { ...process.env, WALLET_HOME: home, WALLET_PASSPHRASE: "any passphrase at all" });
    expect(none.code).toBe(5);
    expect(none.err).toMatch(/needs 2 of its 3 custodian shares/);
    const one = await run([files[0]], "issuer", "rotate");
    expect(one.code).toBe(5);
    expect(one.err).toMatch(/1 distinct custodian share\(s\) given, 2 of 3 needed/);
    const twice = await run([files[1], files[1]], "issuer", "rotate");
    expect(twice.code).toBe(5);
    expect(twice.err).toMatch(/1 distinct custodian share/);
    // a share of another keystore is named as such
    const other = mkdtempSync(join(tmpdir(), "custody-other-"));
    const o = await cli(other).run([], "issuer", "init", "--custodians", "2", "--threshold", "2", "--json");
    expect((await run([files[0], JSON.parse(o.out).shares[0]], "issuer", "rotate")).err).toMatch(/share of another keystore/);
    // an altered share combines to another secret: the keystore refuses it
    const bad = join(home, "bad.share.json");
    const f1 = JSON.parse(readFileSync(files[1], "utf8"));
    f1.share = f1.share.slice(0, 10) + (f1.share[10] === "0" ? "1" : "0") + f1.share.slice(11);
    writeFileSync(bad, JSON.stringify(f1));
    const altered = await run([files[0], bad], "issuer", "rotate");
    expect(altered.code).toBe(5);
    expect(altered.err).toMatch(/wrong passphrase/);
    // any two of the three
    for (const pair of [[0, 1], [0, 2], [2, 1]]) {
      const r = await run(pair.map((i) => files[i]), "issuer", "rotate", "--suite", "p256");
      expect(r.code, `${pair}: ${r.err}`).toBe(0);
    }
    expect((await run(files, "issuer", "export-public")).code).toBe(0);
    const show = await run([], "issuer", "show"); // no secret needed
    expect(show.out).toMatch(/dual control: 2 of 3/);
  });

  it("with the keys in a PKCS#11 token: the shares unlock the file, the token PIN stays its own", async () => {
    const home = mkdtempSync(join(tmpdir(), "custody-token-"));
    const { run } = cli(home, { WALLET_PKCS11_PIN: token.pin, SOFTHSM2_CONF: token.conf });
    const init = await run([], "issuer", "init", "--custodians", "2", "--threshold", "2", "--pkcs11", token.module, "--token-label", "custody-ca", "--json");
    expect(init.code, init.err).toBe(0);
    const files: string[] = JSON.parse(init.out).shares;
    expect((await run([files[0]], "issuer", "rotate")).code).toBe(5);
    const r = await run(files, "issuer", "rotate", "--suite", "p256");
    expect(r.code, r.err).toBe(0);
  });
});
