// Turns any error into the one line and exit code the `wallet` CLI prints (errors.ts,
// host-tools/README.md "exit codes"). Expected failures that do not start as a
// WalletError are recognised here, in one place: status words (ApduError, worded by
// refusals.ts), malformed documents (FormatError), SQLite's storage failures (SqliteError
// codes) and the file system's (errno codes). Anything else is a bug: exit 1 with a stack.
import { ApduError } from "../../protocol/src/sw.ts";
import { FormatError } from "../../protocol/src/errors.ts";
import { dataError, EXIT_DEVICE, EXIT_INTERNAL, EXIT_REFUSED, notFound, sqliteStorageText, storageError, WalletError } from "./errors.ts";
import { REASON_TEXT, reasonByName, refusalHint } from "./refusals.ts";
import { reasonName } from "./flows.ts";

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
  if (e instanceof WalletError) {
    // "declined by the device: PAY: 6985 … (REASON_SYNC_OVERDUE)": add what to do next
    const named = /\((REASON_\w+)\)/.exec(e.message)?.[1];
    const hint = named ? REASON_TEXT[reasonByName(named) ?? -1] : undefined;
    return hint && !e.message.endsWith(hint) ? new WalletError(`${e.message}: ${hint}`, e.exitCode) : e;
  }
  if (e instanceof ApduError) {
    const reason = (e as ApduError & { reason?: number }).reason;
    const hint = refusalHint(e.sw, reason);
    const msg = `${e.message}${reason ? ` (${reasonName(reason)})` : ""}`;
    // a refusal the device explains with a REASON_* is a policy refusal (README: exit 7)
    return new WalletError(hint ? `${msg}: ${hint}` : `${msg} (see \`wallet devices show\` or retry the tap)`, reason ? EXIT_REFUSED : EXIT_DEVICE);
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
