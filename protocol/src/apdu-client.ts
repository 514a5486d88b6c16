// The one APDU client of the host side (SPEC §3.1 transport rules, §9 channel use), written
// once and run both synchronously (the applet tests over an in-process device) and
// asynchronously (the `wallet` CLI and flows over a PC/SC, serial, HID or sim channel).
//
// It is sans-IO: an exchange is a generator that yields each command APDU to transmit and
// is resumed with that APDU's raw response (data || SW); `runSync` and `runAsync` are the
// two drivers. The layers stack as decorators over the raw exchange, as GlobalPlatformPro
// stacks them over a card channel:
//   raw           one command, one response split into data and SW
//   withGetResponse  61xx answered with GET RESPONSE until the whole response is in (ISO 7816-4 §5.3.4)
//   withSecureChannel  the command wrapped (C-MAC / C-DEC), the WHOLE collected response
//                  unwrapped (R-MAC / R-ENC): the R-MAC covers every piece (SPEC §9)
// and `command` sends one command whose data may exceed a short APDU, either as a command
// chain (CLA bit 0x10, blocks of 255 bytes: every reader) or as one extended APDU.
import { encodeCommand } from "./apdu.ts";
import { cat } from "./bytes.ts";
import { CLA_CHAINING, CLA_ISO, CLA_SECURE_MESSAGING, INS_GET_RESPONSE } from "../portable/apdu.ts";
import { SW_BYTES_REMAINING_00, SW_NO_ERROR } from "../portable/sw.ts";

/** A response split into its data and its status word. */
export interface Resp {
  data: Uint8Array;
  sw: number;
}

/** An exchange in progress: yields command APDUs, is resumed with their raw responses, returns T. */
export type Exchange<T> = Generator<Uint8Array, T, Uint8Array>;

/** One layer of the client: a command APDU in, its (possibly collected, unwrapped) response out. */
export type Transceive = (apdu: Uint8Array) => Exchange<Resp>;

/** An open secure channel (protocol/src/scp03.ts Scp03Session): wraps commands, unwraps responses. */
export interface ApduWrapper {
  wrap(apdu: Uint8Array): Uint8Array;
  unwrap(response: Uint8Array): Uint8Array;
}

/**
 * A response that answers nothing: shorter than a status word, or secure messaging that
 * does not verify. Raised by the layers, never by a transmit function, so a caller can tell
 * a device's bad answer from a transport failure.
 */
export class ResponseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ResponseError";
  }
}

/** Runs an exchange over a synchronous transmit function. */
export function runSync<T>(ex: Exchange<T>, transmit: (apdu: Uint8Array) => Uint8Array): T {
  for (let step = ex.next(); ; ) {
    if (step.done) return step.value;
    step = ex.next(transmit(step.value));
  }
}

/** Runs an exchange over an asynchronous transmit function (a Channel's). */
export async function runAsync<T>(ex: Exchange<T>, transmit: (apdu: Uint8Array) => Promise<Uint8Array>): Promise<T> {
  for (let step = ex.next(); ; ) {
    if (step.done) return step.value;
    step = ex.next(await transmit(step.value));
  }
}

/** data || SW → data and SW; fewer than two bytes is a ResponseError. */
export function splitResponse(r: Uint8Array): Resp {
  if (r.length < 2) throw new ResponseError("response without a status word");
  return { data: r.subarray(0, r.length - 2), sw: (r[r.length - 2] << 8) | r[r.length - 1] };
}

/** data and SW → data || SW. */
export function joinResponse(r: Resp): Uint8Array {
  return cat(r.data, Uint8Array.of(r.sw >> 8, r.sw & 0xff));
}

/** The bottom layer: the APDU as it is, its response split. */
export const raw: Transceive = function* (apdu) {
  return splitResponse(yield apdu);
};

/** 61xx → GET RESPONSE (Le = xx, 00 meaning 256) until another SW; the pieces joined in order. */
export function withGetResponse(inner: Transceive): Transceive {
  return function* (apdu) {
    let { data, sw } = yield* inner(apdu);
    const pieces = [data];
    while (sw >> 8 === SW_BYTES_REMAINING_00 >> 8) {
      const more = yield* inner(encodeCommand({ cla: CLA_ISO, ins: INS_GET_RESPONSE, p1: 0, p2: 0, data: new Uint8Array(0), ne: sw & 0xff || 256 }));
      pieces.push(more.data);
      sw = more.sw;
    }
    return { data: pieces.length > 1 ? cat(...pieces) : data, sw };
  };
}

/**
 * The secure channel over `inner` (normally withGetResponse(raw)): the command goes out
 * wrapped, the whole response comes back unwrapped. The wrapper sets the SM bit itself, so
 * it is handed the plain CLA. An unwrap failure is a ResponseError with the wrapper's message.
 */
export function withSecureChannel(inner: Transceive, wrapper: ApduWrapper): Transceive {
  return function* (apdu) {
    const plain = apdu.slice();
    plain[0] &= ~CLA_SECURE_MESSAGING;
    const r = yield* inner(wrapper.wrap(plain));
    let u: Uint8Array;
    try {
      u = wrapper.unwrap(joinResponse(r));
    } catch (e) {
      throw new ResponseError((e as Error).message, { cause: e });
    }
    return splitResponse(u);
  };
}

/** The usual stack: GET RESPONSE collection over the raw exchange, in the secure channel when one is given. */
export function layers(secure: ApduWrapper | null = null): Transceive {
  const collected = withGetResponse(raw);
  return secure ? withSecureChannel(collected, secure) : collected;
}

/** A command as the applet's tables describe it (SPEC §3.3); `ne` 0 = no response data expected. */
export interface Command {
  cla: number;
  ins: number;
  p1?: number;
  p2?: number;
  data?: Uint8Array;
  ne?: number;
}

/** How data longer than a short APDU's 255 bytes travels (SPEC §3.1). */
export type LongData = "chain" | "extended";

const SHORT_MAX = 255;

/**
 * One command through `via`. Long data is a command chain ("chain": CLA bit 0x10 on every
 * block but the last, each block its own exchange, stopping at the first block not
 * answered 9000) or one extended APDU ("extended", Le = 65536 then). Returns the last answer.
 */
export function* command(via: Transceive, c: Command, long: LongData = "chain"): Exchange<Resp> {
  const data = c.data ?? new Uint8Array(0);
  const p1 = c.p1 ?? 0, p2 = c.p2 ?? 0, ne = c.ne ?? 0;
  if (long === "extended" || data.length <= SHORT_MAX) {
    const ext = data.length > SHORT_MAX;
    return yield* via(encodeCommand({ cla: c.cla, ins: c.ins, p1, p2, data, ne: ext ? 65536 : ne }, ext));
  }
  for (let off = 0; ; off += SHORT_MAX) {
    const last = off + SHORT_MAX >= data.length;
    const r = yield* via(encodeCommand({ cla: c.cla | (last ? 0 : CLA_CHAINING), ins: c.ins, p1, p2, data: data.subarray(off, off + SHORT_MAX), ne: last ? ne : 0 }));
    if (last || r.sw !== SW_NO_ERROR) return r;
  }
}
