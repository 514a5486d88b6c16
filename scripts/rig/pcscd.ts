// Manual control of a private rig pcscd (test/rig/README.md "By hand"), for debugging host tools or
// the simulator by hand without touching the test rig or a system pcscd:
//
//   npx tsx scripts/rig/pcscd.ts start [--name manual] [--port 36063] [--nagle]
//   eval "$(npx tsx scripts/rig/pcscd.ts env)"      # PCSCLITE_CSOCK_NAME, WALLET_VPCD_PORT
//   npx tsx scripts/rig/pcscd.ts status | stop [--name manual]
//
// Each name is its own rig directory (.rig/<name>/: config, socket, log, rig.json). pcscd
// keeps running after `start` returns; `stop` ends it by its recorded PID. Without --port
// the ports are searched upwards from 36063, away from the default 35963 that tests and
// benches use first. Library: test/rig/rig.ts; see test/rig/README.md.
import { clearStale, prepareRig, rigDir, runningRecord, startPcscd } from "../../test/rig/rig.ts";

const MANUAL_PORT = 36063; // 35963 + 100: clear of the test rig's and the benches' ports
const PORT_SEARCH = 20;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function envLines(socket: string, port: number): string {
  return `export PCSCLITE_CSOCK_NAME=${socket}\nexport WALLET_VPCD_PORT=${port}`;
}

async function main(): Promise<number> {
  const cmd = process.argv[2];
  const name = option("--name") ?? "manual";
  if (!/^[a-z0-9-]+$/.test(name)) throw new RangeError(`pcscd: bad --name "${name}" (use a-z, 0-9, -)`);
  const dir = rigDir(name);
  switch (cmd) {
    case "start": {
      if (runningRecord(dir)) throw new Error(`pcscd: "${name}" already runs; stop it first`);
      const fixed = option("--port") ? Number(option("--port")) : undefined;
      if (fixed !== undefined && !(Number.isInteger(fixed) && fixed > 0 && fixed < 0xffff)) throw new RangeError(`pcscd: bad --port`);
      prepareRig((s) => console.error(s));
      const p = await startPcscd({ dir, portBase: fixed ?? MANUAL_PORT, portSearch: fixed ? 0 : PORT_SEARCH, nodelay: !process.argv.includes("--nagle") });
      console.error(`pcscd ${p.pid} "${name}": readers ${p.readers.join(", ")}; vpcd port ${p.portBase}; log ${p.log}`);
      console.log(envLines(p.socket, p.portBase));
      return 0;
    }
    case "env":
    case "status": {
      const rec = runningRecord(dir);
      if (!rec || !rec.socket || !rec.portBase) {
        console.error(`pcscd: "${name}" is not running`);
        return 1;
      }
      console.log(cmd === "env" ? envLines(rec.socket, rec.portBase) : `pcscd ${rec.pcscd} "${name}": socket ${rec.socket}; vpcd port ${rec.portBase}`);
      return 0;
    }
    case "stop":
      console.error((await clearStale(dir, true)) ? `pcscd: "${name}" stopped` : `pcscd: "${name}" was not running`);
      return 0;
    default:
      console.error("usage: scripts/rig/pcscd.ts start|env|status|stop [--name N] [--port P] [--nagle]");
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(e.message.split("\n")[0]);
    process.exit(1);
  },
);
