// Control API of a running simulator (wearable-sim/README.md "Control API"): HTTP + JSON on 127.0.0.1 with
// the same verbs as the CLI, in the spirit of speculos (`/apdu`, `/button`, `/events`):
//   GET  /devices                         list (DeviceInfo[])
//   GET  /ready                           200 {ready:true} once every device with a transport is
//                                         visible to host software (pcsc: the reader read its ATR);
//                                         503 {ready:false, pending:[serials]} before
// A device in a path is a serial, a unique serial prefix, a name, "#N" (as %23N) or just the
// index N (1 to 3 digits), so `curl …/devices/0/press` works without escaping "#".
//   POST /devices        {profile,count,transport,slot,serial,name,insert}   start; -> DeviceInfo[]
//   POST /devices/:id/tap        {reader}  insert into a vpcd reader slot (name or slot number)
//   POST /devices/:id/remove               leave the field / close the port
//   POST /devices/:id/press                arm one button press
//   POST /devices/:id/power-cut  {after, mode}   cut power at the after-th flash op from now
//   POST /devices/:id/reset                power cycle (RAM lost, flash kept)
//   POST /devices/:id/power      {on}      power on / off
//   POST /apdu           {device, hex}     one APDU in process -> {hex, sw} ({answered:false} if none)
//   POST /run            <scenario JSON>   -> ScenarioResult
//   GET  /events                           Server-Sent Events: one `data: <FleetEvent JSON>` per event
//   POST /stop                             stop every device and the server
// Errors: {error: "<one line>"} with 400 (bad request), 404 (unknown device/route).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Fleet, FleetEvent, StartSpec } from "./fleet.ts";
import type { TearMode } from "./flash.ts";
import { runScenario, type Scenario } from "./scenario.ts";
import { hex, unhex } from "../../protocol/src/bytes.ts";

const LOOPBACK = "127.0.0.1";
const MAX_BODY = 1 << 20;
const TEAR_MODES: readonly TearMode[] = ["none", "full", "random"];

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const toJson = (v: unknown) => JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? hex(x) : x));

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, "control: body too large");
    chunks.push(c as Buffer);
  }
  if (!size) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "control: body is not JSON");
  }
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const text = toJson(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export interface ControlServer {
  server: Server;
  url: string;
  close(): Promise<void>;
  /** resolves when a client asked POST /stop */
  stopped: Promise<void>;
}

export interface ControlOptions {
  /** address to listen on (default 127.0.0.1: the API moves money on simulated devices) */
  host?: string;
  /** more routes (the console, console.ts): handles the request and returns true, or returns false */
  extra?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
}

export async function startControl(fleet: Fleet, port = 0, opts: ControlOptions = {}): Promise<ControlServer> {
  const host = opts.host ?? LOOPBACK;
  const streams = new Set<ServerResponse>();
  const onEvent = (e: FleetEvent) => {
    const line = `data: ${toJson(e)}\n\n`;
    for (const s of streams) s.write(line);
  };
  fleet.on("event", onEvent);
  let stop: () => void = () => {};
  const stopped = new Promise<void>((r) => (stop = r));

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", `http://${LOOPBACK}`);
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    // "/devices/0/tap": a bare index of 1 to 3 digits is "#0" (a "#" in a URL starts the fragment)
    if (parts[0] === "devices" && parts.length === 3 && /^\d{1,3}$/.test(parts[1])) parts[1] = `#${parts[1]}`;
    const verb = `${req.method} /${parts[0] ?? ""}`;
    if (opts.extra && (await opts.extra(req, res, url))) return;
    if (verb === "GET /events") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
      res.write(": wearable-sim events\n\n");
      streams.add(res);
      req.on("close", () => streams.delete(res));
      return;
    }
    const b = req.method === "POST" ? await body(req) : {};
    if (verb === "GET /devices" && parts.length === 1) return send(res, 200, fleet.list());
    if (verb === "GET /ready") {
      const pending = await fleet.ready(0);
      return send(res, pending.length ? 503 : 200, { ready: !pending.length, pending });
    }
    if (verb === "POST /devices" && parts.length === 1) {
      const devices = await fleet.start(b as StartSpec);
      const serials = new Set(devices.map((d) => d.serial));
      return send(res, 200, fleet.list().filter((d) => serials.has(d.serial)));
    }
    if (verb === "POST /devices" && parts.length === 3) {
      const [, id, action] = parts;
      fleet.get(id); // 404 before acting
      switch (action) {
        case "tap":
          if (b.reader === undefined) throw new HttpError(400, "control: tap needs a reader");
          await fleet.tap(id, b.reader as string | number);
          break;
        case "remove":
          await fleet.remove(id);
          break;
        case "press":
          fleet.press(id);
          break;
        case "power-cut": {
          const mode = (b.mode ?? "none") as TearMode;
          if (!TEAR_MODES.includes(mode)) throw new HttpError(400, `control: mode must be one of ${TEAR_MODES.join(", ")}`);
          fleet.powerCut(id, Number(b.after), mode);
          break;
        }
        case "reset":
          fleet.reset(id);
          break;
        case "power":
          if (b.on) fleet.powerOn(id);
          else fleet.powerOff(id);
          break;
        default:
          throw new HttpError(404, `control: unknown action ${action}`);
      }
      return send(res, 200, fleet.list().find((d) => d.serial === fleet.get(id).device.serial));
    }
    if (verb === "POST /apdu") {
      const text = String(b.hex ?? "").replace(/\s/g, "");
      if (!/^([0-9a-fA-F]{2})+$/.test(text)) throw new HttpError(400, "control: hex must be an even number of hex digits");
      const r = fleet.apdu(String(b.device ?? "#0"), unhex(text));
      if (!r) return send(res, 200, { answered: false });
      const h = hex(r);
      return send(res, 200, { answered: true, hex: h, sw: h.slice(-4) });
    }
    if (verb === "POST /run") return send(res, 200, await runScenario(fleet, b as unknown as Scenario));
    if (verb === "POST /stop") {
      send(res, 200, { stopping: true });
      stop();
      return;
    }
    throw new HttpError(404, `control: no route ${req.method} ${url.pathname}`);
  };

  const server = createServer((req, res) => {
    route(req, res).catch((e: Error) => {
      const status = e instanceof HttpError ? e.status : e instanceof RangeError && /no single device/.test(e.message) ? 404 : 400;
      if (!res.headersSent) send(res, status, { error: e.message.split("\n")[0] });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => reject(new Error(`control: cannot listen on ${host}:${port} (${e.message})`)));
    server.listen(port, host, () => resolve());
  });
  const shown = host.includes(":") ? `[${host}]` : host;
  const url = `http://${shown}:${(server.address() as AddressInfo).port}`;
  return {
    server,
    url,
    stopped,
    close: async () => {
      fleet.off("event", onEvent);
      for (const s of streams) s.end();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
