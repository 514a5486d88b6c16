// PC/SC channel through `pcsclite` (host-tools/README.md "Choosing a device"): a reader chosen by name (or a
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
  once(ev: "status" | "error" | "end", l: (e?: unknown) => void): this;
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
  /** a card entering or leaving the reader, as it happens (like `pcsc_scan`) */
  onEvent?: (e: { reader: string; event: "inserted" | "removed"; atr?: string }) => void;
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

  static async open(opts: PcscOptions, load: () => PCSCLite = defaultLoad): Promise<PcscChannel> {
    const waitMs = opts.waitMs ?? 10_000;
    const pcsc = establish(load);
    try {
      // the daemon's reader list arrives once, all names together: a name (or index) not
      // in it is known at once, not after a wait
      const names = await withTimeout(readerList(pcsc), waitMs, "pcsc: no reader list from pcscd");
      const reader = pcsc.readers[pickReader(names, opts.reader)];
      const ch = new PcscChannel(pcsc, reader);
      ch.onEvent = opts.onEvent;
      await ch.waitCard(waitMs);
      await ch.connect();
      return ch;
    } catch (e) {
      // every reader object holds a status thread and a libuv handle: all of them, and the
      // context, must be closed or the process never exits (TRAPS.md)
      await release(pcsc);
      throw e;
    }
  }

  private removal: (() => void)[] = [];
  private onEvent?: PcscOptions["onEvent"];

  /** Resolves once the card is out of the reader. */
  waitRemoved(ms: number): Promise<void> {
    if (!this.present) return Promise.resolve();
    return withTimeout(new Promise<void>((res) => this.removal.push(res)), ms, `pcsc: ${this.r.name}: card not removed`);
  }

  private waitCard(ms: number): Promise<void> {
    const r = this.r;
    let timer: NodeJS.Timeout | undefined;
    return new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(deviceError(`pcsc: ${r.name}: no card presented within ${ms / 1000} s (present one, or wait longer with --wait SECONDS)`)), ms);
      r.on("status", (s) => {
        const was = this.present;
        this.present = (s.state & r.SCARD_STATE_PRESENT) !== 0;
        if (this.present && !was) this.onEvent?.({ reader: r.name, event: "inserted", atr: s.atr?.toString("hex") });
        if (was && !this.present) this.onEvent?.({ reader: r.name, event: "removed" });
        if (this.present) resolve();
        if (was && !this.present) {
          this.lost = "card removed";
          for (const f of this.removal.splice(0)) f();
        }
      });
      r.on("end", () => {
        this.lost = "reader disconnected";
        reject(deviceError(`pcsc: ${r.name}: reader disconnected`));
      });
    }).finally(() => clearTimeout(timer));
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
    await release(this.pcsc);
  }
}

/** Reader names the daemon offers (for `wallet readers`). */
export async function listReaders(waitMs = 10_000, load: () => PCSCLite = defaultLoad): Promise<string[]> {
  const pcsc = establish(load);
  try {
    return await withTimeout(readerList(pcsc), waitMs, "pcsc: no reader list from pcscd");
  } finally {
    await release(pcsc);
  }
}

const defaultLoad = () => loadOptional<() => PCSCLite>("pcsclite", INSTALL)();

/** The daemon's socket as libpcsclite finds it (PCSCLITE_CSOCK_NAME, else the default). */
const socketName = () => process.env.PCSCLITE_CSOCK_NAME ?? "/run/pcscd/pcscd.comm";

/**
 * A PC/SC context. pcsclite establishes it in its constructor and throws when no daemon
 * answers (SCARD_E_NO_SERVICE, 0x8010001D): one line saying what to start.
 */
function establish(load: () => PCSCLite): PCSCLite {
  let pcsc: PCSCLite;
  try {
    pcsc = load();
  } catch (e) {
    const m = String((e as Error)?.message ?? e);
    if (/0x8010001d|service not available|SCardEstablishContext/i.test(m))
      throw deviceError(`no PC/SC service: start pcscd (\`pcscd -f\` in a terminal, or \`systemctl start pcscd\`); nothing answers on ${socketName()}`);
    throw e;
  }
  // an error event without a listener would be thrown out of the event loop
  pcsc.on("error", () => undefined);
  pcsc.on("reader", (r) => {
    r.on("error", () => undefined);
    r.on("status", (st) => ((r as ReaderWithReady).last = st));
    (r as ReaderWithReady).ready = new Promise<void>((res) => {
      for (const ev of ["status", "error", "end"] as const) r.once(ev, () => res());
    });
  });
  readerList(pcsc).catch(() => undefined); // wraps start() before pcsclite calls it
  return pcsc;
}

/**
 * Resolves with the reader names once the daemon's first list has arrived. pcsclite gives
 * no event for the list itself (and none at all when it is empty): its start() callback
 * is wrapped before it runs (pcsclite calls it on the next tick). The binding adds every
 * reader of one list synchronously, so all of them are in `readers` by then.
 */
function readerList(pcsc: PCSCLite): Promise<string[]> {
  const p = pcsc as PCSCLite & { start?: (cb: (err: unknown, data: Buffer) => void) => void; listed?: Promise<string[]> };
  if (p.listed) return p.listed;
  p.listed = new Promise<string[]>((resolve, reject) => {
    const start = p.start;
    if (typeof start !== "function") return resolve(Object.keys(pcsc.readers)); // not the binding we know: take what is there
    p.start = (cb) =>
      start.call(p, (err, data) => {
        cb(err, data);
        if (err) reject(deviceError(`pcsc: cannot list readers (${String((err as Error)?.message ?? err)}) — is pcscd running?`));
        else resolve(Object.keys(pcsc.readers));
      });
  });
  return p.listed;
}

/** The reader named by `spec`: its index in the list, its exact name, or a prefix of its name. */
export function pickReader(names: string[], spec: string): string {
  const available = names.length ? `readers: ${names.map((n, i) => `${i} "${n}"`).join(", ")}` : "no readers attached";
  if (/^\d+$/.test(spec)) {
    const i = Number(spec);
    if (i < names.length) return names[i];
    throw deviceError(`pcsc: no reader ${spec} (${available}; see \`wallet readers\`)`);
  }
  const name = names.find((n) => n === spec) ?? names.find((n) => n.startsWith(spec));
  if (!name) throw deviceError(`pcsc: reader "${spec}" not found (${available}; see \`wallet readers\`)`);
  return name;
}

type ReaderWithReady = CardReader & { ready?: Promise<void>; last?: { state: number; atr?: Buffer } };

export interface ReaderStatus {
  name: string;
  /** a card is in the reader (SCARD_STATE_PRESENT) */
  present: boolean;
  /** its ATR, hex ("" without a card) */
  atr: string;
  /** another program has the card exclusively (SCARD_STATE_EXCLUSIVE) */
  exclusive: boolean;
}

/** Each reader with its card and ATR (`wallet readers`, like `opensc-tool -l`). */
export async function readerStatus(waitMs = 10_000, load: () => PCSCLite = defaultLoad): Promise<ReaderStatus[]> {
  const pcsc = establish(load);
  try {
    const names = await withTimeout(readerList(pcsc), waitMs, "pcsc: no reader list from pcscd");
    const readers = names.map((n) => pcsc.readers[n] as ReaderWithReady);
    // each reader's first status event carries its state and ATR (at most 1 s each, in parallel)
    await Promise.race([Promise.all(readers.map((r) => r.ready)), new Promise((res) => setTimeout(res, 1000).unref())]);
    return readers.map((r) => {
      const st = r.last;
      const present = !!st && (st.state & r.SCARD_STATE_PRESENT) !== 0;
      const exclusive = !!st && (st.state & ((r as unknown as { SCARD_STATE_EXCLUSIVE?: number }).SCARD_STATE_EXCLUSIVE ?? 0x80)) !== 0;
      return { name: r.name, present, atr: present && st?.atr ? st.atr.toString("hex") : "", exclusive };
    });
  } finally {
    await release(pcsc);
  }
}

/**
 * Closes the context and every reader object (idempotent). A reader's status thread that
 * has not reached its first SCardGetStatusChange cannot be cancelled: closing it then
 * leaves the thread's libuv handle open and the process never exits. So each reader is
 * closed after its first status event (a few ms after it appears; at most 1 s).
 */
async function release(pcsc: PCSCLite): Promise<void> {
  const p = pcsc as PCSCLite & { released?: boolean };
  if (p.released) return;
  p.released = true;
  try {
    pcsc.close(); // first: no new reader objects after this
  } catch {
    // already gone
  }
  const readers = Object.values(pcsc.readers) as ReaderWithReady[];
  let t: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(readers.map((r) => r.ready)), new Promise((res) => (t = setTimeout(res, 1000)))]);
  clearTimeout(t);
  for (const r of readers) {
    try {
      r.close();
    } catch {
      // a reader that went away is closed already
    }
  }
}
