// trans-run.ts — the transcendental runs of scripts/diff.mjs (`trans`, `trans-record`): x87 transcendental cases
// on the real CPU and on the wasm CPU, each classified as an exact match, a result one unit in the last place away
// or a C1-only difference where the exact value lies within NEAR_BOUNDARY ulp of the rounding boundary (the
// hardware's results are not always correctly rounded, ours are), or another difference (a failure).
import { genTransCases, classifyTrans, outsideDomain, isSpecial, TRANS_CORPUS_FILE, TRANS_FORM_NAMES } from "./fpu-trans-gen.ts";
import { stableResults, mapX64FpuResult, decodeImage, FPU_OUT } from "./fpu-gen.ts";
import { runOracleAny, runOracle, oracleAvailable, writeCorpus, type OracleArch, type OracleResult } from "./oracle.ts";
import { OurCpu } from "./run-ours.ts";
import { expected } from "./compare.ts";
import type { Case } from "./gen.ts";
import { exactResults, fromExt, position, ulpsFrom } from "./trans-ref.ts";

/**
 * The one class of difference the real CPU's transcendentals are allowed (SDM Vol. 1 §8.3.10, AMD APM Vol. 1: the
 * result is within 1 ulp of the exact value, not necessarily correctly rounded): the exact value lies within
 * NEAR_BOUNDARY ulp of the boundary between the two results of the rounding control (RN: the midpoint; RD/RU/RZ: a
 * representable value), so the CPU's result is off by at most 1/2 + NEAR_BOUNDARY ulp to nearest and 1 +
 * NEAR_BOUNDARY in the directed modes (SDM: < 1 and < 1.5 ulp). For a C1-only difference: within NEAR_BOUNDARY ulp
 * of the representable value both report (C1 tells on which side each internal value fell). Everything else fails.
 */
export const NEAR_BOUNDARY = 1 / 4;
/** the worst measured: how close to the boundary, how far the real CPU's result from the exact value (ulps) */
export interface NearStats { maxToBoundary: number; maxCpuErr: number; cases: number; onBoundary: number }

function readExt(mem: ArrayLike<number>, o: number): { se: number; m: bigint } {
  let m = 0n; for (let k = 7; k >= 0; k--) m = (m << 8n) | BigInt(mem[o + k]);
  return { se: mem[o + 8] | (mem[o + 9] << 8), m };
}
/** whether a ulp1/c1 case is of the allowed class (above); updates the stats */
export function nearBoundary(c: Case, exp: Uint8Array, got: Uint8Array, k: "ulp1" | "c1", st: NearStats): boolean {
  const img = c.patches[0].data;
  const rc = (img[1] >> 2) & 3;
  const form = c.form.replace("x87 ", "");
  const x = readExt(img, 28), y = readExt(img, 38);
  const pair = form === "fyl2x" || form === "fyl2xp1" || form === "fpatan";
  if ((x.se & 0x7fff) === 0x7fff || (pair && (y.se & 0x7fff) === 0x7fff)) return false;
  const ex = exactResults(form, fromExt(x.se, x.m), pair ? fromExt(y.se, y.m) : fromExt(0x3fff, 1n << 63n));
  if (!ex) return false;
  // FSINCOS and FPTAN report the rounding of ST(1) (sine, tangent) in C1, the rest of ST(0)
  const c1Reg = form === "fsincos" || form === "fptan" ? 1 : 0;
  let maxD = 0;
  for (let i = 0; i < 8; i++) {
    const o = FPU_OUT + 28 + i * 10;
    const a = readExt(exp, o), b = readExt(got, o);
    const differs = a.se !== b.se || a.m !== b.m;
    if (!differs && !(k === "c1" && i === c1Reg)) continue;
    // the exact results must match bit for bit: a zero, FPTAN's pushed 1.0, y * log2 of a power of 2 (the other
    // functions are irrational at every operand that reaches here)
    if (i >= ex.length || ex[i].s === 0n || (form === "fptan" && i === 0) || (form === "fyl2x" && (x.m & (x.m - 1n)) === 0n)) return false;
    // an unmasked overflow/underflow delivers the result scaled by 2^-24576 / 2^24576 (the exponent wrapped)
    let v = ex[i];
    const lg = v.e + v.s.toString(2).length, rl = (a.se & 0x7fff) - 16383;
    if (lg - rl > 12288) v = { s: v.s, e: v.e - 24576 }; else if (rl - lg > 12288) v = { s: v.s, e: v.e + 24576 };
    ex[i] = v;
    const p = position(ex[i], rc);
    const d = differs ? p.toBoundary : p.toValue;
    maxD = Math.max(maxD, d);
    const cpuErr = Math.abs(ulpsFrom(a.se, a.m, ex[i])), ourErr = Math.abs(ulpsFrom(b.se, b.m, ex[i]));
    // ours is correctly rounded; the CPU's lies at most NEAR_BOUNDARY beyond the correctly rounded result's bound
    // (SDM: < 1 ulp to nearest, < 1.5 ulp in the directed modes)
    if (d > NEAR_BOUNDARY || ourErr > 1 || cpuErr > (rc === 0 ? 0.5 : 1) + NEAR_BOUNDARY) return false;
    st.maxToBoundary = Math.max(st.maxToBoundary, d); st.maxCpuErr = Math.max(st.maxCpuErr, cpuErr);
  }
  st.cases++;
  if (maxD < 2 ** -20) st.onBoundary++;
  return true;
}

export interface TransTally { exact: number; ulp1: number; c1: number; undef: number; other: number }
/** classify each case (ours vs the real CPU's result); the examples of "other" for the report */
export function tallyTrans(cases: Case[], results: OracleResult[], show = 0, showAll = false): { per: Map<string, TransTally>; examples: string[]; near: Map<string, NearStats> } {
  const ours = new OurCpu();
  const per = new Map<string, TransTally>();
  const near = new Map<string, NearStats>();
  const examples: string[] = [];
  cases.forEach((c, i) => {
    const exp = expected(c, results[i]);
    const got = ours.run(c);
    let k: keyof TransTally;
    if (exp.kind !== got.kind || exp.vector !== got.vector || exp.eip !== got.eip) k = "other";
    else k = classifyTrans(exp.mem, got.mem);
    if (k !== "exact" && outsideDomain(c)) k = "undef";
    else if (k === "ulp1" || k === "c1") {
      let st = near.get(c.form); if (!st) near.set(c.form, (st = { maxToBoundary: 0, maxCpuErr: 0, cases: 0, onBoundary: 0 }));
      if (!nearBoundary(c, exp.mem, got.mem, k, st)) k = "other";
    }
    let t = per.get(c.form); if (!t) per.set(c.form, (t = { exact: 0, ulp1: 0, c1: 0, undef: 0, other: 0 }));
    t[k]++;
    if ((k === "other" || (showAll && k !== "exact")) && examples.length < show) {
      const img = new Uint8Array(0x2000); for (const p of c.patches) img.set(p.data, p.off);
      examples.push(`#${i} ${c.desc} (${k})\n  in:  ${decodeImage(img)}\n  cpu: ${exp.kind} ${exp.vector ?? ""} ${decodeImage(exp.mem, FPU_OUT)}\n  us:  ${got.kind} ${got.vector ?? ""} ${decodeImage(got.mem, FPU_OUT)}`);
    }
  });
  return { per, examples, near };
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
  const { per, examples, near } = tallyTrans(first.cases, results, o.show);
  const { text, total } = tallyTable(per);
  console.log(`seed ${o.seed}: ${first.cases.length} transcendental cases; real CPU (${first.arch} oracle) ${t1 - t0} ms, ${st.disturbed} disturbed runs (majority used); wasm ${Date.now() - t1} ms\n${text}`);
  console.log(`1 ulp / C1 differences (allowed only with the exact value within ${NEAR_BOUNDARY} ulp of the rounding boundary): ` +
    "worst distance to the boundary, worst real-CPU error, how many lie within 2^-20 ulp of it\n" +
    [...near].sort().map(([f, s]) => `  ${f.replace("x87 ", "").padEnd(8)} ${s.maxToBoundary.toFixed(4)} ulp  ${s.maxCpuErr.toFixed(4)} ulp  ${s.onBoundary} of ${s.cases}`).join("\n"));
  const spIdx = first.cases.map((c, i) => i).filter((i) => isSpecial(first.cases[i]));
  const sp = tallyTable(tallyTrans(spIdx.map((i) => first.cases[i]), spIdx.map((i) => results[i])).per).total;
  console.log(`special operands (±0, ±inf, NaNs, unsupported, stack faults, out of range): ${spIdx.length} cases, ${sp.exact} bit for bit`);
  if (examples.length) console.log(`\n==== other differences (first ${examples.length}) ====\n${examples.join("\n")}`);
  return total.other ? 1 : 0;
}
