#!/usr/bin/env node
// `wallet` CLI entry (issue 6): runs the TypeScript sources through tsx so that the
// installed bin and `npx tsx host-tools/src/cli.ts` are the same program.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli.ts");
process.exitCode = await main(process.argv.slice(2));
