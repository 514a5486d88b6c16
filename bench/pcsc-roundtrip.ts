// PC/SC round trip per APDU through the real stack (README "Benchmarks"; TRAPS.md "PC/SC"): pcsclite →
// libpcsclite → pcscd → vsmartcard-vpcd → TCP → VpcdCard answering 9000 at once.
// Runs a private pcscd twice, one after the other: with the TCP_NODELAY shim (the rig's
// Nagle fix, scripts/rig/tcp-nodelay.c) and without it, and prints median / p90 per APDU
// for both and their ratio. `npm run bench:pcsc [-- --json] [--n 200] [--n-nagle 40]`.
// Refuses (one line, exit 1) when the vpcd ports or the rig's directory are busy, for
// example while the integration tests run.
import { performance } from "node:perf_hooks";
import { prepareRig, rigDir, startPcscd, VPCD_DEFAULT_PORT, vpcdReaderName } from "../test/rig/rig.ts";
import { PcscSession } from "../test/support/pcsc.ts";
import { VpcdCard } from "offline-wallet/wearable-sim";

interface Result {
  mode: "TCP_NODELAY fix" | "no fix (Nagle)";
  apdus: number;
  medianMs: number;
  p90Ms: number;
  meanMs: number;
  minMs: number;
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`bench: ${name} must be a positive integer`);
  return v;
}

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

const SELECT = Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x05, 0xa0, 0x00, 0x00, 0x00, 0x01);
const WARMUP = 5;

async function measure(nodelay: boolean, n: number, portBase: number): Promise<Result> {
  const pcscd = await startPcscd({ dir: rigDir("bench"), nodelay, portBase });
  // libpcsclite reads this once per process; both runs share the bench's socket path
  Object.assign(process.env, pcscd.env);
  const card = new VpcdCard({ atr: () => Uint8Array.of(0x3b, 0x80, 0x80, 0x01, 0x01), apdu: () => Uint8Array.of(0x90, 0x00) }, { basePort: portBase });
  const pcsc = new PcscSession();
  try {
    const reader = await pcsc.waitReader(vpcdReaderName(0));
    await card.connect(0);
    await pcsc.waitPresent(reader);
    await pcsc.connect(reader);
    for (let i = 0; i < WARMUP; i++) await pcsc.transmit(reader, SELECT);
    const t: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = await pcsc.transmit(reader, SELECT);
      t.push(performance.now() - t0);
      if (r.length !== 2 || r[0] !== 0x90) throw new Error(`bench: unexpected response ${Buffer.from(r).toString("hex")}`);
    }
    await pcsc.disconnect(reader);
    t.sort((a, b) => a - b);
    return {
      mode: nodelay ? "TCP_NODELAY fix" : "no fix (Nagle)",
      apdus: n,
      medianMs: quantile(t, 0.5),
      p90Ms: quantile(t, 0.9),
      meanMs: t.reduce((a, b) => a + b, 0) / n,
      minMs: t[0],
    };
  } finally {
    pcsc.close();
    await card.close();
    await pcscd.stop();
  }
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const nFix = arg("--n", 200);
  const nNagle = arg("--n-nagle", 40);
  const portBase = Number(process.env.WALLET_RIG_VPCD_PORT) || VPCD_DEFAULT_PORT;
  prepareRig((s) => console.error(s));
  const results = [await measure(true, nFix, portBase), await measure(false, nNagle, portBase)];
  const ratio = results[1].medianMs / results[0].medianMs;
  if (json) {
    console.log(JSON.stringify({ bench: "pcsc-roundtrip", results, ratioMedian: ratio }, null, 2));
    return;
  }
  const f = (x: number) => x.toFixed(3).padStart(9);
  console.log("PC/SC round trip per APDU (pcsclite → pcscd → vpcd → VpcdCard, SELECT → 9000)");
  console.log(`${"mode".padEnd(18)} ${"APDUs".padStart(6)} ${"median ms".padStart(9)} ${"p90 ms".padStart(9)} ${"mean ms".padStart(9)} ${"min ms".padStart(9)}`);
  for (const r of results) console.log(`${r.mode.padEnd(18)} ${String(r.apdus).padStart(6)} ${f(r.medianMs)} ${f(r.p90Ms)} ${f(r.meanMs)} ${f(r.minMs)}`);
  console.log(`ratio (median, no fix / fix): ${ratio.toFixed(1)}x`);
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(e.message.split("\n")[0]);
    process.exit(1);
  },
);
