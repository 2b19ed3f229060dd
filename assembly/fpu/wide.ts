// fpu/wide.ts — 128-bit-significand working arithmetic for the x87 transcendentals (fpu/transcendental.ts).
// A working value is (sign, unbiased exponent, 128-bit significand H:L with H's top bit set), value =
// H:L * 2^(e-127); zero has H = L = 0. Operations truncate to 128 bits (error < 2^-126 relative each), so a
// function evaluated with a few dozen of them is accurate to ~2^-115: far below the 2^-64 the extended result
// is rounded to, and the one final rounding (softfloat's roundExt) gives the correctly rounded value except in
// cases closer than that to a rounding boundary. Integers only; results in the globals wS/wE/wH/wL.
import { mul64, hi, lo, clz64 } from "./softfloat";

export let wS: u32 = 0;
export let wE: i32 = 0;
export let wH: u64 = 0;
export let wL: u64 = 0;

/** normalize the 128-bit magnitude h:l (any bit pattern) at exponent e of its bit 127 */
export function wNorm(s: u32, e: i32, h: u64, l: u64): void {
  wS = s;
  if (h == 0 && l == 0) { wE = 0; wH = 0; wL = 0; return; }
  let z: i32 = h != 0 ? clz64(h) : 64 + clz64(l);
  if (z >= 64) { h = l << <u64>(z - 64); l = 0; }
  else if (z > 0) { h = (h << <u64>z) | (l >> <u64>(64 - z)); l <<= <u64>z; }
  wE = e - z; wH = h; wL = l;
}
/** an unsigned integer as a working value */
export function wInt(s: u32, v: u64): void { wNorm(s, 127, 0, v); }

/** a * b */
export function wMul(as: u32, ae: i32, ah: u64, al: u64, bs: u32, be: i32, bh: u64, bl: u64): void {
  if ((ah | al) == 0 || (bh | bl) == 0) { wS = as ^ bs; wE = 0; wH = 0; wL = 0; return; }
  mul64(ah, bh); const p3 = hi, p2 = lo;
  mul64(ah, bl); const m1h = hi, m1l = lo;
  mul64(al, bh); const m2h = hi, m2l = lo;
  mul64(al, bl); const p1 = hi;
  let w1 = p1 + m1l; let c: u64 = w1 < p1 ? 1 : 0;
  const w1b = w1 + m2l; c += w1b < w1 ? 1 : 0; w1 = w1b;
  let w2 = p2 + m1h; let c2: u64 = w2 < p2 ? 1 : 0;
  let t = w2 + m2h; c2 += t < w2 ? 1 : 0; w2 = t;
  t = w2 + c; c2 += t < w2 ? 1 : 0; w2 = t;
  let w3 = p3 + c2;
  let e = ae + be + 1;
  if ((w3 >> 63) == 0) { w3 = (w3 << 1) | (w2 >> 63); w2 = (w2 << 1) | (w1 >> 63); e--; }
  wS = as ^ bs; wE = e; wH = w3; wL = w2;
}

/** a + b (signed) */
export function wAdd(as: u32, ae: i32, ah: u64, al: u64, bs: u32, be: i32, bh: u64, bl: u64): void {
  if ((bh | bl) == 0) { wS = as; wE = ae; wH = ah; wL = al; return; }
  if ((ah | al) == 0) { wS = bs; wE = be; wH = bh; wL = bl; return; }
  // a the larger magnitude
  if (be > ae || (be == ae && (bh > ah || (bh == ah && bl > al)))) {
    let ts = as; as = bs; bs = ts; let te = ae; ae = be; be = te;
    let th = ah; ah = bh; bh = th; th = al; al = bl; bl = th;
  }
  const d = ae - be;
  // b >> d, keeping one guard word (g) so that a subtraction does not lose the low bits of b
  let g: u64 = 0;
  if (d >= 192) { bh = 0; bl = 0; g = 1; }
  else if (d >= 128) { g = d == 128 ? bh : bh >> <u64>(d - 128); bh = 0; bl = 0; }
  else if (d >= 64) {
    const k = d - 64;
    g = k == 0 ? bl : (bl >> <u64>k) | (bh << <u64>(64 - k));
    bl = k == 0 ? bh : bh >> <u64>k; bh = 0;
  } else if (d > 0) {
    g = bl << <u64>(64 - d);
    bl = (bl >> <u64>d) | (bh << <u64>(64 - d)); bh >>= <u64>d;
  }
  if (as == bs) {
    const l = al + bl; const c: u64 = l < al ? 1 : 0;
    const h0 = ah + bh; const h = h0 + c;
    if (h0 < ah || h < h0) { // carry out of bit 127
      wS = as; wE = ae + 1; wH = (h >> 1) | 0x8000000000000000; wL = (l >> 1) | (h << 63); return;
    }
    wS = as; wE = ae; wH = h; wL = l; return;
  }
  // |a| - |b| over three words (h:l:g)
  const ng = <u64>0 - g; let br: u64 = g != 0 ? 1 : 0;
  const l1 = al - bl; const br1: u64 = al < bl ? 1 : 0;
  const l = l1 - br; br = br1 | (l1 < br ? 1 : 0);
  const h = ah - bh - br;
  // normalize h:l:ng
  if (h == 0 && l == 0 && ng == 0) { wS = 0; wE = 0; wH = 0; wL = 0; return; }
  let z: i32 = h != 0 ? clz64(h) : l != 0 ? 64 + clz64(l) : 128 + clz64(ng);
  let H = h, L = l, G = ng;
  while (z >= 64) { H = L; L = G; G = 0; z -= 64; ae -= 64; }
  if (z > 0) { H = (H << <u64>z) | (L >> <u64>(64 - z)); L = (L << <u64>z) | (G >> <u64>(64 - z)); ae -= z; }
  wS = as; wE = ae; wH = H; wL = L;
}

/** a / b (b not zero): restoring division, 128 quotient bits */
export function wDiv(as: u32, ae: i32, ah: u64, al: u64, bs: u32, be: i32, bh: u64, bl: u64): void {
  if ((ah | al) == 0) { wS = as ^ bs; wE = 0; wH = 0; wL = 0; return; }
  let e = ae - be;
  let rh = ah, rl = al, top = false;
  if (ah < bh || (ah == bh && al < bl)) { top = (rh >> 63) != 0; rh = (rh << 1) | (rl >> 63); rl <<= 1; e--; }
  let qh: u64 = 0, ql: u64 = 0;
  for (let i = 0; i < 128; i++) {
    const ge = top || rh > bh || (rh == bh && rl >= bl);
    if (ge) { const nl = rl - bl; rh = rh - bh - (rl < bl ? 1 : 0); rl = nl; }
    qh = (qh << 1) | (ql >> 63); ql = (ql << 1) | (ge ? 1 : 0);
    top = (rh >> 63) != 0; rh = (rh << 1) | (rl >> 63); rl <<= 1;
  }
  wS = as ^ bs; wE = e; wH = qh; wL = ql;
}

/** a / d for a small integer d > 0 (32-bit limbs) */
export function wDivSmall(as: u32, ae: i32, ah: u64, al: u64, d: u32): void {
  const dd = <u64>d;
  let r: u64 = 0;
  let cur = (r << 32) | (ah >> 32); const q3 = cur / dd; r = cur % dd;
  cur = (r << 32) | (ah & 0xFFFFFFFF); const q2 = cur / dd; r = cur % dd;
  cur = (r << 32) | (al >> 32); const q1 = cur / dd; r = cur % dd;
  cur = (r << 32) | (al & 0xFFFFFFFF); const q0 = cur / dd; r = cur % dd;
  // one more limb of quotient below, so the normalization shift keeps 128 good bits
  cur = r << 32; const qx = cur / dd;
  let h = (q3 << 32) | q2, l = (q1 << 32) | q0;
  const z: i32 = h != 0 ? clz64(h) : 64 + clz64(l);
  // shift left by z (< 64 + 32 since d < 2^32), pulling bits from qx (a 32-bit limb at the top of a word)
  const x = qx << 32;
  if (z == 0) { wS = as; wE = ae; wH = h; wL = l; return; }
  if (z < 64) { h = (h << <u64>z) | (l >> <u64>(64 - z)); l = (l << <u64>z) | (x >> <u64>(64 - z)); }
  else { const k = z - 64; h = k == 0 ? l : (l << <u64>k) | (x >> <u64>(64 - k)); l = k == 0 ? x : x << <u64>k; }
  wS = as; wE = ae - z; wH = h; wL = l;
}
