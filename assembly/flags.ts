// flags.ts — EFLAGS with lazy arithmetic flags.
// An arithmetic instruction records (kind, a, b, result, width) and the six status flags are computed only
// when something reads them: jcc/setcc/cmovcc usually need one or two, pushf/lahf need all.
// ADD/ADC share one rule (carry vector of a+b(+c)=r), SUB/SBB/CMP/NEG another (borrow vector), so
// ADC/SBB need no extra state. INC/DEC keep CF from `flagsReg`.
import { FLAG_CF, FLAG_PF, FLAG_AF, FLAG_ZF, FLAG_SF, FLAG_OF } from "./abi";

export const LF_NONE: u32 = 0;
export const LF_ADD: u32 = 1;
export const LF_SUB: u32 = 2;
export const LF_LOGIC: u32 = 3;
export const LF_INC: u32 = 4;
export const LF_DEC: u32 = 5;

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

@inline function resMask(): u32 { return lfTop == 31 ? 0xFFFFFFFF : ((<u32>2 << lfTop) - 1); }

export function getCF(): u32 {
  switch (lfOp) {
    case LF_ADD: return (((lfA & lfB) | ((lfA | lfB) & ~lfR)) >>> lfTop) & 1;
    case LF_SUB: return (((~lfA & lfB) | (~(lfA ^ lfB) & lfR)) >>> lfTop) & 1;
    case LF_LOGIC: return 0;
    default: return flagsReg & FLAG_CF;
  }
}
@inline export function getZF(): u32 {
  if (lfOp == LF_NONE) return flagsReg & FLAG_ZF;
  return (lfR & resMask()) == 0 ? FLAG_ZF : 0;
}
@inline export function getSF(): u32 {
  if (lfOp == LF_NONE) return flagsReg & FLAG_SF;
  return ((lfR >>> lfTop) & 1) << 7;
}
export function getOF(): u32 {
  switch (lfOp) {
    case LF_ADD: return ((((lfA ^ lfR) & (lfB ^ lfR)) >>> lfTop) & 1) << 11;
    case LF_SUB: return ((((lfA ^ lfB) & (lfA ^ lfR)) >>> lfTop) & 1) << 11;
    case LF_INC: return (lfR & resMask()) == (<u32>1 << lfTop) ? FLAG_OF : 0;
    case LF_DEC: return (lfR & resMask()) == (<u32>1 << lfTop) - 1 ? FLAG_OF : 0;
    case LF_LOGIC: return 0;
    default: return flagsReg & FLAG_OF;
  }
}
@inline export function parity(v: u32): u32 {
  // PF=1 when the low byte has an even number of set bits
  return (~popcnt<u32>(v & 0xFF) & 1) << 2;
}
export function getPF(): u32 {
  if (lfOp == LF_NONE) return flagsReg & FLAG_PF;
  return parity(lfR);
}
export function getAF(): u32 {
  switch (lfOp) {
    case LF_ADD: case LF_SUB: case LF_INC: case LF_DEC: return (lfA ^ lfB ^ lfR) & FLAG_AF;
    case LF_LOGIC: return 0;
    default: return flagsReg & FLAG_AF;
  }
}

/** The full EFLAGS value (materializes lazy status flags, keeps them lazy). */
export function getFlags(): u32 {
  if (lfOp == LF_NONE) return flagsReg;
  return (flagsReg & ~ARITH) | getCF() | getPF() | getAF() | getZF() | getSF() | getOF();
}
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
@inline export function setCFbit(c: u32): void { setStatus(FLAG_CF, c); }

/** Condition codes 0..15 as used by jcc/setcc/cmovcc (low nibble of the opcode). */
export function cond(cc: u32): bool {
  let r: bool;
  switch (cc >> 1) {
    case 0: r = getOF() != 0; break;                                   // O
    case 1: r = getCF() != 0; break;                                   // B/C
    case 2: r = getZF() != 0; break;                                   // Z/E
    case 3: r = getCF() != 0 || getZF() != 0; break;                   // BE
    case 4: r = getSF() != 0; break;                                   // S
    case 5: r = getPF() != 0; break;                                   // P
    case 6: r = (getSF() != 0) != (getOF() != 0); break;               // L
    default: r = getZF() != 0 || ((getSF() != 0) != (getOF() != 0));  // LE
  }
  return (cc & 1) ? !r : r;
}
