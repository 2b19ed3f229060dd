// fpu/convert.ts — conversions between the x87's extended format and memory formats: m32/m64 reals (loads exact,
// stores rounded with the store's exceptions), m16/m32/m64 integers and m80 packed BCD.
import {
  FE_IE, FE_DE, TOPBIT, BIAS, raise, setZ, setIndefinite, zS, zE, zM, nM, fx, noStore,
  isNaNx, isInfx, isZerox, isUnsupx, isSNaNx, normExp, roundPack, roundToInt, intBig, fromU64, clz64,
  setFx as resetFx, clearRoundedUp,
} from "./softfloat";

// ---- loads (exact; DE for denormals; an SNaN stays signaling for the instruction to handle) ----
export function fromF32(v: u32): void {
  const s = v >> 31, e = (v >> 23) & 0xFF, f = <u64>(v & 0x7FFFFF);
  if (e == 0xFF) {
    if (f == 0) { setZ(s, 0x7FFF, TOPBIT); return; }
    setZ(s, 0x7FFF, TOPBIT | (f << 40)); return; // SNaNs stay signaling: the instruction decides (quietNaN)
  }
  if (e == 0) {
    if (f == 0) { setZ(s, 0, 0); return; }
    raise(FE_DE);
    const z = clz64(f);
    setZ(s, BIAS - 126 - (z - 40), f << <u64>z); return;
  }
  setZ(s, <i32>e - 127 + BIAS, TOPBIT | (f << 40));
}
export function fromF64(v: u64): void {
  const s = <u32>(v >> 63), e = <u32>(v >> 52) & 0x7FF, f = v & 0xFFFFFFFFFFFFF;
  if (e == 0x7FF) {
    if (f == 0) { setZ(s, 0x7FFF, TOPBIT); return; }
    setZ(s, 0x7FFF, TOPBIT | (f << 11)); return;
  }
  if (e == 0) {
    if (f == 0) { setZ(s, 0, 0); return; }
    raise(FE_DE);
    const z = clz64(f);
    setZ(s, BIAS - 1022 - (z - 11), f << <u64>z); return;
  }
  setZ(s, <i32>e - 1023 + BIAS, TOPBIT | (f << 11));
}
/** a signed integer (sign-extended to 64 bits) as an extended value, exact */
export function fromInt(v: i64): void { fromU64(v < 0 ? 1 : 0, v < 0 ? <u64>(-v) : <u64>v); }

// ---- stores to real formats: the bits in `outBits` (m32 in the low half); nothing to store when noStore ----
export let outBits: u64 = 0;
function toReal(se: u32, m: u64, p: i32, emin: i32, emax: i32, ebits: u32): void {
  const s = <u64>(se >> 15 & 1);
  const fbits = <u64>(p - 1);
  const expAll: u64 = (<u64>1 << <u64>ebits) - 1;
  const sh = <u64>(64 - p);
  const bias = <i32>(expAll >> 1);
  if (isUnsupx(se, m)) { raise(FE_IE); outBits = (<u64>1 << <u64>(ebits + fbits)) | (expAll << fbits) | (<u64>1 << (fbits - 1)); return; }
  if (isNaNx(se, m)) {
    if (isSNaNx(se, m)) raise(FE_IE);
    outBits = (s << <u64>(ebits + fbits)) | (expAll << fbits) | ((m >> sh) & ((<u64>1 << fbits) - 1)) | (<u64>1 << (fbits - 1));
    return;
  }
  if (isInfx(se, m)) { outBits = (s << <u64>(ebits + fbits)) | (expAll << fbits); return; }
  if (isZerox(se, m)) { outBits = s << <u64>(ebits + fbits); return; }
  const e = normExp(se, m);
  roundPack(<u32>s, e, nM, 0, p, emin, emax, false);
  if (noStore) return;
  const fmask = (<u64>1 << fbits) - 1;
  if (zE > emax) { outBits = (s << <u64>(ebits + fbits)) | (expAll << fbits); return; }
  if ((zM & TOPBIT) == 0) { outBits = (s << <u64>(ebits + fbits)) | (zM >> sh); return; } // denormal (or zero)
  outBits = (s << <u64>(ebits + fbits)) | (<u64>(zE - BIAS + bias) << fbits) | ((zM >> sh) & fmask);
}
export function toF32(se: u32, m: u64): void { toReal(se, m, 24, BIAS - 126, BIAS + 127, 8); }
export function toF64(se: u32, m: u64): void { toReal(se, m, 53, BIAS - 1022, BIAS + 1023, 11); }

/** to a signed integer of `bits` (16/32/64) per rounding control; IE (indefinite = the most negative) when out of range */
export function toInt(se: u32, m: u64, bits: u32): void {
  const indef: u64 = <u64>1 << <u64>(bits - 1);
  if (isUnsupx(se, m) || isNaNx(se, m) || isInfx(se, m)) { raise(FE_IE); outBits = indef; return; }
  if (isZerox(se, m)) { outBits = 0; return; }
  const save = fx;
  roundToInt(se, m);
  const neg = (se & 0x8000) != 0;
  if (intBig || zM > (neg ? indef : indef - 1)) {
    // out of range: invalid, and the inexact flag of the rounding is not reported
    resetFx(save); raise(FE_IE); clearRoundedUp(); outBits = indef; return;
  }
  outBits = neg ? <u64>0 - zM : zM;
}

// ---- packed BCD (18 digits, sign in bit 79) ----
export function fromBcd(lo: u64, hiw: u32): void {
  // bytes 0..8 hold 18 digits, two per byte, least significant first; byte 9 bit 7 is the sign
  let v: u64 = <u64>((hiw >> 4) & 0xF) * 10 + <u64>(hiw & 0xF);
  for (let i = 15; i >= 0; i--) v = v * 10 + ((lo >> <u64>(i * 4)) & 0xF);
  fromU64((hiw >> 15) & 1, v);
}
export let bcdLo: u64 = 0;
export let bcdHi: u32 = 0;
export function toBcd(se: u32, m: u64): void {
  const neg: u32 = (se >> 15) & 1;
  if (isUnsupx(se, m) || isNaNx(se, m) || isInfx(se, m)) { raise(FE_IE); bcdLo = 0xC000000000000000; bcdHi = 0xFFFF; return; }
  let v: u64 = 0;
  if (!isZerox(se, m)) {
    const save = fx;
    roundToInt(se, m);
    if (intBig || zM > 999999999999999999) { resetFx(save); raise(FE_IE); clearRoundedUp(); bcdLo = 0xC000000000000000; bcdHi = 0xFFFF; return; }
    v = zM;
  }
  let lo: u64 = 0;
  for (let i: u64 = 0; i < 16; i++) { lo |= (v % 10) << (i * 4); v /= 10; }
  let h: u32 = <u32>(v % 10); v /= 10; h |= <u32>(v % 10) << 4;
  bcdLo = lo; bcdHi = h | (neg << 15);
}
