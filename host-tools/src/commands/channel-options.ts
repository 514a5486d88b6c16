// The `wallet` options that choose a channel (host-tools/README.md "Choosing a device"): `--reader NAME|INDEX`,
// `--hid udp:HOST:PORT|PATH|VID:PID`, `--serial PATH`, `--sim IMAGE` (an in-process
// simulated device whose flash image is kept in a file, `--profile` for a new one),
// `--wait`, `--create`, turned into one channel SPEC for channels/index.ts.
import type { Options, Values } from "./command.ts";
import { usageError } from "../errors.ts";
import { numberOption, RANGES } from "./numbers.ts";
import { openSpec, type Channel, type OpenOptions } from "../channels/index.ts";

export const CHANNEL_OPTIONS: Options = {
  reader: { type: "string" },
  hid: { type: "string" },
  serial: { type: "string" },
  sim: { type: "string" },
  profile: { type: "string" },
  wait: { type: "string" },
  create: { type: "boolean", default: false },
};

/** What each channel option means, for `--help`. */
export const CHANNEL_HELP: Record<string, string> = {
  reader: "PC/SC reader: its name, a prefix of it, or its index in `wallet readers` (0, 1, …)",
  hid: "HID device: udp:HOST:PORT (the simulator's endpoint), a hidraw PATH or VID:PID (hex)",
  serial: "serial port or pty PATH (COBS + CRC-16 frames)",
  sim: "in-process simulated device whose flash image is the file IMAGE (must exist unless --create)",
  profile: "card, band or watch: the simulated device made by --create (default card)",
  wait: `seconds to wait for the reader's card or a device's answer, ${RANGES.waitSeconds.min} to ${RANGES.waitSeconds.max} (default 10)`,
  create: "with --sim: create the flash image (a blank device) when the file does not exist",
};

/** The channel named by --reader / --hid / --serial / --sim (exactly one). */
export function channelSpec(o: Values): string {
  const given = (["reader", "hid", "serial", "sim"] as const).filter((k) => o[k] !== undefined);
  if (given.length !== 1) throw usageError("choose one device: --reader NAME|INDEX, --hid udp:HOST:PORT|PATH, --serial PATH or --sim IMAGE");
  return `${given[0]}:${o[given[0]]}`;
}

/** The open options given by --wait, --profile and --create (checked before anything is opened). */
export function openOptions(o: Values, trace: boolean): OpenOptions {
  const wait = numberOption(o, "wait", RANGES.waitSeconds, undefined);
  return { trace, waitMs: wait === undefined ? undefined : Math.round(wait * 1000), profile: o.profile as string | undefined, create: !!o.create };
}

export function openFromOptions(o: Values, trace: boolean): Promise<Channel> {
  return openSpec(channelSpec(o), openOptions(o, trace));
}
