// One process of the full APDU fuzzing run (apdu-fuzz.test.ts splits the full count across
// cores): `node --import tsx test/reliability/apdu-fuzz-worker.ts <seed> <apdus>` builds its own
// fixtures, runs apdu-fuzz-engine.ts and prints its FuzzStats as one JSON line on stdout.
import { buildFixtures, runFuzz } from "./apdu-fuzz-engine.ts";

const seed = Number(process.argv[2]);
const apdus = Number(process.argv[3]);
const fx = await buildFixtures(`worker-${seed}`);
const st = await runFuzz(fx, { seed, apdus });
process.stdout.write(JSON.stringify(st) + "\n");
