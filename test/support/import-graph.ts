// The module graph of the repository's parts (DESIGN.md §2), read from the sources: every
// static `import … from`, `export … from`, side-effect `import "…"` and `import("…")` with a
// literal specifier, read from the TypeScript syntax tree (so imports inside comments,
// strings and regular expressions are not counted, and none is missed after one). Type-only
// imports count too: a cycle of types is still a cycle of modules. Bare specifiers (`node:fs`, packages) are not part of the graph.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";

export const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..", "..");

/** The parts whose sources the graph covers; test/ is read too, as an importer only. */
export const PARTS = ["firmware", "protocol", "wearable-sim", "host-tools", "bench", "scripts", "test"] as const;
export type Part = (typeof PARTS)[number];

const SOURCE = /\.(ts|mts|mjs|js|cjs)$/;
const SKIP_DIRS = new Set(["node_modules", "build", "dist", "coverage", ".rig"]);

export interface ImportEdge {
  /** importing file, repository-relative with `/` */
  from: string;
  /** the specifier as written */
  spec: string;
  /** 1-based line of the specifier in `from` */
  line: number;
  /** through the package's `exports` (a self-reference `offline-wallet/…`), not a relative path */
  viaExports?: boolean;
  /** resolved file, repository-relative, or null when nothing on disk matches */
  to: string | null;
}

export interface ImportGraph {
  files: string[];
  edges: ImportEdge[];
}

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    if (name.startsWith(".") || SKIP_DIRS.has(name)) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (SOURCE.test(name) && !name.endsWith(".d.ts")) out.push(p);
  }
}

export function rel(p: string): string {
  return relative(ROOT, p).split(sep).join("/");
}

/** Resolve a relative specifier the way tsx/asc do here: as written, then with an extension, then as a folder index. */
function resolveSpec(fromAbs: string, spec: string): string | null {
  const base = resolve(dirname(fromAbs), spec);
  const candidates = [base, `${base}.ts`, `${base}.mts`, `${base}.mjs`, `${base}.js`, join(base, "index.ts"), join(base, "index.js")];
  // tsc-style `./x.js` naming a `./x.ts`
  if (/\.m?js$/.test(spec)) candidates.push(base.replace(/\.(m?)js$/, ".$1ts"));
  for (const c of candidates) if (existsSync(c) && statSync(c).isFile()) return rel(c);
  return null;
}

/** The package's own name and its `exports` map (package.json): the parts' public entries. */
export const PACKAGE = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { name: string; exports: Record<string, string> };

/** A self-reference (`offline-wallet/host-tools`) resolved through `exports` as Node does: an
 * exact subpath, or one `*` pattern; null when the package does not export it (Node refuses
 * it with ERR_PACKAGE_PATH_NOT_EXPORTED). */
export function resolveExport(spec: string): string | null {
  const sub = "." + spec.slice(PACKAGE.name.length);
  for (const [key, target] of Object.entries(PACKAGE.exports)) {
    const star = key.indexOf("*");
    let file: string | null = null;
    if (star < 0) file = key === sub ? target : null;
    else if (sub.startsWith(key.slice(0, star)) && sub.endsWith(key.slice(star + 1)) && sub.length >= key.length - 1)
      file = target.replace("*", sub.slice(star, sub.length - (key.length - star - 1)));
    if (file !== null) return existsSync(join(ROOT, file)) ? rel(join(ROOT, file)) : null;
  }
  return null;
}

export function partOf(file: string): Part | null {
  const top = file.split("/")[0];
  return (PARTS as readonly string[]).includes(top) ? (top as Part) : null;
}

/**
 * The module specifiers of one file, from its syntax tree (a scanner alone mistakes a quote
 * inside a regular expression for a string and loses every import after it): import and
 * export declarations, `import x = require("…")`, and `import("…")` / `require("…")` calls
 * with a literal argument.
 */
function specifiers(file: string, text: string): { text: string; pos: number }[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, /\.(m|c)?js$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS);
  const out: { text: string; pos: number }[] = [];
  const add = (n: ts.Node | undefined) => {
    if (n && (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n))) out.push({ text: n.text, pos: n.getStart(sf) });
  };
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) add(n.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) add(n.moduleReference.expression);
    else if (ts.isCallExpression(n) && n.arguments.length >= 1 && (n.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(n.expression) && n.expression.text === "require")))
      add(n.arguments[0]);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

export function readGraph(): ImportGraph {
  const abs: string[] = [];
  for (const part of PARTS) if (existsSync(join(ROOT, part))) walk(join(ROOT, part), abs);
  abs.sort();
  const edges: ImportEdge[] = [];
  for (const f of abs) {
    const text = readFileSync(f, "utf8");
    for (const ref of specifiers(f, text)) {
      const spec = ref.text;
      const self = spec === PACKAGE.name || spec.startsWith(PACKAGE.name + "/");
      if (!self && !spec.startsWith(".") && !spec.startsWith("/")) continue; // packages and node: built-ins
      const line = text.slice(0, ref.pos).split("\n").length;
      edges.push({ from: rel(f), spec, line, to: self ? resolveExport(spec) : resolveSpec(f, spec), viaExports: self });
    }
  }
  return { files: abs.map(rel), edges };
}

/** Every elementary cycle found by a depth-first search, each once, as a closed path `a → b → … → a`. */
export function findCycles(graph: ImportGraph, include: (file: string) => boolean = () => true): string[][] {
  const adj = new Map<string, string[]>();
  for (const e of graph.edges) {
    if (!e.to || !include(e.from) || !include(e.to)) continue;
    const list = adj.get(e.from) ?? [];
    if (!list.includes(e.to)) list.push(e.to);
    adj.set(e.from, list);
  }
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, 1 | 2>(); // 1 on the stack, 2 done
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 1);
    stack.push(n);
    for (const m of adj.get(n) ?? []) {
      const s = state.get(m);
      if (s === 1) {
        const path = stack.slice(stack.indexOf(m));
        // one report per cycle, whatever node the search entered it by
        const key = [...path].sort().join("|");
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push([...path, m]);
        }
      } else if (s === undefined) visit(m);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of [...adj.keys()].sort()) if (!state.has(n)) visit(n);
  return cycles;
}
