// Conformance (SPEC §3) over the serial link: a simulated watch speaking the SPEC §7
// framing on one end of a socat pty pair (wearable-sim's serial transport), reached
// through host-tools' SerialChannel on the other end. Power cycle and button press are
// the simulator's hooks.
import { Fleet } from "../../wearable-sim/src/fleet.ts";
import { SerialChannel } from "../../host-tools/src/channels/serial.ts";
import { conformanceSuite, fleetTarget } from "../support/conformance-suite.ts";

conformanceSuite("serial watch (p256) over a pty", async () => {
  const fleet = new Fleet({ seed: "conformance-serial", autoConfirm: "refuse" });
  await fleet.start({ profile: "watch", transport: "serial", name: "watch" });
  return fleetTarget(fleet, "watch", "p256", await SerialChannel.open(fleet.get("watch").transport!.endpoint));
});
