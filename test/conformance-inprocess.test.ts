// Conformance (SPEC §3) of the in-process WASM: build/firmware.wasm in a wearable-sim
// Device behind host-tools' SimChannel (wearable-sim's in-process transport, no socket). A card (P-256, no button) and a
// band (SM2, button) so both suites and both holder-verification paths are covered.
import { SimChannel } from "../host-tools/src/channels/sim.ts";
import { conformanceSuite } from "./support/conformance-suite.ts";

for (const [profile, suite] of [["card", "p256"], ["band", "sm2"]] as const) {
  conformanceSuite(`in-process ${profile} (${suite})`, async () => {
    // "refuse": an unattended confirm is a timeout, so only an armed press approves
    const ch = SimChannel.open({ profile, seed: `conformance-inprocess-${profile}`, autoConfirm: "refuse" });
    const d = ch.device;
    return {
      channel: ch,
      formFactor: profile,
      suite,
      powerCycle: async () => (d.powerOff(), d.powerOn()),
      press: d.profile.button ? () => d.press() : undefined,
      aborts: () => d.aborts,
      close: async () => (await ch.close(), d.close()),
    };
  });
}
