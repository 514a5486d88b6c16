// Vitest global setup of the `unit` project (vitest.config.ts): one private PostgreSQL 15
// cluster per run for the ledger suites' PostgreSQL backend (test/support/postgres.ts),
// stopped by PID afterwards. The test files find it through `inject("postgres")` and
// process.env.WALLET_TEST_PG_URL (inherited by workers and by `wallet` child processes).
// Where no cluster can be started (not root, no WALLET_TEST_PG_URL) the PostgreSQL halves
// of the suites are skipped with the reason, printed once here.
import type { TestProject } from "vitest/node";
import { startPostgres, type PgCluster } from "./postgres.ts";

export type PostgresInfo = { url: string; tcpUrl: string } | { skip: string };

declare module "vitest" {
  interface ProvidedContext {
    postgres: PostgresInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let cluster: PgCluster | undefined;
  if (process.env.WALLET_TEST_PG === "0") {
    project.provide("postgres", { skip: "WALLET_TEST_PG=0" });
    return async () => {};
  }
  const c = await startPostgres({ log: (s) => console.error(s) });
  if (typeof c === "string") {
    console.error(`postgres: the PostgreSQL ledger tests are SKIPPED: ${c}`);
    project.provide("postgres", { skip: c });
    return async () => {};
  }
  cluster = c;
  process.env.WALLET_TEST_PG_URL = c.url;
  project.provide("postgres", { url: c.url, tcpUrl: c.tcpUrl });
  const stop = async () => {
    const p = cluster;
    cluster = undefined;
    await p?.stop();
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
  return stop;
}
