// fpu-trans-gen.ts — x87 transcendental cases for the real-CPU oracle (the case shape of fpu-gen.ts: FNINIT,
// FRSTOR a random state, the instruction, FNSAVE). ST(0)/ST(1) are drawn mostly from each instruction's domain
// (F2XM1 |x| <= 1, FYL2XP1 |x| < 1 - sqrt(2)/2, FSIN/FCOS/FSINCOS/FPTAN |x| < 2^63 with operands next to
// multiples of the 66-bit pi/2, FYL2X x > 0 and x near 1, FPATAN every ratio), the rest from fpu-gen's special
// values (±0, ±inf, NaNs, denormals, pseudo-denormals, unnormals, extreme exponents) and out-of-domain operands;
// ST(0)/ST(1) are in use and ST(7) free in most cases, so stack faults stay a minority. The transcendentals'
// results on real CPUs are not always correctly rounded: the comparison (classifyTrans, trans-run.ts nearBoundary)
// tells exact matches, results one unit in the last place away next to a rounding boundary, and anything else.
import { Rng, SCRATCH_BASE, type Case } from "./gen.ts";
import { genFpuCase, val80, rnd64, FPU_OUT, type FForm } from "./fpu-gen.ts";
import { ROOT } from "./oracle.ts";
import { join } from "node:path";

export const TRANS_CORPUS_FILE = join(ROOT, "fixtures/fpu-cases/transcendental.bin.gz");
const BIAS = 16383;
const TOP = 1n << 63n;
type V = { se: number; m: bigint };

export const TRANS_FORMS: FForm[] = [
  { name: "f2xm1", bytes: () => [0xd9, 0xf0] },
  { name: "fyl2x", bytes: () => [0xd9, 0xf1] },
  { name: "fptan", bytes: () => [0xd9, 0xf2] },
  { name: "fpatan", bytes: () => [0xd9, 0xf3] },
  { name: "fyl2xp1", bytes: () => [0xd9, 0xf9] },
  { name: "fsincos", bytes: () => [0xd9, 0xfb] },
  { name: "fsin", bytes: () => [0xd9, 0xfe] },
  { name: "fcos", bytes: () => [0xd9, 0xff] },
];
export const TRANS_FORM_NAMES = TRANS_FORMS.map((f) => f.name);

const P66 = 0xc90fdaa22168c234cn; // pi/2 = P66 * 2^-67
function sig(r: Rng): bigint { return TOP | (rnd64(r) >> 1n); }
function exp(r: Rng, lo: number, hi: number, s: number): V { return { se: s | (BIAS + r.range(lo, hi)), m: sig(r) }; }
/** a value next to k * (66-bit pi)/2 */
function nearPiMultiple(r: Rng, s: number): V {
  const k = BigInt(1 + r.int(r.chance(0.5) ? 8 : 1 << 20));
  const v = k * P66; // * 2^-67
  const len = v.toString(2).length;
  let m = len > 64 ? v >> BigInt(len - 64) : v << BigInt(64 - len);
  m += BigInt(r.range(-3, 3));
  const e = len - 1 - 67;
  return { se: s | (BIAS + e), m: BigInt.asUintN(64, m) | TOP };
}
function domainVal(r: Rng, name: string, which: 0 | 1): V {
  const s = r.chance(0.5) ? 0x8000 : 0;
  if (which === 1) { // ST(1): the multiplier / the y of atan2
    if (r.chance(0.2)) return { se: s | BIAS, m: TOP };
    return exp(r, name === "fpatan" ? -80 : -20, name === "fpatan" ? 80 : 20, s);
  }
  switch (name) {
    case "f2xm1":
      if (r.chance(0.05)) return { se: s | BIAS, m: TOP };
      if (r.chance(0.08)) return exp(r, 0, 3, s);                 // |x| > 1: outside the domain
      return exp(r, r.chance(0.8) ? -12 : -80, -1, s);
    case "fyl2x":
      if (r.chance(0.15)) return { se: BIAS - (r.chance(0.5) ? 1 : 0), m: r.chance(0.5) ? (1n << 64n) - 1n - BigInt(r.int(16)) : TOP + BigInt(r.int(1 << 16)) }; // near 1
      if (r.chance(0.05)) return { se: BIAS + r.range(-60, 60), m: TOP };  // powers of 2
      return exp(r, r.chance(0.8) ? -40 : -16000, r.chance(0.8) ? 40 : 16000, 0);
    case "fyl2xp1":
      if (r.chance(0.08)) return exp(r, -1, 2, s);                 // outside the domain
      return exp(r, r.chance(0.8) ? -20 : -80, -3, s);
    case "fpatan":
      return exp(r, r.chance(0.8) ? -40 : -16000, r.chance(0.8) ? 40 : 16000, s);
    default: // the trigonometric forms
      if (r.chance(0.25)) return nearPiMultiple(r, s);
      if (r.chance(0.06)) return exp(r, 63, r.chance(0.5) ? 64 : 200, s); // |x| >= 2^63: C2 = 1
      return exp(r, r.chance(0.85) ? -4 : -80, r.chance(0.85) ? 8 : 62, s);
  }
}
const le = (v: bigint, n: number) => Array.from({ length: n }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));

export function genTransCase(r: Rng, f: FForm): Case {
  const c = genFpuCase(r, f);
  const img = c.patches[0].data;
  const top = (img[5] >> 3) & 7;
  for (const i of [0, 1] as const) {
    const v = r.chance(0.8) ? domainVal(r, f.name, i) : val80(r);
    img.splice(28 + i * 10, 10, ...le(v.m, 8), v.se & 0xff, v.se >> 8);
  }
  // tags (physical register p = (TOP + i) & 7): ST(0), ST(1) in use and ST(7) free, most of the time
  let tw = img[8] | (img[9] << 8);
  const setTag = (i: number, empty: boolean) => { const p = (top + i) & 7; tw = empty ? tw | (3 << (2 * p)) : tw & ~(3 << (2 * p)); };
  setTag(0, r.chance(0.04)); setTag(1, r.chance(0.04)); setTag(7, !r.chance(0.06));
  img[8] = tw & 0xff; img[9] = tw >> 8;
  return { ...c, form: `x87 ${f.name}` };
}
export function genTransCases(seed: number, count: number, filter?: (name: string) => boolean): Case[] {
  const r = new Rng(seed);
  const fs = TRANS_FORMS.filter((f) => !filter || filter(`x87 ${f.name}`));
  const out: Case[] = [];
  for (let i = 0; i < count; i++) out.push(genTransCase(r, fs[i % fs.length]));
  return out;
}

/**
 * How far our result is from the real CPU's, for a case that differs only in the FNSAVE image's registers:
 * "ulp1" when every differing register is one unit in the last place away (same sign and exponent, or across
 * a binade border) and the rest of the image (CW, SW with C1, TW, pointers) is equal except for C1, which
 * follows the rounding direction; else "other".
 */
export function ulpDistance(a: { se: number; m: bigint }, b: { se: number; m: bigint }): bigint {
  if ((a.se ^ b.se) & 0x8000) return 1n << 80n;
  const key = (v: { se: number; m: bigint }) => (BigInt(v.se & 0x7fff) << 63n) + (v.m & ((1n << 63n) - 1n));
  const d = key(a) - key(b);
  return d < 0n ? -d : d;
}
/**
 * FYL2XP1 with a finite nonzero |ST(0)| >= 1 - sqrt(2)/2: outside the instruction's domain, where the SDM leaves the
 * result undefined ("the source operand is outside of this range, the result is undefined"); the real CPU's
 * approximation then differs from log2(1+x), ours does not. Reported apart, not counted as differences.
 */
export function outsideDomain(c: Case): boolean {
  if (c.form !== "x87 fyl2xp1") return false;
  const img = c.patches[0].data;
  const se = img[36] | (img[37] << 8);
  let m = 0n; for (let k = 7; k >= 0; k--) m = (m << 8n) | BigInt(img[28 + k]);
  const e = se & 0x7fff;
  if (e === 0x7fff || m === 0n || !(m >> 63n)) return false;
  // |x| >= 0.29289321881345247 (0x95F619980C4336F7 * 2^-65)
  return e > BIAS - 2 || (e === BIAS - 2 && m >= 0x95f619980c4336f7n);
}
/** special operands: every such case must match bit for bit (ulp/C1 tolerance applies to computed results only) */
export function isSpecial(c: Case): boolean {
  const img = c.patches[0].data;
  const sw = img[4] | (img[5] << 8), tw = img[8] | (img[9] << 8), top = (sw >> 11) & 7;
  const form = c.form.replace("x87 ", "");
  const n = ["fyl2x", "fyl2xp1", "fpatan"].includes(form) ? 2 : 1;
  for (let i = 0; i < n; i++) {
    if (((tw >> (2 * ((top + i) & 7))) & 3) === 3) return true;
    const o = 28 + i * 10, se = img[o + 8] | (img[o + 9] << 8), e = se & 0x7fff;
    let m = 0n; for (let k = 7; k >= 0; k--) m = (m << 8n) | BigInt(img[o + k]);
    if (e === 0x7fff || m === 0n || (e !== 0 && !(m >> 63n))) return true;
    if (i === 0 && ["fsin", "fcos", "fsincos", "fptan"].includes(form) && e >= 16383 + 63) return true;
    if (i === 0 && form === "f2xm1" && e >= 16383) return true;
  }
  if (["fptan", "fsincos"].includes(form) && ((tw >> (2 * ((top + 7) & 7))) & 3) !== 3) return true; // stack overflow
  return false;
}
export type TransClass = "exact" | "ulp1" | "c1" | "other";
/**
 * exact: the same bytes; ulp1: registers one unit in the last place apart (C1 may differ with them); c1: the same
 * registers, only C1 differs (the real CPU's internal value was on the other side of the exact one, so its "rounded
 * up" bit says the opposite); other: anything else. trans-run.ts's nearBoundary then accepts a ulp1 or c1 case only
 * where the exact value lies next to the rounding boundary (the class of the hardware's inexactness).
 */
export function classifyTrans(exp: Uint8Array, got: Uint8Array): TransClass {
  let regDiff = false, far = false;
  for (let i = 0; i < 8; i++) {
    const o = FPU_OUT + 28 + i * 10;
    let ma = 0n, mb = 0n;
    for (let k = 7; k >= 0; k--) { ma = (ma << 8n) | BigInt(exp[o + k]); mb = (mb << 8n) | BigInt(got[o + k]); }
    const sa = exp[o + 8] | (exp[o + 9] << 8), sb = got[o + 8] | (got[o + 9] << 8);
    if (ma === mb && sa === sb) continue;
    regDiff = true;
    if (ulpDistance({ se: sa, m: ma }, { se: sb, m: mb }) > 1n) far = true;
  }
  // everything outside the registers must be equal, but C1 (bit 9 of the status word)
  for (let o = 0; o < 0x2000; o++) {
    if (o >= FPU_OUT + 28 && o < FPU_OUT + 108) continue;
    if (exp[o] === got[o]) continue;
    if (o === FPU_OUT + 5 && ((exp[o] ^ got[o]) & ~0x02) === 0) continue;
    return "other";
  }
  if (!regDiff) return exp.every((v, i) => v === got[i]) ? "exact" : "c1";
  return far ? "other" : "ulp1";
}
export { SCRATCH_BASE };
