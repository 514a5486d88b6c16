// Worker body: checks a slice of vouchers (voucher-check.ts) against the device keys it
// was given at start, and posts the results back. One message in, one message out.
import { parentPort, workerData } from "node:worker_threads";
import { checkVoucher, type DeviceKey } from "./voucher-check.ts";

const devices = new Map<string, DeviceKey>(workerData.devices as [string, DeviceKey][]);
parentPort!.on("message", (msg: { id: number; coses: Uint8Array[] }) => {
  const results = msg.coses.map((c) => checkVoucher(c, (id) => devices.get(id)));
  parentPort!.postMessage({ id: msg.id, results });
});
