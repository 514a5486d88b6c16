// Global setup/teardown of the reliability project: clears the figures of an earlier run,
// then writes reliability-report.md from the figures this run recorded (report.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPORT_DIR, type Figure } from "./report.ts";

const ORDER = ["Lost-answer sweep", "APDU fuzzing", "Crash safety", "Fraud detection"];

export function setup(): void {
  rmSync(REPORT_DIR, { recursive: true, force: true });
  mkdirSync(REPORT_DIR, { recursive: true });
}

export function teardown(): void {
  if (!existsSync(REPORT_DIR)) return;
  const runs = readdirSync(REPORT_DIR).filter((f) => f.endsWith(".json")).sort().map((f) => JSON.parse(readFileSync(join(REPORT_DIR, f), "utf8")) as { full: boolean; at: string; figures: Figure[] });
  if (!runs.length) return;
  const all = runs.flatMap((r) => r.figures);
  const sections = [...new Set([...ORDER, ...all.map((f) => f.section)])].filter((s) => all.some((f) => f.section === s));
  const lines = [
    "# Reliability report",
    "",
    `Written by \`npm run test:reliability${runs.every((r) => r.full) ? " -- --full" : ""}\` on ${runs.map((r) => r.at).sort().at(-1)} ` +
      `(${runs.every((r) => r.full) ? "full counts" : "CI counts; `-- --full` runs the full ones"}). Every figure is measured by the test that` +
      " writes it (test/reliability/); a line marked ✗ fails that test.",
    "",
  ];
  for (const s of sections) {
    lines.push(`## ${s}`, "", "| figure | value | required | |", "| --- | ---: | ---: | --- |");
    for (const f of all.filter((x) => x.section === s)) lines.push(`| ${f.name} | ${typeof f.value === "number" ? f.value.toLocaleString("en-US") : f.value} | ${f.required ?? ""} | ${f.ok ? "✓" : "✗"} |`);
    lines.push("");
  }
  writeFileSync(join(import.meta.dirname, "../../reliability-report.md"), lines.join("\n"));
}
