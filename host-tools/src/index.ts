// host-tools' public surface (DESIGN.md §6, README "The `wallet` CLI"): the library behind
// the `wallet` CLI, for the benches and any other program that drives devices and a ledger
// the way the CLI does. Everything else in host-tools/src is internal, and
// test/structure.test.ts fails on an import from another part that reaches past this file.
//   channels   Channel and its PC/SC, HID, serial and in-process implementations, openSpec
//   flows      personalize, load, POS charge and recovery, transfer, sync
//   keys       the issuer keystore, suite signatures
//   ledger     the Ledger interface, SqliteLedger, reconciliation, the POS outbox
export { TracingChannel, type Channel } from "./channels/channel.ts";
export { openSpec, withChannel, type OpenOptions } from "./channels/index.ts";
export { PcscChannel } from "./channels/pcsc.ts";
export { HidChannel } from "./channels/hid.ts";
export { SerialChannel } from "./channels/serial.ts";
export { SimChannel } from "./channels/sim.ts";
export {
  load, personalize, posCharge, posRecover, sync, transfer,
  type ChargeResult, type LoadResult, type PersonalizeRequest, type PersonalizeResult, type PosConfig, type PosJournal, type PosPayment, type SyncResult, type TransferResult,
} from "./flows.ts";
export { Keystore, type IssuerKeyPublic } from "./keystore.ts";
export { generateKeyPair, keyId, verifyP256OpenSsl, type KeyPair, type SuiteName } from "./sig.ts";
export { hex } from "./docs.ts";
export type { DeviceRecord, FormFactor, Ledger, Limits } from "./ledger/ledger.ts";
export { SqliteLedger } from "./ledger/sqlite.ts";
/** The PostgreSQL ledger, loaded on demand (its client library is imported only there). */
export const loadPostgresLedger = () => import("./ledger/postgres.ts");
export { FIRMWARE_PATH, HOST_VERIFIER_PATH, WasmVerifier, type SignedItem } from "./wasm-verifier.ts";
export { POS_EXPORT_FORMAT, reconcile, type ReconcileResult } from "./reconcile.ts";
export { PosOutbox } from "./pos-outbox.ts";
export { CURRENCY_CNY, DEFAULT_LIMITS, PaperDevice, type RawSigner } from "./synthetic.ts";
