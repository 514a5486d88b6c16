// Operator tools over real pcscd + vpcd (host-tools/README.md "Commands"): `wallet readers` shows the card and its
// ATR per reader (like `opensc-tool -l`), `wallet card info --reader`, and a batch
// personalized on two readers at once (`--reader A --reader B`): an operator (this test)
// puts a card into a reader when the CLI asks for one there and takes it out when told;
// the report stays in batch order and every row is done once.
import { afterAll, describe, expect, inject, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runCaptured } from "../../host-tools/src/run-captured.ts";
import { Fleet } from "../../wearable-sim/src/fleet.ts";

const root = resolve(import.meta.dirname, "../..");
const home = mkdtempSync(join(tmpdir(), "host-cli-readers-"));
const env = { ...process.env, WALLET_PASSPHRASE: "readers test passphrase", WALLET_HOME: home };
const R0 = "Virtual PCD 00 00";
const R1 = "Virtual PCD 00 01";

describe("wallet readers, card info and multi-reader batches through pcscd", () => {
  const rig = inject("rig");
  const fleet = new Fleet({ seed: "cli-readers", vpcdBasePort: rig.vpcdPort });
  afterAll(async () => {
    await fleet.stop();
  });

  it("readers: card present and ATR per reader; card info over PC/SC", async () => {
    const [dev] = await fleet.start({ profile: "card", name: "blank", transport: "pcsc" });
    await fleet.tap("blank", 0);
    expect(await fleet.ready(5000)).toEqual([]);
    const r = await runCaptured(["readers", "--json"], env);
    expect(r.code, r.err).toBe(0);
    const atr = Buffer.from(dev.atr).toString("hex");
    const st = JSON.parse(r.out).status as { name: string; present: boolean; atr: string }[];
    expect(st.find((x) => x.name === R0)).toMatchObject({ present: true, atr });
    expect(st.find((x) => x.name === R1)).toMatchObject({ present: false, atr: "" });
    const text = (await runCaptured(["readers"], env)).out;
    expect(text).toMatch(new RegExp(`^0 +yes +${R0} +${atr.replace(/(..)(?!$)/g, "$1:")}$`, "m"));
    expect(text).toMatch(new RegExp(`^1 +no +${R1}$`, "m"));
    const info = await runCaptured(["card", "info", "--reader", R0], env);
    expect(info.code, info.err).toBe(0);
    expect(info.out).toMatch(/^lifecycle +blank/m);
    await fleet.remove("blank");
  });

  it("a batch on two readers at once: each card personalized once, the report in batch order, both readers used", async () => {
    expect((await runCaptured(["issuer", "init"], env)).code).toBe(0);
    const csv = join(home, "cards.csv");
    const accounts = Array.from({ length: 4 }, (_, i) => `622202000000${String(i + 1).padStart(4, "0")}`);
    writeFileSync(csv, `account,alias\n${accounts.map((a, i) => `${a},card${i + 1}`).join("\n")}\n`);
    await fleet.start({ profile: "card", count: 4, name: "p", transport: "pcsc" });
    // the operator: a card into the reader that asks for one, out when it says so
    let nextCard = 0;
    const inReader = new Map<string, string>();
    let inNow = 0;
    let most = 0;
    const act: Promise<void>[] = [];
    const onLine = (line: string) => {
      const ask = /^personalize: (Virtual PCD 00 0[01]): present card/.exec(line);
      const done = /^personalize: (Virtual PCD 00 0[01]): remove the card/.exec(line);
      if (ask) {
        const card = `p${nextCard++}`;
        inReader.set(ask[1], card);
        most = Math.max(most, ++inNow);
        act.push(fleet.tap(card, ask[1]));
      }
      if (done) {
        inNow--;
        act.push(fleet.remove(inReader.get(done[1])!));
      }
    };
    const report = join(home, "report.json");
    const child = spawn(process.execPath, [join(root, "host-tools/bin/wallet.js"), "personalize", csv, "--reader", R0, "--reader", "Virtual PCD 00 01", "--progress", "--report", report, "--wait", "20"], {
      cwd: root, env, stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    let buf = "";
    child.stderr.on("data", (d) => {
      err += d;
      buf += d;
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    child.stdout.resume();
    const code = await new Promise<number | null>((res) => child.on("exit", (c) => res(c)));
    await Promise.all(act);
    expect(code, err).toBe(0);
    const rep = JSON.parse(readFileSync(report, "utf8"));
    expect(rep).toMatchObject({ personalized: 4, failed: 0, notAttempted: 0 });
    expect(rep.devices.map((d: { row: number; account: string }) => [d.row, d.account])).toEqual(accounts.map((a, i) => [i + 1, a]));
    expect(new Set(rep.devices.map((d: { deviceId: string }) => d.deviceId)).size).toBe(4);
    expect(new Set(rep.devices.map((d: { reader: string }) => d.reader))).toEqual(new Set([R0, R1]));
    // the two readers worked at the same time: a card was asked for in one while the other had one
    expect(most).toBe(2);
    expect(err).toMatch(/card inserted/);
    expect(err).toMatch(/ETA \d+:\d\d/);
    const mailer = readFileSync(`${csv}.pins.csv`, "utf8").trim().split("\n");
    expect(mailer).toHaveLength(5);
    const list = JSON.parse((await runCaptured(["devices", "list", "--json"], env)).out);
    expect(list.devices.map((d: { alias: string }) => d.alias).sort()).toEqual(["card1", "card2", "card3", "card4"]);
  });
});
