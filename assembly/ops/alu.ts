// ops/alu.ts — integer ALU helpers shared by the opcode handlers: the eight classic ALU ops,
// inc/dec/neg, shifts and rotates, double shifts, multiply/divide, bit tests and scans, BCD adjust.
// Status flags are lazy for add/sub/logic/inc/dec; the rest compute them eagerly with setStatus.
import { FLAG_CF, FLAG_PF, FLAG_AF, FLAG_ZF, FLAG_SF, FLAG_OF, VEC_DE } from "../abi";
import {
  setLazy, setLazyIncDec, getCF, LF_ADD, LF_SUB, LF_LOGIC, LF_INC, LF_DEC, ARITH, setStatus, parity,
  flagsReg, materialize,
} from "../flags";
import { setPending, abort, r8, w8, r16, w16, r32, w32, EAX, EDX } from "../state";

@inline export function topBit(size: u32): u32 { return size * 8 - 1; }
@inline function msk(size: u32): u32 { return size == 4 ? 0xFFFFFFFF : size == 2 ? 0xFFFF : 0xFF; }
@inline function szf(size: u32, r: u32): u32 {
  // SF, ZF and PF of a result
  return (((r >>> topBit(size)) & 1) << 7) | ((r & msk(size)) == 0 ? FLAG_ZF : 0) | parity(r);
}

/** The eight ALU operations of opcodes 00..3F / 80..83 (op = reg field): add or adc sbb and sub xor cmp. */
@inline export function alu(op: u32, size: u32, a: u32, b: u32): u32 {
  const m = msk(size);
  const t = topBit(size);
  let r: u32;
  switch (op) {
    case 0: r = (a + b) & m; setLazy(LF_ADD, a, b, r, t); break;
    case 1: r = a | b; setLazy(LF_LOGIC, a, b, r, t); break;
    case 2: r = (a + b + getCF()) & m; setLazy(LF_ADD, a, b, r, t); break;
    case 3: r = (a - b - getCF()) & m; setLazy(LF_SUB, a, b, r, t); break;
    case 4: r = a & b; setLazy(LF_LOGIC, a, b, r, t); break;
    case 5: case 7: r = (a - b) & m; setLazy(LF_SUB, a, b, r, t); break;
    default: r = a ^ b; setLazy(LF_LOGIC, a, b, r, t); break;
  }
  return r;
}
@inline export function aluAdd(size: u32, a: u32, b: u32): u32 { const r = (a + b) & msk(size); setLazy(LF_ADD, a, b, r, topBit(size)); return r; }
@inline export function aluSub(size: u32, a: u32, b: u32): u32 { const r = (a - b) & msk(size); setLazy(LF_SUB, a, b, r, topBit(size)); return r; }
@inline export function aluLogic(size: u32, r: u32): u32 { setLazy(LF_LOGIC, 0, 0, r, topBit(size)); return r; }
@inline export function aluInc(size: u32, a: u32): u32 { const r = (a + 1) & msk(size); setLazyIncDec(LF_INC, a, r, topBit(size)); return r; }
@inline export function aluDec(size: u32, a: u32): u32 { const r = (a - 1) & msk(size); setLazyIncDec(LF_DEC, a, r, topBit(size)); return r; }
@inline export function aluNeg(size: u32, a: u32): u32 { const r = (0 - a) & msk(size); setLazy(LF_SUB, 0, a, r, topBit(size)); return r; }

// ---- shifts and rotates (group 2: reg field 0 rol 1 ror 2 rcl 3 rcr 4 shl 5 shr 6 sal=shl 7 sar) ----
/** Flags produced by the last shiftCore call (the whole EFLAGS value). */
export let shiftFlags: u32 = 0;

/** shiftOp on the global flags. A masked count of 0 changes nothing (the caller skips the write). */
export function shiftOp(op: u32, size: u32, a: u32, count: u32): u32 {
  if ((count & 31) == 0) return a;
  materialize();
  const r = shiftCore(op, size, a, count, flagsReg);
  setStatus(ARITH, shiftFlags);
  return r;
}

/**
 * The shift/rotate rules (SDM Vol. 2: SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR) as a pure function of the operand,
 * the count and the concrete flags `fl`; returns the result and leaves the new EFLAGS in `shiftFlags`.
 * The count is masked to 5 bits and must be nonzero.
 */
export function shiftCore(op: u32, size: u32, a: u32, count: u32, fl: u32): u32 {
  const cnt = count & 31;
  const n = size * 8;
  const m = msk(size);
  const t = n - 1;
  let r: u32 = 0;
  let cf: u32 = 0;
  let ov: u32 = 0;
  const oldCF = fl & FLAG_CF;
  switch (op) {
    case 0: { // rol: only CF and OF change
      const c = cnt & (n - 1);
      r = c ? ((a << c) | (a >>> (n - c))) & m : a;
      cf = r & 1;
      ov = ((r >>> t) ^ cf) & 1;
      shiftFlags = (fl & ~(FLAG_CF | FLAG_OF)) | cf | (ov << 11);
      return r;
    }
    case 1: { // ror
      const c = cnt & (n - 1);
      r = c ? ((a >>> c) | (a << (n - c))) & m : a;
      cf = (r >>> t) & 1;
      ov = ((r >>> t) ^ (r >>> (t - 1))) & 1;
      shiftFlags = (fl & ~(FLAG_CF | FLAG_OF)) | cf | (ov << 11);
      return r;
    }
    case 2: { // rcl: rotate through CF, an (n+1)-bit rotation
      const c = size == 4 ? cnt : cnt % (n + 1);
      if (c == 0) { shiftFlags = fl; return a; }
      const wide: u64 = (<u64>oldCF << <u64>n) | <u64>a;
      const nn: u64 = <u64>(n + 1);
      const rot: u64 = ((wide << <u64>c) | (wide >> (nn - <u64>c))) & ((<u64>1 << nn) - 1);
      r = <u32>(rot & <u64>m);
      cf = <u32>(rot >> <u64>n) & 1;
      ov = ((r >>> t) ^ cf) & 1;
      shiftFlags = (fl & ~(FLAG_CF | FLAG_OF)) | cf | (ov << 11);
      return r;
    }
    case 3: { // rcr
      const c = size == 4 ? cnt : cnt % (n + 1);
      if (c == 0) { shiftFlags = fl; return a; }
      ov = ((a >>> t) ^ oldCF) & 1;
      const wide: u64 = (<u64>oldCF << <u64>n) | <u64>a;
      const nn: u64 = <u64>(n + 1);
      const rot: u64 = ((wide >> <u64>c) | (wide << (nn - <u64>c))) & ((<u64>1 << nn) - 1);
      r = <u32>(rot & <u64>m);
      cf = <u32>(rot >> <u64>n) & 1;
      // for counts > 1 the real CPU reports OF from the last single-bit step: the top two result bits
      if (c != 1) ov = ((r >>> t) ^ (r >>> (t - 1))) & 1;
      shiftFlags = (fl & ~(FLAG_CF | FLAG_OF)) | cf | (ov << 11);
      return r;
    }
    case 4: case 6: { // shl/sal
      r = cnt < n ? (a << cnt) & m : 0;
      cf = cnt <= n ? (a >>> (n - cnt)) & 1 : 0;
      ov = ((r >>> t) ^ cf) & 1;
      break;
    }
    case 5: { // shr
      r = cnt < n ? a >>> cnt : 0;
      cf = cnt <= n ? (a >>> (cnt - 1)) & 1 : 0;
      ov = cnt == 1 ? (a >>> t) & 1 : 0;
      break;
    }
    default: { // sar
      const sa = <i32>(a << (32 - n)) >> (32 - n); // sign-extended operand
      r = <u32>(sa >> (cnt < n ? cnt : n - 1)) & m;
      cf = <u32>(sa >> (cnt <= n ? cnt - 1 : n - 1)) & 1;
      ov = 0;
      break;
    }
  }
  // shifts: SF ZF PF from the result; AF is undefined (this CPU leaves it set)
  shiftFlags = (fl & ~ARITH) | cf | (ov << 11) | szf(size, r) | FLAG_AF;
  return r;
}

/** shld (left=true) / shrd: dst is shifted, bits come in from src. */
export function shiftDouble(left: bool, size: u32, dst: u32, src: u32, count: u32): u32 {
  const cnt = count & 31;
  if (cnt == 0) return dst;
  const n = size * 8;
  const m = msk(size);
  const t = n - 1;
  let r: u32;
  let cf: u32;
  if (size == 4) {
    if (left) { r = (dst << cnt) | (src >>> (32 - cnt)); cf = (dst >>> (32 - cnt)) & 1; }
    else { r = (dst >>> cnt) | (src << (32 - cnt)); cf = (dst >>> (cnt - 1)) & 1; }
  } else {
    // 16-bit: counts above 16 are undefined by the SDM; model the hardware's 48-bit funnel dst:src:dst
    if (left) {
      const w: u64 = (<u64>dst << 32) | (<u64>src << 16) | <u64>dst;
      r = <u32>((w << <u64>cnt) >> 32) & m;
      cf = <u32>(w >> <u64>(48 - cnt)) & 1;
    } else {
      const w: u64 = <u64>dst | (<u64>src << 16) | (<u64>dst << 32);
      r = <u32>(w >> <u64>cnt) & m;
      cf = <u32>(w >> <u64>(cnt - 1)) & 1;
    }
  }
  r &= m;
  const ov = ((r ^ dst) >>> t) & 1; // sign change (defined for count 1)
  setStatus(ARITH, cf | (ov << 11) | szf(size, r) | FLAG_AF);
  return r;
}

// ---- multiply and divide ----
/** mul/imul with one operand: AL/AX/EAX × src into AX / DX:AX / EDX:EAX. */
export function mul1(signed: bool, size: u32, src: u32): void {
  let hiNonzero: bool;
  let lo: u32;
  if (size == 1) {
    const a = r8(EAX);
    const p: i32 = signed ? <i32><i8>a * <i32><i8>src : <i32>(a * src);
    w16(EAX, <u32>p);
    lo = <u32>p & 0xFF;
    hiNonzero = signed ? <i32><i8>(<u32>p) != p : (<u32>p >>> 8) != 0;
  } else if (size == 2) {
    const a = r16(EAX);
    const p: i32 = signed ? <i32><i16>a * <i32><i16>src : <i32>(a * src);
    w16(EAX, <u32>p);
    w16(EDX, <u32>p >>> 16);
    lo = <u32>p & 0xFFFF;
    hiNonzero = signed ? <i32><i16>(<u32>p) != p : (<u32>p >>> 16) != 0;
  } else {
    const a = r32(EAX);
    let p: u64;
    if (signed) {
      const sp: i64 = <i64><i32>a * <i64><i32>src;
      p = <u64>sp;
      hiNonzero = <i64><i32>(<u32>sp) != sp;
    } else {
      p = <u64>a * <u64>src;
      hiNonzero = (p >> 32) != 0;
    }
    w32(EAX, <u32>p);
    w32(EDX, <u32>(p >> 32));
    lo = <u32>p;
  }
  mulFlags(size, lo, hiNonzero);
}
/** Flags after a multiply: CF=OF=overflow; SF ZF AF PF are undefined and, as on the reference AMD CPU, kept. */
export function mulFlags(size: u32, lo: u32, overflow: bool): void {
  setStatus(FLAG_CF | FLAG_OF, overflow ? FLAG_CF | FLAG_OF : 0);
}
/** imul r, r/m[, imm]: truncated signed product. */
export function imul2(size: u32, a: u32, b: u32): u32 {
  let r: u32;
  let ovf: bool;
  if (size == 2) {
    const p: i32 = <i32><i16>a * <i32><i16>b;
    r = <u32>p & 0xFFFF;
    ovf = <i32><i16>(<u32>p) != p;
  } else {
    const p: i64 = <i64><i32>a * <i64><i32>b;
    r = <u32>p;
    ovf = <i64><i32>r != p;
  }
  mulFlags(size, r, ovf);
  return r;
}
/**
 * div/idiv: raises #DE on a zero divisor or a quotient that does not fit. All six flags are undefined; the
 * reference AMD CPU sets AF, clears PF SF ZF and keeps CF OF, and so do we.
 */
export function div1(signed: bool, size: u32, src: u32): void {
  divCore(signed, size, src);
  if (!abort) setStatus(FLAG_AF | FLAG_PF | FLAG_SF | FLAG_ZF, FLAG_AF);
}
function divCore(signed: bool, size: u32, src: u32): void {
  if ((src & msk(size)) == 0) { setPending(VEC_DE, 0, false); return; }
  if (size == 1) {
    const a = r16(EAX);
    if (signed) {
      const n = <i32><i16>a, d = <i32><i8>src;
      const q = n / d, rm = n % d;
      if (q > 127 || q < -128) { setPending(VEC_DE, 0, false); return; }
      w8(EAX, <u32>q); w8(4, <u32>rm);
    } else {
      const q = a / src, rm = a % src;
      if (q > 0xFF) { setPending(VEC_DE, 0, false); return; }
      w8(EAX, q); w8(4, rm);
    }
  } else if (size == 2) {
    const a = (r16(EDX) << 16) | r16(EAX);
    if (signed) {
      const n = <i32>a, d = <i32><i16>src;
      if (d == -1 && n == i32.MIN_VALUE) { setPending(VEC_DE, 0, false); return; }
      const q = n / d, rm = n % d;
      if (q > 32767 || q < -32768) { setPending(VEC_DE, 0, false); return; }
      w16(EAX, <u32>q); w16(EDX, <u32>rm);
    } else {
      const q = a / src, rm = a % src;
      if (q > 0xFFFF) { setPending(VEC_DE, 0, false); return; }
      w16(EAX, q); w16(EDX, rm);
    }
  } else {
    const a: u64 = (<u64>r32(EDX) << 32) | <u64>r32(EAX);
    if (signed) {
      const n = <i64>a, d = <i64><i32>src;
      if (d == -1 && n == i64.MIN_VALUE) { setPending(VEC_DE, 0, false); return; }
      const q = n / d, rm = n % d;
      if (q > 0x7FFFFFFF || q < -0x80000000) { setPending(VEC_DE, 0, false); return; }
      w32(EAX, <u32>q); w32(EDX, <u32>rm);
    } else {
      const q = a / <u64>src, rm = a % <u64>src;
      if (q > 0xFFFFFFFF) { setPending(VEC_DE, 0, false); return; }
      w32(EAX, <u32>q); w32(EDX, <u32>rm);
    }
  }
}

// ---- bit test / scan ----
/** bt(0) bts(1) btr(2) btc(3) on a value with bit index already reduced; sets CF, returns the new value. */
@inline export function bitOp(op: u32, v: u32, bit: u32): u32 {
  const m: u32 = <u32>1 << bit;
  setStatus(FLAG_CF, (v >>> bit) & 1);
  if (op == 1) return v | m;
  if (op == 2) return v & ~m;
  if (op == 3) return v ^ m;
  return v;
}
/** bsf/bsr: returns the index or, for a zero source, the old destination (as this CPU does), setting ZF. */
export function bitScan(reverse: bool, size: u32, src: u32, old: u32): u32 {
  src &= msk(size);
  if (src == 0) { setStatus(FLAG_ZF, FLAG_ZF); return old; }
  const r: u32 = reverse ? 31 - clz<u32>(src) : ctz<u32>(src);
  setStatus(ARITH, szf(size, r) & ~FLAG_ZF);
  return r;
}

// ---- BCD adjust (AL/AH) ----
export function daa(): void {
  materialize();
  const al = r8(EAX);
  const cf = flagsReg & FLAG_CF;
  let af: u32 = 0, ncf: u32 = 0;
  let r = al;
  if ((al & 0xF) > 9 || (flagsReg & FLAG_AF)) { r = (r + 6) & 0xFF; af = FLAG_AF; }
  if (al > 0x99 || cf) { r = (r + 0x60) & 0xFF; ncf = FLAG_CF; }
  w8(EAX, r);
  // OF is undefined: this CPU reports it as for the underlying additions (sign overflow of al)
  const ov: u32 = ((~al & r) & 0x80) ? FLAG_OF : 0;
  setStatus(ARITH, ncf | af | szf(1, r) | ov);
}
export function das(): void {
  materialize();
  const al = r8(EAX);
  const cf = flagsReg & FLAG_CF;
  let af: u32 = 0, ncf: u32 = 0;
  let r = al;
  if ((al & 0xF) > 9 || (flagsReg & FLAG_AF)) { ncf = (cf || al < 6) ? FLAG_CF : 0; r = (r - 6) & 0xFF; af = FLAG_AF; }
  if (al > 0x99 || cf) { r = (r - 0x60) & 0xFF; ncf = FLAG_CF; }
  w8(EAX, r);
  const ov: u32 = ((al & ~r) & 0x80) ? FLAG_OF : 0;
  setStatus(ARITH, ncf | af | szf(1, r) | ov);
}
export function aaa(): void {
  materialize();
  let ax = r16(EAX);
  let f: u32 = 0;
  if ((ax & 0xF) > 9 || (flagsReg & FLAG_AF)) { ax = (ax + 0x106) & 0xFFFF; f = FLAG_AF | FLAG_CF; }
  w16(EAX, ax & 0xFF0F);
  setStatus(ARITH, f | szf(1, ax & 0xFF));
}
export function aas(): void {
  materialize();
  let ax = r16(EAX);
  let f: u32 = 0;
  if ((ax & 0xF) > 9 || (flagsReg & FLAG_AF)) {
    // AX <- AX - 6 (the borrow reaches AH), then AH <- AH - 1, as current processors do
    ax = (ax - 6) & 0xFFFF;
    ax = (((ax >>> 8) - 1) & 0xFF) << 8 | (ax & 0xFF);
    f = FLAG_AF | FLAG_CF;
  }
  w16(EAX, ax & 0xFF0F);
  setStatus(ARITH, f | szf(1, ax & 0xFF));
}
export function aam(imm: u32): void {
  if (imm == 0) { setPending(VEC_DE, 0, false); return; }
  const al = r8(EAX);
  const q = al / imm, r = al % imm;
  w16(EAX, (q << 8) | r);
  setStatus(ARITH, szf(1, r));
}
export function aad(imm: u32): void {
  const al = r8(EAX), ah = r8(4);
  const b = (ah * imm) & 0xFF;
  const r = (al + b) & 0xFF;
  w16(EAX, r);
  // CF/OF/AF are undefined; the real CPU leaves what the internal 8-bit add produces
  setLazy(LF_ADD, al, b, r, 7);
}
