// APDU fuzzing of the real build/firmware.wasm (SPEC §3.1, §3.2, §4; reliability report
// section "APDU fuzzing"). The fuzzer is apdu-fuzz-engine.ts: random and structure-aware
// APDUs (known CLA/INS with mutated P1/P2/Lc/data/Le, truncated, over-long, extended,
// chained, documents with flipped bytes) in stateful sequences from five lifecycle images,
// with power cuts at random flash operations. CI runs `count(ci)` APDUs in this process; the
// full run (≥ 10,000,000) is split over one process per core (apdu-fuzz-worker.ts).
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as A from "../../protocol/portable/apdu.ts";
import { AppletHarness } from "../support/applet-device.ts";
import { count, figures, FULL } from "./report.ts";
import { buildFixtures, emptyStats, mergeStats, runFuzz, swNamed, type FuzzStats } from "./apdu-fuzz-engine.ts";

const APDUS = count(200_000, 10_000_000);
const ROOT = join(import.meta.dirname, "../..");

function worker(seed: number, apdus: number): Promise<FuzzStats> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "apdu-fuzz-worker.ts"), String(seed), String(apdus)], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.on("error", reject);
    p.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").at(-1)!)) : reject(new Error(`apdu-fuzz worker ${seed} exited ${code}`))));
  });
}

describe("transport edge cases found by the fuzzer", () => {
  // GET RESPONSE is case 2 (00 C0 00 00 Le): with an extended Le it serves the pending piece,
  // with a data field it is a wrong length; neither is an internal failure (6F00).
  it("GET RESPONSE with an extended Le serves the pending data", () => {
    const h = new AppletHarness({ seed: "fuzz-getresponse" });
    const r1 = h.raw(Uint8Array.of(A.CLA_PROPRIETARY, A.INS_GET_STATUS, 0, 0, 10));
    expect(r1.sw >> 8).toBe(0x61);
    const r2 = h.raw(Uint8Array.of(0, A.INS_GET_RESPONSE, 0, 0, 0, 1, 0));
    expect(r2.sw.toString(16)).toBe("9000");
    expect(r2.data.length).toBe(A.STATUS_RESP_LEN - 10);
  });
  it("GET RESPONSE with a data field answers 6700, not 6F00", () => {
    const h = new AppletHarness({ seed: "fuzz-getresponse" });
    expect(h.raw(Uint8Array.of(A.CLA_PROPRIETARY, A.INS_GET_STATUS, 0, 0, 10)).sw >> 8).toBe(0x61);
    expect(h.raw(Uint8Array.of(0, A.INS_GET_RESPONSE, 0, 0, 2, 1, 2, 0)).sw.toString(16)).toBe("6700");
    expect(h.raw(Uint8Array.of(0, A.INS_GET_RESPONSE, 0, 0, 0, 0, 1, 9)).sw.toString(16)).toBe("6700");
  });
  it("the SW table check itself: families named, strays not", () => {
    expect([0x9000, 0x6105, 0x63c2, 0x6c10, 0x6a84].every(swNamed)).toBe(true);
    expect([0x6a8a, 0x9001, 0x6f01].some(swNamed)).toBe(false);
  });
});

describe("APDU fuzzing", () => {
  it(`${APDUS.toLocaleString("en-US")} APDUs: no trap, named SWs, answers within Ne, no state change without authority`, async () => {
    const t0 = performance.now();
    let st: FuzzStats;
    if (FULL) {
      const n = Math.max(1, availableParallelism());
      const parts = await Promise.all(Array.from({ length: n }, (_, i) => worker(0x5eed0 + i, Math.ceil(APDUS / n))));
      st = parts.reduce(mergeStats, emptyStats());
    } else {
      st = await runFuzz(await buildFixtures("ci"), { seed: 0x5eed, apdus: APDUS });
    }
    const wallMs = performance.now() - t0;
    const rate = Math.round(st.apdus / (wallMs / 1000));
    console.log(`apdu-fuzz: ${JSON.stringify({ ...st, wallMs: Math.round(wallMs), rate })}`);
    const S = "APDU fuzzing";
    figures("apdu-fuzz", [
      { section: S, name: "APDUs run (fuzz commands; state checks not counted)", value: st.apdus, required: FULL ? "≥ 10,000,000" : undefined, ok: st.apdus >= APDUS },
      { section: S, name: "state checks (GET STATUS after every unit)", value: st.statusChecks, ok: true },
      { section: S, name: "sequences (from blank, personalizing, active, active PIN 1 try, locked, terminated)", value: st.sequences, ok: st.sequences > 0 },
      { section: S, name: "power cuts at random flash operations", value: st.powerCuts, ok: st.powerCuts > 0 },
      { section: S, name: "traps / aborts (device mute)", value: st.traps, required: "0", ok: st.traps === 0 },
      { section: S, name: "status words not named in SPEC §4", value: st.unnamedSw, required: "0", ok: st.unnamedSw === 0 },
      { section: S, name: "answers beyond Ne (≤ 256 short, ≤ 65536 extended)", value: st.beyondLe, required: "0", ok: st.beyondLe === 0 },
      { section: S, name: "state changes without authority", value: st.unauthorised, required: "0", ok: st.unauthorised === 0 },
      { section: S, name: "stored state corrupt after a power cut", value: st.corruptAfterCut, required: "0", ok: st.corruptAfterCut === 0 },
      { section: S, name: "internal failures (6F00)", value: st.swSeen["6f00"] ?? 0, required: "0", ok: !st.swSeen["6f00"] },
      { section: S, name: "authorised changes reached (load / receive / sync / PIN / PUK / lifecycle / pay)", value: Object.values(st.accepted).join(" / "), ok: st.accepted.load > 0 && st.accepted.receive > 0 && st.accepted.sync > 0 && st.accepted.lifecycle > 0 },
      { section: S, name: "throughput (APDUs/s, wall clock)", value: rate, ok: true },
      { section: S, name: "time (s)", value: Math.round(wallMs / 1000), ok: true },
    ]);
    expect(st.failures, st.failures.join("\n")).toEqual([]);
    expect(st.internal, "6F00 answers").toEqual([]);
    expect(st.apdus).toBeGreaterThanOrEqual(APDUS);
    expect(st.powerCuts).toBeGreaterThan(0);
    expect(st.accepted.load).toBeGreaterThan(0);
    expect(st.accepted.receive).toBeGreaterThan(0);
  }, 3 * 3600_000);
});
