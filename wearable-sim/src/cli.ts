// `wearable-sim` CLI (issue 5 "Control"). `start` runs a fleet in the foreground with the
// control API on 127.0.0.1 and writes its URL to a state file; `list`, `tap`, `remove`,
// `press`, `power-cut`, `reset`, `apdu`, `stop` talk to that running simulator over the
// control API; `run SCENARIO.json` runs a scenario in its own process; `--command "…"`
// starts the devices, runs the command with WEARABLE_SIM_URL set, stops everything and
// exits with the command's code (for CI). Errors: one line, non-zero exit, no stack.
import { parseArgs } from "node:util";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Fleet, traceLine, type DeviceInfo, type FleetEvent, type StartSpec } from "./fleet.ts";
import { startControl } from "./control.ts";
import { validateScenario, type ScenarioResult } from "./scenario.ts";
import { TRANSPORT_KINDS, type TransportKind } from "./transports/index.ts";
import type { ProfileName } from "./profiles.ts";
import type { AutoConfirm } from "./device.ts";

const EXIT_OK = 0;
const EXIT_FAIL = 1;
const EXIT_USAGE = 2;

const USAGE = `usage: wearable-sim <command> [options]
  start      [--profile card|band|watch] [--count N] [--transport pcsc|serial|hid-udp|uhid]
             [--slot N] [--insert] [--image-dir DIR] [--seed S] [--firmware FILE]
             [--auto-confirm accept|refuse] [--port P] [--trace] [--command "…"]
             [--console [--console-host ADDR]]
  list       [--json]
  tap        DEVICE --reader NAME|SLOT
  remove     DEVICE
  press      DEVICE
  power-cut  DEVICE --after N [--mode none|full|random]
  reset      DEVICE
  apdu       DEVICE HEX
  stop
  run        SCENARIO.json [--seed S] [--firmware FILE] [--image-dir DIR] [--trace] [--json]
DEVICE: serial, unique serial prefix, scenario name or #index.
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
  return {
    profile: oneOf<ProfileName>(o.profile, "profile", ["card", "band", "watch"]),
    count: int(o.count, "count", 1),
    transport: oneOf<TransportKind>(o.transport, "transport", TRANSPORT_KINDS),
    slot: int(o.slot, "slot"),
    insert: o.insert,
  };
}

/** Trace lines (with --trace) and, always, what a watch shows its wearer. */
function attachOutput(fleet: Fleet, trace: boolean, write: (line: string) => void): void {
  fleet.on("event", (e: FleetEvent) => {
    if (trace || e.type === "display") write(traceLine(e));
  });
}

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
  const fleet = fleetOf(o);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  attachOutput(fleet, !!o.trace, log);
  await fleet.start(startSpec(o));
  if (o["console-host"] && !o.console) throw new UsageError("--console-host needs --console");
  const consoleOpts = o.console ? await (await import("./console.ts")).consoleControlOptions(fleet, o["console-host"]) : {};
  const control = await startControl(fleet, int(o.port, "port", 0), consoleOpts);
  if (o.console) process.stderr.write(`console: ${control.url}/console/\n`);
  const stateFile = o.state ?? defaultStateFile();
  const shutdown = async () => {
    await control.close();
    await fleet.stop();
    if (!o.command) rmSync(stateFile, { force: true });
  };
  if (o.command) {
    const env = { ...process.env, WEARABLE_SIM_URL: control.url, WEARABLE_SIM_DEVICES: JSON.stringify(fleet.list()) };
    const code = await runCommand(o.command, env);
    await shutdown();
    return code;
  }
  writeFileSync(stateFile, JSON.stringify({ url: control.url, pid: process.pid }));
  log(`control: ${control.url}`);
  log(describeDevices(fleet.list()));
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
    void control.stopped.then(resolve);
  });
  await shutdown();
  return EXIT_OK;
}

async function run(o: Opts, file: string | undefined): Promise<number> {
  if (!file) throw new UsageError("run needs a SCENARIO.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`cannot read ${file} (${(e as NodeJS.ErrnoException).code})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not JSON (${(e as Error).message})`);
  }
  const fleet = fleetOf(o);
  attachOutput(fleet, !!o.trace, (l) => process.stderr.write(`${l}\n`));
  let r: ScenarioResult;
  try {
    r = await fleet.run(validateScenario(parsed));
  } finally {
    await fleet.stop();
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ ...r, events: r.events.length })}\n`);
  else {
    for (const s of r.steps) process.stdout.write(`${s.ok ? "ok  " : "FAIL"} ${String(s.index).padStart(3)} ${s.verb}${s.response ? ` -> ${s.response}` : ""}${s.error ? `: ${s.error}` : ""}\n`);
    for (const f of r.failures) process.stdout.write(`failure: ${f}\n`);
    process.stdout.write(`${r.name}: ${r.ok ? "passed" : "FAILED"} (${r.steps.length} steps, ${r.events.length} events)\n`);
  }
  return r.ok ? EXIT_OK : EXIT_FAIL;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const { values: o, positionals } = parse(argv);
    const [cmd, ...rest] = positionals;
    if (o.help || (!cmd && !o.command)) {
      process.stdout.write(`${USAGE}\n`);
      return o.help ? EXIT_OK : EXIT_USAGE;
    }
    const device = () => {
      if (!rest[0]) throw new UsageError(`${cmd} needs a DEVICE`);
      return encodeURIComponent(rest[0]);
    };
    const print = (v: unknown) => process.stdout.write(`${o.json ? JSON.stringify(v) : describeDevices([v as DeviceInfo].flat())}\n`);
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
        const r = (await call(o, "POST", "/apdu", { device: rest[0], hex: rest[1] })) as { answered: boolean; hex?: string };
        process.stdout.write(`${o.json ? JSON.stringify(r) : r.answered ? r.hex : "(no answer)"}\n`);
        return r.answered ? EXIT_OK : EXIT_FAIL;
      }
      case "stop":
        await call(o, "POST", "/stop", {});
        return EXIT_OK;
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (e) {
    const usage = e instanceof UsageError;
    process.stderr.write(`wearable-sim: ${(e as Error).message}${usage ? " (see wearable-sim --help)" : ""}\n`);
    return usage ? EXIT_USAGE : EXIT_FAIL;
  }
}
