// bench:tap (README "Benchmarks"): `npm run bench:tap [-- --json] [--n 50]`. The full POS
// payment — SELECT, GET STATUS, GET CERTIFICATE, [VERIFY], PAY, offline verification of
// certificate chain and voucher, outbox write (SQLite, synchronous=FULL) — through real
// pcscd + vpcd (the rig's private pcscd with the TCP_NODELAY fix) beside the very same
// flow in-process, median and p90 of each, their ratio, and our figure against the EMV
// contactless budget of about 500 ms for the whole card interaction.
// Refuses (one line) when the rig's ports are busy, e.g. while the integration tests run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { prepareRig, rigDir, startPcscd, VPCD_DEFAULT_PORT, vpcdReaderName } from "../test/rig/rig.ts";
import { createDevice, Fleet } from "offline-wallet/wearable-sim";
import { CURRENCY_CNY, DEFAULT_LIMITS, Keystore, load, PcscChannel, personalize, posCharge, PosOutbox, SimChannel, SqliteLedger, type Channel, type PosConfig } from "offline-wallet/host-tools";
import { stats, type Stats, arg } from "./host-bench-util.ts";

const JSON_OUT = process.argv.includes("--json");
const N = arg("--n", 50);
const EMV_BUDGET_MS = 500;
const log = (s: string) => JSON_OUT || process.stderr.write(s + "\n");

const dir = mkdtempSync(join(tmpdir(), "bench-tap-"));
const ks = Keystore.create(join(dir, "ks.json"), "bench passphrase");
const ledger = SqliteLedger.open(join(dir, "ledger.sqlite"));
const box = PosOutbox.open(join(dir, "pos.sqlite"));
box.configure({ merchant: "00000000000000b1", terminal: "bench", currency: CURRENCY_CNY, trusted: ks.keys(), revoked: [], revocationVersion: 0 });
const cfg: PosConfig = box.config();
const limits = { ...DEFAULT_LIMITS, maxCountSinceSync: 10_000, maxAmountSinceSync: 0xffffffff };

async function taps(ch: Channel, n: number): Promise<Stats> {
  await personalize(ch, ks, ledger, { account: `bench-${Math.random()}`, suite: "p256", formFactor: "card", currency: CURRENCY_CNY, limits });
  await load(ch, ks, ledger, 100_000);
  const t: number[] = [];
  for (let i = 0; i < n + 3; i++) {
    const t0 = performance.now();
    await posCharge(ch, cfg, 10, { store: (p) => box.store(p) });
    if (i >= 3) t.push(performance.now() - t0); // 3 warm-up taps
  }
  return stats(t);
}

try {
  log("in-process…");
  const local = createDevice({ profile: "card", seed: "bench-tap-local" });
  local.powerOn();
  const inProcess = await taps(new SimChannel(local), N);
  const portBase = Number(process.env.WALLET_RIG_VPCD_PORT) || VPCD_DEFAULT_PORT;
  prepareRig((s) => log(s));
  const pcscd = await startPcscd({ dir: rigDir("bench-tap"), nodelay: true, portBase });
  Object.assign(process.env, pcscd.env);
  const fleet = new Fleet({ seed: "bench-tap", vpcdBasePort: portBase });
  let viaPcsc: Stats;
  let connectMs: number;
  try {
    await fleet.start({ profile: "card", name: "card", transport: "pcsc" });
    await fleet.tap("card", 0);
    log("through pcscd + vpcd…");
    const t0 = performance.now();
    const ch = await PcscChannel.open({ reader: vpcdReaderName(0) });
    connectMs = performance.now() - t0;
    try {
      viaPcsc = await taps(ch, N);
    } finally {
      await ch.close();
    }
  } finally {
    await fleet.stop();
    await pcscd.stop();
  }
  const r = {
    taps: N, pcsc: viaPcsc, inProcess, ratio: +(viaPcsc.medianMs / inProcess.medianMs).toFixed(2),
    pcscConnectMs: +connectMs.toFixed(1), emvBudgetMs: EMV_BUDGET_MS, shareOfEmvBudget: +(viaPcsc.medianMs / EMV_BUDGET_MS).toFixed(3),
  };
  if (JSON_OUT) process.stdout.write(JSON.stringify(r) + "\n");
  else {
    console.log(`bench:tap — full POS payment (SELECT, GET STATUS, GET CERTIFICATE, PAY, offline verification, outbox write), ${N} taps`);
    console.log(`${"path".padEnd(24)} ${"median ms".padStart(10)} ${"p90 ms".padStart(10)}`);
    console.log(`${"pcscd + vpcd".padEnd(24)} ${viaPcsc.medianMs.toFixed(2).padStart(10)} ${viaPcsc.p90Ms.toFixed(2).padStart(10)}`);
    console.log(`${"in-process".padEnd(24)} ${inProcess.medianMs.toFixed(2).padStart(10)} ${inProcess.p90Ms.toFixed(2).padStart(10)}`);
    console.log(`ratio pcsc / in-process: ${r.ratio}x; card detection + connect ${r.pcscConnectMs} ms; EMV budget ${EMV_BUDGET_MS} ms: we use ${(r.shareOfEmvBudget * 100).toFixed(1)}%`);
  }
} finally {
  box.close();
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
}
