// The rig's preparation steps (test/rig/rig.ts) that need no pcscd: the system-package
// check (install when allowed, else ONE line naming the command, test/rig/README.md),
// the TCP_NODELAY shim build, and the rig directory's socket-path limit.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildShim, ensureSystemPackages, portFree, rigDir, type PackageCheck } from "./rig.ts";

function fakeChecks(present: Record<string, boolean>): PackageCheck[] {
  return Object.keys(present).map((pkg) => ({ pkg, present: () => present[pkg] }));
}

describe("rig: system packages", () => {
  it("does nothing when everything is present", () => {
    const installs: string[] = [];
    ensureSystemPackages({ checks: fakeChecks({ pcscd: true, socat: true }), canInstall: true, install: (c) => (installs.push(c), true) });
    expect(installs).toEqual([]);
  });

  it("fails with one line naming the command when it may not install", () => {
    const run = () => ensureSystemPackages({ checks: fakeChecks({ pcscd: true, "vsmartcard-vpcd": false, socat: false }), canInstall: false });
    expect(run).toThrow(new Error("rig: missing system packages; run: sudo apt-get install -y --no-install-recommends vsmartcard-vpcd socat"));
  });

  it("installs exactly the missing packages when root on Debian", () => {
    const state = { pcscd: false, "libpcsclite-dev": true, socat: false };
    const installs: string[] = [];
    ensureSystemPackages({
      checks: fakeChecks(state),
      canInstall: true,
      install: (cmd) => {
        installs.push(cmd);
        state.pcscd = state.socat = true;
        return true;
      },
    });
    expect(installs).toEqual(["apt-get install -y --no-install-recommends pcscd socat"]);
  });

  it("reports an install that did not provide the package", () => {
    const run = () => ensureSystemPackages({ checks: fakeChecks({ socat: false }), canInstall: true, install: () => true });
    expect(run).toThrow(/^rig: apt-get failed; run: apt-get install -y --no-install-recommends socat$/);
  });
});

describe("rig: TCP_NODELAY shim and paths", () => {
  it.skipIf(spawnSync("sh", ["-c", "command -v cc"]).status !== 0)("builds a shared object that exports accept and accept4", () => {
    const so = buildShim();
    expect(existsSync(so)).toBe(true);
    const syms = spawnSync("nm", ["-D", "--defined-only", so], { encoding: "utf8" }).stdout;
    expect(syms).toMatch(/ T accept$/m);
    expect(syms).toMatch(/ T accept4$/m);
  });

  it("keeps pcscd's socket path under the 108-byte unix limit", () => {
    const dir = rigDir("tests");
    expect(join(dir, "run/pcscd.comm").length).toBeLessThan(108);
  });

  it("portFree tells a listening port from a free one", async () => {
    const { createServer } = await import("node:net");
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, "0.0.0.0", r));
    const port = (s.address() as { port: number }).port;
    expect(await portFree(port)).toBe(false);
    await new Promise((r) => s.close(r));
    expect(await portFree(port)).toBe(true);
  });
});
