// VpcdCard (wearable-sim/src/transports/vpcd.ts) against a stand-in for vsmartcard's
// vpcd reader side: 2-byte big-endian length framing, 1-byte control codes (only get-ATR
// answered), APDUs answered in order. Unit project: no pcscd needed; the real pcscd path
// is test/integration/rig-pcsc.test.ts.
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { VpcdCard, VPCD_CTRL_ATR, VPCD_CTRL_OFF, VPCD_CTRL_ON, VPCD_CTRL_RESET, VPCD_DEFAULT_PORT } from "../../wearable-sim/src/transports/vpcd.ts";

const ATR = Uint8Array.of(0x3b, 0x80, 0x80, 0x01, 0x01);

/** The reader side: accepts one card, reads framed replies. */
class FakeReader {
  server: Server;
  sock: Socket | undefined;
  private rx = Buffer.alloc(0);
  private wanted: { n: number; resolve: (f: Buffer[]) => void } | undefined;
  private frames: Buffer[] = [];
  ended = false;

  constructor() {
    this.server = createServer((s) => {
      this.sock = s;
      s.setNoDelay(true);
      s.on("data", (c) => this.onData(c));
      s.on("end", () => (this.ended = true));
    });
  }
  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    return (this.server.address() as { port: number }).port;
  }
  async accepted(): Promise<Socket> {
    while (!this.sock) await new Promise((r) => setTimeout(r, 5));
    return this.sock;
  }
  private onData(c: Buffer) {
    this.rx = Buffer.concat([this.rx, c]);
    while (this.rx.length >= 2 && this.rx.length >= 2 + this.rx.readUInt16BE(0)) {
      const n = this.rx.readUInt16BE(0);
      this.frames.push(this.rx.subarray(2, 2 + n));
      this.rx = this.rx.subarray(2 + n);
    }
    this.check();
  }
  private check() {
    if (this.wanted && this.frames.length >= this.wanted.n) {
      const w = this.wanted;
      this.wanted = undefined;
      w.resolve(this.frames.splice(0, w.n));
    }
  }
  /** Resolves with the next n framed replies. */
  replies(n: number): Promise<Buffer[]> {
    return new Promise((resolve) => {
      this.wanted = { n, resolve };
      this.check();
    });
  }
  pending(): number {
    return this.frames.length;
  }
  static frame(payload: Uint8Array): Buffer {
    const b = Buffer.alloc(2 + payload.length);
    b.writeUInt16BE(payload.length, 0);
    b.set(payload, 2);
    return b;
  }
  close(): Promise<void> {
    this.sock?.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const readers: FakeReader[] = [];
const cards: VpcdCard[] = [];
afterEach(async () => {
  for (const c of cards.splice(0)) await c.close();
  for (const r of readers.splice(0)) await r.close();
});

async function setup(handler: ConstructorParameters<typeof VpcdCard>[0], onError?: (e: unknown) => void) {
  const reader = new FakeReader();
  readers.push(reader);
  const port = await reader.listen();
  const card = new VpcdCard(handler, { onError });
  cards.push(card);
  await card.connect({ port });
  const sock = await reader.accepted();
  return { reader, card, sock };
}

const echoSw = (cmd: Uint8Array) => Uint8Array.of(cmd[1], 0x90, 0x00);

describe("VpcdCard: vsmartcard vpcd protocol", () => {
  it("answers get-ATR with the framed ATR and power/reset with nothing", async () => {
    const calls: string[] = [];
    const { reader, sock, card } = await setup({
      atr: () => ATR,
      apdu: echoSw,
      powerOn: () => void calls.push("on"),
      powerOff: () => void calls.push("off"),
      reset: () => void calls.push("reset"),
    });
    for (const c of [VPCD_CTRL_ON, VPCD_CTRL_RESET, VPCD_CTRL_OFF, VPCD_CTRL_ATR]) sock.write(FakeReader.frame(Uint8Array.of(c)));
    const [atr] = await reader.replies(1);
    expect(new Uint8Array(atr)).toEqual(ATR);
    expect(calls).toEqual(["on", "reset", "off"]);
    expect(reader.pending()).toBe(0);
    expect(card.stats).toMatchObject({ atrs: 1, powerOn: 1, powerOff: 1, resets: 1, apdus: 0 });
  });

  it("reassembles a length prefix and payload sent in separate segments, as vpcd sends them", async () => {
    const seen: number[][] = [];
    const { reader, sock } = await setup({ atr: () => ATR, apdu: (c) => (seen.push([...c]), echoSw(c)) });
    const apdu = Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x02, 0xa0, 0x00);
    const f = FakeReader.frame(apdu);
    sock.write(f.subarray(0, 1));
    await new Promise((r) => setTimeout(r, 20));
    sock.write(f.subarray(1, 2));
    await new Promise((r) => setTimeout(r, 20));
    sock.write(f.subarray(2));
    const [res] = await reader.replies(1);
    expect([...res]).toEqual([0xa4, 0x90, 0x00]);
    expect(seen).toEqual([[...apdu]]);
  });

  it("answers several messages in one segment strictly in order, even when the handler is async", async () => {
    const delays = [30, 0, 10];
    let i = 0;
    const { reader, sock } = await setup({
      atr: () => ATR,
      apdu: async (c) => {
        await new Promise((r) => setTimeout(r, delays[i++ % delays.length]));
        return echoSw(c);
      },
    });
    const cmds = [0x10, 0x20, 0x30].map((ins) => FakeReader.frame(Uint8Array.of(0x80, ins, 0, 0)));
    sock.write(Buffer.concat([...cmds, FakeReader.frame(Uint8Array.of(VPCD_CTRL_ATR))]));
    const res = await reader.replies(4);
    expect(res.map((r) => r[0])).toEqual([0x10, 0x20, 0x30, ATR[0]]);
  });

  it("carries an extended-length APDU and a 4 KiB response", async () => {
    const big = new Uint8Array(4096).map((_, k) => k & 0xff);
    const { reader, sock } = await setup({ atr: () => ATR, apdu: (c) => Uint8Array.from([...big, c.length >> 8, c.length & 0xff]) });
    const cmd = new Uint8Array(7 + 3000);
    cmd.set([0x80, 0x50, 0, 0, 0x00, 3000 >> 8, 3000 & 0xff]);
    sock.write(FakeReader.frame(cmd));
    const [res] = await reader.replies(1);
    expect(res.length).toBe(4098);
    expect([...res.subarray(0, 4096)]).toEqual([...big]);
    expect((res[4096] << 8) | res[4097]).toBe(cmd.length);
  });

  it("answers 6F00 and reports when the handler throws or returns an impossible reply", async () => {
    const errors: unknown[] = [];
    let n = 0;
    const { reader, sock } = await setup(
      {
        atr: () => ATR,
        apdu: () => {
          if (n++ === 0) throw new Error("device abort");
          return new Uint8Array(0x10000);
        },
      },
      (e) => errors.push(e),
    );
    sock.write(FakeReader.frame(Uint8Array.of(0, 1, 0, 0)));
    sock.write(FakeReader.frame(Uint8Array.of(0, 2, 0, 0)));
    const res = await reader.replies(2);
    expect(res.map((r) => [...r])).toEqual([
      [0x6f, 0x00],
      [0x6f, 0x00],
    ]);
    expect(errors.map((e) => (e as Error).message)).toEqual(["device abort", expect.stringMatching(/^vpcd: reply must be/)]);
  });

  it("close() removes the card: the reader sees the end of the stream", async () => {
    const { reader, card } = await setup({ atr: () => ATR, apdu: echoSw });
    expect(card.connected).toBe(true);
    await card.close();
    expect(card.connected).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    expect(reader.ended).toBe(true);
    // re-insertion works on the same object
    await card.connect({ port: (reader.server.address() as { port: number }).port });
    expect(card.connected).toBe(true);
  });

  it("notices when the reader side goes away", async () => {
    const { card, sock } = await setup({ atr: () => ATR, apdu: echoSw });
    sock.destroy();
    await card.closed;
    expect(card.connected).toBe(false);
  });

  it("rejects with a vpcd: message when no reader listens", async () => {
    const reader = new FakeReader();
    const port = await reader.listen();
    await reader.close();
    await expect(new VpcdCard({ atr: () => ATR, apdu: echoSw }).connect({ port })).rejects.toThrow(/^vpcd: cannot connect to 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });

  it("maps slots to ports from the base port (option, then WALLET_VPCD_PORT, then 35963)", () => {
    const h = { atr: () => ATR, apdu: echoSw };
    const saved = process.env.WALLET_VPCD_PORT;
    try {
      delete process.env.WALLET_VPCD_PORT;
      expect(new VpcdCard(h).portOf(1)).toBe(VPCD_DEFAULT_PORT + 1);
      process.env.WALLET_VPCD_PORT = "40000";
      expect(new VpcdCard(h).portOf({ slot: 0 })).toBe(40000);
      expect(new VpcdCard(h, { basePort: 50000 }).portOf(1)).toBe(50001);
      expect(new VpcdCard(h).portOf(35970)).toBe(35970);
      expect(new VpcdCard(h).portOf({ port: 12 })).toBe(12);
    } finally {
      if (saved === undefined) delete process.env.WALLET_VPCD_PORT;
      else process.env.WALLET_VPCD_PORT = saved;
    }
  });
});
