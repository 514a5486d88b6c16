// Projects: `unit` (in-process; a private PostgreSQL for the ledger suites) and `integration`
// (real pcscd + vpcd and pty pairs, started by test/rig/global-setup.ts).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 180_000,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/integration/**", "test/reliability/**", "node_modules/**"],
          // a private PostgreSQL 15 cluster for the ledger suites' second backend
          globalSetup: ["test/support/postgres-setup.ts"],
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
