// fpu/arith.ts — the x87's operations on values: the four binary operations with the x87's special cases,
// comparisons, square root, round to integer, scale, extract and partial remainder. Results in softfloat's
// zS/zE/zM (packed with packedExp), exceptions in fx.
import {
  FE_IE, FE_DE, FE_ZE, TOPBIT, BIAS, fx, raise, setZ, setIndefinite, zE, zM, zS, nM,
  isNaNx, isSNaNx, isInfx, isZerox, isDenx, isUnsupx, normExp, propagateNaN, quietNaN, addMags, subMags, mulx, divx,
  sqrtx, cmpx, roundExt, maskUE, FE_UE, WRAP, roundToInt, fromU64, intBig, rc, clz64, packedExp,
} from "./softfloat";

@inline function sgn(se: u32): u32 { return (se >> 15) & 1; }
/** the operation's result as a register value (sign|exponent) */
@inline export function resSe(): u32 { return (zS << 15) | packedExp(zE, zM); }

/** a (op) b: op 0 add, 1 mul, 4 a-b, 5 b-a, 6 a/b, 7 b/a; p = significand bits of the precision control */
export function binop(op: u32, as: u32, am: u64, bs: u32, bm: u64, p: i32): void {
  if (op == 5 || op == 7) { const t = as; as = bs; bs = t; const u = am; am = bm; bm = u; op--; }
  if (isUnsupx(as, am) || isUnsupx(bs, bm)) { raise(FE_IE); setIndefinite(); return; }
  if (isNaNx(as, am) || isNaNx(bs, bm)) { propagateNaN(as, am, bs, bm); return; }
  let sa = sgn(as), sb = sgn(bs);
  if (op == 4) { sb ^= 1; op = 0; }
  const ia = isInfx(as, am), ib = isInfx(bs, bm), za = isZerox(as, am), zb = isZerox(bs, bm);
  // invalid operations first (they take precedence over the denormal-operand exception)
  if (op == 0 && ia && ib && sa != sb) { raise(FE_IE); setIndefinite(); return; }
  if (op == 1 && ((ia && zb) || (za && ib))) { raise(FE_IE); setIndefinite(); return; }
  if (op == 6 && ((ia && ib) || (za && zb))) { raise(FE_IE); setIndefinite(); return; }
  if (op == 6 && zb && !ia) { raise(FE_ZE); setZ(sa ^ sb, 0x7FFF, TOPBIT); return; } // x/0: no DE for a denormal x
  if (isDenx(as, am) || isDenx(bs, bm) || opDenormal) { raise(FE_DE); if (deUnmasked) return; }
  if (op == 0) {
    if (ia) { setZ(sa, 0x7FFF, TOPBIT); return; }
    if (ib) { setZ(sb, 0x7FFF, TOPBIT); return; }
    if (za && zb) { setZ(sa == sb ? sa : (rc == 1 ? 1 : 0), 0, 0); return; }
    if (za) { const e = normExp(bs, bm); roundExt(sb, e, nM, 0, p); return; }
    if (zb) { const e = normExp(as, am); roundExt(sa, e, nM, 0, p); return; }
    const ea = normExp(as, am); const ma = nM;
    const eb = normExp(bs, bm); const mb = nM;
    if (sa == sb) addMags(sa, ea, ma, eb, mb, p); else subMags(sa, ea, ma, eb, mb, p);
    return;
  }
  const s = sa ^ sb;
  if (op == 1) {
    if (ia || ib) { setZ(s, 0x7FFF, TOPBIT); return; }
    if (za || zb) { setZ(s, 0, 0); return; }
    const ea = normExp(as, am); const ma = nM;
    const eb = normExp(bs, bm);
    mulx(s, ea, ma, eb, nM, p);
    return;
  }
  // divide
  if (ia) { setZ(s, 0x7FFF, TOPBIT); return; }
  if (ib) { setZ(s, 0, 0); return; }
  if (zb) { raise(FE_ZE); setZ(s, 0x7FFF, TOPBIT); return; }
  if (za) { setZ(s, 0, 0); return; }
  const ea = normExp(as, am); const ma = nM;
  const eb = normExp(bs, bm);
  divx(s, ea, ma, eb, nM, p);
}
/** set by the caller: the denormal-operand exception is unmasked (the operation stops when it is raised) */
export let deUnmasked: bool = false;
/** the memory operand was a denormal m32/m64 (already normalized): it counts as a denormal operand */
export let opDenormal: bool = false;
export function setOpDenormal(b: bool): void { opDenormal = b; }
export function setDeUnmasked(b: bool): void { deUnmasked = b; }

/** compare a with b: 0 greater, 1 less, 2 equal, 3 unordered; quiet: QNaNs do not raise IE (FUCOM) */
export function compare(as: u32, am: u64, bs: u32, bm: u64, quiet: bool): u32 {
  if (isUnsupx(as, am) || isUnsupx(bs, bm)) { raise(FE_IE); return 3; }
  if (isNaNx(as, am) || isNaNx(bs, bm)) {
    if (!quiet || isSNaNx(as, am) || isSNaNx(bs, bm)) raise(FE_IE);
    return 3;
  }
  if (isDenx(as, am) || isDenx(bs, bm) || opDenormal) raise(FE_DE);
  const c = cmpx(as, am, bs, bm);
  return c > 0 ? 0 : c < 0 ? 1 : 2;
}

export function fsqrt(as: u32, am: u64, p: i32): void {
  if (isUnsupx(as, am)) { raise(FE_IE); setIndefinite(); return; }
  if (isNaNx(as, am)) { quietNaN(as, am); return; }
  if (isZerox(as, am)) { setZ(sgn(as), 0, 0); return; }
  if (sgn(as)) { raise(FE_IE); setIndefinite(); return; }
  if (isInfx(as, am)) { setZ(0, 0x7FFF, TOPBIT); return; }
  if (isDenx(as, am)) { raise(FE_DE); if (deUnmasked) return; }
  const e = normExp(as, am);
  sqrtx(e, nM, p);
}

export function frndint(as: u32, am: u64): void {
  if (isUnsupx(as, am)) { raise(FE_IE); setIndefinite(); return; }
  if (isNaNx(as, am)) { quietNaN(as, am); return; }
  if (isInfx(as, am) || isZerox(as, am)) { setZ(sgn(as), expOfSe(as), am); return; }
  if (isDenx(as, am)) { raise(FE_DE); if (deUnmasked) return; }
  const e = <i32>(as & 0x7FFF);
  if (e >= BIAS + 63) { setZ(sgn(as), e, am); return; } // already an integer
  roundToInt(as, am);
  if (intBig) { setZ(sgn(as), BIAS + 64, TOPBIT); return; }
  fromU64(sgn(as), zM);
}
@inline function expOfSe(se: u32): i32 { return <i32>(se & 0x7FFF); }

/** FSCALE: a * 2^trunc(b) */
export function fscale(as: u32, am: u64, bs: u32, bm: u64): void {
  if (isUnsupx(as, am) || isUnsupx(bs, bm)) { raise(FE_IE); setIndefinite(); return; }
  if (isNaNx(as, am) || isNaNx(bs, bm)) { propagateNaN(as, am, bs, bm); return; }
  const sa = sgn(as), sb = sgn(bs);
  const ia = isInfx(as, am), ib = isInfx(bs, bm), za = isZerox(as, am);
  if (ib) {
    if (sb == 0) { if (za) { raise(FE_IE); setIndefinite(); return; } if (isDenx(as, am)) raise(FE_DE); setZ(sa, 0x7FFF, TOPBIT); return; }
    if (ia) { raise(FE_IE); setIndefinite(); return; }
    if (isDenx(as, am)) raise(FE_DE);
    setZ(sa, 0, 0); return;
  }
  if (isDenx(as, am) || isDenx(bs, bm)) { raise(FE_DE); if (deUnmasked) return; }
  if (ia) { setZ(sa, 0x7FFF, TOPBIT); return; }
  if (za) { setZ(sa, 0, 0); return; }
  // n = trunc(b), clamped far beyond any exponent range
  let n: i32 = 0;
  if (!isZerox(bs, bm)) {
    const eb = normExp(bs, bm); const mb = nM;
    const sh = BIAS + 63 - eb;
    if (sh <= 63 - 17) n = 0x10000; // |b| >= 2^17
    else if (sh >= 64) n = 0;
    else n = <i32>(mb >> <u64>sh);
    if (sb) n = -n;
  }
  const ea = normExp(as, am);
  roundExt(sa, ea + n, nM, 0, 64);
}

/** FXTRACT: exponent (into zS/zE/zM) and significand (xS/xE/xM) of a finite nonzero normal-or-denormal value */
export let xSe: u32 = 0;
export let xM: u64 = 0;
export function fxtract(as: u32, am: u64): bool {
  if (isUnsupx(as, am)) { raise(FE_IE); setIndefinite(); xSe = 0xFFFF; xM = zM; return true; }
  if (isNaNx(as, am)) { quietNaN(as, am); xSe = resSe(); xM = zM; return true; }
  if (isZerox(as, am)) { raise(FE_ZE); setZ(1, 0x7FFF, TOPBIT); xSe = as; xM = am; return true; }
  if (isInfx(as, am)) { setZ(0, 0x7FFF, TOPBIT); xSe = as; xM = am; return true; }
  if (isDenx(as, am)) { raise(FE_DE); if (deUnmasked) return false; }
  const e = normExp(as, am);
  xSe = (as & 0x8000) | <u32>BIAS; xM = nM;
  const ue = e - BIAS;
  fromU64(ue < 0 ? 1 : 0, <u64>(ue < 0 ? -ue : ue));
  return true;
}

/** FPREM (round = false: truncating quotient) / FPREM1 (IEEE remainder). Partial when exponents differ by 64+. */
export let remQ: u64 = 0;      // low quotient bits (C0 C3 C1 = bits 2 1 0)
export let remPartial: bool = false;
export function fprem(as: u32, am: u64, bs: u32, bm: u64, ieee: bool): void {
  remQ = 0; remPartial = false;
  if (isUnsupx(as, am) || isUnsupx(bs, bm)) { raise(FE_IE); setIndefinite(); return; }
  if (isNaNx(as, am) || isNaNx(bs, bm)) { propagateNaN(as, am, bs, bm); return; }
  if (isInfx(as, am) || isZerox(bs, bm)) { raise(FE_IE); setIndefinite(); return; }
  if (isDenx(as, am) || isDenx(bs, bm)) { raise(FE_DE); if (deUnmasked) return; }
  const sa = sgn(as);
  if (isZerox(as, am) || isInfx(bs, bm)) { setUnchanged(as, am); return; }
  const ea = normExp(as, am); const ma = nM;
  let eb = normExp(bs, bm); const mb = nM;
  let d = ea - eb;
  if (d < -1 || (d == -1 && (!ieee || ma <= mb))) { setUnchanged(as, am); return; }
  if (d == -1) { // FPREM1, |a| > |b|/2: the remainder is a - b, quotient 1
    // |b| - |a| = (2mb - ma) * 2^(eb-1), which fits in 64 bits since mb < ma < 2mb
    fromRemainder(sa ^ 1, eb - 1, (mb << 1) - ma, 2);
    remQ = 1; return;
  }
  if (d >= 64) { remPartial = true; const n = 32 + (d & 31); eb += d - n; d = n; }
  // r = ma * 2^d mod mb, q the quotient: restoring division bit by bit
  let r = ma; let top = false; let q: u64 = 0;
  for (let i = 0; i <= d; i++) {
    const bit: u64 = (top || r >= mb) ? 1 : 0;
    if (bit) r -= mb;
    q = (q << 1) | bit;
    if (i < d) { top = (r >> 63) != 0; r <<= 1; }
  }
  let rs = sa;
  if (ieee && !remPartial) {
    const twoHi = (r >> 63) != 0, two = r << 1;
    if (twoHi || two > mb || (two == mb && (q & 1) != 0)) { r = mb - r; rs ^= 1; q++; }
  }
  remQ = q;
  fromRemainder(rs, eb, r, 2);
}
/** the dividend as the result: a pseudo-denormal comes back with exponent 1 */
function setUnchanged(as: u32, am: u64): void {
  const e = <i32>(as & 0x7FFF);
  if (e == 0 && am != 0 && (am & TOPBIT) == 0 && !maskUE) { fromRemainder(sgn(as), 1, am, 0); return; }
  setZ(sgn(as), e == 0 && (am & TOPBIT) != 0 ? 1 : e, am);
}
/** remainder magnitude r, a significand scaled like exponent e, as an exact extended value */
function fromRemainder(s: u32, e: i32, r: u64, unused: u64): void {
  if (r == 0) { setZ(s, 0, 0); return; }
  const z = clz64(r);
  const m = r << <u64>z; const ee = e - z;
  // a tiny remainder is exact: with underflow unmasked it is UE and the exponent wrapped, as for any result
  if (ee < 1 && !maskUE) { raise(FE_UE); setZ(s, ee + WRAP, m); return; }
  if (ee < 1) { const sh = 1 - ee; setZ(s, 1, sh >= 64 ? 0 : m >> <u64>sh); return; }
  setZ(s, ee, m);
}

/** FXAM classification: C3 C2 C0 (C1 = sign is set by the caller) */
export function fxamClass(se: u32, m: u64): u32 {
  const e = se & 0x7FFF;
  if (e == 0x7FFF) { if ((m & TOPBIT) == 0) return 0; return (m << 1) == 0 ? 0x500 : 0x100; } // unsupported / inf / NaN
  if (e == 0) { if (m == 0) return 0x4000; return 0x4400; } // zero / denormal (pseudo-denormals too)
  if ((m & TOPBIT) == 0) return 0; // unnormal: unsupported
  return 0x400; // normal
}
