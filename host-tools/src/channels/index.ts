// Opening a channel by one SPEC string (host-tools/README.md "Choosing a device"): "reader:NAME|INDEX",
// "hid:udp:HOST:PORT|PATH|VID:PID", "serial:PATH", "sim:IMAGE[,profile]" (an in-process
// simulated device whose flash image is kept in a file). `trace` wraps the channel to
// print every APDU. The CLI's options that name a channel are commands/channel-options.ts.
import { existsSync } from "node:fs";
import { notFound, usageError } from "../errors.ts";
import { parseNumber, RANGES } from "../commands/numbers.ts";
import { TracingChannel, type Channel } from "./channel.ts";

export type { Channel };

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

export async function withChannel<T>(ch: Channel, fn: (ch: Channel) => Promise<T>): Promise<T> {
  try {
    return await fn(ch);
  } finally {
    await ch.close().catch(() => undefined);
  }
}
