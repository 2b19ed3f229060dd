// trans-ref.ts — the exact values of the x87 transcendentals, to ~250 bits, in BigInt (independent of the wasm's
// 128-bit fpu/wide.ts), for judging the real CPU's results: where a case differs from ours (correctly rounded), how
// far the exact value lies from the rounding boundary the two results straddle. The trigonometric forms reduce
// exactly modulo the x87's 66-bit pi/2 (0xC90FDAA22168C234C * 2^-67), as the hardware does.

/** a value s * 2^e */
export interface Big { s: bigint; e: number }
const W = 260; // working precision (bits kept in s)
const BIAS = 16383;

function bitlen(v: bigint): number { return v === 0n ? 0 : (v < 0n ? -v : v).toString(2).length; }
function norm(a: Big): Big {
  const n = bitlen(a.s);
  if (n <= W) return a;
  const k = n - W;
  return { s: a.s >> BigInt(k), e: a.e + k }; // (floor: 2^-W relative, far below what the classification needs)
}
export const big = (s: bigint, e = 0): Big => norm({ s, e });
export function mul(a: Big, b: Big): Big { return norm({ s: a.s * b.s, e: a.e + b.e }); }
export function add(a: Big, b: Big): Big {
  if (a.s === 0n) return b;
  if (b.s === 0n) return a;
  // a term more than W+8 bits below the other only nudges the sum: keep it as a one-bit sticky at that depth
  const top = (x: Big) => x.e + bitlen(x.s);
  const lo = Math.max(Math.min(a.e, b.e), Math.max(top(a), top(b)) - W - 8);
  const al = a.e >= lo ? a.s << BigInt(a.e - lo) : (a.s >> BigInt(lo - a.e)) | 1n;
  const bl = b.e >= lo ? b.s << BigInt(b.e - lo) : (b.s >> BigInt(lo - b.e)) | 1n;
  return norm({ s: al + bl, e: lo });
}
export const neg = (a: Big): Big => ({ s: -a.s, e: a.e });
export const sub = (a: Big, b: Big): Big => add(a, neg(b));
export function div(a: Big, b: Big): Big {
  const sh = W + bitlen(b.s) - bitlen(a.s) + 2;
  return norm({ s: (a.s << BigInt(Math.max(sh, 0))) / b.s, e: a.e - b.e - Math.max(sh, 0) });
}
const tiny = (t: Big, sum: Big) => t.s === 0n || t.e + bitlen(t.s) < sum.e + bitlen(sum.s) - W - 4;

/** sum of t0 * prod(q * k-th factor) — the series below share this loop */
function series(t0: Big, q: Big, next: (t: Big, k: number) => Big): Big {
  let t = t0, sum = t0;
  for (let k = 1; k < 2000; k++) { t = next(mul(t, q), k); sum = add(sum, t); if (tiny(t, sum)) break; }
  return sum;
}
const divInt = (a: Big, n: number): Big => div(a, big(BigInt(n)));
/** atanh(u) (|u| <= 1/3) */
function atanhSum(u: Big): Big {
  const q = mul(u, u); let p = u, sum = u;
  for (let k = 1; k < 2000; k++) { p = mul(p, q); const t = divInt(p, 2 * k + 1); sum = add(sum, t); if (tiny(t, sum)) break; }
  return sum;
}
/** atan(t) for |t| <= 1/2 */
function atanSmall(u: Big): Big {
  const q = neg(mul(u, u)); let p = u, sum = u;
  for (let k = 1; k < 4000; k++) { p = mul(p, q); const t = divInt(p, 2 * k + 1); sum = add(sum, t); if (tiny(t, sum)) break; }
  return sum;
}
const ONE = big(1n);
// pi = 16 atan(1/5) - 4 atan(1/239); ln 2 = 2 atanh(1/3)
export const PI = sub(mul(big(16n), atanSmall(div(ONE, big(5n)))), mul(big(4n), atanSmall(div(ONE, big(239n)))));
const LN2 = mul(big(2n), atanhSum(div(ONE, big(3n))));

function sinSmall(r: Big): Big { const q = neg(mul(r, r)); return series(r, q, (t, k) => divInt(t, (2 * k) * (2 * k + 1))); }
function cosSmall(r: Big): Big { const q = neg(mul(r, r)); return series(ONE, q, (t, k) => divInt(t, (2 * k - 1) * (2 * k))); }
/** atan(t), t >= 0 */
function atanPos(t: Big): Big {
  if (t.s === 0n) return t;
  if (cmp(t, big(1n)) > 0) return sub(mul(PI, big(1n, -1)), atanPos(div(ONE, t)));
  if (cmp(t, big(1n, -1)) <= 0) return atanSmall(t);
  return add(mul(PI, big(1n, -2)), atanSmall(div(sub(t, ONE), add(t, ONE)))); // |(t-1)/(t+1)| <= 1/3
}
/** ln(m * 2^k) for m > 0 */
function ln(x: Big): Big {
  // x = f * 2^k with f in [sqrt(1/2), sqrt(2))
  let k = x.e + bitlen(x.s) - 1;
  let f: Big = { s: x.s, e: x.e - k };
  if (cmp(f, { s: 0xB504F333F9DE6484n, e: -63 }) >= 0) { f = { s: f.s, e: f.e - 1 }; k++; }
  const u = div(sub(f, ONE), add(f, ONE));
  return add(mul(big(2n), atanhSum(u)), mul(big(BigInt(k)), LN2));
}
export function cmp(a: Big, b: Big): number { const d = sub(a, b).s; return d > 0n ? 1 : d < 0n ? -1 : 0; }

/** an extended value (finite) as a Big */
export function fromExt(se: number, m: bigint): Big {
  const e = se & 0x7fff;
  const v = { s: m, e: (e === 0 ? 1 : e) - BIAS - 63 };
  return se & 0x8000 ? neg(v) : v;
}

/** |x| reduced modulo the 66-bit pi/2: x = q * P66/2 + r, |r| <= P66/4 (nearest multiple) — exact */
export function reduce66(x: Big): { r: Big; q: number } {
  const P = 0xC90FDAA22168C234Cn; // pi/2 = P * 2^-67
  // x * 2^67 = s * 2^(e+67): an exact rational with a power-of-2 denominator
  const sh = x.e + 67;
  const num = sh >= 0 ? x.s << BigInt(sh) : x.s;
  const den = sh >= 0 ? 1n : 1n << BigInt(-sh);
  // q = nearest integer to num / (den * P)
  const dp = den * P;
  const q = num >= 0n ? (2n * num + dp) / (2n * dp) : -((-2n * num + dp) / (2n * dp));
  const rnum = num - q * dp; // r = rnum / den * 2^-67
  return { r: norm({ s: rnum, e: Math.min(sh, 0) - 67 }), q: Number(((q % 4n) + 4n) % 4n) };
}

/** the exact results of a form for the operands x = ST(0), y = ST(1) (finite, in the domain): the result registers
 * in ST order after the instruction (FSINCOS: [cos, sin], FPTAN: [1, tan]), or null where a form has no value */
export function exactResults(form: string, x: Big, y: Big): Big[] | null {
  switch (form) {
    case "fsin": case "fcos": case "fsincos": case "fptan": {
      const neg0 = x.s < 0n;
      const { r, q } = reduce66(neg0 ? neg(x) : x);
      const s = sinSmall(r), c = cosSmall(r);
      let sn = [s, c, neg(s), neg(c)][q], cs = [c, neg(s), neg(c), s][q];
      if (neg0) sn = neg(sn);
      if (form === "fsin") return [sn];
      if (form === "fcos") return [cs];
      if (form === "fsincos") return [cs, sn];
      return [ONE, div(sn, cs)];
    }
    case "fpatan": {
      if (x.s === 0n || y.s === 0n) return null;
      let a = atanPos(div(y.s < 0n ? neg(y) : y, x.s < 0n ? neg(x) : x));
      if (x.s < 0n) a = sub(PI, a);
      return [y.s < 0n ? neg(a) : a];
    }
    case "f2xm1": {
      if (x.s === 0n) return null;
      const t = mul(x, LN2); // 2^x - 1 = t + t^2/2! + ... (no cancellation for tiny x)
      return [series(t, t, (u, k) => divInt(u, k + 1))];
    }
    case "fyl2x": return x.s > 0n ? [div(mul(y, ln(x)), LN2)] : null;
    case "fyl2xp1": {
      if (x.s === 0n) return null;
      const u = div(x, add(big(2n), x)); // ln(1+x) = 2 atanh(x / (2+x))
      return [div(mul(y, mul(big(2n), atanhSum(u))), LN2)];
    }
  }
  return null;
}

/**
 * Where the exact value v lies against the extended format's rounding boundaries, in units of the last place of
 * the 64-bit significand (denormal results: the format's smallest ulp): `toBoundary` is the distance to the nearest
 * boundary of the rounding control rc (0 nearest: the midpoints; 1, 2, 3: the representable values); `toValue` the
 * distance to the nearest representable value; `ulpE` the unbiased exponent of that ulp.
 */
export function position(v: Big, rc: number): { toBoundary: number; toValue: number; ulpE: number } {
  const a = v.s < 0n ? neg(v) : v;
  const top = a.e + bitlen(a.s) - 1; // floor(log2 |v|)
  const ulpE = Math.max(top - 63, 1 - BIAS - 63);
  // t = |v| / 2^ulpE as a fixed-point number with 64 fraction bits
  const sh = a.e - ulpE + 64;
  const t = sh >= 0 ? a.s << BigInt(sh) : a.s >> BigInt(-sh);
  const frac = Number(t & ((1n << 64n) - 1n)) / 2 ** 64; // in [0, 1)
  const toValue = Math.min(frac, 1 - frac);
  const toBoundary = rc === 0 ? Math.abs(frac - 0.5) : toValue;
  return { toBoundary, toValue, ulpE };
}
/** |a - v| in ulps of v (a an extended value) */
export function ulpsFrom(se: number, m: bigint, v: Big): number {
  const d = sub(fromExt(se, m), v);
  const { ulpE } = position(v, 0);
  if (d.s === 0n) return 0;
  const n = bitlen(d.s);
  const lead = Number((d.s < 0n ? -d.s : d.s) >> BigInt(Math.max(n - 53, 0))) * 2 ** Math.max(n - 53, 0);
  return lead * 2 ** (d.e - ulpE);
}
