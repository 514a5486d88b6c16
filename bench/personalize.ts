// bench:personalize (README "Benchmarks"): `npm run bench:personalize [-- --json] [--cards 20]`.
// Cards per minute personalized through real pcscd + vpcd (the rig's private pcscd with
// the TCP_NODELAY fix): each card is inserted into the reader, found by a fresh PC/SC
// connection, taken through the whole flow (SCP03 with GP default keys, PUT KEY with
// diversified keys, identity, limits, issuer keys, on-card key generation, certificate,
// PIN, PUK, FINALIZE, ledger write), and removed — beside the same flow in-process.
// With 1, 2 and 4 readers at once (`wallet personalize BATCH --reader … --reader …`): cards/min
// and the speedup over one reader (`--readers N` caps the largest count, `--cards N` per run).
// Refuses (one line) when the rig's ports are busy, e.g. while the integration tests run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { prepareRig, rigDir, startPcscd, VPCD_DEFAULT_PORT, vpcdReaderName } from "../test/rig/rig.ts";
import { createDevice, Fleet } from "offline-wallet/wearable-sim";
import { CURRENCY_CNY, DEFAULT_LIMITS, Keystore, PcscChannel, personalize, SimChannel, SqliteLedger, type PersonalizeRequest } from "offline-wallet/host-tools";
import { arg, stats } from "./host-bench-util.ts";

const JSON_OUT = process.argv.includes("--json");
const CARDS = arg("--cards", 20);
/** reader counts to measure: `--readers 4` measures 1, 2 and 4 */
const READERS = [1, 2, 4].filter((n) => n <= arg("--readers", 4));
const log = (s: string) => JSON_OUT || process.stderr.write(s + "\n");
const dir = mkdtempSync(join(tmpdir(), "bench-perso-"));
const ks = Keystore.create(join(dir, "ks.json"), "bench passphrase");
const ledger = SqliteLedger.open(join(dir, "ledger.sqlite"));
const req = (i: number): PersonalizeRequest => ({ account: `acct-${i}`, suite: i % 2 ? "sm2" : "p256", formFactor: "card", currency: CURRENCY_CNY, limits: DEFAULT_LIMITS, pin: "1234" });

try {
  log("in-process…");
  const tl: number[] = [];
  for (let i = 0; i < CARDS; i++) {
    const t = performance.now();
    const d = createDevice({ profile: "card", seed: `bench-perso-local-${i}` });
    d.powerOn();
    await personalize(new SimChannel(d), ks, ledger, req(i));
    tl.push(performance.now() - t);
  }
  const portBase = Number(process.env.WALLET_RIG_VPCD_PORT) || VPCD_DEFAULT_PORT;
  prepareRig((s) => log(s));
  // four vpcd readers (two reader.conf entries): "Virtual PCD 00 00/00 01/01 00/01 01"
  const pcscd = await startPcscd({ dir: rigDir("bench-personalize"), nodelay: true, portBase, slots: Math.max(...READERS) });
  Object.assign(process.env, pcscd.env);
  const runs: { readers: number; cards: number; wallMs: number; cardsPerMinute: number; perCard: ReturnType<typeof stats> }[] = [];
  let serial = 0;
  try {
    for (const nReaders of READERS) {
      // what `wallet personalize BATCH --reader … --reader …` does: one station per reader,
      // each taking the next card; per card: insert, detect + connect (a fresh PC/SC
      // context), the whole flow, remove
      const fleet = new Fleet({ seed: `bench-perso-${nReaders}`, vpcdBasePort: portBase });
      const tp: number[] = [];
      let next = 0;
      let wallMs = 0;
      try {
        await fleet.start({ profile: "card", count: CARDS, name: "c", transport: "pcsc" });
        log(`through pcscd + vpcd, ${nReaders} reader(s): ${CARDS} cards…`);
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: nReaders }, async (_, slot) => {
            while (next < CARDS) {
              const i = next++;
              await fleet.tap(`c${i}`, slot);
              const t = performance.now();
              const ch = await PcscChannel.open({ reader: vpcdReaderName(slot) });
              try {
                await personalize(ch, ks, ledger, req(CARDS + serial++));
              } finally {
                await ch.close();
              }
              tp.push(performance.now() - t);
              await fleet.remove(`c${i}`);
            }
          }),
        );
        wallMs = performance.now() - t0;
      } finally {
        await fleet.stop();
      }
      runs.push({ readers: nReaders, cards: CARDS, wallMs: Math.round(wallMs), cardsPerMinute: Math.round((60_000 * CARDS) / wallMs), perCard: stats(tp) });
    }
  } finally {
    await pcscd.stop();
  }
  const ip = stats(tl);
  const one = runs[0];
  const r = {
    cards: CARDS, pcsc: { ...one.perCard, cardsPerMinute: one.cardsPerMinute }, inProcess: { ...ip, cardsPerMinute: Math.round(60_000 / ip.meanMs) },
    ratio: +(one.perCard.medianMs / ip.medianMs).toFixed(2),
    readers: runs.map((x) => ({ readers: x.readers, cardsPerMinute: x.cardsPerMinute, wallMs: x.wallMs, medianMsPerCard: x.perCard.medianMs, speedup: +(x.cardsPerMinute / one.cardsPerMinute).toFixed(2) })),
  };
  if (JSON_OUT) process.stdout.write(JSON.stringify(r) + "\n");
  else {
    console.log(`bench:personalize — ${CARDS} cards per run (half P-256, half SM2), full flow incl. on-card key generation and ledger write`);
    console.log(`${"path".padEnd(22)} ${"median ms/card".padStart(15)} ${"p90".padStart(8)} ${"cards/min".padStart(10)} ${"speedup".padStart(8)}`);
    for (const x of runs)
      console.log(`${`pcscd + vpcd, ${x.readers} rdr`.padEnd(22)} ${x.perCard.medianMs.toFixed(1).padStart(15)} ${x.perCard.p90Ms.toFixed(1).padStart(8)} ${String(x.cardsPerMinute).padStart(10)} ${(x.cardsPerMinute / one.cardsPerMinute).toFixed(2).padStart(7)}x`);
    console.log(`${"in-process".padEnd(22)} ${ip.medianMs.toFixed(1).padStart(15)} ${ip.p90Ms.toFixed(1).padStart(8)} ${String(r.inProcess.cardsPerMinute).padStart(10)}`);
    console.log(`ratio pcsc (1 reader) / in-process: ${r.ratio}x. Per card: insert → detect + connect → personalize → remove; the simulated cards run in this process (its CPU is shared with the host side)`);
  }
} finally {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
}
