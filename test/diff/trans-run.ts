// trans-run.ts — the transcendental runs of scripts/diff.mjs (`trans`, `trans-record`): x87 transcendental cases
// on the real CPU and on the wasm CPU, each classified as an exact match, a result one unit in the last place
// away (the hardware's own results are not always correctly rounded), or another difference.
import { genTransCases, classifyTrans, outsideDomain, TRANS_CORPUS_FILE, TRANS_FORM_NAMES } from "./fpu-trans-gen.ts";
import { stableResults, mapX64FpuResult, decodeImage, FPU_OUT } from "./fpu-gen.ts";
import { runOracleAny, runOracle, oracleAvailable, writeCorpus, type OracleArch, type OracleResult } from "./oracle.ts";
import { OurCpu } from "./run-ours.ts";
import { expected } from "./compare.ts";
import type { Case } from "./gen.ts";

export interface TransTally { exact: number; ulp1: number; c1: number; undef: number; other: number }
/** classify each case (ours vs the real CPU's result); the examples of "other" for the report */
export function tallyTrans(cases: Case[], results: OracleResult[], show = 0): { per: Map<string, TransTally>; examples: string[] } {
  const ours = new OurCpu();
  const per = new Map<string, TransTally>();
  const examples: string[] = [];
  cases.forEach((c, i) => {
    const exp = expected(c, results[i]);
    const got = ours.run(c);
    let k: keyof TransTally;
    if (exp.kind !== got.kind || exp.vector !== got.vector || exp.eip !== got.eip) k = "other";
    else k = classifyTrans(exp.mem, got.mem);
    if (k !== "exact" && outsideDomain(c)) k = "undef";
    let t = per.get(c.form); if (!t) per.set(c.form, (t = { exact: 0, ulp1: 0, c1: 0, undef: 0, other: 0 }));
    t[k]++;
    if (k === "other" && examples.length < show) {
      const img = new Uint8Array(0x2000); for (const p of c.patches) img.set(p.data, p.off);
      examples.push(`#${i} ${c.desc}\n  in:  ${decodeImage(img)}\n  cpu: ${exp.kind} ${exp.vector ?? ""} ${decodeImage(exp.mem, FPU_OUT)}\n  us:  ${got.kind} ${got.vector ?? ""} ${decodeImage(got.mem, FPU_OUT)}`);
    }
  });
  return { per, examples };
}
export function tallyTable(per: Map<string, TransTally>): { text: string; total: TransTally } {
  const total = { exact: 0, ulp1: 0, c1: 0, undef: 0, other: 0 };
  const pc = (x: number, n: number) => `${((100 * x) / n).toFixed(2)}%`;
  const row = (f: string, t: TransTally) => {
    const n = t.exact + t.ulp1 + t.c1 + t.undef + t.other;
    return `${f.padEnd(10)} ${String(n).padStart(6)}  ${String(t.exact).padStart(6)} ${pc(t.exact, n).padStart(7)}  ${String(t.ulp1).padStart(5)} ${pc(t.ulp1, n).padStart(6)}  ${String(t.c1).padStart(5)} ${pc(t.c1, n).padStart(6)}  ${String(t.undef).padStart(5)} ${pc(t.undef, n).padStart(6)}  ${String(t.other).padStart(5)}`;
  };
  const lines = ["form        cases    exact           1 ulp          C1 only       undefined     other"];
  for (const [f, t] of [...per].sort()) {
    total.exact += t.exact; total.ulp1 += t.ulp1; total.c1 += t.c1; total.undef += t.undef; total.other += t.other;
    lines.push(row(f.replace("x87 ", ""), t));
  }
  lines.push(row("all", total));
  return { text: lines.join("\n"), total };
}

export async function runTrans(mode: string, o: { seed: number; count: number; filter?: (n: string) => boolean; arch?: OracleArch; show: number }): Promise<number> {
  if (mode === "trans-record") {
    const av = oracleAvailable("i386");
    if (!av.ok) { console.error(`trans-record: the i386 oracle is unavailable: ${av.why}`); return 1; }
    const { readFileSync } = await import("node:fs");
    const rseed = o.seed;
    const cases = genTransCases(rseed, o.count);
    const { results } = stableResults(cases, (cs) => runOracle(cs));
    const cpu = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
    const size = writeCorpus(TRANS_CORPUS_FILE, { seed: rseed, count: o.count, cpu, created: new Date().toISOString().slice(0, 10) },
      cases.map((c, i) => ({ c, r: results[i] })));
    console.log(`recorded ${o.count} x87 transcendental cases (${TRANS_FORM_NAMES.length} forms) to ${TRANS_CORPUS_FILE}: ${(size / 1024).toFixed(0)} KiB`);
    return 0;
  }
  const av = oracleAvailable(o.arch);
  if (!av.ok) { console.log(`diff: skipped, the oracle is unavailable: ${av.why}`); return 0; }
  const all = genTransCases(o.seed, o.count, o.filter);
  const t0 = Date.now();
  const first = runOracleAny(all, av.arch);
  let once = true;
  const st = stableResults(first.cases, (cs) => { if (once) { once = false; return first.results; } return runOracleAny(cs, av.arch).results; });
  const results = first.arch === "x86-64" ? st.results.map((r, i) => mapX64FpuResult(first.cases[i], r)) : st.results;
  const t1 = Date.now();
  const { per, examples } = tallyTrans(first.cases, results, o.show);
  const { text, total } = tallyTable(per);
  console.log(`seed ${o.seed}: ${first.cases.length} transcendental cases; real CPU (${first.arch} oracle) ${t1 - t0} ms, ${st.disturbed} disturbed runs (majority used); wasm ${Date.now() - t1} ms\n${text}`);
  if (examples.length) console.log(`\n==== other differences (first ${examples.length}) ====\n${examples.join("\n")}`);
  return total.other ? 1 : 0;
}
