// The real PC/SC test rig (test/rig/README.md; DESIGN.md §7): checks and installs the system
// packages, makes sure the native bindings are built, builds the TCP_NODELAY shim
// and runs a PRIVATE pcscd with the vsmartcard-vpcd reader driver.
//
// Why private: pcscd 1.9.9 hard-codes its socket and pid file in /run/pcscd, so two
// instances (a system one and ours) would clash. When we run as root we start pcscd in
// its own mount namespace (`unshare --mount`) with a rig directory bind-mounted over
// /run/pcscd; clients reach it with PCSCLITE_CSOCK_NAME=<dir>/pcscd.comm, which
// libpcsclite honours. Its reader.conf lives in a rig directory too (`pcscd -c`), so
// the vpcd TCP ports are ours to choose. Without root (no unshare) the rig falls back
// to the shared /run/pcscd and refuses to touch a pcscd it did not start.
//
// Used by test/rig/global-setup.ts (vitest `integration` project) and by
// bench/pcsc-roundtrip.ts. See test/rig/README.md.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** vsmartcard's default vpcd port (0x8C7B); slot n listens on base + n. */
export const VPCD_DEFAULT_PORT = 35963;
/** Readers the rig's reader.conf creates: vpcd 3.3 gives two slots per entry. */
export const VPCD_SLOTS = 2;
/** FRIENDLYNAME in the rig's reader.conf; pcscd appends " 00 00", " 00 01". */
export const VPCD_READER_PREFIX = "Virtual PCD";
/** The PC/SC reader name of vpcd slot n in the rig (pcscd names slots "<name> %02X %02X"). */
export const vpcdReaderName = (slot: number): string =>
  `${entryName(slot >> 1)} 00 ${hex2(slot & 1)}`;
/** FRIENDLYNAME of reader.conf entry e: pcscd 1.9.9 numbers two entries of one name alike, so each has its own */
const entryName = (e: number) => (e === 0 ? VPCD_READER_PREFIX : `${VPCD_READER_PREFIX} ${e}`);
const hex2 = (n: number) => n.toString(16).toUpperCase().padStart(2, "0");
/** How long pcscd may take to come up (it is usually ready in < 50 ms). */
const START_TIMEOUT_MS = 15_000;
/** pcscd needs about a second after SIGTERM before ports and socket are free. */
const STOP_TIMEOUT_MS = 10_000;

const VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
const SHIM_SRC = join(ROOT, "scripts/rig/tcp-nodelay.c");
const SHIM_OUT = join(ROOT, "build/rig/tcp-nodelay.so");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rigError(msg: string): Error {
  return new Error(`rig: ${msg}`);
}

function onPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

// ---------------------------------------------------------------------------
// System packages

export interface PackageCheck {
  pkg: string;
  present: () => boolean;
}

/** What each Debian package provides, as checked on disk (no dpkg needed). */
export const PACKAGE_CHECKS: PackageCheck[] = [
  { pkg: "pcscd", present: () => onPath("pcscd") || existsSync("/usr/sbin/pcscd") },
  { pkg: "vsmartcard-vpcd", present: () => existsSync(VPCD_DRIVER) },
  { pkg: "libpcsclite-dev", present: () => existsSync("/usr/include/PCSC/winscard.h") },
  { pkg: "socat", present: () => onPath("socat") },
  // the shim is compiled with cc (build-essential in CI; gcc + libc6-dev suffice)
  { pkg: "gcc", present: () => onPath("cc") },
  { pkg: "libc6-dev", present: () => existsSync("/usr/include/stdio.h") },
];

export interface EnsurePackagesOptions {
  log?: (s: string) => void;
  checks?: PackageCheck[];
  /** Default: root on Debian. */
  canInstall?: boolean;
  /** Runs the install command; returns success. Default: apt-get update (failure tolerated) + the command. */
  install?: (cmd: string) => boolean;
}

function aptInstall(cmd: string): boolean {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // the package lists may be stale or absent on a fresh machine: refresh, tolerate failure
  spawnSync("apt-get", ["update"], { stdio: "ignore", env });
  return spawnSync("sh", ["-c", cmd], { stdio: ["ignore", "ignore", "inherit"], env }).status === 0;
}

/**
 * Installs missing system packages when root on Debian, else throws ONE line naming
 * the command to run.
 */
export function ensureSystemPackages(opts: EnsurePackagesOptions = {}): void {
  const checks = opts.checks ?? PACKAGE_CHECKS;
  const missingNow = () => checks.filter((c) => !c.present()).map((c) => c.pkg);
  const missing = missingNow();
  if (missing.length === 0) return;
  const cmd = `apt-get install -y --no-install-recommends ${missing.join(" ")}`;
  const canInstall = opts.canInstall ?? (process.getuid?.() === 0 && existsSync("/etc/debian_version"));
  if (!canInstall) throw rigError(`missing system packages; run: sudo ${cmd}`);
  opts.log?.(`rig: installing ${missing.join(" ")}`);
  const ok = (opts.install ?? aptInstall)(cmd);
  if (!ok || missingNow().length) throw rigError(`apt-get failed; run: ${cmd}`);
}

// ---------------------------------------------------------------------------
// Native bindings (optional dependencies: built only where their headers exist)

function loads(mod: string): boolean {
  // load in a child process: a half-built addon must not poison this process
  const r = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(mod)})`], { cwd: ROOT, stdio: "ignore" });
  return r.status === 0;
}

function pinnedVersion(pkg: string): string {
  const pj = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  return pj.optionalDependencies?.[pkg] ?? pj.dependencies?.[pkg] ?? "latest";
}

/**
 * Makes sure an optional native binding loads: `npm rebuild` it (node-gyp with the
 * machine's Node headers, npm_config_nodedir=/usr) or, when npm skipped it at install
 * time, install the pinned version without touching package.json.
 */
export function ensureBinding(pkg: string, log: (s: string) => void = () => {}): void {
  if (loads(pkg)) return;
  const env = { ...process.env, npm_config_nodedir: process.env.npm_config_nodedir ?? "/usr" };
  const present = existsSync(join(ROOT, "node_modules", pkg, "package.json"));
  const args = present ? ["rebuild", pkg] : ["install", "--no-save", "--ignore-scripts=false", `${pkg}@${pinnedVersion(pkg)}`];
  log(`rig: npm ${args.join(" ")}`);
  spawnSync("npm", args, { cwd: ROOT, env, stdio: ["ignore", "ignore", "inherit"] });
  if (!loads(pkg)) throw rigError(`the ${pkg} binding does not load; run: npm_config_nodedir=/usr npm rebuild ${pkg}`);
}

// ---------------------------------------------------------------------------
// The TCP_NODELAY shim

/** Compiles scripts/rig/tcp-nodelay.c into build/rig/tcp-nodelay.so when stale. */
export function buildShim(): string {
  if (existsSync(SHIM_OUT) && statSync(SHIM_OUT).mtimeMs >= statSync(SHIM_SRC).mtimeMs) return SHIM_OUT;
  mkdirSync(join(ROOT, "build/rig"), { recursive: true });
  const r = spawnSync("cc", ["-shared", "-fPIC", "-O2", "-Wall", "-o", SHIM_OUT, SHIM_SRC, "-ldl"], { encoding: "utf8" });
  if (r.status !== 0) throw rigError(`cannot build the TCP_NODELAY shim: ${(r.stderr || r.error?.message || "").trim().split("\n")[0]}`);
  return SHIM_OUT;
}

// ---------------------------------------------------------------------------
// pcscd

export interface PcscdOptions {
  /** Rig state directory (config, socket, pid files, log). Distinct per user of the rig. */
  dir: string;
  /** TCP port of vpcd slot 0; slot n is portBase + n. */
  portBase?: number;
  /** Preload the TCP_NODELAY shim (the Nagle fix). Default true. */
  nodelay?: boolean;
  /** Extra pcscd flags, e.g. ["-d"] or ["-a"] for APDU logs in the log file. */
  flags?: string[];
  /**
   * When portBase is busy, try this many further port pairs above it (the test rig does:
   * its clients learn the ports from the environment). 0 (default): refuse, as a bench must.
   */
  portSearch?: number;
  /**
   * Reader slots to configure (default VPCD_SLOTS, 2): one reader.conf entry per two slots,
   * on consecutive ports from portBase; entry 0's slots are "Virtual PCD 00 00/01", entry e's
   * "Virtual PCD e 00 00/01" (slot 2e and 2e+1).
   */
  slots?: number;
}

export interface Pcscd {
  pid: number;
  /** true when running in its own mount namespace with a private socket */
  private: boolean;
  /** Environment every PC/SC client of this instance needs (libpcsclite reads it). */
  env: { PCSCLITE_CSOCK_NAME: string; WALLET_VPCD_PORT: string };
  socket: string;
  portBase: number;
  readers: string[];
  log: string;
  nodelay: boolean;
  stop(): Promise<void>;
}

/** A directory for the rig's state; unix socket paths must stay under 108 bytes. */
export function rigDir(name: string): string {
  const local = join(ROOT, ".rig", name);
  if (join(local, "run/pcscd.comm").length < 100) return local;
  const h = createHash("sha256").update(ROOT).digest("hex").slice(0, 12);
  return join(tmpdir(), `wallet-rig-${h}`, name);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function processName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** A zombie has exited; only its parent can reap it, so count it as gone. */
function running(pid: number): boolean {
  if (!alive(pid)) return false;
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function waitUntil(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await sleep(50);
  }
}

/** true when nothing listens on the TCP port (vpcd binds INADDR_ANY with SO_REUSEADDR). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen({ port, host: "0.0.0.0", exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** What a rig directory's rig.json records: the pcscd, who started it, where it listens. */
export interface RigRecord {
  pcscd: number;
  owner: number;
  socket?: string;
  portBase?: number;
}

/** The record of a rig directory whose pcscd still runs, else undefined. */
export function runningRecord(dir: string): RigRecord | undefined {
  try {
    const rec = JSON.parse(readFileSync(join(dir, "rig.json"), "utf8")) as RigRecord;
    return running(rec.pcscd) && processName(rec.pcscd) === "pcscd" ? rec : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Clears what a crashed earlier run left in `dir`: its pcscd is killed when the process
 * that started it is gone; a pcscd whose owner still runs means the rig is busy (unless
 * `force`: scripts/rig/pcscd.ts stop). Returns whether a pcscd was stopped.
 */
export async function clearStale(dir: string, force = false): Promise<boolean> {
  const recFile = join(dir, "rig.json");
  if (!existsSync(recFile)) return false;
  let killed = false;
  const rec = runningRecord(dir);
  if (rec) {
    if (!force && rec.owner !== process.pid && running(rec.owner)) {
      throw rigError(`busy: pcscd ${rec.pcscd} of a running rig (owner pid ${rec.owner}) uses ${dir}`);
    }
    process.kill(rec.pcscd, "SIGTERM");
    if (!(await waitUntil(() => !running(rec!.pcscd), STOP_TIMEOUT_MS))) process.kill(rec.pcscd, "SIGKILL");
    killed = true;
  }
  rmSync(recFile, { force: true });
  return killed;
}

/**
 * The first base port, from `first` upwards in steps of VPCD_SLOTS, whose slot ports are
 * all free: a system pcscd with vpcd, another checkout's rig or a bench may hold some.
 */
async function choosePorts(first: number, search: number, grace: number, slots = VPCD_SLOTS): Promise<number> {
  for (let i = 0; i <= search; i++) {
    const base = first + i * slots;
    let free = true;
    for (let s = 0; s < slots && free; s++) {
      // only the first pair may be waited for: it is the one a pcscd we just killed held
      free = await waitUntil(() => portFree(base + s), i === 0 ? grace : 0);
    }
    if (free) return base;
  }
  throw rigError(`TCP port ${first} is busy (another pcscd with vpcd, a running test rig or bench?)`);
}

function canUnshare(): boolean {
  return process.getuid?.() === 0 && spawnSync("unshare", ["--mount", "--propagation", "private", "true"], { stdio: "ignore" }).status === 0;
}

/**
 * One entry per two slots. The vpcd driver keeps its connections in a static array indexed
 * by slot, so two entries served by one loaded copy of the driver would share slots 0 and 1:
 * every further entry loads its own copy of the driver file (`driverCopies`).
 */
function readerConf(portBase: number, slots = VPCD_SLOTS, drivers: string[] = [VPCD_DRIVER]): string {
  const out = ["# written by test/rig/rig.ts: the vsmartcard virtual reader on the rig's ports"];
  for (let e = 0; e < Math.ceil(slots / 2); e++) {
    const hex = `0x${(portBase + 2 * e).toString(16).toUpperCase()}`;
    out.push(`FRIENDLYNAME "${entryName(e)}"`, `DEVICENAME   /dev/null:${hex}`, `LIBPATH      ${drivers[e] ?? VPCD_DRIVER}`, `CHANNELID    ${hex}`, "");
  }
  return out.join("\n");
}

/** The vpcd driver for entry 0, and a private copy of it for each further entry. */
function driverCopies(dir: string, entries: number): string[] {
  const out = [VPCD_DRIVER];
  for (let e = 1; e < entries; e++) {
    const copy = join(dir, `libifdvpcd-${e}.so`);
    copyFileSync(VPCD_DRIVER, copy);
    out.push(copy);
  }
  return out;
}

// Lists the vpcd readers a client of `socket` sees, in a child process: libpcsclite reads
// PCSCLITE_CSOCK_NAME once per process, so probing here would pin this process to one
// pcscd (the bench starts two, one after the other).
const PROBE = `
const want = Number(process.argv[1]), prefix = process.argv[2];
const p = require("pcsclite")();
const done = (names) => { console.log(JSON.stringify(names)); for (const r of Object.values(p.readers)) r.close(); p.close(); process.exit(0); };
const names = () => Object.keys(p.readers).filter((n) => n.startsWith(prefix));
p.on("error", () => {});
p.on("reader", (r) => { r.on("error", () => {}); if (names().length >= want) done(names()); });
setTimeout(() => done(names()), 1000);
`;

function visibleReaders(socket: string, slots = VPCD_SLOTS): string[] {
  const r = spawnSync(process.execPath, ["-e", PROBE, String(slots), VPCD_READER_PREFIX], {
    cwd: ROOT,
    env: { ...process.env, PCSCLITE_CSOCK_NAME: socket },
    encoding: "utf8",
    timeout: 5000,
  });
  try {
    return r.status === 0 ? (JSON.parse(r.stdout) as string[]) : [];
  } catch {
    return [];
  }
}

/**
 * Starts pcscd with the vpcd reader (and the Nagle fix unless `nodelay: false`), waits
 * until its readers are visible through libpcsclite, and returns a handle whose stop()
 * ends it by PID and waits until its ports are free again.
 */
export async function startPcscd(opts: PcscdOptions): Promise<Pcscd> {
  const nodelay = opts.nodelay ?? true;
  const dir = opts.dir;
  const runDir = join(dir, "run");
  const confDir = join(dir, "reader.conf.d");
  mkdirSync(runDir, { recursive: true });
  mkdirSync(confDir, { recursive: true });
  // a pcscd we just killed needs about a second to let go of its ports
  const grace = (await clearStale(dir)) ? STOP_TIMEOUT_MS : 0;

  const slots = Math.max(VPCD_SLOTS, opts.slots ?? VPCD_SLOTS);
  const portBase = await choosePorts(opts.portBase ?? VPCD_DEFAULT_PORT, opts.portSearch ?? 0, grace, slots);
  const priv = canUnshare();
  const socket = priv ? join(runDir, "pcscd.comm") : "/run/pcscd/pcscd.comm";
  if (!priv) {
    const pidFile = "/run/pcscd/pcscd.pid";
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : 0;
    if (pid && running(pid)) throw rigError(`busy: a pcscd (pid ${pid}) already serves /run/pcscd and this user cannot run a private one`);
  }
  for (const f of ["pcscd.comm", "pcscd.pid"]) rmSync(join(runDir, f), { force: true });
  writeFileSync(join(confDir, "vpcd"), readerConf(portBase, slots, driverCopies(dir, Math.ceil(slots / 2))));

  const shim = nodelay ? buildShim() : "";
  const pcscdArgs = ["pcscd", "-f", "-i", "-c", confDir, ...(opts.flags ?? [])];
  const envArgs = ["env", ...(shim ? [`LD_PRELOAD=${shim}`, "RIG_NODELAY_LOG=1"] : [])];
  // /run/pcscd must exist as a mount point; inside the namespace our runDir covers it
  if (priv) mkdirSync("/run/pcscd", { recursive: true });
  const argv = priv
    ? ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", 'mount --bind "$0" /run/pcscd && exec "$@"', runDir, ...envArgs, ...pcscdArgs]
    : [...envArgs, ...pcscdArgs];
  const log = join(dir, nodelay ? "pcscd.log" : "pcscd-nagle.log");
  const fd = openSync(log, "w");
  // unshare, sh and env all exec: the child's PID is pcscd's PID
  const child: ChildProcess = spawn(argv[0], argv.slice(1), { stdio: ["ignore", fd, fd], detached: true });
  closeSync(fd);
  const pid = child.pid!;
  child.unref();
  let exited = false;
  child.once("exit", () => (exited = true));
  writeFileSync(join(dir, "rig.json"), JSON.stringify({ pcscd: pid, owner: process.pid, socket, portBase } satisfies RigRecord));

  const env = { PCSCLITE_CSOCK_NAME: socket, WALLET_VPCD_PORT: String(portBase) };
  const stop = async () => {
    if (!exited && running(pid)) {
      process.kill(pid, "SIGTERM");
      if (!(await waitUntil(() => exited || !running(pid), STOP_TIMEOUT_MS))) process.kill(pid, "SIGKILL");
    }
    rmSync(join(dir, "rig.json"), { force: true });
    for (let s = 0; s < slots; s++) await waitUntil(() => portFree(portBase + s), STOP_TIMEOUT_MS);
  };

  const ready = await waitUntil(() => exited || (existsSync(socket) && readFileSync(log, "utf8").includes("daemon ready")), START_TIMEOUT_MS);
  const tail = () => readFileSync(log, "utf8").trim().split("\n").slice(-1)[0] ?? "";
  if (!ready || exited) {
    await stop();
    throw rigError(`pcscd did not start (${exited ? "exited" : "timeout"}): ${tail()} — see ${log}`);
  }
  let readers: string[] = [];
  await waitUntil(() => {
    readers = visibleReaders(socket, slots);
    return readers.length >= slots;
  }, START_TIMEOUT_MS);
  if (readers.length < slots) {
    await stop();
    throw rigError(`pcscd started but its vpcd readers are not visible — see ${log}`);
  }
  return { pid, private: priv, env, socket, portBase, readers, log, nodelay, stop };
}

/** Everything the rig needs before pcscd can start (idempotent, cheap when done). */
export function prepareRig(log: (s: string) => void = () => {}): void {
  ensureSystemPackages({ log });
  ensureBinding("pcsclite", log);
  ensureBinding("@serialport/bindings-cpp", log);
  buildShim();
}
