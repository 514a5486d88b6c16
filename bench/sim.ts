// wearable-sim speed (wearable-sim/README.md "Speed"), `npm run bench:sim [-- --json] [--n 300] [--cards 1000] [--no-pcsc]`.
// 1. PC/SC floor vs simulator: a bare VpcdCard answering 9000 at once and a simulated card
//    (real firmware.wasm) answering GET STATUS, both in the same private pcscd (the rig's,
//    with its TCP_NODELAY fix), measured alternately APDU by APDU so both see the same machine
//    state. Target: simulated ≤ 1.5x bare (median). The firmware's own in-process GET STATUS
//    time is printed beside them.
// 2. Scale: 1,000 simulated cards in this process: start time and memory per device, idle
//    (created, unpowered: no instance) and powered (instance + reset). Target: < 1 GiB.
// Refuses the PC/SC part (one line) when the rig's ports are busy, e.g. while tests run.
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { prepareRig, rigDir, startPcscd, VPCD_DEFAULT_PORT, vpcdReaderName } from "../test/rig/rig.ts";
import { PcscSession } from "../test/support/pcsc.ts";
import { createDevice, Fleet, VpcdCard } from "offline-wallet/wearable-sim";
import { GET_STATUS, SELECT_WALLET } from "offline-wallet/wearable-sim/test-fixtures/wallet-apdus.ts";

const GiB = 1024 ** 3;
const WARMUP = 10;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`bench: ${name} must be a positive integer`);
  return v;
}

interface Stats {
  n: number;
  medianMs: number;
  p90Ms: number;
  meanMs: number;
}

function stats(t: number[]): Stats {
  const s = [...t].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { n: s.length, medianMs: q(0.5), p90Ms: q(0.9), meanMs: s.reduce((a, b) => a + b, 0) / s.length };
}

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
function rss(): number {
  gc();
  gc();
  return process.memoryUsage().rss;
}

interface ScaleResult {
  cards: number;
  startMs: number;
  rssMiB: number;
  perDeviceKiB: number;
  underOneGiB: boolean;
}

async function scale(cards: number): Promise<{ idle: ScaleResult; powered: ScaleResult }> {
  const base = rss();
  const fleet = new Fleet({ seed: "bench" });
  let t0 = performance.now();
  const devices = await fleet.start({ profile: "card", count: cards });
  const idleMs = performance.now() - t0;
  const idleRss = rss() - base;
  t0 = performance.now();
  for (const d of devices) d.powerOn();
  const onMs = performance.now() - t0;
  const onRss = rss() - base;
  const r = (startMs: number, bytes: number): ScaleResult => ({
    cards,
    startMs,
    rssMiB: bytes / 1024 ** 2,
    perDeviceKiB: bytes / cards / 1024,
    underOneGiB: process.memoryUsage().rss < GiB,
  });
  const out = { idle: r(idleMs, idleRss), powered: r(idleMs + onMs, onRss) };
  await fleet.stop();
  return out;
}

interface PcscResult {
  bare: Stats;
  simulated: Stats;
  inProcess: Stats;
  ratio: number;
  target: number;
}

async function pcsc(n: number): Promise<PcscResult> {
  const portBase = Number(process.env.WALLET_RIG_VPCD_PORT) || VPCD_DEFAULT_PORT;
  prepareRig((s) => console.error(s));
  const pcscd = await startPcscd({ dir: rigDir("bench-sim"), nodelay: true, portBase });
  Object.assign(process.env, pcscd.env);
  const bare = new VpcdCard({ atr: () => Uint8Array.of(0x3b, 0x80, 0x80, 0x01, 0x01), apdu: () => Uint8Array.of(0x90, 0x00) }, { basePort: portBase });
  const fleet = new Fleet({ seed: "bench-pcsc", vpcdBasePort: portBase });
  const session = new PcscSession();
  try {
    const [device] = await fleet.start({ profile: "card", name: "sim" });
    const r0 = await session.waitReader(vpcdReaderName(0));
    const r1 = await session.waitReader(vpcdReaderName(1));
    await bare.connect(0);
    await fleet.tap("sim", 1);
    await session.waitPresent(r0);
    await session.waitPresent(r1);
    await session.connect(r0);
    await session.connect(r1);
    const sel = await session.transmit(r1, SELECT_WALLET);
    if (sel[sel.length - 2] !== 0x90) throw new Error(`bench: SELECT answered ${Buffer.from(sel).toString("hex")}`);
    const once = async (reader: string, apdu: Uint8Array) => {
      const t = performance.now();
      const r = await session.transmit(reader, apdu);
      const dt = performance.now() - t;
      if (r[r.length - 2] !== 0x90) throw new Error(`bench: ${reader} answered ${Buffer.from(r).toString("hex")}`);
      return dt;
    };
    for (let i = 0; i < WARMUP; i++) {
      await once(r0, SELECT_WALLET);
      await once(r1, GET_STATUS);
    }
    const tb: number[] = [];
    const ts: number[] = [];
    // strictly alternating, with the order flipped every other pair, so neither path
    // systematically runs right after the other's wake-ups
    for (let i = 0; i < n; i++) {
      if (i % 2) {
        tb.push(await once(r0, SELECT_WALLET));
        ts.push(await once(r1, GET_STATUS));
      } else {
        ts.push(await once(r1, GET_STATUS));
        tb.push(await once(r0, SELECT_WALLET));
      }
    }
    await session.disconnect(r0);
    await session.disconnect(r1);
    // the firmware's share: the same command in process, no transport
    const local = createDevice({ profile: "card", seed: "bench-local" });
    local.powerOn();
    local.transmit(SELECT_WALLET);
    const tl: number[] = [];
    for (let i = 0; i < WARMUP + n; i++) {
      const t = performance.now();
      local.transmit(GET_STATUS);
      if (i >= WARMUP) tl.push(performance.now() - t);
    }
    if (device.aborts) throw new Error("bench: the simulated card aborted");
    const b = stats(tb);
    const s = stats(ts);
    return { bare: b, simulated: s, inProcess: stats(tl), ratio: s.medianMs / b.medianMs, target: 1.5 };
  } finally {
    session.close();
    await bare.close();
    await fleet.stop();
    await pcscd.stop();
  }
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const n = arg("--n", 300);
  const cards = arg("--cards", 1000);
  const scaleResult = await scale(cards);
  let pcscResult: PcscResult | { skipped: string };
  if (process.argv.includes("--no-pcsc")) pcscResult = { skipped: "--no-pcsc" };
  else {
    try {
      pcscResult = await pcsc(n);
    } catch (e) {
      pcscResult = { skipped: (e as Error).message.split("\n")[0] };
    }
  }
  if (json) {
    console.log(JSON.stringify({ bench: "sim", pcsc: pcscResult, scale: scaleResult }, null, 2));
    return;
  }
  const f = (x: number) => x.toFixed(3).padStart(9);
  console.log("PC/SC round trip per APDU through the rig's pcscd (median / p90 / mean, ms)");
  if ("skipped" in pcscResult) console.log(`  skipped: ${pcscResult.skipped}`);
  else {
    const p = pcscResult;
    console.log(`${"path".padEnd(44)} ${"APDUs".padStart(6)} ${"median".padStart(9)} ${"p90".padStart(9)} ${"mean".padStart(9)}`);
    const row = (name: string, s: Stats) => console.log(`${name.padEnd(44)} ${String(s.n).padStart(6)} ${f(s.medianMs)} ${f(s.p90Ms)} ${f(s.meanMs)}`);
    row("bare VpcdCard (answers 9000 at once)", p.bare);
    row("simulated card, real firmware, GET STATUS", p.simulated);
    row("  of which firmware in process (no PC/SC)", p.inProcess);
    console.log(`ratio simulated / bare (median): ${p.ratio.toFixed(2)}x (target <= ${p.target}x: ${p.ratio <= p.target ? "met" : "NOT met"})`);
  }
  console.log(`\nScale: ${cards} simulated cards in one process`);
  console.log(`${"state".padEnd(32)} ${"start ms".padStart(10)} ${"RSS MiB".padStart(9)} ${"KiB/device".padStart(11)}  < 1 GiB`);
  for (const [name, s] of [["idle (created, unpowered)", scaleResult.idle], ["powered (instance + reset)", scaleResult.powered]] as const)
    console.log(`${name.padEnd(32)} ${s.startMs.toFixed(0).padStart(10)} ${s.rssMiB.toFixed(1).padStart(9)} ${s.perDeviceKiB.toFixed(1).padStart(11)}  ${s.underOneGiB ? "yes" : "NO"}`);
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(e.message.split("\n")[0]);
    process.exit(1);
  },
);
