// fullfast.ts — full mode's hot traps handled inside the CPU (abi.ts "full-fast" block; host/full/README.md
// "Fast paths"), the way KVM handles the common exits in the kernel instead of in user space.
//
// A full-mode monitor runs the guest kernel at real CPL 3 with virtual CPL 0 and keeps the virtual IF and IOPL
// itself; cli/sti trap (#GP: real IOPL 0) and pushf/popf exit (CTRL_EXIT_SENSITIVE). With CTRL_FAST_VIF set the
// monitor shares its virtual flags and CPL here (OFF_FF_VFLAGS, OFF_FF_VCPL: one copy, the monitor reads them in
// place), and those four instructions run on them without an exit, with the monitor's own rules (guest EFLAGS =
// the real flags with the virtual IF/IOPL; popf by rules.ts popFlags at the virtual CPL). Only the handlers of
// these four instructions call in here, after one test of the control word: nothing else pays, and with the
// control clear they behave exactly as before. Whatever the fast path cannot decide falls back to the old exit:
//   - cli/sti at a virtual CPL above the virtual IOPL (the #GP is the monitor's to reflect);
//   - an sti or popf that would set the virtual IF while a virtual interrupt waits (OFF_FF_PENDING): the
//     interrupt window opens, so the monitor must see it to inject at the right boundary (after sti's shadow);
//   - popf from virtual CPL 3 (its exits depend on IF/IOPL: mode.ts applySensitiveExits).
// And: (CTRL_FAST_SEG) the kernel's loads of its own data segments, which trap only because the real CPL is 3;
// (CTRL_FAST_INT) INT n from user mode into the guest kernel through its IDT, and IRET back, with the switch of
// shadow, table view and exit controls the monitor publishes (fastSoftInt / fastIret below); (CTRL_FAST_CR) mov
// from CR0/2/3/4 at virtual CPL 0. No allocation, no host call: loads, stores and the rules of ops/rules.ts.
// The instruction retires normally, so the virtual clock counts it once, as the monitor's emulation does.
import {
  FLAG_IF, FLAG_IOPL, FLAG_VM, FLAG_RF, OFF_CTRL, CTRL_FAST_VIF, CTRL_EXIT_SENSITIVE, OFF_FF_VFLAGS, OFF_FF_VCPL,
  OFF_FF_PENDING, OFF_FF_N_CLI, OFF_FF_N_STI, OFF_FF_N_PUSHF, OFF_FF_N_POPF, OFF_EXIT_REASON, EXIT_SENSITIVE,
  CTRL_FAST_SEG, OFF_FF_N_SEG, OFF_FF_TABLES_OK, SEG_SS, SEG_CS, FLAG_TF, FLAG_NT,
  CTRL_FAST_INT, OFF_FF_N_INT, OFF_FF_N_IRET, OFF_FF_KPD, OFF_FF_UPD, OFF_FF_KCTRL, OFF_FF_UCTRL, OFF_FF_GDT_K,
  OFF_FF_GDT_U, OFF_FF_GDT_U_PHYS, OFF_FF_LDT_K, OFF_FF_LDT_U, OFF_FF_IDT_BASE, OFF_FF_IDT_LIMIT, OFF_FF_GDT_BASE, OFF_FF_GDT_LIMIT,
  OFF_FF_TR_BASE, OFF_FF_TR_LIMIT, OFF_FF_TR_ATTR, OFF_CR3, OFF_GDTR_BASE, OFF_LDTR, SEG_BASE, SEG_ATTR,
  CTRL_EXIT_PRIV_XFER, CTRL_EXIT_DESC_READ, CTRL_FAST_CR, OFF_FF_N_MOVCR, OFF_FF_VCR0,
  CTRL_FAST_SREG, OFF_FF_N_SREG, OFF_FF_N_IRET0,
  CTRL_FAST_PF, OFF_FPF_N, OFF_FPT_NFRAMES, OFF_FPT_RAMOFF, OFF_CR2, OFF_FF_VCR2, OFF_FF_VCR3, OFF_FF_VCR4, VEC_PF,
  PF_U, PF_W, PF_P, PF_RSVD, PTE_P, PTE_U, PTE_W, PTE_A, PTE_PS, CR0_PG, CR4_PSE,
} from "./abi";
import { st, setSt, abort, setAbort, ABORT_EXIT, eip, setEip, r32, w32, ESP, segSel, segAttr, segBase, segLimit, setSegCache } from "./state";
import { getFlags, setFlags, flagsReg } from "./flags";
import { push, popPeek, osz, spGet, spSet, spMask, stack32, memRd } from "./decode";
import { physRd32, physWr32, inRam, computeSegOk, bumpEpoch, tlbFlushAll } from "./mmu";
import {
  popFlags, dataSegCheck, idtLimitCheck, idtGateCheck, gateOffset, gateTargetCheck, gateTargetCpl, tssStackSlot,
  newSsCheck, stackRoomCheck, deliveryFlags, returnCsCheck, returnSsCheck, nullsOnReturn, framePushesRf,
} from "./ops/rules";

const VBITS: u32 = FLAG_IF | FLAG_IOPL;

@inline function bump(off: u32): void { setSt(off, st(off) + 1); }
/** EFLAGS as the guest sees them: the real flags with the virtual IF and IOPL (host/full/mode.ts guestFlags) */
@inline function guestFlags(): u32 { return (getFlags() & ~VBITS) | (st(OFF_FF_VFLAGS) & VBITS); }
/** the monitor's setGuestFlags: virtual IF/IOPL kept here, the real IF stays 1 and the real IOPL 0 */
@inline function setGuestFlags(f: u32): void {
  setSt(OFF_FF_VFLAGS, f & VBITS);
  setFlags((f & ~(FLAG_IOPL | FLAG_VM)) | FLAG_IF);
}
/** the instruction exits to the host unexecuted, EIP on it, as a sensitive exit (the monitor emulates it) */
@inline function exitUnexecuted(): void {
  setSt(OFF_EXIT_REASON, EXIT_SENSITIVE);
  setAbort(ABORT_EXIT);
}

/** cli/sti: true when done on the virtual IF (the caller returns), false to take the old path (#GP → monitor). */
export function fastCliSti(set: bool): bool {
  if (!(st(OFF_CTRL) & CTRL_FAST_VIF)) return false;
  const vf = st(OFF_FF_VFLAGS);
  if (st(OFF_FF_VCPL) > ((vf & FLAG_IOPL) >> 12)) return false;
  if (set) {
    // opening the window with an interrupt waiting: the monitor emulates this sti, runs its shadow, then injects
    if (!(vf & FLAG_IF) && st(OFF_FF_PENDING)) return false;
    setSt(OFF_FF_VFLAGS, vf | FLAG_IF);
    bump(OFF_FF_N_STI);
  } else {
    setSt(OFF_FF_VFLAGS, vf & ~FLAG_IF);
    bump(OFF_FF_N_CLI);
  }
  return true;
}

/** pushf/popf while the CPU would hand them over (CTRL_EXIT_SENSITIVE): true when the fast path took it. */
export function fastFlags(pop: bool): bool {
  const c = st(OFF_CTRL);
  if ((c & (CTRL_FAST_VIF | CTRL_EXIT_SENSITIVE)) != (CTRL_FAST_VIF | CTRL_EXIT_SENSITIVE)) return false;
  const size = osz();
  if (!pop) {
    // VM and RF are never pushed as set (SDM: PUSHF), as the monitor's emulation
    push(size, guestFlags() & ~(FLAG_VM | FLAG_RF));
    if (!abort) bump(OFF_FF_N_PUSHF);
    return true;
  }
  const vcpl = st(OFF_FF_VCPL);
  if (vcpl >= 3) return false;
  const v = popPeek(size); if (abort) return true; // its fault, as the CPU's own popf
  const old = guestFlags();
  const nf = popFlags(old, v, size, vcpl, false);
  if (!(old & FLAG_IF) && (nf & FLAG_IF) && st(OFF_FF_PENDING)) { exitUnexecuted(); return true; }
  spSet(spMask(spGet() + size));
  setGuestFlags(nf);
  bump(OFF_FF_N_POPF);
  return true;
}

/**
 * A DS/ES/FS/GS load whose descriptor check (rules.ts dataSegCheck) failed at the real CPL 3 (ops/system.ts
 * loadDataSeg calls this on that failure path only): with CTRL_FAST_SEG at a virtual CPL below 3 the same rule
 * is applied at the virtual CPL, as the monitor's emulation does; true = the load may go on (the caller commits it).
 * The descriptor was read from the real GDT/LDT, whose code/data descriptors are the guest's, copied exactly
 * (host/full/mode.ts syncTables); only while the monitor's last sync of that copy succeeded (OFF_FF_TABLES_OK: a
 * table it could not read leaves a stale copy, and the CPU natively faults on the descriptor read). One whose
 * accessed bit is clear takes the old exit, so that the bit is set in the guest's table, not in the copy. SS loads
 * always exit (CTRL_EXIT_PRIV_XFER).
 */
export function fastDataSeg(s: u32, sel: u32, lo: u32, hi: u32): bool {
  if (!(st(OFF_CTRL) & CTRL_FAST_SEG) || s == SEG_SS || !st(OFF_FF_TABLES_OK)) return false;
  const vcpl = st(OFF_FF_VCPL);
  if (vcpl >= 3 || !(hi & 0x100) || dataSegCheck(s, sel, hi, vcpl) != 0) return false;
  if (!descCurrent(sel, lo, hi)) return false;
  bump(OFF_FF_N_SEG);
  return true;
}

/**
 * The copy's descriptor for GDT selector `sel` (lo, hi) is still the guest's: a kernel rewrites descriptors in its
 * GDT without lgdt (Linux: the TLS entries), and a load from a stale copy would give the old base/limit. The guest's
 * descriptor is read through the current (kernel-view) shadow, which the monitor fills for the descriptor's page on
 * the exit this takes otherwise (mode.ts loadDataSeg); a difference exits, and the monitor's exit re-syncs the copy
 * (privileged.ts "gdt resync"). LDT selectors always exit (the guest's LDT base is not published).
 */
function descCurrent(sel: u32, lo: u32, hi: u32): bool {
  if (sel & 4) return false;
  walkFailed = false;
  const a = st(OFF_FF_GDT_BASE) + (sel & 0xFFF8), pd = st(OFF_CR3);
  const gl = rdShadow(pd, a), gh = rdShadow(pd, a + 4);
  return !walkFailed && gl == lo && gh == hi;
}

// ---------------------------------------------------------------- INT n into the guest kernel, IRET back (CTRL_FAST_INT)
const NONE: u32 = 0xFFFFFFFF;
const XFER_CTRLS: u32 = CTRL_EXIT_SENSITIVE | CTRL_EXIT_PRIV_XFER | CTRL_EXIT_DESC_READ;
let walkFailed: bool = false;

/** Machine address of `lin` through the shadow page directory `pd`, or NONE: a present, user (the K shadow maps the
 *  guest's kernel pages user), for a write writable, 4 KiB entry in RAM. Never faults, never sets A/D. */
function shadowPhys(pd: u32, lin: u32, write: bool): u32 {
  const pde = physRd32((pd & 0xFFFFF000) + ((lin >>> 22) << 2));
  const need: u32 = write ? 7 : 5;
  if ((pde & need) != need || (pde & 0x80)) return NONE;
  const pte = physRd32((pde & 0xFFFFF000) + (((lin >>> 12) & 0x3FF) << 2));
  if ((pte & need) != need) return NONE;
  const p = (pte & 0xFFFFF000) | (lin & 0xFFF);
  return inRam(p, 4) ? p : NONE;
}
/** a dword of guest linear memory through shadow `pd` (walkFailed set if it is not there or crosses a page) */
function rdShadow(pd: u32, lin: u32): u32 {
  const p = (lin & 0xFFF) <= 0xFFC ? shadowPhys(pd, lin, false) : NONE;
  if (p == NONE) { walkFailed = true; return 0; }
  return physRd32(p);
}
/** the guest's GDT descriptor high/low words for a GDT selector, through `pd`; false if not readable here */
let dLo: u32 = 0, dHi: u32 = 0;
function guestDesc(pd: u32, sel: u32): bool {
  if ((sel & 4) || (sel & 0xFFFC) == 0 || (sel | 7) > st(OFF_FF_GDT_LIMIT)) return false;
  const a = st(OFF_FF_GDT_BASE) + (sel & 0xFFF8);
  dLo = rdShadow(pd, a); dHi = rdShadow(pd, a + 4);
  return !walkFailed && (dHi & 0x100) != 0; // accessed already (else the CPU would set it: the monitor's job)
}
@inline function dBase(lo: u32, hi: u32): u32 { return (lo >>> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000); }
@inline function dLimit(lo: u32, hi: u32): u32 {
  const l = (lo & 0xFFFF) | (hi & 0xF0000);
  return (hi & 0x800000) ? (l << 12) | 0xFFF : l;
}
@inline function dAttr(hi: u32): u32 { return (hi >> 8) & 0xF0FF; }
/** the real switch of view the monitor's applyMode makes: CR3, GDT/LDT view, exit controls */
function switchView(user: bool): void {
  setSt(OFF_CR3, st(user ? OFF_FF_UPD : OFF_FF_KPD));
  if (user) tlbFlushAll(); // K → U: the K view's supervisor translations must not survive (U → K keeps them)
  setSt(OFF_GDTR_BASE, st(user ? OFF_FF_GDT_U : OFF_FF_GDT_K));
  if (segAttrLdtr() & 0x80) setSt(OFF_LDTR + SEG_BASE, st(user ? OFF_FF_LDT_U : OFF_FF_LDT_K));
  setSt(OFF_CTRL, (st(OFF_CTRL) & ~XFER_CTRLS) | st(user ? OFF_FF_UCTRL : OFF_FF_KCTRL));
  setSt(OFF_FF_VCPL, user ? 3 : 0);
}
@inline function segAttrLdtr(): u32 { return st(OFF_LDTR + SEG_ATTR); }
/** CS/SS as the monitor loads them: RPL 3 and a DPL-3 cache, the guest's descriptor otherwise */
function loadReal(s: u32, sel: u32, lo: u32, hi: u32): void {
  setSegCache(s, sel | 3, dBase(lo, hi), dLimit(lo, hi), dAttr(hi) | 0x60);
  computeSegOk(s);
}

/**
 * INT n (op_int_I, before the exit CTRL_EXIT_SOFTINT makes) from virtual CPL 3 with the virtual IF set and IOPL 0
 * into the guest kernel at virtual CPL 0: the monitor's reflect.ts deliver with the same rules, when everything it
 * needs is readable through the K shadow now. True = delivered; false = take the exit (nothing was changed).
 */
export function fastSoftInt(vec: u32): bool {
  if (!(st(OFF_CTRL) & CTRL_FAST_INT)) return false;
  if (!toKernel(vec, true, false, 0)) return false;
  bump(OFF_FF_N_INT);
  return true;
}

/**
 * Delivery of `vec` from virtual CPL 3 through a 32-bit interrupt/trap gate of the guest's IDT to its kernel
 * (virtual CPL 0), the stack from its TSS, the frame (with `err` when `hasErr`) written through the K shadow; the
 * switch to the K shadow without a flush. `soft`: INT n (the gate's DPL checked); else a fault (RF in the frame).
 * False with nothing changed whenever the monitor's delivery would do anything else or read anything the K shadow
 * does not map now (it then faults, escalates or fills: the exit does exactly that).
 */
function toKernel(vec: u32, soft: bool, hasErr: bool, err: u32): bool {
  const kpd = st(OFF_FF_KPD);
  if (st(OFF_FF_VCPL) != 3 || st(OFF_FF_VFLAGS) != FLAG_IF || !kpd || !st(OFF_FF_UPD)) return false;
  if ((flagsReg & (FLAG_TF | FLAG_VM)) || !stack32()) return false;
  const ext: u32 = soft ? 0 : 1;
  if (idtLimitCheck(vec, st(OFF_FF_IDT_LIMIT), ext)) return false;
  walkFailed = false;
  const ga = st(OFF_FF_IDT_BASE) + (vec << 3);
  const lo = rdShadow(kpd, ga), hi = rdShadow(kpd, ga + 4);
  if (walkFailed || idtGateCheck(vec, hi, soft, 3, ext)) return false;
  const type = (hi >> 8) & 0x1F;
  if (type != 0x0E && type != 0x0F) return false; // 16-bit and task gates: the monitor
  const sel = lo >>> 16, off = gateOffset(lo, hi);
  if (!guestDesc(kpd, sel)) return false;
  const cLo = dLo, cHi = dHi;
  if (gateTargetCheck(sel, cLo, cHi, off, 3, ext, false) || gateTargetCpl(cHi, 3) != 0) return false;
  // the ring-0 stack from the guest's 32-bit TSS
  const trAttr = st(OFF_FF_TR_ATTR);
  const slot = tssStackSlot(trAttr, st(OFF_FF_TR_LIMIT), 0);
  if (slot < 0 || !(trAttr & 8)) return false;
  const ta = st(OFF_FF_TR_BASE) + <u32>slot;
  const esp0 = rdShadow(kpd, ta), ss0 = rdShadow(kpd, ta + 4) & 0xFFFF;
  if (walkFailed || !guestDesc(kpd, ss0)) return false;
  const sLo = dLo, sHi = dHi;
  const size: u32 = hasErr ? 24 : 20;
  if (newSsCheck(ss0, sHi, 0, 0) || !(sHi & 0x400000)) return false;
  if (stackRoomCheck(dLimit(sLo, sHi), esp0, size, ss0, true)) return false;
  const nesp = esp0 - size;
  let fl = guestFlags();
  if (framePushesRf(vec, soft, false)) fl |= FLAG_RF;
  // an interrupt waiting for IF: a trap gate leaves IF set, and the monitor injects before the handler's first instruction
  if ((hi & 0x100) && st(OFF_FF_PENDING)) return false;
  const lin = dBase(sLo, sHi) + nesp;
  const p0 = shadowPhys(kpd, lin, true), p1 = shadowPhys(kpd, lin + size - 4, true);
  if (p0 == NONE || p1 == NONE || (lin & 3)) return false; // (aligned: each dword inside one page)
  // commit: the frame [err] EIP CS EFLAGS ESP SS (the user's selectors: RPL 3 is the virtual one)
  const frame0 = eip, frame1 = segSel(SEG_CS) & 0xFFFF, frame3 = r32(ESP), frame4 = segSel(SEG_SS) & 0xFFFF;
  const n: u32 = size >>> 2, e0: u32 = hasErr ? 1 : 0;
  for (let i: u32 = 0; i < n; i++) {
    const j = i - e0; // index in the frame without the error code
    const v = hasErr && i == 0 ? err : j == 0 ? frame0 : j == 1 ? frame1 : j == 2 ? fl : j == 3 ? frame3 : frame4;
    const a = lin + 4 * i; // (a frame crossing a page: the dwords on the second page are found from p1)
    physWr32((a >>> 12) == (lin >>> 12) ? p0 + 4 * i : p1 - (size - 4 - 4 * i), v);
  }
  switchView(false);
  loadReal(SEG_SS, ss0 & 0xFFFC, sLo, sHi);
  loadReal(SEG_CS, sel & 0xFFFC, cLo, cHi);
  bumpEpoch(); // block links assume the CS base they were made with
  w32(ESP, nesp);
  setEip(off);
  setGuestFlags(deliveryFlags(fl, hi));
  return true;
}

/**
 * A #PF raised at the real CPL 3 (ops/interrupt.ts, where the exception intercept would exit) while the virtual CPL
 * is 3 (CTRL_FAST_PF): when the guest's own walk refuses the user access — its PDE or PTE not present, or the page
 * not user / not writable — it is a true fault, delivered here as the monitor's ptwrite.ts pageFault + reflect.ts
 * deliver do it: the guest walk's error code (P from the guest's entries, W from the access, U), the virtual CR2,
 * the guest PDE's A bit when the walk reached its PTE (paging.ts markAccessed), the frame with RF through the IDT
 * (toKernel). The real CR2 already holds the address (mmu.ts pageFault). False = take the #PF exit, nothing
 * changed: a fault the shadow fills (the guest allows it), a system access, paging off, a 4 MiB page, the VMM's
 * PDE, tables outside guest RAM, or anything toKernel refuses.
 */
export function fastPageFault(realErr: u32): bool {
  if ((st(OFF_CTRL) & (CTRL_FAST_PF | CTRL_FAST_INT)) != (CTRL_FAST_PF | CTRL_FAST_INT)) return false;
  if (st(OFF_FF_VCPL) != 3 || !(realErr & PF_U) || (realErr & PF_RSVD)) return false;
  const nFrames = st(OFF_FPT_NFRAMES);
  if (nFrames == 0 || nFrames > 0x100000) return false;
  const lin = st(OFF_CR2);
  if ((lin >>> 22) == 1023) return false; // the VMM's region: the monitor stops the guest or reflects its fault
  const vcr0 = st(OFF_FF_VCR0);
  if (!(vcr0 & CR0_PG)) return false;
  if (st(OFF_CR3) != st(OFF_FF_UPD)) return false; // (the U shadow of the published address space)
  const write = (realErr & PF_W) != 0;
  const ramOff = st(OFF_FPT_RAMOFF);
  const gpd = st(OFF_FF_VCR3) >>> 12;
  if (gpd >= nFrames) return false;
  const gpdeA = (gpd << 12) + ((lin >>> 22) << 2);
  const gpde = physRd32(ramOff + gpdeA);
  let gerr: u32 = PF_U | (write ? PF_W : 0);
  let gpteFrame: u32 = NONE;
  if (gpde & PTE_P) {
    if ((gpde & PTE_PS) && (st(OFF_FF_VCR4) & CR4_PSE)) return false; // 4 MiB pages: the monitor
    gpteFrame = gpde >>> 12;
    if (gpteFrame >= nFrames) return false; // a PT outside guest RAM: the monitor stops the guest
    const gpte = physRd32(ramOff + (gpteFrame << 12) + (((lin >>> 12) & 0x3FF) << 2));
    if (gpte & PTE_P) {
      const bits = gpde & gpte;
      if ((bits & PTE_U) && (!write || (bits & PTE_W))) return false; // the guest allows it: a hidden fault
      gerr |= PF_P;
    }
  }
  if (!toKernel(VEC_PF, false, true, gerr)) return false;
  if (gpteFrame != NONE && !(gpde & PTE_A)) physWr32(ramOff + gpdeA, gpde | PTE_A);
  setSt(OFF_FF_VCR2, lin);
  bump(OFF_FPF_N);
  return true;
}

/**
 * IRET (32-bit) from virtual CPL 0 to virtual CPL 3 with IF=1 and IOPL 0 after it (op_iret, before its exit):
 * the monitor's gates.ts farReturn with the same rules. True = done (or the stack read faulted, raised as the
 * CPU's own iret would); false = take the exit.
 */
export function fastIret(): bool {
  if (!(st(OFF_CTRL) & CTRL_FAST_INT)) return false;
  if (st(OFF_FF_VCPL) != 0 || osz() != 4 || !stack32() || (flagsReg & (FLAG_NT | FLAG_TF)) || !st(OFF_FF_UPD) || !st(OFF_FF_KPD)) return false;
  const sp = r32(ESP);
  const off = memRd(4, SEG_SS, sp); if (abort) return true;
  const sel = memRd(4, SEG_SS, sp + 4) & 0xFFFF; if (abort) return true;
  const fl = memRd(4, SEG_SS, sp + 8); if (abort) return true;
  const nesp = memRd(4, SEG_SS, sp + 12); if (abort) return true;
  const nss = memRd(4, SEG_SS, sp + 16) & 0xFFFF; if (abort) return true;
  if ((sel & 3) != 3 || (fl & (FLAG_VM | FLAG_TF))) return false;
  const pd = st(OFF_CR3);
  walkFailed = false;
  if (!guestDesc(pd, sel)) return false;
  const cLo = dLo, cHi = dHi;
  if (returnCsCheck(sel, cLo, cHi, off, 0)) return false;
  if (!guestDesc(pd, nss)) return false;
  const sLo = dLo, sHi = dHi;
  if (returnSsCheck(nss, sHi, 3) || !(sHi & 0x400000)) return false;
  if (!gdtCopyCurrent(pd)) return false;
  const old = guestFlags();
  const nf = popFlags(old, fl, 4, 0, true);
  if ((nf & VBITS) != FLAG_IF) return false; // user mode with IF=1, IOPL 0 only (the exit controls published)
  if (!(old & FLAG_IF) && st(OFF_FF_PENDING)) return false; // opens the interrupt window: the monitor injects
  switchView(true);
  loadReal(SEG_CS, sel, cLo, cHi);
  loadReal(SEG_SS, nss, sLo, sHi);
  bumpEpoch();
  w32(ESP, nesp);
  setEip(off);
  setGuestFlags(nf);
  // data segments the user may not use become null (rules.ts, on the segment caches, as the monitor)
  for (let s: u32 = 0; s < 6; s++) {
    if (s == SEG_CS || s == SEG_SS) continue;
    if (nullsOnReturn(segAttr(s), 3)) { setSegCache(s, 0, 0, 0, 0); computeSegOk(s); }
  }
  bump(OFF_FF_N_IRET);
  return true;
}

/**
 * The real user-view GDT copy still holds the guest's GDT as it is now. The kernel rewrites descriptors in memory
 * without lgdt (Linux: the TLS entries on every task switch and set_thread_area), and user code loads segments
 * from the copy natively, so a fast IRET must not reach user mode over a stale copy: the monitor's IRET re-syncs.
 * With an LDT, or a GDT over a page or not in the K shadow, the exit does it too.
 */
function gdtCopyCurrent(pd: u32): bool {
  if (!st(OFF_FF_TABLES_OK) || (segAttrLdtr() & 0x80)) return false;
  const base = st(OFF_FF_GDT_BASE), len = st(OFF_FF_GDT_LIMIT) + 1, copy = st(OFF_FF_GDT_U_PHYS);
  if ((len & 3) || len > 0x1000 || ((base & 0xFFF) + len) > 0x1000) return false;
  const p = shadowPhys(pd, base, false);
  if (p == NONE || !inRam(p, len) || !inRam(copy, len)) return false;
  for (let o: u32 = 0; o < len; o += 4) if (physRd32(p + o) != physRd32(copy + o)) return false;
  return true;
}

/** mov r32, CRn (op_mov_R_C, on its #GP path at the real CPL 3): at virtual CPL 0 the virtual register (CTRL_FAST_CR). */
export function fastMovFromCr(n: u32, rm: u32): bool {
  if (!(st(OFF_CTRL) & CTRL_FAST_CR) || st(OFF_FF_VCPL) != 0 || n == 1 || n > 4) return false;
  w32(rm, st(OFF_FF_VCR0 + (n == 0 ? 0 : (n - 1) * 4)));
  bump(OFF_FF_N_MOVCR);
  return true;
}

// ---------------------------------------------------------------- the kernel's CS/SS reads and IRET to itself (CTRL_FAST_SREG)
/**
 * push cs|ss, mov r/m, cs|ss (ops/system.ts, where CTRL_EXIT_SENSITIVE would hand them over): the selector as the
 * guest sees it — the real one's RPL is 3, the guest's is its virtual CPL (the monitor's sensitive.ts vsel). Returns
 * the value to store, or NONE when the instruction is to exit (the control clear).
 */
export function fastSregSel(s: u32): u32 {
  if (!(st(OFF_CTRL) & CTRL_FAST_SREG)) return NONE;
  bump(OFF_FF_N_SREG);
  return (segSel(s) & 0xFFFC) | (st(OFF_FF_VCPL) & 3);
}

/**
 * IRET (32-bit) from virtual CPL 0 back to virtual CPL 0 (op_iret, before its exit): EIP, CS, EFLAGS popped with the
 * CPU's own reads (a fault there is the CPU's own, as the emulation's), CS from the guest's GDT through the current
 * shadow with returnCsCheck at CPL 0, EFLAGS by popFlags at CPL 0 (the virtual IF/IOPL kept in the shared state).
 * False = take the exit (nothing changed): an outward return (fastIret), TF/NT/VM, an LDT or unaccessed CS, a
 * descriptor not in the shadow, a failing rule, or an IRET that opens the interrupt window while one waits.
 */
export function fastIretKernel(): bool {
  if (!(st(OFF_CTRL) & CTRL_FAST_SREG)) return false;
  if (st(OFF_FF_VCPL) != 0 || osz() != 4 || !stack32() || (flagsReg & (FLAG_NT | FLAG_TF))) return false;
  const sp = r32(ESP);
  const off = memRd(4, SEG_SS, sp); if (abort) return true;
  const sel = memRd(4, SEG_SS, sp + 4) & 0xFFFF; if (abort) return true;
  const fl = memRd(4, SEG_SS, sp + 8); if (abort) return true;
  if ((sel & 3) != 0 || (fl & (FLAG_VM | FLAG_TF | FLAG_NT))) return false;
  walkFailed = false;
  if (!guestDesc(st(OFF_CR3), sel)) return false;
  const cLo = dLo, cHi = dHi;
  if (returnCsCheck(sel, cLo, cHi, off, 0)) return false;
  const old = guestFlags();
  const nf = popFlags(old, fl, 4, 0, true);
  if (!(old & FLAG_IF) && (nf & FLAG_IF) && st(OFF_FF_PENDING)) return false; // the monitor injects after it
  if ((segSel(SEG_CS) & 0xFFFC) != sel || segBase(SEG_CS) != dBase(cLo, cHi) || segLimit(SEG_CS) != dLimit(cLo, cHi) || segAttr(SEG_CS) != (dAttr(cHi) | 0x60)) {
    loadReal(SEG_CS, sel, cLo, cHi);
    bumpEpoch();
  }
  w32(ESP, sp + 12);
  setEip(off);
  setGuestFlags(nf);
  bump(OFF_FF_N_IRET0);
  return true;
}
