// Opens the PC/SC channel where it must fail (a reader that does not exist, an index out of
// range, an empty reader), catches each error and returns WITHOUT process.exit: the
// process must then end by itself. Before every reader object was closed on open's error
// path, pcsclite's threads kept it alive forever (test/integration/host-cli-exit.test.ts).
//   node --import tsx test/support/pcsc-open-fail.ts READER
import { PcscChannel, listReaders } from "../../host-tools/src/channels/pcsc.ts";

const reader = process.argv[2];
for (const spec of ["Virtual PCD 00 07", "9", reader]) {
  const e = await PcscChannel.open({ reader: spec, waitMs: 500 }).then(
    async (ch) => (await ch.close(), new Error("opened")),
    (e: Error) => e,
  );
  process.stdout.write(`${spec}: ${e.message}\n`);
}
process.stdout.write(`readers: ${(await listReaders()).join(", ")}\n`);
process.stdout.write("done\n");
