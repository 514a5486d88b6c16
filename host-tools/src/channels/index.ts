// Choosing a channel from the command line (issue 6 "Channels"): `--reader NAME|INDEX`,
// `--hid udp:HOST:PORT|PATH|VID:PID`, `--serial PATH`, `--sim IMAGE` (an in-process
// simulated device whose flash image is kept in a file, `--profile` for a new one), or
// one SPEC string "reader:…", "hid:…", "serial:…", "sim:IMAGE[,profile]" (for
// `transfer --from/--to`). `--trace` wraps the channel to print every APDU.
import type { Options, Values } from "../cli.ts";
import { existsSync } from "node:fs";
import { notFound, usageError } from "../errors.ts";
import { numberOption, parseNumber, RANGES } from "../commands/numbers.ts";
import { TracingChannel, type Channel } from "./channel.ts";

export type { Channel };

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

export interface OpenOptions {
  trace?: boolean;
  waitMs?: number;
  profile?: string;
  /** PC/SC: a card inserted into or removed from the reader, as it happens */
  onEvent?: (e: { reader: string; event: "inserted" | "removed"; atr?: string }) => void;
  /** `--sim`: make a blank device when the image file does not exist (else: not found) */
  create?: boolean;
}

export async function openSpec(spec: string, opts: OpenOptions = {}): Promise<Channel> {
  const i = spec.indexOf(":");
  const kind = i < 0 ? spec : spec.slice(0, i);
  const arg = i < 0 ? "" : spec.slice(i + 1);
  if (!arg) throw usageError(`channel "${spec}": expected reader:NAME, hid:SPEC, serial:PATH or sim:IMAGE`);
  let ch: Channel;
  switch (kind) {
    case "reader": {
      const { PcscChannel } = await import("./pcsc.ts");
      ch = await PcscChannel.open({ reader: arg, waitMs: opts.waitMs, onEvent: opts.onEvent });
      break;
    }
    case "hid": {
      const { HidChannel } = await import("./hid.ts");
      const udp = /^(?:udp:)?([\w.-]+):(\d+)$/.exec(arg);
      if (udp) parseNumber(udp[2], `--hid ${arg}: the port`, RANGES.port);
      ch = udp ? await HidChannel.udp(arg, { timeoutMs: opts.waitMs }) : await HidChannel.usb(arg);
      break;
    }
    case "serial": {
      const { SerialChannel } = await import("./serial.ts");
      ch = await SerialChannel.open(arg, { timeoutMs: opts.waitMs });
      break;
    }
    case "sim": {
      const [image, profileArg] = arg.split(",");
      const profile = (profileArg ?? opts.profile ?? "card") as "card" | "band" | "watch";
      if (!["card", "band", "watch"].includes(profile)) throw usageError(`--profile must be card, band or watch`);
      // a mistyped path must not become a fresh blank device: creating is explicit
      if (!existsSync(image) && !opts.create) throw notFound(`sim: ${image} not found (give --create to make a blank ${profile} there)`);
      const { SimChannel } = await import("./sim.ts");
      ch = SimChannel.open({ imagePath: image, profile, autoConfirm: "accept" });
      break;
    }
    default:
      throw usageError(`channel "${spec}": unknown kind "${kind}" (reader, hid, serial, sim)`);
  }
  return opts.trace ? new TracingChannel(ch) : ch;
}

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

export async function withChannel<T>(ch: Channel, fn: (ch: Channel) => Promise<T>): Promise<T> {
  try {
    return await fn(ch);
  } finally {
    await ch.close().catch(() => undefined);
  }
}
