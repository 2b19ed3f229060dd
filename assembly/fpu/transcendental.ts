// fpu/transcendental.ts — F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS. The functions are evaluated
// in 128-bit working precision (fpu/wide.ts: series in integers, no host floats) and rounded once to the extended
// format per RC (precision control does not apply to them, as on the real CPU), so a result is the correctly
// rounded value except within ~2^-50 ulp of a rounding boundary (AMD/Intel-specific corner cases as noted). FSIN/FCOS/FSINCOS/FPTAN reduce their operand
// exactly modulo the 66-bit pi of the x87 (0xC90FDAA22168C234C * 2^-66), as Intel and AMD hardware do, so their
// results for large operands are those of the real CPU rather than of the exact functions; |x| >= 2^63 sets C2 and
// leaves the operand unchanged. The real CPUs' own results are within 1 ulp and not always correctly rounded:
// test/fpu-transcendental.test.ts and scripts/diff.mjs measure how often they match.
import {
  FE_IE, FE_DE, FE_ZE, FE_PE, FE_UE, TOPBIT, BIAS, raise, setZ, setIndefinite, zM, nM, fpBegin,
  isNaNx, isInfx, isZerox, isDenx, isUnsupx, normExp, propagateNaN, quietNaN, roundExt, INDEF_SE, INDEF_M, roundedUp,
} from "./softfloat";
import { wS, wE, wH, wL, wNorm, wInt, wMul, wAdd, wDiv, wDivSmall } from "./wide";
import { resSe, setDeUnmasked, setOpDenormal, deUnmasked } from "./arith";
import {
  cw, sw, setSwRaw, top, stEmpty, stSe, stM, setSt, pushSt, popSt, physEmpty, commitFlags, stackUnderflow,
  stackOverflow, setC1, SW_C2,
} from "./state";

// ---- 128-bit constants (value = H:L * 2^(E-127)) ----
const LN2_E: i32 = -1; const LN2_H: u64 = 0xB17217F7D1CF79AB; const LN2_L: u64 = 0xC9E3B39803F2F6AF;
const LOG2E_E: i32 = 0; const LOG2E_H: u64 = 0xB8AA3B295C17F0BB; const LOG2E_L: u64 = 0xBE87FED0691D3E89;
const PI_H: u64 = 0xC90FDAA22168C234; const PI_L: u64 = 0xC4C6628B80DC1CD1; // pi: E 1, pi/2: E 0, pi/4: E -1
// the x87's 66-bit pi as the reduction uses it: P66/2 = 0xC90FDAA22168C234C * 2^-67 (68 bits, low two 0)
const P_HI: u64 = 0xC; const P_LO: u64 = 0x90FDAA22168C234C;
// sqrt(2), for the log argument range [sqrt(1/2), sqrt(2))
const SQRT2_H: u64 = 0xB504F333F9DE6484;

@inline function sgn(se: u32): u32 { return (se >> 15) & 1; }
function begin(): void { fpBegin(cw()); setDeUnmasked((cw() & FE_DE) == 0); setOpDenormal(false); }

/** an extended operand (finite, nonzero) as a working value */
function ld(se: u32, m: u64): void { const e = normExp(se, m); wNorm(sgn(se), e - BIAS, nM, 0); }
/** round the working value to the extended result (zS/zE/zM); inexact unless `exact` */
function out(s: u32, e: i32, h: u64, l: u64, exact: bool): void { roundExt(s, e + BIAS, h, exact ? l : l | 1, 64); }

// ---- series (working values in locals; each op's result read back from wS/wE/wH/wL) ----
/** sin(r) for |r| <= pi/4 */
function sinW(rs: u32, re: i32, rh: u64, rl: u64): void {
  wMul(0, re, rh, rl, 0, re, rh, rl); const qe = wE, qh = wH, ql = wL;
  let ts = rs, te = re, th = rh, tl = rl, ss = rs, se = re, sh = rh, sl = rl;
  for (let k: u32 = 1; k < 40; k++) {
    wMul(ts, te, th, tl, 1, qe, qh, ql); wDivSmall(wS, wE, wH, wL, (2 * k) * (2 * k + 1));
    ts = wS; te = wE; th = wH; tl = wL;
    // the last term too, however small: it decides which side of the sum the exact value lies (C1, rounding)
    const small = th == 0 || te < se - 132;
    wAdd(ss, se, sh, sl, ts, te, th, tl); ss = wS; se = wE; sh = wH; sl = wL;
    if (small) break;
  }
  wS = ss; wE = se; wH = sh; wL = sl;
}
/** cos(r) for |r| <= pi/4 */
function cosW(re: i32, rh: u64, rl: u64): void {
  wMul(0, re, rh, rl, 0, re, rh, rl); const qe = wE, qh = wH, ql = wL;
  let ts: u32 = 0, te: i32 = 0, th: u64 = TOPBIT, tl: u64 = 0, ss: u32 = 0, se: i32 = 0, sh: u64 = TOPBIT, sl: u64 = 0;
  for (let k: u32 = 1; k < 40; k++) {
    wMul(ts, te, th, tl, 1, qe, qh, ql); wDivSmall(wS, wE, wH, wL, (2 * k - 1) * (2 * k));
    ts = wS; te = wE; th = wH; tl = wL;
    // the last term too, however small: it decides which side of the sum the exact value lies (C1, rounding)
    const small = th == 0 || te < se - 132;
    wAdd(ss, se, sh, sl, ts, te, th, tl); ss = wS; se = wE; sh = wH; sl = wL;
    if (small) break;
  }
  wS = ss; wE = se; wH = sh; wL = sl;
}
/** 2 * atanh(u) = ln((1+u)/(1-u)) for |u| <= 0.18 */
function atanh2W(us: u32, ue: i32, uh: u64, ul: u64): void {
  wMul(0, ue, uh, ul, 0, ue, uh, ul); const qe = wE, qh = wH, ql = wL;
  let ps = us, pe = ue, ph = uh, pl = ul, ss = us, se = ue, sh = uh, sl = ul;
  for (let k: u32 = 1; k < 60; k++) {
    wMul(ps, pe, ph, pl, 0, qe, qh, ql); ps = wS; pe = wE; ph = wH; pl = wL;
    wDivSmall(ps, pe, ph, pl, 2 * k + 1);
    const small = wH == 0 || wE < se - 132;
    wAdd(ss, se, sh, sl, wS, wE, wH, wL); ss = wS; se = wE; sh = wH; sl = wL;
    if (small) break;
  }
  wS = ss; wE = se + 1; wH = sh; wL = sl;
}
/** atan(t) for |t| <= 1/2 */
function atanSeriesW(ts0: u32, te0: i32, th0: u64, tl0: u64): void {
  wMul(0, te0, th0, tl0, 0, te0, th0, tl0); const qe = wE, qh = wH, ql = wL;
  let ps = ts0, pe = te0, ph = th0, pl = tl0, ss = ts0, se = te0, sh = th0, sl = tl0;
  for (let k: u32 = 1; k < 90; k++) {
    wMul(ps, pe, ph, pl, 1, qe, qh, ql); ps = wS; pe = wE; ph = wH; pl = wL;
    wDivSmall(ps, pe, ph, pl, 2 * k + 1);
    const small = wH == 0 || wE < se - 132;
    wAdd(ss, se, sh, sl, wS, wE, wH, wL); ss = wS; se = wE; sh = wH; sl = wL;
    if (small) break;
  }
  wS = ss; wE = se; wH = sh; wL = sl;
}
/** atan(t) for 0 < t <= 1 */
function atanW(te: i32, th: u64, tl: u64): void {
  if (te < -1) { atanSeriesW(0, te, th, tl); return; }
  // t in [1/2, 1]: pi/4 + atan((t-1)/(t+1)), |(t-1)/(t+1)| <= 1/3
  wAdd(0, te, th, tl, 1, 0, TOPBIT, 0); const ns = wS, ne = wE, nh = wH, nl = wL;
  wAdd(0, te, th, tl, 0, 0, TOPBIT, 0);
  wDiv(ns, ne, nh, nl, wS, wE, wH, wL);
  let vs = wS, ve = wE, vh = wH, vl = wL;
  if (vh == 0) { wS = 0; wE = -1; wH = PI_H; wL = PI_L; return; }
  // |v| <= 1/3 but the series converges like v^2: reduce once more when |v| >= 1/4 is not needed (1/3^2 = 1/9)
  atanSeriesW(vs, ve, vh, vl);
  wAdd(0, -1, PI_H, PI_L, wS, wE, wH, wL);
}
/** log2(x) of a positive finite nonzero extended value; `logExact` when the result is exact (x a power of 2) */
let logExact = false;
function log2W(se: u32, m: u64): void {
  const e0 = normExp(se, m); let E: i32 = e0 - BIAS; const mm = nM;
  logExact = false;
  if (mm == TOPBIT) { logExact = true; wInt(E < 0 ? 1 : 0, <u64>(E < 0 ? -E : E)); return; }
  let me: i32 = 0;
  if (mm >= SQRT2_H) { me = -1; E++; }
  // u = (m-1)/(m+1), m = mm * 2^(me-63)
  wAdd(0, me, mm, 0, 1, 0, TOPBIT, 0); const ns = wS, ne = wE, nh = wH, nl = wL;
  wAdd(0, me, mm, 0, 0, 0, TOPBIT, 0);
  wDiv(ns, ne, nh, nl, wS, wE, wH, wL);
  atanh2W(wS, wE, wH, wL);
  wMul(wS, wE, wH, wL, 0, LOG2E_E, LOG2E_H, LOG2E_L);
  if (E == 0) return;
  const ls = wS, le = wE, lh = wH, ll = wL;
  wInt(E < 0 ? 1 : 0, <u64>(E < 0 ? -E : E));
  wAdd(wS, wE, wH, wL, ls, le, lh, ll);
}

// ---- the operand reduction of FSIN/FCOS/FSINCOS/FPTAN ----
let rQ: u32 = 0; // quadrant (mod 4) of the reduced argument
/** |x| (finite, nonzero, < 2^63) reduced modulo P66/2 to r in [-P66/4, P66/4] (working value) and quadrant rQ */
function reduce(se: u32, m: u64): void {
  const e0 = normExp(se, m); const u = e0 - BIAS; const mm = nM;
  rQ = 0;
  // |x| < P66/4 (0.C90FDAA22168C234C * 2^0 / 1): no reduction
  if (u < -1 || (u == -1 && mm < 0xC90FDAA22168C234)) { wNorm(0, u, mm, 0); return; }
  // X = |x| * 2^67 = mm << (u + 4), an integer of up to 130 bits; the remainder of X / 0xC90FDAA22168C234C
  const sh = u + 4; // 3..66
  const nb = 64 + sh;
  let rh: u64 = 0, rl: u64 = 0, q: u32 = 0;
  for (let j = nb - 1; j >= 0; j--) {
    const bit: u64 = j >= sh ? (mm >> <u64>(j - sh)) & 1 : 0;
    rh = (rh << 1) | (rl >> 63); rl = (rl << 1) | bit;
    q <<= 1;
    if (rh > P_HI || (rh == P_HI && rl >= P_LO)) { const nl = rl - P_LO; rh = rh - P_HI - (rl < P_LO ? 1 : 0); rl = nl; q |= 1; }
  }
  // nearest quadrant: a remainder above half of P66/2 counts from the next multiple, negative
  let s: u32 = 0;
  const hh = P_HI >> 1, hl = (P_LO >> 1) | (P_HI << 63);
  if (rh > hh || (rh == hh && rl > hl)) { const nl = P_LO - rl; rh = P_HI - rh - (P_LO < rl ? 1 : 0); rl = nl; q++; s = 1; }
  rQ = q & 3;
  wNorm(s, 127 - 67, rh, rl);
}

// ---- the instructions ----
const C2: u32 = SW_C2;
function setC2(b: bool): void { setSwRaw(b ? sw() | C2 : sw() & ~C2); }

/** FSIN (0), FCOS (1), FSINCOS (2), FPTAN (3); the two-result forms leave r0 in ST(0) and push r1
 * (FSINCOS: sin, then cos; FPTAN: tan, then 1.0) */
export function fTrig(kind: u32): void {
  const pushes = kind >= 2;
  if (stEmpty(0)) {
    setC2(false);
    if (stackUnderflow()) { setSt(0, INDEF_SE, INDEF_M); if (pushes) pushSt(INDEF_SE, INDEF_M); }
    return;
  }
  if (pushes && !physEmpty((top() - 1) & 7)) {
    setC2(false);
    if (stackOverflow()) { setSt(0, INDEF_SE, INDEF_M); pushSt(INDEF_SE, INDEF_M); }
    return;
  }
  begin();
  const se = stSe(0), m = stM(0);
  let r0Se: u32 = 0, r0M: u64 = 0, r1Se: u32 = 0, r1M: u64 = 0, up = false;
  if (isUnsupx(se, m) || isInfx(se, m)) {
    raise(FE_IE); r0Se = INDEF_SE; r0M = INDEF_M; r1Se = INDEF_SE; r1M = INDEF_M;
  } else if (isNaNx(se, m)) {
    quietNaN(se, m); r0Se = resSe(); r0M = zM; r1Se = r0Se; r1M = r0M;
  } else if (isZerox(se, m)) {
    const one = <u32>BIAS;
    if (kind == 0) { r0Se = se; r0M = 0; }
    else if (kind == 1) { r0Se = one; r0M = TOPBIT; }
    else if (kind == 2) { r0Se = se; r0M = 0; r1Se = one; r1M = TOPBIT; }
    else { r0Se = se; r0M = 0; r1Se = one; r1M = TOPBIT; }
  } else {
    if (isDenx(se, m)) { raise(FE_DE); if (deUnmasked) { commitFlags(); setC2(false); return; } }
    if ((se & 0x7FFF) >= <u32>(BIAS + 63)) { // out of range: C2 = 1, the operand unchanged
      commitFlags(); setC2(true); return;
    }
    const s = sgn(se);
    reduce(se, m);
    const rs = wS, re = wE, rh = wH, rl = wL;
    const q = rQ;
    // sin(|x|) and cos(|x|) from the quadrant: sin = [s, c, -s, -c][q], cos = [c, -s, -c, s][q]
    let sS: u32 = 0, sE: i32 = 0, sH: u64 = 0, sL: u64 = 0, cS: u32 = 0, cE: i32 = 0, cH: u64 = 0, cL: u64 = 0;
    if (kind != 1) { sinW(rs, re, rh, rl); sS = wS; sE = wE; sH = wH; sL = wL; }
    if (kind != 0) { cosW(re, rh, rl); cS = wS; cE = wE; cH = wH; cL = wL; }
    if (kind == 0 && (q & 1) != 0) { cosW(re, rh, rl); cS = wS; cE = wE; cH = wH; cL = wL; }
    if (kind == 1 && (q & 1) != 0) { sinW(rs, re, rh, rl); sS = wS; sE = wE; sH = wH; sL = wL; }
    // f(|x|) per quadrant
    let ys: u32, ye: i32, yh: u64, yl: u64; // sin(|x|)
    let zs: u32, ze: i32, zh: u64, zl: u64; // cos(|x|)
    if ((q & 1) == 0) { ys = sS; ye = sE; yh = sH; yl = sL; zs = cS; ze = cE; zh = cH; zl = cL; }
    else { ys = cS; ye = cE; yh = cH; yl = cL; zs = sS ^ 1; ze = sE; zh = sH; zl = sL; }
    if ((q & 2) != 0) { ys ^= 1; zs ^= 1; }
    ys ^= s; // sin is odd, cos even
    if (kind == 0) { out(ys, ye, yh, yl, false); r0Se = resSe(); r0M = zM; }
    else if (kind == 1) { out(zs, ze, zh, zl, false); r0Se = resSe(); r0M = zM; }
    else if (kind == 2) {
      out(ys, ye, yh, yl, false); r0Se = resSe(); r0M = zM;
      up = roundedUp; out(zs, ze, zh, zl, false); r1Se = resSe(); r1M = zM; // C1: the sine's rounding
    } else {
      if (re < -40) {
        // tiny r: tan r = r + r^3/3, cot r = 1/r - r/3 to the working precision, on the right side of the
        // exact value (the ratio of the sine and cosine sums would be off by the working precision's last bit)
        wMul(0, re, rh, rl, 0, re, rh, rl); wMul(wS, wE, wH, wL, rs, re, rh, rl); wDivSmall(wS, wE, wH, wL, 3); // r^3/3
        const cs = wS, ce = wE, ch = wH, cl = wL;
        if ((q & 1) == 0) wAdd(rs, re, rh, rl, cs, ce, ch, cl);
        else {
          wDivSmall(rs, re, rh, rl, 3);
          const ts = wS, te = wE, th = wH, tl = wL;
          wDiv(0, 0, TOPBIT, 0, rs, re, rh, rl);
          wAdd(wS ^ 1, wE, wH, wL, ts, te, th, tl); // -(1/r - r/3)
        }
        wS ^= s;
      } else wDiv(ys, ye, yh, yl, zs, ze, zh, zl);
      out(wS, wE, wH, wL, false); r0Se = resSe(); r0M = zM; up = roundedUp;
      r1Se = <u32>BIAS; r1M = TOPBIT;
    }
    if (kind < 2) up = roundedUp;
  }
  if (commitFlags()) { setC2(false); return; }
  setSt(0, r0Se, r0M);
  if (pushes) pushSt(r1Se, r1M);
  setC2(false); setC1(up);
}

/** F2XM1: 2^x - 1 for -1 <= x <= 1 */
export function f2xm1(): void {
  if (stEmpty(0)) { if (stackUnderflow()) setSt(0, INDEF_SE, INDEF_M); return; }
  begin();
  const se = stSe(0), m = stM(0);
  const s = sgn(se);
  let up = false;
  if (isUnsupx(se, m)) { raise(FE_IE); setIndefinite(); }
  else if (isNaNx(se, m)) quietNaN(se, m);
  else if (isInfx(se, m)) { if (s) setZ(1, BIAS, TOPBIT); else setZ(0, 0x7FFF, TOPBIT); }
  else if (isZerox(se, m)) setZ(s, 0, 0);
  else {
    if (isDenx(se, m)) { raise(FE_DE); if (deUnmasked) { commitFlags(); return; } }
    const e = <i32>(se & 0x7FFF);
    if (e > BIAS || (e == BIAS && m != TOPBIT)) { raise(FE_PE); setZ(s, e, m); } // |x| > 1: the operand, inexact
    else if (e == BIAS) {
      // 2^-1 - 1 and 2^1 - 1 as this CPU gives them: -0.5 inexact in every RC; for 1 its internal value lies just
      // below 1 (1 rounded up to nearest/up, 1 - 2^-64 down/toward zero)
      if (s) { raise(FE_PE); setZ(1, BIAS - 1, TOPBIT); }
      else { out(0, -1, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF, false); up = roundedUp; }
    }
    else {
      ld(se, m);
      wMul(wS, wE, wH, wL, 0, LN2_E, LN2_H, LN2_L);
      const ts = wS, te = wE, th = wH, tl = wL;
      let ps = ts, pe = te, ph = th, pl = tl, ss = ts, sE = te, sh = th, sl = tl;
      for (let n: u32 = 2; n < 60; n++) {
        wMul(ps, pe, ph, pl, ts, te, th, tl); wDivSmall(wS, wE, wH, wL, n);
        ps = wS; pe = wE; ph = wH; pl = wL;
        const small = ph == 0 || pe < sE - 132;
        wAdd(ss, sE, sh, sl, ps, pe, ph, pl); ss = wS; sE = wE; sh = wH; sl = wL;
        if (small) break;
      }
      out(ss, sE, sh, sl, false); up = roundedUp;
    }
  }
  if (commitFlags()) return;
  setSt(0, resSe(), zM); setC1(up);
}

/** the end of FYL2X/FYL2XP1/FPATAN: the result (zS/zE/zM) to ST(1), pop */
function finish2(): void {
  if (commitFlags()) return;
  setSt(1, resSe(), zM); setC1(roundedUp); popSt();
}
function emptyPair(): bool {
  if (stEmpty(0) || stEmpty(1)) { if (stackUnderflow()) { setSt(1, INDEF_SE, INDEF_M); popSt(); } return true; }
  return false;
}

/** The two-operand forms' first rules: an unsupported operand is #IA with the indefinite, a NaN propagates.
 *  True when one of them decided the result (already stored, with the pop). */
function pairInvalidOrNaN(xs: u32, xm: u64, ys: u32, ym: u64): bool {
  if (isUnsupx(xs, xm) || isUnsupx(ys, ym)) { raise(FE_IE); setIndefinite(); finish2(); return true; }
  if (isNaNx(xs, xm) || isNaNx(ys, ym)) { propagateNaN(xs, xm, ys, ym); finish2(); return true; }
  return false;
}

/** FYL2X: ST(1) * log2(ST(0)), pop */
export function fyl2x(): void {
  if (emptyPair()) return;
  begin();
  const xs = stSe(0), xm = stM(0), ys = stSe(1), ym = stM(1);
  if (pairInvalidOrNaN(xs, xm, ys, ym)) return;
  const sx = sgn(xs), sy = sgn(ys);
  const xz = isZerox(xs, xm), yz = isZerox(ys, ym), xi = isInfx(xs, xm), yi = isInfx(ys, ym);
  if (sx && !xz) { raise(FE_IE); setIndefinite(); finish2(); return; }          // log of a negative number
  if (xz) {
    if (yz) { raise(FE_IE); setIndefinite(); finish2(); return; }
    if (!yi) raise(FE_ZE); // (a denormal y raises no DE here)
    setZ(sy ^ 1, 0x7FFF, TOPBIT); finish2(); return;
  }
  if (xi) {
    if (yz) { raise(FE_IE); setIndefinite(); finish2(); return; }
    if (isDenx(ys, ym)) { raise(FE_DE); if (deUnmasked) { finish2(); return; } }
    setZ(sy, 0x7FFF, TOPBIT); finish2(); return;
  }
  const isOne = (xs & 0x7FFF) == <u32>BIAS && xm == TOPBIT;
  if (yi) {
    if (isOne) { raise(FE_IE); setIndefinite(); finish2(); return; }
    if (isDenx(xs, xm)) { raise(FE_DE); if (deUnmasked) { finish2(); return; } }
    const below1 = (xs & 0x7FFF) < <u32>BIAS || ((xs & 0x7FFF) == 0);
    setZ(sy ^ (below1 ? 1 : 0), 0x7FFF, TOPBIT); finish2(); return;
  }
  if (isDenx(xs, xm) || isDenx(ys, ym)) { raise(FE_DE); if (deUnmasked) { finish2(); return; } }
  if (yz || isOne) {
    const below1 = normExp(xs, xm) < BIAS;
    setZ(sy ^ (below1 && !isOne ? 1 : 0), 0, 0); finish2(); return;
  }
  log2W(xs, xm);
  const ex = logExact;
  const ls = wS, le = wE, lh = wH, ll = wL;
  ld(ys, ym);
  wMul(wS, wE, wH, wL, ls, le, lh, ll);
  out(wS, wE, wH, wL, ex);
  // even when y * log2(x) is exact (x a power of 2) the real CPU reports it inexact, and so a tiny result underflows
  raise(FE_PE);
  if ((zM & TOPBIT) == 0 && zM != 0) raise(FE_UE);
  finish2();
}

/** FYL2XP1: ST(1) * log2(ST(0) + 1), pop */
export function fyl2xp1(): void {
  if (emptyPair()) return;
  begin();
  const xs = stSe(0), xm = stM(0), ys = stSe(1), ym = stM(1);
  if (pairInvalidOrNaN(xs, xm, ys, ym)) return;
  const sx = sgn(xs), sy = sgn(ys);
  const xz = isZerox(xs, xm), yz = isZerox(ys, ym), xi = isInfx(xs, xm), yi = isInfx(ys, ym);
  if ((xz && yi) || (xi && (yz || sx))) { raise(FE_IE); setIndefinite(); finish2(); return; } // 0*inf, log2(-inf)
  if (isDenx(xs, xm) || isDenx(ys, ym)) { raise(FE_DE); if (deUnmasked) { finish2(); return; } }
  if (xz || yz) { setZ(sx ^ sy, 0, 0); finish2(); return; }
  if (xi || yi) { setZ(sx ^ sy, 0x7FFF, TOPBIT); finish2(); return; }
  // x <= -1: outside the domain; this CPU returns x (inexact)
  const e = <i32>(xs & 0x7FFF);
  if (sx && (e > BIAS || (e == BIAS))) { raise(FE_PE); setZ(1, e, xm); finish2(); return; }
  // ln(1+x) = 2 atanh(x / (2 + x))
  ld(xs, xm); const as = wS, ae = wE, ah = wH, al = wL;
  wAdd(as, ae, ah, al, 0, 1, TOPBIT, 0);
  wDiv(as, ae, ah, al, wS, wE, wH, wL);
  atanh2W(wS, wE, wH, wL);
  wMul(wS, wE, wH, wL, 0, LOG2E_E, LOG2E_H, LOG2E_L);
  const ls = wS, le = wE, lh = wH, ll = wL;
  ld(ys, ym);
  wMul(wS, wE, wH, wL, ls, le, lh, ll);
  out(wS, wE, wH, wL, false);
  finish2();
}

/** FPATAN: atan2(ST(1), ST(0)) into ST(1), pop */
export function fpatan(): void {
  if (emptyPair()) return;
  begin();
  const xs = stSe(0), xm = stM(0), ys = stSe(1), ym = stM(1);
  if (pairInvalidOrNaN(xs, xm, ys, ym)) return;
  const sx = sgn(xs), sy = sgn(ys);
  const xz = isZerox(xs, xm), yz = isZerox(ys, ym), xi = isInfx(xs, xm), yi = isInfx(ys, ym);
  if (isDenx(xs, xm) || isDenx(ys, ym)) { raise(FE_DE); if (deUnmasked) { finish2(); return; } }
  // the exact special angles: 0, pi, pi/2, pi/4, 3pi/4 (k quarter turns of pi/4 = kq)
  let kq: i32 = -1;
  if (yz) kq = sx ? 4 : 0;
  else if (xz && !yi) kq = 2;
  else if (yi && xi) kq = sx ? 3 : 1;
  else if (yi) kq = 2;
  else if (xi) kq = sx ? 4 : 0;
  if (kq == 0) { setZ(sy, 0, 0); finish2(); return; }
  if (kq > 0) {
    if (kq == 4) out(sy, 1, PI_H, PI_L, false);
    else if (kq == 2) out(sy, 0, PI_H, PI_L, false);
    else if (kq == 1) out(sy, -1, PI_H, PI_L, false);
    else { wAdd(0, 1, PI_H, PI_L, 1, -1, PI_H, PI_L); out(sy, wE, wH, wL, false); }
    finish2(); return;
  }
  ld(xs, xm); const ae = wE, ah = wH, al = wL;
  ld(ys, ym); const be = wE, bh = wH, bl = wL;
  const swap = be > ae || (be == ae && bh > ah);
  if (swap) wDiv(0, ae, ah, al, 0, be, bh, bl); else wDiv(0, be, bh, bl, 0, ae, ah, al);
  atanW(wE, wH, wL);
  if (swap) wAdd(0, 0, PI_H, PI_L, 1, wE, wH, wL);       // pi/2 - atan(x/y)
  if (sx) wAdd(0, 1, PI_H, PI_L, 1, wE, wH, wL);         // pi - a
  out(sy, wE, wH, wL, false);
  finish2();
}
