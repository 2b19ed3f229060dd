// ops/rules.ts — protection rules as pure functions of descriptor words, selectors and privilege levels, with
// no memory access and no CPU state: the CPU (system.ts, interrupt.ts) applies them to its own state, and the
// full-mode monitor calls the same exports (index.ts) for its virtual CPU, so each rule exists once.
// Fault results are encoded as (vector << 16) | error code, 0 = allowed.
import {
  VEC_GP, VEC_NP, VEC_SS, VEC_TS, VEC_DF, SEG_SS, FLAG_IF, FLAG_IOPL, FLAG_NT, FLAG_TF, FLAG_RF, FLAG_VM, FLAG_AC,
  FLAG_ID, FLAG_VIF, FLAG_VIP,
} from "../abi";

@inline function fault(vec: u32, err: u32): u32 { return (vec << 16) | (err & 0xFFFF); }

/**
 * Where the stack pointer for privilege `n` sits in a TSS (SDM Vol. 3A 7.2.1 / 7.6): a 32-bit TSS (attr bit 3)
 * keeps ESPn at 4 + 8n and SSn at 8 + 8n, a 16-bit TSS SPn at 2 + 4n and SSn at 4 + 4n. Returns the offset of
 * ESPn/SPn, or -1 when TR is not present or the slot is not inside the TSS limit (#TS(TR selector)).
 */
export function tssStackSlot(attr: u32, limit: u32, n: u32): i32 {
  if (!(attr & 0x80)) return -1;
  if (attr & 8) {
    const off = 4 + 8 * n;
    return <u64>off + 5 > <u64>limit ? -1 : <i32>off;
  }
  const off = 2 + 4 * n;
  return <u64>off + 3 > <u64>limit ? -1 : <i32>off;
}

/** The new-SS checks of an inward CALL / interrupt (descriptor high word `hi`): 0, or #TS / #SS(sel). */
export function newSsCheck(sel: u32, hi: u32, newCpl: u32, ext: u32): u32 {
  if ((sel & 0xFFFC) == 0) return fault(VEC_TS, ext);
  const attr = (hi >> 8) & 0xF0FF;
  const err = (sel & 0xFFFC) | ext;
  if ((sel & 3) != newCpl || ((hi >> 13) & 3) != newCpl || (attr & 0x1A) != 0x12) return fault(VEC_TS, err);
  if (!(attr & 0x80)) return fault(VEC_SS, err);
  return 0;
}

/** MOV/POP/LDS-family checks for loading segment register `s` with non-null `sel` (descriptor word `hi`) at `cpl`. */
export function dataSegCheck(s: u32, sel: u32, hi: u32, cpl: u32): u32 {
  const attr = (hi >> 8) & 0xF0FF;
  const dpl = (hi >> 13) & 3;
  const rpl = sel & 3;
  const err = sel & 0xFFFC;
  if (s == SEG_SS) {
    if (rpl != cpl || !(attr & 0x10) || (attr & 0x8) || !(attr & 2) || dpl != cpl) return fault(VEC_GP, err);
    if (!(attr & 0x80)) return fault(VEC_SS, err);
    return 0;
  }
  if (!(attr & 0x10) || ((attr & 0xA) == 0x8)) return fault(VEC_GP, err); // system or execute-only code
  if (!(attr & 0x8) || !(attr & 4)) { // data and non-conforming code need DPL >= max(CPL, RPL)
    if (dpl < cpl || dpl < rpl) return fault(VEC_GP, err);
  }
  if (!(attr & 0x80)) return fault(VEC_NP, err);
  return 0;
}

/**
 * A data access of `size` bytes at offset `off` through a segment register whose cache holds `attr` (descriptor
 * bits 40..55 >> 8; 0 when null) and the byte-granular `limit`: 0, or #GP(0) — #SS(0) through SS (`isSs`) — when
 * the segment is unusable, not readable (writable) as asked, or the access leaves its limit (expand-down: valid
 * offsets are limit+1 .. 0xFFFF, or 0xFFFFFFFF with B=1). The CPU's own check (mmu.ts segAddr: its fast path is
 * the plain case of this) and the full-mode monitor's emulated operands.
 */
export function segAccessCheck(attr: u32, limit: u32, off: u32, size: u32, write: bool, isSs: bool): u32 {
  const vec = isSs ? VEC_SS : VEC_GP;
  let ok: u32 = 0; // bit 0 readable, 1 writable, 2 expand-down (as mmu.ts computeSegOk)
  if ((attr & 0x80) && (attr & 0x10)) { // present (a null selector clears attr), code or data
    if (attr & 0x8) { if (attr & 2) ok = 1; } // code: readable if bit 1; never writable
    else ok = 1 | ((attr & 2) ? 2 : 0) | ((attr & 4) ? 4 : 0);
  }
  if (!(ok & (write ? 2 : 1))) return fault(vec, 0);
  if (ok & 4) {
    const top: u64 = (attr & 0x4000) ? 0xFFFFFFFF : 0xFFFF;
    if (<u64>off <= <u64>limit || <u64>off + <u64>(size - 1) > top) return fault(vec, 0);
    return 0;
  }
  if (<u64>off + <u64>(size - 1) > <u64>limit) return fault(vec, 0);
  return 0;
}

/** LAR (isLsl = false) / LSL: may a program at `cpl` read this descriptor's rights/limit through `sel`? */
export function larLslOk(sel: u32, hi: u32, cpl: u32, isLsl: bool): bool {
  const attr = (hi >> 8) & 0xF0FF;
  const dpl = (hi >> 13) & 3;
  const conformingCode = (attr & 0x1C) == 0x1C;
  let typeOk: bool;
  if (attr & 0x10) typeOk = true;
  else {
    const t = attr & 0xF;
    typeOk = isLsl ? (t == 1 || t == 2 || t == 3 || t == 9 || t == 11)
                   : (t == 1 || t == 2 || t == 3 || t == 4 || t == 5 || t == 9 || t == 11 || t == 12);
  }
  return typeOk && (conformingCode || (dpl >= cpl && dpl >= (sel & 3)));
}

/** VERR (write = false) / VERW: is the segment readable / writable at `cpl` through `sel`? */
export function verOk(sel: u32, hi: u32, cpl: u32, write: bool): bool {
  const attr = (hi >> 8) & 0xF0FF;
  const dpl = (hi >> 13) & 3;
  if (!(attr & 0x10)) return false;
  const code = (attr & 8) != 0;
  const conforming = code && (attr & 4) != 0;
  const privOk = conforming || (dpl >= cpl && dpl >= (sel & 3));
  return write ? !code && (attr & 2) != 0 && privOk : (!code || (attr & 2) != 0) && privOk;
}

/** Contributory exceptions (SDM Vol. 3A table 6-4): #DE, #TS, #NP, #SS, #GP. */
@inline function contributory(v: u32): bool { return v == 0 || (v >= 10 && v <= 13); }
/** Does exception `second`, raised while delivering `first`, become a double fault (SDM Vol. 3A table 6-5)? */
export function isDoubleFault(first: u32, second: u32): bool {
  return (contributory(first) && contributory(second)) || (first == 14 && (second == 14 || contributory(second)));
}
/** Fault-class exceptions: the frame's EFLAGS has RF=1 (SDM 17.3.1.1) and EIP points at the instruction. */
export function isFaultVector(v: u32): bool {
  return v == 0 || v == 5 || v == 6 || v == 7 || (v >= 10 && v <= 14) || v == 16 || v == 17;
}

/**
 * What follows a fault `second` raised while delivering `first`: #DF, `second` itself, or -1 = triple fault
 * (shutdown). A fault delivering INT n / INT3 / INTO (`soft`) is raised as itself: the INT is not an exception.
 */
export function escalation(first: u32, second: u32, soft: bool): i32 {
  if (soft) return <i32>second;
  if (first == VEC_DF) return -1;
  return isDoubleFault(first, second) ? <i32>VEC_DF : <i32>second;
}
/** Does the frame of this event carry RF=1? Faults only: not INT n/INT3/INTO, not external interrupts. */
export function framePushesRf(vec: u32, soft: bool, external: bool): bool {
  return !soft && !external && isFaultVector(vec);
}

// ---- IDT delivery (SDM Vol. 3A 6.12) ----
/** Is IDT entry `vec` inside the IDT limit? 0, or #GP(vec*8+2+ext). */
export function idtLimitCheck(vec: u32, idtLimit: u32, ext: u32): u32 {
  return <u64>(vec << 3) + 7 > <u64>idtLimit ? fault(VEC_GP, (vec << 3) | 2 | ext) : 0;
}
/** The gate's own checks (gate high word `hi`): an interrupt/trap gate, DPL >= CPL for INT n, present. */
export function idtGateCheck(vec: u32, hi: u32, soft: bool, cpl: u32, ext: u32): u32 {
  const idtErr = (vec << 3) | 2 | ext;
  const type = (hi >> 8) & 0x1F;
  if (type != 0x0E && type != 0x0F && type != 0x06 && type != 0x07) return fault(VEC_GP, idtErr); // task gates too
  if (soft && ((hi >> 13) & 3) < cpl) return fault(VEC_GP, idtErr);
  if (!(hi & 0x8000)) return fault(VEC_NP, idtErr);
  return 0;
}
/** Entry point of an interrupt/trap/call gate: 32-bit gates (type bit 3) have a 32-bit offset. */
export function gateOffset(lo: u32, hi: u32): u32 {
  return (hi & 0x800) ? (hi & 0xFFFF0000) | (lo & 0xFFFF) : lo & 0xFFFF;
}
/** Operand size of the frame a gate pushes: 4 for 32-bit gates, 2 for 16-bit ones. */
export function gateSize(hi: u32): u32 { return (hi & 0x800) ? 4 : 2; }
/**
 * The code segment a gate (interrupt/trap gate: `isJmp` false; call gate through CALL or JMP) points at,
 * descriptor words `lo`/`hi`, entry offset `off`: a present code segment with DPL <= CPL (for a JMP a
 * non-conforming one needs DPL = CPL) and `off` inside its limit. 0, or #GP / #NP.
 */
export function gateTargetCheck(sel: u32, lo: u32, hi: u32, off: u32, cpl: u32, ext: u32, isJmp: bool): u32 {
  if ((sel & 0xFFFC) == 0) return fault(VEC_GP, ext);
  const attr = (hi >> 8) & 0xF0FF;
  const dpl = (hi >> 13) & 3;
  const err = (sel & 0xFFFC) | ext;
  if ((attr & 0x18) != 0x18 || dpl > cpl) return fault(VEC_GP, err);
  if (isJmp && !(attr & 4) && dpl != cpl) return fault(VEC_GP, err);
  if (!(attr & 0x80)) return fault(VEC_NP, err);
  if (off > descLimitOf(lo, hi)) return fault(VEC_GP, ext);
  return 0;
}
/** The privilege a gate transfer runs at: a non-conforming target with DPL < CPL is entered inward (stack switch). */
export function gateTargetCpl(hi: u32, cpl: u32): u32 {
  const dpl = (hi >> 13) & 3;
  return (!(hi & 0x400) && dpl < cpl) ? dpl : cpl;
}
/**
 * Room for `frame` bytes pushed below `sp` in a stack segment of `limit` (`big`: 32-bit SP): 0, or #SS(errSel).
 * Wrapping below zero is only legal for a flat 4 GiB stack.
 */
export function stackRoomCheck(limit: u32, sp: u32, frame: u32, errSel: u32, big: bool): u32 {
  const sp0 = big ? sp : sp & 0xFFFF;
  const lo = sp0 - frame;
  const err = errSel & 0xFFFC;
  if (<u64>lo > <u64>(big ? 0xFFFFFFFF : 0xFFFF) || <u64>sp0 < <u64>frame) {
    if (!(big && limit == 0xFFFFFFFF)) return fault(VEC_SS, err);
  }
  if (<u64>lo + <u64>frame - 1 > <u64>limit) return fault(VEC_SS, err);
  return 0;
}
/** Bytes an interrupt frame takes: [SS ESP] EFLAGS CS EIP [error code], in the gate's operand size. */
export function deliveryFrameSize(gateHi: u32, inward: bool, hasErr: bool): u32 {
  return ((inward ? 5 : 3) + (hasErr ? 1 : 0)) * gateSize(gateHi);
}
/** EFLAGS in the handler: TF, NT, RF, VM cleared; an interrupt gate (type bit 0 clear) also clears IF. */
export function deliveryFlags(flags: u32, gateHi: u32): u32 {
  let f = flags & ~(FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM);
  if (!(gateHi & 0x100)) f &= ~FLAG_IF;
  return f;
}

// ---- far CALL/JMP/RET, call gates ----
/** A call gate named by `gateSel` (high word `hi`): DPL >= CPL and RPL, present. 0, or #GP / #NP(gate selector). */
export function callGateCheck(gateSel: u32, hi: u32, cpl: u32): u32 {
  const dpl = (hi >> 13) & 3;
  if (dpl < cpl || dpl < (gateSel & 3)) return fault(VEC_GP, gateSel & 0xFFFC);
  if (!(hi & 0x8000)) return fault(VEC_NP, gateSel & 0xFFFC);
  return 0;
}
/**
 * A direct far JMP/CALL to code segment `sel` (not null): conforming needs DPL <= CPL, non-conforming RPL <= CPL
 * and DPL = CPL; present; `off` (already truncated to the operand size) inside the limit. 0, or #GP / #NP.
 */
export function farTargetCheck(sel: u32, lo: u32, hi: u32, off: u32, cpl: u32): u32 {
  const attr = (hi >> 8) & 0xF0FF;
  const dpl = (hi >> 13) & 3;
  const err = sel & 0xFFFC;
  if ((attr & 0x18) != 0x18) return fault(VEC_GP, err);
  if (attr & 4) { if (dpl > cpl) return fault(VEC_GP, err); }
  else if ((sel & 3) > cpl || dpl != cpl) return fault(VEC_GP, err);
  if (!(attr & 0x80)) return fault(VEC_NP, err);
  if (off > descLimitOf(lo, hi)) return fault(VEC_GP, 0);
  return 0;
}
/**
 * RETF/IRET: the return CS `sel` (not null; its RPL is the new CPL, never below the current one): code,
 * conforming DPL <= RPL or non-conforming DPL = RPL, present, `off` inside the limit. 0, or #GP / #NP.
 */
export function returnCsCheck(sel: u32, lo: u32, hi: u32, off: u32, cpl: u32): u32 {
  const attr = (hi >> 8) & 0xF0FF;
  const dpl = (hi >> 13) & 3;
  const rpl = sel & 3;
  const err = sel & 0xFFFC;
  if ((attr & 0x18) != 0x18 || rpl < cpl) return fault(VEC_GP, err);
  if ((attr & 4) ? dpl > rpl : dpl != rpl) return fault(VEC_GP, err);
  if (!(attr & 0x80)) return fault(VEC_NP, err);
  if (off > descLimitOf(lo, hi)) return fault(VEC_GP, 0);
  return 0;
}
/** The SS popped by a return to outer level `rpl` (not null): RPL = DPL = rpl, writable data, present. */
export function returnSsCheck(sel: u32, hi: u32, rpl: u32): u32 {
  const attr = (hi >> 8) & 0xF0FF;
  const err = sel & 0xFFFC;
  if ((sel & 3) != rpl || ((hi >> 13) & 3) != rpl || (attr & 0x1A) != 0x12) return fault(VEC_GP, err);
  if (!(attr & 0x80)) return fault(VEC_SS, err);
  return 0;
}
/**
 * On a return to outer level `newCpl`, a data segment register whose cached attributes are `attr` becomes
 * null if that level may not use it: a data or non-conforming code segment with DPL < newCpl (SDM: RET, IRET).
 */
export function nullsOnReturn(attr: u32, newCpl: u32): bool {
  return (attr & 0x10) != 0 && (attr & 0x1C) != 0x1C && ((attr >> 5) & 3) < newCpl;
}

/**
 * A far JMP/CALL to a TSS, or IRET's return to the back-link task (`wantBusy`), descriptor `lo`/`hi`: an available
 * (busy) TSS, present, limit >= 0x67 (0x2B for a 16-bit TSS). Task switching is not implemented, so a
 * transfer that passes these checks is #GP(selector) (documented): the result is always a fault.
 */
export function taskTargetCheck(sel: u32, lo: u32, hi: u32, wantBusy: bool): u32 {
  const t = (hi >> 8) & 0x1F;
  const err = sel & 0xFFFC;
  const ok = wantBusy ? (t == 0x0B || t == 0x03) : (t == 0x09 || t == 0x01);
  if (!ok) return fault(wantBusy ? VEC_TS : VEC_GP, err);
  if (!(hi & 0x8000)) return fault(VEC_NP, err);
  if (descLimitOf(lo, hi) < ((t & 8) ? <u32>0x67 : <u32>0x2B)) return fault(VEC_TS, err);
  return fault(VEC_GP, err);
}

// ---- LLDT / LTR (non-null selectors) ----
/** The selector of LLDT/LTR must name the GDT (checked before the descriptor is read): 0, or #GP(sel). */
export function sysSelCheck(sel: u32): u32 { return (sel & 4) ? fault(VEC_GP, sel & 0xFFFC) : 0; }
/** LLDT needs an LDT descriptor, LTR an available TSS (32- or 16-bit); present. 0, or #GP / #NP(sel). */
export function sysDescCheck(sel: u32, hi: u32, isTr: bool): u32 {
  const t = (hi >> 8) & 0x1F;
  if (isTr ? (t != 0x09 && t != 0x01) : t != 0x02) return fault(VEC_GP, sel & 0xFFFC);
  if (!(hi & 0x8000)) return fault(VEC_NP, sel & 0xFFFC);
  return 0;
}

// ---- EFLAGS loaded by POPF / IRET ----
/**
 * EFLAGS after POPF or IRET loads `val` (operand `size`) at `cpl` with current flags `cur`: status flags, TF,
 * DF, NT, AC, ID always; IOPL only at CPL 0; IF only at CPL <= IOPL; VIF/VIP only by a 32-bit IRET at CPL 0;
 * VM never (virtual-8086 mode is not implemented); RF cleared.
 */
export function popFlags(cur: u32, val: u32, size: u32, cpl: u32, iret: bool): u32 {
  let m: u32 = 0x00000DD5 | FLAG_TF | FLAG_NT | FLAG_AC | FLAG_ID;
  // IRET loads RF: it suppresses the instruction breakpoint it returns to (debug.ts); POPF clears it
  if (iret) m |= FLAG_RF;
  if (cpl == 0) m |= FLAG_IOPL | (iret ? FLAG_VIF | FLAG_VIP : 0);
  if (cpl <= ((cur & FLAG_IOPL) >> 12)) m |= FLAG_IF;
  if (size == 2) m &= 0xFFFF;
  const r = (cur & ~m) | (val & m);
  return iret ? r : r & ~FLAG_RF;
}

// ---- the I/O permission bitmap (SDM Vol. 1 19.5), consulted when CPL > IOPL ----
/** Offset of the bitmap-base word in the TSS (0x66), or -1 (#GP) unless TR is a present 32-bit TSS of limit >= 0x67. */
export function ioMapBaseSlot(trAttr: u32, trLimit: u32): i32 {
  const type = trAttr & 0x1F;
  if (!(trAttr & 0x80) || (type != 0x09 && type != 0x0B) || trLimit < 0x67) return -1;
  return 0x66;
}
/** Offset of the 16-bit bitmap word covering `port`, or -1 (#GP) when it is not inside the TSS limit. */
export function ioBitmapSlot(mapBase: u32, port: u32, trLimit: u32): i32 {
  const off = <u64>mapBase + <u64>(port >> 3);
  return off + 1 > <u64>trLimit ? -1 : <i32>off;
}
/** Does the bitmap word `bits` allow `size` bytes at `port` (every bit clear)? */
export function ioBitsAllow(bits: u32, port: u32, size: u32): bool {
  return (bits & ((((<u32>1) << size) - 1) << (port & 7))) == 0;
}

@inline function descLimitOf(lo: u32, hi: u32): u32 {
  const l = (lo & 0xFFFF) | (hi & 0xF0000);
  return (hi & 0x800000) ? (l << 12) | 0xFFF : l;
}
