// jit/emit-ext.ts — the handler records compiled inline beyond the fast forms (records.ts extForm): 16-bit moves,
// MOVZX/MOVSX, 8-bit moves, IMUL r, r/m, NOT, TEST r8, shifts by CL and 16-bit shifts, ADC/SBB, read-modify-write
// ALU and INC/DEC on memory, SETcc and CMOVcc. Each computes exactly what its handler in assembly/ops/ computes,
// leaving the lazy flags as the handler leaves them (ops/alu.ts). A memory operand is accessed inline on a flat
// segment with a TLB hit within one page; anything else (a segment limit, a page walk, MMIO, a fault, a code page)
// runs the whole instruction through the CPU's handler (jitExec), so there is one definition of every slow case.
import * as A from "../abi.generated.ts";
import { Code, Op, I32, VOID } from "./wasm.ts";
import { type Rec, X, extForm, shiftCount, ARITH, CF } from "./records.ts";
import { H, L, SEGOK, UNKNOWN } from "./layout.ts";

/** What the block compiler (compiler.ts Gen) lends the emitters below. */
export interface Emit {
  readonly c: Code;
  depth: number;
  kind: number;
  ea(r: Rec): void;
  tlbEntry(set: number): void;
  lazy(k: number, a: () => void, b: () => void, res: () => void, top?: number): void;
  reg8(n: number): void;
  carry(): void;
  cond(cc: number): void;
  generic(r: Rec, i: number): void;
}

/** value on the stack -> the low 16 bits of register n */
function setReg16(c: Code, n: number) {
  c.i32(0xffff).op(Op.i32_and).get(n).i32(0xffff0000 | 0).op(Op.i32_and).op(Op.i32_or).set(n);
}
/** value on the stack -> 8-bit register n (4..7 = AH CH DH BH) */
function setReg8(c: Code, n: number) {
  if (n < 4) c.i32(0xff).op(Op.i32_and).get(n).i32(~0xff).op(Op.i32_and).op(Op.i32_or).set(n);
  else c.i32(0xff).op(Op.i32_and).i32(8).op(Op.i32_shl).get(n - 4).i32(~0xff00).op(Op.i32_and).op(Op.i32_or).set(n - 4);
}
/** push register n's value at operand size (zero-extended) */
function getReg(g: Emit, n: number, size: number) {
  if (size === 4) g.c.get(n);
  else if (size === 2) g.c.get(n).i32(0xffff).op(Op.i32_and);
  else g.reg8(n);
}
function setReg(c: Code, n: number, size: number) {
  if (size === 4) c.set(n); else if (size === 2) setReg16(c, n); else setReg8(c, n);
}

/**
 * The memory operand of record r inline when its segment is flat (and readable/writable as `write` says), the
 * access stays within a page and the TLB (read or write set) holds the page: `fast` runs with the host address of
 * the operand in L.addr; otherwise the CPU's handler runs the whole instruction. The lazy-flag kind after it is
 * `after` (both paths leave the same kind), or unknown.
 */
function withMem(g: Emit, r: Rec, i: number, size: number, write: boolean, fast: () => void, after: number = UNKNOWN) {
  const c = g.c, bit = write ? 2 : 1;
  g.ea(r); c.set(L.addr);
  c.i32(SEGOK + r.seg).load8u(0).i32(A.SEGOK_FLAT | bit).op(Op.i32_and).i32(A.SEGOK_FLAT | bit).op(Op.i32_eq);
  if (size > 1) c.get(L.addr).i32(0xfff).op(Op.i32_and).i32(0x1000 - size).op(Op.i32_le_u).op(Op.i32_and);
  c.op(Op.if_).byte(I32); g.depth++;
  g.tlbEntry(write ? L.tlbW : L.tlbR);
  c.op(Op.else_).i32(0); c.op(Op.end); g.depth--;
  c.op(Op.if_).byte(VOID); g.depth++;
  c.get(L.addr).get(L.t1).load(4).op(Op.i32_add).set(L.addr); // (a write hit is never a code page)
  fast();
  c.op(Op.else_);
  g.generic(r, i);
  c.op(Op.end); g.depth--;
  g.kind = after;
}
function loadHost(c: Code, size: number) {
  c.get(L.addr);
  if (size === 4) c.load(0); else if (size === 2) c.load16u(0); else c.load8u(0);
}
function storeHost(c: Code, size: number, value: () => void) {
  c.get(L.addr); value();
  if (size === 4) c.store(0); else if (size === 2) c.store16(0); else c.store8(0);
}
/** push the r/m operand (register or, inside withMem's fast path, memory) at `size` */
function rmValue(g: Emit, r: Rec, size: number) { if (r.mem) loadHost(g.c, size); else getReg(g, r.modrm & 7, size); }

/** Emit record r (extForm(r) !== X.NONE). `live`: a later reader needs the flags it writes. */
export function emitExt(g: Emit, r: Rec, i: number, live: boolean): void {
  const c = g.c, x = extForm(r), reg = (r.modrm >> 3) & 7, rm = r.modrm & 7;
  const kind0 = g.kind;
  // an instruction that reads memory into a register: inline with the operand read from the host address
  const rdOp = (size: number, body: () => void, after = kind0) => {
    if (r.mem) withMem(g, r, i, size, false, body, after); else body();
  };
  switch (x) {
    case X.MOVX: { // movzx/movsx r32, r/m8 or r/m16
      const size = r.op === 0x1b6 || r.op === 0x1be ? 1 : 2;
      rdOp(size, () => {
        rmValue(g, r, size);
        if (r.op === 0x1be) c.op(Op.i32_extend8_s); else if (r.op === 0x1bf) c.op(Op.i32_extend16_s);
        c.set(reg);
      });
      return;
    }
    case X.MOV16_GE: rdOp(2, () => { rmValue(g, r, 2); setReg16(c, reg); }); return;
    case X.MOV8_GE: rdOp(1, () => { rmValue(g, r, 1); setReg8(c, reg); }); return;
    case X.MOV16_EG:
      if (r.mem) withMem(g, r, i, 2, true, () => storeHost(c, 2, () => c.get(reg)), kind0);
      else { c.get(reg); setReg16(c, rm); }
      return;
    case X.MOV8_EG: g.reg8(reg); setReg8(c, rm); return;
    case X.MOV8_RI: c.i32(r.imm & 0xff); setReg8(c, r.op & 7); return;
    case X.NOT: c.get(rm).i32(-1).op(Op.i32_xor).set(rm); return;
    case X.TEST8:
      if (live) g.lazy(A.LF_LOGIC, () => c.i32(0), () => c.i32(0), () => { g.reg8(rm); g.reg8(reg); c.op(Op.i32_and); }, 7);
      return;
    case X.IMUL: // imul r32, r/m32: CF = OF = the product does not fit in 32 bits; the other flags stay (ops/alu.ts imul2)
      rdOp(4, () => {
        rmValue(g, r, 4); c.set(L.t0);
        if (live) imulFlags(c, () => c.get(reg));
        c.get(L.t0).get(reg).op(Op.i32_mul).set(reg);
        g.kind = live ? A.LF_NONE : kind0;
      }, UNKNOWN);
      return;
    case X.SHIFT: shift(g, r, live); return;
    case X.ADCSBB: {
      const sub = r.op === 0x19 || r.op === 0x1b || ((r.op === 0x81 || r.op === 0x83) && reg === 3);
      const toReg = r.op === 0x13 || r.op === 0x1b; // adc/sbb r32, r/m32; else r/m32 (a register here) is the destination
      const dst = toReg ? reg : rm;
      rdOp(4, () => {
        // b -> t0, the carry in -> t2 (before the lazy state is overwritten)
        if (r.op === 0x81) c.i32(r.imm | 0); else if (r.op === 0x83) c.i32((r.imm << 24) >> 24);
        else if (toReg) rmValue(g, r, 4); else c.get(reg);
        c.set(L.t0);
        g.carry(); c.set(L.t2);
        const o = sub ? Op.i32_sub : Op.i32_add;
        const res = () => c.get(dst).get(L.t0).op(o).get(L.t2).op(o);
        if (live) {
          g.lazy(sub ? A.LF_SUB : A.LF_ADD, () => c.get(dst), () => c.get(L.t0), res);
          c.get(L.lr).set(dst);
        } else { res(); c.set(dst); }
        g.kind = UNKNOWN; // (the static rules of LF_ADD/LF_SUB assume no carry in)
      }, UNKNOWN);
      return;
    }
    case X.RMW: { // add/or/and/sub/xor dword [m], r32
      const aop = r.op >> 3;
      const o = [Op.i32_add, Op.i32_or, 0, 0, Op.i32_and, Op.i32_sub, Op.i32_xor][aop] as Op;
      const k = aop === 0 ? A.LF_ADD : aop === 5 ? A.LF_SUB : A.LF_LOGIC;
      withMem(g, r, i, 4, true, () => {
        loadHost(c, 4); c.set(L.t0);
        storeHost(c, 4, () => c.get(L.t0).get(reg).op(o));
        if (live) g.lazy(k, () => c.get(L.t0), () => c.get(reg), () => c.get(L.t0).get(reg).op(o));
      }, live ? k : UNKNOWN);
      return;
    }
    case X.INCDEC_M: {
      const inc = reg === 0, o = inc ? Op.i32_add : Op.i32_sub;
      withMem(g, r, i, 4, true, () => {
        loadHost(c, 4); c.set(L.t0);
        storeHost(c, 4, () => c.get(L.t0).i32(1).op(o));
        if (live) { // CF survives INC/DEC: concrete in fl first
          c.get(L.fl).i32(~CF).op(Op.i32_and); g.carry(); c.op(Op.i32_or).set(L.fl);
          g.lazy(inc ? A.LF_INC : A.LF_DEC, () => c.get(L.t0), () => c.i32(1), () => c.get(L.t0).i32(1).op(o));
        }
      }, live ? (inc ? A.LF_INC : A.LF_DEC) : UNKNOWN);
      return;
    }
    case X.TEST_M:
      withMem(g, r, i, 4, false, () => {
        if (live) g.lazy(A.LF_LOGIC, () => c.i32(0), () => c.i32(0), () => { loadHost(c, 4); c.get(reg).op(Op.i32_and); });
      }, live ? A.LF_LOGIC : UNKNOWN);
      return;
    case X.ALU8: { // add/or/and/sub/xor/cmp on bytes (ops/alu.ts alu with size 1: operands and result of 8 bits)
      const aop = r.op === 0x80 ? reg : r.op >> 3, form = r.op === 0x80 ? 4 : r.op & 7;
      const o = [Op.i32_add, Op.i32_or, 0, 0, Op.i32_and, Op.i32_sub, Op.i32_xor, Op.i32_sub][aop] as Op;
      const k = aop === 0 ? A.LF_ADD : aop >= 5 && aop !== 6 ? A.LF_SUB : A.LF_LOGIC;
      // a -> t0, b -> t2; the destination: r/m (forms 0 and 80), reg (form 2), AL (form 4)
      const dst = form === 2 ? reg : form === 4 && r.op !== 0x80 ? 0 : rm;
      rdOp(1, () => {
        if (form === 0) { rmValue(g, r, 1); c.set(L.t0); g.reg8(reg); c.set(L.t2); }
        else if (form === 2) { g.reg8(reg); c.set(L.t0); rmValue(g, r, 1); c.set(L.t2); }
        else { g.reg8(dst); c.set(L.t0); c.i32(r.imm & 0xff).set(L.t2); }
        const res = () => c.get(L.t0).get(L.t2).op(o).i32(0xff).op(Op.i32_and);
        if (live) g.lazy(k, () => c.get(L.t0), () => c.get(L.t2), res, 7);
        if (aop !== 7) { if (live) c.get(L.lr); else res(); setReg8(c, dst); }
      }, live ? UNKNOWN : kind0);
      return;
    }
    case X.SETCC: g.cond(r.op & 15); setReg8(c, rm); return;
    case X.CMOV: c.get(rm).get(reg); g.cond(r.op & 15); c.op(Op.select).set(reg); return;
  }
}

/** Shifts and rotates of a register: 32-bit by CL, rcl/rcr by an immediate, and 16-bit ones (records.ts). */
function shift(g: Emit, r: Rec, live: boolean) {
  const c = g.c, op = (r.modrm >> 3) & 7, rm = r.modrm & 7, n = shiftCount(r);
  const size = r.pfx === 1 ? 2 : 4;
  if (n === 0) return; // a zero count changes nothing, not even flags
  const count = () => { if (n < 0) c.get(1).i32(31).op(Op.i32_and); else c.i32(n); };
  // without flags: the wasm operation, where it is the CPU's result for every count (wasm counts mod 32 as the CPU)
  if (!live && (op >= 4 || (size === 4 && op < 2))) {
    if (size === 4) c.get(rm);
    else if (op === 7) c.get(rm).op(Op.i32_extend16_s);
    else c.get(rm).i32(0xffff).op(Op.i32_and);
    count();
    c.op([Op.i32_rotl, Op.i32_rotr, 0, 0, Op.i32_shl, Op.i32_shr_u, Op.i32_shl, Op.i32_shr_s][op] as Op);
    setReg(c, rm, size);
    return;
  }
  if (op >= 4) { shiftFlagsInline(g, rm, size, op, n); return; }
  // the CPU's rule on concrete flags (ops/alu.ts shiftCore)
  c.get(L.lop).get(L.la).get(L.lb).get(L.lr).get(L.ltop).get(L.fl).call(H.flags).set(L.fl);
  c.i32(A.LF_NONE).set(L.lop);
  g.kind = A.LF_NONE;
  if (n < 0) { count(); c.op(Op.if_).byte(VOID); g.depth++; }
  c.i32(op | (size === 4 ? 0 : size << 8)); getReg(g, rm, size); count(); c.get(L.fl).call(H.shift);
  setReg(c, rm, size);
  c.i32(A.STATE_BASE + A.JIT_CTX).load(A.JC_FLOUT).set(L.fl);
  if (n < 0) { c.op(Op.end); g.depth--; }
}

/**
 * shl/shr/sar (op 4..7) of register `rm` at `size` by `n` (1..31, or -1: CL, which may be 0) with the flags as
 * ops/alu.ts shiftCore makes them: CF the last bit shifted out, OF (shl: top bit != CF; shr: the old top bit for a
 * count of 1; sar: 0), SF ZF PF of the result, AF set; concrete in fl, the lazy state none. No helper call.
 */
export function shiftFlagsInline(g: Emit, rm: number, size: number, op: number, n: number): void {
  const c = g.c, t = size * 8 - 1, m = size === 4 ? -1 : 0xffff;
  if (n < 0) { c.get(1).i32(31).op(Op.i32_and).tee(L.t1).op(Op.if_).byte(VOID); g.depth++; } else c.i32(n).set(L.t1);
  // a -> t0: zero-extended, sign-extended for sar
  c.get(rm);
  if (size === 2) { if (op === 7) c.op(Op.i32_extend16_s); else c.i32(0xffff).op(Op.i32_and); }
  c.set(L.t0);
  // r -> t2
  c.get(L.t0).get(L.t1).op(op === 5 ? Op.i32_shr_u : op === 7 ? Op.i32_shr_s : Op.i32_shl);
  if (size === 2) c.i32(m).op(Op.i32_and);
  c.set(L.t2);
  // CF -> addr
  if (op === 5 || op === 7) c.get(L.t0).get(L.t1).i32(1).op(Op.i32_sub).op(op === 5 ? Op.i32_shr_u : Op.i32_shr_s).i32(1).op(Op.i32_and);
  else { // shl: the bit at n - count (none past the operand's width)
    c.get(L.t0).i32(t + 1).get(L.t1).op(Op.i32_sub).op(Op.i32_shr_u).i32(1).op(Op.i32_and);
    if (size === 2) c.i32(0).get(L.t1).i32(t + 1).op(Op.i32_le_u).op(Op.select);
  }
  c.set(L.addr);
  // fl = (fl & ~ARITH) | CF | OF << 11 | SF | ZF | PF | AF
  c.get(L.fl).i32(~ARITH).op(Op.i32_and).get(L.addr).op(Op.i32_or);
  if (op === 5) c.get(L.t0).i32(t).op(Op.i32_shr_u).i32(1).op(Op.i32_and).i32(0).get(L.t1).i32(1).op(Op.i32_eq).op(Op.select);
  else if (op === 7) c.i32(0);
  else c.get(L.t2).i32(t).op(Op.i32_shr_u).get(L.addr).op(Op.i32_xor).i32(1).op(Op.i32_and);
  c.i32(11).op(Op.i32_shl).op(Op.i32_or);
  c.get(L.t2).i32(t).op(Op.i32_shr_u).i32(1).op(Op.i32_and).i32(7).op(Op.i32_shl).op(Op.i32_or);
  c.get(L.t2).op(Op.i32_eqz).i32(6).op(Op.i32_shl).op(Op.i32_or);
  c.get(L.t2).i32(0xff).op(Op.i32_and).op(Op.i32_popcnt).i32(1).op(Op.i32_and).i32(1).op(Op.i32_xor).i32(2).op(Op.i32_shl).op(Op.i32_or);
  c.i32(0x10).op(Op.i32_or).set(L.fl);
  c.i32(A.LF_NONE).set(L.lop);
  c.get(L.t2); setReg(c, rm, size);
  if (n < 0) { c.op(Op.end); g.depth--; }
  // (a count of 0 in CL changes nothing: the lazy state stays as it was, so only "none" is known if it was none)
  g.kind = n < 0 ? UNKNOWN : A.LF_NONE;
}

export { extForm, ARITH };

/**
 * The flags of a 32-bit imul whose product is L.t0 × b (b pushed by `b`), as ops/alu.ts imul2: the lazy flags made
 * concrete, CF = OF = the high half of the 64-bit product differs from the sign of the low half, the rest kept;
 * the lazy state becomes LF_NONE.
 */
export function imulFlags(c: Code, b: () => void): void {
  c.get(L.lop).get(L.la).get(L.lb).get(L.lr).get(L.ltop).get(L.fl).call(H.flags).i32(~0x801).op(Op.i32_and);
  c.get(L.t0).op(Op.i64_extend_i32_s); b(); c.op(Op.i64_extend_i32_s).op(Op.i64_mul).byte(Op.i64_const).s32(32)
    .op(Op.i64_shr_s).op(Op.i32_wrap_i64)
    .get(L.t0); b(); c.op(Op.i32_mul).i32(31).op(Op.i32_shr_s).op(Op.i32_ne)
    .i32(0x801).op(Op.i32_mul).op(Op.i32_or).set(L.fl);
  c.i32(A.LF_NONE).set(L.lop);
}
