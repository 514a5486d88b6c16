// PC/SC channel through `pcsclite` (issue 6 "Channels"): a reader chosen by name (or a
// prefix of it) or by index, waiting for a card, SCARD_SHARE_SHARED (the binding's
// default is exclusive: TRAPS.md), and clear errors when the card is pulled or the
// reader goes away. pcsclite is an optional dependency: when it cannot load, one line
// says what to install. The daemon is the one libpcsclite finds (PCSCLITE_CSOCK_NAME).
import { deviceError } from "../errors.ts";
import { loadOptional, withTimeout, type Channel } from "./channel.ts";

/** The parts of pcsclite's CardReader we use (its index.d.ts does not export it). */
export interface CardReader {
  name: string;
  connected: boolean;
  SCARD_SHARE_SHARED: number;
  SCARD_PROTOCOL_T0: number;
  SCARD_PROTOCOL_T1: number;
  SCARD_STATE_PRESENT: number;
  SCARD_STATE_EMPTY: number;
  SCARD_LEAVE_CARD: number;
  SCARD_RESET_CARD: number;
  SCARD_UNPOWER_CARD: number;
  on(ev: "status", l: (s: { state: number; atr?: Buffer }) => void): this;
  on(ev: "error" | "end", l: (e?: unknown) => void): this;
  connect(o: { share_mode?: number; protocol?: number }, cb: (err: unknown, protocol: number) => void): void;
  disconnect(disposition: number, cb: (err: unknown) => void): void;
  transmit(data: Buffer, resLen: number, protocol: number, cb: (err: unknown, res: Buffer) => void): void;
  close(): void;
}
type Reader = CardReader;
export interface PCSCLite {
  readers: Record<string, CardReader>;
  on(ev: "reader", l: (r: CardReader) => void): this;
  on(ev: "error", l: (e: unknown) => void): this;
  close(): void;
}

const INSTALL = "apt-get install pcscd libpcsclite-dev && npm_config_nodedir=/usr npm install (it retries the optional pcsclite binding)";
const MAX_RESPONSE = 65538; // extended Le 65536 + SW1 SW2

export interface PcscOptions {
  /** reader name, a prefix of it, or its index in the reader list ("0", "1", ...) */
  reader: string;
  /** how long to wait for the reader and then for a card (ms) */
  waitMs?: number;
}

export class PcscChannel implements Channel {
  private protocol = 0;
  private present = false;
  private lost: string | null = null;
  private constructor(
    private pcsc: PCSCLite,
    private r: Reader,
  ) {}

  get name(): string {
    return `pcsc:${this.r.name}`;
  }

  static async open(opts: PcscOptions): Promise<PcscChannel> {
    const waitMs = opts.waitMs ?? 10_000;
    const pcsc = loadOptional<() => PCSCLite>("pcsclite", INSTALL)();
    const errors: string[] = [];
    pcsc.on("error", (e) => errors.push(String((e as Error)?.message ?? e)));
    try {
      const reader = await withTimeout(
        new Promise<Reader>((resolve) => {
          const pick = () => {
            const names = Object.keys(pcsc.readers);
            const byIndex = /^\d+$/.test(opts.reader) ? names[Number(opts.reader)] : undefined;
            const name = byIndex ?? names.find((n) => n === opts.reader) ?? names.find((n) => n.startsWith(opts.reader));
            if (name) resolve(pcsc.readers[name]);
          };
          pcsc.on("reader", pick);
          pick();
        }),
        waitMs,
        `pcsc: reader "${opts.reader}" not found${errors.length ? ` (${errors[0]})` : ""} — is pcscd running and the reader attached?`,
      );
      const ch = new PcscChannel(pcsc, reader);
      await ch.waitCard(waitMs);
      await ch.connect();
      return ch;
    } catch (e) {
      pcsc.close();
      throw e;
    }
  }

  private removal: (() => void)[] = [];

  /** Resolves once the card is out of the reader. */
  waitRemoved(ms: number): Promise<void> {
    if (!this.present) return Promise.resolve();
    return withTimeout(new Promise<void>((res) => this.removal.push(res)), ms, `pcsc: ${this.r.name}: card not removed`);
  }

  private waitCard(ms: number): Promise<void> {
    const r = this.r;
    return withTimeout(
      new Promise<void>((resolve) => {
        r.on("status", (s) => {
          const was = this.present;
          this.present = (s.state & r.SCARD_STATE_PRESENT) !== 0;
          if (this.present) resolve();
          if (was && !this.present) {
            this.lost = "card removed";
            for (const f of this.removal.splice(0)) f();
          }
        });
        r.on("end", () => (this.lost = "reader disconnected"));
      }),
      ms,
      `pcsc: ${r.name}: no card presented`,
    );
  }

  private async connect(): Promise<void> {
    const r = this.r;
    if (r.connected) await withTimeout(new Promise<void>((res) => r.disconnect(r.SCARD_LEAVE_CARD, () => res())), 1000, "pcsc: disconnect").catch(() => undefined);
    this.protocol = await new Promise<number>((resolve, reject) =>
      r.connect({ share_mode: r.SCARD_SHARE_SHARED, protocol: r.SCARD_PROTOCOL_T0 | r.SCARD_PROTOCOL_T1 }, (err, p) =>
        err ? reject(deviceError(`pcsc: ${r.name}: cannot connect to the card (${(err as Error).message ?? err})`)) : resolve(p),
      ),
    );
  }

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    if (this.lost) throw deviceError(`pcsc: ${this.r.name}: ${this.lost}; present the card again and retry`);
    return new Promise((resolve, reject) =>
      this.r.transmit(Buffer.from(apdu), MAX_RESPONSE, this.protocol, (err, res) => {
        if (!err) return resolve(new Uint8Array(res));
        const why = this.lost ?? (this.present ? String((err as Error).message ?? err) : "card removed");
        reject(deviceError(`pcsc: ${this.r.name}: ${why}; present the card again and retry`));
      }),
    );
  }

  async close(): Promise<void> {
    const r = this.r;
    // after a removal the binding may never call back: do not let that hang the tool
    if (r.connected) await withTimeout(new Promise<void>((res) => r.disconnect(r.SCARD_LEAVE_CARD, () => res())), 1000, "pcsc: disconnect").catch(() => undefined);
    for (const x of Object.values(this.pcsc.readers)) x.close();
    this.pcsc.close();
  }
}

/** Reader names the daemon offers (for `wallet readers`). */
export async function listReaders(waitMs = 1500): Promise<string[]> {
  const pcsc = loadOptional<() => PCSCLite>("pcsclite", INSTALL)();
  pcsc.on("error", () => undefined);
  await new Promise((r) => setTimeout(r, waitMs));
  const names = Object.keys(pcsc.readers);
  for (const x of Object.values(pcsc.readers)) x.close();
  pcsc.close();
  return names;
}
