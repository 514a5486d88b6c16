// Key generation never hangs (host-tools/src/sig.ts generateKeyPair): exporting a freshly
// generated KeyObject deadlocked Node 20 when a garbage collection during the export finalized
// the generation job (it locks the key's mutex that the export holds). Every personalization,
// test fleet and bench workload makes keys in a loop; the bench of 10,000 devices hung for good.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

describe("P-256 key generation", () => {
  it("40,000 key pairs with the collector running often: all made, no hang", { timeout: 120_000 }, () => {
    const r = spawnSync(process.execPath, ["--max-semi-space-size=1", "--import", "tsx", join(import.meta.dirname, "support/keygen-gc-child.ts"), "40000"], { encoding: "utf8", timeout: 90_000 });
    expect(r.signal, "the child hung and was killed").toBeNull();
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout.trim())).toEqual({ generated: 40_000 });
  });
});
