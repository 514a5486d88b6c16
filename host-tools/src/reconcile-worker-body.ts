// Worker body: chain-checks device certificates ({certs} → {keys}, voucher-check.ts
// deviceKeyOf) and checks slices of vouchers (voucher-check.ts) against the device keys
// it was last sent ({keys}); a slice arrives as one buffer with end offsets ({buf, ends})
// and its results go back in order ({results}). Every message but {keys} gets one answer,
// in the order received (VerifierPool relies on it).
import { parentPort } from "node:worker_threads";
import type { TrustedKey } from "./docs.ts";
import { checkVoucher, deviceKeyOf, toFacts, type DeviceCertInput, type DeviceKey } from "./voucher-check.ts";

type Msg = { keys: [string, DeviceKey][] } | { certs: { trusted: TrustedKey[]; devices: DeviceCertInput[] } } | { buf: Uint8Array; ends: Uint32Array };

let devices = new Map<string, DeviceKey>();
parentPort!.on("message", (msg: Msg) => {
  if ("keys" in msg) {
    devices = new Map(msg.keys);
    return;
  }
  if ("certs" in msg) {
    const { trusted, devices: ds } = msg.certs;
    parentPort!.postMessage({ keys: ds.map((d) => [d.deviceId, deviceKeyOf(d, trusted)]) });
    return;
  }
  const results = [];
  for (let i = 0, o = 0; i < msg.ends.length; o = msg.ends[i++]) results.push(toFacts(checkVoucher(msg.buf.subarray(o, msg.ends[i]), (id) => devices.get(id))));
  parentPort!.postMessage({ results });
});
