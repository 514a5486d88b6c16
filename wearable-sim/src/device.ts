// One simulated wallet device: hosts firmware.wasm and supplies its hardware interface
// (protocol/SPEC.md §2: flash, TRNG, monotonic counter, clock, button), per
// DESIGN.md §3 and wearable-sim/README.md "Device model".
//
// Power model: `powerOn()` is a fresh WebAssembly.Instance + `reset()` (RAM lost, flash
// kept). A power cut is NorFlash throwing `PowerCut` from inside a flash import: the
// exception unwinds through the wasm frames, the instance is dropped and the device is
// off. A trap (`abort`, `unreachable`, out-of-bounds) makes the device mute: it answers
// nothing until the next power-on, which restarts it from its flash image. Both are
// events, and aborts are counted (`device.aborts`) because a test that sees one fails.
//
// The compiled WebAssembly.Module is cached per file and shared by every device; each
// powered device costs one instance and its fixed-size memory (SPEC §2: never grows).
import { EventEmitter } from "node:events";
import { createHash, createHmac, randomBytes, randomFillSync } from "node:crypto";
import { existsSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PROTOCOL_REVISION } from "../../protocol/portable/revision.ts";
import { NVM_PAGE_COUNT, NVM_PAGE_SIZE } from "../../protocol/portable/nvm.ts";
import { wasmImports, type FirmwareImports } from "../../protocol/src/hw.ts";
import { NorFlash, NorViolation, PowerCut, type TearMode } from "./flash.ts";
import { profileOf, type Profile, type ProfileName } from "./profiles.ts";

export const DEFAULT_FIRMWARE = fileURLToPath(new URL("../../build/firmware.wasm", import.meta.url));

// ISO 7816-4 §5.6 table 6: wrong length. What a device's ISO layer answers to a command
// longer than its I/O buffer; the firmware never sees such a command.
const SW_WRONG_LENGTH = Uint8Array.of(0x67, 0x00);

/** Thrown by `transmit` when the device cannot answer: off, power cut during the APDU, or mute after a trap. */
export class DeviceOffError extends Error {
  constructor(
    readonly serial: string,
    readonly reason: "off" | "power-cut" | "mute",
  ) {
    super(`device off: ${serial} (${reason})`);
    this.name = "DeviceOffError";
  }
}

/** Thrown by `powerOn` when the firmware's protocol revision differs from PROTOCOL_REVISION (SPEC §1). */
export class RevisionMismatchError extends Error {
  constructor(
    readonly serial: string,
    readonly firmwareRevision: number,
  ) {
    super(`device revision: ${serial} firmware revision ${firmwareRevision}, host expects ${PROTOCOL_REVISION}`);
    this.name = "RevisionMismatchError";
  }
}

/** The firmware called `env.abort`: carried out of the wasm frames, then turned into a fault. */
class FirmwareAbort extends Error {}

export type DeviceState = "off" | "on" | "mute";
export type AutoConfirm = "accept" | "refuse";
export type PowerCause = "on" | "off" | "reset" | "power-cut" | "mute";

export interface ApduEvent {
  serial: string;
  command: Uint8Array;
  response: Uint8Array;
  /** milliseconds spent in the firmware */
  ms: number;
}
export interface PowerEvent {
  serial: string;
  on: boolean;
  cause: PowerCause;
}
export interface FaultEvent {
  serial: string;
  kind: "abort" | "trap" | "violation" | "clock";
  message: string;
}
export interface DisplayEvent {
  serial: string;
  kind: number;
  amount: number;
  /** how long the firmware says the wearer has to answer (the `confirm` import's timeout) */
  timeoutMs?: number;
}
export interface ConfirmEvent extends DisplayEvent {
  result: number;
}

export interface DeviceOptions {
  profile?: ProfileName;
  /** 8 bytes as 16 hex digits; random when absent (derived from seed when seeded) */
  serial?: string;
  /** firmware file (default build/firmware.wasm) or an already compiled module */
  firmware?: string | WebAssembly.Module;
  /** a flash to use; otherwise one is created (file-backed when imagePath is set) */
  flash?: NorFlash;
  /** flash image file; the monotonic counter is kept beside it in `<imagePath>.counter` */
  imagePath?: string;
  pageSize?: number;
  pageCount?: number;
  /** deterministic TRNG, torn-bit patterns and default serial: seeded per device from seed + serial */
  seed?: string;
  /** what an unattended `confirm` answers when no press is armed (default: refuse = timed out) */
  autoConfirm?: AutoConfirm;
}

const modules = new Map<string, WebAssembly.Module>();

/** Compiles a firmware file once per process; every device shares the module. */
export function loadFirmware(path: string = DEFAULT_FIRMWARE): WebAssembly.Module {
  let m = modules.get(path);
  if (!m) {
    if (!existsSync(path)) throw new Error(`device firmware: ${path} not found (run npm run build:firmware)`);
    m = new WebAssembly.Module(readFileSync(path));
    modules.set(path, m);
  }
  return m;
}

/** Deterministic byte stream: HMAC-SHA256(key, label ‖ counter) blocks, key = SHA-256(seed ‖ serial). */
class SeededStream {
  private key: Buffer;
  private block = Buffer.alloc(0);
  private used = 0;
  private counter = 0n;
  constructor(seed: string, serial: string, private readonly label: string) {
    this.key = createHash("sha256").update(`wearable-sim\0${seed}\0${serial}`).digest();
  }
  fill(dst: Uint8Array): void {
    for (let i = 0; i < dst.length; i++) {
      if (this.used === this.block.length) {
        const ctr = Buffer.alloc(8);
        ctr.writeBigUInt64BE(this.counter++);
        this.block = createHmac("sha256", this.key).update(this.label).update(ctr).digest();
        this.used = 0;
      }
      dst[i] = this.block[this.used++];
    }
  }
  /** a float in [0, 1) */
  next(): number {
    const b = new Uint8Array(4);
    this.fill(b);
    return new DataView(b.buffer).getUint32(0) / 2 ** 32;
  }
}

export function deriveSerial(seed: string, index: number): string {
  return createHash("sha256").update(`wearable-sim serial\0${seed}\0${index}`).digest("hex").slice(0, 16);
}

interface Exports {
  memory: WebAssembly.Memory;
  reset(): number;
  io_buffer(): number;
  io_capacity(): number;
  apdu(len: number): number;
  protocol_revision(): number;
}

export class Device extends EventEmitter {
  readonly profile: Profile;
  readonly serial: string;
  readonly flash: NorFlash;
  readonly module: WebAssembly.Module;
  readonly imagePath?: string;
  autoConfirm: AutoConfirm;
  /** firmware aborts and traps seen since this Device was created */
  aborts = 0;
  /** NOR violations seen (programming a 0 bit back to 1): firmware bugs */
  violations = 0;
  apduCount = 0;
  private _state: DeviceState = "off";
  private exports?: Exports;
  private counter: number;
  private pressesArmed = 0;
  private refusalArmed = false;
  private clockFrozenAt?: number;
  private clockSkew = 0;
  private trng?: SeededStream;
  private lastAbort = "";

  constructor(opts: DeviceOptions = {}) {
    super();
    this.profile = profileOf(opts.profile ?? "card");
    const serial = opts.serial ?? (opts.seed !== undefined ? deriveSerial(opts.seed, 0) : randomBytes(8).toString("hex"));
    if (!/^[0-9a-f]{16}$/i.test(serial)) throw new TypeError(`device serial: expected 16 hex digits, got "${serial}"`);
    this.serial = serial.toLowerCase();
    this.module = opts.firmware instanceof WebAssembly.Module ? opts.firmware : loadFirmware(opts.firmware);
    this.autoConfirm = opts.autoConfirm ?? "refuse";
    this.imagePath = opts.imagePath;
    let rng: (() => number) | undefined;
    if (opts.seed !== undefined) {
      this.trng = new SeededStream(opts.seed, this.serial, "trng");
      const tear = new SeededStream(opts.seed, this.serial, "tear");
      rng = () => tear.next();
    }
    this.flash =
      opts.flash ??
      new NorFlash({ pageSize: opts.pageSize ?? NVM_PAGE_SIZE, pageCount: opts.pageCount ?? NVM_PAGE_COUNT, path: opts.imagePath, rng });
    this.counter = this.imagePath && existsSync(this.counterPath()) ? Number(readFileSync(this.counterPath(), "utf8")) : 0;
    // an 'error'-less EventEmitter throws on emit('error'); faults use their own event names
    this.setMaxListeners(0);
  }

  get state(): DeviceState {
    return this._state;
  }
  get isOn(): boolean {
    return this._state === "on";
  }
  /** the hardware monotonic counter's current value */
  get monotonicCounter(): number {
    return this.counter;
  }
  get atr(): Uint8Array {
    return this.profile.atr;
  }

  /** Fresh instance (RAM lost) + reset(): the firmware rebuilds its state from flash. */
  powerOn(): void {
    if (this._state === "on") return;
    // a fired cut left the flash dead; a cut armed for this boot stays armed
    if (this.flash.isOff) this.flash.disarm();
    const instance = new WebAssembly.Instance(this.module, wasmImports(this.imports()));
    const ex = instance.exports as unknown as Exports;
    const rev = ex.protocol_revision() >>> 0;
    if (rev !== PROTOCOL_REVISION) throw new RevisionMismatchError(this.serial, rev);
    this.exports = ex;
    this._state = "on";
    this.emitPower(true, "on");
    this.runFirmware(() => ex.reset());
  }

  powerOff(): void {
    if (this._state === "off") return;
    this.drop("off");
  }

  /** Off, and the flash image file closed (file-backed devices). */
  close(): void {
    this.powerOff();
    this.flash.close();
  }

  /** Warm reset (ISO 7816-3 §6.2.3): RAM lost, flash kept; the device is on afterwards. */
  reset(): void {
    if (this._state !== "off") this.drop("reset");
    this.powerOn();
  }

  /**
   * Sends one command APDU, returns `data‖SW1‖SW2`. Throws DeviceOffError when the
   * device is off, when power is cut during the command (the device is then off and
   * answers nothing: like a card pulled from the field), or when it is mute after a trap.
   */
  transmit(command: Uint8Array): Uint8Array {
    const ex = this.exports;
    if (this._state !== "on" || !ex) throw new DeviceOffError(this.serial, this._state === "mute" ? "mute" : "off");
    const cap = ex.io_capacity() >>> 0;
    const t0 = performance.now();
    let response: Uint8Array;
    if (command.length > cap) {
      response = SW_WRONG_LENGTH.slice();
    } else {
      const io = ex.io_buffer() >>> 0;
      new Uint8Array(ex.memory.buffer, io, command.length).set(command);
      const n = this.runFirmware(() => ex.apdu(command.length) >>> 0);
      if (n > cap || n < 2) {
        this.fault("trap", `apdu returned length ${n} (capacity ${cap})`);
        throw new DeviceOffError(this.serial, "mute");
      }
      response = new Uint8Array(ex.memory.buffer, io, n).slice();
    }
    this.apduCount++;
    this.emit("apdu", { serial: this.serial, command: command.slice(), response, ms: performance.now() - t0 } satisfies ApduEvent);
    return response;
  }

  /** Arms one button press; the next `confirm` consumes it. */
  press(): void {
    this.pressesArmed++;
    this.emit("button", { serial: this.serial, armed: this.pressesArmed });
  }
  get armedPresses(): number {
    return this.pressesArmed;
  }
  /** Arms a refusal: armed presses are dropped and the next `confirm` answers 0, whatever autoConfirm says. */
  refuse(): void {
    this.pressesArmed = 0;
    this.refusalArmed = true;
    this.emit("button", { serial: this.serial, armed: 0, refuse: true });
  }
  get armedRefusal(): boolean {
    return this.refusalArmed;
  }

  /** Fault injection: power is cut at the flash operation after `nFlashOps` more (NorFlash.armPowerCut). */
  cutPowerAfter(nFlashOps: number, mode: TearMode = "none"): void {
    this.flash.armPowerCut(nFlashOps, mode);
  }
  disarmPowerCut(): void {
    this.flash.disarm();
  }
  /** Fault injection: the clock stops at `unixSeconds` (default: now). */
  freezeClock(unixSeconds?: number): void {
    this.clockFrozenAt = unixSeconds ?? this.clockNow();
    this.emit("fault", { serial: this.serial, kind: "clock", message: `clock frozen at ${this.clockFrozenAt}` });
  }
  /** Fault injection: the clock runs `seconds` ahead (negative: behind). */
  skewClock(seconds: number): void {
    this.clockSkew = seconds;
    this.clockFrozenAt = undefined;
    this.emit("fault", { serial: this.serial, kind: "clock", message: `clock skewed by ${seconds} s` });
  }
  /** Unix seconds the device's clock reads; 0 when the profile has none (SPEC §2). */
  clockNow(): number {
    if (!this.profile.clock) return 0;
    if (this.clockFrozenAt !== undefined) return this.clockFrozenAt;
    return Math.floor(Date.now() / 1000) + this.clockSkew;
  }

  // ---- internals ----

  private counterPath(): string {
    return `${this.imagePath}.counter`;
  }

  private persistCounter(): void {
    if (!this.imagePath) return;
    // write-then-rename: the counter file is never seen half-written
    const tmp = `${this.counterPath()}.tmp`;
    writeFileSync(tmp, String(this.counter));
    renameSync(tmp, this.counterPath());
  }

  private emitPower(on: boolean, cause: PowerCause): void {
    this.emit("power", { serial: this.serial, on, cause } satisfies PowerEvent);
  }

  private drop(cause: PowerCause): void {
    this.exports = undefined;
    this._state = cause === "mute" ? "mute" : "off";
    if (this.imagePath) this.flash.flush();
    this.emitPower(false, cause);
  }

  private fault(kind: FaultEvent["kind"], message: string): void {
    if (kind !== "violation") this.aborts++;
    this.emit("fault", { serial: this.serial, kind, message } satisfies FaultEvent);
    this.drop("mute");
  }

  /** Runs firmware code; maps a power cut, an abort, a trap or a NOR violation to device state. */
  private runFirmware<T>(fn: () => T): T {
    const violationsBefore = this.flash.violations;
    try {
      const r = fn();
      this.noteViolations(violationsBefore);
      return r;
    } catch (e) {
      this.noteViolations(violationsBefore);
      if (e instanceof PowerCut) {
        // the cut has happened: the next power-on starts with a healthy supply
        this.flash.disarm();
        this.drop("power-cut");
        throw new DeviceOffError(this.serial, "power-cut");
      }
      if (e instanceof NorViolation) {
        this.fault("violation", e.message);
      } else if (e instanceof FirmwareAbort) {
        this.fault("abort", e.message);
      } else if (e instanceof WebAssembly.RuntimeError) {
        this.fault("trap", e.message);
      } else {
        throw e;
      }
      throw new DeviceOffError(this.serial, "mute");
    }
  }

  private noteViolations(before: number): void {
    const n = this.flash.violations - before;
    if (n <= 0) return;
    this.violations += n;
    this.emit("violation", { serial: this.serial, count: n, total: this.violations });
  }

  private mem(): Uint8Array {
    return new Uint8Array(this.exports!.memory.buffer);
  }

  /** Reads an AssemblyScript string (UTF-16LE, byte length at ptr - 4) for abort messages. */
  private asString(ptr: number): string {
    if (!this.exports || ptr < 4) return "";
    const m = this.mem();
    if (ptr > m.length) return "";
    const len = new DataView(m.buffer).getUint32(ptr - 4, true);
    if (ptr + len > m.length) return "";
    return Buffer.from(m.subarray(ptr, ptr + (len & ~1))).toString("utf16le");
  }

  private imports(): FirmwareImports {
    const flash = this.flash;
    // the instance's memory is only known after instantiation: imports reach it lazily
    const view = (ptr: number, len: number) => this.mem().subarray(ptr >>> 0, (ptr >>> 0) + (len >>> 0));
    return {
      hw: {
        flash_page_size: () => flash.pageSize,
        flash_page_count: () => flash.pageCount,
        flash_read: (offset: number, dst: number, len: number) => view(dst, len).set(flash.read(offset >>> 0, len >>> 0)),
        flash_program: (offset: number, src: number, len: number) => flash.program(offset >>> 0, view(src, len).slice()),
        flash_erase: (page: number) => flash.erase(page >>> 0),
        random: (dst: number, len: number) => {
          const out = view(dst, len);
          if (this.trng) this.trng.fill(out);
          else randomFillSync(out);
        },
        counter_read: () => this.counter,
        counter_increment: () => {
          this.counter = (this.counter + 1) >>> 0;
          this.persistCounter();
          return this.counter;
        },
        clock_now: () => this.clockNow(),
        confirm: (kind: number, amount: number, timeoutMs: number) => this.confirm(kind >>> 0, amount >>> 0, timeoutMs >>> 0),
      },
      env: {
        abort: (msg: number, file: number, line: number, col: number) => {
          this.lastAbort = `${this.asString(msg)} at ${this.asString(file)}:${line}:${col}`;
          throw new FirmwareAbort(`abort: ${this.lastAbort}`);
        },
      },
    };
  }

  /**
   * SPEC §2 `confirm`: -1 without a button; else 1 when a press is armed (consumed) or
   * the autoConfirm policy accepts, 0 otherwise (refused / timed out). The import is
   * synchronous, so a press must be armed before the command that asks for it.
   */
  private confirm(kind: number, amount: number, timeoutMs: number): number {
    if (!this.profile.button) return -1;
    if (this.profile.display) this.emit("display", { serial: this.serial, kind, amount, timeoutMs } satisfies DisplayEvent);
    let result = 0;
    if (this.refusalArmed) {
      this.refusalArmed = false;
    } else if (this.pressesArmed > 0) {
      this.pressesArmed--;
      result = 1;
    } else if (this.autoConfirm === "accept") {
      result = 1;
    }
    this.emit("confirm", { serial: this.serial, kind, amount, result } satisfies ConfirmEvent);
    return result;
  }
}
