// Holds a write transaction on a ledger for a while, as a second `wallet` process busy
// with a long import would (test/host-cli-storage.test.ts). Run:
//   node --import tsx test/support/ledger-holder.ts LEDGER MS
// prints "holding <pid>" once it has the lock, commits after MS milliseconds.
import { SqliteLedger } from "../../host-tools/src/ledger/sqlite.ts";

const [path, ms] = process.argv.slice(2);
const l = SqliteLedger.open(path);
await l.transaction(async () => {
  await l.audit("test-hold", { pid: process.pid });
  process.stdout.write(`holding ${process.pid}\n`);
  await new Promise((r) => setTimeout(r, Number(ms)));
});
await l.close();
