// A private SoftHSM2 token for tests (TRAPS.md "SoftHSM2"): its own
// SOFTHSM2_CONF and token directory under a temporary folder, initialized with
// `softhsm2-util --init-token --free`. SOFTHSM2_CONF is set in this process (the library reads
// it at C_Initialize) and returned for child processes. Null when softhsm2 is not installed:
// a test then fails, saying so (CI installs it: .ci/run PACKAGES).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const SOFTHSM_MODULES = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"];

export interface TestToken {
  module: string;
  label: string;
  pin: string;
  soPin: string;
  conf: string;
}

export function softhsmModule(): string | undefined {
  return SOFTHSM_MODULES.find((m) => existsSync(m));
}

let conf: string | undefined;

/** Initializes a fresh token labelled `label` in this process's private token directory.
 * Make every token a test needs before the first keystore opens the library: SoftHSM2
 * reads its token directory at C_Initialize, once per process. */
export function initTestToken(label = "wallet-test"): TestToken {
  const module = softhsmModule();
  if (!module) throw new Error(`softhsm2 is not installed (none of ${SOFTHSM_MODULES.join(", ")}): apt-get install -y softhsm2`);
  if (!conf) {
    const dir = mkdtempSync(join(tmpdir(), "softhsm-"));
    const tokens = join(dir, "tokens");
    mkdirSync(tokens);
    conf = join(dir, "softhsm2.conf");
    writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
    process.env.SOFTHSM2_CONF = conf;
  }
  const t: TestToken = { module, label, pin: "246813", soPin: "13572468", conf };
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", label, "--so-pin", t.soPin, "--pin", t.pin], { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: "pipe" });
  return t;
}
