// ops/interrupt.ts — delivery of exceptions, software and external interrupts through the IDT
// (SDM Vol. 3A §6.12), the double-fault rules (§6.15, table 6-5) and triple fault → shutdown.
//
// Gate descriptor (interrupt 0x0E / trap 0x0F, 32-bit; 0x06 / 0x07 16-bit):
//  63           48 47 46 45 44    40 39      32
// +---------------+--+-----+--------+----------+
// | offset 31:16  |P | DPL |0 type   | reserved |
// +---------------+--+-----+--------+----------+
// | selector      |        offset 15:0         |
// +---------------+----------------------------+
// Task gates (0x05) raise #GP: hardware task switching is not implemented.
import {
  OFF_IDTR_BASE, OFF_IDTR_LIMIT, OFF_EXC_BITMAP, OFF_CTRL, CTRL_EXIT_SOFTINT, OFF_EXIT_REASON, OFF_EXIT_VECTOR,
  OFF_EXIT_ERROR, OFF_EXIT_HAS_ERROR, OFF_EXIT_EIP, EXIT_EXCEPTION, EXIT_SOFTINT, EXIT_SHUTDOWN, OFF_EXC_COUNT,
  VEC_DF, VEC_PF, VEC_GP, VEC_SS, VEC_TS, FLAG_RF, SEG_CS, SEG_SS, CTRL_FAST_PF,
} from "../abi";
import { fastPageFault } from "../fullfast";
import {
  eip, setEip, ip0, abort, setAbort, setPending, pendVector, pendError, pendHasError, cpl, st, setSt, r32, w32, w16,
  segSel, segBase, segLimit, segAttr, setSegCache, setExitAfter, setHalted, ESP, setNoHostExits,
} from "../state";
import { getFlags, setFlags } from "../flags";
import { sysRd32, wrAs, computeSegOk, checkWritable, bumpEpoch } from "../mmu";
import { readDesc, dLo, dHi, dAddr, descAttr, descBase, descLimit, setDescRegs } from "./descriptors";
import { tssStack, tssSs, tssEsp, checkNewSs, stackRoom, setCpl } from "./system";
import {
  escalation, framePushesRf, idtLimitCheck, idtGateCheck, gateOffset, gateSize, gateTargetCheck, gateTargetCpl,
  deliveryFrameSize, deliveryFlags,
} from "./rules";
import { excIntercepted, vmxOn, vmxVectoringExit } from "../vmx";

// a #DB trap (INT1) due after the current instruction: vCPU state, synced with OFF_PENDING_DBG at run() entry/exit
export let pendingDebugTrap: bool = false;
export function setPendingDebugTrap(b: bool): void { pendingDebugTrap = b; }


/** Exit to the host with an intercepted exception (the exception bitmap, like a VMCS's). */
function exitException(v: u32, err: u32, hasErr: bool): void {
  setSt(OFF_EXIT_REASON, EXIT_EXCEPTION);
  setSt(OFF_EXIT_VECTOR, v);
  setSt(OFF_EXIT_ERROR, hasErr ? err : 0);
  setSt(OFF_EXIT_HAS_ERROR, hasErr ? 1 : 0);
  setSt(OFF_EXIT_EIP, eip);
  setExitAfter(EXIT_EXCEPTION);
}
function shutdown(): void {
  setSt(OFF_EXIT_REASON, EXIT_SHUTDOWN);
  setSt(OFF_EXIT_EIP, eip);
  setExitAfter(EXIT_SHUTDOWN);
  setHalted(true);
}

/**
 * Deliver a hardware exception (EIP already points where the handler must return: the faulting instruction
 * for faults, the next one for traps). Faults during delivery follow the double-fault rules.
 */
export function raiseException(vec: u32, err: u32, hasErr: bool): void {
  setSt(OFF_EXC_COUNT, st(OFF_EXC_COUNT) + 1);
  // faults raised while delivering a hardware exception carry EXT=1 in their error codes (SDM §6.13)
  dispatchEvent(vec, err, hasErr, false, 1, false);
}
/** External interrupt (INTR) with the vector the PIC supplied. */
export function deliverExternal(vec: u32): void { dispatchEvent(vec, 0, false, false, 1, true); }


/** INT n / INT3 / INTO: EIP already points after the instruction; faults raised by delivery point at it. */
export function softInt(vec: u32, isTrapLike: bool): void {
  if (st(OFF_CTRL) & CTRL_EXIT_SOFTINT) {
    setSt(OFF_EXIT_REASON, EXIT_SOFTINT);
    setSt(OFF_EXIT_VECTOR, vec);
    setSt(OFF_EXIT_HAS_ERROR, 0);
    setExitAfter(EXIT_SOFTINT);
    return;
  }
  setNoHostExits(true);
  deliver(vec, 0, false, true, 0, false);
  setNoHostExits(false);
  // a fault here is raised by the run loop with EIP restored to the INT instruction
}

function dispatchEvent(vec: u32, err: u32, hasErr: bool, soft: bool, ext: u32, external: bool): void {
  let v = vec, e = err, he = hasErr;
  const retEip = eip;
  for (let i = 0; i < 4; i++) {
    if (!external || i > 0) {
      if (v < 32 && excIntercepted(v, e)) {
        // full mode: a true #PF from the guest's user mode delivered into its kernel in the CPU (fullfast.ts)
        if (v == VEC_PF && i == 0 && !vmxOn && (st(OFF_CTRL) & CTRL_FAST_PF) && fastPageFault(e)) return;
        exitException(v, e, he); return; // (vmx.ts: the bitmap, or the VMCS's)
      }
    }
    setNoHostExits(true);
    deliver(v, e, he, soft, ext, framePushesRf(v, soft, external)); // faults push RF=1 (rules.ts)
    setNoHostExits(false);
    if (!abort) return;
    setAbort(0);
    setEip(retEip);
    // guest mode: a fault the exception bitmap intercepts exits as itself, with this event as IDT-vectoring info
    if (vmxOn && pendVector < 32 && vmxVectoringExit(v, e, he, soft, external)) { exitException(pendVector, pendError, pendHasError); return; }
    const next = escalation(v, pendVector, soft); // #DF, the new fault, or a triple fault (rules.ts)
    if (next < 0) { shutdown(); return; }
    if (<u32>next == VEC_DF && pendVector != VEC_DF) { v = VEC_DF; e = 0; he = true; }
    else { v = <u32>next; e = pendError; he = pendHasError; }
    // faults while delivering an exception or external interrupt carry EXT=1 in their selector error codes
    ext = 1;
    soft = false;
    external = false;
  }
  shutdown();
}

/** One delivery attempt. On a fault, sets the pending exception (abort) and changes no state. */
export function deliver(vec: u32, err: u32, hasErr: bool, soft: bool, ext: u32, fault: bool): void {
  // every decision is a rule shared with the full-mode monitor (rules.ts); this function does the accesses
  let f = idtLimitCheck(vec, st(OFF_IDTR_LIMIT), ext);
  if (f) { setPending(f >>> 16, f & 0xFFFF, true); return; }
  const gAddr = st(OFF_IDTR_BASE) + (vec << 3);
  const lo = sysRd32(gAddr); if (abort) return;
  const hi = sysRd32(gAddr + 4); if (abort) return;
  f = idtGateCheck(vec, hi, soft, cpl, ext);
  if (f) { setPending(f >>> 16, f & 0xFFFF, true); return; }
  const sel = lo >>> 16;
  const off = gateOffset(lo, hi);
  if ((sel & 0xFFFC) != 0 && !readDesc(sel, VEC_GP, ext)) return;
  f = gateTargetCheck(sel, dLo, dHi, off, cpl, ext, false);
  if (f) { setPending(f >>> 16, f & 0xFFFF, true); return; }
  const cLo = dLo, cHi = dHi, cAddr = dAddr;
  const psize = gateSize(hi);
  const flags = getFlags() | (fault ? FLAG_RF : 0);
  const oldCs = segSel(SEG_CS);
  const newCpl = gateTargetCpl(cHi, cpl);
  if (newCpl < cpl) {
    // inter-privilege: stack from the TSS, frame SS ESP EFLAGS CS EIP [err]
    if (!tssStack(newCpl, ext)) return;
    const nss = tssSs, nesp = tssEsp;
    if (!checkNewSs(nss, newCpl, ext)) return;
    const ssLo = dLo, ssHi = dHi;
    const ssBase = descBase(ssLo, ssHi);
    const ssLimit = descLimit(ssLo, ssHi);
    const big = (ssHi & 0x400000) != 0;
    const frame = deliveryFrameSize(hi, true, hasErr);
    if (!stackRoom(ssBase, ssLimit, nesp, frame, nss | ext, big)) return;
    const sp0 = big ? nesp : nesp & 0xFFFF;
    const low = sp0 - frame;
    const user = newCpl == 3;
    checkWritable(ssBase + low, frame, user); if (abort) return;
    let sp = sp0;
    sp -= psize; wrAs(ssBase + sp, psize, segSel(SEG_SS), user);
    sp -= psize; wrAs(ssBase + sp, psize, r32(ESP), user);
    sp -= psize; wrAs(ssBase + sp, psize, flags, user);
    sp -= psize; wrAs(ssBase + sp, psize, oldCs, user);
    sp -= psize; wrAs(ssBase + sp, psize, eip, user);
    if (hasErr) { sp -= psize; wrAs(ssBase + sp, psize, err, user); }
    if (abort) return;
    setSegCache(SEG_SS, (nss & 0xFFFC) | newCpl, ssBase, ssLimit, descAttr(ssHi));
    computeSegOk(SEG_SS);
    if (big) w32(ESP, sp); else w16(ESP, sp);
    setDescRegs(cLo, cHi, cAddr);
    commitHandlerCs(sel, newCpl);
  } else {
    // same privilege (or a conforming handler): frame EFLAGS CS EIP [err] on the current stack
    const ssa = segAttr(SEG_SS);
    const big = (ssa & 0x4000) != 0;
    const frame = deliveryFrameSize(hi, false, hasErr);
    const sp0 = big ? r32(ESP) : r32(ESP) & 0xFFFF;
    if (!stackRoom(segBase(SEG_SS), segLimit(SEG_SS), sp0, frame, ext, big)) return;
    const base = segBase(SEG_SS);
    const user = cpl == 3;
    checkWritable(base + sp0 - frame, frame, user); if (abort) return;
    let sp = sp0;
    sp -= psize; wrAs(base + sp, psize, flags, user);
    sp -= psize; wrAs(base + sp, psize, oldCs, user);
    sp -= psize; wrAs(base + sp, psize, eip, user);
    if (hasErr) { sp -= psize; wrAs(base + sp, psize, err, user); }
    if (abort) return;
    if (big) w32(ESP, sp); else w16(ESP, sp);
    setDescRegs(cLo, cHi, cAddr);
    commitHandlerCs(sel, cpl);
  }
  setFlags(deliveryFlags(flags, hi));
  setEip(off);
  setHalted(false);
}

function commitHandlerCs(sel: u32, newCpl: u32): void {
  bumpEpoch();
  setSegCache(SEG_CS, (sel & 0xFFFC) | newCpl, descBase(dLo, dHi), descLimit(dLo, dHi), descAttr(dHi));
  computeSegOk(SEG_CS);
  if (newCpl != cpl) setCpl(newCpl);
}
