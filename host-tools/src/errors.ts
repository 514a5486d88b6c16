// Host-tools errors and exit codes (DESIGN.md §6; README "The `wallet` CLI": exit codes): every expected failure is a
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
export const EXIT_STORAGE = 8; // files cannot be written: read-only, disk full, ledger locked by another process

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
export const storageError = (msg: string) => new WalletError(msg, EXIT_STORAGE);

/**
 * SQLite result codes (sqlite.org/rescode.html) that mean "the storage", not "the data":
 * the one line for them, naming `what` ("ledger /x/ledger.sqlite"); undefined for others.
 */
export function sqliteStorageText(code: string, what: string): string | undefined {
  if (code === "SQLITE_FULL") return `${what}: the disk is full (SQLITE_FULL); free some space and run the command again`;
  if (code.startsWith("SQLITE_READONLY")) return `${what} is read-only (${code}); check the permissions and the mount of its directory`;
  if (code.startsWith("SQLITE_CANTOPEN")) return `${what} cannot be opened (${code}); does its directory exist and is it writable?`;
  if (code.startsWith("SQLITE_IOERR")) return `${what}: I/O error (${code}); check the disk`;
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return `${what} is locked by another process (${code}); retry when it has finished`;
  return undefined;
}
