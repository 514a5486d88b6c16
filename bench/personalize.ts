// bench:personalize (issue 6 "Speed"): `npm run bench:personalize [-- --json] [--cards 20]`.
// Cards per minute personalized through real pcscd + vpcd (the rig's private pcscd with
// the TCP_NODELAY fix): each card is inserted into the reader, found by a fresh PC/SC
// connection, taken through the whole flow (SCP03 with GP default keys, PUT KEY with
// diversified keys, identity, limits, issuer keys, on-card key generation, certificate,
// PIN, PUK, FINALIZE, ledger write), and removed — beside the same flow in-process.
// Refuses (one line) when the rig's ports are busy, e.g. while the integration tests run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { prepareRig, rigDir, startPcscd, VPCD_DEFAULT_PORT, vpcdReaderName } from "../test/rig/rig.ts";
import { Fleet } from "../wearable-sim/src/fleet.ts";
import { PcscChannel } from "../host-tools/src/channels/pcsc.ts";
import { Device, SimChannel } from "../host-tools/src/channels/sim.ts";
import { personalize, type PersonalizeRequest } from "../host-tools/src/flows.ts";
import { Keystore } from "../host-tools/src/keystore.ts";
import { SqliteLedger } from "../host-tools/src/ledger/sqlite.ts";
import { CURRENCY_CNY, DEFAULT_LIMITS } from "../host-tools/src/synthetic.ts";
import { arg, stats } from "./host-bench-util.ts";

const JSON_OUT = process.argv.includes("--json");
const CARDS = arg("--cards", 20);
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
    const d = new Device({ profile: "card", seed: `bench-perso-local-${i}` });
    d.powerOn();
    await personalize(new SimChannel(d), ks, ledger, req(i));
    tl.push(performance.now() - t);
  }
  const portBase = Number(process.env.WALLET_RIG_VPCD_PORT) || VPCD_DEFAULT_PORT;
  prepareRig((s) => log(s));
  const pcscd = await startPcscd({ dir: rigDir("bench-personalize"), nodelay: true, portBase });
  Object.assign(process.env, pcscd.env);
  const fleet = new Fleet({ seed: "bench-perso", vpcdBasePort: portBase });
  const tp: number[] = [];
  let wallMs = 0;
  try {
    await fleet.start({ profile: "card", count: CARDS, name: "c", transport: "pcsc" });
    log(`through pcscd + vpcd: ${CARDS} cards…`);
    const t0 = performance.now();
    for (let i = 0; i < CARDS; i++) {
      await fleet.tap(`c${i}`, 0);
      const t = performance.now();
      const ch = await PcscChannel.open({ reader: vpcdReaderName(0) });
      try {
        await personalize(ch, ks, ledger, req(CARDS + i));
      } finally {
        await ch.close();
      }
      tp.push(performance.now() - t);
      await fleet.remove(`c${i}`);
    }
    wallMs = performance.now() - t0;
  } finally {
    await fleet.stop();
    await pcscd.stop();
  }
  const pc = stats(tp);
  const ip = stats(tl);
  const r = {
    cards: CARDS, pcsc: { ...pc, cardsPerMinute: Math.round((60_000 * CARDS) / wallMs) }, inProcess: { ...ip, cardsPerMinute: Math.round(60_000 / ip.meanMs) },
    ratio: +(pc.medianMs / ip.medianMs).toFixed(2),
  };
  if (JSON_OUT) process.stdout.write(JSON.stringify(r) + "\n");
  else {
    console.log(`bench:personalize — ${CARDS} cards (half P-256, half SM2), full flow incl. on-card key generation and ledger write`);
    console.log(`${"path".padEnd(16)} ${"median ms/card".padStart(15)} ${"p90".padStart(8)} ${"cards/min".padStart(10)}`);
    console.log(`${"pcscd + vpcd".padEnd(16)} ${pc.medianMs.toFixed(1).padStart(15)} ${pc.p90Ms.toFixed(1).padStart(8)} ${String(r.pcsc.cardsPerMinute).padStart(10)}  (insert → connect → personalize → remove)`);
    console.log(`${"in-process".padEnd(16)} ${ip.medianMs.toFixed(1).padStart(15)} ${ip.p90Ms.toFixed(1).padStart(8)} ${String(r.inProcess.cardsPerMinute).padStart(10)}`);
    console.log(`ratio pcsc / in-process: ${r.ratio}x`);
  }
} finally {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
}
