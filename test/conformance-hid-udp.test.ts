// Conformance (SPEC §3) over HID: a simulated band served by wearable-sim's HID-over-UDP
// transport (SPEC §6 64-byte reports, one per datagram on 127.0.0.1), reached through
// host-tools' HidChannel. Power cycle and button press are the simulator's hooks.
import { Fleet } from "../wearable-sim/src/fleet.ts";
import { HidChannel } from "../host-tools/src/channels/hid.ts";
import { conformanceSuite, fleetTarget } from "./support/conformance-suite.ts";

conformanceSuite("hid-udp band (sm2)", async () => {
  const fleet = new Fleet({ seed: "conformance-hid", autoConfirm: "refuse" });
  await fleet.start({ profile: "band", transport: "hid-udp", name: "band" });
  return fleetTarget(fleet, "band", "sm2", await HidChannel.udp(`udp:${fleet.get("band").transport!.endpoint}`));
});
