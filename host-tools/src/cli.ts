// The `wallet` CLI (DESIGN.md §6; README "The `wallet` CLI"): a table of subcommands, each with its own options, all
// sharing the global ones (--json, --help, --home, --trace, channel selection).
// Every command returns { data, text }: `--json` prints data as one JSON document,
// otherwise text is printed. Every expected failure is a WalletError: one line on
// stderr (and {"ok":false,...} on stdout with --json) and its exit code (errors.ts).
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { readFileSync } from "node:fs";
import { EXIT_INTERNAL, EXIT_OK, usageError } from "./errors.ts";
import { cliError } from "./cli-errors.ts";
import { ensureHome, register, registered, type Command, type Ctx, type Options, type Output, type Values } from "./commands/command.ts";

export type { Command, Ctx, Options, Output, Values };
export { ensureHome, register };

export const GLOBAL_OPTIONS: Options = {
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
  home: { type: "string" },
  keystore: { type: "string" },
  ledger: { type: "string" },
  trace: { type: "boolean", default: false },
  version: { type: "boolean", default: false },
};

/** host-tools' version: the package's. */
export function version(): string {
  return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

const registry = registered();

let optionHelp: Record<string, string> = {};

/** One line per option: the flag, its value, what it means (unit, range, default). */
function optionLines(opts: Options, own: Record<string, string> = {}): string {
  const rows = Object.entries(opts).map(([k, o]) => [`--${k}${o.short ? `, -${o.short}` : ""}${o.type === "string" ? " VALUE" : ""}${o.multiple ? " (repeatable)" : ""}`, own[k] ?? optionHelp[k] ?? ""]);
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([f, h]) => `  ${f.padEnd(w)}  ${h}`.trimEnd()).join("\n");
}

/** The help text of an option (undefined when none is written: a test looks for those). */
export function optionHelpText(c: Command, key: string): string | undefined {
  return c.optionHelp?.[key] ?? optionHelp[key];
}

function helpFor(c: Command): string {
  const opts = c.options && Object.keys(c.options).length ? optionLines(c.options, c.optionHelp) : "";
  return [
    `wallet ${c.name} ${c.usage}`.trimEnd(),
    "",
    c.summary,
    opts ? `\nOptions:\n${opts}` : "",
    `\nGlobal options:\n${optionLines(GLOBAL_OPTIONS)}`,
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
    "Exit codes: 0 ok, 1 internal, 2 usage, 3 device, 4 data, 5 auth, 6 not found, 7 refused, 8 storage.",
  ].join("\n");
}

/** A SQLite file path (resolved), or a PostgreSQL URL (postgres://… or postgresql://…) as given. */
export const ledgerLocation = (v: string): string => (/^postgres(ql)?:\/\//i.test(v) ? v : resolve(v));

export function makeCtx(values: Values, env: NodeJS.ProcessEnv = process.env): Ctx {
  const home = resolve((values.home as string) ?? env.WALLET_HOME ?? "wallet-data");
  return {
    json: !!values.json,
    trace: !!values.trace,
    home,
    keystorePath: resolve((values.keystore as string) ?? env.WALLET_KEYSTORE ?? join(home, "keystore.json")),
    ledgerPath: ledgerLocation((values.ledger as string) ?? env.WALLET_LEDGER ?? join(home, "ledger.sqlite")),
    env,
    log: (line) => process.stderr.write(line + "\n"),
  };
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

/** Edit distance (insert, delete, substitute, swap two neighbours) for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.length][b.length];
}

/** The closest of `names` to `word`, when it is close enough to be a typo. */
export function didYouMean(word: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const dd = distance(word.toLowerCase(), n.toLowerCase());
    if (dd < bestD) (best = n), (bestD = dd);
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(Math.min(word.length, best.length) / 3)) ? best : undefined;
}

const suggest = (hit: string | undefined, what: (h: string) => string) => (hit ? `; did you mean ${what(hit)}?` : "");

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
      if (argv[0] === "--version" || argv[0] === "-V") {
        process.stdout.write(json ? JSON.stringify({ ok: true, version: version() }) + "\n" : `wallet (host-tools) ${version()}\n`);
        return 0;
      }
      const words = wordIndexes(argv).map((i) => argv[i]);
      if (group.length) {
        const subs = group.map((c) => c.name.split(" ").pop()!);
        const typo = words[1] !== undefined ? didYouMean(words[1], subs) : undefined;
        if (words[1] !== undefined) throw usageError(`unknown command "${prefix} ${words[1]}"${suggest(typo, (h) => `\`wallet ${prefix} ${h}\``)} (subcommands: ${subs.join(", ")})`);
        throw usageError(`\`wallet ${prefix}\` needs a subcommand: ${subs.join(", ")}`);
      }
      if (!prefix) throw usageError(`no command given (see \`wallet --help\`)`);
      // a typo in the first word ("personlize") or in the second ("devices lst" is caught above)
      const tops = [...new Set(registry.map((c) => c.name.split(" ")[0]))];
      const top = didYouMean(prefix, tops);
      let hint = top;
      if (top && !registry.some((c) => c.name === top) && words[1] !== undefined) {
        const sub = didYouMean(words[1], registry.filter((c) => c.name.startsWith(top + " ")).map((c) => c.name.split(" ")[1]));
        if (sub) hint = `${top} ${sub}`;
      }
      throw usageError(`unknown command "${prefix}"${suggest(hint, (h) => `\`wallet ${h}\``)} (see \`wallet --help\`)`);
    }
    let parsed;
    const allOptions = { ...GLOBAL_OPTIONS, ...cmd.options };
    try {
      parsed = parseArgs({ args: rest, options: allOptions, allowPositionals: true, strict: true });
    } catch (e) {
      const m = (e as Error).message.split("\n")[0];
      const unknown = /Unknown option '--([^'=]+)'/.exec(m)?.[1];
      if (unknown) throw usageError(`unknown option --${unknown}${suggest(didYouMean(unknown, Object.keys(allOptions)), (h) => `--${h}`)} (see \`wallet ${cmd.name} --help\`)`);
      throw usageError(`${m.replace(/\. To specify a positional argument.*$/, "")} (see \`wallet ${cmd.name} --help\`)`);
    }
    const values = parsed.values as Values;
    json = !!values.json;
    if (values.help) {
      process.stdout.write(helpFor(cmd) + "\n");
      return 0;
    }
    if (values.version) {
      process.stdout.write(`wallet (host-tools) ${version()}\n`);
      return 0;
    }
    const [min, max] = cmd.args ?? [0, 0];
    if (parsed.positionals.length < min || parsed.positionals.length > max)
      throw usageError(`wallet ${cmd.name} ${cmd.usage} (see --help)`);
    const ctx = makeCtx(values, env);
    const out = await cmd.run(ctx, parsed.positionals, values);
    const code = out.exitCode ?? EXIT_OK;
    if (json) process.stdout.write(JSON.stringify(code === EXIT_OK ? { ok: true, ...(out.data as object) } : { ok: false, error: out.error, exitCode: code, ...(out.data as object) }, jsonReplacer) + "\n");
    else process.stdout.write(out.text + (out.text.endsWith("\n") || !out.text ? "" : "\n"));
    if (code !== EXIT_OK) process.stderr.write(`wallet: ${out.error ?? "failed"}\n`);
    return code;
  } catch (e) {
    // every expected failure is one line and its code (cli-errors.ts); only bugs get a stack
    const we = cliError(e);
    process.stderr.write(`wallet: ${we.message}\n`);
    if (json) process.stdout.write(JSON.stringify({ ok: false, error: we.exitCode === EXIT_INTERNAL ? String((e as Error)?.message ?? e) : we.message, exitCode: we.exitCode }) + "\n");
    return we.exitCode;
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
  await import("./commands/card-cmds.ts");
  optionHelp = (await import("./commands/help.ts")).OPTION_HELP;
}

/** The registered commands (for tests: every option must have a help text). */
export async function commands(): Promise<Command[]> {
  await loadCommands();
  return [...registry];
}

// run directly: `npx tsx host-tools/src/cli.ts ...`
if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
