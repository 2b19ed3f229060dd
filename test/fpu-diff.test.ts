// fpu-diff.test.ts — the x87 FPU against the real CPU (issue 14): x87 cases (test/diff/fpu-gen.ts: FRSTOR a random
// FPU state, run one x87 instruction, FNSAVE the result) compared byte for byte with the real CPU's.
//  1. the recorded corpus (fixtures/fpu-cases/, every x87 form, recorded by `node scripts/diff.mjs fpu-record`);
//  2. a fresh seeded live batch on the i386 oracle where this host runs it, else on the x86-64 one (x87
//     instructions execute identically in 64-bit mode; only the FPU's CS/DS selectors in the FNSAVE image differ,
//     mapped by mapX64FpuResult). The large run: `node scripts/diff.mjs --fpu --count 100000 [--oracle x86-64]`.
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readCorpus, runOracleAny, oracleAvailable, ROOT } from "./diff/oracle.ts";
import { checkCases } from "./diff/harness.ts";
import { genFpuCases, stableResults, mapX64FpuResult, FPU_CORPUS_FILE, FPU_FORM_NAMES } from "./diff/fpu-gen.ts";

const haveCpu = existsSync(join(ROOT, "build/cpu.wasm"));
const haveCorpus = existsSync(FPU_CORPUS_FILE);
const oracle = oracleAvailable();
const LIVE = Number(process.env.FPU_LIVE_CASES ?? 3000);
const SEED = Number(process.env.FPU_SEED ?? 271828);

describe.skipIf(!haveCpu || !haveCorpus)("x87 vs the recorded real-CPU corpus", () => {
  it("every x87 form, 0 mismatches", () => {
    const { entries } = readCorpus(FPU_CORPUS_FILE);
    const forms = new Set(entries.map((e) => e.c.form));
    expect(FPU_FORM_NAMES.filter((f) => !forms.has(`x87 ${f}`))).toEqual([]);
    const st = checkCases(entries.map((e) => e.c), entries.map((e) => e.r));
    if (st.bad) console.log(st.mismatchReport(20));
    expect(st.total).toBe(entries.length);
    expect(st.bad, `${st.bad} of ${st.total} x87 cases differ from the real CPU`).toBe(0);
  });
});

describe.skipIf(!haveCpu || !oracle.ok)(`x87 vs the real CPU, live (${oracle.ok ? oracle.arch : "no"} oracle)`, () => {
  it(`${LIVE} fresh x87 cases (seed ${SEED}): 0 mismatches`, () => {
    const cases = genFpuCases(SEED, LIVE);
    const arch = oracle.ok ? oracle.arch : undefined;
    const run = (cs: typeof cases) => {
      const r = runOracleAny(cs, arch);
      expect(r.skippedTotal).toBe(0); // every x87 case runs on both oracles
      return r.arch === "x86-64" ? r.results.map((x, i) => mapX64FpuResult(cs[i], x)) : r.results;
    };
    const { results, disturbed } = stableResults(cases, run);
    if (disturbed) console.log(`fpu-diff: ${disturbed} cases were disturbed by the host kernel in one oracle run (majority used)`);
    const st = checkCases(cases, results);
    if (st.bad) console.log(st.mismatchReport(20));
    expect(st.bad, `${st.bad} of ${st.total} live x87 cases differ from the real CPU`).toBe(0);
  });
});
