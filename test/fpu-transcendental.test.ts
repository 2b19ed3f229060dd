// fpu-transcendental.test.ts — the x87 transcendental instructions (assembly/fpu/transcendental.ts): F2XM1, FYL2X,
// FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS.
//  1. raw instruction bytes on the wasm CPU, results checked against the real CPU's (AMD EPYC, recorded by hand with
//     the same inputs) and the exact values: the 66-bit-pi reduction, FPTAN's pushed 1.0, C2 out of range, stack faults;
//  2. the recorded real-CPU corpus (fixtures/fpu-cases/transcendental.bin.gz, `node scripts/diff.mjs trans-record`);
//  3. a fresh seeded live batch on the oracle this host runs. The large run: `node scripts/diff.mjs trans`.
// The real CPU's transcendental results are within 1 ulp of the exact value but not always correctly rounded, ours
// are correctly rounded: a case is an exact match, or 1 ulp apart / only C1 (the rounding direction) differs with
// the exact value (test/diff/trans-ref.ts, BigInt) within 1/4 ulp of the rounding boundary (trans-run.ts
// nearBoundary; the real CPU's internal value lies on the other side of it). Anything else fails, and so does any difference on special operands (±0, ±inf, NaNs, unsupported encodings,
// empty registers, |x| >= 2^63 for the trigonometric forms, |x| >= 1 for F2XM1): those must match bit for bit.
import { describe, it, expect } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Machine } from "../host/machine.ts";
import { readCorpus, runOracleAny, oracleAvailable, ROOT, type OracleResult } from "./diff/oracle.ts";
import { genTransCases, isSpecial, TRANS_CORPUS_FILE, TRANS_FORM_NAMES } from "./diff/fpu-trans-gen.ts";
import { stableResults, mapX64FpuResult } from "./diff/fpu-gen.ts";
import { tallyTrans, tallyTable, nearBoundary } from "./diff/trans-run.ts";
import { FPU_OUT } from "./diff/fpu-gen.ts";
import { OurCpu } from "./diff/run-ours.ts";
import { exactResults, fromExt, position, ulpsFrom } from "./diff/trans-ref.ts";
import type { Case } from "./diff/gen.ts";

const haveCpu = existsSync(join(ROOT, "build/cpu.wasm"));
const haveCorpus = existsSync(TRANS_CORPUS_FILE);
const oracle = oracleAvailable();
const LIVE = Number(process.env.FPU_TRANS_LIVE_CASES ?? 1600);
const SEED = Number(process.env.FPU_SEED ?? 314159);

const CODE = 0x1000, DATA = 0x3000, SAVE = 0x3800;
const le80 = (se: number, m: bigint) => [...Array.from({ length: 8 }, (_, i) => Number((m >> BigInt(8 * i)) & 0xffn)), se & 0xff, se >> 8];
/** fninit, the code, fnsave [SAVE], hlt; the FNSAVE image decoded (ST(i) as "sexp:significand") */
function x87(code: number[], data: number[] = []) {
  const m = new Machine({ memSize: 1 << 20, exitOnHlt: true, exceptionBitmap: 0xffffffff });
  m.setFlatProtectedMode();
  m.esp = 0x8000;
  m.writeMem(CODE, [0xdb, 0xe3, ...code, 0xdd, 0x35, SAVE & 0xff, SAVE >> 8, 0, 0, 0xf4]);
  m.writeMem(DATA, data);
  m.eip = CODE;
  const exit = m.run(50);
  const b = m.readMem(SAVE, 108);
  const sw = b[4] | (b[5] << 8), tw = b[8] | (b[9] << 8), top = (sw >> 11) & 7;
  const st = Array.from({ length: 8 }, (_, i) => {
    const o = 28 + i * 10;
    let sig = 0n; for (let k = 7; k >= 0; k--) sig = (sig << 8n) | BigInt(b[o + k]);
    const empty = ((tw >> (2 * ((top + i) & 7))) & 3) === 3;
    return empty ? "empty" : `${(b[o + 8] | (b[o + 9] << 8)).toString(16).padStart(4, "0")}:${sig.toString(16).padStart(16, "0")}`;
  });
  return { exit, sw, top, st, c1: (sw >> 9) & 1, c2: (sw >> 10) & 1, exc: sw & 0x7f };
}
// fld tword [DATA], fld tword [DATA+16]
const LD0 = [0xdb, 0x2d, DATA & 0xff, DATA >> 8, 0, 0], LD1 = [0xdb, 0x2d, (DATA + 16) & 0xff, DATA >> 8, 0, 0];
const two = (a: number[], b: number[]) => [...a, 0, 0, 0, 0, 0, 0, ...b];

describe.skipIf(!haveCpu)("x87 transcendentals: hand-checked cases", () => {
  it("FSIN of FLDPI is -2^-64: the operand is reduced by the x87's 66-bit pi, not the exact one", () => {
    const r = x87([0xd9, 0xeb, 0xd9, 0xfe]); // fldpi; fsin
    expect(r.exit.reason).toBe("hlt");
    expect(r.st[0]).toBe("bfbf:8000000000000000"); // sin(0xC90FDAA22168C235 * 2^-62) with pi = 0xC90FDAA22168C234C * 2^-66
    expect(r.exc).toBe(0x20); expect(r.c1).toBe(1); expect(r.c2).toBe(0); // inexact, rounded up in magnitude
  });

  it("FSINCOS of 1.0: sine in ST(1), cosine pushed to ST(0); FPTAN of 0.5 pushes 1.0", () => {
    const s = x87([0xd9, 0xe8, 0xd9, 0xfb]); // fld1; fsincos
    expect(s.st.slice(0, 2)).toEqual(["3ffe:8a51407da8345c92", "3ffe:d76aa47848677021"]); // cos 1 = 0.5403023..., sin 1 = 0.8414709...
    expect([s.top, s.c1, s.exc]).toEqual([6, 1, 0x20]);
    const t = x87([...LD0, 0xd9, 0xf2], le80(0x3ffe, 1n << 63n)); // fld tword [0.5]; fptan
    expect(t.st.slice(0, 2)).toEqual(["3fff:8000000000000000", "3ffe:8bda7adf9a3a5219"]); // 1.0, tan 0.5 = 0.5463024...
    expect([t.top, t.c1, t.c2, t.exc]).toEqual([6, 1, 0, 0x20]);
  });

  it("FCOS near 2^63 and FSIN of 2^63: in range it reduces exactly; |x| >= 2^63 sets C2 and leaves the operand", () => {
    const c = x87([...LD0, 0xd9, 0xff], le80(0x403d, (1n << 64n) - 1n)); // fcos of 2^63 - 1
    expect(c.st[0]).toBe("3ffd:f56ec1e0a37c4176");
    expect([c.c2, c.exc]).toEqual([0, 0x20]);
    const s = x87([...LD0, 0xd9, 0xfe], le80(0x403e, 1n << 63n)); // fsin of 2^63
    expect(s.st[0]).toBe("403e:8000000000000000");
    expect([s.c2, s.exc]).toEqual([1, 0]);
  });

  it("F2XM1 of 0.5, FYL2X of (8, 3), FPATAN of (1, 1), FYL2XP1 of (+0, 1)", () => {
    const f = x87([...LD0, 0xd9, 0xf0], le80(0x3ffe, 1n << 63n)); // f2xm1: sqrt(2) - 1 = 0.4142135...
    expect([f.st[0], f.exc, f.c1]).toEqual(["3ffd:d413cccfe7799211", 0x20, 0]);
    const l = x87([...LD1, ...LD0, 0xd9, 0xf1], two(le80(0x4002, 1n << 63n), le80(0x4000, 3n << 62n))); // y=3, x=8: 3*log2(8)
    expect([l.st[0], l.st[1], l.top, l.exc]).toEqual(["4002:9000000000000000", "empty", 7, 0x20]); // 9, popped; inexact as the CPU says
    const a = x87([0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xf3]); // fld1; fld1; fpatan
    expect([a.st[0], a.c1, a.exc]).toEqual(["3ffe:c90fdaa22168c235", 1, 0x20]); // pi/4 rounded up
    const p = x87([0xd9, 0xe8, 0xd9, 0xee, 0xd9, 0xf9]); // fld1; fldz; fyl2xp1
    expect([p.st[0], p.exc]).toEqual(["0000:0000000000000000", 0]);
  });

  it("FPTAN with a small negative reduced argument: tan r = r + r^3/3 keeps r's sign (rounded down and up)", () => {
    // x = -776,000.9...: |x| = 988552 * pi66/2 - 2.04e-13, so tan x = +2.04274748158428387512e-13 + (2.04e-13)^3/3;
    // the real CPU (AMD EPYC): 3fd4:e5fe300000000000 rounding down, ...001 rounding up (C1 = 1)
    const cwDown = [0x7f, 0x07], cwUp = [0x7f, 0x0b];
    const x = le80(0xc013, 0xbd8d6ecdb6802b89n);
    const ldcw = [0xd9, 0x2d, (DATA + 16) & 0xff, DATA >> 8, 0, 0]; // fldcw [DATA+16]
    const d = x87([...ldcw, ...LD0, 0xd9, 0xf2], [...x, 0, 0, 0, 0, 0, 0, ...cwDown]); // fldcw; fld tword; fptan
    expect([d.st[0], d.st[1], d.c1, d.exc]).toEqual(["3fff:8000000000000000", "3fd4:e5fe300000000000", 0, 0x20]);
    const u = x87([...ldcw, ...LD0, 0xd9, 0xf2], [...x, 0, 0, 0, 0, 0, 0, ...cwUp]);
    expect([u.st[1], u.c1]).toEqual(["3fd4:e5fe300000000001", 1]);
  });

  it("special operands: empty ST(0) (masked stack underflow), ±inf, FPTAN with ST(7) in use (stack overflow)", () => {
    const u = x87([0xd9, 0xfe]); // fsin on an empty stack
    expect([u.st[0], u.exc, u.c1]).toEqual(["ffff:c000000000000000", 0x41, 0]); // indefinite, IE|SF
    const i = x87([...LD0, 0xd9, 0xff], le80(0xffff, 1n << 63n)); // fcos of -inf
    expect([i.st[0], i.exc]).toEqual(["ffff:c000000000000000", 0x01]);
    // eight pushes fill the stack: FPTAN cannot push (IE|SF, C1=1), ST(0) becomes the indefinite and it is pushed
    const o = x87([...Array(8).fill([0xd9, 0xe8]).flat(), 0xd9, 0xf2]); // fld1 x8; fptan
    expect(o.exc & 0x41).toBe(0x41); expect(o.c1).toBe(1);
    expect(o.st[0]).toBe("ffff:c000000000000000");
    const m1 = x87([0xd9, 0xe8, 0xd9, 0xe0, 0xd9, 0xf0]); // fld1; fchs; f2xm1: 2^-1 - 1, reported inexact by the CPU
    expect([m1.st[0], m1.exc]).toEqual(["bffe:8000000000000000", 0x20]);
  });
});

describe.skipIf(!haveCpu)("x87 transcendentals: the accepted class of differences from the real CPU", () => {
  // F2XM1 of x = -1.0198e-321 (bbd5:d69722efc4748800) rounding toward zero: 2^x - 1 lies 0.0141 ulp beyond
  // bbd5:94be228ca56f9ba2 (ours, correctly rounded); the real CPU (AMD EPYC) gives ...ba1, its internal value having
  // fallen just below the representable value. Accepted; the same 1 ulp where the exact value lies far from any
  // boundary is not, and neither is 2 ulps.
  const c = genTransCases(7, 64).find((k) => k.form === "x87 f2xm1" && !isSpecial(k))!;
  const img = c.patches[0].data;
  img[0] = 0x7f; img[1] = 0x0f; // CW: all masked, RC toward zero
  const setSt0 = (se: number, m: bigint) => img.splice(28, 10, ...le80(se, m));
  const cpuWith = (got: Uint8Array, m: bigint) => { const e = got.slice(); e.set(le80(0xbbd5, m).slice(0, 8), FPU_OUT + 28); return e; };
  it("the BigInt reference (test/diff/trans-ref.ts) agrees with known values to well under 1/2 ulp", () => {
    const one = fromExt(0x3fff, 1n << 63n), half = fromExt(0x3ffe, 1n << 63n);
    const near = (v: ReturnType<typeof fromExt>, se: number, m: bigint) => Math.abs(ulpsFrom(se, m, v));
    expect(near(exactResults("fsin", one, one)![0], 0x3ffe, 0xd76aa47848677021n)).toBeLessThan(0.5); // sin 1
    expect(near(exactResults("fsincos", one, one)![0], 0x3ffe, 0x8a51407da8345c92n)).toBeLessThan(0.5); // cos 1
    expect(near(exactResults("fptan", half, one)![1], 0x3ffe, 0x8bda7adf9a3a5219n)).toBeLessThan(0.5); // tan 0.5
    expect(near(exactResults("f2xm1", half, one)![0], 0x3ffd, 0xd413cccfe7799211n)).toBeLessThan(0.5); // sqrt 2 - 1
    expect(near(exactResults("fpatan", one, one)![0], 0x3ffe, 0xc90fdaa22168c235n)).toBeLessThan(0.5); // pi/4
    expect(near(exactResults("fyl2x", fromExt(0x4002, 1n << 63n), fromExt(0x4000, 3n << 62n))![0], 0x4002, 0x9000000000000000n)).toBeLessThan(1e-9); // 3 log2 8
    // the 66-bit pi's reduction: sin(fldpi) = -2^-64 * 0.9... rounds to bfbf:8000000000000000 (the hand test above)
    expect(near(exactResults("fsin", fromExt(0x4000, 0xc90fdaa22168c235n), one)![0], 0xbfbf, 1n << 63n)).toBeLessThan(0.5);
  });

  it("a 1 ulp difference next to the rounding boundary is accepted, far from it or 2 ulps apart it is not", () => {
    const ours = new OurCpu();
    setSt0(0xbbd5, 0xd69722efc4748800n);
    const got = ours.run(c).mem;
    expect([...got.slice(FPU_OUT + 28, FPU_OUT + 38)]).toEqual(le80(0xbbd5, 0x94be228ca56f9ba2n));
    const st = { maxToBoundary: 0, maxCpuErr: 0, cases: 0, onBoundary: 0 };
    expect(nearBoundary(c, cpuWith(got, 0x94be228ca56f9ba1n), got, "ulp1", st)).toBe(true);
    expect(st.maxToBoundary).toBeCloseTo(0.0141, 3); expect(st.maxCpuErr).toBeCloseTo(1.0141, 3);
    expect(nearBoundary(c, cpuWith(got, 0x94be228ca56f9ba0n), got, "ulp1", st)).toBe(false); // 2 ulps
    // x = -1.0198e-321 * 63/64: 2^x - 1 lies 0.48 ulp from a representable value
    const x2 = 0xd69722efc4748800n - (0xd69722efc4748800n >> 6n);
    expect(position(exactResults("f2xm1", fromExt(0xbbd5, x2), fromExt(0, 0n))![0], 3).toBoundary).toBeGreaterThan(0.45);
    setSt0(0xbbd5, x2);
    const got2 = ours.run(c).mem;
    const m2 = got2.slice(FPU_OUT + 28, FPU_OUT + 36).reduceRight((a, b) => (a << 8n) | BigInt(b), 0n);
    expect(nearBoundary(c, cpuWith(got2, m2 - 1n), got2, "ulp1", st)).toBe(false);
    expect(nearBoundary(c, cpuWith(got2, m2 - 1n), got2, "c1", st)).toBe(false);
  });
});

function check(cases: Case[], results: OracleResult[], label: string) {
  const { per, examples } = tallyTrans(cases, results, 10);
  const { text, total } = tallyTable(per);
  console.log(`${label}:\n${text}`);
  if (examples.length) console.log(examples.join("\n"));
  const n = cases.length;
  expect(total.other, `${total.other} of ${n} transcendental cases differ from the real CPU outside the near-boundary class`).toBe(0);
  expect(total.exact / n).toBeGreaterThan(0.94);
  // per form (outside FYL2XP1's domain not counted): FPTAN is the real CPU's least accurate (8-15 % 1 ulp apart)
  for (const [f, t] of per) expect(t.exact / (t.exact + t.ulp1 + t.c1 + t.other), f).toBeGreaterThan(f.endsWith("fptan") ? 0.78 : 0.9);
  // special operands bit for bit
  const special = cases.map((c, i) => [c, results[i]] as const).filter(([c]) => isSpecial(c));
  const sp = tallyTrans(special.map((x) => x[0]), special.map((x) => x[1]), 5, true);
  const st = tallyTable(sp.per).total;
  if (sp.examples.length || st.ulp1 || st.c1) console.log(sp.examples.join("\n"));
  expect(special.length).toBeGreaterThan(n / 10);
  expect(st.exact, `special operands: ${special.length - st.exact} of ${special.length} differ`).toBe(special.length);
}

describe.skipIf(!haveCpu || !haveCorpus)("x87 transcendentals vs the recorded real-CPU corpus", () => {
  it("every transcendental form; no differences but 1 ulp / C1 next to the rounding boundary; special operands bit for bit", () => {
    const { header, entries } = readCorpus(TRANS_CORPUS_FILE);
    const forms = new Set(entries.map((e) => e.c.form));
    expect(TRANS_FORM_NAMES.filter((f) => !forms.has(`x87 ${f}`))).toEqual([]);
    check(entries.map((e) => e.c), entries.map((e) => e.r), `corpus (${header.cpu}, ${header.created})`);
  });
});

describe.skipIf(!haveCpu || !oracle.ok)(`x87 transcendentals vs the real CPU, live (${oracle.ok ? oracle.arch : "no"} oracle)`, () => {
  it(`${LIVE} fresh cases (seed ${SEED})`, () => {
    const cases = genTransCases(SEED, LIVE);
    const arch = oracle.ok ? oracle.arch : undefined;
    const run = (cs: Case[]) => {
      const r = runOracleAny(cs, arch);
      expect(r.skippedTotal).toBe(0);
      return r.arch === "x86-64" ? r.results.map((x, i) => mapX64FpuResult(cs[i], x)) : r.results;
    };
    const { results } = stableResults(cases, run);
    check(cases, results, `live seed ${SEED}`);
  });
});
