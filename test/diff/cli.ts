// cli.ts — the script side of the differential tests (bundled and run by scripts/diff.mjs).
//
//   node scripts/diff.mjs [live] [--count N] [--seed S] [--filter REGEX] [--show K] [--table] [--oracle i386|x86-64]
//        live cases on the real CPU (oracle) and the wasm CPU; per-form counts, mismatches, summary. The i386
//        oracle where the host executes it, else the x86-64 one (prints what it skipped, with the reasons)
//   node scripts/diff.mjs corpus            replay fixtures/cpu-cases/ against the wasm CPU
//   node scripts/diff.mjs record [--count N] [--seed S]   (re)record the corpus with the oracle
//   node scripts/diff.mjs oracle [--count N]              oracle only: speed and outcome census
//   node scripts/diff.mjs fuzz [--programs N] [--len L] [--seed S]   random-byte fuzz of the wasm CPU
//   node scripts/diff.mjs trans [--count N] [--seed S] [--filter RE] [--oracle ...]   the x87 transcendentals
//        (test/diff/fpu-trans-gen.ts): per form, exact matches, results 1 ulp away / C1 only with the exact value
//        next to the rounding boundary (trans-run.ts nearBoundary), other differences (failures)
//   node scripts/diff.mjs trans-record [--count N] [--seed S]   (re)record fixtures/fpu-cases/transcendental.bin.gz
//   node scripts/diff.mjs fx [--count N] [--seed S] [--oracle ...]   FXSAVE/FXRSTOR cases (test/diff/fpu-fx-gen.ts)
//   node scripts/diff.mjs fx-record [--count N] [--seed S]     (re)record fixtures/fpu-cases/fxsave.bin.gz
import { genCases as genCpuCases, FORM_NAMES, UNDEF, type Case } from "./gen.ts";
import { genFpuCases, stableResults, FPU_FORM_NAMES, mapX64FpuResult } from "./fpu-gen.ts";
import { runOracle, runOracleAny, skipReport, oracleAvailable, readCorpus, writeCorpus, CORPUS_FILE, type OracleArch, type OracleResult } from "./oracle.ts";
import { checkCases } from "./harness.ts";
import { fuzz } from "./fuzz.ts";

const argv = process.argv.slice(2);
const mode = argv[0] && !argv[0].startsWith("--") ? argv.shift()! : "live";
const opt = (name: string, def: string) => { const i = argv.indexOf("--" + name); return i >= 0 ? argv[i + 1] : def; };
const flag = (name: string) => argv.includes("--" + name);
const seed = Number(opt("seed", String((Date.now() >>> 0) % 1_000_000)));
const filterRe = opt("filter", "");
const filter = filterRe ? (n: string) => new RegExp(filterRe).test(n) : undefined;
const show = Number(opt("show", "40"));
// --fpu: the x87 cases (test/diff/fpu-gen.ts) instead of the integer instruction forms
const genCases = flag("fpu") ? genFpuCases : genCpuCases;
// --oracle i386|x86-64 forces one (default: i386 where this host executes it, else x86-64)
const archOpt = opt("oracle", "");
if (archOpt && archOpt !== "i386" && archOpt !== "x86-64") { console.error(`diff: --oracle takes i386 or x86-64, got '${archOpt}'`); process.exit(2); }
const arch = (archOpt || undefined) as OracleArch | undefined;

function compareAll(cases: Case[], results: OracleResult[], label: string) {
  const t0 = Date.now();
  const st = checkCases(cases, results);
  const ms = Date.now() - t0;
  if (flag("table")) console.log("result  cases    bad  undef  form\n" + st.table());
  const rep = st.mismatchReport(show);
  if (rep) console.log(`\n==== mismatches (first example per form, ${show} forms max) ====\n` + rep);
  const u = st.undefReport();
  if (u) console.log(`\n==== undefined flags/results that differ from the real CPU (not failures) ====\n${u}`);
  const badForms = [...st.forms.values()].filter((f) => f.bad).length;
  console.log(`\n${label}: ${st.total} cases, ${st.forms.size} forms, ${st.bad} mismatches in ${badForms} forms, ` +
    `${st.undefCases} cases with differing undefined flags; wasm side ${ms} ms`);
  return st;
}

if (mode === "live" || mode === "oracle") {
  const av = oracleAvailable(arch);
  if (!av.ok) { console.log(`diff: skipped, the oracle is unavailable: ${av.why}`); process.exit(0); }
  const count = Number(opt("count", "200000"));
  let t = Date.now();
  const all = genCases(seed, count, filter);
  const tg = Date.now() - t; t = Date.now();
  const run = runOracleAny(all, av.arch);
  let { cases, results } = run;
  if (flag("fpu")) {
    // x87 cases run twice on the real CPU (three times where the runs disagree): see fpu-gen.ts stableResults
    let first = true;
    const st = stableResults(cases, (cs) => { if (first) { first = false; return results; } return runOracleAny(cs, av.arch).results; });
    results = run.arch === "x86-64" ? st.results.map((r, i) => mapX64FpuResult(cases[i], r)) : st.results;
    console.log(`x87: ${st.disturbed} of ${cases.length} cases gave different results in two real-CPU runs (preempted by the host kernel); the majority of three runs is used`);
  }
  const to = Date.now() - t;
  console.log(`seed ${seed}: generated ${count} cases over ${filter ? "filtered" : flag("fpu") ? FPU_FORM_NAMES.length : FORM_NAMES.length} forms in ${tg} ms; real CPU (${run.arch} oracle) ran ${cases.length} of them in ${to} ms`);
  if (run.skippedTotal) console.log(`the ${run.arch} oracle skipped ${run.skippedTotal} cases that do not execute identically in 64-bit mode:\n${skipReport(run)}`);
  if (mode === "oracle") {
    const census = new Map<string, number>();
    for (const r of results) { const k = r.vector === 0xff ? "completed" : `trapno ${r.vector}`; census.set(k, (census.get(k) ?? 0) + 1); }
    console.log([...census].map(([k, n]) => `${k}: ${n}`).join(", "));
    process.exit(0);
  }
  const st = compareAll(cases, results, "live");
  process.exitCode = st.bad ? 1 : 0;
} else if (mode === "trans" || mode === "trans-record") {
  const { runTrans } = await import("./trans-run.ts");
  process.exitCode = await runTrans(mode, { seed, count: Number(opt("count", mode === "trans" ? "100000" : "3200")), filter, arch, show });
} else if (mode === "fx-record") {
  // the FXSAVE/FXRSTOR corpus (fixtures/fpu-cases/fxsave.bin.gz), recorded on the i386 oracle (majority of runs)
  const { genFxCases, FX_CORPUS_FILE } = await import("./fpu-fx-gen.ts");
  const av = oracleAvailable("i386");
  if (!av.ok) { console.error(`fx-record: the i386 oracle is unavailable: ${av.why}`); process.exit(1); }
  const { readFileSync } = await import("node:fs");
  const count = Number(opt("count", "600")), rseed = Number(opt("seed", "20261203"));
  const cases = genFxCases(rseed, count);
  const { results } = stableResults(cases, (cs) => runOracle(cs));
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
  const size = writeCorpus(FX_CORPUS_FILE, { seed: rseed, count, cpu, created: new Date().toISOString().slice(0, 10) }, cases.map((c, i) => ({ c, r: results[i] })));
  console.log(`recorded ${count} fxsave/fxrstor cases to ${FX_CORPUS_FILE}: ${(size / 1024).toFixed(0)} KiB`);
} else if (mode === "fx") {
  // FXSAVE/FXRSTOR cases (test/diff/fpu-fx-gen.ts) on the real CPU and the wasm CPU
  const { genFxCases } = await import("./fpu-fx-gen.ts");
  const av = oracleAvailable(arch);
  if (!av.ok) { console.log(`diff: skipped, the oracle is unavailable: ${av.why}`); process.exit(0); }
  const run = (cs: Case[]) => { const r = runOracleAny(cs, av.arch); return r.arch === "x86-64" ? r.results.map((x, i) => mapX64FpuResult(cs[i], x)) : r.results; };
  const cases = genFxCases(seed, Number(opt("count", "20000")));
  const { results, disturbed } = stableResults(cases, run);
  console.log(`seed ${seed}: ${cases.length} fxsave/fxrstor cases on the ${av.arch} oracle (${disturbed} disturbed runs, majority used)`);
  const st = compareAll(cases, results, "fx");
  process.exitCode = st.bad ? 1 : 0;
} else if (mode === "fpu-record") {
  // the x87 corpus (fixtures/fpu-cases/): every x87 form, recorded on the i386 oracle (majority of runs)
  const av = oracleAvailable("i386");
  if (!av.ok) { console.error(`fpu-record: the i386 oracle is unavailable: ${av.why}`); process.exit(1); }
  const { FPU_CORPUS_FILE } = await import("./fpu-gen.ts");
  const { mkdirSync, readFileSync } = await import("node:fs");
  const { dirname } = await import("node:path");
  const count = Number(opt("count", "3930"));
  const rseed = Number(opt("seed", "20261203"));
  const cases = genFpuCases(rseed, count);
  const { results } = stableResults(cases, (cs) => runOracle(cs));
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
  mkdirSync(dirname(FPU_CORPUS_FILE), { recursive: true });
  const size = writeCorpus(FPU_CORPUS_FILE, { seed: rseed, count, cpu, created: new Date().toISOString().slice(0, 10) },
    cases.map((c, i) => ({ c, r: results[i] })));
  console.log(`recorded ${count} x87 cases to ${FPU_CORPUS_FILE}: ${(size / 1024).toFixed(0)} KiB`);
} else if (mode === "fpu-explain") {
  // x87 mismatches with the FPU images decoded: input, real CPU, wasm CPU
  const { OurCpu } = await import("./run-ours.ts");
  const { expected, compare } = await import("./compare.ts");
  const { decodeImage, FPU_OUT, FPU_MEM } = await import("./fpu-gen.ts");
  const cases = genFpuCases(seed, Number(opt("count", "2000")), filter);
  const { results } = runOracleAny(cases, "i386");
  const ours = new OurCpu();
  let shown = 0;
  for (let i = 0; i < cases.length && shown < show; i++) {
    const c = cases[i], exp = expected(c, results[i]), got = ours.run(c);
    const v = compare(c, exp, got);
    if (v.ok) continue;
    shown++;
    const img = new Uint8Array(0x2000); for (const p of c.patches) img.set(p.data, p.off);
    const memHex = (m: Uint8Array) => Buffer.from(m.slice(FPU_MEM, FPU_MEM + 0x50)).toString("hex").replace(/(0000)+$/, "");
    console.log(`#${i} ${c.desc} eflags=${c.eflags.toString(16)}\n  in:  ${decodeImage(img)}\n  mem in: ${Buffer.from(c.patches[1]?.data ?? []).toString("hex")}` +
      `\n  exp: ${exp.kind} ${exp.vector ?? ""} ${decodeImage(exp.mem, FPU_OUT)} eflags=${exp.eflags.toString(16)}` +
      `\n  got: ${got.kind} ${got.vector ?? ""} ${decodeImage(got.mem, FPU_OUT)} eflags=${got.eflags.toString(16)}\n  ${v.diffs.join("; ")}`);
  }
} else if (mode === "corpus") {
  const { header, entries } = readCorpus();
  console.log(`corpus: ${entries.length} cases recorded ${header.created} on ${header.cpu} (seed ${header.seed})`);
  const sel = filter ? entries.filter((e) => filter(e.c.form)) : entries;
  const st = compareAll(sel.map((e) => e.c), sel.map((e) => e.r), "corpus");
  process.exitCode = st.bad ? 1 : 0;
} else if (mode === "record") {
  // the corpus holds every form: only the i386 oracle records it
  const av = oracleAvailable("i386");
  if (!av.ok) { console.error(`record: the i386 oracle is unavailable: ${av.why}`); process.exit(1); }
  const count = Number(opt("count", "24000"));
  const rseed = Number(opt("seed", "20250101"));
  const cases = genCases(rseed, count);
  const results = runOracle(cases);
  const { readFileSync } = await import("node:fs");
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
  const size = writeCorpus(CORPUS_FILE, { seed: rseed, count, cpu, created: new Date().toISOString().slice(0, 10) },
    cases.map((c, i) => ({ c, r: results[i] })));
  console.log(`recorded ${count} cases (${FORM_NAMES.length} forms) to ${CORPUS_FILE}: ${(size / 1024).toFixed(0)} KiB`);
} else if (mode === "fuzz") {
  const programs = Number(opt("programs", "50000")), len = Number(opt("len", "64"));
  const r = fuzz({ programs, programLen: len, seed, log: console.log });
  console.log(`fuzz: ${r.programs} programs, ${r.instructions} instructions, ${r.exits} exits, ${r.problems.length} problems in ${r.ms} ms`);
  for (const p of r.problems.slice(0, 20)) console.log("  " + p);
  process.exitCode = r.problems.length ? 1 : 0;
} else if (mode === "undef") {
  // the SDM's undefined flags, and what this real CPU puts there: per form and flag, how often the
  // undefined flag kept its input value, was 0, was 1 (completed cases only)
  for (const [k, v] of Object.entries(UNDEF)) console.log(`${k}: ${v.why}`);
  const av = oracleAvailable(arch);
  if (!av.ok) { console.log(`(no oracle: ${av.why})`); process.exit(0); }
  const count = Number(opt("count", "100000"));
  const { cases, results } = runOracleAny(genCases(seed, count, filter), av.arch);
  const names: [number, string][] = [[0x1, "CF"], [0x4, "PF"], [0x10, "AF"], [0x40, "ZF"], [0x80, "SF"], [0x800, "OF"]];
  const agg = new Map<string, { n: number; same: number; zero: number; one: number }>();
  cases.forEach((c, i) => {
    const r = results[i];
    if (r.vector !== 0xff || !c.undef) return;
    for (const [b, nm] of names) {
      if (!(c.undef & b)) continue;
      const k = `${c.form}|${nm}`;
      let a = agg.get(k); if (!a) agg.set(k, (a = { n: 0, same: 0, zero: 0, one: 0 }));
      a.n++; if ((r.eflags & b) === (c.eflags & b)) a.same++; if (r.eflags & b) a.one++; else a.zero++;
    }
  });
  console.log("\nform | flag: cases, kept input value %, =0 %, =1 %");
  const pc = (x: number, n: number) => `${Math.round((100 * x) / n)}%`;
  for (const [k, a] of [...agg].sort()) {
    const [f, fl] = k.split("|");
    console.log(`  ${f} | ${fl}: ${a.n}, kept ${pc(a.same, a.n)}, 0 ${pc(a.zero, a.n)}, 1 ${pc(a.one, a.n)}`);
  }
} else {
  console.error(`unknown mode ${mode}`); process.exit(2);
}
