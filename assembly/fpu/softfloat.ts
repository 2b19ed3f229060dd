// fpu/softfloat.ts — exact 80-bit extended-precision arithmetic in integers (the approach of Berkeley SoftFloat,
// QEMU's floatx80 and Bochs' softfloat3e, written for the x87's rules): one rounding routine for every precision
// (24/53/64-bit significands) and exponent range (extended registers, m64 and m32 stores), the four rounding
// modes, and the exception flags in `fx`. Values are (sign, biased exponent, 64-bit significand with an explicit
// integer bit); operations leave their result in zS/zE/zM. No allocation: every helper works in globals.

// exception flags (status word bits 0..5)
export const FE_IE: u32 = 1;
export const FE_DE: u32 = 2;
export const FE_ZE: u32 = 4;
export const FE_OE: u32 = 8;
export const FE_UE: u32 = 0x10;
export const FE_PE: u32 = 0x20;

export const BIAS: i32 = 16383;
export const TOPBIT: u64 = 0x8000000000000000;
// the x87's default NaN (QNaN floating-point indefinite)
export const INDEF_SE: u32 = 0xFFFF;
export const INDEF_M: u64 = 0xC000000000000000;
// unmasked overflow/underflow on a register destination: the exponent is wrapped by this bias adjustment
export const WRAP: i32 = 0x6000;

// ---- inputs to an operation: rounding control, masks; outputs: flags, round-up (C1), the result ----
export let rc: u32 = 0;          // 0 nearest-even, 1 down, 2 up, 3 toward zero
export let maskOE: bool = true;
export let maskUE: bool = true;
export let fx: u32 = 0;          // exceptions raised by the operation
export let roundedUp: bool = false;
export let zS: u32 = 0;
export let zE: i32 = 0;
export let zM: u64 = 0;
export let noStore: bool = false; // an unmasked overflow/underflow on a memory destination: nothing is stored
export function fpBegin(cw: u32): void {
  rc = (cw >> 10) & 3; maskOE = (cw & FE_OE) != 0; maskUE = (cw & FE_UE) != 0;
  fx = 0; roundedUp = false; noStore = false;
}
export function setRc(v: u32): void { rc = v; }
export function raise(f: u32): void { fx |= f; }
@inline export function setZ(s: u32, e: i32, m: u64): void { zS = s; zE = e; zM = m; }
export function setIndefinite(): void { zS = 1; zE = 0x7FFF; zM = INDEF_M; }

// ---- classification of an extended value (se = sign|exponent, m = significand) ----
@inline export function expOf(se: u32): i32 { return <i32>(se & 0x7FFF); }
@inline export function isNaNx(se: u32, m: u64): bool { return (se & 0x7FFF) == 0x7FFF && (m & TOPBIT) != 0 && (m << 1) != 0; }
@inline export function isSNaNx(se: u32, m: u64): bool { return isNaNx(se, m) && (m & 0x4000000000000000) == 0; }
@inline export function isInfx(se: u32, m: u64): bool { return (se & 0x7FFF) == 0x7FFF && m == TOPBIT; }
@inline export function isZerox(se: u32, m: u64): bool { return (se & 0x7FFF) == 0 && m == 0; }
/** denormal or pseudo-denormal: exponent 0, significand not zero (a DE operand) */
@inline export function isDenx(se: u32, m: u64): bool { return (se & 0x7FFF) == 0 && m != 0; }
/** unsupported encodings: unnormals, pseudo-NaNs and pseudo-infinities (integer bit clear, exponent not 0) */
@inline export function isUnsupx(se: u32, m: u64): bool { return (se & 0x7FFF) != 0 && (m & TOPBIT) == 0; }

// ---- 128-bit helpers ----
export let hi: u64 = 0;
export let lo: u64 = 0;
export function mul64(a: u64, b: u64): void {
  const a0 = a & 0xFFFFFFFF, a1 = a >> 32, b0 = b & 0xFFFFFFFF, b1 = b >> 32;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & 0xFFFFFFFF) + (p10 & 0xFFFFFFFF);
  lo = (mid << 32) | (p00 & 0xFFFFFFFF);
  hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}
/** (a:b) >> n with the bits shifted out ORed into bit 0 (n >= 0), into hi:lo */
export function shr128Jam(a: u64, b: u64, n: i32): void {
  if (n == 0) { hi = a; lo = b; return; }
  if (n < 64) { lo = (b >> <u64>n) | (a << <u64>(64 - n)) | ((b << <u64>(64 - n)) != 0 ? 1 : 0); hi = a >> <u64>n; return; }
  if (n == 64) { lo = a | (b != 0 ? 1 : 0); hi = 0; return; }
  if (n < 128) { lo = (a >> <u64>(n - 64)) | (((a << <u64>(128 - n)) | b) != 0 ? 1 : 0); hi = 0; return; }
  hi = 0; lo = (a | b) != 0 ? 1 : 0;
}
@inline export function clz64(x: u64): i32 { return <i32>clz<u64>(x); }

// ---- rounding ----
/**
 * Round (sign, exponent e, significand m with its integer bit at bit 63, bits below in x) to a p-bit significand
 * (p = 24, 53 or 64) within the normal exponent range emin..emax (biased as extended), as the x87 does:
 * tininess before rounding, denormalization when the underflow exception is masked, and for register results
 * (wrap) the exponent wrapped by 24576 when overflow/underflow are unmasked. Result in zS/zE/zM; a result
 * below the normal range has integer bit 0 and zE = emin; overflow to infinity gives zE = emax + 1, zM = TOPBIT.
 */
export function roundPack(s: u32, e: i32, m: u64, x: u64, p: i32, emin: i32, emax: i32, wrap: bool): void {
  let tiny = false;
  if (e < emin) {
    tiny = true;
    if (!maskUE && wrap && e + WRAP < emin) { fx |= FE_UE | FE_PE; setZ(s, 0, 0); return; } // beyond the wrapped range: zero
    if (!maskUE && (!wrap || e + WRAP >= emin)) {
      if (!wrap) { fx |= FE_UE; noStore = true; setZ(s, e, m); return; }
      e += WRAP;
    } else {
      shr128Jam(m, x, emin - e); m = hi; x = lo; e = emin;
    }
  }
  const drop = 64 - p;
  let rb: u64, half: u64, lsb: u64, mask: u64 = 0;
  if (drop == 0) { rb = x; half = TOPBIT; lsb = m & 1; }
  else { mask = (<u64>1 << <u64>drop) - 1; rb = (m & mask) | (x != 0 ? 1 : 0); half = <u64>1 << <u64>(drop - 1); lsb = (m >> <u64>drop) & 1; }
  const inexact = rb != 0;
  let inc = false;
  if (rc == 0) inc = rb > half || (rb == half && lsb != 0);
  else if (rc == 1) inc = s != 0 && inexact;
  else if (rc == 2) inc = s == 0 && inexact;
  m &= ~mask;
  if (inc) {
    const m2 = m + (<u64>1 << <u64>drop);
    if (m2 < m) { m = TOPBIT; e++; } else m = m2;
    roundedUp = true;
  }
  if (e > emax) {
    if (!maskOE && (!wrap || e - WRAP <= emax)) {
      fx |= FE_OE;
      if (!wrap) { noStore = true; setZ(s, e, m); return; } // a memory destination: OE alone, nothing stored
      if (inexact) fx |= FE_PE;
      setZ(s, e - WRAP, m); return;
    }
    fx |= FE_OE | FE_PE;
    if (!maskOE) { setZ(s, emax + 1, TOPBIT); roundedUp = true; return; } // beyond the wrapped range: infinity
    if (rc == 0 || (rc == 1 && s != 0) || (rc == 2 && s == 0)) { setZ(s, emax + 1, TOPBIT); roundedUp = true; }
    else { setZ(s, emax, ~mask); roundedUp = false; }
    return;
  }
  if (tiny && (inexact || !maskUE)) fx |= FE_UE;
  if (inexact) fx |= FE_PE;
  setZ(s, e, m);
}
/** round to an extended register at precision p (a result of zero significand is handled by the callers) */
@inline export function roundExt(s: u32, e: i32, m: u64, x: u64, p: i32): void { roundPack(s, e, m, x, p, 1, 0x7FFE, true); }
/** the packed exponent of an extended result of roundExt: 0 for denormals */
@inline export function packedExp(e: i32, m: u64): u32 { return (m & TOPBIT) != 0 ? <u32>e : 0; }

/** normalize a finite nonzero operand: its exponent for a significand with bit 63 set (denormals go below 1) */
export let nM: u64 = 0;
export function normExp(se: u32, m: u64): i32 {
  let e = expOf(se);
  if (e == 0) e = 1; // denormals and pseudo-denormals: exponent 1 without the integer bit
  const z = clz64(m);
  nM = m << <u64>z;
  return e - z;
}

// ---- NaN propagation (SDM Vol. 1 table 4-7, x87 column) ----
/** the result of an operation with a NaN operand (IE for a signaling one): a quieted copy */
export function propagateNaN(as: u32, am: u64, bs: u32, bm: u64): void {
  const aN = isNaNx(as, am), bN = isNaNx(bs, bm);
  const aS = isSNaNx(as, am), bS = isSNaNx(bs, bm);
  if (aS || bS) fx |= FE_IE;
  let useA: bool;
  if (aN && bN && aS != bS) useA = bS; // a signaling and a quiet NaN: the quiet one
  else if (aN && bN) {
    const qa = am | 0x4000000000000000, qb = bm | 0x4000000000000000;
    if (qa != qb) useA = qa > qb;
    else useA = (as & 0xFFFF) < (bs & 0xFFFF) ? true : false;
  } else useA = aN;
  if (useA) setZ(as >> 15 & 1, 0x7FFF, am | 0x4000000000000000);
  else setZ(bs >> 15 & 1, 0x7FFF, bm | 0x4000000000000000);
}
export function quietNaN(as: u32, am: u64): void {
  if (isSNaNx(as, am)) fx |= FE_IE;
  setZ(as >> 15 & 1, 0x7FFF, am | 0x4000000000000000);
}

// ---- add / subtract (magnitudes of finite, nonzero normalized operands) ----
export function addMags(s: u32, ea: i32, ma: u64, eb: i32, mb: u64, p: i32): void {
  if (ea < eb) { const t = ea; ea = eb; eb = t; const u = ma; ma = mb; mb = u; }
  shr128Jam(mb, 0, ea - eb);
  let sum = ma + hi;
  let x = lo;
  if (sum < ma) { // carry out: shift right one
    x = (x >> 1) | ((sum & 1) << 63) | (x & 1);
    sum = (sum >> 1) | TOPBIT;
    ea++;
  }
  roundExt(s, ea, sum, x, p);
}
export function subMags(s: u32, ea: i32, ma: u64, eb: i32, mb: u64, p: i32): void {
  if (ea < eb || (ea == eb && ma < mb)) { const t = ea; ea = eb; eb = t; const u = ma; ma = mb; mb = u; s ^= 1; }
  if (ea == eb && ma == mb) { setZ(rc == 1 ? 1 : 0, 0, 0); return; }
  shr128Jam(mb, 0, ea - eb);
  // (ma:0) - (hi:lo)
  let rl = <u64>0 - lo;
  let rh = ma - hi - (lo != 0 ? 1 : 0);
  const z = rh != 0 ? clz64(rh) : 64 + clz64(rl);
  if (z >= 64) { rh = rl << <u64>(z - 64); rl = 0; }
  else if (z > 0) { rh = (rh << <u64>z) | (rl >> <u64>(64 - z)); rl <<= <u64>z; }
  roundExt(s, ea - z, rh, rl, p);
}

// ---- multiply, divide, square root (finite, nonzero normalized operands) ----
export function mulx(s: u32, ea: i32, ma: u64, eb: i32, mb: u64, p: i32): void {
  mul64(ma, mb);
  let e = ea + eb - BIAS + 1;
  let h = hi, l = lo;
  if ((h & TOPBIT) == 0) { h = (h << 1) | (l >> 63); l <<= 1; e--; }
  roundExt(s, e, h, l, p);
}
export function divx(s: u32, ea: i32, ma: u64, eb: i32, mb: u64, p: i32): void {
  let e = ea - eb + BIAS;
  let r = ma;
  let top = false;
  if (ma < mb) { e--; top = (r >> 63) != 0; r <<= 1; }
  let q: u64 = 0, x: u64 = 0;
  for (let i = 0; i < 128; i++) {
    const bit: u64 = top || r >= mb ? 1 : 0;
    if (bit) r -= mb;
    top = (r >> 63) != 0; r <<= 1;
    if (i < 64) q = (q << 1) | bit; else x = (x << 1) | bit;
  }
  if (r != 0 || top) x |= 1;
  roundExt(s, e, q, x, p);
}
/** square root of a positive finite nonzero operand, digit by digit: 65 root bits and a sticky remainder */
export function sqrtx(ea: i32, ma: u64, p: i32): void {
  const E = ea - BIAS;
  const sh: i32 = ((E - 63 - 65) & 1) == 0 ? 65 : 66;
  // radicand R = ma << sh (up to 130 bits); rem and root as 128-bit (rh:rl), (qh:ql)
  let rh: u64 = 0, rl: u64 = 0, qh: u64 = 0, ql: u64 = 0;
  for (let j = 64; j >= 0; j--) {
    const b1 = 2 * j + 1 - sh, b0 = 2 * j - sh;
    const pair: u64 = ((b1 >= 0 && b1 < 64 ? (ma >> <u64>b1) & 1 : 0) << 1) | (b0 >= 0 && b0 < 64 ? (ma >> <u64>b0) & 1 : 0);
    rh = (rh << 2) | (rl >> 62); rl = (rl << 2) | pair;
    const th = (qh << 2) | (ql >> 62), tl = (ql << 2) | 1;
    qh = (qh << 1) | (ql >> 63); ql <<= 1;
    if (rh > th || (rh == th && rl >= tl)) {
      const nl = rl - tl; rh = rh - th - (rl < tl ? 1 : 0); rl = nl;
      ql |= 1;
    }
  }
  // root = qh:ql, 65 bits (bit 64 set)
  const sig = (qh << 63) | (ql >> 1);
  let x: u64 = (ql & 1) << 63;
  if (rh != 0 || rl != 0) x |= 1;
  roundExt(0, 16447 + ((E - 63 - sh) >> 1), sig, x, p);
}

// ---- comparisons of two non-NaN values: -1 less, 0 equal, 1 greater (zeros of either sign are equal) ----
export function cmpx(as: u32, am: u64, bs: u32, bm: u64): i32 {
  const az = am == 0, bz = bm == 0; // zeros (any exponent 0 with m 0); unsupported never reach here
  if (az && bz) return 0;
  const sa = as >> 15 & 1, sb = bs >> 15 & 1;
  if (sa != sb) return sa ? -1 : 1;
  let c: i32 = 0;
  if (az) c = -1; else if (bz) c = 1;
  else {
    const ea = normExp(as, am); const na = nM;
    const eb = normExp(bs, bm); const nb = nM;
    const ia = isInfx(as, am), ib = isInfx(bs, bm);
    if (ia || ib) c = ia && ib ? 0 : ia ? 1 : -1;
    else c = ea != eb ? (ea > eb ? 1 : -1) : na == nb ? 0 : na > nb ? 1 : -1;
  }
  return sa ? -c : c;
}

// ---- rounding to an integer (FRNDINT, FIST, FBSTP): value of finite (se, m) rounded per rc ----
// result: integer magnitude in zM (valid when the exponent allows; intBig set when |value| >= 2^64), PE, roundedUp
export let intBig: bool = false;
export function roundToInt(se: u32, m: u64): void {
  intBig = false;
  const s = se >> 15 & 1;
  const e = expOf(se) == 0 ? 1 : expOf(se);
  if (m == 0) { zM = 0; return; }
  const sh = BIAS + 63 - e; // right shift that leaves the integer part
  if (sh == 0) { zM = m; return; }                 // an integer of 64 bits (as -2^63 is)
  if (sh < 0) { intBig = true; zM = 0; return; }
  let ip: u64, rb: u64, half: u64, lsb: u64;
  if (sh >= 65) { ip = 0; rb = 1; half = TOPBIT; lsb = 0; } // below 1/2: only sticky
  else if (sh == 64) { ip = 0; rb = m; half = TOPBIT; lsb = 0; }
  else { ip = m >> <u64>sh; rb = m & ((<u64>1 << <u64>sh) - 1); half = <u64>1 << <u64>(sh - 1); lsb = ip & 1; }
  const inexact = rb != 0;
  let inc = false;
  if (rc == 0) inc = rb > half || (rb == half && lsb != 0);
  else if (rc == 1) inc = s != 0 && inexact;
  else if (rc == 2) inc = s == 0 && inexact;
  if (inexact) fx |= FE_PE;
  if (inc) { ip++; roundedUp = true; if (ip == 0) intBig = true; }
  zM = ip;
}
/** an unsigned 64-bit integer magnitude as an extended value (exact) */
export function fromU64(s: u32, v: u64): void {
  if (v == 0) { setZ(s, 0, 0); return; }
  const z = clz64(v);
  setZ(s, BIAS + 63 - z, v << <u64>z);
}
export function setFx(v: u32): void { fx = v; }
export function clearRoundedUp(): void { roundedUp = false; }
