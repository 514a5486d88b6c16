// Device profiles of the simulator: what hardware each form factor has (DESIGN.md §1,
// §3) and the ATR it answers with. ATRs follow ISO/IEC 7816-3 §8.2 (TS, T0,
// interface bytes, historical bytes, TCK); historical bytes follow ISO/IEC 7816-4 §8.1.1
// (category indicator 0x80, then COMPACT-TLV with tag 5 "card issuer's data" naming the product).
//
// The contactless ATR has the shape PC/SC Part 3 §3.1.3.2.3 gives readers such as the
// ACR122U for an ISO 14443-4 card: 3B 8n 80 01 <historical> TCK. Wearables speak NFC
// the same way, so they use that shape too.

export type ProfileName = "card" | "band" | "watch";

export interface Profile {
  readonly name: ProfileName;
  /** ATR a reader reports (contactless / NFC form) */
  readonly atr: Uint8Array;
  /** ATR in a contact reader (cards only) */
  readonly contactAtr?: Uint8Array;
  /** has a real-time clock: `clock_now` returns Unix seconds, else 0 (SPEC §2) */
  readonly clock: boolean;
  /** has a user-presence button: `confirm` returns 1/0, else -1 (SPEC §2) */
  readonly button: boolean;
  /** shows the amount it asks the user to confirm */
  readonly display: boolean;
}

// ISO 7816-4 §8.1.1.1: category indicator 0x80 = COMPACT-TLV data objects follow
const CATEGORY_COMPACT_TLV = 0x80;
// ISO 7816-4 §8.1.1.2.5 (table 85): COMPACT-TLV tag 5, card issuer's data
const CTLV_TAG_ISSUER_DATA = 0x5;
// ISO 7816-3 §8.2.2: at most 15 historical bytes (low nibble of T0)
const MAX_HISTORICAL = 15;

/** Historical bytes naming the product: 80 5L <name in ASCII>. */
export function productHistorical(product: string): Uint8Array {
  const name = new TextEncoder().encode(product);
  if (name.length + 2 > MAX_HISTORICAL) throw new RangeError(`atr: product name too long: ${product}`);
  return Uint8Array.of(CATEGORY_COMPACT_TLV, (CTLV_TAG_ISSUER_DATA << 4) | name.length, ...name);
}

/**
 * Builds an ATR: TS = 3B (direct convention), T0 = Y1 | K computed here, then the
 * interface bytes as given (the caller sets their presence bits), the historical
 * bytes, and TCK (XOR of T0..last byte) whenever a protocol other than T=0 is indicated.
 * `y1` is the high nibble of T0 (which of TA1..TD1 follow).
 */
export function buildAtr(y1: number, interfaceBytes: number[], historical: Uint8Array): Uint8Array {
  const body = [((y1 & 0xf) << 4) | historical.length, ...interfaceBytes, ...historical];
  const out = [0x3b, ...body];
  if (walkInterface(out).protocols.some((t) => t !== 0)) out.push(body.reduce((a, b) => a ^ b, 0));
  return Uint8Array.from(out);
}

/** Walks T0 and the interface bytes: the protocols the TDi indicate and where they end. */
function walkInterface(atr: ArrayLike<number>): { protocols: number[]; end: number } {
  let i = 2;
  let y = atr[1] >> 4;
  const protocols: number[] = [];
  for (;;) {
    i += (y & 1) + ((y >> 1) & 1) + ((y >> 2) & 1); // TAi, TBi, TCi
    if ((y & 0x8) === 0) return { protocols, end: i };
    if (i >= atr.length) throw new RangeError("atr: truncated interface bytes");
    protocols.push(atr[i] & 0xf);
    y = atr[i++] >> 4;
  }
}

export interface ParsedAtr {
  protocols: number[];
  historical: Uint8Array;
  tck?: number;
}

/** Parses and checks an ATR (ISO 7816-3 §8.2); throws `atr: …` on a malformed one. */
export function parseAtr(atr: Uint8Array): ParsedAtr {
  if (atr.length < 2 || atr.length > 33) throw new RangeError(`atr: bad length ${atr.length}`);
  if (atr[0] !== 0x3b && atr[0] !== 0x3f) throw new RangeError(`atr: bad TS ${atr[0]}`);
  const k = atr[1] & 0xf;
  const { protocols, end: i } = walkInterface(atr);
  const historical = atr.slice(i, i + k);
  if (historical.length !== k) throw new RangeError("atr: truncated historical bytes");
  const needsTck = protocols.some((t) => t !== 0);
  const end = i + k + (needsTck ? 1 : 0);
  if (atr.length !== end) throw new RangeError(`atr: length ${atr.length}, expected ${end}`);
  if (needsTck) {
    let x = 0;
    for (let j = 1; j < atr.length; j++) x ^= atr[j];
    if (x !== 0) throw new RangeError("atr: bad TCK");
    return { protocols, historical, tck: atr[atr.length - 1] };
  }
  return { protocols, historical };
}

// PC/SC Part 3 §3.1.3.2.3: contactless ISO 14443-4 ATR: T0 = 8K (TD1 only), TD1 = 80
// (TD2 follows, T=0), TD2 = 01 (T=1)
function contactlessAtr(product: string): Uint8Array {
  return buildAtr(0x8, [0x80, 0x01], productHistorical(product));
}

// Contact T=1 card: TA1 = 96 (Fi 512, Di 32), TD1 = 81 (TD2 follows, T=1),
// TD2 = 31 (TA3, TB3 follow, T=1), TA3 = FE (IFSC 254), TB3 = 45 (BWI 4, CWI 5)
function contactAtr(product: string): Uint8Array {
  return buildAtr(0x9, [0x96, 0x81, 0x31, 0xfe, 0x45], productHistorical(product));
}

export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  card: {
    name: "card",
    atr: contactlessAtr("OWallet Card"),
    contactAtr: contactAtr("OWallet Card"),
    clock: false,
    button: false,
    display: false,
  },
  band: { name: "band", atr: contactlessAtr("OWallet Band"), clock: true, button: true, display: false },
  watch: { name: "watch", atr: contactlessAtr("OWalletWatch"), clock: true, button: true, display: true },
};

export function profileOf(name: string): Profile {
  const p = (PROFILES as Record<string, Profile>)[name];
  if (!p) throw new TypeError(`profile: unknown profile "${name}" (card, band, watch)`);
  return p;
}
