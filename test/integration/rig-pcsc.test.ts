// The real PC/SC path (DESIGN.md §7: real pcscd with the vpcd reader; test/rig/README.md): a trivial card test double behind
// VpcdCard → vsmartcard-vpcd → the rig's pcscd → libpcsclite → the `pcsclite` binding.
// The double answers SELECT by its AID with 9000, SELECT of another AID with 6A82 and
// any other INS with 6D00 (ISO 7816-4 §5.6, status words table).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { VpcdCard, type VpcdCardHandler } from "../../wearable-sim/src/transports/vpcd.ts";
import { vpcdReaderName } from "../rig/rig.ts";
import { PcscSession } from "../support/pcsc.ts";

const AID = Uint8Array.of(0xa0, 0x00, 0x00, 0x09, 0x99, 0x01, 0x01);
const ATR = Uint8Array.of(0x3b, 0x8a, 0x80, 0x01, 0x57, 0x41, 0x4c, 0x4c, 0x45, 0x54, 0x2d, 0x52, 0x49, 0x47, 0x2f);
const SELECT_BY_AID = (aid: Uint8Array) => Uint8Array.of(0x00, 0xa4, 0x04, 0x00, aid.length, ...aid);
const INS_ECHO_LONG = 0xee; // test double only: answers Le' = P1P2 bytes of pattern, to check long responses

function testDouble(): VpcdCardHandler & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    atr: () => ATR,
    powerOn: () => void log.push("on"),
    powerOff: () => void log.push("off"),
    reset: () => void log.push("reset"),
    apdu(cmd) {
      log.push(Buffer.from(cmd).toString("hex"));
      if (cmd[1] === 0xa4 && cmd[2] === 0x04) {
        const lc = cmd[4];
        const aid = cmd.subarray(5, 5 + lc);
        return Buffer.compare(Buffer.from(aid), Buffer.from(AID)) === 0 ? Uint8Array.of(0x90, 0x00) : Uint8Array.of(0x6a, 0x82);
      }
      if (cmd[1] === INS_ECHO_LONG) {
        const n = (cmd[2] << 8) | cmd[3];
        return Uint8Array.from({ length: n + 2 }, (_, k) => (k < n ? k & 0xff : k === n ? 0x90 : 0x00));
      }
      return Uint8Array.of(0x6d, 0x00);
    },
  };
}

const sw = (r: Uint8Array) => ((r[r.length - 2] << 8) | r[r.length - 1]).toString(16).padStart(4, "0");

describe("rig: trivial vpcd card through real pcscd to pcsclite", () => {
  const rig = inject("rig");
  let pcsc: PcscSession;
  let reader0: string;
  let reader1: string;

  beforeAll(async () => {
    pcsc = new PcscSession();
    reader0 = await pcsc.waitReader(vpcdReaderName(0));
    reader1 = await pcsc.waitReader(vpcdReaderName(1));
  });
  afterAll(() => pcsc?.close());

  it("lists the vpcd readers of the rig's own pcscd", () => {
    expect(process.env.PCSCLITE_CSOCK_NAME).toBe(rig.socket);
    expect(pcsc.readers()).toEqual(expect.arrayContaining([reader0, reader1]));
    expect(rig.readers).toEqual(expect.arrayContaining([reader0, reader1]));
  });

  it("sees the insertion, SELECTs (9000), rejects an unknown INS (6D00), sees the removal, and works again after re-insertion", async () => {
    const double = testDouble();
    const card = new VpcdCard(double);
    await pcsc.waitAbsent(reader0);
    try {
      await card.connect(0);
      expect([...(await pcsc.waitPresent(reader0))]).toEqual([...ATR]);
      await pcsc.connect(reader0);
      expect(sw(await pcsc.transmit(reader0, SELECT_BY_AID(AID)))).toBe("9000");
      expect(sw(await pcsc.transmit(reader0, SELECT_BY_AID(Uint8Array.of(0xa0, 0, 0, 0, 1))))).toBe("6a82");
      expect(sw(await pcsc.transmit(reader0, Uint8Array.of(0x80, 0x42, 0x00, 0x00)))).toBe("6d00");
      // the APDUs arrived unchanged, and pcscd had powered the card before the first one
      // (it may also power an idle card off first: only the last power event counts)
      const first = double.log.indexOf(Buffer.from(SELECT_BY_AID(AID)).toString("hex"));
      expect(first).toBeGreaterThan(0);
      expect(double.log.slice(0, first).filter((e) => e === "on" || e === "off" || e === "reset").pop()).toMatch(/^(on|reset)$/);

      await card.close();
      await pcsc.waitAbsent(reader0);
      await expect(pcsc.transmit(reader0, SELECT_BY_AID(AID))).rejects.toThrow();

      await card.connect(0);
      await pcsc.waitPresent(reader0);
      await pcsc.connect(reader0);
      expect(sw(await pcsc.transmit(reader0, SELECT_BY_AID(AID)))).toBe("9000");
      await pcsc.disconnect(reader0);
    } finally {
      await card.close();
      await pcsc.waitAbsent(reader0);
    }
  });

  it("carries long responses (1 KiB, 4 KiB) intact", async () => {
    const card = new VpcdCard(testDouble());
    await card.connect({ slot: 0 });
    try {
      await pcsc.waitPresent(reader0);
      await pcsc.connect(reader0);
      for (const n of [1024, 4096]) {
        const r = await pcsc.transmit(reader0, Uint8Array.of(0x80, INS_ECHO_LONG, n >> 8, n & 0xff));
        expect(r.length).toBe(n + 2);
        expect(sw(r)).toBe("9000");
        expect(r.subarray(0, n).every((b, k) => b === (k & 0xff))).toBe(true);
      }
      await pcsc.disconnect(reader0);
    } finally {
      await card.close();
      await pcsc.waitAbsent(reader0);
    }
  });

  it("keeps the two slots apart: a card in slot 1 leaves slot 0 empty", async () => {
    const double = testDouble();
    const card = new VpcdCard(double);
    await card.connect(1);
    try {
      await pcsc.waitPresent(reader1);
      expect(pcsc.state(reader0) & pcsc.reader(reader0).SCARD_STATE_EMPTY).not.toBe(0);
      await pcsc.connect(reader1);
      expect(sw(await pcsc.transmit(reader1, SELECT_BY_AID(AID)))).toBe("9000");
      await pcsc.disconnect(reader1);
    } finally {
      await card.close();
      await pcsc.waitAbsent(reader1);
    }
    expect(double.log).toContain(Buffer.from(SELECT_BY_AID(AID)).toString("hex"));
  });

  it("runs pcscd with the TCP_NODELAY fix on the sockets vpcd accepts", () => {
    // the shim logs each accepted TCP socket it tunes (scripts/rig/tcp-nodelay.c)
    expect(readFileSync(rig.log, "utf8")).toMatch(/tcp-nodelay: TCP_NODELAY set on fd \d+/);
  });
});
