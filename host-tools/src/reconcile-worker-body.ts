// Worker body: checks slices of vouchers (voucher-check.ts) against the device keys it was
// last sent ({keys}), posting each slice's results back ({id, coses} in, {id, results} out).
import { parentPort } from "node:worker_threads";
import { checkVoucher, toFacts, type DeviceKey } from "./voucher-check.ts";

let devices = new Map<string, DeviceKey>();
parentPort!.on("message", (msg: { keys: [string, DeviceKey][] } | { id: number; coses: Uint8Array[] }) => {
  if ("keys" in msg) {
    devices = new Map(msg.keys);
    return;
  }
  const results = msg.coses.map((c) => toFacts(checkVoucher(c, (id) => devices.get(id))));
  parentPort!.postMessage({ id: msg.id, results });
});
