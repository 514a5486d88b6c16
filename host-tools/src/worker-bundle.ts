// Worker threads cannot use the tsx loader of the main thread (Node 20), and starting
// tsx in every worker costs ≈ 250 ms and ≈ 60 MB each. So the reconciliation worker is
// bundled once into plain ESM with esbuild (the compiler tsx itself runs on) under
// build/ (packages stay external and resolve from node_modules), and rebuilt when a
// source is newer. Without esbuild, the tsx bootstrap (reconcile-worker.mjs) is used.
import { createRequire } from "node:module";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const OUT = join(ROOT, "build", "host-tools", "reconcile-worker.mjs");
const ENTRY = join(HERE, "reconcile-worker-body.ts");

let cached: URL | undefined;

function newestSource(): number {
  // the worker's import graph lives in host-tools/src and protocol/
  let t = 0;
  const { readdirSync } = createRequire(import.meta.url)("node:fs") as typeof import("node:fs");
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith(".ts")) t = Math.max(t, statSync(p).mtimeMs);
    }
  };
  for (const d of [HERE, join(ROOT, "protocol")]) walk(d);
  return t;
}

/** URL of the worker module to start. */
export function reconcileWorkerUrl(): URL {
  if (cached) return cached;
  try {
    const esbuild = createRequire(import.meta.url)("esbuild") as typeof import("esbuild");
    if (!existsSync(OUT) || statSync(OUT).mtimeMs < newestSource()) {
      mkdirSync(dirname(OUT), { recursive: true });
      esbuild.buildSync({ entryPoints: [ENTRY], outfile: OUT, bundle: true, format: "esm", platform: "node", target: "node20", packages: "external", logLevel: "silent" });
    }
    cached = pathToFileURL(OUT);
  } catch {
    cached = new URL("./reconcile-worker.mjs", import.meta.url);
  }
  return cached;
}
