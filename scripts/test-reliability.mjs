// `npm run test:reliability [-- --full]`: the reliability project alone (vitest), at CI
// counts or, with --full, the full ones; the project's teardown writes reliability-report.md.
import { spawnSync } from "node:child_process";

const ROOT = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
const full = args.includes("--full");
const rest = args.filter((a) => a !== "--full");
const r = spawnSync(process.execPath, ["node_modules/vitest/vitest.mjs", "run", "--project", "reliability", ...rest], {
  cwd: ROOT, stdio: "inherit", env: { ...process.env, ...(full ? { RELIABILITY_FULL: "1" } : {}) },
});
console.log(`reliability report: ${ROOT}reliability-report.md`);
process.exit(r.status ?? 1);
