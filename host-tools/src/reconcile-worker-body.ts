// Worker body: checks slices of vouchers (voucher-check.ts) against the device keys it was
// last sent ({keys}); a slice arrives as one buffer with end offsets ({buf, ends}) and its
// results go back in order, packed ({packed}: voucher-check.ts packChecks).
import { parentPort } from "node:worker_threads";
import { checkVoucher, packChecks, type DeviceKey } from "./voucher-check.ts";

let devices = new Map<string, DeviceKey>();
parentPort!.on("message", (msg: { keys: [string, DeviceKey][] } | { buf: Uint8Array; ends: Uint32Array }) => {
  if ("keys" in msg) {
    devices = new Map(msg.keys);
    return;
  }
  const results = [];
  for (let i = 0, o = 0; i < msg.ends.length; o = msg.ends[i++]) results.push(checkVoucher(msg.buf.subarray(o, msg.ends[i]), (id) => devices.get(id)));
  const packed = packChecks(results);
  parentPort!.postMessage({ packed }, [packed.nums.buffer as ArrayBuffer]);
});
