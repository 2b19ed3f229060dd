// jit/emit-sys.ts — PUSHF, POPF, CLI and STI compiled inline (records.ts sysOp), so that a region (region.ts) goes
// on past them: xv6 runs pushf/cli in every pushcli and pushf/sti in every popcli, several times per lock.
//
// Each runs inline exactly when its handler (assembly/ops/system.ts) would take the native path without a fault,
// checked at run time from the state block (a compiled module is cached and shared by machines):
//   - pushf/popf: full mode's CTRL_EXIT_SENSITIVE is off (fullfast.ts fastFlags needs it too); the stack access is
//     inline on a flat SS with a TLB hit within the page;
//   - cli/sti: full mode's CTRL_FAST_VIF is off (fullfast.ts fastCliSti) and CPL <= IOPL (else #GP).
// Otherwise the handler runs the whole instruction (jitExec), and for popf/cli/sti the code leaves right after it, so
// the chain loop (assembly/cpu.ts runBlock) makes its checks. The values are the handler's: pushf pushes the
// materialized flags less VM and RF; popf applies rules.ts popFlags at the CPL in the state block; cli/sti go
// through setFlags (flags made concrete, lazy op LF_NONE).
//
// Interrupts: compiled code never runs while INTR is raised (cpu.ts run: a raised line makes every step single), and
// the line changes only between run() calls, so IF changes have no effect inside compiled code. What the chain loop
// would see after these blocks: TF set by popf (the trap comes after the next instruction) — the code leaves after
// the popf; and the shadow of an STI that set IF — it lasts one instruction, so it matters only if the code leaves
// right after the STI (STI ends its block: at the next region boundary, or at the region's end), where the code
// sets it as the handler would (jitShadow). Once the next instruction has run, the interpreter has cleared it too.
import * as A from "../abi.generated.ts";
import { Op, I32, VOID } from "./wasm.ts";
import { type Rec, sysOp, ARITH } from "./records.ts";
import { H, L, SEGOK } from "./layout.ts";
import type { Emit } from "./emit-ext.ts";

export interface SysEmit extends Emit {
  exit(eipOff: number | null, done: number, status: number): void;
}

const CTRL = A.STATE_BASE + A.OFF_CTRL;
const CPL = A.STATE_BASE + A.OFF_CPL;
/** setFlags' mask (flags.ts): bit 1 set, reserved bits clear */
const FLAGS_MASK = 0x3f7fd5;
/** what popf always loads (rules.ts popFlags): the status flags, TF, DF, NT, AC, ID */
const POPF_BASE = 0xdd5 | A.FLAG_TF | A.FLAG_NT | A.FLAG_AC | A.FLAG_ID;

/** push the concrete EFLAGS (flags.ts getFlags): inline when the lazy kind is known (32-bit add, sub, logic: the
 *  rules of flags.ts flagsOf), else through the CPU's rule (jitFlags) */
function flagsNow(g: SysEmit) {
  const c = g.c, k = g.kind;
  if (k === A.LF_NONE) { c.get(L.fl); return; }
  if (k !== A.LF_ADD && k !== A.LF_SUB && k !== A.LF_LOGIC) {
    c.get(L.lop).get(L.la).get(L.lb).get(L.lr).get(L.ltop).get(L.fl).call(H.flags);
    return;
  }
  const top = (shift: number) => { c.i32(31).op(Op.i32_shr_u); if (shift) c.i32(shift).op(Op.i32_shl); c.op(Op.i32_or); };
  c.get(L.fl).i32(~ARITH).op(Op.i32_and);
  if (k === A.LF_ADD) { // CF = ((a & b) | ((a | b) & ~r)) >> 31, OF = ((a ^ r) & (b ^ r)) >> 31
    c.get(L.la).get(L.lb).op(Op.i32_and).get(L.la).get(L.lb).op(Op.i32_or).get(L.lr).i32(-1).op(Op.i32_xor).op(Op.i32_and)
      .op(Op.i32_or); top(0);
    c.get(L.la).get(L.lr).op(Op.i32_xor).get(L.lb).get(L.lr).op(Op.i32_xor).op(Op.i32_and); top(11);
  } else if (k === A.LF_SUB) { // CF = ((~a & b) | (~(a ^ b) & r)) >> 31, OF = ((a ^ b) & (a ^ r)) >> 31
    c.get(L.la).i32(-1).op(Op.i32_xor).get(L.lb).op(Op.i32_and).get(L.la).get(L.lb).op(Op.i32_xor).i32(-1).op(Op.i32_xor)
      .get(L.lr).op(Op.i32_and).op(Op.i32_or); top(0);
    c.get(L.la).get(L.lb).op(Op.i32_xor).get(L.la).get(L.lr).op(Op.i32_xor).op(Op.i32_and); top(11);
  }
  if (k !== A.LF_LOGIC) { c.get(L.la).get(L.lb).op(Op.i32_xor).get(L.lr).op(Op.i32_xor).i32(A.FLAG_AF).op(Op.i32_and).op(Op.i32_or); }
  c.get(L.lr).i32(0xff).op(Op.i32_and).op(Op.i32_popcnt).i32(-1).op(Op.i32_xor).i32(1).op(Op.i32_and).i32(2).op(Op.i32_shl).op(Op.i32_or); // PF
  c.get(L.lr).op(Op.i32_eqz).i32(6).op(Op.i32_shl).op(Op.i32_or); // ZF
  c.get(L.lr); top(7); // SF
}
/** EFLAGS = the value on the stack through setFlags */
function setFlags(g: SysEmit) {
  g.c.i32(FLAGS_MASK).op(Op.i32_and).i32(2).op(Op.i32_or).set(L.fl).i32(A.LF_NONE).set(L.lop);
}
/** push (OFF_CTRL & bits) == 0 */
function ctrlOff(g: SysEmit, bits: number) {
  g.c.i32(CTRL).load(0).i32(bits).op(Op.i32_and).op(Op.i32_eqz);
}
/** the handler runs the whole instruction; leave after it (the chain loop checks IF, TF, the shadow) */
function viaHandler(g: SysEmit, r: Rec, i: number, leave: boolean) {
  g.generic(r, i);
  if (leave) g.exit(r.off + r.len, i + 1, A.JIT_OK);
}
/** With L.addr = the stack address of the access: push whether it is inline (flat SS, within a page, a TLB hit in
 *  `set`); L.t1 = the TLB entry. */
function stackInline(g: SysEmit, write: boolean) {
  const c = g.c, bit = write ? 2 : 1;
  c.i32(SEGOK + A.SEG_SS).load8u(0).i32(A.SEGOK_FLAT | bit).op(Op.i32_and).i32(A.SEGOK_FLAT | bit).op(Op.i32_eq);
  c.get(L.addr).i32(0xfff).op(Op.i32_and).i32(0xffc).op(Op.i32_le_u).op(Op.i32_and);
  c.op(Op.if_).byte(I32); g.depth++;
  g.tlbEntry(write ? L.tlbW : L.tlbR);
  c.op(Op.else_).i32(0); c.op(Op.end); g.depth--;
}

/** Record i (sysOp) inline, with its handler as the slow path. */
export function emitSys(g: SysEmit, r: Rec, i: number) {
  const c = g.c, op = sysOp(r);
  if (op === 0x9c) { // pushf
    const kind = g.kind;
    c.get(4).i32(4).op(Op.i32_sub).set(L.addr);
    ctrlOff(g, A.CTRL_EXIT_SENSITIVE);
    c.op(Op.if_).byte(I32); g.depth++;
    stackInline(g, true);
    c.op(Op.else_).i32(0); c.op(Op.end); g.depth--;
    c.op(Op.if_).byte(VOID); g.depth++;
    c.get(L.addr).get(L.t1).load(4).op(Op.i32_add); // (a write hit is never a code page)
    flagsNow(g); c.i32(~(A.FLAG_VM | A.FLAG_RF)).op(Op.i32_and).store(0);
    c.get(L.addr).set(4);
    c.op(Op.else_);
    viaHandler(g, r, i, false); // (the handler leaves the flags as they were)
    c.op(Op.end); g.depth--;
    g.kind = kind;
    return;
  }
  if (op === 0x9d) { // popf
    c.get(4).set(L.addr);
    ctrlOff(g, A.CTRL_EXIT_SENSITIVE);
    c.op(Op.if_).byte(I32); g.depth++;
    stackInline(g, false);
    c.op(Op.else_).i32(0); c.op(Op.end); g.depth--;
    c.op(Op.if_).byte(VOID); g.depth++;
    c.get(L.addr).get(L.t1).load(4).op(Op.i32_add).load(0).set(L.t0);
    c.get(4).i32(4).op(Op.i32_add).set(4);
    flagsNow(g); c.set(L.t1); // the current flags
    // the mask of what is loaded: IOPL at CPL 0, IF at CPL <= IOPL
    c.i32(POPF_BASE);
    c.i32(A.FLAG_IOPL).i32(0).i32(CPL).load(0).op(Op.i32_eqz).op(Op.select).op(Op.i32_or);
    c.i32(A.FLAG_IF).i32(0).i32(CPL).load(0).get(L.t1).i32(12).op(Op.i32_shr_u).i32(3).op(Op.i32_and).op(Op.i32_le_u)
      .op(Op.select).op(Op.i32_or).set(L.t2);
    c.get(L.t1).get(L.t2).i32(-1).op(Op.i32_xor).op(Op.i32_and).get(L.t0).get(L.t2).op(Op.i32_and).op(Op.i32_or)
      .i32(~A.FLAG_RF).op(Op.i32_and);
    setFlags(g);
    // TF set: the trap follows the next instruction; the chain loop sees TF and leaves to the run loop
    c.get(L.fl).i32(A.FLAG_TF).op(Op.i32_and).op(Op.if_).byte(VOID); g.depth++;
    g.exit(r.off + r.len, i + 1, A.JIT_OK);
    c.op(Op.end); g.depth--;
    c.op(Op.else_);
    viaHandler(g, r, i, true);
    c.op(Op.end); g.depth--;
    g.kind = A.LF_NONE;
    return;
  }
  // cli / sti
  ctrlOff(g, A.CTRL_FAST_VIF);
  c.i32(CPL).load(0).get(L.fl).i32(12).op(Op.i32_shr_u).i32(3).op(Op.i32_and).op(Op.i32_le_u).op(Op.i32_and);
  c.op(Op.if_).byte(VOID); g.depth++;
  flagsNow(g); c.set(L.t0);
  if (op === 0xfb) {
    c.get(L.t0).i32(A.FLAG_IF).op(Op.i32_and).op(Op.i32_eqz).set(L.sh); // STI delays interrupts by one instruction
    c.get(L.t0).i32(A.FLAG_IF).op(Op.i32_or);
  } else c.get(L.t0).i32(~A.FLAG_IF).op(Op.i32_and);
  setFlags(g);
  c.op(Op.else_);
  viaHandler(g, r, i, true);
  c.op(Op.end); g.depth--;
  g.kind = A.LF_NONE;
}

/** Before an exit right after record r: an inline STI's interrupt shadow, as the handler would have left it. */
export function shadowBeforeExit(g: SysEmit, r: Rec) {
  if (sysOp(r) !== 0xfb) return;
  const c = g.c;
  c.get(L.sh).op(Op.if_).byte(VOID); g.depth++;
  c.call(H.shadow);
  c.op(Op.end); g.depth--;
}
