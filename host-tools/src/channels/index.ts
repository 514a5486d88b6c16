// Choosing a channel from the command line (issue 6 "Channels"): `--reader NAME|INDEX`,
// `--hid udp:HOST:PORT|PATH|VID:PID`, `--serial PATH`, `--sim IMAGE` (an in-process
// simulated device whose flash image is kept in a file, `--profile` for a new one), or
// one SPEC string "reader:…", "hid:…", "serial:…", "sim:IMAGE[,profile]" (for
// `transfer --from/--to`). `--trace` wraps the channel to print every APDU.
import type { Options, Values } from "../cli.ts";
import { usageError } from "../errors.ts";
import { TracingChannel, type Channel } from "./channel.ts";

export type { Channel };

export const CHANNEL_OPTIONS: Options = {
  reader: { type: "string" },
  hid: { type: "string" },
  serial: { type: "string" },
  sim: { type: "string" },
  profile: { type: "string" },
  wait: { type: "string" },
};

export async function openSpec(spec: string, opts: { trace?: boolean; waitMs?: number; profile?: string } = {}): Promise<Channel> {
  const i = spec.indexOf(":");
  const kind = i < 0 ? spec : spec.slice(0, i);
  const arg = i < 0 ? "" : spec.slice(i + 1);
  if (!arg) throw usageError(`channel "${spec}": expected reader:NAME, hid:SPEC, serial:PATH or sim:IMAGE`);
  let ch: Channel;
  switch (kind) {
    case "reader": {
      const { PcscChannel } = await import("./pcsc.ts");
      ch = await PcscChannel.open({ reader: arg, waitMs: opts.waitMs });
      break;
    }
    case "hid": {
      const { HidChannel } = await import("./hid.ts");
      ch = /^(udp:)?[\w.-]+:\d+$/.test(arg) ? await HidChannel.udp(arg) : await HidChannel.usb(arg);
      break;
    }
    case "serial": {
      const { SerialChannel } = await import("./serial.ts");
      ch = await SerialChannel.open(arg);
      break;
    }
    case "sim": {
      const [image, profileArg] = arg.split(",");
      const profile = (profileArg ?? opts.profile ?? "card") as "card" | "band" | "watch";
      if (!["card", "band", "watch"].includes(profile)) throw usageError(`--profile must be card, band or watch`);
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

export function openFromOptions(o: Values, trace: boolean): Promise<Channel> {
  return openSpec(channelSpec(o), { trace, waitMs: o.wait ? Number(o.wait) * 1000 : undefined, profile: o.profile as string | undefined });
}

export async function withChannel<T>(ch: Channel, fn: (ch: Channel) => Promise<T>): Promise<T> {
  try {
    return await fn(ch);
  } finally {
    await ch.close().catch(() => undefined);
  }
}
