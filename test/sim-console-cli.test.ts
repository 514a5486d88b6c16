// `wearable-sim start --console` (wearable-sim/README.md "Console"): the CLI wiring of the console. The page is
// served on the control API's own server, on loopback unless --console-host names another
// address, which prints a warning first; --console-host alone is a usage error.
import { describe, expect, it, beforeAll } from "vitest";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ensureConsoleBuilt } from "../wearable-sim/src/console-build.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = fileURLToPath(new URL("../wearable-sim/bin/wearable-sim.js", import.meta.url));
const cli = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
// run by --command with WEARABLE_SIM_URL set: fetches the page and the state, prints what it saw
const probe = (path: string) =>
  `node -e "const u = new URL(process.env.WEARABLE_SIM_URL); u.hostname = '127.0.0.1'; ` +
  `Promise.all([fetch(u.origin + '${path}'), fetch(u.origin + '/console/api/state')]).then(async ([p, s]) => { ` +
  `console.log(process.env.WEARABLE_SIM_URL, p.status, p.headers.get('content-type'), (await s.json()).devices.map((d) => d.profile).join(',')); })"`;

describe("wearable-sim start --console", () => {
  beforeAll(() => ensureConsoleBuilt(), 120_000);

  it("serves the page on 127.0.0.1 from the control API's server", () => {
    const r = cli(["start", "--profile", "watch", "--seed", "c", "--console", "--command", probe("/console/")]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+ 200 text\/html; charset=utf-8 watch$/m);
    expect(r.stderr).toMatch(/console: http:\/\/127\.0\.0\.1:\d+\/console\//);
    expect(r.stderr).not.toMatch(/WARNING/);
  });

  it("without --console there is no page", () => {
    const r = cli(["start", "--profile", "card", "--command", `node -e "fetch(process.env.WEARABLE_SIM_URL + '/console/').then((p) => console.log(p.status))"`]);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe("404");
  });

  it("--console-host elsewhere binds there and warns first; --console-host alone is a usage error", () => {
    const r = cli(["start", "--profile", "band", "--console", "--console-host", "0.0.0.0", "--command", probe("/console/")]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/WARNING: the console and control API listen on 0\.0\.0\.0: anyone who reaches it can move money/);
    expect(r.stdout).toMatch(/^http:\/\/0\.0\.0\.0:\d+ 200 .* band$/m);
    const u = cli(["start", "--console-host", "0.0.0.0"]);
    expect(u.status).toBe(2);
    expect(u.stderr).toMatch(/--console-host needs --console/);
  });
});
