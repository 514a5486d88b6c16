// Conformance (SPEC §3) through real PC/SC: a simulated card inserted into the rig's vpcd
// reader (wearable-sim's pcsc transport) and reached through host-tools' PcscChannel via
// the rig's private pcscd (test/rig/README.md). Power cycle = the card leaves the field
// and is tapped again (the channel reconnects); a card has no button.
import { inject } from "vitest";
import { Fleet } from "../../wearable-sim/src/fleet.ts";
import { PcscChannel } from "../../host-tools/src/channels/pcsc.ts";
import { conformanceSuite } from "../support/conformance-suite.ts";

const WAIT_MS = 5000;

conformanceSuite("pcsc card (p256) via pcscd + vpcd", async () => {
  const rig = inject("rig");
  const reader = rig.readers[0];
  const fleet = new Fleet({ vpcdBasePort: rig.vpcdPort, seed: "conformance-pcsc" });
  await fleet.start({ profile: "card", transport: "pcsc", name: "card" });
  const tap = async () => {
    await fleet.tap("card", reader);
    return PcscChannel.open({ reader, waitMs: WAIT_MS });
  };
  // out of the field, and the reader has seen it leave (the next file finds it empty)
  const pull = async (ch: PcscChannel) => {
    const gone = ch.waitRemoved(WAIT_MS);
    await fleet.remove("card");
    await gone;
    await ch.close();
  };
  let channel = await tap();
  return {
    get channel() {
      return channel;
    },
    formFactor: "card",
    suite: "p256",
    powerCycle: async () => {
      await pull(channel);
      channel = await tap();
    },
    aborts: () => fleet.get("card").device.aborts,
    close: async () => (await pull(channel), await fleet.stop()),
  };
});
