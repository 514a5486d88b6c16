// Storage failures of the `wallet` CLI are one line and exit 8 (host-tools/README.md
// "exit codes"), never a stack trace: a full disk (SQLITE_FULL must not be masked by
// "cannot rollback - no transaction is active"), a read-only home, and a ledger held by
// another writer (concurrent writers wait WALLET_LOCK_TIMEOUT seconds, then the holder's
// pid is named). The mount cases need root (tmpfs); they are skipped otherwise.
import { afterAll, describe, expect, it } from "vitest";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCaptured } from "../host-tools/src/run-captured.ts";
import { SqliteLedger } from "../host-tools/src/ledger/sqlite.ts";
import { EXIT_STORAGE, WalletError } from "../host-tools/src/errors.ts";

const base = mkdtempSync(join(tmpdir(), "host-cli-storage-"));
const pass = "storage test passphrase";
const runIn = (home: string, extra: NodeJS.ProcessEnv = {}) => (...argv: string[]) => runCaptured(argv, { ...process.env, WALLET_PASSPHRASE: pass, WALLET_HOME: home, ...extra });

function oneLine(err: string): string {
  const lines = err.trimEnd().split("\n");
  expect(lines, err).toHaveLength(1);
  expect(err).not.toMatch(/internal error|\n\s+at /);
  return lines[0];
}

const canMount = (() => {
  if (process.getuid?.() !== 0) return false;
  const d = join(base, "probe");
  mkdirSync(d);
  const ok = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", d]).status === 0;
  if (ok) spawnSync("umount", [d]);
  return ok;
})();
const mounts: string[] = [];
function tmpfs(name: string, size: string): string {
  const d = join(base, name);
  mkdirSync(d);
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", d]);
  mounts.push(d);
  return d;
}
afterAll(() => {
  for (const d of mounts.reverse()) spawnSync("umount", ["-l", d]);
});

describe("ledger transaction: the real storage error", () => {
  it("SQLITE_FULL surfaces as a storage error (exit 8), not as a failed ROLLBACK; the ledger stays usable", async () => {
    const l = SqliteLedger.open(join(base, "full.sqlite"));
    try {
      const db = l.raw();
      db.pragma(`max_page_count = ${db.pragma("page_count", { simple: true })}`);
      const err = await l.transaction(async () => {
        for (let i = 0; i < 50; i++) await l.audit("filler", { blob: "x".repeat(20_000), i });
      }).catch((e) => e);
      expect(err).toBeInstanceOf(WalletError);
      expect((err as WalletError).exitCode).toBe(EXIT_STORAGE);
      expect((err as Error).message).toMatch(/full\.sqlite: the disk is full \(SQLITE_FULL\)/);
      expect((err as Error).message).not.toMatch(/rollback/);
      expect(db.inTransaction).toBe(false);
      db.pragma("max_page_count = 1073741823");
      await l.transaction(() => l.audit("after", {}));
      expect((await l.verifyAudit()).ok).toBe(true);
    } finally {
      await l.close();
    }
  });
});

describe("a ledger held by another writer", () => {
  const home = join(base, "locked");
  const run = runIn(home);
  const holder = async (ms: number) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "support/ledger-holder.ts"), join(home, "ledger.sqlite"), String(ms)], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((res, rej) => {
      child.stdout!.on("data", (d) => String(d).includes("holding") && res());
      child.once("exit", (c) => rej(new Error(`holder exited ${c}`)));
    });
    return child;
  };

  it("waits WALLET_LOCK_TIMEOUT, then exit 8 naming the holder's pid", async () => {
    expect((await run("issuer", "init")).code).toBe(0);
    const child = await holder(60_000);
    try {
      const t = performance.now();
      const r = await runIn(home, { WALLET_LOCK_TIMEOUT: "1" })("issuer", "rotate");
      const s = (performance.now() - t) / 1000;
      expect(r.code, r.err).toBe(EXIT_STORAGE);
      expect(oneLine(r.err)).toMatch(new RegExp(`ledger .*ledger\\.sqlite is locked by another wallet process \\(pid ${child.pid}\\); waited 1 s`));
      expect(s).toBeGreaterThanOrEqual(0.9);
      expect(s).toBeLessThan(10);
    } finally {
      child.kill();
    }
  });

  it("a writer that finishes within the timeout is simply waited for", async () => {
    const child = await holder(1500);
    const exited = new Promise((r) => child.once("exit", r));
    const r = await run("issuer", "rotate");
    expect(r.code, r.err).toBe(0);
    await exited;
  });

  it("WALLET_LOCK_TIMEOUT must be seconds", async () => {
    const r = await runIn(home, { WALLET_LOCK_TIMEOUT: "soon" })("report");
    expect(r.code).toBe(2);
    expect(oneLine(r.err)).toMatch(/WALLET_LOCK_TIMEOUT must be a number of seconds/);
  });
});

describe.skipIf(!canMount)("read-only and full disks (tmpfs, root)", () => {
  it("a read-only home: one line, exit 8, for reads and writes", async () => {
    const home = tmpfs("ro", "4m");
    const run = runIn(home);
    expect((await run("issuer", "init")).code).toBe(0);
    execFileSync("mount", ["-o", "remount,ro", home]);
    for (const argv of [["report"], ["issuer", "rotate"], ["devices", "list"]]) {
      const r = await run(...argv);
      expect(r.code, `${argv.join(" ")}: ${r.err}`).toBe(EXIT_STORAGE);
      expect(oneLine(r.err)).toMatch(/read-only|cannot be opened|EROFS/);
    }
    const r = await runIn(join(home, "new"))("issuer", "init");
    expect(r.code, r.err).toBe(EXIT_STORAGE);
    expect(oneLine(r.err)).toMatch(/cannot mkdir .*new: read-only file system \(EROFS\)/);
  });

  it("a full disk: one line, exit 8 (SQLITE_FULL for the ledger, ENOSPC for files)", async () => {
    const home = tmpfs("full", "2m");
    const run = runIn(home);
    expect((await run("issuer", "init")).code).toBe(0);
    const img = join(base, "full-dev.img");
    expect((await run("personalize", "--sim", img, "--create", "--account", "9001", "--alias", "a")).code).toBe(0);
    // fill the disk
    spawnSync("dd", ["if=/dev/zero", `of=${join(home, "filler")}`, "bs=64k"], { stdio: "ignore" });
    const r = await run("devices", "alias", "a", "bob");
    expect(r.code, r.err).toBe(EXIT_STORAGE);
    expect(oneLine(r.err)).toMatch(/ledger .*: the disk is full \(SQLITE_\w+\)/);
    const w = await run("issuer", "export-public", "--out", join(home, "trust.json"));
    expect(w.code, w.err).toBe(EXIT_STORAGE);
    expect(oneLine(w.err)).toMatch(/the disk is full \((ENOSPC|SQLITE_\w+)\)/);
  });
});

describe("other file-system mistakes", () => {
  it("an output file in a directory that does not exist is exit 6, one line", async () => {
    const home = join(base, "out");
    const run = runIn(home);
    expect((await run("issuer", "init")).code).toBe(0);
    writeFileSync(join(home, "x"), "");
    const r = await run("issuer", "export-public", "--out", join(home, "no", "dir", "trust.json"));
    expect(r.code, r.err).toBe(6);
    oneLine(r.err);
  });
});
