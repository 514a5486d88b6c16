// Host side error classes of the protocol codecs (SPEC.md §4-§7). Each carries a stable
// message prefix naming what was being decoded ("bad voucher: ...", "bad apdu: ...",
// "bad hid: ...", "bad serial: ..."), so callers and tests match on the prefix.
// The status-word error (ApduError) lives in sw.ts beside its name table.

/** A signed document or its CBOR/COSE envelope is malformed, non-canonical or out of range. */
export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FormatError";
  }
}

/** A command or response APDU has an impossible or inconsistent length (ISO 7816-4 §5.1). */
export class ApduFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ApduFormatError";
  }
}

/** A HID report or serial frame cannot be built or reassembled (SPEC.md §6, §7). */
export class FramingError extends Error {
  /** HID_ERR_* (protocol/portable/hid.ts) to answer with, when the error is a HID one */
  readonly code: number | undefined;
  constructor(message: string, code?: number) {
    super(message);
    this.name = "FramingError";
    this.code = code;
  }
}
