// GlobalPlatform SCP03 (Amendment D), both sides: firmware/assembly/scp03.ts (card, through
// build/crypto-sym-test.wasm) and protocol/src/scp03.ts (host). Checked against recorded
// sessions of a real card (test/vectors/gp-scp03/, from osmocom/pysim), against each other
// at every security level for both suites, and against the independent reference KDF of
// test/support/ref-sym.ts. MAC failures, replays and reordering must close the channel.
import { describe, it, expect, beforeEach } from "vitest";
import { readFileSync } from "node:fs";
import { loadSymWasmSync, hex, unhex } from "./support/crypto-sym-wasm.ts";
import { scp03KdfRef, cmacRef, ecbEncrypt, prng } from "./support/ref-sym.ts";
import {
  Scp03Session, GP_DEFAULT_KEYS, GP_DEFAULT_KEY, diversifyKeys, encryptKeyData, keyCheckValue, scp03Kdf, type ScpKeys,
} from "../protocol/src/scp03.ts";
import { parseCommand, encodeResponse } from "../protocol/src/apdu.ts";
import { cat } from "../protocol/src/bytes.ts";
import { SUITE_SM2_SM3_SM4, SUITE_P256_SHA256_AES128 } from "../protocol/portable/suite.ts";
import { SCP03_DC_DIVERSIFY_ENC, SCP03_DC_DIVERSIFY_MAC, SCP03_DC_DIVERSIFY_DEK, SCP03_SL_FULL } from "../protocol/portable/scp03.ts";

const w = loadSymWasmSync();
const { x } = w;
const AES = SUITE_P256_SHA256_AES128, SM4 = SUITE_SM2_SM3_SM4;
const SUITES = [SM4, AES];
const LEVELS = [0x01, 0x03, 0x11, 0x13, 0x33];
const V = JSON.parse(readFileSync(new URL("./vectors/gp-scp03/pysim-aes128.json", import.meta.url), "utf8"));
const VKEYS: ScpKeys = { enc: unhex(V.keys.enc), mac: unhex(V.keys.mac), dek: unhex(V.keys.dek) };
const KVN = parseInt(V.keys.kvn, 16);
const sw = (s: number) => new Uint8Array([s >> 8, s & 0xff]);
const mem = () => new Uint8Array(x.memory.buffer);

/** An in-process card: the firmware's SCP03 in front of an echo "applet" (SPEC §2 carries the same bytes). */
class Card {
  io: number; k: { enc: number; mac: number; dek: number; div: number };
  seen: Uint8Array[] = [];
  constructor(public suite: number, keys: ScpKeys, public kvn = 0x30, div = new Uint8Array(10).fill(0xd1)) {
    w.reset();
    x.scpReset();
    this.k = { enc: w.put(keys.enc), mac: w.put(keys.mac), dek: w.put(keys.dek), div: w.put(div) };
    this.io = w.alloc(4096);
  }
  /** the applet behind the channel: data reversed + INS; INS EE answers 6A80, E3 answers 6310 */
  private applet(plain: Uint8Array): { data: Uint8Array; sw: number } {
    const c = parseCommand(plain);
    if (c.ins === 0xee) return { data: new Uint8Array(0), sw: 0x6a80 };
    return { data: cat(c.data.slice().reverse(), new Uint8Array([c.ins])), sw: c.ins === 0xe3 ? 0x6310 : 0x9000 };
  }
  transmit = async (apdu: Uint8Array): Promise<Uint8Array> => {
    mem().set(apdu, this.io);
    if (apdu[1] === 0x50) {
      const r = x.scpInitializeUpdate(this.suite, this.kvn, this.k.enc, this.k.mac, this.k.dek, this.k.div, this.io, apdu.length, this.io);
      return r < 0 ? sw(-r) : cat(w.get(this.io, r), sw(0x9000));
    }
    if (apdu[1] === 0x82) return sw(x.scpExternalAuthenticate(this.io, apdu.length));
    let len = apdu.length;
    if (apdu[0] & 0x04) {
      len = x.scpUnwrap(this.io, len);
      if (len < 0) return sw(0x6982);
    }
    const plain = w.get(this.io, len);
    this.seen.push(plain);
    const r = this.applet(plain);
    mem().set(r.data, this.io);
    const n = x.scpWrap(this.io, r.data.length, r.sw);
    return cat(w.get(this.io, n), sw(r.sw));
  };
}

describe("recorded SCP03 sessions (osmocom/pysim, AES-128)", () => {
  for (const s of V.sessions) {
    describe(`security level ${s.level}`, () => {
      const hc = unhex(s.init_upd_cmd).slice(5, 13);
      const rsp = unhex(s.init_upd_rsp);
      const cardChallenge = rsp.slice(13, 21), cardCryptogram = rsp.slice(21, 29);

      it("host: same INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, wrapped commands and unwrapped response", async () => {
        const sent: string[] = [];
        const t = async (apdu: Uint8Array) => {
          sent.push(hex(apdu));
          return cat(sent.length === 1 ? rsp : new Uint8Array(0), sw(0x9000));
        };
        const sess = await Scp03Session.open(t, VKEYS, { suite: AES, level: parseInt(s.level, 16), keyVersion: KVN, hostChallenge: hc });
        expect(sent).toEqual([s.init_upd_cmd, s.ext_auth_cmd]);
        expect(hex(sess.wrap(unhex(V.plain.get_eid_cmd)))).toBe(s.get_eid_cmd);
        expect(hex(sess.unwrap(cat(unhex(s.get_eid_rsp), sw(0x9000))))).toBe(V.plain.get_eid_rsp + "9000");
        for (const c of ["case_1", "case_2", "case_3", "case_4"]) expect(hex(sess.wrap(unhex(V.plain[c]))), c).toBe(s[c]);
      });

      it("firmware: same card cryptogram, accepts the recorded commands, produces the recorded response", () => {
        const card = new Card(AES, VKEYS, KVN, rsp.slice(0, 10));
        w.setRandom((out) => out.set(cardChallenge));
        try {
          const iu = unhex(s.init_upd_cmd);
          mem().set(iu, card.io);
          expect(x.scpInitializeUpdate(AES, KVN, card.k.enc, card.k.mac, card.k.dek, card.k.div, card.io, iu.length, card.io)).toBe(29);
          const r = w.get(card.io, 29);
          expect(hex(r.slice(0, 11))).toBe(hex(rsp.slice(0, 11)));
          expect(hex(r.slice(13, 21))).toBe(hex(cardChallenge));
          expect(hex(r.slice(21, 29))).toBe(hex(cardCryptogram));
        } finally {
          w.setRandom(null);
        }
        const ea = unhex(s.ext_auth_cmd);
        mem().set(ea, card.io);
        expect(x.scpExternalAuthenticate(card.io, ea.length)).toBe(0x9000);
        expect(x.scpLevel()).toBe(parseInt(s.level, 16));
        const unwrap = (wrapped: string) => {
          const a = unhex(wrapped);
          mem().set(a, card.io);
          const n = x.scpUnwrap(card.io, a.length);
          expect(n).toBeGreaterThan(0);
          return hex(w.get(card.io, n));
        };
        expect(unwrap(s.get_eid_cmd)).toBe(V.plain.get_eid_cmd.toLowerCase());
        const plainRsp = unhex(V.plain.get_eid_rsp);
        mem().set(plainRsp, card.io);
        const n = x.scpWrap(card.io, plainRsp.length, 0x9000);
        expect(hex(w.get(card.io, n))).toBe(s.get_eid_rsp);
        for (const c of ["case_1", "case_2", "case_3", "case_4"]) expect(unwrap(s[c]), c).toBe(V.plain[c].toLowerCase());
        expect(x.scpIsOpen()).toBe(1);
      });
    });
  }
});

describe("host <-> firmware sessions", () => {
  const r = prng(0x5c03);
  for (const suite of SUITES) {
    for (const level of LEVELS) {
      it(`suite ${suite}, level ${level.toString(16).padStart(2, "0")}: 40 commands of random sizes, short and extended`, async () => {
        const keys = { enc: r.bytes(16), mac: r.bytes(16), dek: r.bytes(16) };
        const card = new Card(suite, keys);
        const sess = await Scp03Session.open(card.transmit, keys, { suite, level, keyVersion: 0 });
        expect(x.scpIsOpen()).toBe(1);
        expect(x.scpLevel()).toBe(level);
        for (let i = 0; i < 40; i++) {
          const len = [0, 1, 15, 16, 17, 31, 32, 100, 239, 300][r.int(10)];
          const data = r.bytes(len);
          const ne = [0, 1, 256][r.int(3)];
          const ins = [0x30, 0xe3, 0xee][r.int(3)];
          const plain = Uint8Array.from([0x80, ins, 1, 2, ...(len ? (len > 255 ? [0, len >> 8, len & 255] : [len]) : []), ...data,
            ...(ne ? (len > 255 ? [0, ne & 255] : [ne & 255]) : [])]);
          const cmd = parseCommand(plain);
          const resp = await sess.transmit(plain);
          expect(hex(card.seen.at(-1)!)).toBe(hex(plain));
          const expectSw = ins === 0xee ? 0x6a80 : ins === 0xe3 ? 0x6310 : 0x9000;
          const expectData = ins === 0xee ? new Uint8Array(0) : cat(cmd.data.slice().reverse(), new Uint8Array([ins]));
          expect(hex(resp)).toBe(hex(encodeResponse(expectData, expectSw)));
        }
        expect(x.scpIsOpen()).toBe(1);
      });
    }
  }
});

describe("channel failures", () => {
  let card: Card, sess: Scp03Session;
  const keys = { enc: unhex("11".repeat(16)), mac: unhex("22".repeat(16)), dek: unhex("33".repeat(16)) };
  beforeEach(async () => {
    card = new Card(AES, keys);
    sess = await Scp03Session.open(card.transmit, keys, { suite: AES, level: SCP03_SL_FULL, keyVersion: 0x30 });
  });

  it("a corrupted C-MAC, header or ciphertext is refused with 6982 and closes the channel", async () => {
    for (const pos of [0, 1, 2, 4, 5, 12, -1]) {
      card = new Card(AES, keys);
      sess = await Scp03Session.open(card.transmit, keys, { suite: AES, level: SCP03_SL_FULL, keyVersion: 0x30 });
      const a = sess.wrap(unhex("8030000004deadbeef00"));
      const bad = a.slice();
      bad[pos < 0 ? bad.length - 2 : pos] ^= pos === 0 ? 0x40 : 0x01;
      expect(hex(await card.transmit(bad)), `byte ${pos}`).toBe("6982");
      expect(x.scpIsOpen()).toBe(0);
      // the genuine command is refused too: the session is gone
      expect(hex(await card.transmit(a))).toBe("6982");
    }
  });

  it("a replayed command is refused and closes the channel", async () => {
    const a = sess.wrap(unhex("8030000002cafe00"));
    expect(hex(await card.transmit(a)).endsWith("9000")).toBe(true);
    expect(hex(await card.transmit(a))).toBe("6982");
    expect(x.scpIsOpen()).toBe(0);
  });

  it("reordered commands are refused", async () => {
    const a = sess.wrap(unhex("80300000020102"));
    const b = sess.wrap(unhex("80300000020304"));
    expect(hex(await card.transmit(b))).toBe("6982");
    expect(hex(await card.transmit(a))).toBe("6982");
    expect(x.scpIsOpen()).toBe(0);
  });

  it("a command without the secure-messaging CLA bit is not unwrapped", async () => {
    const a = unhex("80300000020102");
    mem().set(a, card.io);
    expect(x.scpUnwrap(card.io, a.length)).toBe(-1);
    expect(x.scpIsOpen()).toBe(0);
  });

  it("a tampered R-MAC or encrypted response makes the host close its session", async () => {
    const a = sess.wrap(unhex("8030000003010203"));
    const resp = await card.transmit(a);
    const bad = resp.slice();
    bad[0] ^= 1;
    expect(() => sess.unwrap(bad)).toThrow(/^scp03: R-MAC mismatch/);
    expect(sess.isOpen).toBe(false);
    expect(() => sess.wrap(unhex("80300000"))).toThrow(/^scp03: session closed/);
  });

  it("an error status word gets no R-MAC and no data", async () => {
    const resp = await sess.transmit(unhex("80ee000000"));
    expect(hex(resp)).toBe("6a80");
  });
});

describe("authentication failures", () => {
  const keys = { enc: unhex("a1".repeat(16)), mac: unhex("a2".repeat(16)), dek: unhex("a3".repeat(16)) };
  const hc = unhex("0102030405060708");

  function initUpdate(card: Card, p1 = 0x30, lc = 8): number {
    const a = unhex(`8050${p1.toString(16).padStart(2, "0")}00${lc.toString(16).padStart(2, "0")}${"01020304050607080910".slice(0, lc * 2)}00`);
    mem().set(a, card.io);
    return x.scpInitializeUpdate(AES, 0x30, card.k.enc, card.k.mac, card.k.dek, card.k.div, card.io, a.length, card.io);
  }

  it("the card cryptogram and session keys match the independent reference KDF", () => {
    for (const suite of SUITES) {
      const card = new Card(suite, keys);
      const a = unhex("805000000801020304050607080000".slice(0, 28));
      mem().set(a, card.io);
      expect(x.scpInitializeUpdate(suite, 0x30, card.k.enc, card.k.mac, card.k.dek, card.k.div, card.io, a.length, card.io)).toBe(29);
      const r = w.get(card.io, 29);
      expect(hex(r.slice(0, 13))).toBe("d1".repeat(10) + "300360");
      const ctx = cat(hc, r.slice(13, 21));
      const sMac = scp03KdfRef(suite, keys.mac, 0x06, ctx, 128);
      expect(hex(r.slice(21, 29))).toBe(hex(scp03KdfRef(suite, sMac, 0x00, ctx, 64)));
      // the host computes the same with its own code
      expect(hex(scp03Kdf(suite, keys.mac, 0x06, ctx, 128))).toBe(hex(sMac));
    }
  });

  it("wrong host keys: the host rejects the card cryptogram", async () => {
    const card = new Card(AES, keys);
    await expect(Scp03Session.open(card.transmit, { ...keys, mac: unhex("00".repeat(16)) }, { suite: AES, level: 1, keyVersion: 0 }))
      .rejects.toThrow(/^scp03: card cryptogram mismatch/);
  });

  it("a wrong host cryptogram with a valid C-MAC gives 6300; a bad C-MAC gives 6982; both close the session", () => {
    for (const [bad, expectSw] of [["cryptogram", 0x6300], ["mac", 0x6982]] as const) {
      const card = new Card(AES, keys);
      expect(initUpdate(card)).toBe(29);
      const r = w.get(card.io, 29);
      const ctx = cat(hc, r.slice(13, 21));
      const sMac = scp03KdfRef(AES, keys.mac, 0x06, ctx, 128);
      const hostCg = scp03KdfRef(AES, sMac, 0x01, ctx, 64);
      if (bad === "cryptogram") hostCg[0] ^= 1;
      const head = unhex("8482030010");
      const mac = cmacRef(AES, sMac, cat(new Uint8Array(16), head, hostCg)).subarray(0, 8);
      if (bad === "mac") mac[7] ^= 1;
      const ea = cat(head, hostCg, mac);
      mem().set(ea, card.io);
      expect(x.scpExternalAuthenticate(card.io, ea.length)).toBe(expectSw);
      expect(x.scpIsOpen()).toBe(0);
      // a second try needs a new INITIALIZE UPDATE
      mem().set(ea, card.io);
      expect(x.scpExternalAuthenticate(card.io, ea.length)).toBe(0x6985);
    }
  });

  it("INITIALIZE UPDATE and EXTERNAL AUTHENTICATE argument checks", () => {
    const card = new Card(AES, keys);
    expect(initUpdate(card, 0x31)).toBe(-0x6a88); // unknown key version
    expect(initUpdate(card, 0x00)).toBe(29); // 00 = current key version
    expect(initUpdate(card, 0x30, 7)).toBe(-0x6700);
    const noIu = unhex("8482010010" + "00".repeat(16));
    mem().set(noIu, card.io);
    expect(x.scpExternalAuthenticate(card.io, noIu.length)).toBe(0x6985);
    for (const level of [0x00, 0x02, 0x21, 0x31, 0x23]) {
      expect(initUpdate(card)).toBe(29);
      const ea = unhex(`8482${level.toString(16).padStart(2, "0")}0010` + "00".repeat(16));
      mem().set(ea, card.io);
      expect(x.scpExternalAuthenticate(card.io, ea.length), `level ${level}`).toBe(0x6a86);
    }
  });
});

describe("keys", () => {
  it("diversifyKeys matches the reference KDF with the private constants 81/82/83", () => {
    const serial = unhex("0011223344556677");
    for (const suite of SUITES) {
      const d = diversifyKeys(GP_DEFAULT_KEYS, serial, suite);
      expect(hex(d.enc)).toBe(hex(scp03KdfRef(suite, GP_DEFAULT_KEY, SCP03_DC_DIVERSIFY_ENC, serial, 128)));
      expect(hex(d.mac)).toBe(hex(scp03KdfRef(suite, GP_DEFAULT_KEY, SCP03_DC_DIVERSIFY_MAC, serial, 128)));
      expect(hex(d.dek)).toBe(hex(scp03KdfRef(suite, GP_DEFAULT_KEY, SCP03_DC_DIVERSIFY_DEK, serial, 128)));
      expect(new Set([hex(d.enc), hex(d.mac), hex(d.dek)]).size).toBe(3);
    }
    expect(hex(GP_DEFAULT_KEY)).toBe("404142434445464748494a4b4c4d4e4f");
  });

  it("PUT KEY data encrypted by the host decrypts on the card with the static DEK; key check values agree", async () => {
    for (const suite of SUITES) {
      const keys = diversifyKeys(GP_DEFAULT_KEYS, unhex("0102030405060708"), suite);
      const card = new Card(suite, keys);
      const newKey = unhex("000102030405060708090a0b0c0d0e0f");
      const blob = encryptKeyData(keys.dek, newKey, suite);
      const src = w.put(blob), dst = w.alloc(16);
      expect(x.scpDecryptKeyData(src, 16, dst)).toBe(-1); // no channel yet
      await Scp03Session.open(card.transmit, keys, { suite, level: 0x03, keyVersion: 0 });
      expect(x.scpDecryptKeyData(src, 15, dst)).toBe(-1);
      expect(x.scpDecryptKeyData(src, 16, dst)).toBe(16);
      expect(hex(w.get(dst, 16))).toBe(hex(newKey));
      const kcv = w.alloc(3);
      x.scpKeyCheckValue(suite, w.put(newKey), kcv);
      expect(hex(w.get(kcv, 3))).toBe(hex(keyCheckValue(newKey, suite)));
    }
    // KCV = first 3 bytes of E(K, 01 x 16), against OpenSSL's raw block cipher
    for (const suite of SUITES) {
      const k = unhex("000102030405060708090a0b0c0d0e0f");
      expect(hex(keyCheckValue(k, suite))).toBe(hex(ecbEncrypt(suite, k, new Uint8Array(16).fill(1)).subarray(0, 3)));
    }
  });
});
