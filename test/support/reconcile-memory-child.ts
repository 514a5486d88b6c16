// Child of test/host-exchange-stream.test.ts (SPEC §5.11 "Reading"): writes a POS export of
// N voucher entries (a few hundred distinct P-256 vouchers of one device, repeated: signing
// 200,000 would take minutes; each entry is still parsed, checked by the workers and written),
// then reconciles it with worker threads, sampling process.memoryUsage() (heap + array
// buffers: what the process holds live, after a full GC; run with --expose-gc) at every 10th
// ledger write. Prints one JSON line: file size, baseline, peak, result. Third argument
// "tampered": every entry's signature has one byte altered (a hostile upload: every entry
// is rejected, and reconciliation must not hold the rejects either). "replay": N distinct
// vouchers, all made out to another merchant than the file's (a replay flood: every one
// settles to its payee and opens a replay case, and reconciliation must not hold the cases).
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hex } from "../../host-tools/src/docs.ts";
import { SqliteLedger } from "../../host-tools/src/ledger/sqlite.ts";
import { POS_EXPORT_FORMAT, reconcile } from "../../host-tools/src/reconcile.ts";
import { generateKeyPair, keyId } from "../../host-tools/src/sig.ts";
import { DEFAULT_LIMITS, PaperDevice } from "../../host-tools/src/synthetic.ts";

const [dir, nArg, mode] = process.argv.slice(2);
const N = Number(nArg);
const key = generateKeyPair("p256");
const iss = { suite: "p256" as const, key, kid: keyId(key.pub) };
const d = PaperDevice.create(iss, { limits: { ...DEFAULT_LIMITS, maxCountSinceSync: 1_000_000, maxAmountSinceSync: 0xffffffff } });
const M = Buffer.from("00000000000000a1", "hex");
const payee = mode === "replay" ? Buffer.from("00000000000000a2", "hex") : M;
const distinct = Array.from({ length: mode === "replay" ? N : 400 }, (_, i) => {
  const cose = d.pay(1, payee, 1_750_000_000 + i);
  if (mode === "tampered") cose[cose.length - 1] ^= 0x5a;
  return hex(cose);
});
const file = join(dir, "pos-big.json");
{
  const vouchers = Array.from({ length: N }, (_, i) => ({ cose: distinct[i % distinct.length], receivedAt: "2026-01-01T00:00:00.000Z" }));
  writeFileSync(file, JSON.stringify({ format: POS_EXPORT_FORMAT, version: 1, terminal: "t", merchant: hex(M), exportedAt: "x", vouchers }));
}
const l = SqliteLedger.open(join(dir, "ledger.sqlite"));
await l.putIssuerKeys([{ kid: hex(iss.kid), suite: "p256", pub: hex(key.pub), status: "active" }]);
await l.putDevice(d.record());
const gc = (globalThis as { gc?: () => void }).gc!;
const used = () => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const base = used();
let peak = base;
let writes = 0;
const add = l.addVouchers.bind(l);
l.addVouchers = async (vs) => (writes++ % 10 === 0 && (peak = Math.max(peak, used())), add(vs));
const r = await reconcile(l, [file], { workers: 2 });
await l.close();
async function reopen() {
  const again = SqliteLedger.open(join(dir, "ledger.sqlite"));
  const sum = await again.summary();
  await again.close();
  return sum;
}
console.log(JSON.stringify({ fileBytes: statSync(file).size, base, peak, growth: peak - base, newVouchers: r.newVouchers, duplicates: r.duplicates, rejected: r.rejected, tampered: r.newFraudCases.filter((c) => c.kind === "tampered").length,
  cases: r.newFraudCaseCount ?? r.newFraudCases.length, casesListed: r.newFraudCases.length, replayCases: (await reopen()).fraudCases }));
