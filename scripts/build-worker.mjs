// Bundles the reconciliation worker (host-tools/src/reconcile-worker-body.ts and its
// imports) into plain ESM with esbuild at build time (scripts/build-firmware.mjs calls it):
// worker threads cannot use the main thread's tsx loader (Node 20), and starting tsx in
// every worker costs ≈ 250 ms and ≈ 60 MB each. Packages stay external (resolved from
// node_modules). Beside the bundle, a manifest lists the bundled sources: at run time
// host-tools/src/worker-bundle.ts uses the bundle only while no source is newer, and never
// writes. Rebuilt when a listed source is newer than the bundle, or with --force.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { buildSync } from "esbuild";

export const WORKER_ENTRY = "host-tools/src/reconcile-worker-body.ts";
export const WORKER_OUT = "build/host-tools/reconcile-worker.mjs";
export const WORKER_MANIFEST = "build/host-tools/reconcile-worker.inputs.json";

/** true when the bundle exists and no source in its manifest is newer (or gone). */
function fresh(root) {
  try {
    const built = statSync(join(root, WORKER_OUT)).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(join(root, WORKER_MANIFEST), "utf8"));
    return inputs.length > 0 && inputs.every((p) => statSync(join(root, p)).mtimeMs <= built);
  } catch {
    return false;
  }
}

/** Write by rename, so a reader (a test starting workers) never sees half a file. */
function writeAtomic(path, data) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export function buildWorkerBundle(root, force = false) {
  if (!force && fresh(root)) return false;
  const r = buildSync({
    entryPoints: [join(root, WORKER_ENTRY)], absWorkingDir: root, bundle: true, format: "esm", platform: "node", target: "node20",
    packages: "external", write: false, metafile: true, outfile: join(root, WORKER_OUT), logLevel: "warning",
  });
  mkdirSync(dirname(join(root, WORKER_OUT)), { recursive: true });
  writeAtomic(join(root, WORKER_OUT), r.outputFiles[0].contents);
  // inputs are relative to absWorkingDir (the repository root)
  writeAtomic(join(root, WORKER_MANIFEST), JSON.stringify({ entry: WORKER_ENTRY, inputs: Object.keys(r.metafile.inputs).sort() }, null, 1) + "\n");
  return true;
}

