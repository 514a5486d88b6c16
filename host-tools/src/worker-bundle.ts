// Which module the reconciliation workers start (verifier-pool.ts). Worker threads cannot
// use the tsx loader of the main thread (Node 20), and starting tsx in every worker costs
// ≈ 250 ms and ≈ 60 MB each, so the build (scripts/build-firmware.mjs, which npm test, the
// demo and the benches run first) bundles the worker into plain ESM under build/ with a
// manifest of the sources it holds (scripts/build-worker.mjs). Here the bundle is only
// read: it is used when present and no source in its manifest is newer; else the tsx
// bootstrap (reconcile-worker.mjs) runs the TypeScript directly. Nothing is written.
import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** where scripts/build-worker.mjs writes (WORKER_OUT, WORKER_MANIFEST), relative to the root */
const BUNDLE = "build/host-tools/reconcile-worker.mjs";
const MANIFEST = "build/host-tools/reconcile-worker.inputs.json";
const FALLBACK = new URL("./reconcile-worker.mjs", import.meta.url);

/** The bundle under `root` when it is there and not older than any source it was built from. */
export function freshBundle(root: string): URL | null {
  try {
    const built = statSync(join(root, BUNDLE)).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(join(root, MANIFEST), "utf8")) as { inputs: string[] };
    if (!Array.isArray(inputs) || inputs.length === 0) return null;
    for (const p of inputs) if (statSync(join(root, p)).mtimeMs > built) return null;
    return pathToFileURL(join(root, BUNDLE));
  } catch {
    return null; // no bundle, no manifest, or a source gone: not built from these sources
  }
}

let cached: URL | undefined;

/** URL of the worker module to start: the built bundle if fresh, else the tsx bootstrap. */
export function reconcileWorkerUrl(): URL {
  return (cached ??= freshBundle(ROOT) ?? FALLBACK);
}
