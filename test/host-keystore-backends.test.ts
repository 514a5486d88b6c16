// One suite, two keystore backends (keystore.ts IssuerKeystore): the file
// keystore, and a PKCS#11 token (a private SoftHSM2 token: test/support/softhsm.ts) holding the
// P-256 CA keys and SCP03 master keys. Personalization (P-256 cards and an SM2 band), loads,
// POS payments, a rotation followed by syncs (the key update signed in the token), and
// reconciliation pass the same way with both, on the real firmware.wasm, which refuses a
// high-S issuer signature (SPEC §5.1): every P-256 document the token signs goes through it.
// Then what only the token backend has: keys non-extractable, the token's AES-CMAC
// diversification equal to protocol/src/scp03.ts byte for byte, low-S, the PIN, the CLI.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SUITE_P256_SHA256_AES128 } from "../protocol/portable/suite.ts";
import { CERT_SCHEMA, decodeSigned, type DeviceCert } from "../protocol/src/formats.ts";
import { diversifyKeys, diversifyKeysWith } from "../protocol/src/scp03.ts";
import { SimChannel } from "../host-tools/src/channels/sim.ts";
import { Device } from "../wearable-sim/src/index.ts";
import { load, personalize, posCharge, sync, type PersonalizeRequest, type PosPayment } from "../host-tools/src/flows.ts";
import { Keystore, type IssuerKeystore } from "../host-tools/src/keystore.ts";
import { TokenKeystore } from "../host-tools/src/keystore-pkcs11.ts";
import { SqliteLedger } from "../host-tools/src/ledger/sqlite.ts";
import { parseInput, reconcile, POS_EXPORT_FORMAT } from "../host-tools/src/reconcile.ts";
import { CURRENCY_CNY, DEFAULT_LIMITS } from "../host-tools/src/synthetic.ts";
import { hex } from "../host-tools/src/docs.ts";
import { verifyRaw, type SuiteName } from "../host-tools/src/sig.ts";
import { runCaptured } from "../host-tools/src/run-captured.ts";
import { deviceIssuerSlots, ledgerKeys, posTrust } from "../host-tools/src/trust.ts";
import { initTestToken } from "./support/softhsm.ts";

const dir = mkdtempSync(join(tmpdir(), "ks-backends-"));
const PASS = "backends passphrase";
const token = initTestToken("bank-ca");
const token2 = initTestToken("cli-ca");
const MERCHANT = Uint8Array.from(Buffer.from("00000000000000f6", "hex"));
const N_HALF = (0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n - 1n) / 2n;
let n = 0;
const req = (suite: SuiteName, formFactor: "card" | "band"): PersonalizeRequest => ({
  account: `6225${++n}`, suite, formFactor, currency: CURRENCY_CNY, limits: DEFAULT_LIMITS, pin: "1234",
});
const inspect = (mode: string, ...args: string[]) =>
  JSON.parse(execFileSync(process.execPath, [join(import.meta.dirname, "support", "softhsm-inspect.mjs"), token.module, token.label, token.pin, mode, ...args], { env: { ...process.env, SOFTHSM2_CONF: token.conf } }).toString());

const backends: [string, () => IssuerKeystore][] = [
  ["file", () => Keystore.create(join(dir, "file.json"), PASS)],
  ["pkcs11", () => TokenKeystore.create(join(dir, "token.json"), PASS, { module: token.module, tokenLabel: token.label, pin: token.pin })],
];

describe.each(backends)("%s keystore: personalize, load, POS, rotate + sync, reconcile", (backend, make) => {
  it("the same money path passes: 0 rejected, 0 fraud cases", async () => {
    const ks = make();
    expect(ks.backend).toBe(backend);
    const ledger = SqliteLedger.open(join(dir, `${backend}.sqlite`));
    const devices = [["p256", "card"], ["p256", "card"], ["sm2", "band"]].map(([suite, form]) => {
      const d = new Device({ profile: form as "card" | "band", seed: `${backend}-${++n}`, autoConfirm: "accept" });
      d.powerOn();
      return { d, suite: suite as SuiteName, form: form as "card" | "band" };
    });
    const ids: string[] = [];
    for (const x of devices) ids.push((await personalize(new SimChannel(x.d), ks, ledger, req(x.suite, x.form))).deviceId);
    for (const x of devices) await load(new SimChannel(x.d), ks, ledger, 10_000);
    const outbox: PosPayment[] = [];
    const pay = async (amount: number) => {
      const cfg = { merchant: MERCHANT, currency: CURRENCY_CNY, ...posTrust(ks.keys(), []) };
      for (const x of devices) outbox.push(await posCharge(new SimChannel(x.d), cfg, amount, { store: () => undefined }));
    };
    await pay(300);
    for (const x of devices) await sync(new SimChannel(x.d), ks, ledger);
    // rotation: the next sync carries the new key, signed by the key the device holds
    const added = ks.rotate(["p256"]);
    await ledger.putIssuerKeys(ledgerKeys(ks.keys()));
    for (const x of devices) await sync(new SimChannel(x.d), ks, ledger);
    for (const id of ids.slice(0, 2)) expect(await deviceIssuerSlots(ledger, (await ledger.device(id))!)).toContain(added[0].kid);
    await pay(200);
    for (const x of devices) await load(new SimChannel(x.d), ks, ledger, 1_000); // signed with the new key
    const f = join(dir, `${backend}-pos.json`);
    writeFileSync(f, JSON.stringify({ format: POS_EXPORT_FORMAT, version: 1, terminal: "t", merchant: hex(MERCHANT), exportedAt: "x", vouchers: outbox.map((p) => ({ cose: hex(p.voucher), receivedAt: "x" })) }));
    const r = await reconcile(ledger, [parseInput(f)]);
    expect(r.rejected).toBe(0);
    expect(r.newFraudCases).toEqual([]);
    const sum = await ledger.summary();
    expect(sum.fraudCases).toBe(0);
    expect(sum.settledToMerchants).toBe(3 * 500);
    expect(sum.loaded).toBe(3 * 11_000);
    // a P-256 certificate names a key of this backend
    const cert = decodeSigned<DeviceCert>((await ledger.device(ids[0]))!.cert!, CERT_SCHEMA);
    expect(ks.keys().map((k) => k.kid)).toContain(hex(cert.sign1.kid));
    ks.close();
    await ledger.close();
  });
});

describe("PKCS#11 backend (SoftHSM2)", () => {
  it("the P-256 CA keys and SCP03 master keys are in the token, sensitive, never extractable; the file has no P-256 secret", () => {
    const objs = inspect("attrs") as { class: number; label: string; sensitive?: boolean; extractable?: boolean; valueReadable?: boolean }[];
    const secret = objs.filter((o) => o.sensitive !== undefined);
    expect(secret.map((o) => o.label).sort()).toEqual(["wallet-ca-p256", "wallet-ca-p256", "wallet-scp-p256-dek", "wallet-scp-p256-enc", "wallet-scp-p256-mac"]);
    for (const o of secret) expect(o, o.label).toMatchObject({ sensitive: true, extractable: false, valueReadable: false });
    const file = Keystore.open(join(dir, "token.json"), PASS);
    expect(() => file.signingKey("p256")).toThrow(/is in the token bank-ca, not in this file/);
    expect(() => file.scpMasterKeys("p256")).toThrow(/in the token bank-ca/);
    expect(file.signingKey("sm2").key.priv).toHaveLength(32); // SM2 stays in the file
    expect(JSON.parse(readFileSync(join(dir, "token.json"), "utf8")).public.pkcs11).toMatchObject({ tokenLabel: "bank-ca", suites: ["p256"] });
  });

  it("diversification by the token's CKM_AES_CMAC is protocol/src/scp03.ts diversifyKeys, byte for byte", () => {
    const master = Buffer.from("404142434445464748494a4b4c4d4e4f", "hex");
    const serial = Buffer.from("0102030405060708", "hex");
    const inputs: string[] = [];
    const record = (d: Uint8Array) => (inputs.push(hex(d)), new Uint8Array(16));
    diversifyKeysWith({ enc: record, mac: record, dek: record }, serial);
    const macs = inspect("cmac", hex(master), ...inputs) as string[];
    const soft = diversifyKeys({ enc: master, mac: master, dek: master }, serial, SUITE_P256_SHA256_AES128);
    expect(macs).toEqual([hex(soft.enc), hex(soft.mac), hex(soft.dek)]);
  });

  it("token signatures are low-S (s ≤ n/2) and verify; a wrong PIN is an auth error", () => {
    const ks = TokenKeystore.open(join(dir, "token.json"), PASS, token.pin);
    const s = ks.signer("p256");
    for (let i = 0; i < 40; i++) {
      const msg = Buffer.from(`document ${i}`);
      const sig = s.sign!(msg);
      expect(BigInt("0x" + hex(sig.subarray(32)))).toBeLessThanOrEqual(N_HALF);
      expect(verifyRaw("p256", Buffer.from(ks.trusted("p256")[0].pub, "hex"), msg, sig)).toBe(true);
    }
    ks.close();
    expect(() => TokenKeystore.open(join(dir, "token.json"), PASS, "000000")).toThrow(/login to token "bank-ca" refused/);
  });

  it("CLI: issuer init --pkcs11 and issuer show say in one line that SM2 stays in the file; personalize, load, sync run through the token", async () => {
    const t2 = token2;
    const home = mkdtempSync(join(tmpdir(), "ks-cli-"));
    const env = { ...process.env, WALLET_PASSPHRASE: PASS, WALLET_HOME: home, WALLET_PKCS11_PIN: t2.pin, SOFTHSM2_CONF: t2.conf };
    const run = (...argv: string[]) => runCaptured(argv, env);
    const init = await run("issuer", "init", "--pkcs11", t2.module, "--token-label", "cli-ca");
    expect(init.code, init.err).toBe(0);
    const sm2Line = /^SM2: the token offers no SM2 or SM4 mechanism; the SM2 CA key and the SM2 SCP03 master keys stay in the keystore file/m;
    expect(init.out).toMatch(sm2Line);
    const show = await run("issuer", "show");
    expect(show.out).toMatch(sm2Line);
    expect(show.out).toMatch(/in PKCS#11 token "cli-ca"/);
    const img = join(home, "a.img");
    for (const argv of [
      ["personalize", "--sim", img, "--create", "--account", "6225-cli", "--suite", "p256", "--form", "card", "--alias", "a"],
      ["load", "a", "10.00", "--sim", img],
      ["issuer", "rotate", "--suite", "p256"],
      ["sync", "--sim", img],
      ["load", "a", "1.00", "--sim", img],
    ]) {
      const r = await run(...argv);
      expect(r.code, `${argv.join(" ")}: ${r.err}`).toBe(0);
    }
    const noPin = await runCaptured(["issuer", "rotate"], { ...env, WALLET_PKCS11_PIN: "" });
    expect(noPin.code).not.toBe(0);
    expect(noPin.err).toMatch(/no token PIN \(set WALLET_PKCS11_PIN/);
  });
});
