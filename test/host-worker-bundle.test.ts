// The reconciliation worker's module (host-tools/src/worker-bundle.ts; scripts/build-worker.mjs):
// the build bundles it, the run time only reads. At run time nothing is written into build/
// (not even when the bundle is missing or stale and esbuild could be loaded), a stale or
// missing bundle falls back to the tsx bootstrap, and both the built bundle and the
// fallback check vouchers exactly as checkVoucher does on the main thread.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { keyId, generateKeyPair } from "../host-tools/src/sig.ts";
import { PaperDevice } from "../host-tools/src/synthetic.ts";
import { VerifierPool } from "../host-tools/src/verifier-pool.ts";
import { checkVoucher, toFacts, type DeviceKey } from "../host-tools/src/voucher-check.ts";
import { freshBundle } from "../host-tools/src/worker-bundle.ts";
// @ts-expect-error: a plain .mjs build script without types
import { buildWorkerBundle, WORKER_MANIFEST, WORKER_OUT } from "../scripts/build-worker.mjs";

const ROOT = join(import.meta.dirname, "..");
const tmp = mkdtempSync(join(tmpdir(), "worker-bundle-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Every path under `dir` (node_modules not entered) with its mtime. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(`${relative(dir, p)} ${e.isSymbolicLink() ? "link" : statSync(p).mtimeMs}`);
      if (e.isDirectory() && !e.isSymbolicLink()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** A copy of the repository's worker sources in `root`, with node_modules (so esbuild resolves there). */
function tree(root: string): void {
  for (const d of ["host-tools/src", "protocol"]) cpSync(join(ROOT, d), join(root, d), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
}

describe("reconcile worker bundle", () => {
  it("the run time writes nothing and falls back to the tsx bootstrap when there is no bundle", async () => {
    const src = readFileSync(join(ROOT, "host-tools/src/worker-bundle.ts"), "utf8");
    expect(src).not.toMatch(/esbuild|createRequire|\b(writeFile|mkdir|rename|copyFile|appendFile|rm|unlink|utimes|open)(Sync)?\b|createWriteStream/);
    const root = join(tmp, "no-bundle");
    tree(root);
    const before = snapshot(root);
    // a fresh copy of the module, run from the copied tree (its root is that tree)
    const m = (await import(pathToFileURL(join(root, "host-tools/src/worker-bundle.ts")).href)) as typeof import("../host-tools/src/worker-bundle.ts");
    expect(m.reconcileWorkerUrl().href).toBe(pathToFileURL(join(root, "host-tools/src/reconcile-worker.mjs")).href);
    expect(snapshot(root)).toEqual(before);
  });

  it("a bundle is used only while no source in its manifest is newer", () => {
    const root = join(tmp, "stale");
    mkdirSync(join(root, "build/host-tools"), { recursive: true });
    mkdirSync(join(root, "src"));
    writeFileSync(join(root, "src/a.ts"), "");
    writeFileSync(join(root, WORKER_OUT), "");
    const at = (p: string, s: number) => utimesSync(join(root, p), s, s);
    at("src/a.ts", 1_000);
    at(WORKER_OUT, 2_000);
    expect(freshBundle(root)).toBeNull(); // no manifest
    writeFileSync(join(root, WORKER_MANIFEST), JSON.stringify({ inputs: ["src/a.ts"] }));
    expect(freshBundle(root)?.href).toBe(pathToFileURL(join(root, WORKER_OUT)).href);
    at("src/a.ts", 3_000);
    expect(freshBundle(root)).toBeNull(); // a source newer than the bundle
    writeFileSync(join(root, WORKER_MANIFEST), JSON.stringify({ inputs: ["src/gone.ts"] }));
    expect(freshBundle(root)).toBeNull(); // a source that is no more
    writeFileSync(join(root, WORKER_MANIFEST), JSON.stringify({ inputs: [] }));
    expect(freshBundle(root)).toBeNull();
    rmSync(join(root, WORKER_OUT));
    expect(freshBundle(root)).toBeNull();
  });

  it("the build writes the bundle and its manifest; a source edited after it makes it stale", () => {
    const root = join(tmp, "build");
    tree(root);
    expect(buildWorkerBundle(root)).toBe(true);
    expect(buildWorkerBundle(root)).toBe(false); // fresh: not rebuilt
    const { inputs } = JSON.parse(readFileSync(join(root, WORKER_MANIFEST), "utf8"));
    expect(inputs).toContain("host-tools/src/reconcile-worker-body.ts");
    expect(inputs).toContain("protocol/src/formats.ts");
    expect(freshBundle(root)).not.toBeNull();
    // the bundle older than a source: as after editing the source
    const earlier = statSync(join(root, "protocol/src/cbor.ts")).mtimeMs / 1000 - 10;
    utimesSync(join(root, WORKER_OUT), earlier, earlier);
    expect(freshBundle(root)).toBeNull();
    expect(buildWorkerBundle(root)).toBe(true);
    expect(freshBundle(root)).not.toBeNull();
  });

  it("the built bundle and the tsx fallback check vouchers as the main thread does", async () => {
    buildWorkerBundle(ROOT); // what scripts/build-firmware.mjs does before tests
    const bundle = freshBundle(ROOT);
    expect(bundle).not.toBeNull();
    const keys = new Map<string, DeviceKey>();
    const coses: Uint8Array[] = [];
    const payee = Buffer.from("00000000000000a1", "hex");
    for (const suite of ["p256", "sm2"] as const) {
      const key = generateKeyPair(suite);
      const d = PaperDevice.create({ suite, key, kid: keyId(key.pub) });
      const r = d.record();
      keys.set(r.deviceId, { suite, pub: r.pub!, certRef: r.certRef! });
      for (let i = 0; i < 3; i++) coses.push(d.pay(10 + i, payee, 1_750_000_000 + i));
    }
    coses.push(Uint8Array.of(0xd2, 0x84)); // rejected: truncated
    const want = coses.map((c) => toFacts(checkVoucher(c, (id) => keys.get(id))));
    expect(want.filter((c) => c.ok)).toHaveLength(6);
    for (const url of [bundle!, new URL("../host-tools/src/reconcile-worker.mjs", import.meta.url)]) {
      const pool = new VerifierPool(1, 4, "batch", url);
      try {
        pool.setKeys(keys);
        const got = (await Promise.all(pool.submit(coses).map((c) => c.results))).flat();
        expect(got, url.href).toEqual(want);
      } finally {
        await pool.close();
      }
    }
  });

  // a worker that dies (a broken module, an uncaught error, an exit) fails the checks it owes
  // and every later one with one error: reconciliation rolls back and says why, never waits
  const dying: [string, string, RegExp][] = [
    ["exits at start", "process.exit(3)", /reconcile: a verifier worker stopped \(exit code 3\)/],
    ["throws at its first message", "require('node:worker_threads').parentPort.on('message', () => { throw new Error('boom') })", /reconcile: a verifier worker failed: boom/],
    ["does not load", "this is not javascript", /reconcile: a verifier worker failed: /],
  ];
  for (const [what, code, msg] of dying)
    it(`a worker that ${what}: the batch's checks fail with one error, and so does the next batch`, async () => {
      const pool = new VerifierPool(2, 4, "batch", new URL(`data:text/javascript,${encodeURIComponent(code.replace("require('node:worker_threads')", "(await import('node:worker_threads'))"))}`));
      try {
        pool.setKeys(new Map());
        const coses = Array.from({ length: 12 }, () => Uint8Array.of(0xd2, 0x84));
        await expect(Promise.all(pool.submit(coses).map((c) => c.results))).rejects.toThrow(msg);
        await expect(Promise.all(pool.submit(coses).map((c) => c.results))).rejects.toThrow(msg);
      } finally {
        await pool.close();
      }
    }, 20_000);
});
