// Builds the console page (wearable-sim/console/, vanilla TypeScript) with Vite into
// build/console/. The bundle is not committed: `npm test`'s console suite, `npm run
// build:console` and the first `wearable-sim start --console` build it (Vite is a
// devDependency, present after `npm ci` or `npm install` in a clone), and a bundle older
// than its sources is rebuilt, so a checkout never serves a stale page.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
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

/** Builds the bundle when it is missing or stale; returns its directory. */
export function ensureConsoleBuilt(force = false): Promise<string> {
  if (!force && consoleIsFresh()) return Promise.resolve(CONSOLE_OUT);
  building ??= (async () => {
    let vite: typeof import("vite");
    try {
      vite = await import("vite");
    } catch {
      throw new Error("console: the page is not built and Vite is not installed (npm install, then npm run build:console)");
    }
    await vite.build({
      root: CONSOLE_SRC,
      base: "./",
      configFile: false,
      logLevel: "warn",
      build: { outDir: CONSOLE_OUT, emptyOutDir: true, assetsInlineLimit: 0, reportCompressedSize: false },
    });
    return CONSOLE_OUT;
  })().finally(() => (building = undefined));
  return building;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await ensureConsoleBuilt(process.argv.includes("--force"));
  process.stdout.write(`console: built into ${CONSOLE_OUT}\n`);
}
