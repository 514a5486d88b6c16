// What the flows' tests expect of a failure: a WalletError (one line and an exit code,
// host-tools/src/errors.ts), never a stray exception.
import { expect } from "vitest";
import { EXIT_REFUSED, WalletError } from "../../host-tools/src/errors.ts";

/** The WalletError `p` rejects with (fails the test if it resolves or throws something else). */
export async function walletFailure(p: Promise<unknown>): Promise<WalletError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(WalletError);
    return e as WalletError;
  }
  throw new Error("expected a failure");
}

/** The message of a refusal by policy (exit 7). */
export async function refusal(p: Promise<unknown>): Promise<string> {
  const e = await walletFailure(p);
  expect(e.exitCode).toBe(EXIT_REFUSED);
  return e.message;
}
