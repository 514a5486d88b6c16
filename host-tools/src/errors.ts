// Host-tools errors and exit codes (issue 6 "Errors"): every expected failure is a
// WalletError carrying one line of text and an exit code; the CLI prints that line
// and exits with the code, never a stack trace. Unexpected errors exit 1.

/** Exit codes of the `wallet` CLI; stable, documented in README. */
export const EXIT_OK = 0;
export const EXIT_INTERNAL = 1; // a bug: unexpected exception
export const EXIT_USAGE = 2; // bad arguments or options
export const EXIT_DEVICE = 3; // device, reader or status-word failure
export const EXIT_DATA = 4; // malformed file, CSV, export, document
export const EXIT_AUTH = 5; // wrong or missing passphrase, untrusted key
export const EXIT_NOT_FOUND = 6; // unknown device, key or file
export const EXIT_REFUSED = 7; // refused by policy: over cap, revoked, declined payment

export class WalletError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = "WalletError";
  }
}

export const usageError = (msg: string) => new WalletError(`usage: ${msg}`, EXIT_USAGE);
export const dataError = (msg: string) => new WalletError(msg, EXIT_DATA);
export const authError = (msg: string) => new WalletError(msg, EXIT_AUTH);
export const notFound = (msg: string) => new WalletError(msg, EXIT_NOT_FOUND);
export const deviceError = (msg: string) => new WalletError(msg, EXIT_DEVICE);
export const refused = (msg: string) => new WalletError(msg, EXIT_REFUSED);
