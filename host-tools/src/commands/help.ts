// What every option of the `wallet` CLI means, with its unit and default (`--help`).
// One table for the options shared by several commands; a command whose option means
// something of its own says so in its `optionHelp`. A test checks that no option lacks one.
import { CHANNEL_HELP } from "./channel-options.ts";
import { RANGES } from "./numbers.ts";

const range = (r: { min: number; max: number }) => `${r.min} to ${r.max}`;

export const OPTION_HELP: Record<string, string> = {
  // global
  json: "print the result (or the error) as one JSON document on stdout",
  help: "show this help",
  version: "print the version of host-tools",
  home: "directory with the keystore, ledger and POS outbox (default $WALLET_HOME, else ./wallet-data)",
  keystore: "issuer keystore file (default HOME/keystore.json, or $WALLET_KEYSTORE)",
  ledger: "ledger: a SQLite file (default HOME/ledger.sqlite) or a PostgreSQL URL postgres://user@host:port/db (or $WALLET_LEDGER)",
  trace: "print every APDU and response, with the status word's name and the time, on stderr",
  // devices
  ...CHANNEL_HELP,
  // limits (amounts in currency units with two decimals; counts and seconds whole numbers)
  cap: "maximum offline balance, an amount like 1000.00 (default 1000.00)",
  "max-payment": "maximum amount of one payment, like 200.00 (default 200.00; not above the cap)",
  "no-cvm": "payments above this amount need the PIN or a button press, like 50.00 (default 50.00)",
  "max-count": `payments allowed between two syncs, ${range(RANGES.count)} (default 50)`,
  "max-amount": "total paid allowed between two syncs, an amount like 1000.00 (default 1000.00)",
  "sync-interval": `seconds after the last sync before payments are refused, ${range(RANGES.seconds)}; 0 = no deadline (default 604800, 7 days)`,
  // personalization
  account: "account number the device is issued for (the ledger keeps it; the device gets a token)",
  suite: "crypto suite: sm2 (SM2/SM3/SM4) or p256 (P-256/SHA-256/AES-128) (default p256)",
  form: "form factor: card, band or watch (default card)",
  pin: "PIN, 4 to 8 digits (personalize: default a random 6-digit PIN, written to the PIN mailer)",
  alias: "a name for the device in the ledger (e.g. alice)",
  currency: `ISO 4217 currency: the numeric code (${range(RANGES.currency)}) or the letters, e.g. 156 or CNY (default 156, CNY)`,
  "pin-mailer": "CSV file the PINs and PUKs are appended to, mode 0600 (default BATCH.pins.csv, or HOME/pin-mailer.csv)",
  report: "write the batch report (one JSON document) to this file",
  state: "batch state file: finished rows, for a re-run (default BATCH.state.json)",
  // POS
  merchant: "merchant (payee) id, 16 hex digits",
  trust: "trusted issuer keys file, written by `wallet issuer export-public --out FILE`",
  terminal: "terminal name in the export (default pos-1)",
  outbox: "POS outbox database file (default HOME/pos-outbox.sqlite)",
  puk: "the device's PUK (unblocking key), 4 to 8 digits: in the PIN mailer",
  "new-pin": "the new PIN, 4 to 8 digits (default: the PIN stays as it was)",
  // others
  force: "replace an existing keystore (its keys are lost)",
  out: "output file",
  from: "payer device: reader:NAME | hid:udp:HOST:PORT | serial:PATH | sim:IMAGE[,PROFILE]",
  to: "payee device, same forms as --from",
  workers: `worker threads that verify signatures, ${range(RANGES.workers)} (default: one per core for a large import, none for a small one)`,
  clear: "remove the alias",
};
