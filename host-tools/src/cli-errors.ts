// Turns any error into the one line and exit code the `wallet` CLI prints (errors.ts,
// host-tools/README.md "exit codes"). Expected failures that do not start as a
// WalletError are recognised here, in one place: status words (ApduError, worded by
// refusals.ts), malformed documents (FormatError), SQLite's storage failures (SqliteError
// codes) and the file system's (errno codes). Anything else is a bug: exit 1 with a stack.
import { ApduError } from "../../protocol/src/sw.ts";
import { FormatError } from "../../protocol/src/errors.ts";
import { dataError, EXIT_DEVICE, EXIT_INTERNAL, notFound, sqliteStorageText, storageError, WalletError } from "./errors.ts";
import { refusalHint } from "./refusals.ts";

const FS_STORAGE: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "read-only file system",
  ENOSPC: "the disk is full",
  EDQUOT: "disk quota exceeded",
  EIO: "I/O error",
};

/** The WalletError the CLI prints for `e` (exit 1, with the stack, for bugs only). */
export function cliError(e: unknown): WalletError {
  if (e instanceof WalletError) return e;
  if (e instanceof ApduError) {
    const hint = refusalHint(e.sw);
    return new WalletError(hint ? `${e.message}: ${hint}` : `${e.message} (see \`wallet devices show\` or retry the tap)`, EXIT_DEVICE);
  }
  if (e instanceof FormatError) return dataError(e.message);
  const err = e as NodeJS.ErrnoException & { name?: string };
  if (err && typeof err.code === "string") {
    if (err.name === "SqliteError") {
      const t = sqliteStorageText(err.code, "database");
      if (t) return storageError(t);
      if (err.code === "SQLITE_NOTADB" || err.code.startsWith("SQLITE_CORRUPT")) return dataError(`database is damaged or not a database (${err.code}): ${err.message}`);
    }
    const path = err.path ? ` ${err.path}` : "";
    if (FS_STORAGE[err.code]) return storageError(`cannot ${err.syscall ?? "write"}${path}: ${FS_STORAGE[err.code]} (${err.code})`);
    if (err.code === "ENOENT") return notFound(`${path.trim() || "file"} not found (${err.syscall ?? "open"}: its directory must exist)`);
    if (err.code === "EISDIR" || err.code === "ENOTDIR") return notFound(`${path.trim()}: ${err.code === "EISDIR" ? "is a directory" : "a part of the path is not a directory"}`);
  }
  return new WalletError(`internal error: ${(e as Error)?.stack ?? e}`, EXIT_INTERNAL);
}
