// The README's test command: runs the whole vitest suite (unit + integration,
// which starts its own rig), then prints one plain summary line for CI:
//   tests: N passed, M failed
import { spawnSync } from "node:child_process";
import { readFileSync, mkdirSync, rmSync } from "node:fs";

const ROOT = new URL("..", import.meta.url).pathname;
mkdirSync(`${ROOT}build`, { recursive: true });
const report = `${ROOT}build/vitest-report.json`;
rmSync(report, { force: true }); // never read a previous run's counts
const args = ["node_modules/vitest/vitest.mjs", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...process.argv.slice(2)];
const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: "inherit" });
let passed = 0, failed = 0;
try {
  const j = JSON.parse(readFileSync(report, "utf8"));
  passed = j.numPassedTests ?? 0;
  failed = j.numFailedTests ?? 0;
  // a file that fails to load, or a global setup that fails, counts no test: count the suites
  if (failed === 0 && (j.numFailedTestSuites ?? 0) > 0) failed = j.numFailedTestSuites;
} catch (e) {
  console.error(`test: no JSON report (${e.message})`);
}
if (r.status !== 0 && failed === 0) {
  console.error(`test: vitest exited ${r.status} with no failed test counted (setup error): counted as 1 failure`);
  failed = 1;
}
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(r.status === 0 && failed === 0 ? 0 : 1);
