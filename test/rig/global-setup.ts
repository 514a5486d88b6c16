// Vitest global setup of the `integration` project (vitest.config.ts): prepares the
// machine (system packages, native bindings, TCP_NODELAY shim), starts a private pcscd
// with the vpcd reader and stops it by PID afterwards. See test/rig/README.md.
//
// Integration tests find the rig through process.env (inherited by vitest's workers and
// by any child process a test spawns):
//   PCSCLITE_CSOCK_NAME  pcscd's socket (libpcsclite reads it on the first context)
//   WALLET_VPCD_PORT     TCP port of vpcd slot 0 (VpcdCard adds the slot number)
// and through `inject("rig")` (the same plus the reader names).
import type { TestProject } from "vitest/node";
import { prepareRig, rigDir, startPcscd, VPCD_DEFAULT_PORT, type Pcscd } from "./rig.ts";

export interface RigInfo {
  socket: string;
  vpcdPort: number;
  readers: string[];
  private: boolean;
  log: string;
}

declare module "vitest" {
  interface ProvidedContext {
    rig: RigInfo;
  }
}

/** How many further vpcd port pairs the rig may try above the default one. */
const PORT_SEARCH = 20;

let pcscd: Pcscd | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = Date.now();
  prepareRig((s) => console.error(s));
  // an explicit WALLET_RIG_VPCD_PORT is taken strictly; by default the rig moves up to the
  // next free port pair when 35963 is held (a bench, another checkout's rig, a system pcscd)
  const fixed = Number(process.env.WALLET_RIG_VPCD_PORT);
  pcscd = await startPcscd({ dir: rigDir("tests"), portBase: fixed || VPCD_DEFAULT_PORT, portSearch: fixed ? 0 : PORT_SEARCH });
  Object.assign(process.env, pcscd.env);
  project.provide("rig", { socket: pcscd.socket, vpcdPort: pcscd.portBase, readers: pcscd.readers, private: pcscd.private, log: pcscd.log });
  console.error(`rig: pcscd ${pcscd.pid} ready (${pcscd.private ? "private" : "shared /run/pcscd"}, readers: ${pcscd.readers.join(", ")}, vpcd port ${pcscd.portBase}) in ${Date.now() - t0} ms`);
  const stop = async () => {
    const p = pcscd;
    pcscd = undefined;
    await p?.stop();
  };
  // a Ctrl-C must not leave pcscd behind (the next run would clear it anyway)
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
  return stop;
}
