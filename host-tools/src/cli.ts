// The `wallet` CLI (issue 6): a table of subcommands, each with its own options, all
// sharing the global ones (--json, --help, --home, --trace, channel selection).
// Every command returns { data, text }: `--json` prints data as one JSON document,
// otherwise text is printed. Every expected failure is a WalletError: one line on
// stderr (and {"ok":false,...} on stdout with --json) and its exit code (errors.ts).
import { parseArgs, type ParseArgsConfig } from "node:util";
import { join, resolve } from "node:path";
import { mkdirSync } from "node:fs";
import { EXIT_DATA, EXIT_DEVICE, EXIT_INTERNAL, EXIT_USAGE, WalletError, usageError } from "./errors.ts";
import { ApduError } from "../../protocol/src/sw.ts";
import { FormatError } from "../../protocol/src/errors.ts";

export type Options = ParseArgsConfig["options"] & object;
export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Output {
  data: unknown;
  text: string;
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
  args?: [min: number, max: number];
  examples?: string[];
  run(ctx: Ctx, args: string[], opts: Values): Promise<Output>;
}

export const GLOBAL_OPTIONS: Options = {
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
  home: { type: "string" },
  keystore: { type: "string" },
  ledger: { type: "string" },
  trace: { type: "boolean", default: false },
};

const registry: Command[] = [];
export function register(...cmds: Command[]): void {
  registry.push(...cmds);
}

function helpFor(c: Command): string {
  const opts = Object.entries(c.options ?? {})
    .map(([k, o]) => `  --${k}${o.type === "string" ? " VALUE" : ""}${o.multiple ? " (repeatable)" : ""}`)
    .join("\n");
  return [
    `wallet ${c.name} ${c.usage}`.trimEnd(),
    "",
    c.summary,
    opts ? `\nOptions:\n${opts}` : "",
    "\nGlobal: --json  --home DIR  --keystore FILE  --ledger FILE  --trace  --help",
    c.examples?.length ? `\nExamples:\n${c.examples.map((e) => `  ${e}`).join("\n")}` : "",
  ].join("\n");
}

function overview(): string {
  const w = Math.max(...registry.map((c) => c.name.length));
  return [
    "wallet — issuer keys, personalization, loads, POS, sync, reconciliation, devices",
    "",
    "Usage: wallet <command> [args] [--json] [--help]",
    "",
    ...registry.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    "",
    "Exit codes: 0 ok, 1 internal, 2 usage, 3 device, 4 data, 5 auth, 6 not found, 7 refused.",
  ].join("\n");
}

export function makeCtx(values: Values, env: NodeJS.ProcessEnv = process.env): Ctx {
  const home = resolve((values.home as string) ?? env.WALLET_HOME ?? "wallet-data");
  return {
    json: !!values.json,
    trace: !!values.trace,
    home,
    keystorePath: resolve((values.keystore as string) ?? env.WALLET_KEYSTORE ?? join(home, "keystore.json")),
    ledgerPath: resolve((values.ledger as string) ?? env.WALLET_LEDGER ?? join(home, "ledger.sqlite")),
    env,
    log: (line) => process.stderr.write(line + "\n"),
  };
}

export function ensureHome(ctx: Ctx): void {
  mkdirSync(ctx.home, { recursive: true, mode: 0o700 });
}

/** Indexes of argv that are words (not options nor the values of string options). */
function wordIndexes(argv: string[]): number[] {
  const takesValue = new Set<string>();
  for (const o of [GLOBAL_OPTIONS, ...registry.map((c) => c.options ?? {})])
    for (const [k, v] of Object.entries(o)) if (v.type === "string") (takesValue.add(`--${k}`), v.short && takesValue.add(`-${v.short}`));
  const out: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") break;
    if (a.startsWith("-")) {
      if (takesValue.has(a)) i++;
      continue;
    }
    out.push(i);
  }
  return out;
}

/** Finds the longest registered name matching the leading words of argv. */
function findCommand(argv: string[]): { cmd?: Command; rest: string[]; prefix: string } {
  const idx = wordIndexes(argv);
  const words = idx.map((i) => argv[i]);
  let best: Command | undefined;
  for (const c of registry) {
    const parts = c.name.split(" ");
    if (parts.every((p, i) => words[i] === p) && (!best || parts.length > best.name.split(" ").length)) best = c;
  }
  if (!best) return { rest: argv, prefix: words[0] ?? "" };
  const drop = new Set(idx.slice(0, best.name.split(" ").length));
  return { cmd: best, rest: argv.filter((_, i) => !drop.has(i)), prefix: best.name };
}

/** Runs the CLI; returns the exit code (never throws, never exits the process). */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  await loadCommands();
  const { cmd, rest, prefix } = findCommand(argv);
  let json = argv.includes("--json");
  try {
    if (!cmd) {
      const group = registry.filter((c) => c.name.startsWith(prefix + " "));
      if (argv.length === 0 || argv.includes("--help") || argv.includes("-h") || argv[0] === "help") {
        process.stdout.write((group.length ? group.map(helpFor).join("\n\n") : overview()) + "\n");
        return 0;
      }
      if (group.length) throw usageError(`\`wallet ${prefix}\` needs a subcommand: ${group.map((c) => c.name.split(" ").pop()).join(", ")}`);
      throw usageError(`unknown command "${prefix}" (see \`wallet --help\`)`);
    }
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...cmd.options }, allowPositionals: true, strict: true });
    } catch (e) {
      throw usageError(`${(e as Error).message.split("\n")[0]} (see \`wallet ${cmd.name} --help\`)`);
    }
    const values = parsed.values as Values;
    json = !!values.json;
    if (values.help) {
      process.stdout.write(helpFor(cmd) + "\n");
      return 0;
    }
    const [min, max] = cmd.args ?? [0, 0];
    if (parsed.positionals.length < min || parsed.positionals.length > max)
      throw usageError(`wallet ${cmd.name} ${cmd.usage} (see --help)`);
    const ctx = makeCtx(values, env);
    const out = await cmd.run(ctx, parsed.positionals, values);
    process.stdout.write(json ? JSON.stringify({ ok: true, ...(out.data as object) }, jsonReplacer) + "\n" : out.text + (out.text.endsWith("\n") || !out.text ? "" : "\n"));
    return 0;
  } catch (e) {
    // status words and malformed documents are expected failures too: one line, their code
    const we =
      e instanceof WalletError ? e
      : e instanceof ApduError ? new WalletError(`${e.message} (see \`wallet devices show\` or retry the tap)`, EXIT_DEVICE)
      : e instanceof FormatError ? new WalletError(e.message, EXIT_DATA)
      : undefined;
    const code = we?.exitCode ?? EXIT_INTERNAL;
    const msg = we ? we.message : `internal error: ${(e as Error)?.stack ?? e}`;
    process.stderr.write(`wallet: ${msg}\n`);
    if (json) process.stdout.write(JSON.stringify({ ok: false, error: we ? msg : String((e as Error)?.message ?? e), exitCode: code }) + "\n");
    return code === EXIT_USAGE ? EXIT_USAGE : code;
  }
}

/** JSON output: bytes as hex, bigints as numbers. */
export function jsonReplacer(_k: string, v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  if (v && typeof v === "object" && (v as { type?: string }).type === "Buffer" && Array.isArray((v as { data?: unknown }).data))
    return Buffer.from((v as { data: number[] }).data).toString("hex");
  if (typeof v === "bigint") return Number(v);
  return v;
}

let loaded = false;
async function loadCommands(): Promise<void> {
  if (loaded) return;
  loaded = true;
  // each module calls register(); importing them here keeps cli.ts free of command code
  await import("./commands/issuer.ts");
  await import("./commands/ledger-cmds.ts");
  await import("./commands/device-cmds.ts");
}

// run directly: `npx tsx host-tools/src/cli.ts ...`
if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
