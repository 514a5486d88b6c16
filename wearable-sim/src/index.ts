// wearable-sim's public surface (DESIGN.md §2, README "The simulator"): what host-tools, the
// demo and the benches may use. Everything else in wearable-sim/src is internal, and
// test/structure.test.ts fails on an import that reaches past this file.
//   devices     createDevice / cloneDevice (the device factory), Device and its events
//   fleets      Fleet (many devices, each on a transport), runScenario
//   transports  the Transport interface, serveApdu (the one APDU path), createTransport,
//               InProcessTransport (same bytes, no socket), VpcdCard (a bare vpcd card)
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Device, type DeviceOptions } from "./device.ts";

export {
  DEFAULT_FIRMWARE, Device, DeviceOffError, RevisionMismatchError, deriveSerial, loadFirmware,
  type ApduEvent, type AutoConfirm, type ConfirmEvent, type DeviceOptions, type DeviceState, type DisplayEvent, type FaultEvent, type PowerCause, type PowerEvent,
} from "./device.ts";
export type { TearMode } from "./flash.ts";
export { PROFILES, profileOf, type Profile, type ProfileName } from "./profiles.ts";
export { Fleet, traceLine, type DeviceInfo, type FleetEvent, type FleetOptions, type Member, type StartSpec } from "./fleet.ts";
export { runScenario, validateScenario, type Scenario, type ScenarioResult, type StepResult } from "./scenario.ts";
export { createTransport, serveApdu, TRANSPORT_KINDS, type Transport, type TransportKind, type TransportOptions } from "./transports/index.ts";
export { InProcessTransport } from "./transports/inprocess.ts";
export { VpcdCard, VPCD_DEFAULT_PORT, type VpcdCardHandler, type VpcdCardOptions, type VpcdTarget } from "./transports/vpcd.ts";

/** A new simulated device, powered off; a file-backed one gets its image's folder made. */
export function createDevice(opts: DeviceOptions = {}): Device {
  if (opts.imagePath) mkdirSync(dirname(opts.imagePath), { recursive: true });
  return new Device(opts);
}

/** A second device whose flash is a copy of `device`'s (a cloned card: same keys, same counter). */
export function cloneDevice(device: Device, opts: Omit<DeviceOptions, "flash" | "imagePath"> = {}): Device {
  return new Device({ profile: device.profile.name, ...opts, flash: device.flash.clone() });
}
