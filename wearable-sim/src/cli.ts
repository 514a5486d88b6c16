// `wearable-sim` CLI (wearable-sim/README.md "Commands"). `start` runs a fleet in the foreground with the
// control API on 127.0.0.1 and writes its URL to a state file; `list`, `tap`, `remove`,
// `press`, `power-cut`, `reset`, `apdu`, `stop` talk to that running simulator over the
// control API; `run SCENARIO.json` runs a scenario in its own process; `--command "…"`
// starts the devices, runs the command with WEARABLE_SIM_URL set, stops everything and
// exits with the command's code (for CI). Errors: one line, non-zero exit, no stack.
import { parseArgs } from "node:util";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { swName } from "../../protocol/src/sw.ts";
import { Fleet, traceLine, type DeviceInfo, type FleetEvent, type StartSpec } from "./fleet.ts";
import { startControl } from "./control.ts";
import { runScenario, validateScenario, type ScenarioResult } from "./scenario.ts";
import { TRANSPORT_KINDS, type TransportKind } from "./transports/index.ts";
import type { ProfileName } from "./profiles.ts";
import type { AutoConfirm } from "./device.ts";

const EXIT_OK = 0;
const EXIT_FAIL = 1;
const EXIT_USAGE = 2;

const USAGE = `usage: wearable-sim <command> [options]
  start      [--profile card|band|watch] [--count N] [--transport pcsc|serial|hid-udp|uhid]
             [--slot N] [--insert] [--image-dir DIR] [--seed S] [--firmware FILE]
             [--auto-confirm accept|refuse] [--port P] [--trace] [--quiet] [--command "…"]
             [--console [--console-host ADDR]]
             prints "ready" once every device is visible to its reader (GET /ready: 200)
  list       [--json]
  tap        DEVICE --reader NAME|SLOT
  remove     DEVICE
  press      DEVICE
  power-cut  DEVICE --after N [--mode none|full|random]
  reset      DEVICE
  apdu       DEVICE HEX           prints the response and names its status word
  stop
  run        SCENARIO.json [--seed S] [--firmware FILE] [--image-dir DIR] [--trace] [--json] [--junit FILE]
DEVICE: serial, unique serial prefix, scenario name, #index or the bare index (0, 1, …).
--insert implies --transport pcsc. --trace: every device event on stderr (what a watch
displays included); stdout carries only results. --json: {"ok":true,…} or
{"ok":false,"error","exitCode"} as \`wallet --json\` does.
Exit codes: 0 ok, 1 a failing scenario or device, 2 usage (bad option, bad hex, a missing
or malformed scenario file or firmware).
The running simulator is found by --control URL, env WEARABLE_SIM_URL, or the state file
(--state FILE, default ${defaultStateFile()}).`;

class UsageError extends Error {}

function defaultStateFile(): string {
  return join(tmpdir(), `wearable-sim-${process.getuid?.() ?? "user"}.json`);
}

const OPTIONS = {
  profile: { type: "string" },
  count: { type: "string" },
  transport: { type: "string" },
  slot: { type: "string" },
  insert: { type: "boolean" },
  "image-dir": { type: "string" },
  seed: { type: "string" },
  firmware: { type: "string" },
  "auto-confirm": { type: "string" },
  port: { type: "string" },
  trace: { type: "boolean" },
  quiet: { type: "boolean" },
  junit: { type: "string" },
  command: { type: "string" },
  console: { type: "boolean" },
  "console-host": { type: "string" },
  control: { type: "string" },
  state: { type: "string" },
  reader: { type: "string" },
  after: { type: "string" },
  mode: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Opts = ReturnType<typeof parse>["values"];

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function int(v: string | undefined, name: string, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer, got "${v}"`);
  return Number(v);
}

function oneOf<T extends string>(v: string | undefined, name: string, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) throw new UsageError(`--${name} must be one of ${allowed.join(", ")}, got "${v}"`);
  return v as T;
}

function fleetOf(o: Opts): Fleet {
  return new Fleet({
    firmware: o.firmware,
    imageDir: o["image-dir"],
    seed: o.seed,
    autoConfirm: oneOf<AutoConfirm>(o["auto-confirm"], "auto-confirm", ["accept", "refuse"]),
  });
}

function startSpec(o: Opts): StartSpec {
  const transport = oneOf<TransportKind>(o.transport, "transport", TRANSPORT_KINDS);
  // inserting is a PC/SC act: --insert alone means the pcsc transport; with another, it is a mistake
  if (o.insert && transport && transport !== "pcsc") throw new UsageError(`--insert puts a device into a PC/SC reader; it does not go with --transport ${transport}`);
  return {
    profile: oneOf<ProfileName>(o.profile, "profile", ["card", "band", "watch"]),
    count: int(o.count, "count", 1),
    transport: transport ?? (o.insert ? "pcsc" : undefined),
    slot: int(o.slot, "slot"),
    insert: o.insert,
  };
}

/** With --trace, every device event (what a watch displays included), on stderr: stdout is for results. */
function attachOutput(fleet: Fleet, trace: boolean): void {
  if (trace) fleet.on("event", (e: FleetEvent) => process.stderr.write(`${traceLine(e)}\n`));
}

const HEX = /^([0-9a-fA-F]{2})+$/;

function describeDevices(list: DeviceInfo[]): string {
  return list
    .map((d) => `${d.serial}  ${d.profile.padEnd(5)}  ${d.state.padEnd(4)}  ${d.transport ?? "-"}${d.endpoint ? ` ${d.endpoint}` : ""}${d.active ? " (active)" : ""}  apdus=${d.apdus} aborts=${d.aborts}${d.name ? `  name=${d.name}` : ""}`)
    .join("\n");
}

function controlUrl(o: Opts): string {
  if (o.control) return o.control;
  if (process.env.WEARABLE_SIM_URL) return process.env.WEARABLE_SIM_URL;
  const file = o.state ?? defaultStateFile();
  if (!existsSync(file)) throw new Error(`no running simulator (no ${file}); start one with: wearable-sim start`);
  return (JSON.parse(readFileSync(file, "utf8")) as { url: string }).url;
}

async function call(o: Opts, method: string, path: string, payload?: unknown): Promise<unknown> {
  const url = controlUrl(o);
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, { method, headers: { "content-type": "application/json" }, body: payload === undefined ? undefined : JSON.stringify(payload) });
  } catch (e) {
    throw new Error(`cannot reach the simulator at ${url} (${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message})`);
  }
  const j = (await res.json()) as { error?: string };
  if (!res.ok) throw new Error(j.error ?? `HTTP ${res.status}`);
  return j;
}

function runCommand(command: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, { shell: true, stdio: "inherit", env });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 + 1 : EXIT_FAIL)));
    child.on("error", () => resolve(EXIT_FAIL));
  });
}

async function start(o: Opts): Promise<number> {
  const spec = startSpec(o);
  const port = int(o.port, "port", 0);
  const fleet = fleetOf(o);
  const log = (line: string) => o.quiet || process.stdout.write(`${line}\n`);
  attachOutput(fleet, !!o.trace);
  if (o["console-host"] && !o.console) throw new UsageError("--console-host needs --console");
  await fleet.start(spec);
  const consoleOpts = o.console ? await (await import("./console.ts")).consoleControlOptions(fleet, o["console-host"]) : {};
  const control = await startControl(fleet, port, consoleOpts);
  if (o.console) process.stderr.write(`console: ${control.url}/console/\n`);
  const stateFile = o.state ?? defaultStateFile();
  const shutdown = async () => {
    await control.close();
    await fleet.stop();
    if (!o.command) rmSync(stateFile, { force: true });
  };
  if (o.command) {
    // the command starts once the devices are visible (a reader shows the inserted card)
    const notYet = await fleet.ready(10_000);
    if (notYet.length) process.stderr.write(`wearable-sim: not visible to the reader after 10 s: ${notYet.join(", ")} (is pcscd with vpcd running?)\n`);
    const env = { ...process.env, WEARABLE_SIM_URL: control.url, WEARABLE_SIM_DEVICES: JSON.stringify(fleet.list()) };
    const code = await runCommand(o.command, env);
    await shutdown();
    return code;
  }
  log(`control: ${control.url}`);
  log(describeDevices(fleet.list()));
  // ready: every device is visible to host software (a pcsc card: the reader read its ATR)
  const pending = await fleet.ready(10_000);
  if (pending.length) process.stderr.write(`wearable-sim: not visible to the reader after 10 s: ${pending.join(", ")} (is pcscd with vpcd running?)\n`);
  writeFileSync(stateFile, JSON.stringify({ url: control.url, pid: process.pid, ready: !pending.length }));
  process.stdout.write(`${pending.length ? "started (not ready)" : "ready"}: ${fleet.list().length} device(s), control ${control.url}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
    void control.stopped.then(resolve);
  });
  await shutdown();
  return EXIT_OK;
}

const xml = (s: string) => s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "");

/** JUnit XML of one scenario: a test case per step, and one for the event expectations. */
export function junitXml(r: ScenarioResult, file: string): string {
  const stepFailures = new Set(r.steps.filter((s) => !s.ok).map((s) => s.index));
  const other = r.failures.filter((f) => !/^step \d+ /.test(f));
  const cases = r.steps.map((s) => {
    const name = `step ${s.index} ${s.verb}`;
    const out = s.stdout || s.stderr ? `<system-out>${xml(s.stdout ?? "")}</system-out><system-err>${xml(s.stderr ?? "")}</system-err>` : "";
    return `  <testcase classname="${xml(r.name)}" name="${xml(name)}" time="${(s.ms / 1000).toFixed(3)}">${stepFailures.has(s.index) ? `<failure message="${xml(s.error ?? "failed")}"/>` : ""}${out}</testcase>`;
  });
  cases.push(`  <testcase classname="${xml(r.name)}" name="expected events" time="0">${other.length ? `<failure message="${xml(other.join("; "))}"/>` : ""}</testcase>`);
  const failures = stepFailures.size + (other.length ? 1 : 0);
  const time = r.steps.reduce((a, s) => a + s.ms, 0) / 1000;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites tests="${cases.length}" failures="${failures}">\n<testsuite name="${xml(r.name)}" file="${xml(file)}" tests="${cases.length}" failures="${failures}" errors="0" time="${time.toFixed(3)}">\n${cases.join("\n")}\n</testsuite>\n</testsuites>\n`;
}

async function run(o: Opts, file: string | undefined): Promise<number> {
  if (!file) throw new UsageError("run needs a SCENARIO.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    // a scenario that is not there is a mistake on the command line, not a failing scenario
    throw new UsageError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code})`);
  }
  let parsed: unknown;
  let sc;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not JSON (${(e as Error).message})`);
  }
  try {
    sc = validateScenario(parsed);
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
  // the scenario may name its firmware (relative to its own file); --firmware wins
  const firmware = o.firmware ?? (sc.firmware !== undefined ? resolve(dirname(file), sc.firmware) : undefined);
  if (firmware !== undefined && !existsSync(firmware))
    throw new UsageError(`${file}: firmware ${firmware} not found${/build\//.test(firmware) ? " (build it: npm run build:firmware)" : ""}`);
  const fleet = fleetOf({ ...o, firmware });
  attachOutput(fleet, !!o.trace);
  let r: ScenarioResult;
  try {
    r = await runScenario(fleet, sc);
  } finally {
    await fleet.stop();
  }
  if (o.junit) writeFileSync(o.junit, junitXml(r, file));
  if (o.json) process.stdout.write(`${JSON.stringify({ ...r, events: r.events.length, steps: r.steps.map(({ stdout, stderr, ...s }) => s), ...(r.ok ? {} : { error: r.failures[0], exitCode: EXIT_FAIL }) })}\n`);
  else {
    for (const s of r.steps) process.stdout.write(`${s.ok ? "ok  " : "FAIL"} ${String(s.index).padStart(3)} ${s.verb}${s.response ? ` -> ${s.response}` : ""}${s.error ? `: ${s.error}` : ""}\n`);
    for (const f of r.failures) process.stdout.write(`failure: ${f}\n`);
    process.stdout.write(`${r.name}: ${r.ok ? "passed" : "FAILED"} (${r.steps.length} steps, ${r.events.length} events)\n`);
  }
  return r.ok ? EXIT_OK : EXIT_FAIL;
}

export async function main(argv: string[]): Promise<number> {
  let json = argv.includes("--json");
  try {
    const { values: o, positionals } = parse(argv);
    const [cmd, ...rest] = positionals;
    if (o.help || (!cmd && !o.command)) {
      process.stdout.write(`${USAGE}\n`);
      return o.help ? EXIT_OK : EXIT_USAGE;
    }
    json = !!o.json;
    const device = () => {
      if (!rest[0]) throw new UsageError(`${cmd} needs a DEVICE`);
      return encodeURIComponent(rest[0]);
    };
    // --json: the envelope `wallet --json` uses ({"ok":true,…}; errors {"ok":false,"error","exitCode"})
    const print = (v: unknown) =>
      process.stdout.write(`${o.json ? JSON.stringify(Array.isArray(v) ? { ok: true, devices: v } : { ok: true, device: v }) : describeDevices([v as DeviceInfo].flat())}\n`);
    switch (cmd ?? "start") {
      case "start":
        return await start(o);
      case "run":
        return await run(o, rest[0]);
      case "list":
        print(await call(o, "GET", "/devices"));
        return EXIT_OK;
      case "tap":
        if (!o.reader) throw new UsageError("tap needs --reader NAME|SLOT");
        print(await call(o, "POST", `/devices/${device()}/tap`, { reader: /^\d+$/.test(o.reader) ? Number(o.reader) : o.reader }));
        return EXIT_OK;
      case "remove":
      case "press":
      case "reset":
        print(await call(o, "POST", `/devices/${device()}/${cmd}`, {}));
        return EXIT_OK;
      case "power-cut": {
        const after = int(o.after, "after");
        if (after === undefined || after < 1) throw new UsageError("power-cut needs --after N (N >= 1 flash operations)");
        print(await call(o, "POST", `/devices/${device()}/power-cut`, { after, mode: oneOf(o.mode, "mode", ["none", "full", "random"]) ?? "none" }));
        return EXIT_OK;
      }
      case "apdu": {
        if (!rest[0] || rest[1] === undefined) throw new UsageError("apdu needs DEVICE HEX");
        const hex = rest.slice(1).join("").replace(/[\s:]/g, "");
        if (!HEX.test(hex) || hex.length < 8) throw new UsageError(`apdu: "${rest.slice(1).join(" ")}" is not a command APDU (an even number of hex digits, at least CLA INS P1 P2)`);
        const r = (await call(o, "POST", "/apdu", { device: rest[0], hex })) as { answered: boolean; hex?: string; sw?: string };
        const name = r.answered ? swName(parseInt(r.sw!, 16)) : undefined;
        if (o.json) process.stdout.write(`${JSON.stringify(r.answered ? { ok: true, ...r, swName: name } : { ok: false, answered: false, error: "no answer (the device is off or lost power)", exitCode: EXIT_FAIL })}\n`);
        else process.stdout.write(r.answered ? `${r.hex!.slice(0, -4) || "(no data)"}  SW ${r.sw} ${name}\n` : "(no answer)\n");
        return r.answered ? EXIT_OK : EXIT_FAIL;
      }
      case "stop":
        await call(o, "POST", "/stop", {});
        if (o.json) process.stdout.write(`${JSON.stringify({ ok: true, stopping: true })}\n`);
        return EXIT_OK;
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (e) {
    const usage = e instanceof UsageError;
    const message = (e as Error).message.split("\n")[0];
    process.stderr.write(`wearable-sim: ${message}${usage ? " (see wearable-sim --help)" : ""}\n`);
    const code = usage ? EXIT_USAGE : EXIT_FAIL;
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: message, exitCode: code })}\n`);
    return code;
  }
}
