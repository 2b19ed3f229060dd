// flags.ts — EFLAGS with lazy arithmetic flags.
// An arithmetic instruction records (kind, a, b, result, width) and the six status flags are computed only
// when something reads them: jcc/setcc/cmovcc usually need one or two, pushf/lahf need all.
// ADD/ADC share one rule (carry vector of a+b(+c)=r), SUB/SBB/CMP/NEG another (borrow vector), so
// ADC/SBB need no extra state. INC/DEC keep CF from `flagsReg`.
import { FLAG_CF, FLAG_PF, FLAG_AF, FLAG_ZF, FLAG_SF, FLAG_OF } from "./abi";

import { LF_NONE, LF_ADD, LF_SUB, LF_LOGIC, LF_INC, LF_DEC } from "./abi";
export { LF_NONE, LF_ADD, LF_SUB, LF_LOGIC, LF_INC, LF_DEC };

export const ARITH: u32 = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF;

export let flagsReg: u32 = 2;  // all of EFLAGS; status bits valid only where lfOp says so
export let lfOp: u32 = LF_NONE;
export let lfA: u32 = 0;
export let lfB: u32 = 0;
export let lfR: u32 = 0;
export let lfTop: u32 = 31;     // index of the sign bit: 7, 15 or 31

@inline export function setLazy(op: u32, a: u32, b: u32, r: u32, top: u32): void {
  lfOp = op; lfA = a; lfB = b; lfR = r; lfTop = top;
}
// INC/DEC: CF survives, so materialize it before going lazy
@inline export function setLazyIncDec(op: u32, a: u32, r: u32, top: u32): void {
  if (lfOp != LF_NONE) flagsReg = (flagsReg & ~FLAG_CF) | getCF();
  lfOp = op; lfA = a; lfB = 1; lfR = r; lfTop = top;
}

// ---- flag rules as pure functions of the lazy state (op, a, b, r, top) and the concrete flags `fl` ----
// The run loop keeps the lazy state in locals on its fast path and calls these directly; the globals below
// use the same functions, so there is one definition of every flag.
@inline function maskOf(top: u32): u32 { return top == 31 ? 0xFFFFFFFF : ((<u32>2 << top) - 1); }
@inline export function cfOf(op: u32, a: u32, b: u32, r: u32, top: u32, fl: u32): u32 {
  if (op == LF_ADD) return (((a & b) | ((a | b) & ~r)) >>> top) & 1;
  if (op == LF_SUB) return (((~a & b) | (~(a ^ b) & r)) >>> top) & 1;
  if (op == LF_LOGIC) return 0;
  return fl & FLAG_CF;
}
@inline export function zfOf(op: u32, r: u32, top: u32, fl: u32): u32 {
  if (op == LF_NONE) return fl & FLAG_ZF;
  return (r & maskOf(top)) == 0 ? FLAG_ZF : 0;
}
@inline export function sfOf(op: u32, r: u32, top: u32, fl: u32): u32 {
  if (op == LF_NONE) return fl & FLAG_SF;
  return ((r >>> top) & 1) << 7;
}
@inline export function ofOf(op: u32, a: u32, b: u32, r: u32, top: u32, fl: u32): u32 {
  if (op == LF_ADD) return ((((a ^ r) & (b ^ r)) >>> top) & 1) << 11;
  if (op == LF_SUB) return ((((a ^ b) & (a ^ r)) >>> top) & 1) << 11;
  if (op == LF_INC) return (r & maskOf(top)) == (<u32>1 << top) ? FLAG_OF : 0;
  if (op == LF_DEC) return (r & maskOf(top)) == (<u32>1 << top) - 1 ? FLAG_OF : 0;
  if (op == LF_LOGIC) return 0;
  return fl & FLAG_OF;
}
@inline export function parity(v: u32): u32 {
  // PF=1 when the low byte has an even number of set bits
  return (~popcnt<u32>(v & 0xFF) & 1) << 2;
}
@inline export function pfOf(op: u32, r: u32, fl: u32): u32 { return op == LF_NONE ? fl & FLAG_PF : parity(r); }
@inline export function afOf(op: u32, a: u32, b: u32, r: u32, fl: u32): u32 {
  if (op == LF_NONE) return fl & FLAG_AF;
  if (op == LF_LOGIC) return 0;
  return (a ^ b ^ r) & FLAG_AF;
}
/** EFLAGS with the status flags made concrete. */
export function flagsOf(op: u32, a: u32, b: u32, r: u32, top: u32, fl: u32): u32 {
  if (op == LF_NONE) return fl;
  return (fl & ~ARITH) | cfOf(op, a, b, r, top, fl) | pfOf(op, r, fl) | afOf(op, a, b, r, fl) |
    zfOf(op, r, top, fl) | sfOf(op, r, top, fl) | ofOf(op, a, b, r, top, fl);
}
/** Condition codes 0..15 as used by jcc/setcc/cmovcc (low nibble of the opcode). */
@inline export function condOf(cc: u32, op: u32, a: u32, b: u32, r: u32, top: u32, fl: u32): bool {
  let x: bool;
  switch (cc >> 1) {
    case 0: x = ofOf(op, a, b, r, top, fl) != 0; break;                                            // O
    case 1: x = cfOf(op, a, b, r, top, fl) != 0; break;                                            // B/C
    case 2: x = zfOf(op, r, top, fl) != 0; break;                                                  // Z/E
    case 3: x = cfOf(op, a, b, r, top, fl) != 0 || zfOf(op, r, top, fl) != 0; break;               // BE
    case 4: x = sfOf(op, r, top, fl) != 0; break;                                                  // S
    case 5: x = pfOf(op, r, fl) != 0; break;                                                       // P
    case 6: x = (sfOf(op, r, top, fl) != 0) != (ofOf(op, a, b, r, top, fl) != 0); break;           // L
    default: x = zfOf(op, r, top, fl) != 0 || ((sfOf(op, r, top, fl) != 0) != (ofOf(op, a, b, r, top, fl) != 0)); // LE
  }
  return (cc & 1) ? !x : x;
}

// ---- the same rules over the global lazy state ----
export function getCF(): u32 { return cfOf(lfOp, lfA, lfB, lfR, lfTop, flagsReg); }
export function getZF(): u32 { return zfOf(lfOp, lfR, lfTop, flagsReg); }

/** The full EFLAGS value (materializes lazy status flags, keeps them lazy). */
export function getFlags(): u32 { return flagsOf(lfOp, lfA, lfB, lfR, lfTop, flagsReg); }
/** Make the status flags concrete in flagsReg (before eager updates of single flags). */
export function materialize(): void {
  if (lfOp != LF_NONE) { flagsReg = getFlags(); lfOp = LF_NONE; }
}
/** Replace EFLAGS wholesale (popf, iret, host write); bit 1 is always 1, bits 3, 5, 15, 22+ always 0. */
export function setFlags(v: u32): void {
  flagsReg = (v & 0x3F7FD5) | 2;
  lfOp = LF_NONE;
}
/** Set some status flags eagerly: bits in `mask` take their value from `v`. */
@inline export function setStatus(mask: u32, v: u32): void {
  materialize();
  flagsReg = (flagsReg & ~mask) | (v & mask);
}

export function cond(cc: u32): bool { return condOf(cc, lfOp, lfA, lfB, lfR, lfTop, flagsReg); }

/** The hot state the run loop's fast path keeps in locals: written back before any handler runs. */
export function setLazyState(op: u32, a: u32, b: u32, r: u32, top: u32, fl: u32): void {
  lfOp = op; lfA = a; lfB = b; lfR = r; lfTop = top; flagsReg = fl;
}
