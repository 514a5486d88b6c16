// Projects: `unit` (in-process; a private PostgreSQL for the ledger suites), `slow` (the
// 10,000-case crypto differential runs) and `integration`
// (real pcscd + vpcd and pty pairs, started by test/rig/global-setup.ts).
import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 120_000,
    // vitest's default leaves one core idle: on the 2-core CI machine that runs every file
    // one after another (≈ 20 min); files are independent (own temp dirs, a private
    // PostgreSQL per run; the integration files still run one at a time)
    maxWorkers: Math.max(2, availableParallelism()),
    hookTimeout: 180_000,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/integration/**", "test/reliability/**", "test/slow/**", "node_modules/**"],
          // a private PostgreSQL 15 cluster for the ledger suites' second backend
          globalSetup: ["test/support/postgres-setup.ts"],
        },
      },
      {
        extends: true,
        test: {
          // the 10,000-case differential runs against sm-crypto and OpenSSL (minutes each):
          // part of `npm test`, left out of a quick `--project unit`
          name: "slow",
          include: ["test/slow/**/*.test.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/rig/global-setup.ts"],
          // one pcscd and fixed vpcd ports: integration files run one at a time
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: "reliability",
          // lost answers, fuzzing, crash safety, fraud detection: reliability-report.md
          include: ["test/reliability/**/*.test.ts"],
          globalSetup: ["test/reliability/teardown.ts"],
        },
      },
    ],
  },
});
