// The dual-compiler test (DESIGN.md §2: protocol/ is the one source of truth; SPEC §10): every
// protocol/portable/*.ts is compiled by asc (AssemblyScript, as the firmware sees it) and
// typechecked by tsc (as the host sees it); the values asc computes must equal the ones
// the host imports. Then generic checks over the exported names, so later additions are
// covered: typed integer consts only, INS unique, every SW_ named by the host table,
// families of codes unique, CBOR keys one-byte and matching the host codecs, NVM ranges disjoint.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { SW_NAMES, swName } from "../protocol/src/sw.ts";
import * as F from "../protocol/src/formats.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DIR = join(ROOT, "protocol/portable");
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")).sort();

/** file -> its exports as the host sees them */
const MODULES: Record<string, Record<string, unknown>> = {};
/** every exported name -> value, across all portable files */
const ALL: Record<string, number> = {};

beforeAll(async () => {
  for (const f of FILES) {
    MODULES[f] = await import(join(DIR, f));
    for (const [k, v] of Object.entries(MODULES[f])) ALL[k] = v as number;
  }
});

const named = (prefix: string): [string, number][] => Object.entries(ALL).filter(([k]) => k.startsWith(prefix));

function expectUnique(entries: [string, number][], what: string): void {
  const seen = new Map<number, string>();
  for (const [k, v] of entries) {
    expect(seen.has(v), `${what}: ${k} = ${v} repeats ${seen.get(v)}`).toBe(false);
    seen.set(v, k);
  }
}

describe("both compilers", () => {
  it("asc compiles every portable file and computes the same values as the host", () => {
    const build = join(ROOT, "build");
    mkdirSync(build, { recursive: true });
    const entry = join(build, "protocol-portable-entry.ts");
    // `export *` of every file: a name defined in two files is a compile error too
    writeFileSync(entry, FILES.map((f) => `export * from "../protocol/portable/${f.replace(/\.ts$/, "")}";`).join("\n") + "\n");
    const out = join(build, "protocol-portable.wasm");
    const asc = join(ROOT, "node_modules/assemblyscript/bin/asc.js");
    const r = spawnSync(process.execPath, [asc, entry, "--outFile", out, "--runtime", "stub", "-O0", "--noAssert"], { cwd: ROOT, encoding: "utf8" });
    expect(r.stderr + r.stdout, "asc output").not.toMatch(/ERROR|WARNING/);
    expect(r.status).toBe(0);
    const mod = new WebAssembly.Module(readFileSync(out));
    const inst = new WebAssembly.Instance(mod, { env: { abort: () => { throw new Error("abort"); } } });
    const exported = inst.exports as Record<string, WebAssembly.Global>;
    let compared = 0;
    for (const [k, v] of Object.entries(ALL)) {
      const g = exported[k];
      expect(g, `asc did not export ${k}`).toBeInstanceOf(WebAssembly.Global);
      const a = typeof g.value === "bigint" ? Number(g.value) : (g.value as number);
      // asc globals are i32: a u32 above 2^31 reads back negative
      expect(a === v || a >>> 0 === v, `${k}: asc ${a}, tsc ${v}`).toBe(true);
      compared++;
    }
    expect(compared).toBe(Object.keys(ALL).length);
  }, 60_000);

  it("tsc typechecks the portable files on their own (strict, with as-types.d.ts)", () => {
    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    const files = readdirSync(DIR).filter((f) => f.endsWith(".ts")).map((f) => join(DIR, f));
    const r = spawnSync(process.execPath, [tsc, "--noEmit", "--strict", "--target", "ES2022", "--module", "NodeNext", "--moduleResolution", "NodeNext", "--skipLibCheck", ...files], { cwd: ROOT, encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  }, 60_000);

  it("exports only typed integer constants (no enums, objects, functions, untyped consts)", () => {
    for (const f of FILES) {
      const src = readFileSync(join(DIR, f), "utf8");
      expect(src.split("\n")[0], `${f}: first line`).toMatch(/^\/\/ portable: compiled by both asc/);
      for (const line of src.split("\n").filter((l) => /^export\b/.test(l))) {
        expect(line, f).toMatch(/^export const [A-Z][A-Z0-9_]*: (u8|u16|u32|i8|i16|i32) =/);
      }
      for (const [k, v] of Object.entries(MODULES[f])) expect(Number.isInteger(v), `${f}: ${k}`).toBe(true);
    }
  });
});

describe("generic checks over the exported names", () => {
  it("every INS is unique (hence unique per CLA), every CLA unique", () => {
    expect(named("INS_").length).toBeGreaterThan(0);
    expectUnique(named("INS_"), "INS");
    expectUnique(named("CLA_"), "CLA");
    for (const [k, v] of [...named("INS_"), ...named("CLA_")]) expect(v >= 0 && v <= 0xff, k).toBe(true);
  });

  it("every SW_ constant lives in sw.ts and has its name in the host table", () => {
    for (const [k, v] of named("SW_")) {
      expect(k in MODULES["sw.ts"], `${k} outside sw.ts`).toBe(true);
      expect(SW_NAMES.get(v)).toBe(k);
      expect(swName(v)).not.toMatch(/^SW_[0-9A-F]{4}$/);
    }
  });

  it("families of codes are unique within their family", () => {
    const families = new Set<string>();
    for (const k of Object.keys(ALL)) {
      const m = /^([A-Z0-9]+_(KEY|TYPE|KIND|CMD|ERR|ALG))_/.exec(k) ?? /^(FORM|SUITE|LC|CMD)_/.exec(k);
      if (m) families.add(m[1]);
    }
    expect(families.size).toBeGreaterThan(10);
    for (const fam of families) {
      const members = named(fam + "_").filter(([k]) => !/_(COUNT|FIRST|LAST|LEN|MAX|MIN)$/.test(k) && !/^(CMD_NEEDS|LC_ALLOW)_/.test(k));
      expectUnique(members, fam);
    }
  });

  it("CBOR keys are one-byte uints, key 0 is the type, and each table matches its host codec", () => {
    const tables: [string, F.Schema][] = [
      ["CERT_KEY_", F.CERT_SCHEMA],
      ["LOAD_KEY_", F.LOAD_SCHEMA],
      ["VOUCHER_KEY_", F.VOUCHER_SCHEMA],
      ["RECEIPT_KEY_", F.RECEIPT_SCHEMA],
      ["SYNCACK_KEY_", F.SYNCACK_SCHEMA],
    ];
    for (const [p, s] of tables) {
      const keys = named(p);
      for (const [k, v] of keys) expect(v >= 0 && v <= 23, k).toBe(true); // RFC 8949 §3.1: one-byte head
      expect(ALL[p + "TYPE"]).toBe(0);
      expect(new Set(keys.map(([, v]) => v))).toEqual(new Set([0, ...s.fields.map((f) => f.key)]));
    }
    expectUnique(named("DOC_TYPE_"), "DOC_TYPE");
    for (const [k, v] of named("LIMITS_KEY_")) expect(v >= 0 && v <= 23, k).toBe(true);
  });

  it("NVM id ranges (NVM_*_FIRST / NVM_*_LAST) are ordered and disjoint", () => {
    const ranges = named("NVM_")
      .filter(([k]) => k.endsWith("_FIRST"))
      .map(([k, first]) => {
        const fam = k.slice(0, -"_FIRST".length);
        const last = ALL[fam + "_LAST"];
        expect(last, `${fam}_LAST missing`).toBeTypeOf("number");
        expect(first <= last, fam).toBe(true);
        if ("NVM_ID_LIMIT" in ALL) expect(first >= 1 && last < ALL.NVM_ID_LIMIT, fam).toBe(true);
        return { fam, first, last };
      })
      .sort((a, b) => a.first - b.first);
    for (const [k] of named("NVM_").filter(([k]) => k.endsWith("_LAST"))) expect(ALL[k.replace(/_LAST$/, "_FIRST")], k).toBeTypeOf("number");
    for (let i = 1; i < ranges.length; i++) {
      expect(ranges[i].first > ranges[i - 1].last, `${ranges[i - 1].fam} overlaps ${ranges[i].fam}`).toBe(true);
    }
  });
});
