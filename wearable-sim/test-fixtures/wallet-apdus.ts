// The two wallet commands the simulator's own tests and bench send to the real firmware
// (SPEC.md §3): SELECT the applet by AID and GET STATUS, built from protocol numbers.
import { encodeCommand, parseResponse, type ResponseApdu } from "../../protocol/src/apdu.ts";
import {
  AID_HI,
  AID_LEN,
  AID_LO,
  CLA_ISO,
  CLA_PROPRIETARY,
  INS_GET_STATUS,
  INS_SELECT,
  P1_SELECT_BY_AID,
  P2_SELECT_FIRST,
  SELECT_OFF_DEVICE_ID,
  SELECT_OFF_REVISION,
  SELECT_RESP_LEN,
  STATUS_OFF_DEVICE_ID,
  STATUS_OFF_STORE_STATE,
  STATUS_RESP_LEN,
} from "../../protocol/portable/apdu.ts";

export function walletAid(): Uint8Array {
  const aid = new Uint8Array(AID_LEN);
  const v = new DataView(aid.buffer);
  v.setUint32(0, AID_HI);
  v.setUint32(4, AID_LO);
  return aid;
}

export const SELECT_WALLET = encodeCommand({ cla: CLA_ISO, ins: INS_SELECT, p1: P1_SELECT_BY_AID, p2: P2_SELECT_FIRST, data: walletAid(), ne: SELECT_RESP_LEN });
export const GET_STATUS = encodeCommand({ cla: CLA_PROPRIETARY, ins: INS_GET_STATUS, p1: 0, p2: 0, data: new Uint8Array(0), ne: STATUS_RESP_LEN });

export interface SelectInfo extends ResponseApdu {
  revision: number;
  deviceId: string;
}
export function parseSelect(r: Uint8Array): SelectInfo {
  const p = parseResponse(r);
  const v = new DataView(p.data.buffer, p.data.byteOffset, p.data.length);
  const ok = p.data.length === SELECT_RESP_LEN;
  return { ...p, revision: ok ? v.getUint32(SELECT_OFF_REVISION) : -1, deviceId: ok ? Buffer.from(p.data.subarray(SELECT_OFF_DEVICE_ID, SELECT_OFF_DEVICE_ID + 8)).toString("hex") : "" };
}

export interface StatusInfo extends ResponseApdu {
  deviceId: string;
  storeState: number;
}
export function parseStatus(r: Uint8Array): StatusInfo {
  const p = parseResponse(r);
  const ok = p.data.length === STATUS_RESP_LEN;
  return { ...p, deviceId: ok ? Buffer.from(p.data.subarray(STATUS_OFF_DEVICE_ID, STATUS_OFF_DEVICE_ID + 8)).toString("hex") : "", storeState: ok ? p.data[STATUS_OFF_STORE_STATE] : -1 };
}
