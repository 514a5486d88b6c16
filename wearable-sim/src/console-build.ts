// Builds the console page (wearable-sim/console/, vanilla TypeScript) with Vite into
// build/console/. The bundle is not committed: `npm test`'s console suite, `npm run
// build:console` and the first `wearable-sim start --console` build it (Vite is a
// devDependency, present after `npm ci` or `npm install` in a clone), and a bundle older
// than its sources is rebuilt, so a checkout never serves a stale page.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const CONSOLE_SRC = join(ROOT, "wearable-sim", "console");
export const CONSOLE_OUT = join(ROOT, "build", "console");
// the page imports the protocol's constants (INS codes, status-word names, lifecycles)
const SOURCES = [CONSOLE_SRC, join(ROOT, "protocol", "portable"), join(ROOT, "protocol", "src", "sw.ts")];

function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...readdirSync(path).map((f) => newest(join(path, f))));
}

/** true when build/console/index.html exists and is newer than every source */
export function consoleIsFresh(): boolean {
  const index = join(CONSOLE_OUT, "index.html");
  return existsSync(index) && statSync(index).mtimeMs >= Math.max(...SOURCES.map(newest));
}

let building: Promise<string> | undefined;
const LOCK_STALE_MS = 120_000;

/** One build at a time across processes (parallel test workers, two consoles): an O_EXCL lock file. */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = `${CONSOLE_OUT}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  let fd: number;
  for (;;) {
    try {
      fd = openSync(lock, "wx");
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      try {
        if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) rmSync(lock, { force: true }); // a builder that died
      } catch {
        // gone meanwhile
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    closeSync(fd);
    rmSync(lock, { force: true });
  }
}

/** Builds the bundle when it is missing or stale; returns its directory. */
export function ensureConsoleBuilt(force = false): Promise<string> {
  if (!force && consoleIsFresh()) return Promise.resolve(CONSOLE_OUT);
  building ??= withLock(async () => {
    if (!force && consoleIsFresh()) return CONSOLE_OUT; // another process built it while we waited
    let vite: typeof import("vite");
    try {
      vite = await import("vite");
    } catch {
      throw new Error("console: the page is not built and Vite is not installed (npm install, then npm run build:console)");
    }
    // built beside, then swapped in: a server never reads a half-written bundle
    const tmp = `${CONSOLE_OUT}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    await vite.build({
      root: CONSOLE_SRC,
      base: "./",
      configFile: false,
      logLevel: "warn",
      build: { outDir: tmp, emptyOutDir: true, assetsInlineLimit: 0, reportCompressedSize: false },
    });
    rmSync(CONSOLE_OUT, { recursive: true, force: true });
    renameSync(tmp, CONSOLE_OUT);
    return CONSOLE_OUT;
  }).finally(() => (building = undefined));
  return building;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await ensureConsoleBuilt(process.argv.includes("--force"));
  process.stdout.write(`console: built into ${CONSOLE_OUT}\n`);
}
