// Small promise helpers around the `pcsclite` binding for tests and benches (not for
// host-tools, which have their own PC/SC channel): list readers, wait for a card to be
// present or absent, connect SHARED, transmit, disconnect.
//
// Traps (TRAPS.md): pass SCARD_SHARE_SHARED (the binding defaults to exclusive);
// after a removal call disconnect() before connecting again; closing needs every
// reader closed too, or the binding's monitor threads keep the process alive.
// The PC/SC daemon is chosen by PCSCLITE_CSOCK_NAME (set by the rig, test/rig/README.md),
// which libpcsclite reads once, on the first context of the process.
import { createRequire } from "node:module";

import type { CardReader, PCSCLite } from "../../host-tools/src/channels/pcsc.ts";
export type { CardReader };

/** Largest response a transmit may return: extended Le 65536 + SW1 SW2. */
export const MAX_RESPONSE = 65538;

const requireHere = createRequire(import.meta.url);

/** Loads the optional binding, or throws one line saying how to get it. */
export function loadPcsclite(): () => PCSCLite {
  try {
    return requireHere("pcsclite") as () => PCSCLite;
  } catch (e) {
    throw new Error(`pcsc: the pcsclite binding is missing (${(e as Error).message.split("\n")[0]}); run: apt-get install libpcsclite-dev && npm_config_nodedir=/usr npm rebuild pcsclite`);
  }
}

type Waiter = { test: (state: number) => boolean; resolve: (state: number) => void };

/** One PC/SC context with every reader's latest state tracked. */
export class PcscSession {
  private readonly pcsc: PCSCLite;
  private readonly states = new Map<string, { state: number; atr?: Buffer }>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly protocols = new Map<string, number>();
  private readerWaiters = new Set<() => void>();
  private closed = false;
  /** Errors the binding reported asynchronously (a test may assert none happened). */
  readonly errors: unknown[] = [];

  constructor() {
    this.pcsc = loadPcsclite()();
    this.pcsc.on("error", (e) => this.closed || this.errors.push(e));
    this.pcsc.on("reader", (r) => {
      r.on("error", (e) => this.closed || this.errors.push(e));
      r.on("status", (s) => {
        this.states.set(r.name, s);
        for (const w of this.waiters.get(r.name) ?? []) if (w.test(s.state)) w.resolve(s.state);
      });
      r.on("end", () => this.states.delete(r.name));
      for (const w of this.readerWaiters) w();
    });
  }

  /** Names of the readers this context has seen so far. */
  readers(): string[] {
    return Object.keys(this.pcsc.readers);
  }

  reader(name: string): CardReader {
    const r = this.pcsc.readers[name];
    if (!r) throw new Error(`pcsc: no reader named "${name}" (have: ${this.readers().join(", ") || "none"})`);
    return r;
  }

  /** Waits until a reader whose name starts with `prefix` exists; returns its full name. */
  async waitReader(prefix: string, timeoutMs = 5000): Promise<string> {
    const find = () => this.readers().find((n) => n.startsWith(prefix));
    const found = find();
    if (found) return found;
    return withTimeout(
      new Promise<string>((resolve) => {
        const w = () => {
          const n = find();
          if (n) {
            this.readerWaiters.delete(w);
            resolve(n);
          }
        };
        this.readerWaiters.add(w);
      }),
      timeoutMs,
      `pcsc: no reader "${prefix}…" within ${timeoutMs} ms`,
    );
  }

  /** Latest reader state bits (SCARD_STATE_*), 0 before the first status event. */
  state(name: string): number {
    return this.states.get(name)?.state ?? 0;
  }

  private waitState(name: string, test: (s: number) => boolean, what: string, timeoutMs: number): Promise<number> {
    const now = this.states.get(name);
    if (now && test(now.state)) return Promise.resolve(now.state);
    let waiter: Waiter | undefined;
    const p = new Promise<number>((resolve) => {
      waiter = { test, resolve };
      if (!this.waiters.has(name)) this.waiters.set(name, new Set());
      this.waiters.get(name)!.add(waiter);
    });
    return withTimeout(p, timeoutMs, `pcsc: ${name}: no ${what} within ${timeoutMs} ms`).finally(() => this.waiters.get(name)?.delete(waiter!));
  }

  /** Resolves with the ATR once a card is present in the reader. */
  async waitPresent(name: string, timeoutMs = 5000): Promise<Buffer> {
    const r = this.reader(name);
    await this.waitState(name, (s) => (s & r.SCARD_STATE_PRESENT) !== 0, "card", timeoutMs);
    return this.states.get(name)?.atr ?? Buffer.alloc(0);
  }

  /** Resolves once the reader is empty; drops a connection the removal left stale. */
  async waitAbsent(name: string, timeoutMs = 5000): Promise<void> {
    const r = this.reader(name);
    await this.waitState(name, (s) => (s & r.SCARD_STATE_EMPTY) !== 0, "removal", timeoutMs);
    // after a removal the binding still thinks it is connected (TRAPS.md)
    if (r.connected) await this.disconnect(name).catch(() => undefined);
  }

  /** Connects SHARED with T=0 or T=1; returns the negotiated protocol. */
  async connect(name: string): Promise<number> {
    const r = this.reader(name);
    if (r.connected) await this.disconnect(name).catch(() => undefined);
    const protocol = await new Promise<number>((resolve, reject) =>
      r.connect({ share_mode: r.SCARD_SHARE_SHARED, protocol: r.SCARD_PROTOCOL_T0 | r.SCARD_PROTOCOL_T1 }, (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.protocols.set(name, protocol);
    return protocol;
  }

  /** Sends one command APDU; resolves with the response (data ‖ SW1 SW2). */
  transmit(name: string, apdu: Uint8Array, resLen = MAX_RESPONSE): Promise<Uint8Array> {
    const r = this.reader(name);
    const protocol = this.protocols.get(name);
    if (protocol === undefined) return Promise.reject(new Error(`pcsc: ${name}: transmit before connect`));
    return new Promise((resolve, reject) =>
      r.transmit(Buffer.from(apdu), resLen, protocol, (err, res) => (err ? reject(err) : resolve(new Uint8Array(res)))),
    );
  }

  /** Disconnects (default: leave the card powered, as a POS between taps would). */
  disconnect(name: string, disposition?: number): Promise<void> {
    const r = this.reader(name);
    this.protocols.delete(name);
    return new Promise((resolve, reject) => r.disconnect(disposition ?? r.SCARD_LEAVE_CARD, (err) => (err ? reject(err) : resolve())));
  }

  /** Closes every reader and the context so the process can exit. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const r of Object.values(this.pcsc.readers)) r.close();
    this.pcsc.close();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, msg: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(msg)), ms)))]).finally(() => clearTimeout(t));
}

/**
 * Lists the readers the daemon offers: waits up to `timeoutMs` for the first one, then
 * a short while for the rest to be announced.
 */
export async function listReaders(timeoutMs = 2000): Promise<string[]> {
  const s = new PcscSession();
  try {
    await s.waitReader("", timeoutMs).catch(() => "");
    await new Promise((r) => setTimeout(r, 100));
    return s.readers();
  } finally {
    s.close();
  }
}
