// Headless Debian Chromium for the screenshot suites (wearable-sim/README.md "Golden screenshots"; TRAPS.md "Chromium"), driven by playwright-core,
// and a golden-PNG compare (pixelmatch + pngjs). Never downloads a browser: the binary is
// Debian's (`apt-get install chromium`, .ci/run). Without it: a skip with one line when not
// root (a developer's machine), a failure as root (CI installs it, so it must be there).
import { execSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";
import pixelmatch from "pixelmatch";
import type { BrowserContext } from "playwright-core";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const GOLDEN_DIR = join(ROOT, "test", "golden");
const DIFF_DIR = join(ROOT, "build", "golden-diff");
export const UPDATE_GOLDEN = process.env.UPDATE_GOLDEN === "1";

export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  // the same pixels on every run: no LCD subpixel text, one colour profile
  "--disable-lcd-text",
  "--force-color-profile=srgb",
  "--font-render-hinting=none",
];

/** Debian's chromium, or undefined when it is not installed. */
export function chromiumPath(): string | undefined {
  try {
    const p = execSync("command -v chromium", { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], shell: "/bin/sh" }).trim();
    return p && existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

let version: string | undefined;
/** "Chromium 150.0.7871.100 …" of the binary in use: written beside the goldens, named when one differs */
export function chromiumVersion(): string {
  if (version === undefined) {
    try {
      version = CHROMIUM ? execSync(`${CHROMIUM} --version`, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() : "no chromium";
    } catch {
      version = "unknown chromium";
    }
  }
  return version;
}

const isRoot = process.getuid?.() === 0;
export const CHROMIUM = chromiumPath();
/** skip (not root, no chromium) with one line; as root a missing chromium fails the suite */
export const SKIP_BROWSER = !CHROMIUM && !isRoot;
if (SKIP_BROWSER) console.log("screenshot suites skipped: Debian's chromium is not installed (apt-get install chromium)");

export async function launch(viewport = { width: 1440, height: 900 }): Promise<{ ctx: BrowserContext; close: () => Promise<void> }> {
  if (!CHROMIUM) throw new Error("chromium is not installed: apt-get install -y chromium (CI runs as root and must have it)");
  const { chromium } = await import("playwright-core");
  const dir = mkdtempSync(join(tmpdir(), "chromium-profile-"));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport,
    deviceScaleFactor: 1,
    locale: "en-US",
    timezoneId: "UTC",
    colorScheme: "light",
    reducedMotion: "reduce",
    acceptDownloads: false,
  });
  return {
    ctx,
    close: async () => {
      await ctx.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface GoldenResult {
  name: string;
  updated: boolean;
  diffPixels: number;
  ratio: number;
}

/**
 * Compares a PNG with test/golden/<name>.png: at most `tolerance` of the pixels may differ
 * (pixelmatch threshold 0.1, anti-aliased pixels ignored). UPDATE_GOLDEN=1 writes the
 * golden instead. A mismatch leaves <name>.actual.png and <name>.diff.png in build/golden-diff/.
 */
export function compareGolden(name: string, png: Buffer, tolerance = 0.001): GoldenResult {
  const file = join(GOLDEN_DIR, `${name}.png`);
  if (UPDATE_GOLDEN || !existsSync(file)) {
    if (!UPDATE_GOLDEN && process.env.CI) throw new Error(`golden ${name}.png is missing: run UPDATE_GOLDEN=1 npm test and commit test/golden/`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, png);
    writeFileSync(join(GOLDEN_DIR, "chromium.txt"), `${chromiumVersion()}\n`);
    return { name, updated: true, diffPixels: 0, ratio: 0 };
  }
  const want = PNG.sync.read(readFileSync(file));
  const got = PNG.sync.read(png);
  const fail = (why: string, diff?: PNG) => {
    mkdirSync(DIFF_DIR, { recursive: true });
    writeFileSync(join(DIFF_DIR, `${name}.actual.png`), png);
    if (diff) writeFileSync(join(DIFF_DIR, `${name}.diff.png`), PNG.sync.write(diff));
    const drawnBy = existsSync(join(GOLDEN_DIR, "chromium.txt")) ? readFileSync(join(GOLDEN_DIR, "chromium.txt"), "utf8").trim() : "?";
    throw new Error(`golden ${name}: ${why}; goldens drawn by ${drawnBy}, this is ${chromiumVersion()} (see build/golden-diff/; UPDATE_GOLDEN=1 rewrites the goldens)`);
  };
  if (want.width !== got.width || want.height !== got.height) fail(`size ${got.width}x${got.height}, golden ${want.width}x${want.height}`);
  const diff = new PNG({ width: want.width, height: want.height });
  const n = pixelmatch(want.data, got.data, diff.data, want.width, want.height, { threshold: 0.1 });
  const ratio = n / (want.width * want.height);
  if (ratio > tolerance) fail(`${n} pixels differ (${(ratio * 100).toFixed(2)} %, tolerance ${(tolerance * 100).toFixed(2)} %)`, diff);
  return { name, updated: false, diffPixels: n, ratio };
}
