// The parts' boundaries and the module graph (DESIGN.md §2, README "Architecture"): every
// import in firmware/, protocol/, wearable-sim/, host-tools/, bench/ and scripts/ crosses a
// part's boundary only through that part's public entry, and no modules import each other
// in a cycle. test/ may import anything (it is the rig, and tests reach internals on purpose).
import { describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { findCycles, PACKAGE, partOf, readGraph, resolveExport, ROOT, PARTS, type ImportEdge, type Part } from "./support/import-graph.ts";
import { spawnSync } from "node:child_process";

/**
 * Each part's public entries (repository-relative; a trailing `*` matches the files of that
 * folder, not its subfolders) and which other parts may import it through them.
 */
const ENTRIES: Record<Exclude<Part, "test">, { entries: string[]; importers: Part[] }> = {
  // the one source of truth: its portable constants and host codecs are all public
  protocol: { entries: ["protocol/portable/*", "protocol/src/*"], importers: ["firmware", "wearable-sim", "host-tools", "bench", "scripts"] },
  // AssemblyScript compiled to firmware.wasm: reached as a module binary, never imported
  firmware: { entries: [], importers: [] },
  // the simulator's surface: devices, fleets and transports; fixtures for benches
  "wearable-sim": { entries: ["wearable-sim/src/index.ts", "wearable-sim/test-fixtures/*"], importers: ["host-tools", "bench"] },
  // the host library behind the `wallet` CLI
  "host-tools": { entries: ["host-tools/src/index.ts"], importers: ["bench"] },
  bench: { entries: [], importers: [] },
  scripts: { entries: [], importers: [] },
};

/** Narrower rules than "public entries only", where a part's design restricts it further. */
function narrower(e: ImportEdge, from: Part, to: Part): string | null {
  // firmware is built by asc alone: it may import only itself and the portable constants
  if (from === "firmware" && !(to === "firmware" || e.to!.startsWith("protocol/portable/")))
    return "firmware imports only firmware/ and protocol/portable/";
  // the protocol depends on nothing else of the repository
  if (from === "protocol" && to !== "protocol") return "protocol imports only protocol/";
  // benches and scripts may reuse the test rig's helpers, never a test file
  if (to === "test" && from !== "test") {
    if (from !== "bench" && from !== "scripts") return "only bench/ and scripts/ may use the test rig";
    if (/\.test\.ts$/.test(e.to!)) return "a test file is not a helper";
    return "ok";
  }
  return null;
}

function matches(file: string, pattern: string): boolean {
  if (!pattern.endsWith("*")) return file === pattern;
  const dir = pattern.slice(0, -1);
  return file.startsWith(dir) && !file.slice(dir.length).includes("/");
}

function violation(e: ImportEdge): string | null {
  if (e.to === null) return `does not resolve to a file`;
  const from = partOf(e.from), to = partOf(e.to);
  if (from === null || to === null) return `reaches outside the parts (${e.to})`;
  if (from === "test") return null;
  const n = narrower(e, from, to);
  if (n === "ok") return null;
  if (n !== null) return n;
  if (from === to) return null;
  const rule = ENTRIES[to as Exclude<Part, "test">];
  if (!rule.importers.includes(from)) return `${from}/ may not import ${to}/ at all`;
  if (!rule.entries.some((p) => matches(e.to!, p))) return `${to}/ is reached only through ${rule.entries.join(", ")}`;
  // the simulator and the host library are reached by the package's name, so that Node and
  // Vite themselves refuse anything `exports` does not list (ERR_PACKAGE_PATH_NOT_EXPORTED)
  if ((to === "host-tools" || to === "wearable-sim") && !e.viaExports) return `${to}/ is imported as "${PACKAGE.name}/${to}" (package.json exports), not by a relative path`;
  return null;
}

/**
 * Debts being paid, listed so that every commit stays green while they are: each entry must
 * still occur (a paid debt is struck from here), and nothing else may.
 */
const KNOWN_CROSSINGS: string[] = [
];
const KNOWN_CYCLES: string[] = [
];

/** Fails on anything found that is not a listed debt, and on a listed debt no longer found. */
function expectOnly(found: string[], known: string[], what: string, key: (s: string) => string = (s) => s): void {
  const knownKeys = new Set(known.map(key));
  const foundKeys = new Set(found.map(key));
  const fresh = found.filter((f) => !knownKeys.has(key(f)));
  const paid = known.filter((k) => !foundKeys.has(key(k)));
  expect(fresh, `${what}:\n  ${fresh.join("\n  ")}\n`).toEqual([]);
  expect(paid, `no longer found, strike from the known list in test/structure.test.ts:\n  ${paid.join("\n  ")}\n`).toEqual([]);
}

const graph = readGraph();

describe("part boundaries (DESIGN.md §2)", () => {
  it("reads the sources of every part", () => {
    for (const p of ["firmware", "protocol", "wearable-sim", "host-tools", "bench", "scripts"])
      expect(graph.files.some((f) => f.startsWith(`${p}/`)), p).toBe(true);
    expect(graph.edges.length).toBeGreaterThan(300);
  });

  it("every import across a boundary goes through the part's public entry", () => {
    const bad = graph.edges
      .map((e) => ({ e, why: violation(e) }))
      .filter((x) => x.why !== null)
      .map(({ e, why }) => `${e.from}:${e.line} imports "${e.spec}" (${e.to ?? "?"}): ${why}`);
    // a known crossing is named by its two files: moving the line does not make it new
    expectOnly(bad, KNOWN_CROSSINGS, "imports across a boundary", (s) => s.replace(/^(\S+?):\d+ imports "[^"]*" \((\S+)\):.*$/, "$1 → $2"));
  });

  it("the package's exports are the public entries, and Node refuses any other path into a part", () => {
    // every public entry of ENTRIES is exported: a part's index by the part's name, a folder of entries as a pattern
    const exported = Object.values(PACKAGE.exports).map((t) => t.replace(/^\.\//, ""));
    for (const rule of Object.values(ENTRIES)) for (const entry of rule.entries) expect(exported, entry).toContain(entry);
    expect(resolveExport(`${PACKAGE.name}/host-tools`)).toBe("host-tools/src/index.ts");
    const probe = (spec: string) => spawnSync(process.execPath, ["--import", "tsx", "-e", `import(${JSON.stringify(spec)}).then(() => console.log("loaded"), (e) => console.log(e.code))`], { cwd: ROOT, encoding: "utf8" }).stdout.trim();
    expect(probe(`${PACKAGE.name}/wearable-sim`)).toBe("loaded");
    expect(probe(`${PACKAGE.name}/wearable-sim/src/device.ts`)).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED");
    expect(probe(`${PACKAGE.name}/host-tools/src/card.ts`)).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED");
  });

  it("has no import cycle among modules", () => {
    const cycles = findCycles(graph, (f) => !f.startsWith("test/"));
    const text = cycles.map((c) => c.join(" → "));
    // a cycle is the same cycle whichever module the search entered it by
    expectOnly(text, KNOWN_CYCLES, "import cycles", (s) => [...new Set(s.split(" → "))].sort().join("|"));
  });
});

describe("one place for each decision (STYLE: one mapping, not six)", () => {
  it("the firmware answers 6F00 for an internal failure in one function (session.ts internalFailure)", () => {
    const named: string[] = [];
    for (const f of graph.files.filter((f) => f.startsWith("firmware/assembly/")))
      readFileSync(join(ROOT, f), "utf8").split("\n").forEach((line, i) => {
        if (/\bSW_UNKNOWN\b|0x6[fF]00\b/.test(line.replace(/\/\/.*$/, ""))) named.push(`${f}:${i + 1}`);
      });
    expect(named.map((n) => n.replace(/:\d+$/, ""))).toEqual(["firmware/assembly/applet/session.ts", "firmware/assembly/applet/session.ts"]);
  });
});

describe("comments stand alone (README, DESIGN.md, SPEC, TRAPS.md)", () => {
  it("no file cites a tracker issue by number: it cites the section of SPEC, DESIGN or a README instead", () => {
    const files: string[] = [".ci/run", ...readdirSync(ROOT).filter((f) => f.endsWith(".md"))];
    const walk = (d: string): void => {
      for (const n of readdirSync(join(ROOT, d))) {
        if (n.startsWith(".") || ["node_modules", "build", "dist", "coverage"].includes(n)) continue;
        const p = `${d}/${n}`;
        if (statSync(join(ROOT, p)).isDirectory()) walk(p);
        else if (/\.(ts|mts|mjs|js|cjs|md|c)$/.test(n)) files.push(p);
      }
    };
    for (const part of PARTS) if (existsSync(join(ROOT, part))) walk(part);
    const cite = new RegExp(["\\bissue", "#?\\d+\\b"].join(" "), "i");
    const bad: string[] = [];
    for (const f of files) {
      if (!existsSync(join(ROOT, f))) continue;
      readFileSync(join(ROOT, f), "utf8").split("\n").forEach((line, i) => {
        if (cite.test(line)) bad.push(`${f}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
    }
    expect(bad, `cites an issue number:\n  ${bad.join("\n  ")}\n`).toEqual([]);
  });
});

describe("one hardware interface (SPEC §2)", () => {
  it("protocol/src/hw.ts, firmware/assembly/hw.ts, SPEC §2 and the built firmware.wasm name the same hw imports", async () => {
    const { HW_IMPORT_NAMES } = await import("../protocol/src/hw.ts");
    const declared = [...readFileSync(join(ROOT, "firmware/assembly/hw.ts"), "utf8").matchAll(/@external\("hw", "(\w+)"\)/g)].map((m) => m[1]);
    expect(declared).toEqual([...HW_IMPORT_NAMES]);
    const spec = readFileSync(join(ROOT, "protocol/SPEC.md"), "utf8");
    const s2 = spec.slice(spec.indexOf("## 2. Hardware interface"), spec.indexOf("## 3. "));
    for (const n of HW_IMPORT_NAMES) expect(s2, `SPEC §2 names ${n}`).toContain(`\`${n}\``);
    const wasm = join(ROOT, "build/firmware.wasm");
    const imported = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasm))).filter((i) => i.module === "hw").map((i) => i.name);
    expect(new Set(imported)).toEqual(new Set(HW_IMPORT_NAMES));
  });
});
