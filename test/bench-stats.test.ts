// bench-stats.test.ts — scripts/bench/stats.mjs: the bench's intervals (bootstrap over interleaved pairs) and
// the rule that a figure whose interval includes zero or flips sign is "not resolved", never a number.
// Synthetic data with a known answer; the RNG is seeded, so every result is deterministic.
import { describe, it, expect } from "vitest";
import * as S from "../scripts/bench/stats.mjs";

/** Box-Muller normal from the module's seeded RNG. */
function normal(r: () => number) {
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Synthetic difference-method runs: per pair, T(N1) and T(N2) = start-up + n × cost, with a shared load factor. */
function runs(seed: number, pairs: number, cost: number, { n1 = 100, n2 = 1100, start = 200, noise = 0.05 } = {}) {
  const g = normal(S.rng(seed));
  const load: number[] = [], t1: number[] = [], t2: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const l = 1 + Math.abs(g()) * 0.3; // the machine's load during pair i (drifts; both runs of a pair see it)
    load.push(l);
    t1.push((start + n1 * cost) * l * (1 + noise * g()));
    t2.push((start + n2 * cost) * l * (1 + noise * g()));
  }
  return { t1, t2, dn: n2 - n1, load };
}

describe("rng and median", () => {
  it("the RNG is deterministic for a seed and different across seeds", () => {
    const a = S.rng(7), b = S.rng(7), c = S.rng(8);
    const xa = [a(), a(), a()], xb = [b(), b(), b()], xc = [c(), c(), c()];
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
    for (const x of xa) { expect(x).toBeGreaterThanOrEqual(0); expect(x).toBeLessThan(1); }
  });
  it("median ignores non-finite values", () => {
    expect(S.median([3, 1, 2])).toBe(2);
    expect(S.median([4, 1, NaN, 2, 3])).toBe(2.5);
    expect(S.median([])).toBeNaN();
  });
});

describe("bootstrap over interleaved pairs", () => {
  it("covers a known ratio, and the interval is narrow for clean data", () => {
    // mode B costs exactly 2.5x mode A per operation; pair i of both ran under the same load
    const A = runs(1, 15, 1.0, { noise: 0.01 }), B = runs(2, 15, 2.5, { noise: 0.01 });
    const ci = S.ratio(15, S.perUnitStat(B.t1, B.t2, B.dn), S.perUnitStat(A.t1, A.t2, A.dn));
    expect(ci.resolved).toBe(true);
    expect(ci.lo).toBeLessThan(2.5 * 1.0 + 0.5);
    expect(ci.lo).toBeLessThanOrEqual(ci.est);
    expect(ci.hi).toBeGreaterThanOrEqual(ci.est);
    // load factors are independent between A and B here (different seeds), so the ratio's noise is the load's
    expect(ci.lo).toBeLessThan(2.5);
    expect(ci.hi).toBeGreaterThan(2.5);
    expect(S.fmtCI(ci)).toMatch(/^\d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\]$/);
  });

  it("pairing cancels a load shared by both sides of a ratio", () => {
    // the same load factor for pair i of both modes (interleaved): the pairwise ratio is nearly exact
    const g = normal(S.rng(3));
    const t1a: number[] = [], t2a: number[] = [], t1b: number[] = [], t2b: number[] = [];
    for (let i = 0; i < 12; i++) {
      const l = 1 + Math.abs(g()) * 2; // heavy, varying load
      t1a.push(100 * l); t2a.push(1100 * l); t1b.push(300 * l); t2b.push(3300 * l);
    }
    const paired = S.ratio(12, S.perUnitStat(t1b, t2b, 1000), S.perUnitStat(t1a, t2a, 1000));
    expect(paired.est).toBeCloseTo(3, 6);
    expect(paired.relWidth).toBeLessThan(0.01);
  });

  it("the 95 % interval covers the true ratio in about 95 % of synthetic experiments", () => {
    let covered = 0;
    const K = 40;
    for (let k = 0; k < K; k++) {
      const A = runs(100 + k, 20, 1.0, { noise: 0.03 }), B = runs(500 + k, 20, 1.6, { noise: 0.03 });
      // the truth for these generators: medians of l*(...) — compare against the ratio of per-unit costs × the
      // ratio of median loads, which is what the medians estimate; with |N(0,1)|*0.3 loads both medians are equal
      // in distribution, so the true ratio is 1.6
      const ci = S.ratio(20, S.perUnitStat(B.t1, B.t2, B.dn), S.perUnitStat(A.t1, A.t2, A.dn), { B: 500, seed: k + 1 });
      if (ci.resolved && ci.lo <= 1.6 && ci.hi >= 1.6) covered++;
    }
    expect(covered / K).toBeGreaterThan(0.8);
  });

  it("is deterministic for a seed", () => {
    const A = runs(9, 10, 1.0);
    const a = S.perUnit(A.t1, A.t2, A.dn, { seed: 42 }), b = S.perUnit(A.t1, A.t2, A.dn, { seed: 42 });
    const c = S.perUnit(A.t1, A.t2, A.dn, { seed: 43 });
    expect(a).toEqual(b);
    expect([c.lo, c.hi]).not.toEqual([a.lo, a.hi]);
  });
});

describe("unresolved figures", () => {
  it("a zero-crossing difference is reported as unresolved, never as a number", () => {
    // cost 0.001 per unit against start-up noise of 20 %: the N2 - N1 difference is swamped (the bench's
    // "ctxsw full -890 µs/op" on a loaded machine)
    const A = runs(11, 8, 0.001, { noise: 0.2 });
    const ci = S.perUnit(A.t1, A.t2, A.dn);
    expect(ci.resolved).toBe(false);
    expect(ci.lo).toBeLessThan(0);
    expect(ci.hi).toBeGreaterThan(0);
    expect(ci.why).toMatch(/includes zero|sign|negative/);
    expect(S.fmtCI(ci, 2, " µs")).toBe("not resolved at this run length");
    expect(S.fmtEst(ci)).toBe("not resolved");
    const j = S.ciJson(ci);
    expect(j.est).toBeNull();
    expect(j.resolved).toBe(false);
  });

  it("a negative estimate of a time is unresolved even if the interval is all negative", () => {
    const t1 = [100, 101, 99, 100, 102], t2 = [90, 91, 89, 90, 92];
    const ci = S.perUnit(t1, t2, 10);
    expect(ci.est).toBeLessThan(0);
    expect(ci.resolved).toBe(false);
  });

  it("a ratio whose denominator crosses zero is unresolved", () => {
    const good = runs(21, 10, 1.0, { noise: 0.01 }), bad = runs(22, 10, 0.0005, { noise: 0.2 });
    const ci = S.ratio(10, S.perUnitStat(good.t1, good.t2, good.dn), S.perUnitStat(bad.t1, bad.t2, bad.dn));
    expect(ci.resolved).toBe(false);
    expect(S.fmtCI(ci)).toBe(S.UNRESOLVED);
  });

  it("a difference that flips sign across resamples is unresolved; a clear one is resolved", () => {
    const a = [10, 12, 9, 11, 10, 13], b = [11, 10, 12, 9, 10, 12];
    const flip = S.difference(6, (i: number[]) => S.median(S.take(a, i)), (i: number[]) => S.median(S.take(b, i)));
    expect(flip.resolved).toBe(false);
    const c = a.map((x) => x + 20);
    const clear = S.difference(6, (i: number[]) => S.median(S.take(c, i)), (i: number[]) => S.median(S.take(b, i)));
    expect(clear.resolved).toBe(true);
    expect(clear.lo).toBeGreaterThan(0);
  });

  it("too few pairs give no interval", () => {
    const ci = S.perUnit([100], [1100], 1000);
    expect(ci.est).toBeCloseTo(1, 9);
    expect(ci.resolved).toBe(false);
    expect(ci.why).toMatch(/1 pair; an interval needs at least 3/);
  });
});

describe("lengthening", () => {
  it("adds rounds until the interval is narrow enough", async () => {
    const g = normal(S.rng(5));
    const t1: number[] = [], t2: number[] = [];
    const round = () => { t1.push(200 * (1 + 0.2 * g())); t2.push(1200 * (1 + 0.2 * g())); };
    for (let i = 0; i < 3; i++) round();
    let clock = 0;
    const r = await S.lengthen({
      figures: () => [{ name: "x", ci: S.perUnit(t1, t2, 1000, { B: 500 }) }],
      more: async () => { round(); clock += 10; }, target: 0.1, capMs: 1e6, t0: 0, now: () => clock,
    });
    expect(r.met).toBe(true);
    expect(r.added).toBeGreaterThan(0);
    expect(S.perUnit(t1, t2, 1000, { B: 500 }).relWidth).toBeLessThanOrEqual(0.1);
  });

  it("stops at the time cap and says which figures stayed wide", async () => {
    let clock = 0;
    const wide = S.judge({ est: 1, lo: 0.5, hi: 1.5, n: 5 });
    const r = await S.lengthen({ figures: () => [{ name: "wide one", ci: wide }], more: async () => { clock += 100; }, target: 0.1, capMs: 450, t0: 0, now: () => clock, roundMs: () => 100 });
    expect(r).toEqual({ added: 4, met: false, stoppedBy: "time cap", wide: ["wide one"] });
  });
});
