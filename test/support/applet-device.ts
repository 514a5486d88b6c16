// Test harness for the wallet applet (SPEC §3): the real build/firmware.wasm in a simulated
// device (wearable-sim Device over an in-process NorFlash), driven synchronously by the
// host's own APDU client (protocol/src/apdu-client.ts, the one the `wallet` CLI runs): it
// follows 61xx with GET RESPONSE, sends long data as extended APDUs, and wraps commands in
// an SCP03 session when one is open. Host-side helper; reusable by host-tools tests.
import { Device, type DeviceOptions } from "../../wearable-sim/src/device.ts";
import * as A from "../../protocol/portable/apdu.ts";
import { SW_NO_ERROR } from "../../protocol/portable/sw.ts";
import { command, layers, raw, runSync, type ApduWrapper, type Resp } from "../../protocol/src/apdu-client.ts";
import { cat, hex, u16, u32 } from "../../protocol/src/bytes.ts";
import { parseStatus as parseCardStatus, type CardStatus } from "../../host-tools/src/card.ts";

export type { Resp };

/** GET STATUS fields (SPEC §3.3): the host tools' type, so the two never drift. */
export type Status = CardStatus;

export { cat, hex, u16 as u16be, u32 as u32be };

/** ISO PIN block of the applet (SPEC §3.3 VERIFY): ASCII digits right-padded with FF.
 * Unlike the host tools' pinBlock it accepts malformed PINs, for the negative tests. */
export const pinBlock = (pin: string): Uint8Array => {
  const b = new Uint8Array(A.PIN_BLOCK_LEN).fill(0xff);
  for (let i = 0; i < pin.length; i++) b[i] = pin.charCodeAt(i);
  return b;
};
export const AID = cat(u32(A.AID_HI), u32(A.AID_LO));

export class AppletHarness {
  readonly dev: Device;
  secure: ApduWrapper | null = null;

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
    return runSync(raw(apdu), (a) => this.dev.transmit(a));
  }

  /** A command (wrapped when `secure` and a session is open), with GET RESPONSE for 61xx. */
  send(cla: number, ins: number, p1 = 0, p2 = 0, data: Uint8Array = new Uint8Array(0), ne = 256, secure = false): Resp {
    if (secure && !this.secure) throw new Error("applet harness: no secure channel open");
    return runSync(command(layers(secure ? this.secure : null), { cla, ins, p1, p2, data, ne }, "extended"), (a) => this.dev.transmit(a));
  }

  /** Proprietary command, in the channel when one is open (CLA 84) else CLA 80. */
  cmd(ins: number, p1 = 0, p2 = 0, data?: Uint8Array, ne = 256): Resp {
    return this.send(A.CLA_PROPRIETARY, ins, p1, p2, data, ne, this.secure !== null);
  }
  /** Interindustry command (CLA 00 / 04 in the channel). */
  iso(ins: number, p1 = 0, p2 = 0, data?: Uint8Array, ne = 256): Resp {
    return this.send(A.CLA_ISO, ins, p1, p2, data, ne, this.secure !== null);
  }

  /** A command as the host tools build it (host-tools/src/card.ts Cmd), in the channel when one is open. */
  exec(c: { cla?: number; ins: number; p1?: number; p2?: number; data?: Uint8Array; ne?: number }): Resp {
    return this.send(c.cla ?? A.CLA_PROPRIETARY, c.ins, c.p1, c.p2, c.data, c.ne ?? 0, this.secure !== null);
  }

  select(): Resp {
    this.secure = null;
    return this.send(A.CLA_ISO, A.INS_SELECT, A.P1_SELECT_BY_AID, A.P2_SELECT_FIRST, AID);
  }

  status(): Status {
    const r = this.send(A.CLA_PROPRIETARY, A.INS_GET_STATUS);
    if (r.sw !== SW_NO_ERROR) throw new Error(`GET STATUS: SW ${r.sw.toString(16)}`);
    return parseStatus(r.data);
  }
}

export function parseStatus(d: Uint8Array): Status {
  if (d.length !== A.STATUS_RESP_LEN) throw new Error(`GET STATUS: ${d.length} bytes`);
  return parseCardStatus(d);
}
