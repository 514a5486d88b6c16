// Every scenario bundled in wearable-sim/scenarios/ passes as its README documents it
// (`wearable-sim run FILE`, with pcscd + vpcd for the ones that tap a reader: here the
// rig's, found through WALLET_VPCD_PORT and PCSCLITE_CSOCK_NAME), and `wearable-sim start
// --insert` says "ready" only once the reader shows the card.
import { describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runCaptured } from "../../host-tools/src/run-captured.ts";

const root = resolve(import.meta.dirname, "../..");
const BIN = join(root, "wearable-sim/bin/wearable-sim.js");
const scenarios = readdirSync(join(root, "wearable-sim/scenarios")).filter((f) => f.endsWith(".json"));

describe("bundled scenarios", () => {
  it("there are some", () => expect(scenarios.length).toBeGreaterThanOrEqual(4));
  for (const f of scenarios)
    it(`${f} passes`, () => {
      const r = spawnSync(process.execPath, [BIN, "run", join("wearable-sim/scenarios", f)], { cwd: root, encoding: "utf8", timeout: 90_000, env: { ...process.env, WALLET_HOME: mkdtempSync(join(tmpdir(), "scn-")) } });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/: passed \(/);
    });

  it("start --insert: 'ready' once the reader shows the card (--insert means pcsc), and the card is there", async () => {
    const state = join(mkdtempSync(join(tmpdir(), "sim-ready-")), "state.json");
    const child = spawn(process.execPath, [BIN, "start", "--insert", "--quiet", "--state", state], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const exited = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`no ready line: ${out}`)), 20_000);
      child.stdout.on("data", (d) => {
        out += d;
        if (/^ready: 1 device/m.test(out)) (clearTimeout(t), res());
      });
    });
    expect(out.split("\n")[0]).toMatch(/^ready: 1 device\(s\), control http:\/\/127\.0\.0\.1:\d+$/); // --quiet: nothing before it
    const readers = JSON.parse((await runCaptured(["readers", "--json"], process.env)).out);
    expect(readers.status[0]).toMatchObject({ name: "Virtual PCD 00 00", present: true });
    const url = /control (http\S+)/.exec(out)![1];
    expect((await fetch(`${url}/ready`)).status).toBe(200);
    await fetch(`${url}/stop`, { method: "POST" });
    expect(await exited).toBe(0);
  });
});
