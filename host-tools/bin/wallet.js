#!/usr/bin/env node
// `wallet` CLI entry (README "The `wallet` CLI"): runs the TypeScript sources through tsx so that the
// installed bin and `npx tsx host-tools/src/cli.ts` are the same program.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli.ts");
const code = await main(process.argv.slice(2));
process.exitCode = code;
// A one-shot tool: once main() has answered, nothing may keep the process alive. Channels
// release what they open, but a device binding that leaves a thread or a handle behind
// (pcsclite, serialport, a socket) must not turn an answered command into a hang. The
// timer is unref'd: a clean process exits at once without it.
setTimeout(() => process.exit(code), 500).unref();
