// Runs the `wallet` CLI in-process with its stdout and stderr captured: for programs that
// embed the CLI (tests, benches, scripts) and want its exit code and output as values.
import { main } from "./cli.ts";

export interface Captured {
  code: number;
  out: string;
  err: string;
}

export async function runCaptured(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const w1 = process.stdout.write;
  const w2 = process.stderr.write;
  process.stdout.write = ((s: string | Uint8Array) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => (err.push(String(s)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(argv, env), out: out.join(""), err: err.join("") };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}
