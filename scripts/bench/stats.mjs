// stats.mjs — the bench's statistics: 95 % intervals by bootstrap over interleaved pairs, and the rule that a
// figure whose interval includes zero (or flips sign) is "not resolved at this run length", never a number.
//
// Why a bootstrap over pairs: every figure of the bench is a difference of medians (T(N2) - T(N1), the difference
// method) or a ratio of two such differences. Runs are interleaved — pair i of every row / round i of every mode
// ran back to back — so a slow drift in the machine's load hits pair i of both sides of a ratio alike. Resampling
// whole pair indices (the same index set for both sides) keeps that pairing, as shared/peers/bench.mjs's
// "pair min..max" does, and gives an interval that is honest about the noise of a loaded machine.
// Deterministic: the RNG is seeded (mulberry32), so one data set always gives one interval.

/** A seeded PRNG (mulberry32): uniform in [0, 1). */
export function rng(seed = 1) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Median of the finite values (NaN if none). */
export function median(a) {
  const s = Array.from(a).filter(Number.isFinite).sort((x, y) => x - y), n = s.length;
  return !n ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** The values of `a` at the indices `idx`. */
export const take = (a, idx) => Array.from(idx, (i) => a[i]);

/** Linear-interpolated quantile of a sorted array. */
export function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const p = (sorted.length - 1) * q, i = Math.floor(p), f = p - i;
  return i + 1 < sorted.length ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

export const DEFAULTS = { B: 2000, level: 0.95, seed: 0x5eed, minPairs: 3 };
export const UNRESOLVED = "not resolved at this run length";

/**
 * Percentile bootstrap of `stat` over n pairs: stat(idx) gets an array of n indices drawn with replacement
 * (identity for the estimate) and returns a number (NaN when that resample has no meaningful value, e.g. a
 * component of a ratio that is not positive). Returns an interval object (see `judge`).
 */
export function bootstrap(n, stat, opts = {}) {
  const { B, level, seed, minPairs } = { ...DEFAULTS, ...opts };
  const est = n > 0 ? stat(Array.from({ length: n }, (_, i) => i)) : NaN;
  if (n < minPairs) return judge({ est, lo: NaN, hi: NaN, n, bad: 0 }, opts, `${n} pair${n === 1 ? "" : "s"}; an interval needs at least ${minPairs}`);
  const r = rng(seed), idx = new Array(n), vals = [];
  let bad = 0;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < n; i++) idx[i] = Math.floor(r() * n);
    const v = stat(idx);
    if (Number.isFinite(v)) vals.push(v); else bad++;
  }
  vals.sort((x, y) => x - y);
  const a = (1 - level) / 2;
  // resamples without a value count as the most extreme on both sides: the interval then reaches as far as they do
  // (conservative: as if each lay beyond whichever bound is being read)
  const tail = Math.max(0, a * B - bad) / Math.max(1, vals.length - 1);
  const lo = bad / B > a ? -Infinity : quantile(vals, tail);
  const hi = bad / B > a ? Infinity : quantile(vals, 1 - tail);
  return judge({ est, lo, hi, n, bad: bad / B }, opts);
}

/**
 * Decides whether an interval resolves its figure. Unresolved when: too few pairs, a non-finite estimate or bound,
 * the interval includes zero, or its sign differs from the estimate's (a difference of noisy runs that flips).
 * `positive: true` also rejects a negative estimate of a quantity that cannot be negative (a time, a rate, a ratio
 * of those). Adds relWidth = (hi - lo) / |est|.
 */
export function judge(ci, opts = {}, why = "") {
  const { positive = false } = opts;
  const { est, lo, hi } = ci;
  let reason = why;
  if (!reason && !Number.isFinite(est)) reason = "no estimate";
  if (!reason && !(Number.isFinite(lo) && Number.isFinite(hi))) reason = "the interval is unbounded (resamples where a part is not positive)";
  if (!reason && lo <= 0 && hi >= 0) reason = "the 95 % interval includes zero";
  if (!reason && Math.sign(lo) !== Math.sign(est)) reason = "the interval and the estimate differ in sign";
  if (!reason && positive && est <= 0) reason = "a quantity that cannot be negative came out negative";
  const relWidth = reason ? NaN : (hi - lo) / Math.abs(est);
  return { est, lo, hi, n: ci.n, relWidth, resolved: !reason, ...(reason ? { why: reason } : {}) };
}

/** Scales an interval by a positive factor (units), keeping the verdict. */
export function scale(ci, k) {
  return { ...ci, est: ci.est * k, lo: ci.lo * k, hi: ci.hi * k };
}

/** Maps an interval through a decreasing positive function (e.g. ms/MiB → MiB/s = 1000/x). */
export function invert(ci, k = 1) {
  if (!ci.resolved) return { ...ci, est: k / ci.est, lo: NaN, hi: NaN };
  return { ...ci, est: k / ci.est, lo: k / ci.hi, hi: k / ci.lo };
}

/**
 * Per-unit cost by the difference method with its interval: (median t2 - median t1) / dn over the pairs
 * (t1[i], t2[i]) ran back to back. A cost must be positive: a negative or zero-crossing difference is unresolved.
 */
export function perUnit(t1, t2, dn, opts = {}) {
  const n = Math.min(t1.length, t2.length);
  return bootstrap(n, (idx) => (median(take(t2, idx)) - median(take(t1, idx))) / dn, { positive: true, ...opts });
}

/** The statistic of perUnit for resampled indices (for building ratios): NaN unless positive. */
export const perUnitStat = (t1, t2, dn) => (idx) => {
  const v = (median(take(t2, idx)) - median(take(t1, idx))) / dn;
  return v > 0 ? v : NaN;
};

/**
 * A ratio of two statistics over the SAME interleaved pairs (num(idx) / den(idx), one index set for both): e.g.
 * full-mode cost / native-mode cost per round. Any resample where a side is not positive has no ratio (NaN): if
 * more than 2.5 % of them do, the interval is unbounded and the ratio unresolved.
 */
export function ratio(n, num, den, opts = {}) {
  return bootstrap(n, (idx) => {
    const a = num(idx), b = den(idx);
    return a > 0 && b > 0 ? a / b : NaN;
  }, { positive: true, ...opts });
}

/** A difference of two statistics over the same pairs (a - b), e.g. full minus native time per trap. */
export function difference(n, a, b, opts = {}) {
  return bootstrap(n, (idx) => a(idx) - b(idx), opts);
}

/** Whether a resolved interval is narrow enough: relative width (hi - lo) / |est| at most `target`. */
export const narrowEnough = (ci, target) => ci.resolved && ci.relWidth <= target;

const num = (x, d) => (Math.abs(x) >= 1e5 ? Math.round(x).toLocaleString("en-US") : x.toFixed(d));
/** "1.23 [1.10, 1.40]" or "not resolved at this run length". */
export function fmtCI(ci, d = 2, unit = "") {
  if (!ci || !ci.resolved) return UNRESOLVED;
  return `${num(ci.est, d)}${unit} [${num(ci.lo, d)}, ${num(ci.hi, d)}]`;
}
/** The estimate alone, or "not resolved" (for narrow table cells). */
export function fmtEst(ci, d = 2) {
  return ci && ci.resolved ? num(ci.est, d) : "not resolved";
}

/** JSON form of an interval: numbers rounded, verdict kept. */
export function ciJson(ci, d = 4) {
  const r = (x) => (Number.isFinite(x) ? +x.toPrecision(d + 2) : null);
  return { est: ci.resolved ? r(ci.est) : null, lo: r(ci.lo), hi: r(ci.hi), n: ci.n, relWidth: r(ci.relWidth), resolved: ci.resolved, ...(ci.resolved ? {} : { raw: r(ci.est), why: ci.why }) };
}

/**
 * Lengthening: runs `more()` (one more interleaved round of everything) while some figure of `figures()` is not
 * narrowEnough and the time since `t0` stays under `capMs` (a round is only started if its expected duration, the
 * mean so far, still fits). Returns { rounds added, met: every figure narrow enough, stoppedBy }.
 */
export async function lengthen({ figures, more, target, capMs, t0, now = () => Date.now(), roundMs = () => 0, maxRounds = 1000 }) {
  let added = 0;
  const wide = () => figures().filter((f) => !narrowEnough(f.ci, target));
  for (;;) {
    const w = wide();
    if (!w.length) return { added, met: true, stoppedBy: "target", wide: [] };
    const spent = now() - t0;
    if (added >= maxRounds) return { added, met: false, stoppedBy: "rounds", wide: w.map((f) => f.name) };
    if (spent + roundMs() > capMs) return { added, met: false, stoppedBy: "time cap", wide: w.map((f) => f.name) };
    await more();
    added++;
  }
}
