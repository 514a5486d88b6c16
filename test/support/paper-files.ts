// Paper devices' traffic as the files reconciliation reads (SPEC §5.11), and a ledger on a
// backend that trusts the test issuers: shared by the reconciliation and archive suites.
import { hex, type Signer } from "../../host-tools/src/docs.ts";
import { DEVICE_LOG_FORMAT, parseInput, POS_EXPORT_FORMAT, type InputFile } from "../../host-tools/src/reconcile.ts";
import { generateKeyPair, keyId, type SuiteName } from "../../host-tools/src/sig.ts";
import { PaperDevice as Paper, type PaperDevice } from "../../host-tools/src/synthetic.ts";
import type { AnyLedger, Backend } from "./ledger-backends.ts";

let n = 0;

/** A test issuer CA key that signs in memory. */
export function issuer(suite: SuiteName): Signer {
  const key = generateKeyPair(suite);
  return { suite, key, kid: keyId(key.pub) };
}

/** A POS export of `merchant` holding `coses` (a new file name each time). */
export function posFile(merchant: Uint8Array, coses: Uint8Array[], terminal = "t1"): InputFile {
  const name = `pos-${++n}.json`;
  const text = JSON.stringify({ format: POS_EXPORT_FORMAT, version: 1, terminal, merchant: hex(merchant), exportedAt: "x", vouchers: coses.map((c) => ({ cose: hex(c), receivedAt: "x" })) });
  return parseInput(name, text);
}

/** A device log of `d` holding `coses` (vouchers and receipts). */
export function logFile(d: PaperDevice, coses: Uint8Array[]): InputFile {
  return parseInput(`log-${++n}.json`, JSON.stringify({ format: DEVICE_LOG_FORMAT, version: 1, deviceId: d.id, readAt: "x", entries: coses.map(hex) }));
}

/** A fresh ledger on `backend` trusting `issuers` (active) with `devs` registered. */
export async function ledgerWith(backend: Backend, issuers: Signer[], devs: PaperDevice[]): Promise<AnyLedger> {
  const l = await backend.fresh();
  await l.putIssuerKeys(issuers.map((s) => ({ kid: hex(s.kid), suite: s.suite, pub: hex(s.key!.pub), status: "active" })));
  for (const d of devs) await l.putDevice(d.record());
  return l;
}

/** The suites' usual three devices: a P-256 card, a P-256 band and an SM2 watch. */
export function threeDevices(p256: Signer, sm2: Signer): { a: PaperDevice; b: PaperDevice; s: PaperDevice } {
  return { a: Paper.create(p256), b: Paper.create(p256, { formFactor: "band" }), s: Paper.create(sm2, { suite: "sm2", formFactor: "watch" }) };
}
