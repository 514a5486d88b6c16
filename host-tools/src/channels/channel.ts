// The host's one interface to a device (DESIGN.md §2; STYLE.md "Hardware behind one
// interface"): bytes of a command APDU in, bytes of the response (data ‖ SW1 SW2) out.
// Implementations: pcsc.ts (pcsclite), hid.ts (node-hid, and the simulator's HID over
// UDP), serial.ts (@serialport/stream), sim.ts (in-process wearable-sim Device). Only
// those modules import device libraries; everything above talks to a Channel.
import { createRequire } from "node:module";
import { hex } from "../../../protocol/src/bytes.ts";
import { swName } from "../../../protocol/src/sw.ts";
import { deviceError } from "../errors.ts";

export interface Channel {
  /** what the channel talks to, for messages: "pcsc:Virtual PCD 00 00", "sim:card 0102…" */
  readonly name: string;
  transmit(apdu: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
  /** readers with removable cards: resolves once the card has left (batches wait for it) */
  waitRemoved?(ms: number): Promise<void>;
}


/** `--trace`: prints every APDU and response (with the status word's name) on stderr. */
export class TracingChannel implements Channel {
  constructor(
    private inner: Channel,
    private log: (line: string) => void = (l) => process.stderr.write(l + "\n"),
  ) {}
  get name(): string {
    return this.inner.name;
  }
  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    const t = performance.now();
    this.log(`> ${this.inner.name} ${hex(apdu)}`);
    const r = await this.inner.transmit(apdu);
    const sw = r.length >= 2 ? (r[r.length - 2] << 8) | r[r.length - 1] : -1;
    this.log(`< ${hex(r.subarray(0, r.length - 2))} ${sw >= 0 ? sw.toString(16).padStart(4, "0") + " " + swName(sw) : "(no SW)"} ${(performance.now() - t).toFixed(2)} ms`);
    return r;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  get waitRemoved(): ((ms: number) => Promise<void>) | undefined {
    return this.inner.waitRemoved?.bind(this.inner);
  }
}

const requireHere = createRequire(import.meta.url);

/** Loads an optional device binding, or fails with one line saying what to install. */
export function loadOptional<T>(pkg: string, install: string): T {
  try {
    return requireHere(pkg) as T;
  } catch (e) {
    throw deviceError(`${pkg} is not available (${(e as Error).message.split("\n")[0]}); install it: ${install}`);
  }
}

/** Rejects after `ms` with a device error: devices that stop answering must not hang the CLI. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(deviceError(`${what}: no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}
