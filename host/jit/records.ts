// jit/records.ts — what the block compiler (compiler.ts) knows of a predecoded record before it emits code: the
// record's shape as the CPU lays it out, which handler records it compiles inline anyway, and each form's flag
// reads and writes for the in-block liveness analysis.
import * as A from "../abi.generated.ts";

/** the arithmetic flags (CF PF AF ZF SF OF) and CF alone */
export const ARITH = 0x8d5;
export const CF = 1;

export interface Rec {
  /** the record's address, and its offset from the block's start */
  addr: number; rel: number; off: number; len: number; fast: number; fop: number; dst: number; src: number; fimm: number;
  base: number; index: number; scale: number; seg: number; disp: number;
  /** the decoded form, for the few handler records compiled inline (inlineOp) */
  op: number; pfx: number; modrm: number; mem: number; imm: number;
}

/** ALU op (add/or/and/sub/xor/cmp) of `op dword [mem], imm` (81/83 without prefixes), else -1: inline on a flat
 *  segment with a TLB write hit, else the whole instruction through the CPU's handler. */
export function rmwAluOp(r: Rec): number {
  if (r.fast !== 0 || r.pfx !== 0 || !r.mem || (r.op !== 0x81 && r.op !== 0x83)) return -1;
  const aop = (r.modrm >> 3) & 7;
  return aop === 2 || aop === 3 ? -1 : aop; // adc/sbb read CF: the handler
}

/**
 * Handler records (fast = 0) compiled inline anyway, as common in compiled C (xv6's lock and call paths): LEAVE,
 * PUSH imm and MOV r/m32, imm32 to memory, each only without prefixes (32-bit operand and address size, default
 * segment). Returns the registers the record uses (bit per register), or -1 when it goes through the CPU's handler.
 * None reads or writes a flag.
 */
export function inlineOp(r: Rec): number {
  if (r.fast !== 0 || r.pfx !== 0) return -1;
  switch (r.op) {
    case 0x69: case 0x6b: { // imul r32, r/m32, imm
      let u = 1 << ((r.modrm >> 3) & 7);
      if (!r.mem) u |= 1 << (r.modrm & 7);
      if (r.base < 8) u |= 1 << r.base;
      if (r.index < 8) u |= 1 << r.index;
      return u;
    }
    case 0xc9: return (1 << 4) | (1 << 5);
    case 0x68: case 0x6a: return 1 << 4;
    case 0xc7: {
      if (!r.mem || ((r.modrm >> 3) & 7) !== 0) return -1;
      let u = 1 << 4;
      if (r.base < 8) u |= 1 << r.base;
      if (r.index < 8) u |= 1 << r.index;
      return u;
    }
    default: return -1;
  }
}

/** PUSHF, POPF, CLI or STI without prefixes (32-bit operand size): compiled inline when the CPU's handler would take
 *  its native path without a fault, else run through the handler (emit-sys.ts). 0 when r is none of them. */
export function sysOp(r: Rec): number {
  if (r.fast !== 0 || r.pfx !== 0) return 0;
  return r.op === 0x9c || r.op === 0x9d || r.op === 0xfa || r.op === 0xfb ? r.op : 0;
}

/** Flag reads and writes of a fast form (for the in-block liveness analysis). */
export function flagEffects(r: Rec): { reads: number; writes: number } {
  switch (r.fast) {
    case A.F_ALU_RR: case A.F_ALU_RI: case A.F_ALU_RM: case A.F_TEST_RR: case A.F_NEG: case A.F_TEST8_RI: case A.F_TEST8_MI:
    case A.F_CMP8_MI: case A.F_CMP_MI: case A.F_CMP_MR:
      return { reads: 0, writes: ARITH };
    case A.F_INC: case A.F_DEC: return { reads: CF, writes: ARITH & ~CF };
    case A.F_SHIFT_RI:
      if (r.fimm === 0) return { reads: 0, writes: 0 };
      // rol/ror change only CF and OF, so the others must be concrete: treat as reading them all
      return r.fop <= 1 ? { reads: ARITH, writes: ARITH } : { reads: 0, writes: ARITH };
    case A.F_JCC: return { reads: ARITH, writes: 0 };
    case 0: {
      const x = extForm(r);
      if (x !== X.NONE) return extFlags(r, x);
      if (r.op === 0x69 || r.op === 0x6b) return inlineOp(r) >= 0 ? { reads: ARITH, writes: ARITH } : { reads: ARITH, writes: 0 };
      if (rmwAluOp(r) >= 0) return { reads: 0, writes: ARITH };
      return inlineOp(r) >= 0 ? { reads: 0, writes: 0 } : { reads: ARITH, writes: 0 }; // a handler may read any flag
    }
    default: return { reads: 0, writes: 0 };
  }
}

/**
 * A handler record whose instruction is one of the fast forms, compiled as that form: `cmp [m], r32` (the decoder
 * leaves it to the table), and the forms with a segment-override prefix alone (Linux's per-CPU data through FS,
 * `ds lea` padding), whose memory operand then goes through that segment (record field seg). Anything else stays.
 * (A record run through the CPU's handler is read from the block itself: the prefix is still there.)
 */
export function normalize(r0: Rec): Rec {
  if (r0.fast !== 0) return r0;
  let r = r0;
  const so = (r.pfx >> 4) & 7;
  if (so !== 0 && (r.pfx & ~0x70) === 0) r = { ...r, pfx: 0, seg: so - 1 };
  else if (r.pfx === 8 && r.op === 0x90) return { ...r, fast: A.F_NOP }; // pause
  if (r.pfx !== 0) return r0;
  const reg = (r.modrm >> 3) & 7;
  const f = (fast: number, fop: number, dst: number, src: number, fimm: number): Rec => ({ ...r, fast, fop, dst, src, fimm });
  if (r.mem) {
    if (r.op < 0x40 && (r.op & 7) === 3 && r.op >> 3 !== 2 && r.op >> 3 !== 3) return f(A.F_ALU_RM, r.op >> 3, reg, 0, 0);
    switch (r.op) {
      case 0x39: return f(A.F_CMP_MR, 0, 0, reg, 0);
      case 0x8b: return f(A.F_LOAD, 0, reg, 0, 0);
      case 0x89: return f(A.F_STORE, 0, 0, reg, 0);
      case 0x8d: return f(A.F_LEA, 0, reg, 0, 0);
      case 0x88: return f(A.F_STORE8_R, 0, 0, reg, 0);
      case 0x1b6: return f(A.F_MOVZX_BM, 0, reg, 0, 0);
      case 0x81: if (reg === 7) return f(A.F_CMP_MI, 0, 0, 0, r.imm | 0); break;
      case 0x83: if (reg === 7) return f(A.F_CMP_MI, 0, 0, 0, (r.imm << 24) >> 24); break;
      case 0x80: if (reg === 7) return f(A.F_CMP8_MI, 0, 0, 0, r.imm & 0xff); break;
      case 0xc6: if (reg === 0) return f(A.F_STORE8_I, 0, 0, 0, r.imm & 0xff); break;
    }
  }
  if (r.op === 0xa1) return { ...f(A.F_LOAD, 0, 0, 0, 0), base: 8, index: 8, disp: r.imm }; // mov eax, [moffs]
  if (r.op === 0xa3) return { ...f(A.F_STORE, 0, 0, 0, 0), base: 8, index: 8, disp: r.imm };
  return r;
}

/**
 * More handler records compiled inline (emit-ext.ts), found hot in Linux's XZ decompressor and xv6: each without
 * prefixes, or with only the operand-size prefix where the name says 16. A memory operand is accessed inline on a
 * flat segment with a TLB hit inside one page; otherwise the CPU's handler runs the whole instruction.
 */
export const enum X {
  NONE, MOVX, MOV16_GE, MOV16_EG, MOV8_GE, MOV8_EG, MOV8_RI, IMUL, NOT, TEST8, SHIFT, ADCSBB, RMW, INCDEC_M,
  TEST_M, SETCC, CMOV, ALU8,
}
export function extForm(r: Rec): X {
  if (r.fast !== 0) return X.NONE;
  const reg = (r.modrm >> 3) & 7, op = r.op;
  if (r.pfx === 1) {
    if (op === 0x8b) return X.MOV16_GE;
    if (op === 0x89) return X.MOV16_EG;
    if ((op === 0xc1 || op === 0xd1 || op === 0xd3) && !r.mem) return X.SHIFT; // 16-bit shifts and rotates
    return X.NONE;
  }
  if (r.pfx !== 0) return X.NONE;
  if (op === 0x1b7 || op === 0x1be || op === 0x1bf || (op === 0x1b6 && !r.mem)) return X.MOVX;
  if (op === 0x8a) return X.MOV8_GE;
  if (op === 0x88 && !r.mem) return X.MOV8_EG;
  if (op >= 0xb0 && op <= 0xb7) return X.MOV8_RI;
  if (op === 0x1af) return X.IMUL;
  if (op < 0x40 && (op & 7) < 5 && (op & 1) === 0 && op >> 3 !== 2 && op >> 3 !== 3) { // 8-bit add/or/and/sub/xor/cmp
    if (!r.mem || (op & 7) === 2 || op === 0x38) return X.ALU8; // (to memory: only cmp, which does not write)
  }
  if (op === 0x80 && !r.mem && reg !== 2 && reg !== 3) return X.ALU8;
  if (op === 0xf7 && reg === 2 && !r.mem) return X.NOT;
  if (op === 0x84 && !r.mem) return X.TEST8;
  if ((op === 0xd3 || ((op === 0xc1 || op === 0xd1) && (reg === 2 || reg === 3))) && !r.mem) return X.SHIFT;
  if (((op === 0x11 || op === 0x19) && !r.mem) || op === 0x13 || op === 0x1b) return X.ADCSBB;
  if ((op === 0x81 || op === 0x83) && !r.mem && (reg === 2 || reg === 3)) return X.ADCSBB;
  if ((op === 0x01 || op === 0x09 || op === 0x21 || op === 0x29 || op === 0x31) && r.mem) return X.RMW;
  if (op === 0xff && r.mem && reg < 2) return X.INCDEC_M;
  if (op === 0x85 && r.mem) return X.TEST_M;
  if (op >= 0x190 && op <= 0x19f && !r.mem) return X.SETCC;
  if (op >= 0x140 && op <= 0x14f && !r.mem) return X.CMOV;
  return X.NONE;
}
/** The shift count of an X.SHIFT record by an immediate (masked as the CPU does), or -1 for a count in CL. */
export function shiftCount(r: Rec): number { return r.op === 0xd3 ? -1 : r.op === 0xd1 ? 1 : r.imm & 31; }
function extFlags(r: Rec, x: X): { reads: number; writes: number } {
  switch (x) {
    case X.IMUL: return { reads: ARITH, writes: ARITH }; // CF and OF change, the others stay
    case X.TEST8: case X.RMW: case X.TEST_M: case X.ALU8: return { reads: 0, writes: ARITH };
    case X.INCDEC_M: return { reads: CF, writes: ARITH & ~CF };
    case X.ADCSBB: return { reads: CF, writes: ARITH };
    case X.SETCC: case X.CMOV: return { reads: ARITH, writes: 0 };
    case X.SHIFT: {
      const n = shiftCount(r), op = (r.modrm >> 3) & 7;
      if (n === 0) return { reads: 0, writes: 0 };
      // a count in CL may be 0 (nothing changes); rotates change only CF and OF (rcl/rcr may change nothing)
      return n < 0 || op < 4 ? { reads: ARITH, writes: ARITH } : { reads: 0, writes: ARITH };
    }
    default: return { reads: 0, writes: 0 };
  }
}

/** Whether record r may leave the block before it completes: a memory access (fault, MMIO, host exit), a jump
 *  beyond the CS limit (#GP), a handler. Register-only forms cannot. */
export function mayLeave(r: Rec): boolean {
  switch (r.fast) {
    case 0: {
      const x = extForm(r);
      if (x !== X.NONE) return !!r.mem;
      return !((r.op === 0x69 || r.op === 0x6b) && inlineOp(r) >= 0 && !r.mem);
    }
    case A.F_ALU_RR: case A.F_ALU_RI: case A.F_TEST_RR: case A.F_MOV_RR: case A.F_MOV_RI: case A.F_INC: case A.F_DEC:
    case A.F_SHIFT_RI: case A.F_LEA: case A.F_NOP: case A.F_NEG: case A.F_TEST8_RI:
      return false;
    default: return true;
  }
}
