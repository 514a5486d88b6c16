// Test harness for the wallet applet (SPEC §3): the real build/firmware.wasm in a simulated
// device (wearable-sim Device over an in-process NorFlash), with a small APDU client that
// speaks the applet's commands, follows 61xx with GET RESPONSE, sends long data as
// extended APDUs, and wraps commands in an SCP03 session when one is open.
// Host-side helper; reusable by host-tools tests.
import { Device, type DeviceOptions } from "../../wearable-sim/src/device.ts";
import { encodeCommand } from "../../protocol/src/apdu.ts";
import * as A from "../../protocol/portable/apdu.ts";
import { SW_BYTES_REMAINING_00 } from "../../protocol/portable/sw.ts";
import { parseStatus as parseCardStatus, type CardStatus } from "../../host-tools/src/card.ts";

export interface Resp {
  data: Uint8Array;
  sw: number;
}

/** Secure-messaging wrapper of an open SCP03 session (protocol/src/scp03.ts Scp03Session). */
export interface SecureWrapper {
  wrap(apdu: Uint8Array): Uint8Array;
  unwrap(response: Uint8Array): Uint8Array;
}

/** GET STATUS fields (SPEC §3.3): the host tools' type, so the two never drift. */
export type Status = CardStatus;

export const u32be = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
};
export const u16be = (v: number): Uint8Array => Uint8Array.of((v >> 8) & 0xff, v & 0xff);
export const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
/** ISO PIN block of the applet (SPEC §3.3 VERIFY): ASCII digits right-padded with FF.
 * Unlike the host tools' pinBlock it accepts malformed PINs, for the negative tests. */
export const pinBlock = (pin: string): Uint8Array => {
  const b = new Uint8Array(A.PIN_BLOCK_LEN).fill(0xff);
  for (let i = 0; i < pin.length; i++) b[i] = pin.charCodeAt(i);
  return b;
};
export const AID = cat(u32be(A.AID_HI), u32be(A.AID_LO));

export class AppletHarness {
  readonly dev: Device;
  secure: SecureWrapper | null = null;

  constructor(opts: DeviceOptions = {}) {
    this.dev = new Device({ seed: "applet-test", ...opts });
    this.dev.powerOn();
  }

  /** Power cycle: RAM (session, channel) lost, flash kept. */
  powerCycle(): void {
    this.secure = null;
    this.dev.powerOff();
    this.dev.powerOn();
  }

  /** One APDU as bytes; returns data and SW of that single exchange. */
  raw(apdu: Uint8Array): Resp {
    const r = this.dev.transmit(apdu);
    return { data: r.subarray(0, r.length - 2), sw: (r[r.length - 2] << 8) | r[r.length - 1] };
  }

  /** A command (wrapped when `secure` and a session is open), with GET RESPONSE for 61xx. */
  send(cla: number, ins: number, p1 = 0, p2 = 0, data: Uint8Array = new Uint8Array(0), ne = 256, secure = false): Resp {
    const wrapper = secure ? this.secure : null;
    if (secure && !wrapper) throw new Error("applet harness: no secure channel open");
    const plain = encodeCommand({ cla, ins, p1, p2, data, ne: data.length > 255 ? 65536 : ne }, data.length > 255);
    let r: Resp;
    if (wrapper) {
      const rr = this.dev.transmit(wrapper.wrap(plain));
      let full = rr;
      const sw0 = (rr[rr.length - 2] << 8) | rr[rr.length - 1];
      if (sw0 >> 8 === SW_BYTES_REMAINING_00 >> 8) full = this.collect(rr);
      const u = wrapper.unwrap(full);
      r = { data: u.subarray(0, u.length - 2), sw: (u[u.length - 2] << 8) | u[u.length - 1] };
    } else {
      const rr = this.dev.transmit(plain);
      const u = this.collect(rr);
      r = { data: u.subarray(0, u.length - 2), sw: (u[u.length - 2] << 8) | u[u.length - 1] };
    }
    return r;
  }

  /** Follows 61xx with GET RESPONSE; returns the whole data || final SW. */
  private collect(first: Uint8Array): Uint8Array {
    const pieces: Uint8Array[] = [];
    let r = first;
    for (;;) {
      const sw = (r[r.length - 2] << 8) | r[r.length - 1];
      pieces.push(r.subarray(0, r.length - 2));
      if (sw >> 8 !== SW_BYTES_REMAINING_00 >> 8) return cat(...pieces, r.subarray(r.length - 2));
      r = this.dev.transmit(encodeCommand({ cla: A.CLA_ISO, ins: A.INS_GET_RESPONSE, p1: 0, p2: 0, data: new Uint8Array(0), ne: sw & 0xff || 256 }));
    }
  }

  /** Proprietary command, in the channel when one is open (CLA 84) else CLA 80. */
  cmd(ins: number, p1 = 0, p2 = 0, data?: Uint8Array, ne = 256): Resp {
    return this.send(A.CLA_PROPRIETARY, ins, p1, p2, data, ne, this.secure !== null);
  }
  /** Interindustry command (CLA 00 / 04 in the channel). */
  iso(ins: number, p1 = 0, p2 = 0, data?: Uint8Array, ne = 256): Resp {
    return this.send(A.CLA_ISO, ins, p1, p2, data, ne, this.secure !== null);
  }

  select(): Resp {
    this.secure = null;
    return this.send(A.CLA_ISO, A.INS_SELECT, A.P1_SELECT_BY_AID, A.P2_SELECT_FIRST, AID);
  }

  status(): Status {
    const r = this.send(A.CLA_PROPRIETARY, A.INS_GET_STATUS);
    if (r.sw !== 0x9000) throw new Error(`GET STATUS: SW ${r.sw.toString(16)}`);
    return parseStatus(r.data);
  }
}

export function parseStatus(d: Uint8Array): Status {
  if (d.length !== A.STATUS_RESP_LEN) throw new Error(`GET STATUS: ${d.length} bytes`);
  return parseCardStatus(d);
}
