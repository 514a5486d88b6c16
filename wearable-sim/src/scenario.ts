// Scenario scripts for a Fleet (issue 5 "Control": `run SCENARIO.json`, a script of taps,
// presses, waits, power cuts against several devices, with expectations). Examples live in
// wearable-sim/scenarios/. Format (JSON):
//   { "name": "…",
//     "devices": [ { "name": "alice", "profile": "card", "serial"?: "16 hex", "transport"?: "serial" } ],
//     "steps": [
//       { "tap": "alice", "reader": "Virtual PCD 00 00" }      (or "reader": 0, a slot)
//       { "remove": "alice" }
//       { "press": "bob", "times"?: 1 }
//       { "wait": 50 }                                          (milliseconds)
//       { "powerCut": "alice", "after": 2, "mode"?: "none" | "full" | "random" }
//       { "reset": "alice" }  { "powerOn": "alice" }  { "powerOff": "alice" }
//       { "freezeClock": "bob", "at"?: 1700000000 }  { "skewClock": "bob", "seconds": -60 }
//       { "apdu": "alice", "hex": "00a40400…", "expect"?: { "sw"?: "9000", "data"?: "hex", "noAnswer"?: true } }
//       { "expectState": "alice", "state": "on" | "off" | "mute" } ],
//     "expectEvents"?: [ { "type": "display", "device"?: "carol", "count"?: 1, "min"?: 1, "where"?: { "amount": 500 } } ] }
// Devices are named by scenario name, serial, serial prefix or "#index". A step that fails
// stops the run; the result lists every step with its outcome and every event seen.
import type { Fleet, FleetEvent } from "./fleet.ts";
import type { DeviceState } from "./device.ts";
import type { TearMode } from "./flash.ts";
import type { ProfileName } from "./profiles.ts";
import type { TransportKind } from "./transports/index.ts";

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
  | { expectState: string; state: DeviceState };

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
  devices?: ScenarioDevice[];
  steps: Step[];
  expectEvents?: EventExpectation[];
}

export interface StepResult {
  index: number;
  verb: string;
  ok: boolean;
  /** response of an apdu step, hex */
  response?: string;
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

const VERBS = ["tap", "remove", "press", "wait", "powerCut", "reset", "powerOn", "powerOff", "freezeClock", "skewClock", "apdu", "expectState"] as const;
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
  sc.steps.forEach((step, i) => verbOf(step, i));
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

async function runStep(fleet: Fleet, step: Step, verb: Verb, r: StepResult): Promise<void> {
  const s = step as Record<string, unknown> & Step;
  const id = String(s[verb]);
  switch (verb) {
    case "tap":
      return fleet.tap(id, (step as { reader: string | number }).reader);
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
