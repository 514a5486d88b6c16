// Fraud detection on a synthetic fleet (DESIGN §4, §6, §8): paper devices (host-tools/src/
// synthetic.ts) sign real COSE vouchers (P-256, a few SM2), honest traffic to 20 merchants
// with syncs interleaved (acks recorded in the ledger as applied, increasing times), split
// into many POS export files, through the real `reconcile()` into a real SqliteLedger.
// Injected: clones (a copied image spends at a counter the device also uses → fork),
// rollbacks (the device restored to an earlier image and paying on → fork), replays (a
// merchant presenting another merchant's voucher → replay), malleated twins (the P-256
// twin (r, n−s) of a voucher in another file → rejected, no case, no verdict changed),
// duplicated files and the same vouchers in another terminal's file. The files are
// delivered in two orders (chronological; delayed, shuffled and in other batches): both
// ledgers must hold the same verdicts and fraud cases. Figures: "Fraud detection" in
// reliability-report.md (test/reliability/report.ts). CI counts by default, `--full` for
// 1,000 devices / 100,000 vouchers.
import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteLedger } from "../../host-tools/src/ledger/sqlite.ts";
import { deviceKeys, evidenceOf, parseInput, reconcile, POS_EXPORT_FORMAT, VerifierPool, type InputFile } from "../../host-tools/src/reconcile.ts";
import { PaperDevice } from "../../host-tools/src/synthetic.ts";
import { generateKeyPair, keyId, type SuiteName } from "../../host-tools/src/sig.ts";
import { hex, type Signer } from "../../host-tools/src/docs.ts";
import { signedPartId } from "../../host-tools/src/voucher-check.ts";
import { judgeDevice } from "../../host-tools/src/verdict.ts";
import type { SyncAck } from "../../host-tools/src/ledger/ledger.ts";
import { FULL, count, figures, type Figure } from "./report.ts";

const DEVICES = count(200, 1_000);
const VOUCHERS = count(10_000, 100_000);
const SM2_DEVICES = count(4, 10); // SM2 signing in JS takes ≈ 20 ms: a few devices, few vouchers each
const SM2_PER_DEVICE = 8;
const INJECT = count(20, 100); // per kind
const DUPLICATES = count(10, 50);
const EPOCHS = 6;
const FILE_MAX = count(100, 250);
const MERCHANTS = Array.from({ length: 20 }, (_, i) => Buffer.from((0xa000 + i).toString(16).padStart(16, "0"), "hex"));
const T = 1_750_000_000;
// P-256 group order: the twin of (r, s) is (r, n − s)
const N_P256 = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

// deterministic randomness: the same fleet every run
let seed = 0x5eed;
const rand = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (n: number) => Math.floor(rand() * n);
const shuffle = <X>(xs: X[]): X[] => {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
};

function issuer(suite: SuiteName): Signer {
  const key = generateKeyPair(suite);
  return { suite, key, kid: keyId(key.pub) };
}

function twinOf(cose: Uint8Array): Uint8Array {
  const t = Uint8Array.from(cose);
  const off = t.length - 32; // raw r‖s at the end of the COSE_Sign1
  const s = BigInt("0x" + hex(t.subarray(off)));
  t.set(Buffer.from((N_P256 - s).toString(16).padStart(64, "0"), "hex"), off);
  return t;
}

let fileNo = 0;
function posFile(merchant: Uint8Array, coses: Uint8Array[], terminal: string): InputFile {
  const text = JSON.stringify({ format: POS_EXPORT_FORMAT, version: 1, terminal, merchant: hex(merchant), exportedAt: "x", vouchers: coses.map((c) => ({ cose: hex(c), receivedAt: "x" })) });
  return parseInput(`pos-${++fileNo}.json`, text);
}

interface Injection {
  kind: "clone" | "rollback";
  deviceId: string;
  counter: number; // the contested counter
}

function fleet() {
  const P256 = issuer("p256");
  const SM2 = issuer("sm2");
  const devs: PaperDevice[] = [];
  for (let i = 0; i < DEVICES; i++) devs.push(i < SM2_DEVICES ? PaperDevice.create(SM2, { suite: "sm2" }) : PaperDevice.create(P256));
  const records = devs.map((d) => d.record());
  // schedule: which device pays at each step
  const p256Count = VOUCHERS - SM2_DEVICES * SM2_PER_DEVICE;
  const schedule: number[] = [];
  for (let i = 0; i < SM2_DEVICES; i++) for (let k = 0; k < SM2_PER_DEVICE; k++) schedule.push(i);
  for (let k = 0; k < p256Count; k++) schedule.push(SM2_DEVICES + (k % (DEVICES - SM2_DEVICES)));
  shuffle(schedule);

  const buckets = Array.from({ length: EPOCHS }, () => MERCHANTS.map(() => [] as Uint8Array[]));
  const acks: { epoch: number; ack: SyncAck }[] = [];
  const since = devs.map(() => 0);
  const threshold = devs.map(() => 5 + int(36)); // < the 50 payments allowed since a sync
  const snaps: PaperDevice[][] = devs.map(() => []);
  const faulted = new Set<number>();
  const injections: Injection[] = [];
  const honest: { cose: Uint8Array; hash: string; deviceId: string; counter: number; merchant: number; epoch: number; suite: SuiteName }[] = [];
  const epochOf = (s: number) => Math.min(EPOCHS - 1, Math.floor((s * EPOCHS) / schedule.length));
  let rollbacks = 0;
  for (let s = 0; s < schedule.length; s++) {
    const i = schedule[s];
    const time = T + s * 10;
    const epoch = epochOf(s);
    if (since[i] >= threshold[i]) {
      acks.push({ epoch, ack: { deviceId: devs[i].id, upToCounter: devs[i].counter, time, revocationVersion: 0, ack: new Uint8Array(1), limits: null, state: "applied" } });
      since[i] = 0;
      threshold[i] = 5 + int(36);
    }
    if (i >= SM2_DEVICES && rand() < 0.05) snaps[i].push(devs[i].clone());
    // a rollback: the device's flash restored to an earlier image, and it pays on from there
    if (rollbacks < INJECT && i >= SM2_DEVICES && !faulted.has(i) && s > schedule.length / 3 && rand() < 0.01) {
      const snap = snaps[i].find((x) => x.counter < devs[i].counter);
      if (snap) {
        faulted.add(i);
        injections.push({ kind: "rollback", deviceId: devs[i].id, counter: snap.counter + 1 });
        devs[i] = snap.clone();
        rollbacks++;
      }
    }
    const m = int(MERCHANTS.length);
    const cose = devs[i].pay(1 + int(500), MERCHANTS[m], time + 1);
    since[i]++;
    buckets[epoch][m].push(cose);
    honest.push({ cose, hash: signedPartId(cose), deviceId: devs[i].id, counter: devs[i].counter, merchant: m, epoch, suite: devs[i].suite });
  }
  // clones: a copy of an earlier image spends once, at a counter the device also used
  const candidates = shuffle([...devs.keys()].filter((i) => i >= SM2_DEVICES && !faulted.has(i) && snaps[i].some((x) => x.counter < devs[i].counter)));
  for (const i of candidates.slice(0, INJECT)) {
    const snap = snaps[i].find((x) => x.counter < devs[i].counter)!.clone();
    faulted.add(i);
    const m = int(MERCHANTS.length);
    buckets[EPOCHS - 1 - int(2)][m].push(snap.pay(7, MERCHANTS[m], T + schedule.length * 10 + 1));
    injections.push({ kind: "clone", deviceId: devs[i].id, counter: snap.counter });
  }
  // replays and twins: vouchers of untouched devices, presented again in another file
  const faultedIds = new Set([...faulted].map((i) => devs[i].id));
  const pool = shuffle(honest.filter((v) => v.suite === "p256" && !faultedIds.has(v.deviceId)));
  const replays = pool.slice(0, INJECT);
  for (const v of replays) {
    const m = (v.merchant + 1 + int(MERCHANTS.length - 1)) % MERCHANTS.length;
    buckets[v.epoch + int(EPOCHS - v.epoch)][m].push(v.cose);
  }
  const twins = pool.slice(INJECT, 2 * INJECT);
  for (const v of twins) buckets[v.epoch + int(EPOCHS - v.epoch)][int(MERCHANTS.length)].push(twinOf(v.cose));

  // files: per epoch and merchant, split; then duplicates (the same file again, the same vouchers from another terminal)
  const files: { epoch: number; file: InputFile }[] = [];
  for (let e = 0; e < EPOCHS; e++)
    for (let m = 0; m < MERCHANTS.length; m++) {
      const b = shuffle(buckets[e][m]);
      for (let k = 0; k < b.length; k += FILE_MAX) files.push({ epoch: e, file: posFile(MERCHANTS[m], b.slice(k, k + FILE_MAX), `t${e}-${k}`) });
    }
  const originals = files.length;
  for (let k = 0; k < DUPLICATES; k++) {
    const f = files[int(originals)];
    const copy = k % 2 ? f.file : posFile(MERCHANTS[MERCHANTS.findIndex((x) => hex(x) === f.file.presenter.slice("merchant:".length))], f.file.coses, "other-terminal");
    files.push({ epoch: f.epoch + int(EPOCHS - f.epoch), file: copy });
  }
  return { P256, SM2, records, acks, files, honest, injections, replays, twins, faulted: faultedIds };
}

type Fleet = ReturnType<typeof fleet>;

/** Delivers the files epoch by epoch (the acks of an epoch recorded before its files), `batches` files per reconcile. */
async function deliver(f: Fleet, order: { epoch: number; file: InputFile }[][], batch: () => number) {
  const l = SqliteLedger.open(join(mkdtempSync(join(tmpdir(), "fraud-")), "ledger.sqlite"));
  await l.putIssuerKeys([f.P256, f.SM2].map((s) => ({ kid: hex(s.kid), suite: s.suite, pub: hex(s.key!.pub), status: "active" })));
  await l.transaction(async () => {
    for (const d of f.records) await l.putDevice(d);
  });
  const keys = await deviceKeys(l);
  const pool = new VerifierPool(2);
  try {
    for (let e = 0; e < EPOCHS; e++) {
      await l.transaction(async () => {
        for (const a of f.acks) if (a.epoch === e) await l.addSyncAck(a.ack);
      });
      const fs = order[e];
      for (let k = 0; k < fs.length; ) {
        const n = batch();
        await reconcile(l, fs.slice(k, k + n).map((x) => x.file), { pool, keys });
        k += n;
      }
    }
  } finally {
    await pool.close();
  }
  return l;
}

async function contents(l: SqliteLedger) {
  const vouchers = new Map<string, { status: string; reason: string | null }>();
  for (const d of await l.devices()) for (const v of await l.vouchersOf(d.deviceId, { cose: false })) vouchers.set(v.hash, { status: v.status, reason: v.reason });
  const cases = (await l.fraudCases()).map((c) => ({ kind: c.kind, deviceId: c.deviceId, counter: c.counter, voucherHash: c.voucherHash }));
  const caseKeys = [...new Set(cases.map((c) => JSON.stringify([c.kind, c.deviceId, c.counter, c.voucherHash])))].sort();
  const rejected = new Map((await l.rejected()).map((r) => [r.hash, r]));
  // cases the verdict over ALL the evidence gives (replay and tampered are judged per file, in reconcile.ts)
  const now = new Set<string>();
  for (const d of await l.devices()) for (const c of judgeDevice(await evidenceOf(l, d)).cases) now.add(JSON.stringify([c.kind, c.deviceId, c.counter, c.voucherHash]));
  const stale = cases.filter((c) => c.kind !== "replay" && c.kind !== "tampered" && !now.has(JSON.stringify([c.kind, c.deviceId, c.counter, c.voucherHash])));
  return { vouchers, cases, caseKeys, rejected, stale };
}

const pct = (a: number, b: number) => (b === 0 ? "n/a" : `${((100 * a) / b).toFixed(a === b ? 0 : 2)}%`);

describe("fraud detection on a synthetic fleet", () => {
  it(`${DEVICES} devices, ${VOUCHERS} vouchers: every injected fraud caught with its kind, 0 false positives, one ledger for two delivery orders`, async () => {
    const f = fleet();
    // order A: chronological, epoch by epoch, in file order, 20 files per import
    const orderA = Array.from({ length: EPOCHS }, (_, e) => f.files.filter((x) => x.epoch === e));
    // order B: each file delayed by 0–2 epochs, shuffled, imports of 1–40 files
    const orderB: { epoch: number; file: InputFile }[][] = Array.from({ length: EPOCHS }, () => []);
    for (const x of f.files) orderB[Math.min(EPOCHS - 1, x.epoch + int(3))].push(x);
    orderB.forEach(shuffle);
    const la = await deliver(f, orderA, () => 20);
    const lb = await deliver(f, orderB, () => 1 + int(40));
    const a = await contents(la);
    const b = await contents(lb);

    const judge = (c: Awaited<ReturnType<typeof contents>>) => {
      const forks = new Map<string, Set<string>>();
      for (const x of c.cases) if (x.kind === "fork") forks.set(`${x.deviceId}#${x.counter}`, (forks.get(`${x.deviceId}#${x.counter}`) ?? new Set()).add(x.voucherHash!));
      const caught = (kind: Injection["kind"]) => f.injections.filter((i) => i.kind === kind && (forks.get(`${i.deviceId}#${i.counter}`)?.size ?? 0) >= 2).length;
      const replayCases = new Set(c.cases.filter((x) => x.kind === "replay").map((x) => x.voucherHash));
      const replaysCaught = f.replays.filter((v) => replayCases.has(v.hash)).length;
      const twinHashes = new Set(f.twins.map((v) => v.hash));
      const twinsRejected = f.twins.filter((v) => c.rejected.has(v.hash)).length;
      const twinsChanged = f.twins.filter((v) => c.vouchers.get(v.hash)?.status !== "settled" || c.cases.some((x) => x.voucherHash === v.hash)).length;
      // explained cases: forks on a faulted device at or after its contested counter; replays of the replayed vouchers
      const firstFault = new Map(f.injections.map((i) => [i.deviceId, i.counter]));
      // (a chain-break on a faulted device past its fault is a stale case, counted apart)
      const explained = (x: (typeof c.cases)[number]) =>
        ((x.kind === "fork" || x.kind === "chain-break") && f.faulted.has(x.deviceId) && x.counter! >= firstFault.get(x.deviceId)!) ||
        (x.kind === "replay" && f.replays.some((v) => v.hash === x.voucherHash));
      const unexplained = c.cases.filter((x) => !explained(x) && !twinHashes.has(x.voucherHash ?? ""));
      // honest vouchers: untouched devices', and faulted devices' before the contested counter
      const honestBad = f.honest.filter((v) => (!f.faulted.has(v.deviceId) || v.counter < firstFault.get(v.deviceId)!) && c.vouchers.get(v.hash)?.status !== "settled");
      return { clones: caught("clone"), rollbacks: caught("rollback"), replaysCaught, twinsRejected, twinsChanged, falsePositives: unexplained.length + honestBad.length, unexplained, honestBad };
    };
    const ja = judge(a);
    const jb = judge(b);
    const sameLedger =
      JSON.stringify(a.caseKeys) === JSON.stringify(b.caseKeys) &&
      a.vouchers.size === b.vouchers.size &&
      [...a.vouchers].every(([h, s]) => b.vouchers.get(h)?.status === s.status && b.vouchers.get(h)?.reason === s.reason);
    const injected = (k: Injection["kind"]) => f.injections.filter((i) => i.kind === k).length;
    const nClones = injected("clone");
    const nRollbacks = injected("rollback");
    const both = (x: number, y: number, n: number) => (x === y ? pct(x, n) : `${pct(x, n)} / ${pct(y, n)}`);
    const figs: Figure[] = [
      { section: "Fraud detection", name: "devices (of which SM2)", value: `${DEVICES} (${SM2_DEVICES})`, ok: true },
      { section: "Fraud detection", name: "vouchers signed (honest + injected)", value: f.honest.length + nClones, ok: f.honest.length >= VOUCHERS },
      { section: "Fraud detection", name: "POS export files delivered (of which duplicates)", value: `${f.files.length} (${DUPLICATES})`, ok: true },
      { section: "Fraud detection", name: "sync acks interleaved", value: f.acks.length, ok: f.acks.length > 0 },
      { section: "Fraud detection", name: `clones injected / caught as fork`, value: `${nClones} / ${both(ja.clones, jb.clones, nClones)}`, required: "100%", ok: nClones > 0 && ja.clones === nClones && jb.clones === nClones },
      { section: "Fraud detection", name: `rollbacks injected / caught as fork`, value: `${nRollbacks} / ${both(ja.rollbacks, jb.rollbacks, nRollbacks)}`, required: "100%", ok: nRollbacks > 0 && ja.rollbacks === nRollbacks && jb.rollbacks === nRollbacks },
      { section: "Fraud detection", name: `replays injected / caught as replay`, value: `${f.replays.length} / ${both(ja.replaysCaught, jb.replaysCaught, f.replays.length)}`, required: "100%", ok: ja.replaysCaught === f.replays.length && jb.replaysCaught === f.replays.length },
      { section: "Fraud detection", name: "malleated twins (r, n−s) injected / rejected", value: `${f.twins.length} / ${both(ja.twinsRejected, jb.twinsRejected, f.twins.length)}`, required: "100%", ok: ja.twinsRejected === f.twins.length && jb.twinsRejected === f.twins.length },
      { section: "Fraud detection", name: "malleated twins that opened a case or changed a verdict (order A / B)", value: `${ja.twinsChanged} / ${jb.twinsChanged}`, required: "0", ok: ja.twinsChanged === 0 && jb.twinsChanged === 0 },
      { section: "Fraud detection", name: "false positives on honest traffic (order A / B)", value: `${ja.falsePositives} / ${jb.falsePositives}`, required: "0", ok: ja.falsePositives === 0 && jb.falsePositives === 0 },
      { section: "Fraud detection", name: "stale fraud cases: opened on part of the evidence, not given by the verdict on all of it (order A / B)", value: `${a.stale.length} / ${b.stale.length}`, required: "0", ok: a.stale.length === 0 && b.stale.length === 0 },
      { section: "Fraud detection", name: "ledger identical for two delivery orders (voucher status/reason, case set)", value: sameLedger ? "yes" : "no", required: "yes", ok: sameLedger },
    ];
    figures("fraud-detection", figs);
    await la.close();
    await lb.close();
    for (const x of figs) expect.soft(x.ok, `${x.name}: ${x.value}${x.required ? ` (required ${x.required})` : ""}`).toBe(true);
    expect.soft(ja.unexplained.slice(0, 5)).toEqual([]);
    expect.soft(jb.unexplained.slice(0, 5)).toEqual([]);
  }, FULL ? 1_800_000 : 120_000); // the full fleet: ≈ 30 s of signing, two deliveries of 100,000 vouchers

  // The two order dependences the fleet shows, each on one device (reconcile.ts; red until fixed there).
  async function small(...ds: PaperDevice[]) {
    const l = SqliteLedger.open(join(mkdtempSync(join(tmpdir(), "fraud-")), "ledger.sqlite"));
    const P = issuerOf.get(ds[0])!;
    await l.putIssuerKeys([{ kid: hex(P.kid), suite: P.suite, pub: hex(P.key!.pub), status: "active" }]);
    for (const d of ds) await l.putDevice(d.record());
    return l;
  }
  const issuerOf = new Map<PaperDevice, Signer>();
  const make = () => {
    const s = issuer("p256");
    const d = PaperDevice.create(s);
    issuerOf.set(d, s);
    return d;
  };
  const caseSet = async (l: SqliteLedger) => (await l.fraudCases()).map((c) => `${c.kind}#${c.counter}`).sort();

  it("a malleated twin presented before its original opens no case (it opens `tampered` today)", async () => {
    const d = make();
    const v = d.pay(100, MERCHANTS[0], T);
    const first = await small(d);
    await reconcile(first, [posFile(MERCHANTS[0], [v], "t")]);
    await reconcile(first, [posFile(MERCHANTS[1], [twinOf(v)], "t")]);
    const second = await small(d);
    await reconcile(second, [posFile(MERCHANTS[1], [twinOf(v)], "t")]);
    await reconcile(second, [posFile(MERCHANTS[0], [v], "t")]);
    expect(await caseSet(first)).toEqual([]);
    expect(await caseSet(second)).toEqual([]); // today: ["tampered#null"]
  });

  it("a rolled-back device gives the same cases whichever of its files arrives first (a chain-break from part of the evidence stays open today)", async () => {
    const d = make();
    const v1 = d.pay(10, MERCHANTS[0], T);
    const image = d.clone();
    const v2 = d.pay(10, MERCHANTS[0], T + 1);
    const v3 = d.pay(10, MERCHANTS[0], T + 2);
    const r2 = image.pay(10, MERCHANTS[1], T + 3); // restored image: counter 2 again
    const fa = posFile(MERCHANTS[0], [v1, v3], "a");
    const fb = posFile(MERCHANTS[0], [v2], "b");
    const fr = posFile(MERCHANTS[1], [r2], "r");
    const one = await small(d);
    for (const f of [fa, fb, fr]) await reconcile(one, [f]);
    const two = await small(d);
    for (const f of [fa, fr, fb]) await reconcile(two, [f]); // v3 judged while only r2 holds counter 2
    expect(await caseSet(one)).toEqual(["fork#2", "fork#2"]);
    expect(await caseSet(two)).toEqual(await caseSet(one)); // today: also "chain-break#3"
  });
});
