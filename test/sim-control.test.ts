// wearable-sim control API (HTTP + JSON + SSE on 127.0.0.1) and CLI (wearable-sim/README.md "Control API"):
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
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    cleanup.push(async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    });
    for (let i = 0; i < 200 && !existsSync(state); i++) await new Promise((r) => setTimeout(r, 50));
    expect(JSON.parse(readFileSync(state, "utf8")).url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const list = cli(["list", "--json", "--state", state]);
    expect(list.status).toBe(0);
    // the envelope of `wallet --json`
    const listed = JSON.parse(list.stdout) as { ok: boolean; devices: DeviceInfo[] };
    expect(listed.ok).toBe(true);
    const [dev] = listed.devices;
    expect(dev.profile).toBe("watch");
    expect(cli(["press", "#0", "--state", state]).status).toBe(0);
    const apdu = cli(["apdu", dev.serial.slice(0, 6), "8004010004000000fa", "--state", state]);
    // the response's data, then its status word by name
    expect(apdu.stdout.trim()).toBe("01  SW 9000 SW_NO_ERROR");
    const apduJson = JSON.parse(cli(["apdu", "#0", "80010000", "--json", "--state", state]).stdout);
    expect(apduJson).toMatchObject({ ok: true, sw: "9000", swName: "SW_NO_ERROR" });
    // bad hex is a usage error, found before the simulator is asked
    for (const bad of ["80zz", "800", "80"]) {
      const b = cli(["apdu", "#0", bad, "--state", state]);
      expect([b.status, b.stderr.trim().split("\n").length]).toEqual([2, 1]);
      expect(b.stderr).toMatch(/not a command APDU/);
    }
    expect(cli(["power-cut", "#0", "--after", "1", "--state", state]).status).toBe(0);
    const cut = cli(["apdu", "#0", "800600000400000001", "--state", state]);
    expect([cut.status, cut.stdout.trim()]).toEqual([1, "(no answer)"]);
    expect(cli(["power-cut", "#0", "--state", state]).status).toBe(2);
    expect(cli(["press", "zzz", "--state", state]).stderr).toMatch(/^wearable-sim: fleet: no single device "zzz"/);
    const miss = cli(["press", "zzz", "--json", "--state", state]);
    expect(JSON.parse(miss.stdout)).toMatchObject({ ok: false, exitCode: 1, error: expect.stringMatching(/no single device/) });
    // the REST path takes the bare index: no %23 needed
    const url = JSON.parse(readFileSync(state, "utf8")).url as string;
    expect((await post(`${url}/devices/0/press`)).status).toBe(200);
    expect((await fetch(`${url}/ready`)).status).toBe(200);
    expect(cli(["stop", "--state", state]).status).toBe(0);
    expect(await exited).toBe(0);
    expect(existsSync(state)).toBe(false);
    // stdout: the control URL, the devices and the readiness line, never device events;
    // --trace put the watch's display, the APDUs and the power cut on stderr
    expect(out).toMatch(/^ready: 1 device\(s\), control http:/m);
    expect(out).not.toMatch(/DISPLAY|APDU|POWER/);
    expect(err).toMatch(new RegExp(`${dev.serial} DISPLAY confirm amount 250`));
    expect(err).toMatch(/APDU 8004010004000000fa -> 019000/);
    expect(err).toMatch(/POWER off \(power-cut\)/);
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
    // a scenario file that is missing, not JSON or not a scenario is a usage error (2), not a failing scenario (1)
    const missing = cli(["run", join(dir, "none.json")]);
    expect([missing.status, missing.stderr.trim()]).toEqual([2, `wearable-sim: cannot read ${join(dir, "none.json")} (ENOENT) (see wearable-sim --help)`]);
    writeFileSync(join(dir, "notjson.json"), "{steps:");
    writeFileSync(join(dir, "shape.json"), JSON.stringify({ steps: [{ tap: "a", press: "a" }] }));
    writeFileSync(join(dir, "nofw.json"), JSON.stringify({ firmware: "no-such.wasm", steps: [] }));
    for (const f of ["notjson.json", "shape.json", "nofw.json"]) {
      const r = cli(["run", join(dir, f)]);
      expect([f, r.status, r.stderr.trim().split("\n").length]).toEqual([f, 2, 1]);
    }
    // --insert means PC/SC: with another transport it is refused
    const ins = cli(["start", "--insert", "--transport", "serial"]);
    expect([ins.status, ins.stderr]).toEqual([2, expect.stringMatching(/--insert puts a device into a PC\/SC reader/)]);
  });

  it("run: a command step runs a host tool while the devices answer, checks its exit code and output; --junit writes JUnit XML", () => {
    const dir = mkdtempSync(join(tmpdir(), "sim-cli-"));
    const sc = join(dir, "cmd.json");
    writeFileSync(
      sc,
      JSON.stringify({
        name: "host commands",
        devices: [{ name: "a" }],
        steps: [
          { apdu: "a", hex: "80010000 01 ee", expect: { sw: "9000" } },
          { command: "wallet --version", expect: { stdout: "^wallet \\(host-tools\\) \\d" } },
          { command: "echo {serial:a}; node -e 'process.exit(JSON.parse(process.env.WEARABLE_SIM_DEVICES).length === 1 ? 0 : 9)'", expect: { stdout: "^[0-9a-f]{16}" } },
          { command: "wallet devices lst", expect: { exitCode: 2, stderr: "did you mean" } },
          { command: "exit 3" },
        ],
      }),
    );
    const junit = join(dir, "junit.xml");
    const r = cli(["run", sc, "--firmware", ECHO_FIRMWARE, "--junit", junit]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/ok +1 command -> exit 0/);
    expect(r.stdout).toMatch(/ok +3 command -> exit 2/);
    expect(r.stdout).toMatch(/FAIL +4 command -> exit 3: expected exit code 0, got 3/);
    const xml = readFileSync(junit, "utf8");
    expect(xml).toMatch(/^<\?xml/);
    expect(xml).toMatch(/<testsuite name="host commands"[^>]* tests="6" failures="1"/);
    expect(xml).toMatch(/<testcase [^>]*name="step 4 command"[^>]*><failure message="expected exit code 0, got 3"\/>/);
    expect((xml.match(/<testcase /g) ?? []).length).toBe(6);
  });
});
