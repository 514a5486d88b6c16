// Host side status-word table (SPEC.md §4): a readable ISO 7816-4 name for every SW_*
// constant of protocol/portable/sw.ts, derived from that module's export names so no
// value is retyped here, plus the one error class the host throws for a non-9000 SW.
import * as SW from "../portable/sw.ts";

/** Every named status word: value -> ISO name, built from the portable exports. */
export const SW_NAMES: ReadonlyMap<number, string> = (() => {
  const m = new Map<number, string>();
  for (const [name, value] of Object.entries(SW)) {
    if (!name.startsWith("SW_") || typeof value !== "number") continue;
    if (m.has(value)) throw new Error(`bad sw table: ${name} repeats ${m.get(value)}`);
    m.set(value, name);
  }
  return m;
})();

const hex2 = (n: number): string => n.toString(16).toUpperCase().padStart(2, "0");
const hex4 = (n: number): string => n.toString(16).toUpperCase().padStart(4, "0");

/**
 * The ISO name of a status word. Families carry a count in SW2 and are named with it:
 * 61xx -> SW_BYTES_REMAINING_xx, 6Cxx -> SW_CORRECT_LENGTH_xx (hex, as in ISO tables),
 * 63Cx -> SW_VERIFY_FAIL_<tries left, decimal>. An unlisted value is SW_<hex4>.
 */
export function swName(sw: number): string {
  if (!Number.isInteger(sw) || sw < 0 || sw > 0xffff) throw new RangeError(`bad sw: ${sw} is not a 16-bit value`);
  const sw1 = sw >> 8;
  if (sw1 === SW.SW_BYTES_REMAINING_00 >> 8) return `SW_BYTES_REMAINING_${hex2(sw & 0xff)}`;
  if (sw1 === SW.SW_CORRECT_LENGTH_00 >> 8) return `SW_CORRECT_LENGTH_${hex2(sw & 0xff)}`;
  if ((sw & 0xfff0) === SW.SW_VERIFY_FAIL_BASE) return `SW_VERIFY_FAIL_${sw & 0x0f}`;
  return SW_NAMES.get(sw) ?? `SW_${hex4(sw)}`;
}

/** Remaining PIN tries carried by a 63Cx status word, or null when `sw` is not 63Cx. */
export function swTriesLeft(sw: number): number | null {
  return (sw & 0xfff0) === SW.SW_VERIFY_FAIL_BASE ? sw & 0x0f : null;
}

/** True for 9000 and 61xx (normal processing, ISO 7816-4 Table 5). */
export function swIsSuccess(sw: number): boolean {
  return sw === SW.SW_NO_ERROR || sw >> 8 === SW.SW_BYTES_REMAINING_00 >> 8;
}

/** A command answered with a status word other than the one expected (normally 9000). */
export class ApduError extends Error {
  readonly sw: number;
  readonly swName: string;
  constructor(sw: number, context?: string) {
    const name = swName(sw);
    super(`apdu failed: ${context ? context + ": " : ""}${hex4(sw)} ${name}`);
    this.name = "ApduError";
    this.sw = sw;
    this.swName = name;
  }
}
