// vpcd transport: makes a simulated device look like a card in a PC/SC reader.
//
// vsmartcard's vpcd driver (loaded by pcscd, package vsmartcard-vpcd) listens on TCP
// port 35963 + slot for a "virtual ICC". Protocol (vsmartcard virtualsmartcard/src/vpcd/
// vpcd.c, both directions): every message is a 2-byte big-endian length followed by that
// many bytes. A 1-byte message from vpcd is a control code (VPCD_CTRL_*): 0 power off,
// 1 power on, 2 reset, 4 get ATR; only get ATR expects a reply (the ATR). Any longer
// message is a command APDU and expects the response APDU (data ‖ SW1 SW2).
// Connecting is inserting the card into the reader; closing the socket removes it.
//
// Behaviour worth knowing: vpcd polls get ATR about twice a second to see whether the
// card is still there, and it has no timeout: a card that stops answering stalls its
// reader. So a handler failure is answered (SW 6F00) and reported, never left silent.
// vpcd sends length and payload in two send() calls; we set TCP_NODELAY on our side and
// write each reply in one call (the rig's LD_PRELOAD shim fixes pcscd's side).
import { Socket, connect as tcpConnect } from "node:net";

/** vpcd control codes (vsmartcard vpcd.h VPCD_CTRL_*). */
export const VPCD_CTRL_OFF = 0;
export const VPCD_CTRL_ON = 1;
export const VPCD_CTRL_RESET = 2;
export const VPCD_CTRL_ATR = 4;

/** vsmartcard's default port for slot 0 (reader "… 00 00"); slot n is port + n. */
export const VPCD_DEFAULT_PORT = 35963;
/** A frame length is 16 bits. */
export const VPCD_MAX_MESSAGE = 0xffff;
/** ISO 7816-4 "no precise diagnosis": answered when the handler throws. */
const SW_UNKNOWN = Uint8Array.of(0x6f, 0x00);

/** What a card must do; the transport calls it one message at a time, in order. */
export interface VpcdCardHandler {
  /** The ATR; called often (every poll), keep it cheap. */
  atr(): Uint8Array;
  /** Answers one command APDU with data ‖ SW1 SW2. */
  apdu(cmd: Uint8Array): Uint8Array | Promise<Uint8Array>;
  powerOff?(): void | Promise<void>;
  powerOn?(): void | Promise<void>;
  reset?(): void | Promise<void>;
}

export interface VpcdCardOptions {
  /** Host of the pcscd running vpcd. Default 127.0.0.1. */
  host?: string;
  /** Port of slot 0. Default: env WALLET_VPCD_PORT (set by the test rig), else 35963. */
  basePort?: number;
  /** Called when the handler throws or returns an impossible reply; the card answers 6F00. */
  onError?: (err: unknown) => void;
}

/** Where to insert the card: a small number is a slot of the reader, else a TCP port. */
export type VpcdTarget = number | { slot: number } | { port: number };

/**
 * A virtual card for a vpcd reader.
 *
 *   const card = new VpcdCard({ atr: () => ATR, apdu: (c) => device.apdu(c) });
 *   await card.connect(0);   // insert into "Virtual PCD 00 00"
 *   …
 *   await card.close();      // remove
 */
export class VpcdCard {
  private socket: Socket | undefined;
  private rx: Buffer = Buffer.alloc(0);
  private queue: Promise<void> = Promise.resolve();
  private closedResolve: () => void = () => {};
  /** Resolves when the connection ends for any reason (close(), pcscd stopped). */
  closed: Promise<void> = Promise.resolve();
  /** Messages handled since connect, by kind (for tests and diagnostics). */
  readonly stats = { apdus: 0, atrs: 0, powerOn: 0, powerOff: 0, resets: 0 };

  constructor(
    private readonly handler: VpcdCardHandler,
    private readonly options: VpcdCardOptions = {},
  ) {}

  get connected(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  /** Port of a target: slots count from the base port (vpcd's reader "00 0n"). */
  portOf(target: VpcdTarget): number {
    const base = this.options.basePort ?? (Number(process.env.WALLET_VPCD_PORT) || VPCD_DEFAULT_PORT);
    if (typeof target === "number") return target < 1024 ? base + target : target;
    return "slot" in target ? base + target.slot : target.port;
  }

  /** Inserts the card: connects to vpcd. Rejects with a `vpcd:` message when nobody listens. */
  connect(target: VpcdTarget = 0): Promise<void> {
    if (this.connected) return Promise.reject(new Error("vpcd: card already inserted"));
    const host = this.options.host ?? "127.0.0.1";
    const port = this.portOf(target);
    if (!Number.isInteger(port) || port <= 0 || port > 0xffff) return Promise.reject(new RangeError(`vpcd: bad port ${port}`));
    this.rx = Buffer.alloc(0);
    this.queue = Promise.resolve();
    this.closed = new Promise((r) => (this.closedResolve = r));
    return new Promise((resolve, reject) => {
      const s = tcpConnect({ host, port, noDelay: true });
      this.socket = s;
      const fail = (e: NodeJS.ErrnoException) => {
        this.socket = undefined;
        reject(new Error(`vpcd: cannot connect to ${host}:${port} (${e.code ?? e.message}); is pcscd with the vpcd driver running?`));
      };
      s.once("error", fail);
      s.once("connect", () => {
        s.off("error", fail);
        // a reset from pcscd's side is a removal, not a crash of the simulator
        s.on("error", () => s.destroy());
        resolve();
      });
      s.on("data", (chunk: Buffer) => this.receive(chunk));
      s.once("close", () => {
        if (this.socket === s) this.socket = undefined;
        this.closedResolve();
      });
    });
  }

  /** Removes the card: closes the connection and waits until it is closed. */
  async close(): Promise<void> {
    const s = this.socket;
    if (!s) return;
    s.end();
    // a peer that never answers the FIN must not hold us: destroy after a moment
    const t = setTimeout(() => s.destroy(), 1000);
    await this.closed;
    clearTimeout(t);
  }

  /** Splits the byte stream into length-prefixed messages, handled strictly in order. */
  private receive(chunk: Buffer): void {
    this.rx = this.rx.length ? Buffer.concat([this.rx, chunk]) : chunk;
    while (this.rx.length >= 2) {
      const len = this.rx.readUInt16BE(0);
      if (this.rx.length < 2 + len) break;
      const msg = new Uint8Array(this.rx.subarray(2, 2 + len)); // a copy: handlers may keep it
      this.rx = this.rx.subarray(2 + len);
      this.queue = this.queue.then(() => this.handle(msg));
    }
  }

  private async handle(msg: Uint8Array): Promise<void> {
    const h = this.handler;
    try {
      if (msg.length === 1) {
        switch (msg[0]) {
          case VPCD_CTRL_ATR:
            this.stats.atrs++;
            return this.send(h.atr());
          case VPCD_CTRL_ON:
            this.stats.powerOn++;
            return void (await h.powerOn?.());
          case VPCD_CTRL_OFF:
            this.stats.powerOff++;
            return void (await h.powerOff?.());
          case VPCD_CTRL_RESET:
            this.stats.resets++;
            return void (await h.reset?.());
          default:
            // unknown control codes get no reply, as vpcd expects none
            return;
        }
      }
      if (msg.length === 0) return;
      this.stats.apdus++;
      this.send(await h.apdu(msg));
    } catch (e) {
      this.options.onError?.(e);
      if (msg.length !== 1) this.send(SW_UNKNOWN);
      else if (msg[0] === VPCD_CTRL_ATR) this.socket?.destroy(); // no ATR: the card is gone
    }
  }

  /** Writes one message, length and payload in a single write. */
  private send(payload: Uint8Array): void {
    if (!(payload instanceof Uint8Array) || payload.length > VPCD_MAX_MESSAGE) {
      throw new RangeError(`vpcd: reply must be a Uint8Array of at most ${VPCD_MAX_MESSAGE} bytes`);
    }
    const s = this.socket;
    if (!s || s.destroyed) return;
    const frame = Buffer.allocUnsafe(2 + payload.length);
    frame.writeUInt16BE(payload.length, 0);
    frame.set(payload, 2);
    s.write(frame);
  }
}
