// host-tools over the real rig (DESIGN.md §7): the `wallet` CLI personalizes a batch
// of 20 simulated cards presented one after the other in the vpcd reader of the rig's
// pcscd, loads one and takes a POS payment through the same reader; a card pulled out
// mid-session is one clear device error; the serial channel over a socat pty.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Fleet } from "../../wearable-sim/src/fleet.ts";
import { runCaptured } from "../../host-tools/src/run-captured.ts";
import { PcscChannel } from "../../host-tools/src/channels/pcsc.ts";
import { SerialChannel } from "../../host-tools/src/channels/serial.ts";
import { WalletCard } from "../../host-tools/src/card.ts";
import { SELECT_OFF_DEVICE_ID } from "../../protocol/portable/apdu.ts";
import { SELECT_WALLET } from "../../wearable-sim/test-fixtures/wallet-apdus.ts";
import Database from "better-sqlite3";
import { existsSync } from "node:fs";
import { LC_MANUFACTURED } from "../../protocol/portable/lifecycle.ts";
import type { Device } from "../../wearable-sim/src/device.ts";

const CARDS = 20;
const home = mkdtempSync(join(tmpdir(), "host-pcsc-"));
const env = { ...process.env, WALLET_PASSPHRASE: "integration passphrase", WALLET_HOME: home };

const wallet = (...argv: string[]) => runCaptured(argv, env);

/** The device id a device announces in its SELECT answer. */
const deviceIdOf = (d: Device) => {
  const r = d.transmit(SELECT_WALLET);
  return Buffer.from(r.subarray(SELECT_OFF_DEVICE_ID, SELECT_OFF_DEVICE_ID + 8)).toString("hex");
};

/** Resolves once the HOST has recorded the device as active (it has FINALIZE's answer). */
async function hostDone(ledgerPath: string, deviceId: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(ledgerPath)) {
      const db = new Database(ledgerPath, { readonly: true, fileMustExist: true });
      try {
        const row = db.prepare("SELECT state FROM devices WHERE device_id = ?").get(deviceId) as { state: string } | undefined;
        if (row?.state === "active") return;
      } catch {
        // schema not there yet
      } finally {
        db.close();
      }
    }
    if (Date.now() > end) throw new Error(`host never finished ${deviceId}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("wallet over real pcscd + vpcd", () => {
  const rig = inject("rig");
  const reader = rig.readers[0];
  const fleet = new Fleet({ vpcdBasePort: rig.vpcdPort, seed: "host-pcsc", autoConfirm: "accept" });
  let cards: Device[] = [];

  beforeAll(async () => {
    expect((await wallet("issuer", "init")).code).toBe(0);
    cards = await fleet.start({ profile: "card", count: CARDS, transport: "pcsc", name: "card" });
  });
  afterAll(() => fleet.stop());

  it(`personalizes a batch of ${CARDS} cards presented one by one in the reader`, async () => {
    const csv = join(home, "batch.csv");
    writeFileSync(csv, "account,suite,form,pin\n" + cards.map((_, i) => `62220000${String(i).padStart(4, "0")},${i % 2 ? "sm2" : "p256"},card,${1000 + i}`).join("\n") + "\n");
    const run = wallet("personalize", csv, "--reader", reader, "--json", "--report", join(home, "report.json"));
    for (const [i, d] of cards.entries()) {
      d.powerOn();
      const id = deviceIdOf(d);
      d.powerOff();
      await fleet.tap(`card${i}`, reader);
      await hostDone(join(home, "ledger.sqlite"), id);
      await fleet.remove(`card${i}`);
    }
    const r = await run;
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.personalized).toBe(CARDS);
    expect(rep.failed).toBe(0);
    expect(JSON.parse(readFileSync(join(home, "report.json"), "utf8")).devices).toHaveLength(CARDS);
    const list = JSON.parse((await wallet("devices", "list", "--json")).out);
    expect(list.devices.filter((d: { state: string }) => d.state === "active")).toHaveLength(CARDS);
    expect(cards.every((d) => d.aborts === 0)).toBe(true);
  });

  it("loads a card and takes a POS payment through the reader; export + reconcile settle it", async () => {
    await fleet.tap("card0", reader);
    const dev = JSON.parse((await wallet("devices", "list", "--json")).out).devices[0].deviceId as string;
    const l = await wallet("load", dev, "300.00", "--reader", reader);
    expect(l.code, l.err).toBe(0);
    expect((await wallet("issuer", "export-public", "--out", join(home, "trust.json"))).code).toBe(0);
    expect((await wallet("pos", "init", "--merchant", "00000000000000c3", "--trust", join(home, "trust.json"))).code).toBe(0);
    const p = await wallet("pos", "charge", "25.00", "--reader", reader);
    expect(p.code, p.err).toBe(0);
    expect(p.out).toMatch(/^APPROVED {2}25\.00/);
    await fleet.remove("card0");
    expect((await wallet("pos", "export", "--out", join(home, "export.json"))).code).toBe(0);
    const rec = JSON.parse((await wallet("reconcile", join(home, "export.json"), "--json")).out);
    expect(rec.summary.merchants).toEqual([{ payee: "00000000000000c3", vouchers: 1, settled: 2500, pending: 0, held: 0 }]);
    expect(rec.summary.fraudCases).toBe(0);
  });

  it("a card pulled out of the reader mid-session is one clear device error", async () => {
    await fleet.tap("card1", reader);
    const ch = await PcscChannel.open({ reader });
    try {
      const card = new WalletCard(ch);
      await card.select();
      await fleet.remove("card1");
      await new Promise((r) => setTimeout(r, 700)); // pcscd polls vpcd about twice a second
      const err = await card.status().catch((e) => e);
      expect((err as Error).message).toMatch(/^pcsc: .*(card removed|present the card again)/);
    } finally {
      await ch.close();
    }
  });

  it("a missing reader is a device error naming it", async () => {
    const r = await wallet("sync", "--reader", "No Such Reader", "--wait", "1");
    expect(r.code).toBe(3);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/reader "No Such Reader" not found/);
  });
});

describe("wallet over a serial pty", () => {
  it("SELECT and GET STATUS through the protocol's serial framing", async () => {
    const fleet = new Fleet({ seed: "host-serial" });
    try {
      const [d] = await fleet.start({ profile: "watch", transport: "serial", name: "w" });
      const ch = await SerialChannel.open(fleet.get("w").transport!.endpoint);
      try {
        const card = new WalletCard(ch);
        const sel = await card.select();
        expect(sel.lifecycle).toBe(LC_MANUFACTURED);
        expect((await card.status()).deviceId).toEqual(sel.deviceId);
      } finally {
        await ch.close();
      }
      expect(d.aborts).toBe(0);
    } finally {
      await fleet.stop();
    }
  });
});
