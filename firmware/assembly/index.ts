// firmware.wasm entry point: the wallet applet. Exports are re-exported from the
// parts that own them (hardware interface, APDU dispatch, crypto verifier).
import { PROTOCOL_REVISION } from "../../protocol/portable/revision";

export function protocol_revision(): u32 {
  return PROTOCOL_REVISION;
}
