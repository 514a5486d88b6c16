// The simulator console (wearable-sim/README.md "Console"): a page served by the control API's own server
// (`wearable-sim start --console`) that draws the fleet and drives it. The page is a Vite
// bundle (wearable-sim/console/, built into build/console/ by console-build.ts); this module
// serves it and adds the few routes the page needs beyond the control API:
//   GET  /console/...                           the bundle (/ redirects to /console/)
//   GET  /console/api/state                     every device with what the console knows of it
//   POST /console/api/devices/:id/status        SELECT + GET STATUS now (the device must be on)
//   POST /console/api/devices/:id/refuse        the wearer refuses: the next confirm answers 0
//   POST /console/api/devices/:id/power-cut     {after?, mode?}: after N flash ops, or now (no `after`)
//   GET  /console/api/devices/:id/image         the flash image (application/octet-stream)
//   PUT  /console/api/devices/:id/image         load a flash image (same size); the device is powered off
//
// Status is never read behind a flow's back: a SELECT in the middle of a POS payment or a
// personalization would end its session. The console decodes every plain GET STATUS answer
// that goes by (a POS reads one per payment) and reads one itself only when asked.
import type { IncomingMessage, ServerResponse } from "node:http";
import { existsSync, readFileSync, statSync } from "node:fs";
import { extname, join, normalize, sep } from "node:path";
import type { Fleet, FleetEvent } from "./fleet.ts";
import type { TearMode } from "./flash.ts";
import * as A from "../../protocol/portable/apdu.ts";
import { SW_NO_ERROR } from "../../protocol/portable/sw.ts";
import { CONSOLE_OUT, ensureConsoleBuilt } from "./console-build.ts";
import type { ControlOptions } from "./control.ts";

const MAX_IMAGE = 64 << 20;
const TEAR_MODES: readonly TearMode[] = ["none", "full", "random"];

/** The GET STATUS fields the console shows (SPEC §3.3; offsets from protocol/portable/apdu.ts). */
export interface ConsoleStatus {
  lifecycle: number;
  pinTries: number;
  pukTries: number;
  deviceId: string;
  balance: number;
  cap: number;
  counter: number;
  remainingPayments: number;
  remainingAmount: number;
  syncDeadline: number;
  logCount: number;
  logCapacity: number;
  currency: number;
  lastReason: number;
}

export interface ConsoleDisplay {
  kind: number;
  amount: number;
  timeoutMs: number;
  /** the `confirm` answer: 1 pressed, 0 refused / timed out */
  result?: number;
  /** what became of the command that asked: "ok", a status word in hex, or "power-cut" */
  outcome?: string;
}

export interface ConsoleDevice {
  serial: string;
  name?: string;
  profile: string;
  state: string;
  transport?: string;
  endpoint?: string;
  active: boolean;
  apdus: number;
  aborts: number;
  violations: number;
  counter: number;
  armedPresses: number;
  armedRefusal: boolean;
  autoConfirm: string;
  flashOps: number;
  imageBytes: number;
  /** flash op number (in flashOps terms) at which an armed cut fires */
  cutAt?: number;
  lastPower?: string;
  status?: ConsoleStatus;
  /** APDUs since the status was read */
  statusAge?: number;
  display?: ConsoleDisplay;
}

interface Known {
  status?: ConsoleStatus;
  statusAt?: number;
  display?: ConsoleDisplay;
  cutAt?: number;
  lastPower?: string;
  /** the command being answered when confirm was asked: its answer is the display's outcome */
  awaitingOutcome?: boolean;
}

export function parseStatusBytes(d: Uint8Array): ConsoleStatus {
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  return {
    lifecycle: d[A.STATUS_OFF_LIFECYCLE],
    pinTries: d[A.STATUS_OFF_PIN_TRIES],
    pukTries: d[A.STATUS_OFF_PUK_TRIES],
    deviceId: Buffer.from(d.subarray(A.STATUS_OFF_DEVICE_ID, A.STATUS_OFF_DEVICE_ID + 8)).toString("hex"),
    balance: dv.getUint32(A.STATUS_OFF_BALANCE),
    cap: dv.getUint32(A.STATUS_OFF_CAP),
    counter: dv.getUint32(A.STATUS_OFF_COUNTER),
    remainingPayments: dv.getUint32(A.STATUS_OFF_REMAINING_PAYMENTS),
    remainingAmount: dv.getUint32(A.STATUS_OFF_REMAINING_AMOUNT),
    syncDeadline: dv.getUint32(A.STATUS_OFF_SYNC_DEADLINE),
    logCount: dv.getUint16(A.STATUS_OFF_LOG_COUNT),
    logCapacity: dv.getUint16(A.STATUS_OFF_LOG_CAPACITY),
    currency: dv.getUint16(A.STATUS_OFF_CURRENCY),
    lastReason: d[A.STATUS_OFF_LAST_REASON],
  };
}

const sw = (r: Uint8Array) => (r.length >= 2 ? (r[r.length - 2] << 8) | r[r.length - 1] : -1);
/** a plain (no secure messaging) GET STATUS and its full answer */
const isStatusAnswer = (c: Uint8Array, r: Uint8Array) =>
  c.length >= 2 && c[0] === A.CLA_PROPRIETARY && c[1] === A.INS_GET_STATUS && r.length === A.STATUS_RESP_LEN + 2 && sw(r) === SW_NO_ERROR;

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
};

class ConsoleError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function json(res: ServerResponse, status: number, v: unknown): void {
  const text = JSON.stringify(v);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

async function rawBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) throw new ConsoleError(413, "console: body too large");
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export interface ConsoleOptions {
  /** the built bundle (default build/console) */
  dir?: string;
  /**
   * refuse requests whose Host is not a loopback name (default true): with the server on
   * loopback, another Host means a DNS-rebinding page. Off when bound elsewhere on purpose.
   */
  loopbackHostOnly?: boolean;
}

const LOOPBACK_HOST = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])(:\d+)?$/i;

/**
 * The console's routes, for startControl's `extra` option. Tracks what the page shows
 * (status, display, armed cuts) from the fleet's events from the moment it is created.
 */
export function consoleRoutes(fleet: Fleet, opts: ConsoleOptions = {}) {
  const dir = opts.dir ?? CONSOLE_OUT;
  const known = new Map<string, Known>();
  const k = (serial: string) => {
    let x = known.get(serial);
    if (!x) known.set(serial, (x = {}));
    return x;
  };
  fleet.on("event", (e: FleetEvent) => {
    const x = k(e.serial);
    const m = fleet.members.get(e.serial);
    switch (e.type) {
      case "apdu": {
        const c = e.command as Uint8Array;
        const r = e.response as Uint8Array;
        if (isStatusAnswer(c, r)) {
          x.status = parseStatusBytes(r);
          x.statusAt = m?.device.apduCount ?? 0;
        }
        if (x.awaitingOutcome && x.display) {
          x.display.outcome = sw(r) === SW_NO_ERROR ? "ok" : sw(r).toString(16).padStart(4, "0");
          x.awaitingOutcome = false;
        }
        break;
      }
      case "display":
        x.display = { kind: e.kind as number, amount: e.amount as number, timeoutMs: (e.timeoutMs as number) ?? 0 };
        x.awaitingOutcome = true;
        break;
      case "confirm":
        if (!x.display) x.display = { kind: e.kind as number, amount: e.amount as number, timeoutMs: 0 };
        x.display.result = e.result as number;
        x.awaitingOutcome = true;
        break;
      case "power":
        x.lastPower = `${e.on ? "on" : "off"} (${e.cause})`;
        if (!e.on) {
          if (x.awaitingOutcome && x.display) x.display.outcome = String(e.cause);
          x.awaitingOutcome = false;
          if (e.cause === "power-cut") x.cutAt = undefined;
        }
        break;
    }
  });

  const member = (id: string) => {
    try {
      return fleet.get(id);
    } catch (e) {
      throw new ConsoleError(404, (e as Error).message);
    }
  };

  const state = (): { devices: ConsoleDevice[] } => ({
    devices: fleet.list().map((d) => {
      const dev = fleet.members.get(d.serial)!.device;
      const x = k(d.serial);
      if (x.cutAt !== undefined && dev.flash.opCount >= x.cutAt) x.cutAt = undefined;
      return {
        ...d,
        armedPresses: dev.armedPresses,
        armedRefusal: dev.armedRefusal,
        autoConfirm: dev.autoConfirm,
        flashOps: dev.flash.opCount,
        imageBytes: dev.flash.bytes.length,
        cutAt: x.cutAt,
        lastPower: x.lastPower,
        status: x.status,
        statusAge: x.status ? dev.apduCount - (x.statusAt ?? 0) : undefined,
        display: x.display,
      };
    }),
  });

  const readStatus = (id: string) => {
    const m = member(id);
    if (!m.device.isOn) throw new ConsoleError(409, `console: ${m.device.serial} is ${m.device.state}: power it on (reset) to read its status`);
    const aid = Buffer.alloc(8);
    aid.writeUInt32BE(A.AID_HI >>> 0, 0);
    aid.writeUInt32BE(A.AID_LO >>> 0, 4);
    const sel = fleet.apdu(m.device.serial, Uint8Array.from([A.CLA_ISO, A.INS_SELECT, 0x04, 0x00, 8, ...aid, 0]));
    if (!sel || sw(sel) !== SW_NO_ERROR) throw new ConsoleError(409, `console: SELECT answered ${sel ? sw(sel).toString(16) : "nothing"}`);
    const st = fleet.apdu(m.device.serial, Uint8Array.of(A.CLA_PROPRIETARY, A.INS_GET_STATUS, 0, 0, 0));
    if (!st || !isStatusAnswer(Uint8Array.of(A.CLA_PROPRIETARY, A.INS_GET_STATUS), st))
      throw new ConsoleError(409, `console: GET STATUS answered ${st ? sw(st).toString(16) : "nothing"}`);
    // the apdu event has updated the cache already
  };

  const serveFile = (res: ServerResponse, rel: string) => {
    const file = normalize(join(dir, rel || "index.html"));
    if (!file.startsWith(normalize(dir) + sep) && file !== normalize(dir)) throw new ConsoleError(404, "console: no such file");
    if (!existsSync(join(dir, "index.html")))
      throw new ConsoleError(503, "console: the page is not built (npm run build:console, or start with --console which builds it)");
    if (!existsSync(file) || !statSync(file).isFile()) throw new ConsoleError(404, `console: no file ${rel}`);
    const body = readFileSync(file);
    res.writeHead(200, { "content-type": MIME[extname(file)] ?? "application/octet-stream", "content-length": body.length, "cache-control": "no-store" });
    res.end(body);
  };

  const loopbackOnly = opts.loopbackHostOnly ?? true;
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    const p = url.pathname;
    // With the console on, a browser is in the loop: every route (the control API's too) is
    // refused to a page of another origin, and on loopback to a Host that is not loopback.
    const host = req.headers.host ?? "";
    const origin = req.headers.origin;
    if (loopbackOnly && !LOOPBACK_HOST.test(host)) {
      json(res, 403, { error: `console: Host ${host || "(none)"} refused: the simulator listens on loopback` });
      return true;
    }
    if (req.method !== "GET" && origin && origin !== `http://${host}`) {
      json(res, 403, { error: "console: cross-origin request refused" });
      return true;
    }
    if (req.method === "GET" && p === "/") {
      res.writeHead(302, { location: "/console/" });
      res.end();
      return true;
    }
    if (!p.startsWith("/console")) return false;
    try {
      if (!p.startsWith("/console/api/")) {
        if (req.method !== "GET") throw new ConsoleError(405, "console: GET only");
        if (p === "/console") {
          res.writeHead(302, { location: "/console/" });
          res.end();
          return true;
        }
        serveFile(res, decodeURIComponent(p.slice("/console/".length)));
        return true;
      }
      const parts = p.slice("/console/api/".length).split("/").filter(Boolean).map(decodeURIComponent);
      if (req.method === "GET" && parts[0] === "state" && parts.length === 1) {
        json(res, 200, state());
        return true;
      }
      if (parts[0] === "devices" && parts.length === 3) {
        const [, id, action] = parts;
        const m = member(id);
        const dev = m.device;
        const key = `${req.method} ${action}`;
        if (key === "GET image") {
          dev.flash.flush();
          const img = Buffer.from(dev.flash.bytes);
          res.writeHead(200, {
            "content-type": "application/octet-stream",
            "content-length": img.length,
            "content-disposition": `attachment; filename="${dev.serial}.img"`,
            "cache-control": "no-store",
          });
          res.end(img);
          return true;
        }
        if (key === "PUT image") {
          const img = await rawBody(req, MAX_IMAGE);
          if (img.length !== dev.flash.bytes.length) throw new ConsoleError(400, `console: image is ${img.length} bytes, the flash is ${dev.flash.bytes.length}`);
          dev.powerOff();
          dev.flash.disarm();
          dev.flash.bytes.set(img);
          dev.flash.flush();
          const x = k(dev.serial);
          x.status = undefined;
          x.display = undefined;
          x.cutAt = undefined;
          json(res, 200, { loaded: img.length });
          return true;
        }
        if (req.method === "POST") {
          const text = (await rawBody(req, 1 << 16)).toString("utf8");
          let b: Record<string, unknown> = {};
          if (text.trim()) {
            try {
              b = JSON.parse(text);
            } catch {
              throw new ConsoleError(400, "console: body is not JSON");
            }
          }
          switch (action) {
            case "status":
              readStatus(id);
              break;
            case "refuse":
              dev.refuse();
              break;
            case "power-cut": {
              if (b.after === undefined || b.after === null || b.after === "") {
                dev.powerOff();
                k(dev.serial).lastPower = "off (power-cut now)";
                break;
              }
              const after = Number(b.after);
              if (!Number.isInteger(after) || after < 1) throw new ConsoleError(400, "console: after must be an integer >= 1");
              const mode = (b.mode ?? "none") as TearMode;
              if (!TEAR_MODES.includes(mode)) throw new ConsoleError(400, `console: mode must be one of ${TEAR_MODES.join(", ")}`);
              fleet.powerCut(id, after, mode);
              k(dev.serial).cutAt = dev.flash.opCount + after;
              break;
            }
            default:
              throw new ConsoleError(404, `console: unknown action ${action}`);
          }
          json(res, 200, state().devices.find((d) => d.serial === dev.serial));
          return true;
        }
      }
      throw new ConsoleError(404, `console: no route ${req.method} ${p}`);
    } catch (e) {
      const status = e instanceof ConsoleError ? e.status : 400;
      if (!res.headersSent) json(res, status, { error: (e as Error).message.split("\n")[0] });
      else res.end();
      return true;
    }
  };
}

/**
 * What `wearable-sim start --console [--console-host ADDR]` hands startControl: the page
 * (built first when missing or stale) and its routes; loopback unless ADDR, and a warning
 * on stderr when ADDR is not a loopback address.
 */
export async function consoleControlOptions(fleet: Fleet, host?: string, warn = (line: string) => process.stderr.write(`${line}\n`)): Promise<ControlOptions> {
  await ensureConsoleBuilt();
  const loopback = !host || /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i.test(host);
  if (!loopback) warn(`wearable-sim: WARNING: the console and control API listen on ${host}: anyone who reaches it can move money on these simulated devices`);
  return { host, extra: consoleRoutes(fleet, { loopbackHostOnly: loopback }) };
}
