// The rig's own lifecycle (test/rig/README.md; test/rig/rig.ts): a pcscd left behind by a
// crashed run is stopped and replaced, a pcscd of a rig that still runs is never touched,
// busy vpcd ports are refused with one line, or skipped when a port search is allowed. Runs a second private pcscd beside the
// global setup's one, in its own directory and on its own ports (vpcd port + 10).
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { portFree, rigDir, startPcscd, vpcdReaderName, type Pcscd } from "../rig/rig.ts";

const rig = inject("rig");
const PORT = rig.vpcdPort + 10;
const started: Pcscd[] = [];
const cleanups: (() => void)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  for (const p of started.splice(0)) await p.stop();
});

async function start(dir: string, portBase = PORT): Promise<Pcscd> {
  const p = await startPcscd({ dir, portBase });
  started.push(p);
  return p;
}

const isRunning = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

describe.skipIf(!rig.private)("rig: pcscd lifecycle", () => {
  it("stops a pcscd left by a crashed run (its owner is gone) and starts a fresh one", async () => {
    const dir = rigDir("stale-test");
    const old = await start(dir);
    // pretend the process that started it crashed: its owner pid no longer exists
    const dead = spawnSync("true").pid;
    writeFileSync(join(dir, "rig.json"), JSON.stringify({ pcscd: old.pid, owner: dead }));
    const fresh = await start(dir);
    expect(fresh.pid).not.toBe(old.pid);
    expect(isRunning(old.pid)).toBe(false);
    expect(isRunning(fresh.pid)).toBe(true);
    expect(fresh.readers).toEqual([vpcdReaderName(0), vpcdReaderName(1)]);
    await fresh.stop();
    expect(isRunning(fresh.pid)).toBe(false);
  });

  it("refuses, and leaves alone, a pcscd whose owner still runs", async () => {
    const dir = rigDir("stale-test");
    const other = await start(dir);
    const owner = spawn("sleep", ["60"], { stdio: "ignore" });
    cleanups.push(() => owner.kill());
    writeFileSync(join(dir, "rig.json"), JSON.stringify({ pcscd: other.pid, owner: owner.pid }));
    await expect(startPcscd({ dir, portBase: PORT })).rejects.toThrow(/^rig: busy: pcscd \d+ of a running rig/);
    expect(isRunning(other.pid)).toBe(true);
  });

  it("refuses busy vpcd ports with one line", async () => {
    await start(rigDir("stale-test"));
    const err = await startPcscd({ dir: rigDir("stale-test-2"), portBase: PORT }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(`rig: TCP port ${PORT} is busy (another pcscd with vpcd, a running test rig or bench?)`);
  });

  it("moves to the next free port pair when asked to search (as the test rig does)", async () => {
    // something else holds slot 1's port of the first pair
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(PORT + 1, "0.0.0.0", r));
    cleanups.push(() => blocker.close());
    const p = await startPcscd({ dir: rigDir("stale-test"), portBase: PORT, portSearch: 3 });
    started.push(p);
    expect(p.portBase).toBe(PORT + 2);
    expect(p.env.WALLET_VPCD_PORT).toBe(String(PORT + 2));
    expect(p.readers).toEqual([vpcdReaderName(0), vpcdReaderName(1)]);
    expect(await portFree(PORT + 2)).toBe(false); // vpcd listens there now
  });
});
