// ops/handlers.ts — the opcode table (dispatch) and the general-purpose instruction handlers.
// One row per opcode: `case 0xNN: op_<mnemonic>_<form>(...)`. Operand forms follow the SDM's notation:
// E = ModRM r/m, G = ModRM reg, I = immediate, b = byte, v = word/dword by operand size, A = accumulator.
// Handlers check `abort` after every step that can fault and commit register changes last.
import {
  FLAG_CF, FLAG_DF, FLAG_ZF, FLAG_AF, FLAG_PF, FLAG_SF, FLAG_OF, VEC_UD, VEC_GP, VEC_BR, SEG_ES, SEG_CS, SEG_SS,
  SEG_DS, SEG_FS, SEG_GS,
  CTRL_EXIT_PRIV_XFER,
} from "../abi";
import {
  eip, setEip, ip0, abort, setPending, r32, w32, r16, w16, r8, w8, o16, mrMod, mrReg, mrRm, ea, eaSeg, repPrefix,
  EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI, imm1, imm2, eaBase, setEa, a16, aRd, aWr,
} from "../state";
import {
  regRd, regWr, rmRd, rmWr, rmRmw, memRd, memWr, mask, sext, push,
  pop, popPeek, popCommit, spGet, spSet, spMask, dataSeg,
} from "../decode";
import {
  alu, aluInc, aluDec, aluNeg, aluLogic, shiftOp, shiftDouble, mul1, imul2, div1, bitOp, bitScan, daa, das, aaa, aas,
  aam, aad,
} from "./alu";
import { flagsReg, getFlags, setStatus, cond, getCF, materialize, setFlags } from "../flags";
import { segLimit } from "../state";
import { rdRmw } from "../mmu";
import * as S from "./system";
import { sensitiveExit } from "./sensitive";
import * as FPU from "../fpu/exec";
import { op0FAE } from "../fpu/fxsave";
import * as STR from "./string";
import * as IO from "./io";

@inline function ud(): void { setPending(VEC_UD, 0, false); }

/** Near jump target check: EIP beyond the CS limit faults (#GP(0)) at the jump, not at the next fetch. */
@inline export function jumpTo(target: u32): void {
  const t = o16 ? target & 0xFFFF : target;
  if (t > segLimit(SEG_CS)) { setPending(VEC_GP, 0, true); return; }
  setEip(t);
}

// ---------------------------------------------------------------- ALU forms
@inline function op_alu_E_G(aop: u32, size: u32): void {
    const b = regRd(size, mrReg);
  if (aop == 7) { const a = rmRd(size); if (abort) return; alu(7, size, a, b); return; }
  const a = rmRmw(size); if (abort) return;
  rmWr(size, alu(aop, size, a, b));
}
@inline function op_alu_G_E(aop: u32, size: u32): void {
    const b = rmRd(size); if (abort) return;
  const r = alu(aop, size, regRd(size, mrReg), b);
  if (aop != 7) regWr(size, mrReg, r);
}
@inline function op_alu_A_I(aop: u32, size: u32): void {
  const b = imm1;
  const r = alu(aop, size, regRd(size, EAX), b);
  if (aop != 7) regWr(size, EAX, r);
}
/** 80/81/82/83: group 1, ALU op in the reg field; immSize 1 with sign extension for 83. */
@inline function op_grp1_E_I(size: u32, immSize: u32): void {
    const aop = mrReg;
  if (aop == 7) {
    const a = rmRd(size); if (abort) return;
    const b = imm1;
    alu(7, size, a, sext(immSize, b) & mask(size));
    return;
  }
  const a = rmRmw(size); if (abort) return;
  const b = imm1;
  rmWr(size, alu(aop, size, a, sext(immSize, b) & mask(size)));
}
@inline function op_test_E_G(size: u32): void {
    const a = rmRd(size); if (abort) return;
  aluLogic(size, a & regRd(size, mrReg));
}
@inline function op_test_A_I(size: u32): void {
  const b = imm1;
  aluLogic(size, regRd(size, EAX) & b);
}
@inline function op_inc_r(size: u32, r: u32): void { regWr(size, r, aluInc(size, regRd(size, r))); }
@inline function op_dec_r(size: u32, r: u32): void { regWr(size, r, aluDec(size, regRd(size, r))); }

// ---------------------------------------------------------------- group 2 (shifts/rotates)
@inline function op_grp2_E(size: u32, countKind: u32): void {
  // countKind: 0 = by 1, 1 = by CL, 2 = by imm8
    const a = rmRmw(size); if (abort) return;
  let c: u32 = 1;
  if (countKind == 1) c = r8(ECX);
  else if (countKind == 2) c = imm1;
  const r = shiftOp(mrReg, size, a, c);
  if (c & 31) rmWr(size, r);
}

// ---------------------------------------------------------------- group 3 (test/not/neg/mul/imul/div/idiv)
@inline function op_grp3_E(size: u32): void {
    switch (mrReg) {
    case 0: case 1: {
      const a = rmRd(size); if (abort) return;
      const b = imm1;
      aluLogic(size, a & b);
      return;
    }
    case 2: { const a = rmRmw(size); if (abort) return; rmWr(size, ~a & mask(size)); return; }
    case 3: { const a = rmRmw(size); if (abort) return; rmWr(size, aluNeg(size, a)); return; }
    case 4: case 5: { const a = rmRd(size); if (abort) return; mul1(mrReg == 5, size, a); return; }
    default: { const a = rmRd(size); if (abort) return; div1(mrReg == 7, size, a); return; }
  }
}

// ---------------------------------------------------------------- data movement
@inline function op_mov_E_G(size: u32): void {  rmWr(size, regRd(size, mrReg)); }
@inline function op_mov_G_E(size: u32): void {
    const v = rmRd(size); if (abort) return;
  regWr(size, mrReg, v);
}
@inline function op_mov_E_I(size: u32): void {
    if (mrReg != 0) { ud(); return; }
  const v = imm1;
  rmWr(size, v);
}
@inline function op_mov_r_I(size: u32, r: u32): void { const v = imm1; regWr(size, r, v); }
@inline function op_mov_A_O(size: u32): void {
  const off = imm1;
  const v = memRd(size, dataSeg(), off); if (abort) return;
  regWr(size, EAX, v);
}
@inline function op_mov_O_A(size: u32): void {
  const off = imm1;
  memWr(size, dataSeg(), off, regRd(size, EAX));
}
@inline function op_xchg_E_G(size: u32): void {
    const a = rmRmw(size); if (abort) return;
  const b = regRd(size, mrReg);
  rmWr(size, b);
  regWr(size, mrReg, a);
}
@inline function op_xchg_A_r(size: u32, r: u32): void { const a = regRd(size, EAX); regWr(size, EAX, regRd(size, r)); regWr(size, r, a); }
@inline function op_lea(size: u32): void {
    if (mrMod == 3) { ud(); return; }
  regWr(size, mrReg, ea);
}
@inline function op_movx(size: u32, srcSize: u32, signed: bool): void {
    const v = rmRd(srcSize); if (abort) return;
  regWr(size, mrReg, signed ? sext(srcSize, v) : v);
}
@inline function op_cmov(size: u32, cc: u32): void {
    const v = rmRd(size); if (abort) return; // the source is read (and may fault) whatever the condition
  if (cond(cc)) regWr(size, mrReg, v);
}
@inline function op_setcc(cc: u32): void {  rmWr(1, cond(cc) ? 1 : 0); }
@inline function op_cmpxchg(size: u32): void {
    const d = rmRmw(size); if (abort) return;
  const acc = regRd(size, EAX);
  alu(7, size, acc, d);
  if (acc == d) rmWr(size, regRd(size, mrReg));
  else { rmWr(size, d); regWr(size, EAX, d); } // a failed compare still writes the destination back
}
function op_cmpxchg8b(): void {
    if (mrMod == 3 || mrReg != 1) { ud(); return; }
  const lo = rmRmw(4); if (abort) return;
  const hi = memRd(4, eaSeg, ea + 4); if (abort) return;
  memWr(4, eaSeg, ea + 4, hi); if (abort) return; // both halves must be writable before any change
  if (lo == r32(EAX) && hi == r32(EDX)) {
    rmWr(4, r32(EBX)); memWr(4, eaSeg, ea + 4, r32(ECX));
    setStatus(FLAG_ZF, FLAG_ZF);
  } else {
    rmWr(4, lo); w32(EAX, lo); w32(EDX, hi);
    setStatus(FLAG_ZF, 0);
  }
}
@inline function op_xadd(size: u32): void {
    const d = rmRmw(size); if (abort) return;
  const s = regRd(size, mrReg);
  const r = alu(0, size, d, s);
  regWr(size, mrReg, d);
  rmWr(size, r);
}
function op_bswap(r: u32): void {
  if (o16) { w16(r, 0); return; } // undefined by the SDM; this CPU clears the 16-bit register
  w32(r, bswap<u32>(r32(r)));
}
function op_cbw(): void { if (o16) w16(EAX, sext(1, r8(EAX))); else w32(EAX, sext(2, r16(EAX))); }
function op_cwd(): void { if (o16) w16(EDX, (r16(EAX) & 0x8000) ? 0xFFFF : 0); else w32(EDX, (r32(EAX) & 0x80000000) ? 0xFFFFFFFF : 0); }
function op_lahf(): void { w8(4, (getFlags() & 0xD5) | 2); }
function op_sahf(): void { setStatus(FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF | FLAG_CF, r8(4)); }
function op_salc(): void { w8(EAX, getCF() ? 0xFF : 0); }
function op_xlat(): void {
  const off = a16 ? (r16(EBX) + r8(EAX)) & 0xFFFF : r32(EBX) + r8(EAX);
  const v = memRd(1, dataSeg(), off); if (abort) return;
  w8(EAX, v);
}

// ---------------------------------------------------------------- stack
@inline function op_push_r(size: u32, r: u32): void { push(size, regRd(size, r)); }
@inline function op_pop_r(size: u32, r: u32): void { const v = pop(size); if (abort) return; regWr(size, r, v); }
@inline function op_push_I(size: u32, immSize: u32): void {
  const v = imm1;
  push(size, sext(immSize, v));
}
function op_pop_E(): void {
  // the destination address is computed with ESP already incremented (SDM: POP)
  const size: u32 = o16 ? 2 : 4;
  const oldSp = r32(ESP);
  const v = popPeek(size); if (abort) return;
  popCommit(size);
  if (mrMod != 3 && eaBase == ESP) setEa(eaSeg, ea + size);
  rmWr(size, v);
  if (abort) w32(ESP, oldSp);
}
function op_pusha(): void {
  const size: u32 = o16 ? 2 : 4;
  const sp0 = spGet();
  let sp = sp0;
  for (let r: u32 = 0; r < 8; r++) {
    sp = spMask(sp - size);
    memWr(size, SEG_SS, sp, r == ESP ? sp0 : regRd(size, r));
    if (abort) return;
  }
  spSet(sp);
}
function op_popa(): void {
  const size: u32 = o16 ? 2 : 4;
  let sp = spGet();
  // read all eight first (a fault leaves every register unchanged), skipping the saved ESP
  let v0: u32 = 0, v1: u32 = 0, v2: u32 = 0, v3: u32 = 0, v5: u32 = 0, v6: u32 = 0, v7: u32 = 0;
  v7 = memRd(size, SEG_SS, sp); if (abort) return; sp = spMask(sp + size);
  v6 = memRd(size, SEG_SS, sp); if (abort) return; sp = spMask(sp + size);
  v5 = memRd(size, SEG_SS, sp); if (abort) return; sp = spMask(sp + 2 * size);
  v3 = memRd(size, SEG_SS, sp); if (abort) return; sp = spMask(sp + size);
  v2 = memRd(size, SEG_SS, sp); if (abort) return; sp = spMask(sp + size);
  v1 = memRd(size, SEG_SS, sp); if (abort) return; sp = spMask(sp + size);
  v0 = memRd(size, SEG_SS, sp); if (abort) return; sp = spMask(sp + size);
  regWr(size, EDI, v7); regWr(size, ESI, v6); regWr(size, EBP, v5); regWr(size, EBX, v3);
  regWr(size, EDX, v2); regWr(size, ECX, v1); regWr(size, EAX, v0);
  spSet(sp);
}
function op_enter(): void {
  const size: u32 = o16 ? 2 : 4;
  const alloc = imm1;
  const level = imm2 & 31;
  let sp = spMask(spGet() - size);
  memWr(size, SEG_SS, sp, regRd(size, EBP)); if (abort) return;
  const frame = sp;
  if (level > 0) {
    let bp = r32(EBP);
    for (let i: u32 = 1; i < level; i++) {
      bp = spMask(bp - size);
      const v = memRd(size, SEG_SS, bp); if (abort) return;
      sp = spMask(sp - size);
      memWr(size, SEG_SS, sp, v); if (abort) return;
    }
    sp = spMask(sp - size);
    memWr(size, SEG_SS, sp, frame); if (abort) return;
  }
  sp = spMask(sp - alloc);
  regWr(size, EBP, frame);
  spSet(sp);
}
function op_leave(): void {
  const size: u32 = o16 ? 2 : 4;
  const bp = spMask(r32(EBP));
  const v = memRd(size, SEG_SS, bp); if (abort) return;
  spSet(spMask(bp + size));
  regWr(size, EBP, v);
}
function op_pushf(): void { S.op_pushf(); }

// ---------------------------------------------------------------- control transfer
@inline function op_jcc(cc: u32, immSize: u32): void {
  const d = imm1;
  if (cond(cc)) jumpTo(eip + sext(immSize, d));
}
@inline function op_jmp_J(immSize: u32): void {
  const d = imm1;
  jumpTo(eip + sext(immSize, d));
}
function op_call_J(): void {
  const size: u32 = o16 ? 2 : 4;
  const d = imm1;
  const t = (eip + sext(size, d)) & mask(size);
  if (t > segLimit(SEG_CS)) { setPending(VEC_GP, 0, true); return; }
  push(size, eip); if (abort) return;
  setEip(t);
}
function op_ret(imm: bool): void {
  const size: u32 = o16 ? 2 : 4;
  let n: u32 = 0;
  if (imm) n = imm1;
  const t = popPeek(size); if (abort) return;
  if (t > segLimit(SEG_CS)) { setPending(VEC_GP, 0, true); return; }
  popCommit(size);
  spSet(spMask(spGet() + n));
  setEip(t);
}
function op_loop(kind: u32): void {
  // kind: 0 loopne, 1 loope, 2 loop, 3 jecxz
  const d = imm1;
  let c = aRd(ECX); // CX with a 0x67 prefix
  let take: bool;
  if (kind == 3) take = c == 0;
  else {
    c--;
    take = c != 0;
    if (kind == 0) take = take && !(cond(4));
    else if (kind == 1) take = take && cond(4);
  }
  if (take) {
    const t = o16 ? (eip + sext(1, d)) & 0xFFFF : eip + sext(1, d);
    if (t > segLimit(SEG_CS)) { setPending(VEC_GP, 0, true); return; }
    if (kind != 3) aWr(ECX, c);
    setEip(t);
  } else if (kind != 3) aWr(ECX, c);
}
function op_grp5(): void {
  const size: u32 = o16 ? 2 : 4;
    switch (mrReg) {
    case 0: { const a = rmRmw(size); if (abort) return; rmWr(size, aluInc(size, a)); return; }
    case 1: { const a = rmRmw(size); if (abort) return; rmWr(size, aluDec(size, a)); return; }
    case 2: { // call near indirect
      const t = rmRd(size); if (abort) return;
      if (t > segLimit(SEG_CS)) { setPending(VEC_GP, 0, true); return; }
      push(size, eip); if (abort) return;
      setEip(t);
      return;
    }
    case 3: case 5: { // call/jmp far indirect (m16:32)
      if (mrMod == 3) { ud(); return; }
      if (mrReg == 3 && sensitiveExit(CTRL_EXIT_PRIV_XFER)) return;
      const off = memRd(size, eaSeg, ea); if (abort) return;
      const sel = memRd(2, eaSeg, ea + size); if (abort) return;
      if (mrReg == 3) S.farCall(sel, off, size); else S.farJmp(sel, off);
      return;
    }
    case 4: { const t = rmRd(size); if (abort) return; jumpTo(t); return; }
    case 6: { const v = rmRd(size); if (abort) return; push(size, v); return; }
    default: ud();
  }
}
function op_grp4(): void {
    if (mrReg > 1) { ud(); return; }
  const a = rmRmw(1); if (abort) return;
  rmWr(1, mrReg == 0 ? aluInc(1, a) : aluDec(1, a));
}
function op_bound(): void {
  const size: u32 = o16 ? 2 : 4;
    if (mrMod == 3) { ud(); return; }
  const lo = memRd(size, eaSeg, ea); if (abort) return;
  const hi = memRd(size, eaSeg, ea + size); if (abort) return;
  const i = sext(size, regRd(size, mrReg));
  if (<i32>i < <i32>sext(size, lo) || <i32>i > <i32>sext(size, hi)) setPending(VEC_BR, 0, false);
}

// ---------------------------------------------------------------- bit instructions
/** bt/bts/btr/btc Ev,Gv: a memory operand is addressed by the full signed bit offset. */
@inline function op_bt_E_G(op: u32, size: u32): void {
    const bits = size * 8;
  const off = regRd(size, mrReg);
  if (mrMod == 3) {
    const v = regRd(size, mrRm);
    const r = bitOp(op, v, off & (bits - 1));
    if (op) regWr(size, mrRm, r);
    return;
  }
  const soff: i32 = size == 2 ? <i32><i16>off : <i32>off;
  const addr = ea + <u32>((soff >> (size == 2 ? 4 : 5)) * <i32>size);
  const v = op ? rdRmw(eaSeg, addr, size) : memRd(size, eaSeg, addr); if (abort) return;
  const r = bitOp(op, v, off & (bits - 1));
  if (op) memWr(size, eaSeg, addr, r);
}
function op_grp8(size: u32): void {
    if (mrReg < 4) { ud(); return; }
  const op = mrReg - 4;
  const v = op ? rmRmw(size) : rmRd(size); if (abort) return;
  const b = imm1;
  const r = bitOp(op, v, b & (size * 8 - 1));
  if (op) rmWr(size, r);
}
@inline function op_bsx(reverse: bool, size: u32): void {
    const v = rmRd(size); if (abort) return;
  regWr(size, mrReg, bitScan(reverse, size, v, regRd(size, mrReg)));
}
@inline function op_shxd(left: bool, size: u32, byCl: bool): void {
    const a = rmRmw(size); if (abort) return;
  let c: u32;
  c = byCl ? r8(ECX) : imm1;
  const r = shiftDouble(left, size, a, regRd(size, mrReg), c);
  if (c & 31) rmWr(size, r);
}
@inline function op_imul_G_E_I(size: u32, immSize: u32): void {
    const a = rmRd(size); if (abort) return;
  const b = imm1;
  regWr(size, mrReg, imul2(size, a, sext(immSize, b)));
}
@inline function op_imul_G_E(size: u32): void {
    const a = rmRd(size); if (abort) return;
  regWr(size, mrReg, imul2(size, regRd(size, mrReg), a));
}
function op_nop_E(): void {} // 0F 1F /0 and hint NOPs: the operand is decoded, never accessed

/** The one-byte opcode table. */
export function dispatch(op: u32): void {
  const v: u32 = o16 ? 2 : 4;
  switch (op) {
    case 0x00: op_alu_E_G(0, 1); break;
    case 0x01: if (o16) op_alu_E_G(0, 2); else op_alu_E_G(0, 4); break;
    case 0x02: op_alu_G_E(0, 1); break;
    case 0x03: if (o16) op_alu_G_E(0, 2); else op_alu_G_E(0, 4); break;
    case 0x04: op_alu_A_I(0, 1); break;
    case 0x05: if (o16) op_alu_A_I(0, 2); else op_alu_A_I(0, 4); break;
    case 0x06: S.op_push_sreg(SEG_ES); break;
    case 0x07: S.op_pop_sreg(SEG_ES); break;
    case 0x08: op_alu_E_G(1, 1); break;
    case 0x09: if (o16) op_alu_E_G(1, 2); else op_alu_E_G(1, 4); break;
    case 0x0A: op_alu_G_E(1, 1); break;
    case 0x0B: if (o16) op_alu_G_E(1, 2); else op_alu_G_E(1, 4); break;
    case 0x0C: op_alu_A_I(1, 1); break;
    case 0x0D: if (o16) op_alu_A_I(1, 2); else op_alu_A_I(1, 4); break;
    case 0x0E: S.op_push_sreg(SEG_CS); break;
    case 0x10: op_alu_E_G(2, 1); break;
    case 0x11: if (o16) op_alu_E_G(2, 2); else op_alu_E_G(2, 4); break;
    case 0x12: op_alu_G_E(2, 1); break;
    case 0x13: if (o16) op_alu_G_E(2, 2); else op_alu_G_E(2, 4); break;
    case 0x14: op_alu_A_I(2, 1); break;
    case 0x15: if (o16) op_alu_A_I(2, 2); else op_alu_A_I(2, 4); break;
    case 0x16: S.op_push_sreg(SEG_SS); break;
    case 0x17: S.op_pop_sreg(SEG_SS); break;
    case 0x18: op_alu_E_G(3, 1); break;
    case 0x19: if (o16) op_alu_E_G(3, 2); else op_alu_E_G(3, 4); break;
    case 0x1A: op_alu_G_E(3, 1); break;
    case 0x1B: if (o16) op_alu_G_E(3, 2); else op_alu_G_E(3, 4); break;
    case 0x1C: op_alu_A_I(3, 1); break;
    case 0x1D: if (o16) op_alu_A_I(3, 2); else op_alu_A_I(3, 4); break;
    case 0x1E: S.op_push_sreg(SEG_DS); break;
    case 0x1F: S.op_pop_sreg(SEG_DS); break;
    case 0x20: op_alu_E_G(4, 1); break;
    case 0x21: if (o16) op_alu_E_G(4, 2); else op_alu_E_G(4, 4); break;
    case 0x22: op_alu_G_E(4, 1); break;
    case 0x23: if (o16) op_alu_G_E(4, 2); else op_alu_G_E(4, 4); break;
    case 0x24: op_alu_A_I(4, 1); break;
    case 0x25: if (o16) op_alu_A_I(4, 2); else op_alu_A_I(4, 4); break;
    case 0x27: daa(); break;
    case 0x28: op_alu_E_G(5, 1); break;
    case 0x29: if (o16) op_alu_E_G(5, 2); else op_alu_E_G(5, 4); break;
    case 0x2A: op_alu_G_E(5, 1); break;
    case 0x2B: if (o16) op_alu_G_E(5, 2); else op_alu_G_E(5, 4); break;
    case 0x2C: op_alu_A_I(5, 1); break;
    case 0x2D: if (o16) op_alu_A_I(5, 2); else op_alu_A_I(5, 4); break;
    case 0x2F: das(); break;
    case 0x30: op_alu_E_G(6, 1); break;
    case 0x31: if (o16) op_alu_E_G(6, 2); else op_alu_E_G(6, 4); break;
    case 0x32: op_alu_G_E(6, 1); break;
    case 0x33: if (o16) op_alu_G_E(6, 2); else op_alu_G_E(6, 4); break;
    case 0x34: op_alu_A_I(6, 1); break;
    case 0x35: if (o16) op_alu_A_I(6, 2); else op_alu_A_I(6, 4); break;
    case 0x37: aaa(); break;
    case 0x38: op_alu_E_G(7, 1); break;
    case 0x39: if (o16) op_alu_E_G(7, 2); else op_alu_E_G(7, 4); break;
    case 0x3A: op_alu_G_E(7, 1); break;
    case 0x3B: if (o16) op_alu_G_E(7, 2); else op_alu_G_E(7, 4); break;
    case 0x3C: op_alu_A_I(7, 1); break;
    case 0x3D: if (o16) op_alu_A_I(7, 2); else op_alu_A_I(7, 4); break;
    case 0x3F: aas(); break;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
      if (o16) op_inc_r(2, op & 7); else op_inc_r(4, op & 7); break;
    case 0x48: case 0x49: case 0x4A: case 0x4B: case 0x4C: case 0x4D: case 0x4E: case 0x4F:
      if (o16) op_dec_r(2, op & 7); else op_dec_r(4, op & 7); break;
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
      if (o16) op_push_r(2, op & 7); else op_push_r(4, op & 7); break;
    case 0x58: case 0x59: case 0x5A: case 0x5B: case 0x5C: case 0x5D: case 0x5E: case 0x5F:
      if (o16) op_pop_r(2, op & 7); else op_pop_r(4, op & 7); break;
    case 0x60: op_pusha(); break;
    case 0x61: op_popa(); break;
    case 0x62: op_bound(); break;
    case 0x63: S.op_arpl(); break;
    case 0x68: op_push_I(v, v); break;
    case 0x69: if (o16) op_imul_G_E_I(2, 2); else op_imul_G_E_I(4, 4); break;
    case 0x6A: op_push_I(v, 1); break;
    case 0x6B: if (o16) op_imul_G_E_I(2, 1); else op_imul_G_E_I(4, 1); break;
    case 0x6C: IO.op_ins(1); break;
    case 0x6D: IO.op_ins(v); break;
    case 0x6E: IO.op_outs(1); break;
    case 0x6F: IO.op_outs(v); break;
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7A: case 0x7B: case 0x7C: case 0x7D: case 0x7E: case 0x7F:
      op_jcc(op & 15, 1); break;
    case 0x80: case 0x82: op_grp1_E_I(1, 1); break;
    case 0x81: if (o16) op_grp1_E_I(2, 2); else op_grp1_E_I(4, 4); break;
    case 0x83: if (o16) op_grp1_E_I(2, 1); else op_grp1_E_I(4, 1); break;
    case 0x84: op_test_E_G(1); break;
    case 0x85: if (o16) op_test_E_G(2); else op_test_E_G(4); break;
    case 0x86: op_xchg_E_G(1); break;
    case 0x87: if (o16) op_xchg_E_G(2); else op_xchg_E_G(4); break;
    case 0x88: op_mov_E_G(1); break;
    case 0x89: if (o16) op_mov_E_G(2); else op_mov_E_G(4); break;
    case 0x8A: op_mov_G_E(1); break;
    case 0x8B: if (o16) op_mov_G_E(2); else op_mov_G_E(4); break;
    case 0x8C: S.op_mov_E_S(); break;
    case 0x8D: if (o16) op_lea(2); else op_lea(4); break;
    case 0x8E: S.op_mov_S_E(); break;
    case 0x8F: op_pop_E(); break;
    case 0x90: break; // nop (and F3 90 pause)
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
      if (o16) op_xchg_A_r(2, op & 7); else op_xchg_A_r(4, op & 7); break;
    case 0x98: op_cbw(); break;
    case 0x99: op_cwd(); break;
    case 0x9A: S.op_call_far_A(); break;
    case 0x9B: FPU.fwait(); break;
    case 0x9C: op_pushf(); break;
    case 0x9D: S.op_popf(); break;
    case 0x9E: op_sahf(); break;
    case 0x9F: op_lahf(); break;
    case 0xA0: op_mov_A_O(1); break;
    case 0xA1: if (o16) op_mov_A_O(2); else op_mov_A_O(4); break;
    case 0xA2: op_mov_O_A(1); break;
    case 0xA3: if (o16) op_mov_O_A(2); else op_mov_O_A(4); break;
    case 0xA4: STR.op_movs(1); break;
    case 0xA5: STR.op_movs(v); break;
    case 0xA6: STR.op_cmps(1); break;
    case 0xA7: STR.op_cmps(v); break;
    case 0xA8: op_test_A_I(1); break;
    case 0xA9: if (o16) op_test_A_I(2); else op_test_A_I(4); break;
    case 0xAA: STR.op_stos(1); break;
    case 0xAB: STR.op_stos(v); break;
    case 0xAC: STR.op_lods(1); break;
    case 0xAD: STR.op_lods(v); break;
    case 0xAE: STR.op_scas(1); break;
    case 0xAF: STR.op_scas(v); break;
    case 0xB0: case 0xB1: case 0xB2: case 0xB3: case 0xB4: case 0xB5: case 0xB6: case 0xB7:
      op_mov_r_I(1, op & 7); break;
    case 0xB8: case 0xB9: case 0xBA: case 0xBB: case 0xBC: case 0xBD: case 0xBE: case 0xBF:
      if (o16) op_mov_r_I(2, op & 7); else op_mov_r_I(4, op & 7); break;
    case 0xC0: op_grp2_E(1, 2); break;
    case 0xC1: if (o16) op_grp2_E(2, 2); else op_grp2_E(4, 2); break;
    case 0xC2: op_ret(true); break;
    case 0xC3: op_ret(false); break;
    case 0xC4: S.op_load_far_ptr(SEG_ES); break;
    case 0xC5: S.op_load_far_ptr(SEG_DS); break;
    case 0xC6: op_mov_E_I(1); break;
    case 0xC7: if (o16) op_mov_E_I(2); else op_mov_E_I(4); break;
    case 0xC8: op_enter(); break;
    case 0xC9: op_leave(); break;
    case 0xCA: S.op_retf(true); break;
    case 0xCB: S.op_retf(false); break;
    case 0xCC: S.op_int3(); break;
    case 0xCD: S.op_int_I(); break;
    case 0xCE: S.op_into(); break;
    case 0xCF: S.op_iret(); break;
    case 0xD0: op_grp2_E(1, 0); break;
    case 0xD1: if (o16) op_grp2_E(2, 0); else op_grp2_E(4, 0); break;
    case 0xD2: op_grp2_E(1, 1); break;
    case 0xD3: if (o16) op_grp2_E(2, 1); else op_grp2_E(4, 1); break;
    case 0xD4: aam(imm1); break;
    case 0xD5: aad(imm1); break;
    case 0xD6: op_salc(); break;
    case 0xD7: op_xlat(); break;
    case 0xD8: case 0xD9: case 0xDA: case 0xDB: case 0xDC: case 0xDD: case 0xDE: case 0xDF:
      FPU.x87(op); break;
    case 0xE0: op_loop(0); break;
    case 0xE1: op_loop(1); break;
    case 0xE2: op_loop(2); break;
    case 0xE3: op_loop(3); break;
    case 0xE4: IO.op_in(1, imm1); break;
    case 0xE5: IO.op_in(v, imm1); break;
    case 0xE6: IO.op_out(1, imm1); break;
    case 0xE7: IO.op_out(v, imm1); break;
    case 0xE8: op_call_J(); break;
    case 0xE9: if (o16) op_jmp_J(2); else op_jmp_J(4); break;
    case 0xEA: S.op_jmp_far_A(); break;
    case 0xEB: op_jmp_J(1); break;
    case 0xEC: IO.op_in(1, r16(EDX)); break;
    case 0xED: IO.op_in(v, r16(EDX)); break;
    case 0xEE: IO.op_out(1, r16(EDX)); break;
    case 0xEF: IO.op_out(v, r16(EDX)); break;
    case 0xF1: S.op_int1(); break;
    case 0xF4: S.op_hlt(); break;
    case 0xF5: materialize(); setStatus(FLAG_CF, flagsReg ^ FLAG_CF); break;
    case 0xF6: op_grp3_E(1); break;
    case 0xF7: if (o16) op_grp3_E(2); else op_grp3_E(4); break;
    case 0xF8: setStatus(FLAG_CF, 0); break;
    case 0xF9: setStatus(FLAG_CF, FLAG_CF); break;
    case 0xFA: S.op_cli(); break;
    case 0xFB: S.op_sti(); break;
    case 0xFC: setFlags(getFlags() & ~FLAG_DF); break;
    case 0xFD: setFlags(getFlags() | FLAG_DF); break;
    case 0xFE: op_grp4(); break;
    case 0xFF: op_grp5(); break;
    default: ud();
  }
}

/** The two-byte (0F xx) opcode table. */
export function dispatch0F(op: u32): void {
  const v: u32 = o16 ? 2 : 4;
  switch (op) {
    case 0x00: S.op_grp6(); break;
    case 0x01: S.op_grp7(); break;
    case 0x02: S.op_lar_lsl(false); break;
    case 0x03: S.op_lar_lsl(true); break;
    case 0x06: S.op_clts(); break;
    case 0x08: case 0x09: S.op_wbinvd(); break;
    case 0x0B: case 0xB9: case 0xFF: ud(); break; // ud2, ud1, ud0
    case 0x0D: case 0x18: case 0x19: case 0x1A: case 0x1B: case 0x1C: case 0x1D: case 0x1E: case 0x1F:
      op_nop_E(); break;
    case 0x20: S.op_mov_R_C(); break;
    case 0x21: S.op_mov_R_D(); break;
    case 0x22: S.op_mov_C_R(); break;
    case 0x23: S.op_mov_D_R(); break;
    case 0x30: S.op_wrmsr(); break;
    case 0x31: S.op_rdtsc(); break;
    case 0x32: S.op_rdmsr(); break;
    case 0x33: setPending(VEC_GP, 0, true); break; // rdpmc: no performance counters (CR4.PCE unsupported)
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
    case 0x48: case 0x49: case 0x4A: case 0x4B: case 0x4C: case 0x4D: case 0x4E: case 0x4F:
      if (o16) op_cmov(2, op & 15); else op_cmov(4, op & 15); break;
    case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87:
    case 0x88: case 0x89: case 0x8A: case 0x8B: case 0x8C: case 0x8D: case 0x8E: case 0x8F:
      if (o16) op_jcc(op & 15, 2); else op_jcc(op & 15, 4); break;
    case 0x90: case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
    case 0x98: case 0x99: case 0x9A: case 0x9B: case 0x9C: case 0x9D: case 0x9E: case 0x9F:
      op_setcc(op & 15); break;
    case 0xA0: S.op_push_sreg(SEG_FS); break;
    case 0xA1: S.op_pop_sreg(SEG_FS); break;
    case 0xA2: S.op_cpuid(); break;
    case 0xA3: if (o16) op_bt_E_G(0, 2); else op_bt_E_G(0, 4); break;
    case 0xA4: if (o16) op_shxd(true, 2, false); else op_shxd(true, 4, false); break;
    case 0xA5: if (o16) op_shxd(true, 2, true); else op_shxd(true, 4, true); break;
    case 0xA8: S.op_push_sreg(SEG_GS); break;
    case 0xA9: S.op_pop_sreg(SEG_GS); break;
    case 0xAB: if (o16) op_bt_E_G(1, 2); else op_bt_E_G(1, 4); break;
    case 0xAC: if (o16) op_shxd(false, 2, false); else op_shxd(false, 4, false); break;
    case 0xAD: if (o16) op_shxd(false, 2, true); else op_shxd(false, 4, true); break;
    case 0xAE: op0FAE(); break; // FXSAVE/FXRSTOR (fpu/fxsave.ts)
    case 0xAF: if (o16) op_imul_G_E(2); else op_imul_G_E(4); break;
    case 0xB0: op_cmpxchg(1); break;
    case 0xB1: if (o16) op_cmpxchg(2); else op_cmpxchg(4); break;
    case 0xB2: S.op_load_far_ptr(SEG_SS); break;
    case 0xB3: if (o16) op_bt_E_G(2, 2); else op_bt_E_G(2, 4); break;
    case 0xB4: S.op_load_far_ptr(SEG_FS); break;
    case 0xB5: S.op_load_far_ptr(SEG_GS); break;
    case 0xB6: op_movx(v, 1, false); break;
    case 0xB7: op_movx(v, 2, false); break;
    case 0xBA: op_grp8(v); break;
    case 0xBB: if (o16) op_bt_E_G(3, 2); else op_bt_E_G(3, 4); break;
    case 0xBC: op_bsx(false, v); break;
    case 0xBD: op_bsx(true, v); break;
    case 0xBE: op_movx(v, 1, true); break;
    case 0xBF: op_movx(v, 2, true); break;
    case 0xC0: op_xadd(1); break;
    case 0xC1: if (o16) op_xadd(2); else op_xadd(4); break;
    case 0xC7: op_cmpxchg8b(); break;
    case 0xC8: case 0xC9: case 0xCA: case 0xCB: case 0xCC: case 0xCD: case 0xCE: case 0xCF:
      op_bswap(op & 7); break;
    default: ud();
  }
}
