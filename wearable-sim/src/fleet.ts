// A fleet of simulated devices in one process (wearable-sim/README.md "Commands"): start many, list,
// tap into / remove from a reader, press, cut power, reset, send raw APDUs and run
// scenario scripts. The control API (control.ts) and the CLI (cli.ts) are thin layers
// over this class, so the verbs are the same everywhere.
//
// Scale: a Device only holds a WebAssembly.Instance while powered, and every device
// shares one compiled Module, so 1,000 idle cards cost their flash images and little else.
import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Device, deriveSerial, loadFirmware, DEFAULT_FIRMWARE, type AutoConfirm } from "./device.ts";
import type { TearMode } from "./flash.ts";
import { hex } from "../../protocol/src/bytes.ts";
import type { ProfileName } from "./profiles.ts";
import { createTransport, serveApdu, type Transport, type TransportKind, type TransportOptions } from "./transports/index.ts";
import { slotOfReader, type PcscTransport } from "./transports/pcsc.ts";

export interface FleetOptions {
  /** firmware file, default build/firmware.wasm */
  firmware?: string;
  /** directory of flash images (<serial>.img, counter beside it); absent: in memory */
  imageDir?: string;
  /** deterministic serials, TRNG and tears */
  seed?: string;
  autoConfirm?: AutoConfirm;
  pageSize?: number;
  pageCount?: number;
  /** vpcd base port for pcsc transports (default: env WALLET_VPCD_PORT, else 35963) */
  vpcdBasePort?: number;
}

export interface StartSpec extends TransportOptions {
  profile?: ProfileName;
  count?: number;
  serial?: string;
  /** scenario name for the device (also accepted wherever a device is named) */
  name?: string;
  transport?: TransportKind;
  /** pcsc: insert the device(s) into consecutive slots from `slot` right away */
  insert?: boolean;
}

export interface Member {
  device: Device;
  name?: string;
  transport?: Transport;
}

export interface DeviceInfo {
  serial: string;
  name?: string;
  profile: ProfileName;
  state: string;
  transport?: TransportKind;
  endpoint?: string;
  active: boolean;
  /** host software can see the device (pcsc: the reader read its ATR); false without a transport or while removed */
  visible: boolean;
  apdus: number;
  aborts: number;
  violations: number;
  counter: number;
}

/** Every device event, flattened for traces, SSE and scenario checks. */
export interface FleetEvent {
  type: string;
  serial: string;
  /** milliseconds since the fleet started */
  t: number;
  [key: string]: unknown;
}

const DEVICE_EVENTS = ["apdu", "power", "fault", "violation", "display", "confirm", "button", "field", "transport-error"] as const;


/** One trace line per APDU, power event and fault, with serial and timing (wearable-sim/README.md "Start a card, tap it into the system reader, watch the trace"). */
export function traceLine(e: FleetEvent): string {
  const t = `${(e.t / 1000).toFixed(3).padStart(9)}s ${e.serial}`;
  switch (e.type) {
    case "apdu":
      return `${t} APDU ${hex(e.command as Uint8Array)} -> ${hex(e.response as Uint8Array)} (${(e.ms as number).toFixed(3)} ms)`;
    case "power":
      return `${t} POWER ${e.on ? "on" : "off"} (${e.cause})`;
    case "fault":
      return `${t} FAULT ${e.kind}: ${e.message}`;
    case "display":
      return `${t} DISPLAY confirm amount ${e.amount} (kind ${e.kind})`;
    default: {
      const { type, serial: _s, t: _t, ...rest } = e;
      return `${t} ${type.toUpperCase()} ${JSON.stringify(rest)}`;
    }
  }
}

export class Fleet extends EventEmitter {
  readonly members = new Map<string, Member>();
  readonly t0 = performance.now();
  private created = 0;

  constructor(readonly options: FleetOptions = {}) {
    super();
    this.setMaxListeners(0);
    loadFirmware(options.firmware ?? DEFAULT_FIRMWARE);
    if (options.imageDir) mkdirSync(options.imageDir, { recursive: true });
  }

  /** Starts `count` devices; with a transport, each gets one (pcsc: opened only with `insert`). */
  async start(spec: StartSpec = {}): Promise<Device[]> {
    const count = spec.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`fleet: bad count ${count}`);
    if (count > 1 && spec.serial) throw new RangeError("fleet: a serial names one device; drop --count or --serial");
    const out: Device[] = [];
    for (let i = 0; i < count; i++) {
      const index = this.created++;
      // serials are fixed before construction so that file-backed images can be named after them
      const serial = spec.serial ?? (this.options.seed !== undefined ? deriveSerial(this.options.seed, index) : randomBytes(8).toString("hex"));
      if (this.members.has(serial.toLowerCase())) throw new RangeError(`fleet: device ${serial} already exists`);
      const device = new Device({
        profile: spec.profile,
        serial,
        firmware: this.options.firmware,
        seed: this.options.seed,
        autoConfirm: this.options.autoConfirm,
        pageSize: this.options.pageSize,
        pageCount: this.options.pageCount,
        imagePath: this.options.imageDir ? join(this.options.imageDir, `${serial.toLowerCase()}.img`) : undefined,
      });
      const member: Member = { device, name: count === 1 ? spec.name : spec.name && `${spec.name}${i}` };
      this.members.set(device.serial, member);
      for (const type of DEVICE_EVENTS) device.on(type, (e: object) => this.forward(type, e as { serial: string }));
      if (spec.transport) {
        const opts = { ...spec, vpcdBasePort: this.options.vpcdBasePort, slot: (spec.slot ?? 0) + i, udpPort: spec.udpPort && spec.udpPort + i };
        member.transport = await createTransport(spec.transport, device, opts);
        if (spec.transport !== "pcsc" || spec.insert) await member.transport.open();
      }
      out.push(device);
    }
    return out;
  }

  /** A device by serial, unique serial prefix, scenario name, or "#index". */
  get(id: string): Member {
    const key = id.toLowerCase();
    const direct = this.members.get(key);
    if (direct) return direct;
    const all = [...this.members.values()];
    if (/^#\d+$/.test(id)) {
      const m = all[Number(id.slice(1))];
      if (m) return m;
    }
    const byName = all.filter((m) => m.name === id);
    if (byName.length === 1) return byName[0];
    const byPrefix = all.filter((m) => m.device.serial.startsWith(key));
    if (byPrefix.length === 1) return byPrefix[0];
    throw new RangeError(`fleet: no single device "${id}" (${byPrefix.length} match)`);
  }

  list(): DeviceInfo[] {
    return [...this.members.values()].map(({ device: d, name, transport: tr }) => ({
      serial: d.serial,
      name,
      profile: d.profile.name,
      state: d.state,
      transport: tr?.kind,
      endpoint: tr?.endpoint,
      active: tr?.active ?? false,
      visible: tr ? (tr.visible ?? tr.active) : false,
      apdus: d.apduCount,
      aborts: d.aborts,
      violations: d.violations,
      counter: d.monotonicCounter,
    }));
  }

  /** Taps a device on a PC/SC reader: by full reader name ("Virtual PCD 00 01") or slot number. */
  async tap(id: string, reader: string | number): Promise<void> {
    const m = this.get(id);
    const slot = typeof reader === "number" ? reader : /^\d+$/.test(reader) ? Number(reader) : slotOfReader(reader);
    if (m.transport && m.transport.kind !== "pcsc") await m.transport.close();
    if (!m.transport || m.transport.kind !== "pcsc") m.transport = await createTransport("pcsc", m.device, { slot, vpcdBasePort: this.options.vpcdBasePort });
    await (m.transport as PcscTransport).insert(slot);
  }

  /** The device leaves the reader's field / its port closes. */
  async remove(id: string): Promise<void> {
    const m = this.get(id);
    await m.transport?.close();
    m.device.powerOff();
  }

  press(id: string): void {
    this.get(id).device.press();
  }

  powerCut(id: string, after: number, mode: TearMode = "none"): void {
    this.get(id).device.cutPowerAfter(after, mode);
  }

  /** Power cycle: RAM lost, flash kept, the device is on afterwards. */
  reset(id: string): void {
    this.get(id).device.reset();
  }

  powerOn(id: string): void {
    this.get(id).device.powerOn();
  }

  powerOff(id: string): void {
    this.get(id).device.powerOff();
  }

  /** In-process APDU (what `/apdu` serves): undefined when the device did not answer. */
  apdu(id: string, command: Uint8Array): Uint8Array | undefined {
    return serveApdu(this.get(id).device, command);
  }

  async stop(): Promise<void> {
    for (const m of this.members.values()) {
      await m.transport?.close().catch(() => undefined);
      m.device.close();
    }
    this.members.clear();
  }

  /**
   * Waits until every device with an open transport is visible to host software (a pcsc
   * device: pcscd has read its ATR, i.e. the reader reports a card present). Resolves with
   * the devices still not visible after `timeoutMs` (empty: ready).
   */
  async ready(timeoutMs = 10_000): Promise<string[]> {
    const pending = () => [...this.members.values()].filter((m) => m.transport?.active && !(m.transport.visible ?? true)).map((m) => m.device.serial);
    const end = Date.now() + timeoutMs;
    while (pending().length && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return pending();
  }

  /** ms since the fleet started */
  now(): number {
    return performance.now() - this.t0;
  }

  private forward(type: string, e: { serial: string }): void {
    const ev: FleetEvent = { ...e, type, t: this.now() };
    this.emit("event", ev);
  }
}
