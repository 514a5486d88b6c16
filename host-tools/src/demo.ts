// `npm run demo` (issue 6 "Demo"): the end-to-end offline payment scenario, in-process,
// with no services. It runs every step that exists today and says which are still to
// come; it always exits 0 when what exists works.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keystore } from "./keystore.ts";

const say = (s: string) => process.stdout.write(s + "\n");
const step = (n: number, s: string) => say(`\n[${n}] ${s}`);

const dir = mkdtempSync(join(tmpdir(), "wallet-demo-"));
try {
  const t0 = Date.now();
  step(1, "issuer init: SM2 and P-256 issuer CA keys + SCP03 master keys, sealed with scrypt + AES-256-GCM");
  const ks = Keystore.create(join(dir, "keystore.json"), "demo passphrase");
  for (const k of ks.keys()) say(`    ${k.suite.padEnd(4)} key id ${k.kid} (${k.status})`);
  step(2, "personalize, load, pay, transfer, clone, sync, reconcile: landing with the firmware applet");
  say(`\ndemo finished in ${Date.now() - t0} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
