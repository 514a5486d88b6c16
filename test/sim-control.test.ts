// wearable-sim control API (HTTP + JSON + SSE on 127.0.0.1) and CLI (issue 5 "Control"):
// verbs, /apdu, /events, errors; the bin's --command mode, start + list/press/power-cut
// from a second process, and `run` exit codes. Devices run the echo test firmware.
import { describe, it, expect, afterEach } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Fleet, type DeviceInfo, type FleetEvent } from "../wearable-sim/src/fleet.ts";
import { startControl, type ControlServer } from "../wearable-sim/src/control.ts";
import { ECHO_FIRMWARE, ECHO_GEOMETRY } from "../wearable-sim/test-fixtures/echo-client.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "wearable-sim/bin/wearable-sim.js");
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function control(): Promise<{ fleet: Fleet; ctl: ControlServer }> {
  const fleet = new Fleet({ firmware: ECHO_FIRMWARE, ...ECHO_GEOMETRY });
  const ctl = await startControl(fleet);
  cleanup.push(async () => {
    await ctl.close();
    await fleet.stop();
  });
  return { fleet, ctl };
}

async function post(url: string, body: unknown = {}) {
  const r = await fetch(url, { method: "POST", body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> & unknown[] };
}

/** Reads SSE `data:` lines until `n` events arrived. */
async function readEvents(url: string, n: number, during: () => Promise<void>): Promise<FleetEvent[]> {
  const ac = new AbortController();
  const res = await fetch(`${url}/events`, { signal: ac.signal });
  const reader = res.body!.getReader();
  const events: FleetEvent[] = [];
  let buf = "";
  await during();
  while (events.length < n) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += Buffer.from(value).toString("utf8");
    let i: number;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const chunk = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (chunk.startsWith("data: ")) events.push(JSON.parse(chunk.slice(6)));
    }
  }
  ac.abort();
  return events;
}

describe("control API", () => {
  it("start, list, press, /apdu, power-cut, reset and errors", async () => {
    const { ctl } = await control();
    const started = await post(`${ctl.url}/devices`, { profile: "watch", count: 2 });
    expect(started.status).toBe(200);
    expect(started.json).toHaveLength(2);
    const serial = (started.json[0] as DeviceInfo).serial;
    const list = (await (await fetch(`${ctl.url}/devices`)).json()) as DeviceInfo[];
    expect(list.map((d) => d.profile)).toEqual(["watch", "watch"]);

    expect((await post(`${ctl.url}/devices/${serial}/press`)).status).toBe(200);
    const confirm = await post(`${ctl.url}/apdu`, { device: serial, hex: "80040100 04 00000010" });
    expect(confirm.json).toMatchObject({ answered: true, hex: "019000", sw: "9000" });

    await post(`${ctl.url}/apdu`, { device: serial, hex: "8006000004 00000007" });
    expect((await post(`${ctl.url}/devices/${serial}/power-cut`, { after: 1, mode: "none" })).status).toBe(200);
    expect((await post(`${ctl.url}/apdu`, { device: serial, hex: "8006000004 00000008" })).json).toEqual({ answered: false });
    const reset = await post(`${ctl.url}/devices/${serial}/reset`);
    expect(reset.json).toMatchObject({ serial, state: "on" });
    expect((await post(`${ctl.url}/apdu`, { device: serial, hex: "80070000" })).json.hex).toBe("00000007000000019000");

    expect(await post(`${ctl.url}/devices/nope/press`)).toMatchObject({ status: 404, json: { error: expect.stringMatching(/^fleet: no single device/) } });
    expect(await post(`${ctl.url}/apdu`, { device: serial, hex: "8" })).toMatchObject({ status: 400 });
    expect(await post(`${ctl.url}/devices/${serial}/power-cut`, { after: 1, mode: "half" })).toMatchObject({ status: 400 });
    expect((await fetch(`${ctl.url}/nothing`)).status).toBe(404);
  });

  it("/events streams device events as SSE", async () => {
    const { ctl } = await control();
    const [d] = (await post(`${ctl.url}/devices`, { profile: "watch" })).json as DeviceInfo[];
    const events = await readEvents(ctl.url, 4, async () => {
      await post(`${ctl.url}/apdu`, { device: d.serial, hex: "80040200 04 000003e8" });
    });
    expect(events.map((e) => e.type)).toEqual(["power", "display", "confirm", "apdu"]);
    expect(events[1]).toMatchObject({ serial: d.serial, amount: 1000, kind: 2 });
  });

  it("/run runs a scenario", async () => {
    const { ctl } = await control();
    const r = await post(`${ctl.url}/run`, {
      devices: [{ name: "a" }, { name: "b", profile: "band" }, { name: "c", profile: "watch" }],
      steps: [{ apdu: "a", hex: "80010000 02 abcd", expect: { data: "abcd", sw: "9000" } }, { press: "c" }, { apdu: "c", hex: "80040000 04 00000001", expect: { data: "01" } }],
      expectEvents: [{ type: "display", device: "c", count: 1 }],
    });
    expect(r.json).toMatchObject({ ok: true, failures: [] });
  });
});

describe("CLI", () => {
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 });

  it("--command starts devices, runs the command against the control API and returns its exit code", () => {
    const script = `const u=process.env.WEARABLE_SIM_URL; const d=JSON.parse(process.env.WEARABLE_SIM_DEVICES);
      fetch(u+'/apdu',{method:'POST',body:JSON.stringify({device:d[1].serial,hex:'8001000001ee'})}).then(r=>r.json()).then(j=>process.exit(j.hex==='ee9000'&&d.length===2?7:1))`;
    const r = cli(["start", "--firmware", ECHO_FIRMWARE, "--count", "2", "--command", `node -e "${script.replace(/"/g, '\\"')}"`]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(7);
  });

  it("start in one process; list, press, power-cut, apdu and stop from others", async () => {
    const state = join(mkdtempSync(join(tmpdir(), "sim-cli-")), "state.json");
    const child = spawn(process.execPath, [BIN, "start", "--firmware", ECHO_FIRMWARE, "--profile", "watch", "--seed", "cli", "--state", state, "--trace"], { cwd: ROOT });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    cleanup.push(async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    });
    for (let i = 0; i < 200 && !existsSync(state); i++) await new Promise((r) => setTimeout(r, 50));
    expect(JSON.parse(readFileSync(state, "utf8")).url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const list = cli(["list", "--json", "--state", state]);
    expect(list.status).toBe(0);
    const [dev] = JSON.parse(list.stdout) as DeviceInfo[];
    expect(dev.profile).toBe("watch");
    expect(cli(["press", "#0", "--state", state]).status).toBe(0);
    const apdu = cli(["apdu", dev.serial.slice(0, 6), "8004010004000000fa", "--state", state]);
    expect(apdu.stdout.trim()).toBe("019000");
    expect(cli(["power-cut", "#0", "--after", "1", "--state", state]).status).toBe(0);
    const cut = cli(["apdu", "#0", "800600000400000001", "--state", state]);
    expect([cut.status, cut.stdout.trim()]).toEqual([1, "(no answer)"]);
    expect(cli(["power-cut", "#0", "--state", state]).status).toBe(2);
    expect(cli(["press", "zzz", "--state", state]).stderr).toMatch(/^wearable-sim: fleet: no single device "zzz"/);
    expect(cli(["stop", "--state", state]).status).toBe(0);
    expect(await exited).toBe(0);
    expect(existsSync(state)).toBe(false);
    // the watch showed the amount in the terminal, and --trace logged APDUs and the power cut
    expect(out).toMatch(new RegExp(`${dev.serial} DISPLAY confirm amount 250`));
    expect(out).toMatch(/APDU 8004010004000000fa -> 019000/);
    expect(out).toMatch(/POWER off \(power-cut\)/);
  });

  it("run: exit 0 on a passing scenario, 1 on a failing one, 2 on usage, one-line errors", () => {
    const ok = cli(["run", join(ROOT, "wearable-sim/scenarios/three-devices-echo.json"), "--firmware", ECHO_FIRMWARE, "--json"]);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true });
    const dir = mkdtempSync(join(tmpdir(), "sim-cli-"));
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ devices: [{ name: "a" }], steps: [{ apdu: "a", hex: "80010000", expect: { sw: "6a82" } }] }));
    const failed = cli(["run", bad, "--firmware", ECHO_FIRMWARE]);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toMatch(/FAILED/);
    const usage = cli(["start", "--count", "x"]);
    expect(usage.status).toBe(2);
    expect(usage.stderr.trim().split("\n")).toHaveLength(1);
    const missing = cli(["run", join(dir, "none.json")]);
    expect([missing.status, missing.stderr.trim()]).toEqual([1, `wearable-sim: cannot read ${join(dir, "none.json")} (ENOENT)`]);
  });
});
