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
    case 0:
      if (r.op === 0x69 || r.op === 0x6b) return inlineOp(r) >= 0 ? { reads: ARITH, writes: ARITH } : { reads: ARITH, writes: 0 };
      if (rmwAluOp(r) >= 0) return { reads: 0, writes: ARITH };
      return inlineOp(r) >= 0 ? { reads: 0, writes: 0 } : { reads: ARITH, writes: 0 }; // a handler may read any flag
    default: return { reads: 0, writes: 0 };
  }
}
