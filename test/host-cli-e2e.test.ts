// The `wallet` CLI end to end on simulated devices kept in flash image files (--sim):
// every command once, as a bank, a merchant and the back office would run them —
// issuer init/rotate/export-public, personalize, load, pos init/charge/export, transfer,
// sync, reconcile, report, devices list/show/alias/limits/revoke/unrevoke, audit verify.
import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCaptured } from "../host-tools/src/run-captured.ts";

const home = mkdtempSync(join(tmpdir(), "host-e2e-"));
const env = { ...process.env, WALLET_PASSPHRASE: "e2e passphrase!", WALLET_HOME: home };
const img = (n: string) => join(home, `${n}.img`);

async function ok(...argv: string[]) {
  const r = await runCaptured([...argv, "--json"], env);
  expect(r.code, `${argv.join(" ")}: ${r.err}`).toBe(0);
  return JSON.parse(r.out);
}
async function fails(code: number, ...argv: string[]) {
  const r = await runCaptured(argv, env);
  expect(r.code, `${argv.join(" ")}: ${r.err}`).toBe(code);
  expect(r.err.trim().split("\n")).toHaveLength(1);
  return r.err;
}

describe("wallet CLI on simulated devices", () => {
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    await ok("issuer", "init");
    for (const [name, suite, form] of [["alice", "p256", "card"], ["bob", "p256", "band"], ["carol", "sm2", "watch"]]) {
      const r = await ok("personalize", "--sim", img(name), "--create", "--profile", form, "--account", `6222-${name}`, "--suite", suite, "--form", form, "--pin", "2468", "--alias", name);
      ids[name] = r.devices[0].deviceId;
    }
  });

  it("registry, loads, and the cap enforced by the tool", async () => {
    const list = await ok("devices", "list");
    expect(list.devices.map((d: { alias: string }) => d.alias).sort()).toEqual(["alice", "bob", "carol"]);
    expect((await ok("load", "alice", "400.00", "--sim", img("alice"))).balance).toBe(40_000);
    await ok("load", "bob", "100.00", "--sim", img("bob"));
    await ok("load", "carol", "100.00", "--sim", img("carol"));
    expect(await fails(7, "load", "alice", "700.00", "--sim", img("alice"))).toMatch(/would exceed the cap 1000\.00/);
    // the device presented must be the one named
    expect(await fails(7, "load", "alice", "1.00", "--sim", img("bob"))).toMatch(/not alice/);
  });

  it("POS: init with the exported trust, charges, PIN above no-CVM, export twice is harmless", async () => {
    await ok("issuer", "export-public", "--out", join(home, "trust.json"));
    await ok("pos", "init", "--merchant", "00000000000000e1", "--trust", join(home, "trust.json"), "--terminal", "shop-1");
    const p1 = await ok("pos", "charge", "12.00", "--sim", img("alice"));
    expect(p1).toMatchObject({ approved: true, amount: 1200, deviceId: ids.alice, counter: 1 });
    expect(await fails(7, "pos", "charge", "60.00", "--sim", img("alice"))).toMatch(/declined by the device: PAY: 6982 .*REASON_HOLDER/);
    await ok("pos", "charge", "60.00", "--sim", img("alice"), "--pin", "2468");
    await ok("pos", "charge", "5.00", "--sim", img("carol"));
    const e1 = await ok("pos", "export", "--out", join(home, "e1.json"));
    const e2 = await ok("pos", "export", "--out", join(home, "e2.json"));
    expect([e1.vouchers, e2.vouchers]).toEqual([3, 3]);
    const r = await ok("reconcile", join(home, "e1.json"), join(home, "e2.json"));
    expect(r.result.newVouchers).toBe(3);
    expect(r.result.duplicates).toBe(3);
    expect(r.summary.merchants).toEqual([{ payee: "00000000000000e1", vouchers: 3, settled: 7700, pending: 0, held: 0 }]);
  });

  it("transfer between two devices, then sync both; their logs reconcile without fraud", async () => {
    const t = await ok("transfer", "25.00", "--from", `sim:${img("bob")},band`, "--to", `sim:${img("alice")},card`);
    expect(t).toMatchObject({ from: ids.bob, to: ids.alice, amount: 2500, payerBalance: 7500 });
    for (const n of ["alice", "bob", "carol"]) {
      const s = await ok("sync", "--sim", img(n), "--out", join(home, `${n}-log.json`));
      expect(s.reconcile.newFraudCases).toEqual([]);
    }
    expect(JSON.parse(readFileSync(join(home, "alice-log.json"), "utf8")).entries.length).toBeGreaterThan(2);
    const rep = await ok("report");
    expect(rep.summary.fraudCases).toBe(0);
    expect(rep.summary.devices.find((d: { deviceId: string }) => d.deviceId === ids.alice).received).toBe(2500);
  });

  it("revocation reaches the POS through export-public; alias and limits; audit intact", async () => {
    const v = await ok("devices", "revoke", "carol");
    expect(v.revocationVersion).toBe(1);
    await ok("issuer", "export-public", "--out", join(home, "trust2.json"));
    await ok("pos", "init", "--merchant", "00000000000000e1", "--trust", join(home, "trust2.json"), "--terminal", "shop-1");
    expect(await fails(7, "pos", "charge", "1.00", "--sim", img("carol"))).toMatch(/revocation list/);
    await ok("devices", "unrevoke", "carol");
    await ok("devices", "alias", "carol", "carol-watch");
    const lim = await ok("devices", "limits", "carol-watch", "--max-payment", "50.00");
    expect(lim.pendingLimits.maxPayment).toBe(5000);
    const s = await ok("sync", "--sim", img("carol"));
    expect(s.newLimits.maxPayment).toBe(5000);
    const show = await ok("devices", "show", "carol-watch");
    expect(show.device).toMatchObject({ alias: "carol-watch", revoked: false, pendingLimits: null });
    expect((await ok("audit", "verify")).ok).toBe(true);
  });

  it("rotation: a device personalized after it carries a certificate under the new key", async () => {
    const before = (await ok("issuer", "show")).keys.filter((k: { suite: string }) => k.suite === "p256");
    await ok("issuer", "rotate", "--suite", "p256");
    const keys = (await ok("issuer", "show")).keys.filter((k: { suite: string }) => k.suite === "p256");
    expect(keys.map((k: { status: string }) => k.status)).toEqual(["trusted", "active"]);
    const d = await ok("personalize", "--sim", img("dave"), "--create", "--account", "6222-dave", "--suite", "p256", "--form", "card", "--alias", "dave");
    await ok("load", "dave", "10.00", "--sim", img("dave"));
    await ok("issuer", "export-public", "--out", join(home, "trust3.json"));
    await ok("pos", "init", "--merchant", "00000000000000e1", "--trust", join(home, "trust3.json"));
    // old and new certificates both accepted: the previous key stays trusted
    await ok("pos", "charge", "1.00", "--sim", img("dave"));
    await ok("pos", "charge", "1.00", "--sim", img("alice"));
    // a device personalized before the rotation knows only the old key: its loads and
    // acks are still signed with the key that issued its certificate
    await ok("load", "alice", "1.00", "--sim", img("alice"));
    await ok("sync", "--sim", img("alice"));
    expect(d.devices[0].deviceId).toMatch(/^[0-9a-f]{16}$/);
    expect(before).toHaveLength(1);
  });
});
