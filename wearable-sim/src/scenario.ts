// Scenario scripts for a Fleet (wearable-sim/README.md "Scenarios": `run SCENARIO.json`, a script of taps,
// presses, waits, power cuts against several devices, with expectations). Examples live in
// wearable-sim/scenarios/. Format (JSON):
//   { "name": "…",
//     "devices": [ { "name": "alice", "profile": "card", "serial"?: "16 hex", "transport"?: "serial" } ],
//     "steps": [
//       { "tap": "alice", "reader": "Virtual PCD 00 00" }      (or "reader": 0, a slot; done once the reader shows the card)
//       { "remove": "alice" }
//       { "press": "bob", "times"?: 1 }
//       { "wait": 50 }                                          (milliseconds)
//       { "powerCut": "alice", "after": 2, "mode"?: "none" | "full" | "random" }
//       { "reset": "alice" }  { "powerOn": "alice" }  { "powerOff": "alice" }
//       { "freezeClock": "bob", "at"?: 1700000000 }  { "skewClock": "bob", "seconds": -60 }
//       { "apdu": "alice", "hex": "00a40400…", "expect"?: { "sw"?: "9000", "data"?: "hex", "noAnswer"?: true } }
//       { "expectState": "alice", "state": "on" | "off" | "mute" }
//       { "command": "wallet pos charge 1.00 --reader 'Virtual PCD 00 00' --home h",
//         "expect"?: { "exitCode"?: 0, "stdout"?: "APPROVED", "stderr"?: "regex" }, "timeout"?: 60000 } ],
//     "firmware"?: "../../build/echo-firmware.wasm"   (relative to the scenario file; `--firmware` wins)
//     "expectEvents"?: [ { "type": "display", "device"?: "carol", "count"?: 1, "min"?: 1, "where"?: { "amount": 500 } } ] }
// Devices are named by scenario name, serial, serial prefix or "#index". A step that fails
// stops the run; the result lists every step with its outcome and every event seen.
// A `command` step runs a host command in a shell while the devices keep answering (it is
// not awaited synchronously): `wallet` and `wearable-sim` are on its PATH, "{serial:NAME}"
// in it (and in its expectations) becomes that device's serial, and WEARABLE_SIM_DEVICES holds the device list (JSON).
// `expect.exitCode` defaults to 0; stdout/stderr are regular expressions.
import type { Fleet, FleetEvent } from "./fleet.ts";
import type { DeviceState } from "./device.ts";
import type { TearMode } from "./flash.ts";
import type { ProfileName } from "./profiles.ts";
import type { TransportKind } from "./transports/index.ts";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ScenarioDevice {
  name: string;
  profile?: ProfileName;
  serial?: string;
  transport?: TransportKind;
  slot?: number;
}

export type Step =
  | { tap: string; reader: string | number }
  | { remove: string }
  | { press: string; times?: number }
  | { wait: number }
  | { powerCut: string; after: number; mode?: TearMode }
  | { reset: string }
  | { powerOn: string }
  | { powerOff: string }
  | { freezeClock: string; at?: number }
  | { skewClock: string; seconds: number }
  | { apdu: string; hex: string; expect?: { sw?: string; data?: string; noAnswer?: boolean } }
  | { expectState: string; state: DeviceState }
  | { command: string; expect?: { exitCode?: number; stdout?: string; stderr?: string }; timeout?: number };

export interface EventExpectation {
  type: string;
  device?: string;
  /** exact number of matching events */
  count?: number;
  /** at least this many (default 1 when count is absent) */
  min?: number;
  /** fields the event must have, compared with JSON equality */
  where?: Record<string, unknown>;
}

export interface Scenario {
  name?: string;
  /** firmware file for every device, relative to the scenario file (default: the real firmware) */
  firmware?: string;
  devices?: ScenarioDevice[];
  steps: Step[];
  expectEvents?: EventExpectation[];
}

export interface StepResult {
  index: number;
  verb: string;
  ok: boolean;
  /** response of an apdu step, hex; of a command step, its exit code and output */
  response?: string;
  stdout?: string;
  stderr?: string;
  error?: string;
  ms: number;
}

export interface ScenarioResult {
  name: string;
  ok: boolean;
  steps: StepResult[];
  failures: string[];
  events: FleetEvent[];
}

const VERBS = ["tap", "remove", "press", "wait", "powerCut", "reset", "powerOn", "powerOff", "freezeClock", "skewClock", "apdu", "expectState", "command"] as const;
type Verb = (typeof VERBS)[number];

function verbOf(step: Step, index: number): Verb {
  const found = VERBS.filter((v) => v in step);
  if (found.length !== 1) throw new TypeError(`scenario: step ${index} must have exactly one verb of ${VERBS.join(", ")} (has ${found.join(", ") || "none"})`);
  return found[0];
}

/** Checks the shape of a parsed scenario; throws `scenario: …` naming the first problem. */
export function validateScenario(s: unknown): Scenario {
  const sc = s as Scenario;
  if (!sc || typeof sc !== "object" || !Array.isArray(sc.steps)) throw new TypeError("scenario: expected an object with a steps array");
  if (sc.devices !== undefined && !Array.isArray(sc.devices)) throw new TypeError("scenario: devices must be an array");
  for (const [i, d] of (sc.devices ?? []).entries()) {
    if (typeof d?.name !== "string" || !d.name) throw new TypeError(`scenario: device ${i} needs a name`);
  }
  sc.steps.forEach((step, i) => {
    const v = verbOf(step, i);
    if (v === "command") {
      const c = step as { command: unknown; expect?: { stdout?: unknown; stderr?: unknown } };
      if (typeof c.command !== "string" || !c.command.trim()) throw new TypeError(`scenario: step ${i}: command must be a non-empty string`);
      for (const k of ["stdout", "stderr"] as const) {
        const re = c.expect?.[k];
        if (re === undefined) continue;
        try {
          new RegExp(String(re));
        } catch {
          throw new TypeError(`scenario: step ${i}: expect.${k} is not a regular expression`);
        }
      }
    }
    if (v === "apdu" && !/^([0-9a-f]{2})+$/.test(normHex(String((step as { hex: unknown }).hex ?? ""))))
      throw new TypeError(`scenario: step ${i}: hex must be an even number of hex digits`);
  });
  if (sc.firmware !== undefined && typeof sc.firmware !== "string") throw new TypeError("scenario: firmware must be a file path");
  return sc;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const normHex = (h: string) => h.replace(/[\s:]/g, "").toLowerCase();

function matches(e: FleetEvent, x: EventExpectation, serialOf: (id: string) => string): boolean {
  if (e.type !== x.type) return false;
  if (x.device !== undefined && e.serial !== serialOf(x.device)) return false;
  for (const [k, v] of Object.entries(x.where ?? {})) if (JSON.stringify(e[k]) !== JSON.stringify(v)) return false;
  return true;
}

const ROOT = new URL("../..", import.meta.url).pathname;

/** A directory with `wallet` and `wearable-sim` links, for a command step's PATH. */
let binDir: string | undefined;
function toolBin(): string {
  if (binDir) return binDir;
  binDir = mkdtempSync(join(tmpdir(), "wearable-sim-bin-"));
  symlinkSync(join(ROOT, "host-tools/bin/wallet.js"), join(binDir, "wallet"));
  symlinkSync(join(ROOT, "wearable-sim/bin/wearable-sim.js"), join(binDir, "wearable-sim"));
  const dir = binDir;
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return binDir;
}

const tail = (s: string) => (s.length > 400 ? `…${s.slice(-400)}` : s).trim().replace(/\s+/g, " ");

async function runCommandStep(fleet: Fleet, step: { command: string; expect?: { exitCode?: number; stdout?: string; stderr?: string }; timeout?: number }, r: StepResult): Promise<void> {
  const subst = (t: string) => t.replace(/\{serial:([^}]+)\}/g, (_m, id: string) => fleet.get(id).device.serial);
  const command = subst(step.command);
  const want = { stdout: step.expect?.stdout && subst(step.expect.stdout), stderr: step.expect?.stderr && subst(step.expect.stderr) };
  const env = { ...process.env, PATH: `${toolBin()}:${process.env.PATH ?? ""}`, WEARABLE_SIM_DEVICES: JSON.stringify(fleet.list()) };
  const timeout = step.timeout ?? 60_000;
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(command, { shell: true, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
    child.on("close", (c, sig) => {
      clearTimeout(timer);
      resolve({ code: sig ? null : c, stdout: out, stderr: err + (sig ? `\n(killed after ${timeout} ms)` : "") });
    });
    child.on("error", (e) => resolve({ code: null, stdout: out, stderr: String(e) }));
  });
  r.response = `exit ${code ?? "killed"}`;
  r.stdout = stdout;
  r.stderr = stderr;
  const wantCode = step.expect?.exitCode ?? 0;
  if (code !== wantCode) throw new Error(`expected exit code ${wantCode}, got ${code ?? "none (killed)"}${stderr ? `: ${tail(stderr)}` : ""}`);
  if (want.stdout !== undefined && !new RegExp(want.stdout, "m").test(stdout)) throw new Error(`stdout does not match /${want.stdout}/: ${tail(stdout)}`);
  if (want.stderr !== undefined && !new RegExp(want.stderr, "m").test(stderr)) throw new Error(`stderr does not match /${want.stderr}/: ${tail(stderr)}`);
}

async function runStep(fleet: Fleet, step: Step, verb: Verb, r: StepResult): Promise<void> {
  const s = step as Record<string, unknown> & Step;
  const id = String(s[verb]);
  switch (verb) {
    case "command":
      return runCommandStep(fleet, step as Parameters<typeof runCommandStep>[1], r);
    case "tap": {
      // a tap is done once the reader shows the card (pcscd read its ATR): the next step can use it
      await fleet.tap(id, (step as { reader: string | number }).reader);
      const serial = fleet.get(id).device.serial;
      if ((await fleet.ready(5000)).includes(serial)) throw new Error("the reader did not see the device within 5 s (is pcscd with vpcd running?)");
      return;
    }
    case "remove":
      return fleet.remove(id);
    case "press":
      for (let i = 0; i < ((step as { times?: number }).times ?? 1); i++) fleet.press(id);
      return;
    case "wait":
      return sleep(Number(s.wait));
    case "powerCut": {
      const { after, mode } = step as { after: number; mode?: TearMode };
      return fleet.powerCut(id, after, mode);
    }
    case "reset":
      return fleet.reset(id);
    case "powerOn":
      return fleet.powerOn(id);
    case "powerOff":
      return fleet.powerOff(id);
    case "freezeClock":
      return fleet.get(id).device.freezeClock((step as { at?: number }).at);
    case "skewClock":
      return fleet.get(id).device.skewClock((step as { seconds: number }).seconds);
    case "expectState": {
      const want = (step as { state: DeviceState }).state;
      const got = fleet.get(id).device.state;
      if (got !== want) throw new Error(`expected state ${want}, device is ${got}`);
      return;
    }
    case "apdu": {
      const { hex, expect } = step as { hex: string; expect?: { sw?: string; data?: string; noAnswer?: boolean } };
      const res = fleet.apdu(id, Uint8Array.from(Buffer.from(normHex(hex), "hex")));
      r.response = res && Buffer.from(res).toString("hex");
      if (expect?.noAnswer) {
        if (res) throw new Error(`expected no answer, got ${r.response}`);
        return;
      }
      if (!res) throw new Error("device did not answer");
      const sw = r.response!.slice(-4);
      if (expect?.sw !== undefined && sw !== normHex(expect.sw)) throw new Error(`expected SW ${normHex(expect.sw)}, got ${sw}`);
      if (expect?.data !== undefined && r.response!.slice(0, -4) !== normHex(expect.data)) throw new Error(`expected data ${normHex(expect.data)}, got ${r.response!.slice(0, -4)}`);
      return;
    }
  }
}

export async function runScenario(fleet: Fleet, input: Scenario): Promise<ScenarioResult> {
  const sc = validateScenario(input);
  const events: FleetEvent[] = [];
  const collect = (e: FleetEvent) => events.push(e);
  fleet.on("event", collect);
  const result: ScenarioResult = { name: sc.name ?? "scenario", ok: true, steps: [], failures: [], events };
  try {
    for (const d of sc.devices ?? []) {
      const exists = [...fleet.members.values()].some((m) => m.name === d.name);
      if (!exists) await fleet.start({ name: d.name, profile: d.profile, serial: d.serial, transport: d.transport, slot: d.slot });
    }
    for (const [index, step] of sc.steps.entries()) {
      const verb = verbOf(step, index);
      const r: StepResult = { index, verb, ok: true, ms: 0 };
      const t = performance.now();
      try {
        await runStep(fleet, step, verb, r);
      } catch (e) {
        r.ok = false;
        r.error = (e as Error).message;
        result.failures.push(`step ${index} (${verb}): ${r.error}`);
      }
      r.ms = performance.now() - t;
      result.steps.push(r);
      if (!r.ok) break;
    }
    // faults (aborts, traps) are firmware failures unless the scenario expects them
    const serialOf = (id: string) => fleet.get(id).device.serial;
    const expectsFault = (sc.expectEvents ?? []).some((x) => x.type === "fault");
    if (!expectsFault) for (const e of events) if (e.type === "fault" && e.kind !== "clock") result.failures.push(`unexpected fault on ${e.serial}: ${e.message}`);
    for (const x of sc.expectEvents ?? []) {
      const n = events.filter((e) => matches(e, x, serialOf)).length;
      const want = x.count !== undefined ? `exactly ${x.count}` : `at least ${x.min ?? 1}`;
      const ok = x.count !== undefined ? n === x.count : n >= (x.min ?? 1);
      if (!ok) result.failures.push(`expected ${want} ${x.type} event(s)${x.device ? ` from ${x.device}` : ""}${x.where ? ` with ${JSON.stringify(x.where)}` : ""}, saw ${n}`);
    }
  } finally {
    fleet.off("event", collect);
  }
  result.ok = result.failures.length === 0;
  return result;
}
