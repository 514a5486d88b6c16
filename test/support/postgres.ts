// A PRIVATE PostgreSQL 15 cluster for the ledger suites (TRAPS.md "PostgreSQL"):
// initdb into a temporary directory owned by the `postgres` user (the server refuses to
// run as root), its own unix socket directory and a free TCP port on 127.0.0.1, started
// with `pg_ctl -w start` and stopped by the postmaster's PID afterwards. Never touches the
// system cluster (/var/lib/postgresql, port 5432).
//
// Used by test/support/postgres-setup.ts (a vitest globalSetup: one cluster per run, its
// URL handed to the test files as WALLET_TEST_PG_URL), by bench/reconcile.ts and by hand:
//   node --import tsx test/support/postgres.ts      (starts one, prints its URL, Ctrl-C stops it)
//
// WALLET_TEST_PG_URL set beforehand: that server is used instead (nothing is started).
// Not root and no such URL: `startPostgres` returns a reason instead, and the PostgreSQL
// halves of the suites are skipped with it (CI runs as root, so there they always run).
import { spawnSync } from "node:child_process";
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const PG_BIN = "/usr/lib/postgresql/15/bin";
const START_TIMEOUT_S = 60;
const STOP_TIMEOUT_MS = 20_000;

export interface PgCluster {
  /** admin URL of the test database (unix socket) */
  url: string;
  /** the same over TCP 127.0.0.1 */
  tcpUrl: string;
  socketDir: string;
  port: number;
  pid: number | null; // null: an external server (WALLET_TEST_PG_URL)
  dir: string | null;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

function uidOf(user: string): { uid: number; gid: number } | null {
  const r = spawnSync("id", ["-u", user], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", user], { encoding: "utf8" });
  return r.status === 0 && g.status === 0 ? { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) } : null;
}

function asPostgres(args: string[], opts: { timeoutMs?: number } = {}): { ok: boolean; out: string } {
  const r = spawnSync("runuser", ["-u", "postgres", "--", ...args], { encoding: "utf8", timeout: opts.timeoutMs ?? 120_000, cwd: "/" });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
}

/** Why a private cluster cannot be started here (null: it can). */
export function postgresUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "not root (initdb and pg_ctl run as the postgres user via runuser) and WALLET_TEST_PG_URL is not set";
  if (!existsSync(join(PG_BIN, "initdb"))) return `PostgreSQL 15 is not installed (${PG_BIN}/initdb missing): apt-get install -y postgresql-15`;
  if (!uidOf("postgres")) return "there is no postgres user (apt-get install -y postgresql-15 creates it)";
  return null;
}

const OWNER_FILE = "owner.json"; // { owner: pid of the process that started it, postmaster: its pid }

/**
 * Clears what a killed earlier run left behind: a cluster whose owner process is gone is
 * stopped by its postmaster's PID (only a process named postgres) and its directory removed.
 */
export async function clearStaleClusters(log?: (s: string) => void): Promise<void> {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith("wallet-pg-"))) {
    const dir = join(tmpdir(), name);
    let rec: { owner: number; postmaster: number } | undefined;
    try {
      rec = JSON.parse(readFileSync(join(dir, OWNER_FILE), "utf8"));
    } catch {
      continue; // starting right now, or not ours
    }
    if (!rec || alive(rec.owner)) continue;
    if (alive(rec.postmaster) && readFileSync(`/proc/${rec.postmaster}/comm`, "utf8").trim() === "postgres") {
      log?.(`postgres: stopping the cluster a killed run left behind (postmaster ${rec.postmaster}, ${dir})`);
      process.kill(rec.postmaster, "SIGINT");
      const until = Date.now() + STOP_TIMEOUT_MS;
      while (alive(rec.postmaster) && Date.now() < until) await sleep(50);
      if (alive(rec.postmaster)) process.kill(rec.postmaster, "SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Starts a private cluster with database `db` and returns it, or the reason it cannot
 * (see the module comment). `listen`: addresses it listens on besides 127.0.0.1 (they must
 * exist); `allow`: client networks (CIDR) it trusts besides loopback; `private`: start one even
 * when WALLET_TEST_PG_URL names a server. `stop()` shuts the postmaster down by PID (SIGINT: fast
 * shutdown; SIGKILL after STOP_TIMEOUT_MS) and removes the directory.
 */
export async function startPostgres(opts: { db?: string; log?: (s: string) => void; listen?: string[]; allow?: string[]; private?: boolean } = {}): Promise<PgCluster | string> {
  const db = opts.db ?? "wallet_test";
  const external = opts.private ? undefined : process.env.WALLET_TEST_PG_URL;
  if (external) {
    return { url: external, tcpUrl: external, socketDir: "", port: 0, pid: null, dir: null, stop: async () => {} };
  }
  const why = postgresUnavailable();
  if (why) return why;
  await clearStaleClusters(opts.log);
  const ids = uidOf("postgres")!;
  const dir = mkdtempSync(join(tmpdir(), "wallet-pg-"));
  chmodSync(dir, 0o755);
  chownSync(dir, ids.uid, ids.gid);
  const data = join(dir, "data");
  const sock = dir; // the socket lives beside the data directory: short path (< 107 bytes)
  const log = join(dir, "postgres.log");
  const t0 = Date.now();
  const init = asPostgres([join(PG_BIN, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]);
  if (!init.ok) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`postgres: initdb failed: ${init.out.split("\n").slice(-3).join(" | ")}`);
  }
  // `allow`: more client networks trusted (the network namespaces of
  // test/host-reconcile-concurrency.test.ts), beside initdb's loopback lines
  if (opts.allow?.length) appendFileSync(join(data, "pg_hba.conf"), opts.allow.map((net) => `host all all ${net} trust\n`).join(""));
  // a throw-away cluster: durability off (tests and benches measure the ledger, not fsync)
  const settings = [
    `-k ${sock}`, `-c listen_addresses=${["127.0.0.1", ...(opts.listen ?? [])].join(",")}`, "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
    "-c max_connections=200", "-c shared_buffers=128MB", "-c max_locks_per_transaction=256", "-c log_min_messages=warning",
  ];
  let port = 0;
  let pid = 0;
  for (let attempt = 0; attempt < 5 && !pid; attempt++) {
    port = await freePort();
    const r = asPostgres([join(PG_BIN, "pg_ctl"), "-D", data, "-l", log, "-w", "-t", String(START_TIMEOUT_S), "-o", `${settings.join(" ")} -p ${port}`, "start"]);
    if (r.ok) pid = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
    else if (!/could not bind|already in use/i.test(existsSync(log) ? readFileSync(log, "utf8") : "")) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`postgres: pg_ctl start failed: ${r.out.split("\n").slice(-3).join(" | ")}`);
    }
  }
  if (!pid) throw new Error("postgres: no free port after 5 attempts");
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify({ owner: process.pid, postmaster: pid }));
  const created = asPostgres([join(PG_BIN, "createdb"), "-h", sock, "-p", String(port), "-U", "postgres", db]);
  const stop = async () => {
    if (pid && alive(pid)) {
      process.kill(pid, "SIGINT"); // fast shutdown: disconnects clients, no checkpoint wait for them
      const until = Date.now() + STOP_TIMEOUT_MS;
      while (alive(pid) && Date.now() < until) await sleep(50);
      if (alive(pid)) process.kill(pid, "SIGKILL");
    }
    pid = 0;
    rmSync(dir, { recursive: true, force: true });
  };
  if (!created.ok) {
    await stop();
    throw new Error(`postgres: createdb failed: ${created.out}`);
  }
  opts.log?.(`postgres: private cluster pid ${pid} on ${sock} port ${port} ready in ${Date.now() - t0} ms`);
  const url = `postgres://postgres@/${db}?host=${encodeURIComponent(sock)}&port=${port}`;
  return { url, tcpUrl: `postgres://postgres@127.0.0.1:${port}/${db}`, socketDir: sock, port, pid, dir, stop };
}

/** `url` with another database name (same server, same user). */
export function withDatabase(url: string, db: string): string {
  // not `new URL`: WHATWG URLs refuse user@ with an empty host (postgres://user@/db?host=/dir)
  return url.replace(/^(postgres(?:ql)?:\/\/[^/?]*)(\/[^?]*)?/, `$1/${db}`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const c = await startPostgres({ log: (s) => console.error(s) });
  if (typeof c === "string") {
    console.error(`postgres: cannot start a private cluster: ${c}`);
    process.exit(1);
  }
  console.log(c.url);
  console.log(c.tcpUrl);
  process.on("SIGINT", () => void c.stop().then(() => process.exit(0)));
  process.on("SIGTERM", () => void c.stop().then(() => process.exit(0)));
  setInterval(() => {}, 1 << 30);
}
