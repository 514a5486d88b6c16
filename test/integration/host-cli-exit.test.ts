// The real `wallet` process exits promptly on every error path, on every channel
// (host-tools/README.md "exit codes"): spawned as `node host-tools/bin/wallet.js …` with a
// deadline, it must end within a few seconds with ONE line on stderr and the documented
// code. PC/SC through the rig's pcscd (empty reader, unknown reader name or index, no
// daemon at all), serial over a pty nobody answers, HID over UDP to a closed port, and
// --sim images. Also: PcscChannel.open's error paths release everything, so a process
// that only caught the error ends by itself (no exit guard involved).
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runCaptured } from "../../host-tools/src/run-captured.ts";
import { createPtyPair, type PtyPair } from "../support/pty.ts";
import { Fleet } from "../../wearable-sim/src/fleet.ts";

const root = resolve(import.meta.dirname, "../..");
const home = mkdtempSync(join(tmpdir(), "host-cli-exit-"));
const env = { ...process.env, WALLET_PASSPHRASE: "exit test passphrase", WALLET_HOME: home };
const img = join(home, "alice.img");

interface Exit {
  code: number | null;
  out: string;
  err: string;
  seconds: number;
}

/** Spawns the real CLI; kills it (code null) if it has not exited after `deadlineMs`. */
function wallet(argv: string[], opts: { env?: NodeJS.ProcessEnv; deadlineMs?: number; onErr?: (chunk: string) => void } = {}): Promise<Exit> {
  const t = performance.now();
  const child = spawn(process.execPath, [join(root, "host-tools/bin/wallet.js"), ...argv], { cwd: root, env: opts.env ?? env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => {
    err += d;
    opts.onErr?.(String(d));
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.deadlineMs ?? 15_000);
  return new Promise((res) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      res({ code, out, err, seconds: (performance.now() - t) / 1000 });
    }),
  );
}

const seen: Record<string, number> = {};
/** Exits within `within` s (beyond the command's own wait, and beyond the CLI's start-up as
 * `wallet --help` takes it right before: a loaded machine starts Node and tsx slowly, a hang
 * or a long internal timeout is what this catches) with one stderr line and `code`. */
async function exitsPromptly(label: string, argv: string[], code: number, msg: RegExp, opts: { env?: NodeJS.ProcessEnv; within?: number } = {}): Promise<void> {
  const startup = (await wallet(["--help"], { env: opts.env })).seconds;
  const r = await wallet(argv, { env: opts.env });
  seen[label] = r.seconds;
  expect(r.code, `${label}: still running after the deadline (killed); stderr: ${r.err}`).not.toBeNull();
  expect(r.code, `${label}: ${r.err}`).toBe(code);
  const lines = r.err.trimEnd().split("\n");
  expect(lines, `${label}: ${r.err}`).toHaveLength(1);
  expect(lines[0]).toMatch(msg);
  expect(r.seconds - startup, `${label}: ${r.seconds.toFixed(2)} s, start-up ${startup.toFixed(2)} s`).toBeLessThan(opts.within ?? 6);
}

describe("the wallet process exits promptly on error paths", () => {
  const rig = inject("rig");
  const reader = rig.readers[0];

  beforeAll(async () => {
    const run = (...argv: string[]) => runCaptured(argv, env);
    expect((await run("issuer", "init")).code).toBe(0);
    expect((await run("personalize", "--sim", img, "--create", "--account", "6222-exit", "--alias", "alice")).code).toBe(0);
    expect((await run("issuer", "export-public", "--out", join(home, "trust.json"))).code).toBe(0);
    expect((await run("pos", "init", "--merchant", "00000000000000e7", "--trust", join(home, "trust.json"))).code).toBe(0);
    writeFileSync(join(home, "one.csv"), "account\n6222-batch\n");
  });
  afterAll(() => console.log(`exit times (s): ${JSON.stringify(Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, +v.toFixed(2)])))}`));

  const commands: [string, string[]][] = [
    ["load", ["load", "alice", "1.00"]],
    ["sync", ["sync"]],
    ["pos charge", ["pos", "charge", "1.00"]],
    ["personalize", ["personalize", "--account", "6222-single"]],
    ["personalize batch", ["personalize", join(home, "one.csv")]],
  ];

  for (const [name, argv] of commands) {
    it(`pcsc, ${name}: no card in the reader (--wait 1)`, () =>
      exitsPromptly(`${name} / no card`, [...argv, "--reader", reader, "--wait", "1"], 3, /pcsc: .*: no card presented within 1 s/, { within: 1 + 5 }));
    it(`pcsc, ${name}: a reader name that does not exist is known at once`, () =>
      exitsPromptly(`${name} / no such reader`, [...argv, "--reader", "Virtual PCD 00 07"], 3, /reader "Virtual PCD 00 07" not found \(readers: 0 "Virtual PCD 00 00"/, { within: 5 }));
    it(`pcsc, ${name}: a reader index out of range is known at once`, () =>
      exitsPromptly(`${name} / --reader 5`, [...argv, "--reader", "5"], 3, /pcsc: no reader 5 \(readers: /, { within: 5 }));
    it(`pcsc, ${name}: no pcscd is one line naming what to start, exit 3`, () =>
      exitsPromptly(`${name} / no pcscd`, [...argv, "--reader", "0"], 3, /^wallet: no PC\/SC service: start pcscd \(`pcscd -f`/, {
        env: { ...env, PCSCLITE_CSOCK_NAME: join(home, "nobody-listens.comm") },
      }));
  }

  it("pcsc: `wallet readers` with no pcscd", () =>
    exitsPromptly("readers / no pcscd", ["readers"], 3, /no PC\/SC service: start pcscd/, { env: { ...env, PCSCLITE_CSOCK_NAME: join(home, "nobody.comm") } }));

  describe("serial", () => {
    let pty: PtyPair;
    beforeAll(async () => {
      pty = await createPtyPair();
    });
    afterAll(() => pty?.close());
    it("a pty nobody answers on (--wait 1)", () => exitsPromptly("serial / silent", ["sync", "--serial", pty.a, "--wait", "1"], 3, /serial:.*: no answer within 1000 ms/, { within: 1 + 5 }));
    it("a port that does not exist", () => exitsPromptly("serial / missing", ["load", "alice", "1.00", "--serial", join(home, "ttyNONE")], 3, /serial: cannot open/));
  });

  it("hid-udp: a port nothing listens on (--wait 1)", async () => {
    const s = createSocket("udp4");
    const port = await new Promise<number>((r) => s.bind(0, "127.0.0.1", () => r(s.address().port)));
    await new Promise<void>((r) => s.close(() => r()));
    await exitsPromptly("hid-udp / closed", ["sync", "--hid", `udp:127.0.0.1:${port}`, "--wait", "1"], 3, /hid-udp:127\.0\.0\.1:\d+: no answer within 1000 ms/, { within: 1 + 5 });
  });

  describe("sim", () => {
    it("an image that does not exist", () => exitsPromptly("sim / missing", ["sync", "--sim", join(home, "nope.img")], 6, /sim: .*nope\.img not found/));
    it("a device the ledger does not know", () => exitsPromptly("sim / unknown device", ["sync", "--sim", join(home, "blank.img"), "--create"], 7, /not in the ledger/));
    it("a refusal by the tool (over the cap)", () => exitsPromptly("sim / over cap", ["load", "alice", "5000.00", "--sim", img], 7, /would exceed the cap/));
  });
});

describe("PcscChannel.open releases every reader object on its error paths", () => {
  it("a process that caught the errors ends by itself", async () => {
    const rig = inject("rig");
    const child = spawn(process.execPath, ["--import", "tsx", join(root, "test/support/pcsc-open-fail.ts"), rig.readers[0]], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    let doneAt = 0;
    child.stdout.on("data", () => out.includes("done") && !doneAt && (doneAt = performance.now()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    clearTimeout(timer);
    expect(out).toMatch(/Virtual PCD 00 07: pcsc: reader "Virtual PCD 00 07" not found/);
    expect(out).toMatch(/9: pcsc: no reader 9/);
    expect(out).toMatch(/no card presented within 0.5 s/);
    expect(out).toMatch(/readers: Virtual PCD 00 00, Virtual PCD 00 01/);
    expect(code, `the process did not end by itself: ${out}`).toBe(0);
    expect((performance.now() - doneAt) / 1000).toBeLessThan(3);
  });
});

describe("a batch row that fails on a card in the reader says so", () => {
  it('"row 1 FAILED (...); remove the card", exit 7, the next card is not waited for in vain', async () => {
    const rig = inject("rig");
    const reader = rig.readers[0];
    const fleet = new Fleet({ vpcdBasePort: rig.vpcdPort, seed: "host-cli-exit", autoConfirm: "accept" });
    try {
      await fleet.start({ profile: "card", transport: "pcsc", name: "c" });
      await fleet.tap("c", reader);
      // personalized for account A ...
      const a = await runCaptured(["personalize", "--reader", reader, "--account", "6222-owner-a"], env);
      expect(a.code, a.err).toBe(0);
      // ... then presented for a batch row of account B
      writeFileSync(join(home, "b.csv"), "account\n6222-other-b\n");
      let removed = false;
      const r = await wallet(["personalize", join(home, "b.csv"), "--reader", reader], {
        deadlineMs: 30_000,
        onErr: (chunk) => {
          if (!removed && chunk.includes("remove the card")) (removed = true), void fleet.remove("c");
        },
      });
      expect(r.code, r.err).toBe(7);
      const lines = r.err.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^personalize: row 1 FAILED \(personalize: device .* already personalized for another account .*\); remove the card$/);
      expect(lines.at(-1)).toMatch(/^wallet: personalize: 1 of 1 rows failed \(rows 1\)/);
      expect(r.err).not.toMatch(/finished/);
      expect(r.out).toMatch(/0 personalized, 0 resumed, 0 skipped, 1 failed/);
    } finally {
      await fleet.stop();
    }
  });
});
