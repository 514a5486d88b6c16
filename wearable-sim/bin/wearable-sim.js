#!/usr/bin/env node
// `wearable-sim` CLI entry (wearable-sim/README.md "Commands"): runs the TypeScript sources through tsx so
// that the installed bin and `npx tsx wearable-sim/src/cli.ts` are the same program.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli.ts");
process.exitCode = await main(process.argv.slice(2));
