// Worker body: checks slices of vouchers (voucher-check.ts checkVouchers: one SM2 batch call
// per slice) against the device keys it was last sent ({keys}, and {addKeys} added since;
// {mode}: batch or single); a slice arrives as one buffer with end offsets ({buf, ends}) and its
// results go back in order, packed ({packed}: voucher-check.ts packChecks).
import { parentPort } from "node:worker_threads";
import { checkVouchers, packChecks, type DeviceKey, type VerifyMode } from "./voucher-check.ts";

let devices = new Map<string, DeviceKey>();
let mode: VerifyMode = "batch";
parentPort!.on("message", (msg: { keys: [string, DeviceKey][] } | { addKeys: [string, DeviceKey][] } | { mode: VerifyMode } | { buf: Uint8Array; ends: Uint32Array }) => {
  if ("keys" in msg) {
    devices = new Map(msg.keys);
    return;
  }
  if ("addKeys" in msg) {
    for (const [id, k] of msg.addKeys) devices.set(id, k);
    return;
  }
  if ("mode" in msg) {
    mode = msg.mode;
    return;
  }
  const coses: Uint8Array[] = new Array(msg.ends.length);
  for (let i = 0, o = 0; i < msg.ends.length; o = msg.ends[i++]) coses[i] = msg.buf.subarray(o, msg.ends[i]);
  const packed = packChecks(checkVouchers(coses, (id) => devices.get(id), mode));
  parentPort!.postMessage({ packed }, [packed.nums.buffer as ArrayBuffer]);
});
