// ops/system.ts — protection and system instructions: segment-register loads with their descriptor checks,
// far jmp/call/ret and iret (same and outer privilege), pushf/popf/cli/sti with the IOPL rules, descriptor-table
// and control-register instructions, lar/lsl/verr/verw, cpuid, rdtsc, msr access.
// Hardware task switching is not implemented: task gates and TSS descriptors as far-transfer targets, and
// IRET with NT=1, raise #GP (documented in the README).
import { fptInvlpg } from "../fullpt";
import { CR4_OSFXSR } from "../fpu/fxsave";
import {
  FLAG_IF, FLAG_IOPL, FLAG_NT, FLAG_TF, FLAG_RF, FLAG_VM, FLAG_AC, FLAG_ID, FLAG_DF, FLAG_ZF, FLAG_VIF, FLAG_VIP,
  VEC_DB, VEC_GP, VEC_NP, VEC_SS, VEC_UD, VEC_NM, VEC_TS, SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, OFF_GDTR_BASE,
  OFF_GDTR_LIMIT, OFF_IDTR_BASE, OFF_IDTR_LIMIT, OFF_LDTR, OFF_TR, OFF_CR0, OFF_CR2, OFF_CR3, OFF_CR4, OFF_DR0,
  CR0_PE, CR0_PG, CR0_WP, CR0_TS, CR0_EM, CR0_MP, CR0_ET, CR0_NE, CR0_AM, CR0_NW, CR0_CD, CR4_TSD, CR4_DE,
  CR4_PSE, CR4_PGE, CR4_VME, CR4_PVI, SEG_SEL, SEG_BASE, SEG_LIMIT, SEG_ATTR, OFF_CTRL, CTRL_EXIT_HLT, EXIT_HLT,
  CTRL_HYPERCALL, OFF_HV_SIGNATURE, OFF_TSC_ADJUST_LO, OFF_TSC_ADJUST_HI, OFF_EXIT_REASON, EXIT_HYPERCALL, OFF_CPUID_EDX_EXTRA, OFF_APIC_BASE,
  CTRL_EXIT_SENSITIVE, CTRL_EXIT_PRIV_XFER, CTRL_EXIT_DESC_READ,
} from "../abi";
import { sensitiveExit } from "./sensitive";
import { fastCliSti, fastFlags, fastDataSeg, fastSoftInt, fastIret, fastIretKernel, fastSregSel, fastMovFromCr } from "../fullfast";
import {
  eip, setEip, abort, setPending, r32, w32, r16, w16, o16, mrMod, mrReg, mrRm, ea, eaSeg, cpl, setCplValue, st,
  setSt, segSel, segBase, segLimit, segAttr, setSegCache, EAX, ECX, EDX, EBX, ESP, setIntShadow, setSsShadow, setHalted,
  setExitAfter, cr0, cr4, imm1, imm2, modrm, setStopBlock,
} from "../state";
import {
  regRd, regWr, rmRd, rmWr, memRd, memWr, push, pop, popPeek, spGet, spSet,
  spMask, stack32, osz,
} from "../decode";
import { flagsReg, getFlags, setFlags, setStatus } from "../flags";
import {
  computeSegOk, selectTlb, bumpEpoch, tlbFlushAll, tlbFlushNonGlobal, tlbInvlpg, segAddr, rdAs, wrAs, checkWritable, sysRd32,
  sysWr32,
} from "../mmu";
import { dbgGeneralDetect, dbgRecompute } from "../debug";
import { readDesc, dLo, dHi, dAddr, setDescRegs, descAttr, descBase, descLimit, descDpl, setAccessed } from "./descriptors";
import { icount } from "../cpu";
import { softInt, setPendingDebugTrap } from "./interrupt";
import {
  tssStackSlot, newSsCheck, dataSegCheck, larLslOk, verOk, farTargetCheck, callGateCheck, gateOffset, gateSize,
  gateTargetCheck, gateTargetCpl, returnCsCheck, returnSsCheck, nullsOnReturn, popFlags, taskTargetCheck,
  stackRoomCheck, sysSelCheck, sysDescCheck,
} from "./rules";
import {
  vmxOn, vmxCtl, vmxExit, vmxMsr, vmxCrRead, vmxCrWriteExits, vmxCrMerge, vmxCr3Exit, vmxClts, vmxLmswExits, vmxTsc,
} from "../vmx";
import {
  PROC_HLT, PROC_INVLPG, PROC_RDTSC, PROC_CR3_LOAD, PROC_CR3_STORE, PROC_MOV_DR, VMX_EXIT_CPUID, VMX_EXIT_HLT,
  VMX_EXIT_INVLPG, VMX_EXIT_RDTSC, VMX_EXIT_VMCALL, VMX_EXIT_DR, QDR_FROM,
} from "../abi";

@inline function gp(e: u32): void { setPending(VEC_GP, e, true); }
@inline function ud(): void { setPending(VEC_UD, 0, false); }
/** raise the fault a rule (rules.ts) reported; true if there was one */
@inline function ruleFault(f: u32): bool { if (f) { setPending(f >>> 16, f & 0xFFFF, true); return true; } return false; }

// ---------------------------------------------------------------- segment-register loads
/** Load DS/ES/FS/GS/SS from a selector with the protected-mode checks (SDM: MOV, POP, LDS). */
export function loadDataSeg(s: u32, sel: u32): void {
  sel &= 0xFFFF;
  if ((sel & 0xFFFC) == 0) {
    if (s == SEG_SS) { gp(0); return; }
    setSegCache(s, sel, 0, 0, 0); // a null selector makes the register unusable
    computeSegOk(s);
    return;
  }
  if (!readDesc(sel, VEC_GP, 0)) return;
  const f = dataSegCheck(s, sel, dHi, cpl);
  if (f && !fastDataSeg(s, sel, dLo, dHi)) { setPending(f >>> 16, f & 0xFFFF, true); return; } // (full mode: fullfast.ts)
  setAccessed();
  if (abort) return;
  setSegCache(s, sel, descBase(dLo, dHi), descLimit(dLo, dHi), descAttr(dHi));
  computeSegOk(s);
}

/** Load CS for a transfer to code segment `sel` (descriptor in dLo/dHi) at privilege `newCpl`. */
function commitCs(sel: u32, newCpl: u32): void {
  bumpEpoch(); // block links assume the CS base they were made with
  setAccessed();
  setSegCache(SEG_CS, (sel & 0xFFFC) | newCpl, descBase(dLo, dHi), descLimit(dLo, dHi), descAttr(dHi));
  computeSegOk(SEG_CS);
  if (newCpl != cpl) { setCplValue(newCpl); selectTlb(newCpl == 3); }
}
export function setCpl(c: u32): void { setCplValue(c); selectTlb(c == 3); }

/** On a return to an outer level, data segments the new level may not use become null (SDM: RET, IRET). */
function nullInaccessible(newCpl: u32): void {
  for (let s: u32 = 0; s < 6; s++) {
    if (s == SEG_CS || s == SEG_SS) continue;
    if (nullsOnReturn(segAttr(s), newCpl)) { // rules.ts
      setSegCache(s, 0, 0, 0, 0);
      computeSegOk(s);
    }
  }
}

/** the selector push/mov of CS or SS store: with CTRL_EXIT_SENSITIVE set, the virtual one (fullfast.ts) or an exit (abort) */
function sregSeen(s: u32): u32 {
  if ((s != SEG_CS && s != SEG_SS) || !(st(OFF_CTRL) & CTRL_EXIT_SENSITIVE)) return segSel(s);
  const v = fastSregSel(s);
  if (v == 0xFFFFFFFF) sensitiveExit(CTRL_EXIT_SENSITIVE);
  return v;
}
export function op_push_sreg(s: u32): void {
  const v = sregSeen(s); if (abort) return;
  // a 32-bit push of a segment register writes 16 bits on current processors; the rest of the slot keeps its value
  if (o16) { push(2, v); return; }
  const sp = spMask(spGet() - 4);
  memWr(2, SEG_SS, sp, v);
  if (abort) return;
  spSet(sp);
}
export function op_pop_sreg(s: u32): void {
  if (s == SEG_SS && sensitiveExit(CTRL_EXIT_PRIV_XFER)) return;
  const size = osz();
  const v = popPeek(size);
  if (abort) return;
  loadDataSeg(s, v & 0xFFFF);
  if (abort) return;
  spSet(spMask(spGet() + size));
  if (s == SEG_SS) { setIntShadow(true); setSsShadow(true); }
}
export function op_mov_S_E(): void {
    if (mrReg == SEG_CS || mrReg > 5) { ud(); return; }
  if (mrReg == SEG_SS && sensitiveExit(CTRL_EXIT_PRIV_XFER)) return;
  const v = rmRd(2); if (abort) return;
  loadDataSeg(mrReg, v);
  if (abort) return;
  // interrupts and debug traps wait until after the next instruction (SDM Vol. 3A §6.8.3: MOV SS)
  if (mrReg == SEG_SS) { setIntShadow(true); setSsShadow(true); }
}
export function op_mov_E_S(): void {
    if (mrReg > 5) { ud(); return; }
  const v = sregSeen(mrReg); if (abort) return;
  if (mrMod == 3) regWr(o16 ? 2 : 4, mrRm, v); // a 32-bit register destination is zero-extended
  else rmWr(2, v);
}
/** les/lds/lss/lfs/lgs: load a far pointer (offset, then selector) from memory. */
export function op_load_far_ptr(s: u32): void {
    if (mrMod == 3) { ud(); return; }
  if (s == SEG_SS && sensitiveExit(CTRL_EXIT_PRIV_XFER)) return;
  const size = osz();
  const off = memRd(size, eaSeg, ea); if (abort) return;
  const sel = memRd(2, eaSeg, ea + size); if (abort) return;
  loadDataSeg(s, sel);
  if (abort) return;
  regWr(size, mrReg, off);
  if (s == SEG_SS) { setIntShadow(true); setSsShadow(true); }
}
export function op_arpl(): void {
  // ARPL raises #UD only in real/virtual-8086 mode; in protected mode it adjusts an RPL field
    const d = mrMod == 3 ? r16(mrRm) : memRd(2, eaSeg, ea); if (abort) return;
  const s = r16(mrReg);
  if ((d & 3) < (s & 3)) {
    rmWr(2, (d & ~3) | (s & 3)); if (abort) return;
    setStatus(FLAG_ZF, FLAG_ZF);
  } else setStatus(FLAG_ZF, 0);
}

// ---------------------------------------------------------------- far transfers
// Every check is a rule shared with the full-mode monitor (rules.ts); these functions do the memory accesses.

export function farJmp(sel: u32, off: u32): void {
  sel &= 0xFFFF;
  if ((sel & 0xFFFC) == 0) { gp(0); return; }
  if (!readDesc(sel, VEC_GP, 0)) return;
  const attr = descAttr(dHi);
  if (attr & 0x10) {
    if (o16) off &= 0xFFFF;
    if (ruleFault(farTargetCheck(sel, dLo, dHi, off, cpl))) return;
    commitCs(sel, cpl);
    setEip(off);
    return;
  }
  if ((attr & 0x1F) == 0x0C || (attr & 0x1F) == 0x04) { // call gate (32- or 16-bit)
    if (ruleFault(callGateCheck(sel, dHi, cpl))) return;
    const tsel = dLo >>> 16;
    const toff = gateOffset(dLo, dHi);
    if ((tsel & 0xFFFC) != 0 && !readDesc(tsel, VEC_GP, 0)) return;
    if (ruleFault(gateTargetCheck(tsel, dLo, dHi, toff, cpl, 0, true))) return;
    commitCs(tsel, cpl);
    setEip(toff);
    return;
  }
  taskSwitchChecks(sel, attr); // task gates and TSS descriptors: the checks, then #GP (no task switching)
}

export function farCall(sel: u32, off: u32, size: u32): void {
  sel &= 0xFFFF;
  if ((sel & 0xFFFC) == 0) { gp(0); return; }
  if (!readDesc(sel, VEC_GP, 0)) return;
  const attr = descAttr(dHi);
  const retCs = segSel(SEG_CS);
  const retEip = eip;
  if (attr & 0x10) {
    if (size == 2) off &= 0xFFFF;
    if (ruleFault(farTargetCheck(sel, dLo, dHi, off, cpl))) return;
    const lo = dLo, hi = dHi, addr = dAddr;
    const sp = spGet();
    const sp1 = spMask(sp - size);
    const sp2 = spMask(sp - 2 * size);
    memWr(size, SEG_SS, sp1, retCs); if (abort) return;
    memWr(size, SEG_SS, sp2, retEip); if (abort) return;
    spSet(sp2);
    setDescRegs(lo, hi, addr);
    commitCs(sel, cpl);
    setEip(off);
    return;
  }
  if ((attr & 0x1F) == 0x0C || (attr & 0x1F) == 0x04) { callGate(sel, attr); return; }
  taskSwitchChecks(sel, attr);
}


/**
 * Far JMP/CALL to a TSS descriptor or a task gate. Hardware task switching is not implemented: the checks
 * the SDM makes before switching (JMP/CALL "task gate/TSS" and §7.3 step 1-3) raise their faults exactly,
 * and a transfer that would switch tasks raises #GP(selector) instead.
 */
function taskSwitchChecks(sel: u32, attr: u32): void {
  const t = attr & 0x1F;
  const err = sel & 0xFFFC;
  const dpl = descDpl(dHi);
  if (t == 0x05) { // task gate: DPL >= CPL and RPL, present, then the TSS it names
    if (dpl < cpl || dpl < (sel & 3)) { gp(err); return; }
    if (!(attr & 0x80)) { setPending(VEC_NP, err, true); return; }
    const tss = dLo >>> 16;
    if (tss & 4) { gp(tss & 0xFFFC); return; }
    if (!readDesc(tss, VEC_GP, 0)) return;
    tssTargetChecks(tss, descAttr(dHi), false);
    return;
  }
  if (t != 0x09 && t != 0x01 && t != 0x0B && t != 0x03) { gp(err); return; }
  if (dpl < cpl || dpl < (sel & 3)) { gp(err); return; }
  tssTargetChecks(sel, attr, false);
}
/** The new TSS: available (busy for an IRET return), present, limit at least 0x67 (0x2B for 16-bit). */
function tssTargetChecks(sel: u32, attr: u32, wantBusy: bool): void {
  ruleFault(taskTargetCheck(sel, dLo, dHi, wantBusy)); // ends in #GP: the switch itself is not implemented (documented)
}
/** IRET with NT=1 returns to the task in the current TSS's back link (SDM: IRET, "task return"). */
function iretTaskChecks(): void {
  const link = sysRd32(st(OFF_TR + SEG_BASE)) & 0xFFFF;
  if (abort) return;
  if (link & 4) { setPending(VEC_TS, link & 0xFFFC, true); return; } // must be in the GDT
  if (!readDesc(link, VEC_TS, 0)) return;
  tssTargetChecks(link, descAttr(dHi), true);
}

/** CALL through a call gate, to the same or a more privileged level (stack switch with parameter copy). */
function callGate(gateSel: u32, gattr: u32): void {
  if (ruleFault(callGateCheck(gateSel, dHi, cpl))) return;
  const psize = gateSize(dHi);
  const tsel = dLo >>> 16;
  const toff = gateOffset(dLo, dHi);
  const pcount = dHi & 0x1F;
  if ((tsel & 0xFFFC) != 0 && !readDesc(tsel, VEC_GP, 0)) return;
  if (ruleFault(gateTargetCheck(tsel, dLo, dHi, toff, cpl, 0, false))) return;
  const cLo = dLo, cHi = dHi, cAddr = dAddr;
  const retCs = segSel(SEG_CS);
  const retEip = eip;
  const newCpl = gateTargetCpl(cHi, cpl);
  if (newCpl < cpl) {
    // more privileged: switch to the stack the TSS holds for the new level
    if (!tssStack(newCpl, 0)) return;
    const nss = tssSs, nesp = tssEsp;
    const oldSs = segSel(SEG_SS);
    const oldEsp = r32(ESP);
    if (!checkNewSs(nss, newCpl, 0)) return;
    const ssLo = dLo, ssHi = dHi;
    const ssBase = descBase(ssLo, ssHi);
    const frame = (4 + pcount) * psize;
    const big = (ssHi & 0x400000) != 0;
    let sp = nesp;
    if (!stackRoom(ssBase, descLimit(ssLo, ssHi), sp, frame, nss, big)) return;
    const user = newCpl == 3;
    sp -= psize; wrAs(ssBase + spm(sp, big), psize, oldSs, user); if (abort) return;
    sp -= psize; wrAs(ssBase + spm(sp, big), psize, oldEsp, user); if (abort) return;
    for (let i: i32 = <i32>pcount - 1; i >= 0; i--) {
      const v = memRd(psize, SEG_SS, spMask(oldEsp + <u32>i * psize)); if (abort) return;
      sp -= psize; wrAs(ssBase + spm(sp, big), psize, v, user); if (abort) return;
    }
    sp -= psize; wrAs(ssBase + spm(sp, big), psize, retCs, user); if (abort) return;
    sp -= psize; wrAs(ssBase + spm(sp, big), psize, retEip, user); if (abort) return;
    setSegCache(SEG_SS, (nss & 0xFFFC) | newCpl, ssBase, descLimit(ssLo, ssHi), descAttr(ssHi));
    computeSegOk(SEG_SS);
    if (big) w32(ESP, sp); else w16(ESP, sp);
    setDescRegs(cLo, cHi, cAddr);
    commitCs(tsel, newCpl);
    setEip(toff);
    return;
  }
  const sp0 = spGet();
  const sp1 = spMask(sp0 - psize), sp2 = spMask(sp0 - 2 * psize);
  memWr(psize, SEG_SS, sp1, retCs); if (abort) return;
  memWr(psize, SEG_SS, sp2, retEip); if (abort) return;
  spSet(sp2);
  setDescRegs(cLo, cHi, cAddr);
  commitCs(tsel, cpl);
  setEip(toff);
}
@inline function spm(sp: u32, big: bool): u32 { return big ? sp : sp & 0xFFFF; }

// ---- TSS stack lookup and new-SS checks, shared with interrupt delivery ----
export let tssSs: u32 = 0;
export let tssEsp: u32 = 0;
/** Read SSn:ESPn for privilege level `n` from the current TSS; #TS(TR selector + ext) when it lies outside. */
export function tssStack(n: u32, ext: u32): bool {
  const attr = st(OFF_TR + SEG_ATTR);
  const base = st(OFF_TR + SEG_BASE);
  const trSel = st(OFF_TR + SEG_SEL) & 0xFFFC;
  const slot = tssStackSlot(attr, st(OFF_TR + SEG_LIMIT), n);
  if (slot < 0) { setPending(VEC_TS, trSel | ext, true); return false; }
  const off = <u32>slot;
  if ((attr & 8) != 0) { // 32-bit TSS: ESPn, then SSn
    tssEsp = sysRd32(base + off); if (abort) return false;
    tssSs = sysRd32(base + off + 4) & 0xFFFF; if (abort) return false;
  } else { // 16-bit TSS: SPn, then SSn
    const w = sysRd32(base + off); if (abort) return false;
    tssEsp = w & 0xFFFF;
    tssSs = w >>> 16;
  }
  return true;
}
/** Checks for the stack segment of an inner level (SDM: CALL/INT "new SS" checks); leaves its descriptor in dLo/dHi. */
export function checkNewSs(sel: u32, newCpl: u32, ext: u32): bool {
  if ((sel & 0xFFFC) == 0) { setPending(VEC_TS, ext, true); return false; }
  if (!readDesc(sel, VEC_TS, ext)) return false;
  const f = newSsCheck(sel, dHi, newCpl, ext);
  if (f) { setPending(f >>> 16, f & 0xFFFF, true); return false; }
  setAccessed();
  return !abort;
}
/** Is there room for `frame` bytes below `sp` in a stack segment (expand-up or expand-down)? #SS(err) if not. */
export function stackRoom(base: u32, limit: u32, sp: u32, frame: u32, errSel: u32, big: bool): bool {
  return !ruleFault(stackRoomCheck(limit, sp, frame, errSel, big)); // rules.ts
}

export function op_call_far_A(): void {
  if (sensitiveExit(CTRL_EXIT_PRIV_XFER)) return;
  const size = osz();
  farCall(imm2, imm1, size);
}
export function op_jmp_far_A(): void {
  farJmp(imm2, imm1);
}

/** retf [imm16]: same-level or outer-level return (SDM: RET, far return). */
export function op_retf(withImm: bool): void {
  if (sensitiveExit(CTRL_EXIT_PRIV_XFER)) return;
  const size = osz();
  let n: u32 = 0;
  if (withImm) n = imm1;
  const sp = spGet();
  const off = memRd(size, SEG_SS, sp); if (abort) return;
  const sel = memRd(size, SEG_SS, spMask(sp + size)) & 0xFFFF; if (abort) return;
  farReturn(sel, off, size, spMask(sp + 2 * size), n, false, 0);
}

/**
 * The common tail of RETF and IRET: check the return CS and, for an outer level, pop SS:ESP at `sp` (+n for RETF).
 * For IRET `flags` are applied between the checks and the commit.
 */
function farReturn(sel: u32, off: u32, size: u32, sp: u32, n: u32, isIret: bool, newFlags: u32): void {
  const rpl = sel & 3;
  if ((sel & 0xFFFC) == 0) { gp(0); return; }
  if (!readDesc(sel, VEC_GP, 0)) return;
  if (ruleFault(returnCsCheck(sel, dLo, dHi, off, cpl))) return;
  const cLo = dLo, cHi = dHi, cAddr = dAddr;
  const oldCpl = cpl;
  if (rpl == cpl) {
    spSet(spMask(sp + n));
    setDescRegs(cLo, cHi, cAddr);
    commitCs(sel, rpl);
    setEip(off);
    if (isIret) applyIretFlags(newFlags, size, oldCpl);
    return;
  }
  // return to an outer level: pop ESP and SS of that level
  const sp2 = spMask(sp + n);
  const nesp = memRd(size, SEG_SS, sp2); if (abort) return;
  const nss = memRd(size, SEG_SS, spMask(sp2 + size)) & 0xFFFF; if (abort) return;
  if ((nss & 0xFFFC) == 0) { gp(0); return; }
  if (!readDesc(nss, VEC_GP, 0)) return;
  if (ruleFault(returnSsCheck(nss, dHi, rpl))) return;
  setAccessed(); if (abort) return;
  setSegCache(SEG_SS, nss, descBase(dLo, dHi), descLimit(dLo, dHi), descAttr(dHi));
  computeSegOk(SEG_SS);
  const big = (dHi & 0x400000) != 0;
  setDescRegs(cLo, cHi, cAddr);
  commitCs(sel, rpl);
  if (big) w32(ESP, nesp + n); else w16(ESP, nesp + n);
  setEip(off);
  if (isIret) applyIretFlags(newFlags, size, oldCpl);
  nullInaccessible(rpl);
}

/** IRET's flag rules (rules.ts popFlags), at the CPL the IRET ran at; RF is loaded (debug.ts). */
function applyIretFlags(v: u32, size: u32, oldCpl: u32): void {
  setFlags(popFlags(getFlags(), v, size, oldCpl, true));
}

export function op_iret(): void {
  if (fastIret() || fastIretKernel() || sensitiveExit(CTRL_EXIT_PRIV_XFER)) return; // (full mode: fullfast.ts)
  const size = osz();
  if (flagsReg & FLAG_NT) { iretTaskChecks(); return; } // a nested-task return needs a task switch
  const sp = spGet();
  const off = memRd(size, SEG_SS, sp); if (abort) return;
  const sel = memRd(size, SEG_SS, spMask(sp + size)) & 0xFFFF; if (abort) return;
  const fl = memRd(size, SEG_SS, spMask(sp + 2 * size)); if (abort) return;
  if (cpl == 0 && size == 4 && (fl & FLAG_VM)) { gp(0); return; } // virtual-8086 mode is not implemented
  farReturn(sel, off, size, spMask(sp + 3 * size), 0, true, fl);
}

// ---------------------------------------------------------------- flags and interrupts
export function op_pushf(): void {
  if (fastFlags(false) || sensitiveExit(CTRL_EXIT_SENSITIVE)) return; // (full mode: fullfast.ts)
  // VM and RF are never pushed as set (SDM: PUSHF)
  const f = getFlags() & ~(FLAG_VM | FLAG_RF);
  push(osz(), f);
}
export function op_popf(): void {
  if (fastFlags(true) || sensitiveExit(CTRL_EXIT_SENSITIVE)) return;
  const size = osz();
  const v = popPeek(size); if (abort) return;
  spSet(spMask(spGet() + size));
  setFlags(popFlags(getFlags(), v, size, cpl, false)); // IF silently left alone at CPL > IOPL (rules.ts)
}
export function op_cli(): void {
  if (fastCliSti(false)) return; // full mode's virtual IF (fullfast.ts)
  if (cpl > ((flagsReg & FLAG_IOPL) >> 12)) { gp(0); return; }
  setFlags(getFlags() & ~FLAG_IF);
}
export function op_sti(): void {
  if (fastCliSti(true)) return;
  if (cpl > ((flagsReg & FLAG_IOPL) >> 12)) { gp(0); return; }
  const f = getFlags();
  if (!(f & FLAG_IF)) setIntShadow(true); // STI delays interrupts by one instruction
  setFlags(f | FLAG_IF);
}
export function op_hlt(): void {
  if (cpl != 0) { gp(0); return; }
  if (vmxOn && vmxCtl(PROC_HLT)) { vmxExit(VMX_EXIT_HLT, 0); return; }
  setHalted(true);
  if (st(OFF_CTRL) & CTRL_EXIT_HLT) setExitAfter(EXIT_HLT);
}
export function op_int3(): void { softInt(3, true); }
export function op_int1(): void { setPendingDebugTrap(true); }
export function op_int_I(): void { if (!fastSoftInt(imm1)) softInt(imm1, false); } // (full mode: fullfast.ts)
export function op_into(): void { if (getFlags() & 0x800) softInt(4, true); }

// ---------------------------------------------------------------- descriptor tables (0F 00, 0F 01)
export function op_grp6(): void {
    switch (mrReg) {
    case 0: if (sensitiveExit(CTRL_EXIT_SENSITIVE | CTRL_EXIT_DESC_READ)) return; storeSel(st(OFF_LDTR + SEG_SEL)); return;  // sldt
    case 1: if (sensitiveExit(CTRL_EXIT_SENSITIVE | CTRL_EXIT_DESC_READ)) return; storeSel(st(OFF_TR + SEG_SEL)); return;    // str
    case 2: { if (cpl) { gp(0); return; } const s = rmRd(2); if (abort) return; lldt(s); return; }
    case 3: { if (cpl) { gp(0); return; } const s = rmRd(2); if (abort) return; ltr(s); return; }
    case 4: case 5: { if (sensitiveExit(CTRL_EXIT_SENSITIVE)) return; const s = rmRd(2); if (abort) return; verx(s, mrReg == 5); return; }
    default: ud();
  }
}
/** sldt/str: a register destination gets the zero-extended selector, memory gets 16 bits. */
function storeSel(v: u32): void {
  if (mrMod == 3) regWr(o16 ? 2 : 4, mrRm, v & 0xFFFF); else rmWr(2, v);
}
function lldt(sel: u32): void {
  if ((sel & 0xFFFC) == 0) { setLdtr(sel, 0, 0, 0); return; } // a null LDTR is unusable
  if (ruleFault(sysSelCheck(sel))) return;
  if (!readDesc(sel, VEC_GP, 0)) return;
  if (ruleFault(sysDescCheck(sel, dHi, false))) return;
  const attr = descAttr(dHi);
  setLdtr(sel, descBase(dLo, dHi), descLimit(dLo, dHi), attr);
}
function setLdtr(sel: u32, base: u32, limit: u32, attr: u32): void {
  setSt(OFF_LDTR + SEG_SEL, sel); setSt(OFF_LDTR + SEG_BASE, base);
  setSt(OFF_LDTR + SEG_LIMIT, limit); setSt(OFF_LDTR + SEG_ATTR, attr);
}
function ltr(sel: u32): void {
  if ((sel & 0xFFFC) == 0) { gp(0); return; }
  if (ruleFault(sysSelCheck(sel))) return;
  if (!readDesc(sel, VEC_GP, 0)) return;
  if (ruleFault(sysDescCheck(sel, dHi, true))) return; // an available TSS
  const attr = descAttr(dHi);
  sysWr32(dAddr + 4, dHi | 0x200); // mark busy
  if (abort) return;
  setSt(OFF_TR + SEG_SEL, sel); setSt(OFF_TR + SEG_BASE, descBase(dLo, dHi));
  setSt(OFF_TR + SEG_LIMIT, descLimit(dLo, dHi)); setSt(OFF_TR + SEG_ATTR, attr | 2);
}
/** verr/verw: ZF=1 when the segment is readable/writable at the caller's privilege; never faults on the selector. */
function verx(sel: u32, write: bool): void {
  let ok = false;
  if ((sel & 0xFFFC) != 0 && descPeek(sel)) ok = verOk(sel, dHi, cpl, write);
  if (abort) return;
  setStatus(FLAG_ZF, ok ? FLAG_ZF : 0);
}
/** Read a descriptor for lar/lsl/verr/verw: out-of-table selectors just fail (no fault); paging faults still fault. */
function descPeek(sel: u32): bool {
  const idx = sel & 0xFFF8;
  let base: u32, limit: u32;
  if (sel & 4) {
    if (!(st(OFF_LDTR + SEG_ATTR) & 0x80)) return false;
    base = st(OFF_LDTR + SEG_BASE); limit = st(OFF_LDTR + SEG_LIMIT);
  } else { base = st(OFF_GDTR_BASE); limit = st(OFF_GDTR_LIMIT); }
  if (<u64>idx + 7 > <u64>limit) return false;
  const lo = sysRd32(base + idx); if (abort) return false;
  const hi = sysRd32(base + idx + 4); if (abort) return false;
  setDescRegs(lo, hi, base + idx);
  return true;
}
export function op_lar_lsl(isLsl: bool): void {
  if (sensitiveExit(CTRL_EXIT_SENSITIVE)) return;
    const sel = rmRd(2); if (abort) return;
  let ok = false;
  let v: u32 = 0;
  if ((sel & 0xFFFC) != 0 && descPeek(sel)) {
    ok = larLslOk(sel, dHi, cpl, isLsl);
    v = isLsl ? descLimit(dLo, dHi) : dHi & 0x00F0FF00;
  }
  if (abort) return;
  if (ok) regWr(o16 ? 2 : 4, mrReg, v);
  setStatus(FLAG_ZF, ok ? FLAG_ZF : 0);
}

export function op_grp7(): void {
    const r = mrReg;
  if (modrm == 0xC1) { // vmcall: the hypercall instruction when a hypervisor is present
    if (vmxOn) { vmxExit(VMX_EXIT_VMCALL, 0); return; } // (in guest mode: exits unconditionally)
    if (!(st(OFF_CTRL) & CTRL_HYPERCALL)) { ud(); return; }
    setSt(OFF_EXIT_REASON, EXIT_HYPERCALL);
    setExitAfter(EXIT_HYPERCALL);
    return;
  }
  if (r == 4) { // smsw: register form stores CR0 (zero-extended 32-bit), memory 16 bits
    if (sensitiveExit(CTRL_EXIT_SENSITIVE | CTRL_EXIT_DESC_READ)) return;
    const c0 = vmxOn ? vmxCrRead(0, cr0()) : cr0();
    if (mrMod == 3) regWr(o16 ? 2 : 4, mrRm, c0); else rmWr(2, c0);
    return;
  }
  if (r == 6) { // lmsw: can set PE but not clear it; only the low 4 bits
    if (cpl) { gp(0); return; }
    const v = rmRd(2); if (abort) return;
    const old = cr0();
    let n = (old & ~0xE) | (v & 0xE) | (old & 1) | (v & 1);
    if (vmxOn) { if (vmxLmswExits(v, mrMod != 3, mrRm)) return; n = vmxCrMerge(0, n, old); }
    setSt(OFF_CR0, n);
    return;
  }
  if (mrMod == 3) { ud(); return; }
  switch (r) {
    case 0: case 1: { // sgdt/sidt: 16-bit limit, then 32-bit base (not privileged: sensitive)
      if (sensitiveExit(CTRL_EXIT_SENSITIVE | CTRL_EXIT_DESC_READ)) return;
      const b = st(r == 0 ? OFF_GDTR_BASE : OFF_IDTR_BASE);
      const l = st(r == 0 ? OFF_GDTR_LIMIT : OFF_IDTR_LIMIT);
      memWr(2, eaSeg, ea, l); if (abort) return;
      memWr(4, eaSeg, ea + 2, b);
      return;
    }
    case 2: case 3: {
      if (cpl) { gp(0); return; }
      const l = memRd(2, eaSeg, ea); if (abort) return;
      let b = memRd(4, eaSeg, ea + 2); if (abort) return;
      if (o16) b &= 0xFFFFFF;
      setSt(r == 2 ? OFF_GDTR_BASE : OFF_IDTR_BASE, b);
      setSt(r == 2 ? OFF_GDTR_LIMIT : OFF_IDTR_LIMIT, l);
      return;
    }
    case 7: { // invlpg
      if (cpl) { if (!fptInvlpg(segBase(eaSeg) + ea)) gp(0); return; } // (full mode's shadows: fullpt.ts)
      if (vmxOn && vmxCtl(PROC_INVLPG)) { vmxExit(VMX_EXIT_INVLPG, segBase(eaSeg) + ea); return; }
      tlbInvlpg(segBase(eaSeg) + ea);
      return;
    }
    default: ud();
  }
}

// ---------------------------------------------------------------- control and debug registers
export function op_mov_R_C(): void {
    if (cpl) { if (!fastMovFromCr(mrReg, mrRm)) gp(0); return; } // (full mode: fullfast.ts)
  const n = mrReg;
  let v: u32;
  if (n == 0) v = cr0(); else if (n == 2) v = st(OFF_CR2); else if (n == 3) v = st(OFF_CR3); else if (n == 4) v = cr4();
  else { ud(); return; }
  if (vmxOn) {
    if (n == 3 && vmxCtl(PROC_CR3_STORE)) { vmxCr3Exit(true, mrRm); return; }
    v = vmxCrRead(n, v);
  }
  w32(mrRm, v);
}
export function op_mov_C_R(): void {
    if (cpl) { gp(0); return; }
  const n = mrReg;
  let v = r32(mrRm);
  if (vmxOn) {
    if (n == 3 && vmxCtl(PROC_CR3_LOAD)) { vmxCr3Exit(false, mrRm); return; }
    if ((n == 0 || n == 4) && vmxCrWriteExits(n, v, mrRm)) return;
    if (n == 0 || n == 4) v = vmxCrMerge(n, v, n == 0 ? cr0() : cr4());
  }
  if (n == 0) {
    if ((v & CR0_PG) && !(v & CR0_PE)) { gp(0); return; }
    if ((v & CR0_NW) && !(v & CR0_CD)) { gp(0); return; }
    const nv = (v & (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG)) | CR0_ET;
    const old = cr0();
    setSt(OFF_CR0, nv);
    if ((old ^ nv) & (CR0_PG | CR0_WP | CR0_PE)) tlbFlushAll();
  } else if (n == 2) setSt(OFF_CR2, v);
  else if (n == 3) { setSt(OFF_CR3, v & 0xFFFFF018); tlbFlushNonGlobal(); }
  else if (n == 4) {
    const supported = CR4_VME | CR4_PVI | CR4_TSD | CR4_DE | CR4_PSE | CR4_PGE | CR4_OSFXSR;
    if (v & ~supported) { gp(0); return; } // PAE and the rest are not supported (CPUID does not report them)
    if (v & (CR4_VME | CR4_PVI)) { gp(0); return; } // virtual-8086 extensions are not implemented
    const old = cr4();
    setSt(OFF_CR4, v);
    if ((old ^ v) & (CR4_PSE | CR4_PGE)) tlbFlushAll();
  } else ud();
}
function drIndex(n: u32): i32 {
  if (n == 4 || n == 5) { if (cr4() & CR4_DE) return -1; return <i32>n + 2; }
  return <i32>n;
}
export function op_mov_R_D(): void {
    if (cpl) { gp(0); return; }
  const i = drIndex(mrReg); if (i < 0) { ud(); return; }
  if (vmxOn && vmxCtl(PROC_MOV_DR)) { vmxExit(VMX_EXIT_DR, mrReg | QDR_FROM | (mrRm << 8)); return; }
  if (dbgGeneralDetect()) { setPending(VEC_DB, 0, false); return; } // DR7.GD: #DB fault, DR6.BD
  w32(mrRm, st(OFF_DR0 + (<u32>i << 2)));
}
export function op_mov_D_R(): void {
    if (cpl) { gp(0); return; }
  const i = drIndex(mrReg); if (i < 0) { ud(); return; }
  if (vmxOn && vmxCtl(PROC_MOV_DR)) { vmxExit(VMX_EXIT_DR, mrReg | (mrRm << 8)); return; }
  if (dbgGeneralDetect()) { setPending(VEC_DB, 0, false); return; }
  let v = r32(mrRm);
  if (i == 6) v = (v & 0xE00F) | 0xFFFF0FF0;
  if (i == 7) v = (v & 0xFFFF2BFF) | 0x400;
  setSt(OFF_DR0 + (<u32>i << 2), v);
  // the breakpoints are armed from the next instruction on (debug.ts); the run loop re-checks between blocks
  if (dbgRecompute()) tlbFlushAll();
  setStopBlock(true);
}
export function op_clts(): void {
  if (cpl) { gp(0); return; }
  if (vmxOn && vmxClts()) return; // exited, or TS is host-owned with a clear shadow (left alone)
  setSt(OFF_CR0, cr0() & ~CR0_TS);
}
export function op_wbinvd(): void { if (cpl) gp(0); }

// ---------------------------------------------------------------- cpuid, rdtsc, msr
// CPUID: an honest feature list. Vendor "WasmvisorX86"; family 6 model 0.
// Leaf 1 EDX: FPU(0) PSE(3) TSC(4) MSR(5) CX8(8) PGE(13) CMOV(15) FXSR(24). Leaf 0x80000000..4: brand string.
export function op_cpuid(): void {
  if (vmxOn) { vmxExit(VMX_EXIT_CPUID, 0); return; } // (in guest mode: exits unconditionally)
  cpuidLeaf(r32(EAX));
  w32(EAX, cpuidA); w32(EBX, cpuidB); w32(ECX, cpuidC); w32(EDX, cpuidD);
}
export let cpuidA: u32 = 0, cpuidB: u32 = 0, cpuidC: u32 = 0, cpuidD: u32 = 0;
/** The CPU's own answer to CPUID `leaf` (cpuidA..D): what a hypervisor emulating CPUID reads as the hardware's. */
export function cpuidLeaf(leaf: u32): void {
  let a: u32 = 0, b: u32 = 0, c: u32 = 0, d: u32 = 0;
  if (leaf >= 0x40000000 && leaf < 0x40000100 && (st(OFF_CTRL) & CTRL_HYPERCALL)) {
    // the hypervisor range (as KVM and Xen report theirs); the host fills the signature
    if (leaf == 0x40000000) { a = st(OFF_HV_SIGNATURE); b = st(OFF_HV_SIGNATURE + 4); c = st(OFF_HV_SIGNATURE + 8); d = st(OFF_HV_SIGNATURE + 12); }
  } else if (leaf == 0) { a = 1; b = 0x6D736157; d = 0x6F736976; c = 0x36385872; } // "Wasm" "viso" "rX86"
  else if (leaf == 1) {
    a = 0x00000600; b = 0; c = 0;
    d = 1 | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 8) | (1 << 13) | (1 << 15) | (1 << 24) | (st(OFF_CPUID_EDX_EXTRA) & (1 << 9)); // + APIC if present
  }
  else if (leaf == 0x80000000) { a = 0x80000004; }
  else if (leaf >= 0x80000002 && leaf <= 0x80000004) {
    // "wasmvisor x86 interpreter" padded with NULs, 16 bytes per leaf
    const i = leaf - 0x80000002;
    if (i == 0) { a = 0x6D736177; b = 0x6F736976; c = 0x38782072; d = 0x6E692036; }
    else if (i == 1) { a = 0x70726574; b = 0x65746572; c = 0x00000072; d = 0; }
  }
  cpuidA = a; cpuidB = b; cpuidC = c; cpuidD = d;
}
/** The TSC: instructions retired, + the host's adjustment (full mode: the instructions its monitor emulated), + the
 * TSC offset in guest mode. */
function tsc(): u64 {
  return vmxTsc(icount) + ((<u64>st(OFF_TSC_ADJUST_HI) << 32) | <u64>st(OFF_TSC_ADJUST_LO));
}
export function op_rdtsc(): void {
  if ((cr4() & CR4_TSD) && cpl != 0) { gp(0); return; }
  if (vmxOn && vmxCtl(PROC_RDTSC)) { vmxExit(VMX_EXIT_RDTSC, 0); return; }
  // the time-stamp counter is the retired-instruction count, so runs are deterministic
  const t = tsc(); // (+ the TSC offset in guest mode)
  w32(EAX, <u32>t);
  w32(EDX, <u32>(t >> 32));
}
export function op_rdmsr(): void {
  if (cpl) { gp(0); return; }
  const m = r32(ECX);
  if (vmxOn && vmxMsr(m, false)) return;
  if (m == 0x10) { const t = tsc(); w32(EAX, <u32>t); w32(EDX, <u32>(t >> 32)); return; }
  if (m == 0x1B && (st(OFF_CPUID_EDX_EXTRA) & (1 << 9))) { // IA32_APIC_BASE: the BSP's APIC, enabled, at 0xFEE00000
    w32(EAX, st(OFF_APIC_BASE)); w32(EDX, 0); return;
  }
  gp(0); // no other MSRs exist
}
export function op_wrmsr(): void {
  if (cpl) { gp(0); return; }
  if (vmxOn && vmxMsr(r32(ECX), true)) return;
  if (r32(ECX) == 0x1B && (st(OFF_CPUID_EDX_EXTRA) & (1 << 9))) {
    // the APIC cannot move (the host maps it at 0xFEE00000): a write keeping that base is taken, others #GP
    const lo = r32(EAX);
    if ((lo & 0xFFFFF000) != 0xFEE00000 || r32(EDX) != 0 || (lo & 0x6FF)) { gp(0); return; }
    setSt(OFF_APIC_BASE, lo | 0x100); // BSP stays set
    return;
  }
  gp(0); // the TSC is the instruction count and cannot be written; no other MSRs exist
}
