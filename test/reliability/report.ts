// Figures of the reliability suite (`npm run test:reliability`): each test records the
// figures it measured with `figure()`; the project's global teardown (teardown.ts) writes
// them, one line each, into reliability-report.md at the repository root.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const REPORT_DIR = join(import.meta.dirname, "../../build/reliability");

/** Full counts (`npm run test:reliability -- --full`), else the counts that fit CI. */
export const FULL = process.env.RELIABILITY_FULL === "1";

/** Picks the full or the CI count. */
export const count = (ci: number, full: number): number => (FULL ? full : ci);

export interface Figure {
  section: string; // "Lost-answer sweep", "APDU fuzzing", "Crash safety", "Fraud detection"
  name: string; // what was measured
  value: string | number;
  /** the value the issue requires, for the report's verdict column (e.g. "0", "100%") */
  required?: string;
  ok: boolean;
}

/** Records one section's figures (a file per section and test, so parallel files do not clash). */
export function figures(file: string, figs: Figure[]): void {
  mkdirSync(REPORT_DIR, { recursive: true });
  writeFileSync(join(REPORT_DIR, `${file}.json`), JSON.stringify({ full: FULL, at: new Date().toISOString(), figures: figs }, null, 2));
}
