// Many reconcile processes at once (host-tools/README "PostgreSQL"): 4 `wallet reconcile` processes import
// overlapping files (the same files in different orders, and re-exports of the same
// vouchers in other files) into ONE PostgreSQL ledger at the same time. The ledger must
// equal that of one process importing everything: content hash of a canonical dump of
// vouchers (status, reason, claim), fraud cases, rejected vouchers, receipts-free imports
// and submissions; 0 lost, 0 duplicated, 0 spurious fraud cases. Per-device work is
// serialized by the database (advisory locks, import claims), not by a lock file. A variant
// runs each process in its own network namespace, reaching PostgreSQL over TCP (below).
import { afterAll, describe, expect, it as vit } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VOUCHER_KIND_D2D } from "../protocol/portable/cbor-keys.ts";
import { hex, type Signer } from "../host-tools/src/docs.ts";
import { PostgresLedger } from "../host-tools/src/ledger/postgres.ts";
import { POS_EXPORT_FORMAT, DEVICE_LOG_FORMAT } from "../host-tools/src/reconcile.ts";
import { generateKeyPair, keyId, type SuiteName } from "../host-tools/src/sig.ts";
import { DEFAULT_LIMITS, PaperDevice } from "../host-tools/src/synthetic.ts";
import { BACKENDS } from "./support/ledger-backends.ts";
import { PG_BIN, postgresUnavailable, startPostgres, withDatabase, type PgCluster } from "./support/postgres.ts";

const pgb = BACKENDS[1];
const it = pgb.it;
const ROOT = new URL("..", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "rec-conc-"));
const T = 1_750_000_000;
const PROCESSES = 4;
/** payments per device: enough for the processes' transactions to overlap in time */
const ROUNDS = 60;

function issuer(suite: SuiteName): Signer {
  const key = generateKeyPair(suite);
  return { suite, key, kid: keyId(key.pub) };
}

function wallet(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  return run(process.execPath, [join(ROOT, "host-tools/bin/wallet.js"), ...args], env);
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((res) => {
    const c = spawn(cmd, args, { cwd: dir, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (err += d));
    c.on("close", (code) => res({ code: code ?? -1, out, err }));
  });
}

/** Everything the verdict depends on and writes, in one canonical order, and its SHA-256. */
async function dump(l: PostgresLedger) {
  const q = async (sql: string) => (await l.exec(sql)).map((r) => Object.values(r).join("|"));
  const content = {
    vouchers: await q(`SELECT hash, device_id, counter, status, COALESCE(reason, ''), COALESCE(claim, '') FROM vouchers ORDER BY hash COLLATE "C"`),
    fraud: await q(`SELECT kind, device_id, COALESCE(counter::text, '-'), COALESCE(voucher_hash, '-') FROM fraud_cases ORDER BY 1, 2, 3, 4`),
    rejected: await q(`SELECT hash, COALESCE(device_id, '-'), reason FROM rejected ORDER BY hash`),
    submissions: await q(`SELECT voucher_hash, source, presenter FROM submissions ORDER BY 1, 2, 3`),
    imports: await q(`SELECT source_hash, kind, counts FROM imports ORDER BY 1`),
    loads: await q(`SELECT device_id, seq, receipt IS NOT NULL FROM loads ORDER BY 1, 2`),
  };
  return { content, sha256: createHash("sha256").update(JSON.stringify(content)).digest("hex") };
}

type Plan = "overlapping files and re-exports" | "disjoint files, the same devices";
const PLANS: Plan[] = ["overlapping files and re-exports", "disjoint files, the same devices"];

/**
 * Where the processes run: `location` gives a new empty database (URL as seen from this
 * host), `manyUrl` the URL process p uses for it, `run` starts process p's `wallet`.
 */
interface Hosts {
  location(): Promise<string>;
  manyUrl(p: number, url: string): string;
  run(p: number, args: string[]): Promise<{ code: number; out: string; err: string }>;
}
const local: Hosts = { location: () => pgb.location(), manyUrl: (_p, url) => url, run: (_p, args) => wallet(args) };

describe(`many reconcile processes into one PostgreSQL${pgb.skip ? ` (SKIPPED: ${pgb.skip})` : ""}`, () => {
  it.each(PLANS)(`${PROCESSES} wallet reconcile processes (%s) end in the ledger of one process importing everything`, (plan) => concurrent(plan, local));
});

/** The scenario of this file: PROCESSES imports at once (`hosts`) against one import of everything. */
async function concurrent(plan: Plan, hosts: Hosts): Promise<void> {
  {
    const P256 = issuer("p256");
    const SM2 = issuer("sm2");
    const limits = { ...DEFAULT_LIMITS, maxCountSinceSync: 1000, maxAmountSinceSync: 0xffffffff };
    const devs = Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? PaperDevice.create(SM2, { suite: "sm2", limits }) : PaperDevice.create(P256, { limits })));
    const merchants = Array.from({ length: 8 }, (_, i) => Buffer.from((0xb0 + i).toString(16).padStart(16, "0"), "hex"));
    const perMerchant: Uint8Array[][] = merchants.map(() => []);
    const all: Uint8Array[] = [];
    // honest traffic, round robin over merchants; every 12th payment of device 1 goes to device 2 (device to device)
    for (let k = 0; k < ROUNDS; k++)
      for (let d = 0; d < devs.length; d++) {
        const m = (k + d) % merchants.length;
        const d2d = d === 1 && k % 12 === 11;
        const v = devs[d].pay(10 + ((k * 7 + d) % 90), d2d ? devs[2].deviceId : merchants[m], T + k * 100 + d, d2d ? VOUCHER_KIND_D2D : undefined);
        all.push(v);
        (d2d ? perMerchant[0] : perMerchant[m]).push(v); // a transfer presented at a merchant: a replay, settles to its payee
      }
    // a cloned device: a fork after its last honest payment (one branch in merchant 3's file, the other in 6's)
    const clone = devs[5].clone();
    const a = devs[5].pay(500, merchants[3], T + 9000);
    const b = clone.pay(700, merchants[6], T + 9001);
    perMerchant[3].push(a);
    perMerchant[6].push(b);
    // a gap: device 7's next counter is never presented, the one after is (pending)
    devs[7].pay(1, merchants[0], T + 9002);
    perMerchant[4].push(devs[7].pay(1, merchants[4], T + 9003));
    // a voucher whose signature bytes were damaged (rejected, tampered)
    const bad = devs[8].pay(5, merchants[2], T + 9004).slice();
    bad[bad.length - 4] ^= 1;
    perMerchant[2].push(bad);
    const posFile = (i: number, vs: Uint8Array[], terminal: string) => {
      const f = join(dir, `pos-${terminal}-${i}.json`);
      writeFileSync(f, JSON.stringify({ format: POS_EXPORT_FORMAT, version: 1, terminal, merchant: hex(merchants[i]), exportedAt: "x", vouchers: vs.map((c) => ({ cose: hex(c), receivedAt: "x" })) }));
      return f;
    };
    const files = perMerchant.map((vs, i) => posFile(i, vs, "t"));
    // re-exports: the same vouchers in other files (another terminal's copy of two merchants' days)
    const reexports = [posFile(1, perMerchant[1], "backup"), posFile(5, perMerchant[5].slice(10), "backup")];
    // a device log of device 9 (its own vouchers again)
    const log = join(dir, "log-9.json");
    writeFileSync(log, JSON.stringify({ format: DEVICE_LOG_FORMAT, version: 1, deviceId: devs[9].id, readAt: "x", entries: all.filter((_, i) => i % devs.length === 9).map(hex) }));
    const everything = [...files, ...reexports, log];
    // each process: two merchants' files of its own (disjoint files, the same devices: the
    // device locks serialize their verdicts), a re-export, and for two of them a third
    // merchant's file that another process imports too (the import claims serialize those)
    // (disjoint: each process two merchants' files, nothing else; every device is in all of them)
    const shares = Array.from({ length: PROCESSES }, (_, p) =>
      plan === "disjoint files, the same devices"
        ? [files[2 * p], files[2 * p + 1]]
        : [...(p % 2 ? [] : [files[(2 * p + 2) % files.length]]), files[2 * p], files[2 * p + 1], reexports[p % 2], ...(p === 3 ? [log] : [])],
    );
    const everythingOf = plan === "disjoint files, the same devices" ? files : everything;
    const prepare = async () => {
      const url = await hosts.location();
      const l = await PostgresLedger.open(url);
      await l.putIssuerKeys([P256, SM2].map((s) => ({ kid: hex(s.kid), suite: s.suite, pub: hex(s.key!.pub), status: "active" })));
      await l.transaction(async () => {
        for (const d of devs) await l.putDevice(d.record());
      });
      return { url, l };
    };
    const one = await prepare();
    const many = await prepare();

    const single = await wallet(["reconcile", "--ledger", one.url, "--json", ...everythingOf]);
    expect(single.err).toBe("");
    expect(single.code).toBe(0);
    const runs = await Promise.all(shares.map((s, p) => hosts.run(p, ["reconcile", "--ledger", hosts.manyUrl(p, many.url), "--json", ...s])));
    for (const r of runs) expect([r.code, r.err]).toEqual([0, ""]);
    // a second round of everything changes nothing
    const again = await wallet(["reconcile", "--ledger", many.url, "--json", ...everythingOf]);
    expect(JSON.parse(again.out).result.newVouchers).toBe(0);

    const ref = await dump(one.l);
    const got = await dump(many.l);
    expect(got.content).toEqual(ref.content);
    expect(got.sha256).toBe(ref.sha256);
    // 0 lost, 0 duplicated: every distinct good voucher once
    const good = all.length + 3; // + both fork branches + device 7's voucher after the gap (every voucher is distinct: random challenges)
    expect(got.content.vouchers).toHaveLength(good);
    expect(new Set(got.content.vouchers.map((v) => v.split("|")[0])).size).toBe(good);
    // 0 spurious fraud cases: the fork (both branches), the transfers presented at a merchant, the damaged voucher; nothing else
    const kinds = got.content.fraud.map((f) => f.split("|")[0]).sort();
    expect(kinds).toEqual(["fork", "fork", ...Array(5).fill("replay"), "tampered"].sort());
    expect(got.content.vouchers.filter((v) => v.includes("|pending|"))).toHaveLength(1);
    const newPerRun = runs.map((r) => JSON.parse(r.out).result.newVouchers as number);
    expect(newPerRun.reduce((x, y) => x + y, 0)).toBe(good);
    expect((await many.l.verifyAudit()).ok).toBe(true);
    await one.l.close();
    await many.l.close();
  }
}

// The same, with each process on its own network host (host-tools/README "PostgreSQL"): one
// network namespace per process, joined to this host by a veth pair with a /30 of
// 10.213.0.0/24 (a range only this test uses; a slot already in use here is skipped), and a
// second private cluster listening on the host ends of the pairs (and loopback) and trusting
// only those /30s. Each `wallet reconcile` runs under `ip netns exec` and reaches PostgreSQL
// over TCP as a separate machine would. Namespaces and veths are removed in afterAll.
const NET = "10.213.0";
const tag = String(process.pid % 100_000);
const namespaces = Array.from({ length: PROCESSES }, (_, i) => ({ ns: `wtst${tag}n${i}`, host: `wv${tag}h${i}`, peer: `wv${tag}n${i}`, slot: -1 }));
const ipCmd = (args: string[]) => spawnSync("ip", args, { encoding: "utf8" });
function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "not root (ip netns add needs CAP_SYS_ADMIN)";
  const r = ipCmd(["netns", "list"]);
  if (r.error || r.status !== 0) return `ip netns is not available (${r.error?.message ?? r.stderr.trim()}): apt-get install -y iproute2`;
  return postgresUnavailable();
}
const netnsSkip = pgb.skip ?? netnsUnavailable() ?? undefined;
let netCluster: PgCluster | undefined;

afterAll(async () => {
  for (const n of namespaces) {
    ipCmd(["netns", "del", n.ns]); // takes the namespace's end of the pair, and so the pair, with it
    if (ipCmd(["link", "show", n.host]).status === 0) ipCmd(["link", "del", n.host]);
  }
  await netCluster?.stop();
});

/** Creates the namespaces and veth pairs (throws naming the failed `ip` command). */
function createNamespaces(): void {
  const ip = (...args: string[]) => {
    const r = ipCmd(args);
    if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim() || r.error?.message}`);
  };
  const used = new Set([...ipCmd(["-o", "-4", "addr", "show"]).stdout.matchAll(/inet 10\.213\.0\.(\d+)/g)].map((m) => Math.floor(Number(m[1]) / 4)));
  let slot = 0;
  for (const n of namespaces) {
    while (used.has(slot)) slot++;
    if (slot >= 64) throw new Error(`no free /30 left in ${NET}.0/24`);
    n.slot = slot++;
    ip("netns", "add", n.ns);
    ip("-n", n.ns, "link", "set", "lo", "up");
    ip("link", "add", n.host, "type", "veth", "peer", "name", n.peer, "netns", n.ns);
    ip("addr", "add", `${NET}.${4 * n.slot + 1}/30`, "dev", n.host);
    ip("link", "set", n.host, "up");
    ip("-n", n.ns, "addr", "add", `${NET}.${4 * n.slot + 2}/30`, "dev", n.peer);
    ip("-n", n.ns, "link", "set", n.peer, "up");
  }
}

const nsHosts: Hosts = {
  async location() {
    if (!netCluster) {
      createNamespaces();
      const c = await startPostgres({
        db: "wallet_netns", private: true,
        listen: namespaces.map((n) => `${NET}.${4 * n.slot + 1}`), allow: namespaces.map((n) => `${NET}.${4 * n.slot}/30`),
      });
      if (typeof c === "string") throw new Error(`postgres: ${c}`);
      netCluster = c;
    }
    const name = `ns${process.pid}_${++dbNo}`;
    const r = spawnSync(join(PG_BIN, "createdb"), ["-h", netCluster.socketDir, "-p", String(netCluster.port), "-U", "postgres", name], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`createdb ${name}: ${r.stderr}`);
    return withDatabase(netCluster.url, name);
  },
  // over TCP to the host end of this process's veth pair
  manyUrl: (p, url) => `postgres://postgres@${NET}.${4 * namespaces[p].slot + 1}:${netCluster!.port}/${url.match(/^postgres:\/\/[^/]*\/([^?]+)/)![1]}`,
  run: (p, args) => run("ip", ["netns", "exec", namespaces[p].ns, process.execPath, join(ROOT, "host-tools/bin/wallet.js"), ...args]),
};
let dbNo = 0;

describe(`many reconcile processes, each in its own network namespace, into one PostgreSQL over TCP${netnsSkip ? ` (SKIPPED: ${netnsSkip})` : ""}`, () => {
  (netnsSkip ? vit.skip : vit)(`${PROCESSES} wallet reconcile processes on ${PROCESSES} network hosts (overlapping files and re-exports) end in the ledger of one process importing everything`, () =>
    concurrent("overlapping files and re-exports", nsHosts));
});

describe(`the CLI on a PostgreSQL ledger${pgb.skip ? ` (SKIPPED: ${pgb.skip})` : ""}`, () => {
  it("--ledger and WALLET_LEDGER select it; a database without a ledger is not found (exit 6), a server that is not there a storage error (exit 8)", async () => {
    const url = await pgb.location();
    const empty = await wallet(["report", "--ledger", url]);
    expect(empty.code).toBe(6);
    expect(empty.err).toMatch(/holds no wallet ledger/);
    await (await PostgresLedger.open(url)).close();
    const viaEnv = await wallet(["report", "--json"], { WALLET_LEDGER: url });
    expect(viaEnv.err).toBe("");
    expect(JSON.parse(viaEnv.out)).toMatchObject({ ok: true, summary: { fraudCases: 0, loaded: 0 } });
    // issuer init creates the schema in an empty database and trusts the new keys there
    const fresh = await pgb.location();
    const home = mkdtempSync(join(tmpdir(), "pg-home-"));
    const init = await wallet(["issuer", "init", "--home", home, "--ledger", fresh], { WALLET_PASSPHRASE: "pg ledger passphrase" });
    expect([init.code, init.err]).toEqual([0, ""]);
    const l = await PostgresLedger.open(fresh, { create: false });
    expect((await l.issuerKeys()).map((k) => k.suite).sort()).toEqual(["p256", "sm2"]);
    await l.close();
    const verify = await wallet(["audit", "verify", "--ledger", fresh]);
    expect([verify.code, verify.err]).toEqual([0, ""]);
    const down = await wallet(["report", "--ledger", "postgres://wallet:pw@127.0.0.1:1/x"]);
    expect(down.code).toBe(8);
    expect(down.err).toMatch(/postgres:\/\/wallet:\*\*\*@127\.0\.0\.1:1\/x: cannot reach the PostgreSQL server/);
    expect(down.err).not.toMatch(/pw/);
  });
});

// keeps vitest's `it` import used when the backend is skipped
void vit;
