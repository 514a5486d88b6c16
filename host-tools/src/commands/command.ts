// What a `wallet` subcommand is, and the table they register into (README "The `wallet` CLI").
// A leaf: the command modules and the CLI both import it, and it imports neither, so no
// command reaches back into cli.ts. Every command returns { data, text }: `--json` prints
// data as one JSON document, otherwise text is printed.
import type { ParseArgsConfig } from "node:util";
import { dirname } from "node:path";
import { existsSync, mkdirSync } from "node:fs";

export type Options = ParseArgsConfig["options"] & object;
export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Output {
  data: unknown;
  text: string;
  /** a result that is also a failure (a batch with failed rows): its exit code and one line */
  exitCode?: number;
  error?: string;
}

export interface Ctx {
  json: boolean;
  trace: boolean;
  home: string;
  keystorePath: string;
  ledgerPath: string;
  env: NodeJS.ProcessEnv;
  /** progress and trace lines: stderr, never stdout (stdout is the result) */
  log(line: string): void;
}

export interface Command {
  name: string; // "issuer init"
  summary: string;
  usage: string; // after the name: "<file>... [--x N]"
  options?: Options;
  /** what an option means here when it differs from the shared table (commands/help.ts) */
  optionHelp?: Record<string, string>;
  args?: [min: number, max: number];
  examples?: string[];
  run(ctx: Ctx, args: string[], opts: Values): Promise<Output>;
}

const registry: Command[] = [];

/** Called by each command module when it is loaded (cli.ts loads them all). */
export function register(...cmds: Command[]): void {
  registry.push(...cmds);
}

/** The commands registered so far, in registration order. */
export function registered(): readonly Command[] {
  return registry;
}

export function ensureHome(ctx: Ctx): void {
  if (existsSync(ctx.home)) return;
  try {
    mkdirSync(ctx.home, { recursive: true, mode: 0o700 });
  } catch (e) {
    // a recursive mkdir reports a read-only or forbidden parent as ENOENT: ask once more
    // without it, for the real reason (EROFS, EACCES)
    if (existsSync(dirname(ctx.home))) mkdirSync(ctx.home, { mode: 0o700 });
    throw e;
  }
}
