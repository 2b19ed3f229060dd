// jit.ts — the helpers compiled blocks call (host/jit/ generates the blocks; abi.ts JIT_CTX is the contract).
// Compiled code keeps registers and lazy flags in wasm locals and calls these for what needs the CPU's
// machinery: segmented memory access through the TLB (with faults as values), and the flag rules
// (flags.ts, ops/alu.ts), so there is still one definition of each.
import { STATE_BASE, JIT_CTX, JC_STATUS, JC_FLOUT, JIT_OK, JIT_ABORT, JIT_STOP, VEC_GP } from "./abi";
import { abort, stopBlock, setPending, setIntShadow } from "./state";
import { rd8, rd32, wr8, wr32 } from "./mmu";
import { cfOf, condOf, flagsOf } from "./flags";
import { shiftCore, shiftFlags } from "./ops/alu";

const CTX: u32 = STATE_BASE + JIT_CTX;
@inline function status(): void { store<u32>(CTX, abort ? JIT_ABORT : stopBlock ? JIT_STOP : JIT_OK, JC_STATUS); }

export function jitRd32(seg: u32, off: u32): u32 { const v = rd32(seg, off); status(); return v; }
export function jitRd8(seg: u32, off: u32): u32 { const v = rd8(seg, off); status(); return v; }
export function jitWr32(seg: u32, off: u32, v: u32): void { wr32(seg, off, v); status(); }
export function jitWr8(seg: u32, off: u32, v: u32): void { wr8(seg, off, v); status(); }
export function jitCF(op: u32, a: u32, b: u32, r: u32, top: u32, fl: u32): u32 { return cfOf(op, a, b, r, top, fl); }
export function jitCond(cc: u32, op: u32, a: u32, b: u32, r: u32, top: u32, fl: u32): u32 {
  return condOf(cc, op, a, b, r, top, fl) ? 1 : 0;
}
export function jitFlags(op: u32, a: u32, b: u32, r: u32, top: u32, fl: u32): u32 { return flagsOf(op, a, b, r, top, fl); }
/** Shift/rotate (op = group-2 op | operand size << 8, size 0 = 4) by a nonzero count on concrete flags `fl`:
 *  the result; the new EFLAGS go to JC_FLOUT. */
export function jitShift(op: u32, a: u32, count: u32, fl: u32): u32 {
  const size = op >> 8;
  const r = shiftCore(op & 7, size ? size : 4, a, count, fl);
  store<u32>(CTX, shiftFlags, JC_FLOUT);
  return r;
}
/** A jump beyond the CS limit: #GP(0). */
export function jitGP(): void { setPending(VEC_GP, 0, true); }
/** An STI that compiled code ran inline set the interrupt shadow, and the code leaves right after it (jit/emit-sys.ts):
 *  the shadow the handler would have set (ops/system.ts op_sti), for the run loop. */
export function jitShadow(): void { setIntShadow(true); }
